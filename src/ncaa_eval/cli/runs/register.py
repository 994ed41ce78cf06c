"""``ncaa-eval runs register``: a run's MLflow Model into the Model Registry."""

from __future__ import annotations

import click

from ncaa_eval.cli.runs.format import store_options


@click.command()
@click.argument("run_id")
@click.option("--name", required=True, help="Registered model name, e.g. ncaa-men.")
@click.option("--alias", help="Also point this alias (e.g. champion) at the new version.")
@store_options
def register(
    run_id: str, name: str, alias: str | None, tracking_uri: str | None, experiment: str
) -> None:
    """Register RUN_ID's MLflow Model as a new version of NAME (optionally with an --alias).

    The version is then `models:/NAME/VERSION` (and `models:/NAME@ALIAS`) for `predict`,
    `bracket` and `mlflow models serve`. RUN_ID is a full run id or a unique prefix of at least
    4 characters.
    """
    from ncaa_eval.cli.console import console
    from ncaa_eval.tracking import RunStore
    from ncaa_eval.tracking.lookup import resolve_run
    from ncaa_eval.tracking.registry import check_alias, check_model_name, register_run_model

    check_model_name(name)
    if alias is not None:
        check_alias(alias)
    store = RunStore(tracking_uri, experiment)
    version = register_run_model(store, resolve_run(store, run_id), name, alias)
    aliased = f" and models:/{name}@{alias}" if alias else ""
    console.print(
        f"Registered run {(version.run_id or '?')[:8]}'s model as {version.uri}{aliased}."
    )
