"""Rich renderings shared by commands: the season progress bar and the training summary."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Group
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from ncaa_eval import LEAGUE_NAMES
from ncaa_eval.cli.console import err_console


@contextmanager
def season_progress(
    title: str,
) -> Iterator[tuple[Callable[[list[int]], None], Callable[[int, int], None]]]:
    """A bar that advances season by season; silent when stderr is not a terminal."""
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("seasons"),
        TimeElapsedColumn(),
        console=err_console,
        transient=False,
        disable=not err_console.is_terminal,
    )
    task_ids: list[Any] = []

    def on_start(seasons: list[int]) -> None:
        task_ids.append(progress.add_task(f"{title}: loading", total=len(seasons)))

    def on_season(season: int, n_predictions: int) -> None:
        if task_ids:
            progress.update(
                task_ids[0],
                advance=1,
                description=f"{title}: {season} ({n_predictions} games)",
            )

    with progress:
        yield on_start, on_season


def train_summary(result: Any) -> Group:
    """The end-of-training table: model, scope, scores, run id and how to open it."""
    m = result.metrics
    table = Table(title="Training run", show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    # Fold rather than cut long values: the export path and the URI must stay copyable.
    table.add_column("value", overflow="fold")
    seasons = result.seasons
    table.add_row("model", result.model_type)
    table.add_row("league", LEAGUE_NAMES[result.league])
    plural = "tournament" if len(seasons) == 1 else "tournaments"
    table.add_row("seasons", f"{seasons[0]}-{seasons[-1]} ({len(seasons)} {plural})")
    table.add_row("predictions", f"{result.prediction_count} ({m.n} scored, First Four excluded)")
    table.add_row("Brier", f"{m.brier:.4f}")
    table.add_row("log loss", f"{m.log_loss:.4f}")
    table.add_row("accuracy", f"{m.accuracy:.1%}")
    table.add_row("calibration error", f"{m.calibration_error:.4f}")
    t = result.timings
    table.add_row(
        "time",
        f"{t['total']:.1f} s (forecasting {t['forecasting']:.1f} s, MLflow {t['tracking']:.1f} s, "
        f"charts {t['charts']:.1f} s)",
    )
    table.add_row("run id", result.run_id)
    table.add_row("run name", result.run_name)
    table.add_row("tracking", f"{result.tracking_uri} (experiment '{result.experiment}')")
    if result.export_dir is not None:
        table.add_row("exported to", str(result.export_dir))
    # Whole lines, never wrapped: the command and the address must stay copyable.
    parts: list[Any] = [table]
    parts += [Text(line, no_wrap=True, overflow="ignore") for line in ui_lines(result)]
    for note in result.notes:
        parts.append(Text(f"note: {note}", style="yellow"))
    return Group(*parts)


def train_result_json(result: Any) -> str:
    """The training result as one JSON object: ids, scope, scores per season, timings."""
    import json

    from ncaa_eval.tracking.ui import ui_link

    m = result.metrics
    link = ui_link(result.tracking_uri, result.experiment_id)
    payload = {
        "run_id": result.run_id,
        "run_name": result.run_name,
        "model": result.model_type,
        "league": result.league,
        "seasons": result.seasons,
        "predictions": result.prediction_count,
        "metrics": {
            "brier": m.brier,
            "log_loss": m.log_loss,
            "accuracy": m.accuracy,
            "calibration_error": m.calibration_error,
            "scored_games": m.n,
        },
        "season_metrics": [
            {k: (int(v) if k in ("season", "n") else float(v)) for k, v in row.items()}
            for row in result.season_metrics.to_dict("records")
        ],
        "tracking_uri": result.tracking_uri,
        "experiment": result.experiment,
        "experiment_id": result.experiment_id,
        "ui_command": link.command,
        "ui_url": link.url,
        "export_dir": str(result.export_dir) if result.export_dir is not None else None,
        "timings": {k: round(v, 4) for k, v in result.timings.items()},
        "notes": result.notes,
    }
    return json.dumps(payload)


def ui_lines(result: Any) -> list[str]:
    """How to see the run's experiment in the MLflow UI, on its runs table: a server's own
    address, or the command that starts a UI on the local store and the address it will serve."""
    from ncaa_eval.tracking.ui import ui_link

    link = ui_link(result.tracking_uri, result.experiment_id)
    if link.command is None:
        return [f"Compare runs in the MLflow UI: {link.url}"]
    return [f"Compare runs in the MLflow UI: {link.command}", f"and open {link.url}"]
