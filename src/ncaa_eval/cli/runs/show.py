"""``ncaa-eval runs show``: one run in full."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from ncaa_eval.cli.runs.format import (
    LEAGUES,
    METRIC_LABELS,
    MISSING,
    age,
    duration,
    json_option,
    metric,
    number,
    print_parts,
    size,
    status,
    store_options,
    when,
    years,
)

if TYPE_CHECKING:
    from rich.console import RenderableType

    from ncaa_eval.tracking import RunStore
    from ncaa_eval.tracking.learned import LearnedTable
    from ncaa_eval.tracking.queries import RunDetails

#: Rows of what the model learned that ``runs show`` prints (``--json`` gives them all).
LEARNED_ROWS = 15


@click.command()
@click.argument("run_id")
@json_option
@store_options
def show(run_id: str, as_json: bool, tracking_uri: str | None, experiment: str) -> None:
    """Show one run in full.

    Its record and hyperparameters, overall metrics, per-season scores, what the model
    learned (first rows; --json gives every row) and artifacts. RUN_ID is a full run id or a
    unique prefix of at least 4 characters.
    """
    from ncaa_eval.tracking import RunStore
    from ncaa_eval.tracking.lookup import resolve_run
    from ncaa_eval.tracking.queries import run_details

    store = RunStore(tracking_uri, experiment)
    details = run_details(store, resolve_run(store, run_id))
    if as_json:
        click.echo(json.dumps(details.to_json(), indent=2))
        return
    print_parts(*_show_parts(details, store))


def _show_parts(details: RunDetails, store: RunStore) -> list[RenderableType]:
    from rich.table import Table
    from rich.text import Text

    from ncaa_eval.tracking import flatten_params

    run, record = details.summary, details.record
    now = datetime.now(UTC)
    about = Table(title=f"Run {run.run_id}", show_header=False, title_justify="left")
    about.add_column("what", style="bold", no_wrap=True)
    about.add_column("value", overflow="fold")
    about.add_row("run name", run.run_name or MISSING)
    about.add_row("status", status(run.status))
    about.add_row("model", run.model_type or MISSING)
    about.add_row("league", LEAGUES.get(run.league or "", MISSING))
    about.add_row("seasons", years(run.start_year, run.end_year))
    if run.prediction_count is not None:
        about.add_row("predictions", str(run.prediction_count))
    if run.start_time is not None:
        about.add_row("started", f"{when(run.start_time)} ({age(run.start_time, now)})")
    if run.start_time is not None and run.end_time is not None:
        about.add_row("duration", duration((run.end_time - run.start_time).total_seconds()))
    if record is not None:
        state = {True: "uncommitted changes", False: "clean", None: "state unknown"}
        about.add_row("git commit", f"{record.git_hash} ({state[record.git_dirty]})")
        about.add_row("ncaa-eval version", record.ncaa_eval_version)
        about.add_row("data digest", record.data_digest or MISSING)
        about.add_row("recorded at", when(record.timestamp))
    about.add_row("tracking", f"{store.tracking_uri} (experiment '{store.experiment}')")
    parts: list[RenderableType] = [about]
    if record is None:
        parts.append(
            Text(
                f"This run has no ncaa-eval records: it ended {run.status} before they were "
                "saved, so it cannot be compared or exported.",
                style="yellow",
            )
        )
    else:
        params = Table(title="Hyperparameters", title_justify="left")
        params.add_column("name", style="bold", overflow="fold")
        params.add_column("value", overflow="fold")
        for name, value in flatten_params(record.hyperparameters).items():
            params.add_row(name, value)
        parts.append(params)

    if details.metrics:
        metrics = Table(title="Metrics", title_justify="left")
        metrics.add_column("metric", style="bold")
        metrics.add_column("value", justify="right")
        known = [k for k in METRIC_LABELS if k in details.metrics]
        others = sorted(k for k in details.metrics if k not in METRIC_LABELS)
        for name in known + others:
            metrics.add_row(METRIC_LABELS.get(name, name), metric(name, details.metrics[name]))
        parts.append(metrics)
    else:
        parts.append(Text("No metrics logged.", style="yellow"))

    if details.seasons:
        seasons = Table(title="Per season", title_justify="left")
        seasons.add_column("season", style="bold")
        seasons.add_column("Brier", justify="right")
        seasons.add_column("log loss", justify="right")
        for score in details.seasons:
            seasons.add_row(str(score.season), number(score.brier), number(score.log_loss))
        parts.append(seasons)

    if details.learned is not None:
        parts.append(_learned_table(details.learned))

    if details.artifacts:
        files = Table(title="Artifacts", title_justify="left")
        files.add_column("path", overflow="fold")
        files.add_column("size", justify="right", no_wrap=True)
        for artifact in details.artifacts:
            files.add_row(artifact.path, size(artifact.size))
        total = sum(a.size or 0 for a in details.artifacts)
        files.add_row(Text(f"{len(details.artifacts)} files", style="dim"), size(total))
        parts.append(files)
    else:
        parts.append(Text("No artifacts.", style="yellow"))
    if details.model_uri is not None:
        parts.append(Text(f"MLflow Model: {details.model_uri}"))
        parts.append(
            Text(f"Register it: ncaa-eval runs register {details.summary.run_id[:8]} --name NAME")
        )
    return parts


def _learned_table(learned: LearnedTable) -> RenderableType:
    """The first :data:`LEARNED_ROWS` rows of what the model learned, numbers right-aligned."""
    from pandas.api.types import is_numeric_dtype
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    frame = learned.frame
    # Above the table rather than its title, which Rich would wrap to the table's width.
    title = "What the model learned" + (f": {learned.title}" if learned.title else "")
    shown = min(len(frame), LEARNED_ROWS)
    caption = f"{shown} of {len(frame)} rows; all in learned.csv" if shown < len(frame) else None
    table = Table(caption=caption, caption_justify="left")
    for column in frame.columns:
        numeric = is_numeric_dtype(frame[column])
        table.add_column(str(column), justify="right" if numeric else "left", overflow="fold")
    for row in frame.head(LEARNED_ROWS).itertuples(index=False):
        table.add_row(*(_learned_cell(value) for value in row))
    return Group(Text(title, style="table.title"), table)


def _learned_cell(value: object) -> str:
    """A cell of the learned table: ratings to 0.1, smaller numbers to 4 decimals."""
    import math

    if value is None:
        return MISSING
    if isinstance(value, float):
        if math.isnan(value):
            return MISSING
        size = abs(value)
        if size >= 100:
            return f"{value:.1f}"
        if size >= 0.001 or value == 0:
            return f"{value:.4f}"
        return f"{value:.2e}"
    return str(value)
