"""``ncaa-eval tune``: a thin command over :func:`ncaa_eval.tuning.tune`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ncaa_eval.cli.options import (
    data_dir_option,
    experiment_option,
    league_option,
    tracking_uri_option,
)

if TYPE_CHECKING:
    from ncaa_eval.tuning.search import TuneResult
    from ncaa_eval.tuning.worker import Counts


@click.command()
@click.option("--model", "model_name", required=True, help="Registered model name (see `models`).")
@league_option
@click.option("--tune-years", default="2003-2014", show_default=True, metavar="FIRST-LAST",
              help="Seasons whose tournaments score each trial (walk-forward).")  # fmt: skip
@click.option("--holdout-years", metavar="FIRST-LAST",
              help="Seasons after the tuning window on which the best and the default configs "
              "are scored once, after the search (never used to choose).")  # fmt: skip
@click.option("--trials", type=int, default=50, show_default=True,
              help="Finished trials the study ends with, all workers together.")  # fmt: skip
@click.option("--timeout", type=float, metavar="SECONDS",
              help="Stop starting trials after this many seconds.")  # fmt: skip
@click.option("--study", "study_name", metavar="NAME",
              help="Study name [default: <model>-<league>-<first>-<last>]; the same name "
              "resumes or joins it.")  # fmt: skip
@click.option("--storage", metavar="URL",
              help="Optuna storage: a journal file path [default: optuna.journal beside the "
              "MLflow store] or postgresql://user:password@host/db for many machines.")  # fmt: skip
@click.option("--workers", type=int, default=1, show_default=True,
              help="Worker processes on this machine sharing the study.")  # fmt: skip
@click.option("--seed", type=int, help="Sampler seed: one worker, same seed, same trials.")
@click.option("--space", "space_file", type=click.Path(dir_okay=False, path_type=Path),
              help="JSON file narrowing or fixing fields of the declared space.")  # fmt: skip
@data_dir_option
@click.option("--output-dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("data"), show_default=True,
              help="The best config is written to OUTPUT_DIR/tune/<study>.best.json.")  # fmt: skip
@tracking_uri_option
@experiment_option
@click.option("--heartbeat", type=int, default=10, show_default=True, metavar="SECONDS",
              help="Database storage: seconds between a worker's heartbeats; a trial silent for "
              "three is failed and retried.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
def tune(
    model_name: str,
    league: str,
    tune_years: str,
    holdout_years: str | None,
    trials: int,
    timeout: float | None,
    study_name: str | None,
    storage: str | None,
    workers: int,
    seed: int | None,
    space_file: Path | None,
    data_dir: Path,
    output_dir: Path,
    tracking_uri: str | None,
    experiment: str,
    heartbeat: int,
    as_json: bool,
) -> None:
    """Search a model's hyperparameters with Optuna, every trial a nested MLflow run.

    Each trial is scored by the walk-forward main-draw Brier over the tuning window, exactly as
    `train` scores a run; hopeless trials are pruned season by season. Run the same command again
    to resume; run it on other machines with the same --study and a postgresql:// --storage to
    share the search. The best config is written as a file `train --config` accepts.
    """
    from pydantic import ValidationError

    from ncaa_eval.cli.train import _options_message
    from ncaa_eval.training.config_loading import ConfigError
    from ncaa_eval.tuning.request import TuneRequest, parse_years
    from ncaa_eval.tuning.search import tune as run_tune

    try:
        request = TuneRequest(
            model=model_name,
            league=league,
            tune_years=parse_years(tune_years, "--tune-years"),
            holdout_years=parse_years(holdout_years, "--holdout-years") if holdout_years else None,
            trials=trials,
            timeout=timeout,
            study=study_name,
            storage=storage,
            workers=workers,
            seed=seed,
            data_dir=data_dir,
            tracking_uri=tracking_uri,
            experiment=experiment,
            space_file=space_file,
            output_dir=output_dir,
            heartbeat=heartbeat,
        )
    except ValidationError as exc:
        raise ConfigError(_options_message(exc)) from exc
    with trial_progress(f"tune {model_name} {league}", trials) as (on_start, on_trial):
        result = run_tune(request, on_start=on_start, on_trial=on_trial)
    if as_json:
        import json

        click.echo(json.dumps(result.to_json(), indent=2))
    else:
        from ncaa_eval.cli.console import console

        console.print(tune_summary(result))


@contextmanager
def trial_progress(
    title: str, total: int
) -> Iterator[tuple[Callable[[Counts], None], Callable[[Counts], None]]]:
    """Trials done of N, best so far, time left; silent when stderr is not a terminal."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from ncaa_eval.cli.console import err_console

    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("trials  best {task.fields[best]}"),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
        console=err_console,
        disable=not err_console.is_terminal,
    )
    task = progress.add_task(title, total=total, best="-")

    def update(counts: Counts) -> None:
        best = "-" if counts.best_value is None else f"{counts.best_value:.4f}"
        progress.update(task, completed=min(counts.finished, total), best=best)

    with progress:
        yield update, update


def tune_summary(result: TuneResult) -> Any:
    """Best against default, field by field, with both Brier scores; where it is recorded."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    from ncaa_eval import LEAGUE_NAMES
    from ncaa_eval.cli.render import ui_lines
    from ncaa_eval.tuning.space import dotted_value

    c = result.counts
    first, last = result.tune_years
    head = Table(title="Search", show_header=False, title_justify="left")
    head.add_column("what", style="bold")
    head.add_column("value", overflow="fold")
    head.add_row("study", f"{result.study} ({result.storage})")
    head.add_row("model", f"{result.model}, {LEAGUE_NAMES[result.league]}")
    head.add_row(
        "trials",
        f"{c.finished} finished of {result.trials_target} ({c.complete} complete, {c.pruned} "
        f"pruned, {c.failed} failed); {result.workers} worker(s) here, {result.seconds:.1f} s",
    )
    head.add_row("best trial", f"#{result.best_number}")
    head.add_row("best config", str(result.best_config_file))
    head.add_row("parent run", result.parent_run_id)
    table = Table(title="Best against defaults", title_justify="left")
    table.add_column("field", overflow="fold")
    table.add_column("default", justify="right")
    table.add_column("best", justify="right")
    for name, value in result.best_params.items():
        default = dotted_value(result.default_config, name)
        # Moved fields stand out; those the best trial left at the default are dim.
        table.add_row(name, _shown(default), _shown(value),
                      style="bold" if _shown(default) != _shown(value) else "dim")  # fmt: skip
    table.add_row(
        Text(f"Brier {first}-{last} (tuning)", style="bold"),
        f"{result.default_brier:.4f}",
        f"{result.best_brier:.4f}",
    )
    if result.holdout is not None:
        table.add_row(
            Text(f"Brier {result.holdout['years']} (holdout, scored once)", style="bold"),
            f"{result.holdout['default']:.4f}",
            f"{result.holdout['best']:.4f}",
        )
    lines = [Text(line, no_wrap=True, overflow="ignore") for line in ui_lines(result)]
    lines.append(
        Text(
            f"Train it: ncaa-eval train --model {result.model} --config {result.best_config_file}",
            no_wrap=True,
            overflow="ignore",
        )
    )
    lines += [Text(f"note: {note}", style="yellow") for note in result.notes]
    return Group(head, table, *lines)


def _shown(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
