"""Kaggle submission files: ``ID`` = ``SSSS_AAAA_BBBB`` (AAAA < BBBB), ``Pred`` = P(A wins).

Since 2023 Kaggle takes one file holding the men's and the women's forecasts together: a
submission is made from one source (run or model) per league, and each source records the file
in MLflow as a run nested under its own run (see :mod:`ncaa_eval.tracking.lineage`).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ncaa_eval.errors import NcaaEvalError
from ncaa_eval.forecast.sources import ForecastSource, SourceForecast, forecast_source
from ncaa_eval.paths import atomic_write, check_writable_dir


def submission_frame(pairs: pd.DataFrame) -> pd.DataFrame:
    """Turn ``season, team_a_id, team_b_id, pred`` rows into Kaggle's ``ID, Pred`` columns."""
    ids = (
        pairs["season"].astype(int).astype(str)
        + "_"
        + pairs["team_a_id"].astype(int).astype(str)
        + "_"
        + pairs["team_b_id"].astype(int).astype(str)
    )
    return pd.DataFrame({"ID": ids, "Pred": pairs["pred"].clip(0.0, 1.0).to_numpy()})


def write_submission(frame: pd.DataFrame, path: Path) -> Path:
    """Write the CSV atomically (temporary file, then rename) and return its path."""
    with atomic_write(path) as tmp, tmp.open("w", newline="") as handle:
        frame.to_csv(handle, index=False, float_format="%.6f")
    return path


@dataclass
class Submission:
    """A written submission: its file, rows, and each league's forecast and lineage run."""

    path: Path
    rows: int
    parts: list[SourceForecast]
    lineage_run_ids: list[str]


def default_submission_path(sources: list[ForecastSource], season: int) -> Path:
    """``submission-M2025-1a2b3c4d.csv``, or ``submission-2025-<men's>-<women's>.csv``."""
    if len(sources) == 1:
        only = sources[0]
        return Path(f"submission-{only.league}{season}-{only.run.run_id[:8]}.csv")
    return Path(f"submission-{season}-" + "-".join(s.run.run_id[:8] for s in sources) + ".csv")


def make_submission(
    sources: list[ForecastSource],
    season: int,
    data_dir: Path,
    *,
    output: Path | None = None,
    all_teams: bool = False,
) -> Submission:
    """Forecast ``season`` with each source (one per league), record the file, then write it.

    Everything is forecast and checked before anything is recorded; the file is recorded on a run
    under each source run from a scratch copy, and written in its place (atomically) last, so a
    failure on the way leaves no file.

    Raises:
        NcaaEvalError: two sources of one league, an output folder that cannot be written, or
            any forecasting error.
    """
    leagues = [s.league for s in sources]
    if not sources or len(set(leagues)) != len(leagues):
        raise NcaaEvalError(
            "Give one run or model per league (--men and --women), not two of one league."
        )
    path = output or default_submission_path(sources, season)
    if path.is_dir():
        raise NcaaEvalError(
            f"--output '{path}' is a folder; give a file name, e.g. {path}/sub.csv."
        )
    check_writable_dir(path.parent, "--output")
    parts = [forecast_source(s, season, data_dir, all_teams=all_teams) for s in sources]
    frame = pd.concat(
        [submission_frame(p.forecast.pairs()) for p in parts], ignore_index=True
    ).sort_values("ID", ignore_index=True)
    with tempfile.TemporaryDirectory(prefix="ncaa-eval-submission-") as tmp:
        scratch = write_submission(frame, Path(tmp) / path.name)
        extra = {"all_teams": str(all_teams).lower(), "rows": str(len(frame))}
        run_ids = record_forecasts(parts, "submission", season, scratch, extra)
        write_submission(frame, path)
    return Submission(path, len(frame), parts, run_ids)


def record_forecasts(
    parts: list[SourceForecast], kind: str, season: int, file: Path, extra: dict[str, str]
) -> list[str]:
    """Record ``file`` on a run nested under each part's source run; return the run ids.

    SIGTERM and Ctrl-C end a lineage run KILLED, never RUNNING (this is the command boundary).
    """
    from ncaa_eval.tracking.lineage import record_output
    from ncaa_eval.tracking.signals import run_signals

    run_ids = []
    with run_signals() as signals:
        for part in parts:
            source = part.source
            params = {
                "season": str(season),
                "league": source.league,
                "source": source.given,
                "file": file.name,
                **extra,
            }
            run_ids.append(
                record_output(
                    source.store,
                    source.run.run_id,
                    kind=kind,
                    run_name=f"{kind}-{season}-{source.league}",
                    params=params,
                    tags=lineage_tags(part),
                    files=[file],
                    signals=signals,
                )
            )
    return run_ids


def lineage_tags(part: SourceForecast) -> dict[str, str]:
    """What a lineage run says about its source: model URI, registered version, data digests."""
    source = part.source
    tags = {"ncaa_eval.forecast": part.how}
    if source.model_uri is not None:
        tags["ncaa_eval.model_uri"] = source.model_uri
    if source.registered is not None:
        tags["ncaa_eval.registered_model"] = source.registered
    if source.run.data_digest is not None:
        tags["ncaa_eval.trained_data_digest"] = source.run.data_digest
    if part.repository is not None:
        tags["ncaa_eval.data_digest"] = part.repository.digest
    return tags
