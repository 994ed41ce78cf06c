"""Every speed, memory and forecast-quality target of ncaa-eval, measured by one command.

Each benchmark runs in a fresh process, several times; the table shows the median and the spread
(min-max) of the runs, the target, and a verdict. Ratios against a reference are measured in the
same run, alternating the two commands. Results are written as Markdown and JSON under
``bench/results/`` (kept out of git): ``latest.md``/``latest.json`` and a time-stamped copy.

Usage::

    python bench/run.py                 # everything (about 30 minutes on 2 cores)
    python bench/run.py --quick         # a subset, fewer repeats (under two minutes)
    python bench/run.py --only cli_help,elo_pass --repeats 3

The real Kaggle files are read from ``--kaggle-dir`` (default ``../shared/data/kaggle`` next to
the checkout, or ``NCAA_EVAL_KAGGLE_DIR``); benchmarks that need them are skipped, saying so,
when they are absent. Peak memory is the peak resident set size of the benchmarked process
(``wait4``'s ``ru_maxrss``). Nothing here is part of the test suite's pass or fail.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
PYTHON = sys.executable
BIN = Path(PYTHON).parent
NCAA_EVAL = [PYTHON, "-m", "ncaa_eval"]

#: Reference scores from ../shared/FORECASTING.md (Brier, main draw, 2003-2024).
REFERENCES = {
    "M": [
        ("Kaggle seed rule", 0.1909),
        ("NCAA-tuned public Elo", 0.1858),
        ("best public multi-season pipeline", 0.1822),
    ],
    "W": [("seed rule", 0.1604), ("logistic regression on seed difference", 0.1489)],
}
#: The models the quality table scores, in order; the first is the one the others are paired with.
QUALITY_MODELS = ("xgboost", "elo", "logistic_regression", "margin", "ensemble")
#: Models new in the forecasting-information issue: each must beat the seed rule on 2015-2024.
NEW_MODELS = ("margin", "ensemble")
#: Brier targets on the choosing window 2003-2014 (default configs, main draw).
CHOOSING_TARGETS = {"M": 0.1790, "W": 0.1335}
MARGIN_TARGET = 0.1815
#: The windows of the quality table: the choosing window, the held-out test window, the newest.
QUALITY_WINDOWS = ((2003, 2014), (2015, 2024), (2025, 2025))


@dataclass
class Sample:
    """One run of a command in a fresh process."""

    seconds: float
    peak_mb: float
    output: dict[str, Any]


@dataclass
class Row:
    """One line of the results table."""

    benchmark: str
    measured: str
    target: str
    verdict: str
    how: str
    values: dict[str, Any] = field(default_factory=dict)


@dataclass
class Context:
    """What every benchmark may use."""

    work: Path
    kaggle: Path | None
    repeats: int | None
    quick: bool
    log: Callable[[str], None]
    store: Path | None = None
    #: Elo studies timed trial by trial (``bench/tune_cost.py`` reports), shared by tune rows.
    elo_studies: list[dict[str, Any]] = field(default_factory=list)

    def reps(self, full: int, quick: int) -> int:
        return self.repeats if self.repeats is not None else (quick if self.quick else full)

    def need_store(self) -> Path:
        """An imported real store (imported once, on first need)."""
        if self.store is None:
            if self.kaggle is None:
                raise SkipError("the real Kaggle files are absent")
            self.store = self.work / "store"
            run([*NCAA_EVAL, "data", "import", str(self.kaggle), "--data-dir", str(self.store)])
        return self.store


class SkipError(Exception):
    """A benchmark cannot run here; the message says why."""


def run(cmd: Sequence[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> Sample:
    """Run ``cmd`` in a fresh process; its wall time, peak RSS and last JSON line of stdout."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(
            list(cmd), stdout=out, stderr=err, cwd=cwd, env={**os.environ, **(env or {})}
        )
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    if proc.returncode != 0:
        tail = "\n".join(stderr.strip().splitlines()[-15:])
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{tail}")
    return Sample(seconds, usage.ru_maxrss / _RSS_SCALE, _last_json(stdout))


#: ru_maxrss is in KiB on Linux, bytes on macOS.
_RSS_SCALE = 1024 * 1024 if sys.platform == "darwin" else 1024


def _last_json(stdout: str) -> dict[str, Any]:
    """The JSON object the command printed last (one line, or the whole output)."""
    try:
        whole = json.loads(stdout)
    except json.JSONDecodeError:
        whole = None
    if isinstance(whole, dict):
        return whole
    for line in reversed(stdout.strip().splitlines()):
        if line.startswith("{"):
            try:
                found = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(found, dict):
                return found
    return {}


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def spread(values: Sequence[float], unit: str = "s", digits: int = 2) -> str:
    """``median unit (min-max, n runs)``."""
    if len(values) == 1:
        return f"{values[0]:.{digits}f} {unit} (1 run)"
    return (
        f"{median(values):.{digits}f} {unit} ({min(values):.{digits}f}-{max(values):.{digits}f}, "
        f"{len(values)} runs)"
    )


def verdict(ok: bool) -> str:
    return "pass" if ok else "MISS"


# --- the benchmarks ---------------------------------------------------------------------------


def bench_cli_help(ctx: Context) -> list[Row]:
    n = ctx.reps(9, 5)
    ours = [run([str(BIN / "ncaa-eval"), "--help"]).seconds for _ in range(n)]
    rows = [
        Row(
            "`ncaa-eval --help` wall time",
            spread(ours, digits=3),
            "< 0.1 s",
            verdict(median(ours) < 0.1),
            f"`ncaa-eval --help`, {n} fresh processes",
            {"seconds": ours},
        )
    ]
    mlflow = BIN / "mlflow"
    if mlflow.exists():
        theirs = [run([str(mlflow), "--help"]).seconds for _ in range(ctx.reps(3, 1))]
        rows.append(
            Row(
                "`mlflow --help` wall time (for scale)",
                spread(theirs),
                "-",
                "info",
                "`mlflow --help` from the same environment",
                {"seconds": theirs},
            )
        )
    return rows


def memory_row(name: str, memory: list[float], how: str) -> Row:
    """The peak-memory row of a benchmark: median and spread in MB against the 2 GB target."""
    return Row(
        name,
        spread(memory, "MB", 0),
        "< 2048 MB",
        verdict(median(memory) < 2048),
        how,
        {"peak_mb": memory},
    )


def bench_data_import(ctx: Context) -> list[Row]:
    if ctx.kaggle is None:
        raise SkipError("the real Kaggle files are absent")
    samples = []
    for i in range(ctx.reps(3, 1)):
        target = ctx.work / f"import-{i}"
        samples.append(
            run([*NCAA_EVAL, "data", "import", str(ctx.kaggle), "--data-dir", str(target)])
        )
        if ctx.store is None:
            ctx.store = target
        else:
            shutil.rmtree(target)
    seconds = [s.seconds for s in samples]
    memory = [s.peak_mb for s in samples]
    how = "`ncaa-eval data import <kaggle dir>` into a new data dir, every file incl. ordinals"
    return [
        Row(
            "`data import`, full real Kaggle folder",
            spread(seconds, digits=1),
            "< 20 s",
            verdict(median(seconds) < 20),
            how,
            {"seconds": seconds},
        ),
        memory_row("`data import` peak memory", memory, how),
    ]


def bench_elo_pass(ctx: Context) -> list[Row]:
    store = ctx.need_store()
    samples = [
        run([PYTHON, str(BENCH / "elo_pass.py"), "--data-dir", str(store)])
        for _ in range(ctx.reps(5, 3))
    ]
    seconds = [s.output["seconds"] for s in samples]
    games = samples[0].output["games"]
    return [
        Row(
            f"One Elo pass over all men's games ({games:,})",
            spread(seconds, digits=3),
            "< 1 s",
            verdict(median(seconds) < 1.0),
            "`bench/elo_pass.py`: `EloModel.update` over every game, timed in-process",
            {"seconds": seconds, "games": games},
        )
    ]


def bench_efficiency_pass(ctx: Context) -> list[Row]:
    store = ctx.need_store()
    repeats = ctx.reps(3, 1)
    cmd = [PYTHON, str(BENCH / "feature_pass.py"), "--data-dir", str(store)]
    sample = run([*cmd, "--repeats", str(repeats)])
    out = sample.output
    return [
        Row(
            "adjusted efficiency: added to one feature-server pass, men 1985-2025",
            f"{spread(out['added'], digits=2)} (pass {median(out['without']):.2f} s without, "
            f"{median(out['with']):.2f} s with)",
            "< 5 s",
            verdict(out["median_added"] < 5.0),
            f"`bench/feature_pass.py --repeats {repeats}`: the default stateless features with "
            "and without `adjusted_efficiency`, alternated in one process",
            out,
        )
    ]


def bench_train_elo(ctx: Context) -> list[Row]:
    store = ctx.need_store()
    assert ctx.kaggle is not None
    uri = f"sqlite:///{ctx.work / 'train-bench.db'}"
    train = [
        *NCAA_EVAL,
        "train",
        "--model",
        "elo",
        "--start-year",
        "1985",
        "--end-year",
        "2025",
        "--data-dir",
        str(store),
        "--output-dir",
        str(ctx.work / "train-out"),
        "--tracking-uri",
        uri,
        "--json",
    ]
    reference = [
        PYTHON,
        str(BENCH / "reference_train.py"),
        "--kaggle-dir",
        str(ctx.kaggle),
        "--tracking-uri",
        uri,
    ]
    # Warm-up (not counted): creates the MLflow database and both experiments.
    run(train)
    run(reference)
    ours: list[Sample] = []
    theirs: list[Sample] = []
    for _ in range(ctx.reps(5, 2)):
        theirs.append(run(reference))
        ours.append(run(train))
    t_ours = [s.seconds for s in ours]
    t_ref = [s.seconds for s in theirs]
    ratio = median(t_ours) / median(t_ref)
    tracking = [s.output.get("timings", {}).get("tracking", float("nan")) for s in ours]
    share = median(tracking) / median(t_ours)
    ref_share = median([s.output["mlflow_seconds"] for s in theirs]) / median(t_ref)
    return [
        Row(
            "`train --model elo --start-year 1985 --end-year 2025`, end to end",
            spread(t_ours, digits=1),
            "-",
            "info",
            "real CLI, warm local SQLite store, export and plots included",
            {"seconds": t_ours, "tracking_seconds": tracking},
        ),
        Row(
            "... its ratio to a bare reference script (`bench/reference_train.py`)",
            f"{ratio:.2f}x (reference {spread(t_ref, digits=1)})",
            "<= 2x",
            verdict(ratio <= 2.0),
            "medians, the two commands alternated in one run",
            {"ratio": ratio, "reference_seconds": t_ref},
        ),
        Row(
            "... MLflow's share of the `train` time",
            f"{share:.0%} ({median(tracking):.2f} s; reference script {ref_share:.0%})",
            "-",
            "info",
            "time inside the tracking calls (start run to export), from `train --json`",
            {"share": share, "reference_share": ref_share},
        ),
    ]


def walk(
    ctx: Context,
    model: str,
    league: str,
    start: int,
    end: int,
    *,
    predictions: Path | None = None,
) -> Sample:
    """One walk-forward evaluation in a fresh process (``bench/walk_forward.py``).

    With ``predictions`` (the quality table only) the held-out seasons are scored too and the
    scored forecasts are written there; otherwise nothing from 2015 on is scored or shown.
    """
    cmd = [PYTHON, str(BENCH / "walk_forward.py"), "--data-dir", str(ctx.need_store())]
    cmd += ["--model", model, "--league", league, "--start", str(start), "--end", str(end)]
    if predictions is not None:
        cmd += ["--held-out", "--predictions", str(predictions)]
    return run([*cmd, "--json"])


def _timed_walk(
    ctx: Context, model: str, full: int, quick: int, start: int = 1985, limit: float = 90
) -> list[Row]:
    samples = [walk(ctx, model, "M", start, 2024) for _ in range(ctx.reps(full, quick))]
    seconds = [s.output["wall_time_s"] for s in samples]
    memory = [s.peak_mb for s in samples]
    how = f"`bench/walk_forward.py --model {model} --start {start} --end 2024`, fresh process each"
    span = f"history 1985-2024, forecasts {start}-2024" if start != 1985 else "1985-2024"
    return [
        Row(
            f"{model} walk-forward, men {span}: wall time",
            spread(seconds, digits=1),
            f"< {limit:g} s",
            verdict(median(seconds) < limit),
            how + " (no held-out season scored)",
            {"seconds": seconds, "process_seconds": [s.seconds for s in samples]},
        ),
        memory_row(f"{model} walk-forward, men {span}: peak memory", memory, how),
    ]


def bench_walk_xgboost(ctx: Context) -> list[Row]:
    return _timed_walk(ctx, "xgboost", 3, 1)


def bench_walk_logistic(ctx: Context) -> list[Row]:
    return _timed_walk(ctx, "logistic_regression", 3, 1)


def bench_walk_ensemble(ctx: Context) -> list[Row]:
    # margin, a default member, needs three earlier tournaments for its spread (1988 on), and
    # the blend its blend_seasons before: the history walked is 1985-2024, the forecasts (the
    # issue's window) 2003-2024.
    return _timed_walk(ctx, "ensemble", 3, 1, start=2003, limit=120)


def _scores(frame: Any) -> tuple[float, float, int]:
    """Brier, log loss and number of games of scored forecasts."""
    import numpy as np

    p = np.clip(frame["pred_win_prob"].to_numpy(dtype=float), 1e-15, 1 - 1e-15)
    y = frame["team_a_won"].to_numpy(dtype=float)
    brier = float(np.mean((p - y) ** 2))
    log_loss = float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
    return brier, log_loss, len(frame)


def seed_rule(games: Any, seeds: Any) -> Any:
    """The Kaggle seed rule ``0.5 + 0.03 (seed_B - seed_A)`` on ``games`` (clipped to [0, 1])."""
    import numpy as np

    key = {
        (int(s), int(t)): int(n)
        for s, t, n in zip(seeds["season"], seeds["team_id"], seeds["seed_number"], strict=True)
    }
    season = games["season"].astype(int).tolist()
    a = np.array([key[k] for k in zip(season, games["team_a_id"].astype(int), strict=True)])
    b = np.array([key[k] for k in zip(season, games["team_b_id"].astype(int), strict=True)])
    return games.assign(pred_win_prob=np.clip(0.5 + 0.03 * (b - a), 0.0, 1.0))


def bench_quality(ctx: Context) -> list[Row]:
    """The forecast-quality table: the choosing window, then the held-out seasons, scored once.

    Every model walks 2003-2025 with its default config (history from the store's first season);
    2015-2024 and 2025 are held out: this is the only benchmark that scores them.
    """
    import pandas as pd

    from ncaa_eval.evaluation.paired import paired_brier_difference
    from ncaa_eval.ingest import ParquetRepository
    from ncaa_eval.model.registry import list_models

    registered = set(list_models())
    models = [m for m in QUALITY_MODELS if m in registered]
    if ctx.quick:
        models = [m for m in models if m in ("xgboost", "elo", "logistic_regression")][:2]
    repository = ParquetRepository(ctx.need_store())
    rows: list[Row] = []
    for league in ("M", "W"):
        name = "men" if league == "M" else "women"
        seeds = repository.seeds(league)
        preds: dict[str, Any] = {}
        for model in models:
            path = ctx.work / f"quality-{model}-{league}.parquet"
            sample = walk(ctx, model, league, 2003, 2025, predictions=path)
            preds[model] = pd.read_parquet(path).sort_values(["season", "game_id"])
            preds[model]["team_a_won"] = preds[model]["team_a_won"].astype(float)
            parts = []
            values: dict[str, Any] = {"seconds": sample.output["wall_time_s"]}
            for first, last in QUALITY_WINDOWS:
                frame = preds[model][preds[model]["season"].between(first, last)]
                brier, log_loss, n = _scores(frame)
                rule, _, _ = _scores(seed_rule(frame, seeds))
                window = f"{first}-{last}" if first != last else str(first)
                parts.append(
                    f"{window}: {brier:.4f} / {log_loss:.4f} ({n} games; seed rule {rule:.4f})"
                )
                values[window] = {"brier": brier, "log_loss": log_loss, "n": n, "seed_rule": rule}
            choosing = values["2003-2014"]["brier"]
            held = values["2015-2024"]
            target, ok = "-", None
            if model == "margin" and league == "M":
                target, ok = f"2003-2014 <= {MARGIN_TARGET}", choosing <= MARGIN_TARGET
            if model in NEW_MODELS:
                beats = held["brier"] < held["seed_rule"]
                target = (target + "; " if target != "-" else "") + "beats the seed rule 2015-2024"
                ok = beats if ok is None else ok and beats
            rows.append(
                Row(
                    f"{model}, {name}: Brier / log loss",
                    "; ".join(parts),
                    target,
                    "info" if ok is None else verdict(ok),
                    "main draw, walk-forward, default config; 2015-2024 and 2025 held out",
                    values,
                )
            )
        best = min(models, key=lambda m: _scores(preds[m][preds[m]["season"] <= 2014])[0])
        best_brier = _scores(preds[best][preds[best]["season"] <= 2014])[0]
        goal = CHOOSING_TARGETS[league]
        rows.append(
            Row(
                f"best model, {name} 2003-2014: Brier"
                + (" (--quick: a subset of the models)" if ctx.quick else ""),
                f"{best_brier:.4f} ({best})",
                f"<= {goal}",
                verdict(best_brier <= goal),
                "the choosing window; references: "
                + ", ".join(f"{n} {v}" for n, v in REFERENCES[league])
                + " (2003-2024)",
                {"brier": best_brier, "model": best},
            )
        )
        if "xgboost" in preds:
            base = preds["xgboost"]
            for model in models:
                if model == "xgboost":
                    continue
                other = preds[model]
                if not other["game_id"].equals(base["game_id"]):
                    other = base[["game_id"]].merge(other, on="game_id", how="left")
                cells = []
                values = {}
                for first, last in QUALITY_WINDOWS[:2]:
                    sel = base["season"].between(first, last).to_numpy()
                    diff = paired_brier_difference(
                        base["pred_win_prob"].to_numpy()[sel],
                        other["pred_win_prob"].to_numpy()[sel],
                        base["team_a_won"].to_numpy()[sel],
                        base["season"].to_numpy()[sel],
                    )
                    noise = " (noise)" if diff.within_noise else ""
                    cells.append(
                        f"{first}-{last}: {diff.difference:+.4f} "
                        f"[{diff.ci_low:+.4f}, {diff.ci_high:+.4f}]{noise}"
                    )
                    values[f"{first}-{last}"] = diff.as_dict()
                rows.append(
                    Row(
                        f"{model} minus xgboost, {name}: paired Brier difference",
                        "; ".join(cells),
                        "-",
                        "info",
                        "per game on the same games, 95% interval from a season bootstrap "
                        "(2,000 resamples); negative = better than xgboost; an interval holding "
                        "0 is noise",
                        values,
                    )
                )
    return rows


def bench_concurrent(ctx: Context) -> list[Row]:
    """Eight ``train`` processes started together on a folder with no MLflow store yet."""
    store = ctx.need_store()
    n = 8
    results = []
    for attempt in range(ctx.reps(3, 1)):
        folder = ctx.work / f"concurrent-{attempt}"
        folder.mkdir()
        cmd = [*NCAA_EVAL, "train", "--model", "elo", "--start-year", "2023", "--end-year", "2025"]
        cmd += ["--data-dir", str(store), "--output-dir", str(folder / "out")]
        started = time.perf_counter()
        procs = [
            subprocess.Popen(
                [*cmd, "--run-name", f"concurrent-{i}"],
                cwd=folder,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            for i in range(n)
        ]
        codes = [p.wait() for p in procs]
        seconds = time.perf_counter() - started
        listing = subprocess.run(
            [*NCAA_EVAL, "runs", "list", "--json", "--limit", "100"],
            cwd=folder,
            capture_output=True,
            text=True,
            check=True,
        )
        runs_ = json.loads(listing.stdout)
        finished = {r["run_id"] for r in runs_ if r["status"] == "FINISHED"}
        complete = sum(1 for r in runs_ if r["has_records"] and r["prediction_count"])
        results.append((codes.count(0), len(finished), complete, seconds))
    ok = all(r[0] == n and r[1] == n and r[2] == n for r in results)
    detail = "; ".join(
        f"{a}/{n} exit 0, {b} FINISHED, {c} with predictions" for a, b, c, _ in results
    )
    return [
        Row(
            f"{n} concurrent `train` on a fresh folder (default `./mlflow.db`)",
            f"{detail} ({spread([r[3] for r in results], digits=1)} for all {n})",
            f"all {n} complete",
            verdict(ok),
            f"{n} processes started at once, elo 2023-2025, no store yet; read back with "
            "`runs list --json`",
            {"attempts": [list(r) for r in results]},
        )
    ]


def bench_tracking_cost(ctx: Context) -> list[Row]:
    """MLflow logging per run: local SQLite against a PostgreSQL-backed ``mlflow server``."""
    cmd = [PYTHON, str(BENCH / "tracking_cost.py"), "--repeats", str(ctx.reps(5, 3))]
    try:
        report = run(cmd).output
    except RuntimeError as exc:
        raise SkipError(f"bench/tracking_cost.py failed: {str(exc).splitlines()[-1]}") from exc
    sqlite, server = report["sqlite"], report["postgres_server"]
    how = f"`bench/tracking_cost.py`, medians of {report['repeats']} runs after a warm-up"
    rows = []
    for key, label in (
        ("log_run_s", "one run's whole record (start, save, metrics, end)"),
        ("train_s", f"`train` end to end ({report['job']}, demo league)"),
    ):
        a, b = sqlite[key]["median_s"], server[key]["median_s"]
        rows.append(
            Row(
                f"MLflow logging cost: {label}",
                f"SQLite {a:.3f} s, PostgreSQL server {b:.3f} s ({b / a:.1f}x)",
                "-",
                "info",
                how,
                {"sqlite": sqlite[key], "server": server[key]},
            )
        )
    rows.append(
        Row(
            "MLflow logging cost: `RunStore.save_run` alone",
            f"SQLite {sqlite['save_run_s']:.3f} s, PostgreSQL server "
            f"{server['save_run_s']:.3f} s ({sqlite['prediction_count']} predictions)",
            "-",
            "info",
            how,
            {"sqlite": sqlite["save_run_s"], "server": server["save_run_s"]},
        )
    )
    return rows


def bench_reads(ctx: Context) -> list[Row]:
    """`runs list`, `runs show` and `predict --model` against MLflow-only scripts, alternated."""
    store = ctx.need_store()
    uri = f"sqlite:///{ctx.work / 'reads-bench.db'}"
    common = ["--tracking-uri", uri, "--experiment", "bench"]
    run_ids = []
    for end in (2022, 2023, 2024, 2025):
        sample = run([*NCAA_EVAL, "train", "--model", "elo", "--start-year", str(end - 1),
                      "--end-year", str(end), "--data-dir", str(store), "--output-dir",
                      str(ctx.work / "reads-out"), "--json", *common])  # fmt: skip
        run_ids.append(str(sample.output["run_id"]))
    last = run_ids[-1]
    run([*NCAA_EVAL, "runs", "register", last, "--name", "bench", "--alias", "champion",
         *common])  # fmt: skip
    seeds = _seeded_teams(store, 2025)
    out = ctx.work / "reads-sub.csv"
    reference = [PYTHON, str(BENCH / "reference_reads.py")]
    pairs = {
        "`runs list --json`": (
            [*NCAA_EVAL, "runs", "list", "--json", *common],
            [*reference, "list", *common],
        ),
        "`runs show ID --json`": (
            [*NCAA_EVAL, "runs", "show", last, "--json", *common],
            [*reference, "show", "--run", last, *common],
        ),
        "`predict --model models:/NAME@champion` (68 teams, own season)": (
            [
                *NCAA_EVAL,
                "predict",
                "--model",
                "models:/bench@champion",
                "--season",
                "2025",
                "--output",
                str(out),
                "--data-dir",
                str(store),
                "--tracking-uri",
                uri,
            ],
            [
                *reference,
                "predict",
                "--model",
                "models:/bench@champion",
                "--season",
                "2025",
                "--teams",
                ",".join(map(str, seeds)),
                "--output",
                str(out),
                *common,
            ],
        ),
    }
    rows = []
    for label, (ours_cmd, ref_cmd) in pairs.items():
        run(ours_cmd)  # warm-up, not counted
        run(ref_cmd)
        ours: list[float] = []
        theirs: list[float] = []
        for _ in range(ctx.reps(7, 3)):
            theirs.append(run(ref_cmd).seconds)
            ours.append(run(ours_cmd).seconds)
        ratio = median(ours) / median(theirs)
        rows.append(
            Row(
                f"{label} against MLflow alone",
                f"{ratio:.2f}x ({spread(ours)} vs {spread(theirs)})",
                "<= 1.25x",
                verdict(ratio <= 1.25),
                "`bench/reference_reads.py` opens the same store with MlflowClient and reads "
                "the same runs; medians, alternated in one run; a store of 4 Elo runs",
                {"ratio": ratio, "seconds": ours, "reference_seconds": theirs},
            )
        )
    return rows


def _seeded_teams(store: Path, season: int) -> list[int]:
    import pyarrow.parquet as pq

    table = pq.read_table(store / "store" / "M" / "seeds.parquet").to_pandas()
    return sorted(table.loc[table["season"] == season, "team_id"].astype(int))


# --- ncaa-eval tune ---------------------------------------------------------------------------

#: The tuning window of every tune benchmark (history walked from the store's first season, 1985).
#: Nothing later is ever scored here: 2015-2024 is the held-out test window.
TUNE_YEARS = "2003-2014"
#: The Elo study timed trial by trial (``tune_tracking``, ``tune_trial``): this many trials,
#: run by one ``tune`` command per chunk (the study resumed), each chunk's trials then walked
#: again without tracking, so that the two alternate on a machine whose load varies.
ELO_STUDY_TRIALS = 20
ELO_STUDY_CHUNK = 5


def tune_cmd(ctx: Context, folder: Path, model: str, trials: int, workers: int = 1) -> list[str]:
    """``ncaa-eval tune`` on the real men's data into ``folder``: the MLflow store there, and
    the default Optuna journal beside it, so a new folder starts a new study."""
    folder.mkdir(parents=True, exist_ok=True)
    return [
        *NCAA_EVAL, "tune", "--model", model, "--tune-years", TUNE_YEARS, "--trials",
        str(trials), "--seed", "0", "--workers", str(workers), "--data-dir",
        str(ctx.need_store()), "--output-dir", str(folder / "out"), "--tracking-uri",
        f"sqlite:///{folder / 'mlflow.db'}", "--json",
    ]  # fmt: skip


def tune_cost(ctx: Context, folder: Path, model: str, *flags: str) -> dict[str, Any]:
    """``bench/tune_cost.py`` on the study ``tune_cmd`` left in ``folder`` (no score)."""
    cmd = [PYTHON, str(BENCH / "tune_cost.py"), "--data-dir", str(ctx.need_store()),
           "--journal", str(folder / "optuna.journal"), "--study", f"{model}-M-{TUNE_YEARS}",
           "--model", model, "--tune-years", TUNE_YEARS, *flags]  # fmt: skip
    return run(cmd).output


def _states(output: dict[str, Any]) -> str:
    t = output.get("trials", {})
    return f"{t.get('complete', '?')} complete, {t.get('pruned', '?')} pruned"


def bench_tune_workers(ctx: Context) -> list[Row]:
    """A 40-trial Elo study with one worker against two, alternated, each on fresh stores."""
    ctx.need_store()
    trials = 40
    seconds: dict[int, list[float]] = {1: [], 2: []}
    inside: dict[int, list[float]] = {1: [], 2: []}
    states: dict[int, list[str]] = {1: [], 2: []}
    for i in range(ctx.reps(3, 1)):
        for workers in (1, 2) if i % 2 == 0 else (2, 1):
            folder = ctx.work / f"tune-workers-{workers}-{i}"
            sample = run(tune_cmd(ctx, folder, "elo", trials, workers), cwd=folder)
            seconds[workers].append(sample.seconds)
            inside[workers].append(float(sample.output["seconds"]))
            states[workers].append(_states(sample.output))
    ratio = median(seconds[2]) / median(seconds[1])
    how = (
        f"`ncaa-eval tune --model elo --tune-years {TUNE_YEARS} --trials {trials} --seed 0`, "
        "history from 1985, a fresh MLflow store and journal each run; the two alternated"
    )
    rows = [
        Row(
            f"`tune` Elo, {trials} trials, `--workers {w}`: wall time",
            spread(seconds[w], digits=1),
            "-",
            "info",
            f"{how}; inside `tune()` {spread(inside[w], digits=1)}; {'; '.join(states[w])}",
            {"seconds": seconds[w], "tune_seconds": inside[w], "states": states[w]},
        )
        for w in (1, 2)
    ]
    rows.append(
        Row(
            f"... `--workers 2` against `--workers 1` ({os.cpu_count()} CPUs)",
            f"{ratio:.2f}x",
            "<= 0.6x",
            verdict(ratio <= 0.6),
            "medians of the whole commands (start-up, study, trials, summary), one bench run",
            {"ratio": ratio},
        )
    )
    return rows


def elo_studies(ctx: Context) -> list[dict[str, Any]]:
    """Elo studies of ``ELO_STUDY_TRIALS`` trials, each timed trial by trial against the same
    configs walked without tracking (``bench/tune_cost.py``); run once, shared by the rows."""
    if not ctx.elo_studies:
        for i in range(ctx.reps(3, 1)):
            folder = ctx.work / f"tune-elo-{i}"
            trials: list[dict[str, Any]] = []
            for first in range(0, ELO_STUDY_TRIALS, ELO_STUDY_CHUNK):
                stop = first + ELO_STUDY_CHUNK
                run(tune_cmd(ctx, folder, "elo", stop), cwd=folder)
                chunk = tune_cost(ctx, folder, "elo", "--walks", "3", "--first", str(first),
                                  "--stop", str(stop))  # fmt: skip
                trials += chunk["trials"]
            ctx.elo_studies.append({"trials": trials})
    return ctx.elo_studies


def _compared(study: dict[str, Any]) -> list[dict[str, Any]]:
    """Complete trials, not a command's first, with both a cycle and an untracked walk."""
    return [t for t in study["trials"] if t.get("walk_s") is not None and t["cycle_s"]]


def bench_tune_tracking(ctx: Context) -> list[Row]:
    studies = elo_studies(ctx)
    shares, span_shares, cycles, spans, walks_ = [], [], [], [], []
    for study in studies:
        trials = _compared(study)
        if not trials:
            raise SkipError("no complete trial after the first to compare")
        cycle = sum(t["cycle_s"] for t in trials)
        span = sum(t["span_s"] for t in trials)
        walk_ = sum(t["walk_s"] for t in trials)
        shares.append(1 - walk_ / cycle)
        span_shares.append(1 - walk_ / span)
        cycles += [t["cycle_s"] for t in trials]
        spans += [t["span_s"] for t in trials]
        walks_ += [t["walk_s"] for t in trials]
    share = median(shares)
    n = len(cycles)
    return [
        Row(
            "Tracking (MLflow + Optuna) share of an Elo trial's time in `tune`",
            f"{share:.0%} (per study {', '.join(f'{s:.0%}' for s in shares)}); "
            f"trial {median(cycles):.2f} s vs walk {median(walks_):.2f} s",
            "<= 15%",
            verdict(share <= 0.15),
            f"{len(studies)} studies of {ELO_STUDY_TRIALS} trials ({TUNE_YEARS}, seed 0), resumed "
            f"every {ELO_STUDY_CHUNK} trials; their {n} complete trials neither first nor last of "
            "a command, each from its start to the next trial's start, against the same "
            "config walked without tracking right after its command (`bench/tune_cost.py`: "
            "`walk_forward` on a prepared history, `fit_final=False`, median of 3)",
            {"share": shares, "cycle_s": cycles, "walk_s": walks_},
        ),
        Row(
            "... the same, the trial's own span only (start to complete)",
            f"{median(span_shares):.0%}; span {median(spans):.2f} s",
            "-",
            "info",
            "leaves out the after-trial callback (best on the parent run, stop check) and the "
            "sampler's next draw",
            {"share": span_shares, "span_s": spans},
        ),
    ]


def bench_tune_trial(ctx: Context) -> list[Row]:
    studies = elo_studies(ctx)
    # A command's first trial also orients the games (once per process): left out.
    elo = [t["cycle_s"] for s in studies for t in s["trials"]
           if t["state"] == "COMPLETE" and t["cycle_s"]
           and t["number"] % ELO_STUDY_CHUNK != 0]  # fmt: skip
    rows = [
        Row(
            f"One Elo trial in `tune` ({TUNE_YEARS}, history from 1985)",
            spread(elo),
            "<= 1.0 s",
            verdict(median(elo) <= 1.0),
            f"the complete trials of the `tune_tracking` studies ({len(studies)} x "
            f"{ELO_STUDY_TRIALS} trials), from its start to the next trial's start; not a "
            "command's first, which also orients the games once (about 0.3 s)",
            {"seconds": elo},
        )
    ]
    samples: list[Sample] = []
    first: list[float] = []
    for i in range(ctx.reps(3, 1)):
        folder = ctx.work / f"tune-xgboost-{i}"
        samples.append(run(tune_cmd(ctx, folder, "xgboost", 1), cwd=folder))
        (trial,) = tune_cost(ctx, folder, "xgboost", "--no-walks")["trials"]
        first.append(trial["span_s"])
    breakdown = tune_cost(ctx, folder, "xgboost", "--defaults-only")
    memory = [s.peak_mb for s in samples]
    how = (
        f"`ncaa-eval tune --model xgboost --tune-years {TUNE_YEARS} --trials 1`: trial 0 is the "
        "default config; its span from the Optuna journal"
    )
    rows += [
        Row(
            f"One XGBoost trial in `tune`, default config ({TUNE_YEARS})",
            spread(first, digits=1),
            "<= 15 s",
            verdict(median(first) <= 15),
            f"{how}; the first trial serves the features too (later ones with the same features "
            "reuse them)",
            {"seconds": first, "process_seconds": [s.seconds for s in samples]},
        ),
        Row(
            "... its parts, walked without tracking",
            f"features {breakdown['cache_s']:.1f} s, 12 fits and forecasts "
            f"{breakdown['defaults_walk_s']:.1f} s (history {breakdown['prepare_s']:.1f} s, "
            "before the trial)",
            "-",
            "info",
            "`bench/tune_cost.py --defaults-only`: `prepare_history`, the features served, "
            "one walk of the defaults, timed in one process",
            breakdown,
        ),
        memory_row(
            "`tune --model xgboost --trials 1`: peak memory",
            memory,
            f"{how}; the whole command's peak RSS",
        ),
    ]
    return rows


BENCHMARKS: dict[str, tuple[Callable[[Context], list[Row]], bool]] = {
    # name: (function, part of --quick)
    "cli_help": (bench_cli_help, True),
    "data_import": (bench_data_import, True),
    "elo_pass": (bench_elo_pass, True),
    "efficiency_pass": (bench_efficiency_pass, False),
    "train_elo": (bench_train_elo, True),
    "walk_logistic_regression": (bench_walk_logistic, True),
    "walk_xgboost": (bench_walk_xgboost, False),
    "walk_ensemble": (bench_walk_ensemble, False),
    "quality": (bench_quality, True),
    "concurrent_train": (bench_concurrent, True),
    "tracking_cost": (bench_tracking_cost, False),
    "reads": (bench_reads, True),
    "tune_workers": (bench_tune_workers, False),
    "tune_tracking": (bench_tune_tracking, False),
    "tune_trial": (bench_tune_trial, False),
}


def default_kaggle_dir() -> Path | None:
    env = os.environ.get("NCAA_EVAL_KAGGLE_DIR")
    candidate = Path(env) if env else ROOT.parent / "shared" / "data" / "kaggle"
    return candidate if (candidate / "MRegularSeasonCompactResults.csv").exists() else None


def to_markdown(rows: list[Row], meta: dict[str, Any]) -> str:
    lines = [
        f"# ncaa-eval benchmarks, {meta['when']}",
        "",
        f"{meta['machine']}; git {meta['git']}; mode: {meta['mode']}; "
        f"total {meta['seconds']:.0f} s; load average (1 min) "
        f"{meta['load'][0]:.1f} at the start, {meta['load'][1]:.1f} at the end.",
        "",
        "| benchmark | measured | target | verdict | how |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r.benchmark} | {r.measured} | {r.target} | {r.verdict} | {r.how} |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a subset, fewer repeats")
    parser.add_argument("--only", help=f"comma-separated subset of: {', '.join(BENCHMARKS)}")
    parser.add_argument("--repeats", type=int, help="runs per benchmark (default: per benchmark)")
    parser.add_argument("--kaggle-dir", type=Path, help="the real Kaggle CSV folder")
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="an ncaa-eval data store imported from the real Kaggle folder, used instead of "
        "importing it again",
    )
    parser.add_argument("--results-dir", type=Path, default=BENCH / "results")
    args = parser.parse_args(argv)
    names = list(BENCHMARKS)
    if args.only:
        names = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = [n for n in names if n not in BENCHMARKS]
        if unknown:
            parser.error(f"unknown benchmark {unknown[0]!r}; choose from {', '.join(BENCHMARKS)}")
    elif args.quick:
        names = [n for n in names if BENCHMARKS[n][1]]
    kaggle = args.kaggle_dir or default_kaggle_dir()
    started = time.perf_counter()
    load_start = os.getloadavg()[0]
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="ncaa-eval-bench-") as tmp:
        ctx = Context(Path(tmp), kaggle, args.repeats, args.quick, log=print)
        if args.data_dir is not None:
            ctx.store = args.data_dir.resolve()
        for name in names:
            print(f"[{time.perf_counter() - started:6.1f} s] {name} ...", flush=True)
            try:
                rows += BENCHMARKS[name][0](ctx)
            except SkipError as exc:
                rows.append(Row(name, "skipped", "-", "skipped", str(exc)))
    git = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    meta = {
        "when": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": (
            f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
        ),
        "git": git or "unknown",
        "load": [round(load_start, 2), round(os.getloadavg()[0], 2)],
        "mode": "quick" if args.quick else "full",
        "benchmarks": names,
        "seconds": time.perf_counter() - started,
    }
    markdown = to_markdown(rows, meta)
    print()
    print(markdown)
    args.results_dir.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    payload = json.dumps({"meta": meta, "rows": [asdict(r) for r in rows]}, indent=2)
    for stem in ("latest", stamp):
        (args.results_dir / f"{stem}.md").write_text(markdown)
        (args.results_dir / f"{stem}.json").write_text(payload + "\n")
    print(f"Written to {args.results_dir / 'latest.md'} and latest.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
