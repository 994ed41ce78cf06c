"""The ``ncaa-eval`` Click group.

Sub-commands live in their own modules and are imported only when invoked, so ``ncaa-eval
--help`` and ``--version`` answer without importing pandas, mlflow, xgboost or scikit-learn.
Expected failures (:class:`~ncaa_eval.errors.NcaaEvalError`) end in one ``Error: ...`` line and
exit code 1; anything else keeps its traceback.
"""

from __future__ import annotations

import importlib
import signal
import sys
from types import FrameType
from typing import Any

import click

from ncaa_eval import __version__

# name -> (module, attribute, one-line help shown by --help without importing the module)
_COMMANDS: dict[str, tuple[str, str, str]] = {
    "data": ("ncaa_eval.cli.data", "data", "Import, inspect or generate the game data."),
    "models": ("ncaa_eval.cli.models", "models", "List the registered models and their configs."),
    "train": ("ncaa_eval.cli.train", "train", "Train a model walk-forward and track it in MLflow."),
    "tune": (
        "ncaa_eval.cli.tune",
        "tune",
        "Search a model's hyperparameters with Optuna, trials nested in MLflow.",
    ),
    "runs": (
        "ncaa_eval.cli.runs",
        "runs",
        "List, show, compare, export and register tracked runs.",
    ),
    "predict": (
        "ncaa_eval.cli.predict",
        "predict",
        "Write a Kaggle submission for a season from a run or model.",
    ),
    "bracket": (
        "ncaa_eval.cli.bracket",
        "bracket",
        "Simulate a season's bracket with a run's probabilities.",
    ),
    "registry": (
        "ncaa_eval.cli.registry",
        "registry",
        "List registered models; set or move their aliases.",
    ),
}


class NcaaEvalGroup(click.Group):
    """A group that loads commands lazily and turns library errors into one-line messages."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in _COMMANDS:
            return None
        module, attr, _ = _COMMANDS[cmd_name]
        command = getattr(importlib.import_module(module), attr)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, help_) for name, (_, _, help_) in sorted(_COMMANDS.items())]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        from ncaa_eval.errors import NcaaEvalError

        try:
            return super().invoke(ctx)
        except NcaaEvalError as exc:
            raise click.ClickException(" ".join(str(exc).split())) from exc
        except KeyboardInterrupt:
            # Ctrl-C: clean-ups have run on the way up (a run is marked KILLED); exit as a shell
            # expects of SIGINT rather than with Click's "Aborted!" and 1.
            click.echo("Interrupted.", err=True)
            sys.exit(128 + signal.SIGINT)
        except SystemExit as exc:
            if exc.code == 128 + signal.SIGTERM:
                click.echo("Terminated.", err=True)
            raise


@click.group(cls=NcaaEvalGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="ncaa-eval")
def cli() -> None:
    """Forecast NCAA basketball tournaments without leakage, with every run tracked in MLflow.

    Start with `ncaa-eval data demo` (a synthetic league) or `ncaa-eval data import FOLDER`
    (the Kaggle download), then `ncaa-eval train --model elo`.
    """


def _unwind_on_sigterm(signum: int, frame: FrameType | None) -> None:
    # A second SIGTERM during the clean-up ends the process at once.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    raise SystemExit(128 + signum)


def main() -> None:
    """Console-script entry point.

    SIGTERM (``kill``, a CI timeout) unwinds like Ctrl-C, so that temporary files are removed and
    a run is marked KILLED, and ends with exit code 143; Ctrl-C ends with 130.
    """
    if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _unwind_on_sigterm)
    cli(prog_name="ncaa-eval")
