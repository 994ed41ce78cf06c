"""``ncaa-eval runs list``: the runs of the experiment, newest first, failed ones too."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from ncaa_eval.cli.runs.format import (
    MISSING,
    age,
    count,
    json_option,
    number,
    output_console,
    print_parts,
    status,
    store_options,
    years,
)

if TYPE_CHECKING:
    from rich.table import Table

    from ncaa_eval.tracking.queries import RunSummary


@click.command("list")
@click.option("--model", "model_type", help="Only runs of this model (see `models`).")
@click.option(
    "--league",
    type=click.Choice(["M", "W"], case_sensitive=False),
    metavar="[M|W]",
    callback=lambda _ctx, _param, value: value.upper() if value else value,
    help="Only men's (M) or women's (W) runs.",
)
@click.option(
    "--limit",
    type=click.IntRange(1, 50_000),
    default=20,
    show_default=True,
    help="Show at most this many runs, the newest.",
)
@json_option
@store_options
def list_runs(
    model_type: str | None,
    league: str | None,
    limit: int,
    as_json: bool,
    tracking_uri: str | None,
    experiment: str,
) -> None:
    """List the runs, newest first, failed ones too.

    One row per run with its scores; runs that failed or were interrupted before their records
    were saved are listed with "-" for what they lack.
    """
    from ncaa_eval.tracking import RunStore
    from ncaa_eval.tracking.queries import search_runs

    store = RunStore(tracking_uri, experiment)
    found = search_runs(store, model_type=model_type, league=league, max_results=limit)
    if as_json:
        click.echo(json.dumps([run.to_json() for run in found], indent=2))
        return
    if not found:
        filters = [f"--model {model_type}"] if model_type else []
        filters += [f"--league {league}"] if league else []
        if filters:
            click.echo(f"No runs match {' '.join(filters)} in experiment '{experiment}'.")
        else:
            click.echo(
                f"No runs yet in experiment '{experiment}' of {store.tracking_uri}; "
                "train one with `ncaa-eval train --model elo`."
            )
        return
    print_parts(_list_table(found, limit, output_console().width))


#: Below this many columns `runs list` leaves out the run name and merges league and years, so
#: that the rest stays readable on an 80-column terminal.
WIDE_LIST = 110


def _list_table(found: Sequence[RunSummary], limit: int, width: int) -> Table:
    from rich import box
    from rich.table import Table

    now = datetime.now(UTC)
    wide = width >= WIDE_LIST
    if len(found) == limit:
        caption = f"The {limit} newest runs; there may be more (see --limit)."
    else:
        caption = f"{len(found)} run{'s' if len(found) != 1 else ''}, newest first."
    table = Table(
        box=box.SIMPLE_HEAD,
        caption=f"{caption} Details: `ncaa-eval runs show ID`.",
        caption_justify="left",
        show_edge=False,
        pad_edge=False,
        padding=(0, 1, 0, 0),
    )
    table.add_column("run id", no_wrap=True, style="bold")
    if wide:
        table.add_column("name", overflow="fold", min_width=12)
    table.add_column("model", overflow="fold", min_width=8)
    if wide:
        table.add_column("league", no_wrap=True)
        table.add_column("years", no_wrap=True)
    else:
        table.add_column("seasons", no_wrap=True)
    table.add_column("preds", justify="right", no_wrap=True)
    table.add_column("Brier", justify="right", no_wrap=True)
    table.add_column("log loss", justify="right", min_width=6)
    table.add_column("status", no_wrap=True)
    table.add_column("age", no_wrap=True)
    for run in found:
        span = years(run.start_year, run.end_year)
        scope = [run.league or MISSING, span] if wide else [f"{run.league or MISSING} {span}"]
        table.add_row(
            run.run_id[:8],
            *([run.run_name or MISSING] if wide else []),
            run.model_type or MISSING,
            *scope,
            count(run.prediction_count),
            number(run.brier),
            number(run.log_loss),
            status(run.status),
            age(run.start_time, now),
        )
    return table
