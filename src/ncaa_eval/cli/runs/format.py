"""What the ``runs`` commands share: their options and how they format values and tables.

Rich is imported inside the functions, so that ``ncaa-eval --help`` stays instant.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ncaa_eval import LEAGUE_NAMES
from ncaa_eval.cli.options import experiment_option, tracking_uri_option

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.text import Text

F = TypeVar("F", bound=Callable[..., Any])

#: Shown for a value a run does not have (the metrics of a failed run, a missing param).
MISSING = "-"
#: Marks the best value of a row in `runs compare` (besides bold green on a terminal).
BEST_MARK = "*"

#: How a league is named in tables (the train summary and `runs show` say the same).
LEAGUES = LEAGUE_NAMES
STATUS_STYLES = {
    "FINISHED": "green",
    "FAILED": "red",
    "KILLED": "yellow",
    "RUNNING": "cyan",
    "SCHEDULED": "cyan",
}
METRIC_LABELS = {
    "brier": "Brier",
    "log_loss": "log loss",
    "accuracy": "accuracy",
    "calibration_error": "calibration error",
    "scored_games": "scored games",
}


def store_options(command: F) -> F:
    """``--tracking-uri`` and ``--experiment`` (the shared options of ``train`` and others)."""
    return tracking_uri_option(experiment_option(command))


json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print JSON (for scripts) instead of tables."
)


#: Output width when stdout is not a terminal: tables are then not squeezed to 80 columns, so that
#: ids, names and paths stay whole for `grep`, `less -S` and files.
PIPE_WIDTH = 240


def output_console() -> Console:
    """The shared console on a terminal; otherwise ``COLUMNS`` or :data:`PIPE_WIDTH` wide."""
    import os

    from rich.console import Console

    from ncaa_eval.cli.console import console

    if console.is_terminal:
        return console
    columns = os.environ.get("COLUMNS", "")
    return Console(width=int(columns) if columns.isdigit() and int(columns) > 0 else PIPE_WIDTH)


def print_parts(*parts: RenderableType) -> None:
    """Print ``parts`` one below the other."""
    from rich.console import Group

    output_console().print(Group(*parts))


def number(value: float | None) -> str:
    return MISSING if value is None else f"{value:.4f}"


def count(value: int | None) -> str:
    return MISSING if value is None else str(value)


def metric(name: str, value: float | None) -> str:
    if value is None:
        return MISSING
    if name == "accuracy":
        return f"{value:.1%}"
    if name == "scored_games":
        return f"{value:.0f}"
    return f"{value:.4f}"


def years(start: int | None, end: int | None) -> str:
    if start is None or end is None:
        return MISSING
    return str(start) if start == end else f"{start}-{end}"


def status(status: str) -> Text:
    from rich.text import Text

    return Text(status, style=STATUS_STYLES.get(status, ""))


def when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def age(moment: datetime | None, now: datetime) -> str:
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


def duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def size(nbytes: int | None) -> str:
    if nbytes is None:
        return MISSING
    if nbytes < 1024:
        return f"{nbytes} B"
    value = float(nbytes)
    for unit in ("KiB", "MiB", "GiB"):
        value /= 1024
        if value < 1024 or unit == "GiB":
            break
    return f"{value:.1f} {unit}"
