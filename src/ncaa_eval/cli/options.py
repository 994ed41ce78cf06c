"""Options shared by several commands, so that each is spelled and documented once."""

from __future__ import annotations

import os
from pathlib import Path

import click

from ncaa_eval import DEFAULT_EXPERIMENT, DEMO_EXPERIMENT

data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("data"),
    envvar="NCAA_EVAL_DATA_DIR",
    show_default=True,
    show_envvar=True,
    help="Folder holding the imported data store.",
)

output_dir_option = click.option(
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("data"),
    show_default=True,
    help="The run is exported to OUTPUT_DIR/runs/<run id>/.",
)

league_option = click.option(
    "--league",
    type=click.Choice(["M", "W"], case_sensitive=False),
    default="M",
    show_default=True,
    metavar="[M|W]",
    callback=lambda _ctx, _param, value: value.upper() if value else value,
    help="M for men, W for women.",
)

run_option = click.option("--run", "run_id", help="Run id, or a unique prefix of one.")

model_uri_option = click.option(
    "--model",
    "model_uri",
    metavar="URI",
    help="MLflow Model instead of a run: models:/NAME@ALIAS, models:/NAME/VERSION or "
    "runs:/ID/model.",
)

tracking_uri_option = click.option(
    "--tracking-uri",
    envvar="MLFLOW_TRACKING_URI",
    help="MLflow tracking URI [default: MLFLOW_TRACKING_URI, else sqlite:///mlflow.db here].",
)


def default_experiment(data_dir: Path) -> str:
    """The experiment of runs on the data store in ``data_dir``: ``ncaa-eval-demo`` for the demo
    league, else (real data, or no store at all) ``ncaa-eval``."""
    from ncaa_eval.errors import NcaaEvalError
    from ncaa_eval.ingest.repository import ParquetRepository

    try:
        demo = ParquetRepository(data_dir).is_demo
    except (NcaaEvalError, OSError, ValueError):
        # No store (or an unreadable one): the command itself says so if it needs the data.
        return DEFAULT_EXPERIMENT
    return DEMO_EXPERIMENT if demo else DEFAULT_EXPERIMENT


def _experiment_for_data(ctx: click.Context, _param: click.Parameter, value: str | None) -> str:
    """``--experiment`` as given, else the one of the data store the command reads.

    The command's own ``--data-dir`` is processed first (declared before, or given on the command
    line); commands without one (``runs``) look where ``--data-dir`` would: NCAA_EVAL_DATA_DIR,
    else ``data``.
    """
    if value is not None:
        # Given, even empty: an empty name is the command's error to report, not a default.
        return value
    data_dir = ctx.params.get("data_dir") or Path(os.environ.get("NCAA_EVAL_DATA_DIR") or "data")
    return default_experiment(Path(data_dir))


#: Demo-league runs live in their own experiment (see ``train``), so every command that reads
#: runs follows the data store it works with: after `data demo` the demo runs, after `data import`
#: the real ones.
experiment_option = click.option(
    "--experiment",
    callback=_experiment_for_data,
    help=f"MLflow experiment [default: {DEMO_EXPERIMENT} when the data store (--data-dir, else "
    f"NCAA_EVAL_DATA_DIR, else ./data) holds the demo league, else {DEFAULT_EXPERIMENT}].",
)
