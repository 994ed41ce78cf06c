"""``ncaa-eval runs``: list, show, compare and export the runs kept in MLflow.

Thin commands over :class:`~ncaa_eval.tracking.RunStore` and
:mod:`ncaa_eval.tracking.queries`; everything heavy (MLflow, pandas, Rich tables) is imported
inside the commands so that ``--help`` stays instant.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ncaa_eval.cli.options import experiment_option, tracking_uri_option

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.table import Table
    from rich.text import Text

    from ncaa_eval.tracking import RunStore
    from ncaa_eval.tracking.queries import RunComparison, RunDetails, RunSummary

F = TypeVar("F", bound=Callable[..., Any])

#: Shown for a value a run does not have (the metrics of a failed run, a missing param).
MISSING = "-"
#: Marks the best value of a row in `runs compare` (besides bold green on a terminal).
BEST_MARK = "*"

#: How a league is named in tables (the train summary and `runs show` say the same).
_LEAGUES = {"M": "men", "W": "women"}
_STATUS_STYLES = {
    "FINISHED": "green",
    "FAILED": "red",
    "KILLED": "yellow",
    "RUNNING": "cyan",
    "SCHEDULED": "cyan",
}
_METRIC_LABELS = {
    "brier": "Brier",
    "log_loss": "log loss",
    "accuracy": "accuracy",
    "calibration_error": "calibration error",
    "scored_games": "scored games",
}


def _store_options(command: F) -> F:
    """``--tracking-uri`` and ``--experiment`` (the shared options of ``train`` and others)."""
    return tracking_uri_option(experiment_option(command))


_json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print JSON (for scripts) instead of tables."
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def runs() -> None:
    """List, show, compare and export the training runs tracked in MLflow.

    A run is named by its id (see `runs list`) or by a unique prefix of at least 4 characters.
    """


# -- list -------------------------------------------------------------------------------------


@runs.command("list")
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
@_json_option
@_store_options
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
    _print(_list_table(found, limit, _output_console().width))


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
        years = _years(run.start_year, run.end_year)
        scope = [run.league or MISSING, years] if wide else [f"{run.league or MISSING} {years}"]
        table.add_row(
            run.run_id[:8],
            *([run.run_name or MISSING] if wide else []),
            run.model_type or MISSING,
            *scope,
            _count(run.prediction_count),
            _number(run.brier),
            _number(run.log_loss),
            _status(run.status),
            _age(run.start_time, now),
        )
    return table


# -- show -------------------------------------------------------------------------------------


@runs.command()
@click.argument("run_id")
@_json_option
@_store_options
def show(run_id: str, as_json: bool, tracking_uri: str | None, experiment: str) -> None:
    """Show one run in full.

    Its record and hyperparameters, overall metrics, per-season scores and artifacts.
    RUN_ID is a full run id or a unique prefix of at least 4 characters.
    """
    from ncaa_eval.tracking import RunStore
    from ncaa_eval.tracking.queries import resolve_run, run_details

    store = RunStore(tracking_uri, experiment)
    details = run_details(store, resolve_run(store, run_id))
    if as_json:
        click.echo(json.dumps(details.to_json(), indent=2))
        return
    _print(*_show_parts(details, store))


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
    about.add_row("status", _status(run.status))
    about.add_row("model", run.model_type or MISSING)
    about.add_row("league", _LEAGUES.get(run.league or "", MISSING))
    about.add_row("seasons", _years(run.start_year, run.end_year))
    if run.prediction_count is not None:
        about.add_row("predictions", str(run.prediction_count))
    if run.start_time is not None:
        about.add_row("started", f"{_when(run.start_time)} ({_age(run.start_time, now)})")
    if run.start_time is not None and run.end_time is not None:
        about.add_row("duration", _duration((run.end_time - run.start_time).total_seconds()))
    if record is not None:
        state = {True: "uncommitted changes", False: "clean", None: "state unknown"}
        about.add_row("git commit", f"{record.git_hash} ({state[record.git_dirty]})")
        about.add_row("ncaa-eval version", record.ncaa_eval_version)
        about.add_row("data digest", record.data_digest or MISSING)
        about.add_row("recorded at", _when(record.timestamp))
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
        known = [k for k in _METRIC_LABELS if k in details.metrics]
        others = sorted(k for k in details.metrics if k not in _METRIC_LABELS)
        for name in known + others:
            metrics.add_row(_METRIC_LABELS.get(name, name), _metric(name, details.metrics[name]))
        parts.append(metrics)
    else:
        parts.append(Text("No metrics logged.", style="yellow"))

    if details.seasons:
        seasons = Table(title="Per season", title_justify="left")
        seasons.add_column("season", style="bold")
        seasons.add_column("Brier", justify="right")
        seasons.add_column("log loss", justify="right")
        for score in details.seasons:
            seasons.add_row(str(score.season), _number(score.brier), _number(score.log_loss))
        parts.append(seasons)

    if details.artifacts:
        files = Table(title="Artifacts", title_justify="left")
        files.add_column("path", overflow="fold")
        files.add_column("size", justify="right", no_wrap=True)
        for artifact in details.artifacts:
            files.add_row(artifact.path, _size(artifact.size))
        total = sum(a.size or 0 for a in details.artifacts)
        files.add_row(Text(f"{len(details.artifacts)} files", style="dim"), _size(total))
        parts.append(files)
    else:
        parts.append(Text("No artifacts.", style="yellow"))
    return parts


# -- compare ----------------------------------------------------------------------------------


@runs.command()
@click.argument("run_ids", nargs=-1, required=True, metavar="RUN_ID RUN_ID [RUN_ID]...")
@_json_option
@_store_options
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
    from ncaa_eval.tracking.queries import compare_runs, resolve_run

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
    _print(*_compare_parts(comparison))


def _compare_parts(comparison: RunComparison) -> list[RenderableType]:
    from rich.text import Text

    runs_ = [d.summary for d in comparison.runs]
    headers = [f"{r.run_id[:8]}\n{r.run_name or ''}".rstrip() for r in runs_]

    about = _side_by_side("Runs", headers)
    about.add_row("model", *[r.model_type or MISSING for r in runs_])
    about.add_row("league", *[_LEAGUES.get(r.league or "", r.league or MISSING) for r in runs_])
    about.add_row("seasons", *[_years(r.start_year, r.end_year) for r in runs_])
    about.add_row("predictions", *[_count(r.prediction_count) for r in runs_])
    about.add_row("status", *[_status(r.status) for r in runs_])
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
        cells = [_marked(_metric(name, v), i in best) for i, v in enumerate(scores)]
        metrics.add_row(_METRIC_LABELS[name], *cells)
    parts.append(metrics)

    if comparison.season_brier:
        seasons = _side_by_side(f"Brier per season ({BEST_MARK} = best)", headers)
        for season, briers in comparison.season_brier.items():
            best = set(comparison.best_seasons[season])
            seasons.add_row(
                str(season), *[_marked(_number(v), i in best) for i, v in enumerate(briers)]
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


# -- export -----------------------------------------------------------------------------------


@runs.command()
@click.argument("run_id")
@click.option(
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("data"),
    show_default=True,
    help="The run is written to OUTPUT_DIR/runs/<run id>/.",
)
@_store_options
def export(run_id: str, output_dir: Path, tracking_uri: str | None, experiment: str) -> None:
    """Export a run's records to files.

    Writes run.json and predictions.parquet to OUTPUT_DIR/runs/<run id>/. RUN_ID is a full
    run id or a unique prefix of at least 4 characters.
    """
    from ncaa_eval.tracking import RunStore
    from ncaa_eval.tracking.queries import resolve_run

    store = RunStore(tracking_uri, experiment)
    folder = store.export(resolve_run(store, run_id), output_dir)
    click.echo(f"Exported run {folder.name} to {folder}")
    for path in sorted(folder.iterdir()):
        click.echo(f"  {path.name} ({_size(path.stat().st_size)})")


# -- formatting -------------------------------------------------------------------------------

#: Output width when stdout is not a terminal: tables are then not squeezed to 80 columns, so that
#: ids, names and paths stay whole for `grep`, `less -S` and files.
PIPE_WIDTH = 240


def _output_console() -> Console:
    """The shared console on a terminal; otherwise ``COLUMNS`` or :data:`PIPE_WIDTH` wide."""
    import os

    from rich.console import Console

    from ncaa_eval.cli.console import console

    if console.is_terminal:
        return console
    columns = os.environ.get("COLUMNS", "")
    return Console(width=int(columns) if columns.isdigit() and int(columns) > 0 else PIPE_WIDTH)


def _print(*parts: RenderableType) -> None:
    """Print ``parts`` one below the other."""
    from rich.console import Group

    _output_console().print(Group(*parts))


def _number(value: float | None) -> str:
    return MISSING if value is None else f"{value:.4f}"


def _count(value: int | None) -> str:
    return MISSING if value is None else str(value)


def _metric(name: str, value: float | None) -> str:
    if value is None:
        return MISSING
    if name == "accuracy":
        return f"{value:.1%}"
    if name == "scored_games":
        return f"{value:.0f}"
    return f"{value:.4f}"


def _years(start: int | None, end: int | None) -> str:
    if start is None or end is None:
        return MISSING
    return str(start) if start == end else f"{start}-{end}"


def _status(status: str) -> Text:
    from rich.text import Text

    return Text(status, style=_STATUS_STYLES.get(status, ""))


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _age(moment: datetime | None, now: datetime) -> str:
    """``"just now"``, ``"5 min ago"``, ``"3 h ago"``, ``"3 days ago"``, then the date."""
    if moment is None:
        return MISSING
    seconds = (now - moment).total_seconds()
    if seconds < 60:
        return "just now"
    for unit, size, limit in (("min", 60, 60), ("h", 3600, 24), ("day", 86400, 60)):
        count = int(seconds // size)
        if count < limit:
            plural = "s" if count != 1 and unit == "day" else ""
            return f"{count} {unit}{plural} ago"
    return moment.astimezone(UTC).strftime("%Y-%m-%d")


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def _size(size: int | None) -> str:
    if size is None:
        return MISSING
    if size < 1024:
        return f"{size} B"
    value = float(size)
    for unit in ("KiB", "MiB", "GiB"):
        value /= 1024
        if value < 1024 or unit == "GiB":
            break
    return f"{value:.1f} {unit}"
