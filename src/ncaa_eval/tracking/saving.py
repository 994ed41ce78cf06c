"""Writing a run's records onto its MLflow run: params, ``config.json``, predictions, tags last.

Where each fact goes is :mod:`ncaa_eval.tracking.params`'s business; the record mark
(``ncaa_eval_records``) comes in the last batch, after every artifact, so a run carrying it is
complete.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow.parquet as pq

from ncaa_eval.errors import DataValidationError
from ncaa_eval.tracking.errors import store_errors
from ncaa_eval.tracking.params import CONFIG_FILE, PREDICTIONS_FILE, run_params, run_tags
from ncaa_eval.tracking.predictions import (
    PREDICTIONS_CSV_FILE,
    predictions_to_table,
    write_predictions_csv,
)
from ncaa_eval.tracking.records import ModelRun, Prediction

if TYPE_CHECKING:
    from ncaa_eval.tracking.store import RunStore


def save_records(
    store: RunStore, run: ModelRun, predictions: Sequence[Prediction] | pd.DataFrame
) -> None:
    """The body of :meth:`RunStore.save_run <ncaa_eval.tracking.RunStore.save_run>`."""
    from mlflow.entities import RunTag

    table = predictions_to_table(predictions, run_id=run.run_id)
    if table.num_rows != run.prediction_count:
        raise DataValidationError(
            f"Run {run.run_id}: prediction_count is {run.prediction_count} but "
            f"{table.num_rows} predictions were given"
        )
    params = run_params(run)
    existing = store._get_run(run.run_id)
    tags = run_tags(run, existing.data.tags)
    client = store.client
    with store_errors(f"Cannot save run {run.run_id} to {store.tracking_uri}", limit=400):
        store.log_params(run.run_id, params)
        if run.run_name is not None and existing.info.run_name != run.run_name:
            with store.uninterrupted():
                client.update_run(run.run_id, name=run.run_name)
        with tempfile.TemporaryDirectory(prefix="ncaa-eval-") as tmp:
            folder = Path(tmp)
            (folder / CONFIG_FILE).write_text(
                json.dumps(run.hyperparameters, indent=2) + "\n", encoding="utf-8"
            )
            pq.write_table(table, folder / PREDICTIONS_FILE)
            write_predictions_csv(table, folder / PREDICTIONS_CSV_FILE)
            client.log_artifacts(run.run_id, tmp)
        with store.uninterrupted():
            client.log_batch(run.run_id, tags=[RunTag(k, v) for k, v in tags.items()])
