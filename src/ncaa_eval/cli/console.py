"""Rich output helpers: one console, progress that stays quiet when not on a terminal."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

# soft_wrap: a message is one line, however narrow the terminal (or 80 columns when piped), so
# that it can be grepped and copied; tables still fit the width.
console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)


@contextmanager
def step_progress(title: str, total: int | None = None) -> Iterator[Callable[[str], None]]:
    """Yield ``advance(description)``: shows a bar (or spinner) on a terminal, nothing otherwise."""
    progress = Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=not err_console.is_terminal,
    )
    with progress:
        task = progress.add_task(title, total=total)

        def advance(description: str) -> None:
            progress.update(task, advance=1, description=description)

        yield advance
