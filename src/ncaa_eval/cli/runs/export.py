"""``ncaa-eval runs export``: a run's records as files (``run.json``, ``predictions.parquet``)."""

from __future__ import annotations

from pathlib import Path

import click

from ncaa_eval.cli.options import output_dir_option
from ncaa_eval.cli.runs.format import size, store_options


@click.command()
@click.argument("run_id")
@output_dir_option
@store_options
def export(run_id: str, output_dir: Path, tracking_uri: str | None, experiment: str) -> None:
    """Export a run's records to files.

    Writes run.json and predictions.parquet to OUTPUT_DIR/runs/<run id>/. RUN_ID is a full
    run id or a unique prefix of at least 4 characters.
    """
    from ncaa_eval.tracking import RunStore
    from ncaa_eval.tracking.lookup import resolve_run

    store = RunStore(tracking_uri, experiment)
    folder = store.export(resolve_run(store, run_id), output_dir)
    click.echo(f"Exported run {folder.name} to {folder}")
    for path in sorted(folder.iterdir()):
        click.echo(f"  {path.name} ({size(path.stat().st_size)})")
