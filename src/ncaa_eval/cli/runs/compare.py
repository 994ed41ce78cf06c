"""``ncaa-eval runs compare``: two or more runs side by side, the best value of each row marked,
and each run's paired Brier difference from the first with a season-bootstrap 95% interval."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ncaa_eval.cli.options import data_dir_option
from ncaa_eval.cli.runs.format import (
    BEST_MARK,
    LEAGUES,
    METRIC_LABELS,
    MISSING,
    count,
    json_option,
    metric,
    number,
    print_parts,
    status,
    store_options,
    years,
)

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.table import Table
    from rich.text import Text

    from ncaa_eval.evaluation.paired import PairedComparison
    from ncaa_eval.tracking import RunStore
    from ncaa_eval.tracking.queries import RunComparison

#: Bootstrap resamples by default and at most (``DEFAULT_RESAMPLES`` and ``MAX_RESAMPLES`` of
#: :mod:`ncaa_eval.evaluation.paired`, repeated here so that ``--help`` imports no numpy).
DEFAULT_RESAMPLES = 2000
MAX_RESAMPLES = 100_000


@dataclass(frozen=True)
class _Paired:
    """The paired differences from the first run, or why there are none (``note``)."""

    baseline: str
    #: The other runs' ids, in the order of ``result.differences``.
    others: tuple[str, ...]
    resamples: int
    seed: int
    result: PairedComparison | None = None
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        result = self.result
        return {
            "baseline": self.baseline,
            "shared_games": None if result is None else result.games,
            "shared_seasons": None if result is None else len(result.seasons),
            "seasons": [] if result is None else result.seasons,
            "resamples": self.resamples,
            "seed": self.seed,
            "differences": {}
            if result is None or not result.differences
            else {
                run_id: {
                    "difference": d.difference,
                    "ci_low": d.ci_low,
                    "ci_high": d.ci_high,
                    "within_noise": d.within_noise,
                }
                for run_id, d in zip(self.others, result.differences, strict=True)
            },
            "note": self.note,
        }


@click.command()
@click.argument("run_ids", nargs=-1, required=True, metavar="RUN_ID RUN_ID [RUN_ID]...")
@click.option(
    "--resamples",
    type=click.IntRange(1, MAX_RESAMPLES),
    default=DEFAULT_RESAMPLES,
    show_default=True,
    help="Bootstrap resamples of the seasons for the 95% interval of the paired differences.",
)
@json_option
@data_dir_option
@store_options
def compare(
    run_ids: tuple[str, ...],
    resamples: int,
    as_json: bool,
    data_dir: Path,
    tracking_uri: str | None,
    experiment: str,
) -> None:
    """Compare two or more runs side by side.

    Shows the hyperparameters that differ, the overall metrics and the Brier score of each
    season the runs share. The best value of each row is marked with *: the lowest Brier, log
    loss and calibration error, the highest accuracy. Each RUN_ID is a full id or a unique
    prefix.

    Then each run's Brier minus the first run's, paired game by game on the games all runs
    forecast and are scored on (main draw, outcome known; the data store's seeds tell the First
    Four games), with a 95% interval from a bootstrap that resamples whole seasons (fixed seed).
    A difference whose interval contains 0 is marked "within noise".
    """
    from ncaa_eval.cli.console import err_console
    from ncaa_eval.tracking import RunStore
    from ncaa_eval.tracking.lookup import resolve_run
    from ncaa_eval.tracking.queries import compare_runs

    if len(run_ids) < 2:
        raise click.UsageError("Give at least two runs to compare.")
    store = RunStore(tracking_uri, experiment)
    comparison = compare_runs(store, [resolve_run(store, run_id) for run_id in run_ids])
    paired = _pair(store, comparison, data_dir, resamples)
    warnings = [*comparison.warnings, *_paired_warnings(paired, data_dir)]
    for warning in warnings:
        err_console.print(
            f"warning: {warning}", style="yellow", markup=False, highlight=False, soft_wrap=True
        )
    if as_json:
        data = comparison.to_json()
        data.pop("warnings")
        data["paired_brier"] = paired.to_json()
        data["warnings"] = warnings
        click.echo(json.dumps(data, indent=2))
        return
    print_parts(*_compare_parts(comparison), *_paired_parts(paired, comparison))


def _pair(store: RunStore, comparison: RunComparison, data_dir: Path, resamples: int) -> _Paired:
    """Each run's paired Brier difference from the first, or a note saying why there is none."""
    from ncaa_eval.errors import NcaaEvalError
    from ncaa_eval.evaluation.paired import DEFAULT_SEED, compare_to_first
    from ncaa_eval.ingest.repository import ParquetRepository

    ids = [d.summary.run_id for d in comparison.runs]
    base = _Paired(ids[0], tuple(ids[1:]), resamples, DEFAULT_SEED)
    leagues = sorted({d.record.league for d in comparison.runs if d.record is not None})
    if len(leagues) != 1:
        return replace(base, note="No paired Brier difference: the runs cover different leagues.")
    try:
        seeds = ParquetRepository(data_dir).seeds(leagues[0])
    except (NcaaEvalError, OSError) as exc:
        return replace(
            base,
            note="No paired Brier difference: the First Four games, which are not scored, are "
            f"told by the data store's seeds. {exc}",
        )
    predictions = [store.load_predictions(run_id) for run_id in ids]
    result = compare_to_first(predictions, seeds, resamples=resamples, seed=base.seed)
    if not result.games:
        return replace(
            base,
            result=result,
            note="The runs share no scored game (main draw, outcome known): "
            "no paired Brier difference.",
        )
    return replace(base, result=result)


def _paired_warnings(paired: _Paired, data_dir: Path) -> list[str]:
    if paired.result is None or not paired.result.unseeded_seasons:
        return []
    seasons = ", ".join(str(s) for s in paired.result.unseeded_seasons)
    return [
        f"season(s) {seasons} are left out of the paired Brier difference: the data store in "
        f"'{data_dir}' has no seeds for them, so their First Four games cannot be told."
    ]


def _paired_parts(paired: _Paired, comparison: RunComparison) -> list[RenderableType]:
    from rich.text import Text

    result = paired.result
    if paired.note is not None or result is None:
        return [Text(paired.note or "No paired Brier difference.")]
    headers = _headers(comparison)
    table = _side_by_side("Brier difference from the first run (paired by game)", headers)
    verdicts: list[Text | str] = ["baseline"]
    for d in result.differences:
        if d.within_noise:
            verdicts.append("within noise")
        elif d.difference < 0:
            verdicts.append(Text("better", style="green"))
        else:
            verdicts.append(Text("worse", style="red"))
    table.add_row("difference", MISSING, *[f"{d.difference:+.4f}" for d in result.differences])
    table.add_row(
        "95% interval",
        MISSING,
        *[f"{d.ci_low:+.4f} to {d.ci_high:+.4f}" for d in result.differences],
    )
    table.add_row("verdict", *verdicts)
    seasons = result.seasons
    span = str(seasons[0]) if len(seasons) == 1 else f"{seasons[0]}-{seasons[-1]}"
    about = Text(
        f"On the {result.games:,} games all runs share (main draw, outcome known) in "
        f"{len(seasons)} season{'s' if len(seasons) != 1 else ''} ({span}); negative = lower "
        f"Brier than the first run. 95% interval: {result.resamples:,} resamples of the seasons "
        f"(seed {result.seed})."
    )
    return [table, about]


def _compare_parts(comparison: RunComparison) -> list[RenderableType]:
    from rich.text import Text

    runs_ = [d.summary for d in comparison.runs]
    headers = _headers(comparison)

    about = _side_by_side("Runs", headers)
    about.add_row("model", *[r.model_type or MISSING for r in runs_])
    about.add_row("league", *[LEAGUES.get(r.league or "", r.league or MISSING) for r in runs_])
    about.add_row("seasons", *[years(r.start_year, r.end_year) for r in runs_])
    about.add_row("predictions", *[count(r.prediction_count) for r in runs_])
    about.add_row("status", *[status(r.status) for r in runs_])
    parts: list[RenderableType] = [about]

    # Between runs of different models, a hyperparameter only some of them have is not a
    # difference worth a row each: dozens of rows with one side empty. They are counted, and
    # listed in --json. Between runs of one model, a missing one (a field added in a later
    # version) is a real difference and keeps its row.
    one_model = len({r.model_type for r in runs_}) == 1
    shared = {
        name: values
        for name, values in comparison.differing_params.items()
        if one_model or all(v is not None for v in values)
    }
    partial = len(comparison.differing_params) - len(shared)
    if shared:
        params = _side_by_side("Hyperparameters that differ", headers)
        for name, values in shared.items():
            params.add_row(name, *[MISSING if v is None else v for v in values])
        parts.append(params)
    elif not partial:
        parts.append(Text("The hyperparameters are identical."))
    if partial:
        parts.append(
            Text(
                f"{partial} hyperparameters are set in only some of the runs (different models): "
                "see `runs show RUN_ID` or `runs compare --json`."
            )
        )

    metrics = _side_by_side(f"Metrics ({BEST_MARK} = best)", headers)
    for name, scores in comparison.metrics.items():
        best = set(comparison.best_metrics[name])
        cells = [_marked(metric(name, v), i in best) for i, v in enumerate(scores)]
        metrics.add_row(METRIC_LABELS[name], *cells)
    parts.append(metrics)

    if comparison.season_brier:
        seasons = _side_by_side(f"Brier per season ({BEST_MARK} = best)", headers)
        for season, briers in comparison.season_brier.items():
            best = set(comparison.best_seasons[season])
            seasons.add_row(
                str(season), *[_marked(number(v), i in best) for i, v in enumerate(briers)]
            )
        parts.append(seasons)
    else:
        parts.append(Text("The runs share no season with per-season scores."))
    return parts


def _headers(comparison: RunComparison) -> list[str]:
    """Each run's column header: the id's first 8 characters over the run's name."""
    return [f"{d.summary.run_id[:8]}\n{d.summary.run_name or ''}".rstrip() for d in comparison.runs]


def _side_by_side(title: str, headers: Sequence[str]) -> Table:
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    table.add_column("", style="bold", overflow="fold")
    for header in headers:
        table.add_column(header, justify="right", overflow="fold")
    return table


def _marked(text: str, best: bool) -> Text | str:
    from rich.text import Text

    # The mark goes in front so that right-aligned numbers stay aligned (Rich trims trailing
    # spaces of a cell).
    return Text(f"{BEST_MARK} {text}", style="bold green") if best else text
