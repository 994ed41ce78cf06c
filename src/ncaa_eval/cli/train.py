"""``ncaa-eval train``: a thin command over :func:`ncaa_eval.training.train`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from ncaa_eval.cli.options import (
    data_dir_option,
    experiment_option,
    league_option,
    output_dir_option,
)

if TYPE_CHECKING:
    from pydantic import ValidationError


@click.command()
@click.option("--model", "model_name", required=True, help="Registered model name (see `models`).")
@click.option("--start-year", type=int, default=2015, show_default=True,
              help="First season whose tournament is forecast.")  # fmt: skip
@click.option("--end-year", type=int, default=2025, show_default=True,
              help="Last season whose tournament is forecast.")  # fmt: skip
@league_option
@data_dir_option
@output_dir_option
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    help="JSON object of hyperparameters overriding the model's defaults ('none' or '': none).",
)
@click.option(
    "--tracking-uri",
    envvar="MLFLOW_TRACKING_URI",
    help="MLflow tracking URI [default: MLFLOW_TRACKING_URI, else sqlite:///mlflow.db here].",
)
@experiment_option
@click.option("--run-name", help="MLflow run name [default: <model>-<start>-<end>].")
@click.option(
    "--json", "as_json", is_flag=True, help="Print the result as one JSON object (for scripts)."
)
def train(
    model_name: str,
    start_year: int,
    end_year: int,
    league: str,
    data_dir: Path,
    output_dir: Path,
    config_file: str | None,
    tracking_uri: str | None,
    experiment: str,
    run_name: str | None,
    as_json: bool,
) -> None:
    """Train a model walk-forward over START..END and record the run in MLflow.

    Each season's tournament is forecast only from games before it; the run keeps its params,
    tags, per-season metrics, predictions.parquet and the fitted model. Open it with `mlflow ui`.
    """
    from pydantic import ValidationError

    from ncaa_eval.cli.console import console
    from ncaa_eval.cli.render import season_progress, train_result_json, train_summary
    from ncaa_eval.training import TrainRequest
    from ncaa_eval.training import train as run_training
    from ncaa_eval.training.config_loading import ConfigError, read_config_file

    # "none" (MLproject's default, so the run's `config` param reads well) or "" means no file.
    given = config_file not in (None, "", "none")
    params = read_config_file(Path(config_file)) if config_file and given else {}
    try:
        request = TrainRequest(
            model=model_name,
            start_year=start_year,
            end_year=end_year,
            league=league,
            data_dir=data_dir,
            output_dir=output_dir,
            hyperparameters=params,
            tracking_uri=tracking_uri,
            experiment=experiment,
            run_name=run_name,
        )
    except ValidationError as exc:
        raise ConfigError(_options_message(exc)) from exc
    with season_progress(f"{model_name} {league}") as (on_start, on_season):
        result = run_training(request, on_start=on_start, on_season=on_season)
    if as_json:
        click.echo(train_result_json(result))
    else:
        console.print(train_summary(result))


def _options_message(exc: ValidationError) -> str:
    """One line naming each bad option, e.g. ``--start-year: Input should be ... (got 1900)``."""
    parts = []
    for err in exc.errors():
        message = str(err["msg"]).removeprefix("Value error, ")
        if err["loc"]:
            option = "--" + str(err["loc"][0]).replace("_", "-")
            message = f"{option}: {message} (got {err.get('input')!r})"
        parts.append(message)
    return "; ".join(parts)
