"""``ncaa-eval runs compare``: two or more runs side by side, the best value of each row marked."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

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

    from ncaa_eval.tracking.queries import RunComparison


@click.command()
@click.argument("run_ids", nargs=-1, required=True, metavar="RUN_ID RUN_ID [RUN_ID]...")
@json_option
@store_options
def compare(
    run_ids: tuple[str, ...], as_json: bool, tracking_uri: str | None, experiment: str
) -> None:
    """Compare two or more runs side by side.

    Shows the hyperparameters that differ, the overall metrics and the Brier score of each
    season the runs share. The best value of each row is marked with *: the lowest Brier, log
    loss and calibration error, the highest accuracy. Each RUN_ID is a full id or a unique
    prefix.
    """
    from ncaa_eval.cli.console import err_console
    from ncaa_eval.tracking import RunStore
    from ncaa_eval.tracking.lookup import resolve_run
    from ncaa_eval.tracking.queries import compare_runs

    if len(run_ids) < 2:
        raise click.UsageError("Give at least two runs to compare.")
    store = RunStore(tracking_uri, experiment)
    comparison = compare_runs(store, [resolve_run(store, run_id) for run_id in run_ids])
    for warning in comparison.warnings:
        err_console.print(
            f"warning: {warning}", style="yellow", markup=False, highlight=False, soft_wrap=True
        )
    if as_json:
        click.echo(json.dumps(comparison.to_json(), indent=2))
        return
    print_parts(*_compare_parts(comparison))


def _compare_parts(comparison: RunComparison) -> list[RenderableType]:
    from rich.text import Text

    runs_ = [d.summary for d in comparison.runs]
    headers = [f"{r.run_id[:8]}\n{r.run_name or ''}".rstrip() for r in runs_]

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
