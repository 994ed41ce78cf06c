"""Options shared by several commands, so that each is spelled and documented once."""

from __future__ import annotations

from pathlib import Path

import click

from ncaa_eval import DEFAULT_EXPERIMENT

data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("data"),
    envvar="NCAA_EVAL_DATA_DIR",
    show_default=True,
    show_envvar=True,
    help="Folder holding the imported data store.",
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

run_option = click.option(
    "--run", "run_id", required=True, help="Run id, or a unique prefix of one."
)

tracking_uri_option = click.option(
    "--tracking-uri",
    envvar="MLFLOW_TRACKING_URI",
    help="MLflow tracking URI [default: MLFLOW_TRACKING_URI, else sqlite:///mlflow.db here].",
)

experiment_option = click.option(
    "--experiment", default=DEFAULT_EXPERIMENT, show_default=True, help="MLflow experiment."
)
