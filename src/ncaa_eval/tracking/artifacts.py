"""Extra things a training run logs: the fitted model folder, its charts and the dataset input."""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import pandas as pd

from ncaa_eval.tracking.errors import TrackingStoreError
from ncaa_eval.tracking.store import RunStore
from ncaa_eval.tracking.uri import one_line

#: Artifact folder of the fitted model (``config.json`` plus the model's own state files).
MODEL_ARTIFACT_PATH = "model"
#: Artifact folder of the run's PNG charts (shown as images on the run's page in ``mlflow ui``).
PLOTS_ARTIFACT_PATH = "plots"


def log_model_dir(store: RunStore, run_id: str, folder: Path) -> None:
    """Log a folder written by ``Model.save`` as the run's ``model/`` artifacts."""
    from mlflow.exceptions import MlflowException

    try:
        store.client.log_artifacts(run_id, str(folder), artifact_path=MODEL_ARTIFACT_PATH)
    except MlflowException as exc:
        raise TrackingStoreError(f"Cannot log the model of run {run_id}: {one_line(exc)}") from exc


def log_plots_dir(store: RunStore, run_id: str, folder: Path) -> None:
    """Log a folder of charts as the run's ``plots/`` artifacts."""
    from mlflow.exceptions import MlflowException

    try:
        store.client.log_artifacts(run_id, str(folder), artifact_path=PLOTS_ARTIFACT_PATH)
    except MlflowException as exc:
        raise TrackingStoreError(f"Cannot log the charts of run {run_id}: {one_line(exc)}") from exc


def download_model_dir(store: RunStore, run_id: str, dest: Path) -> Path:
    """Download a run's ``model/`` artifacts into ``dest`` and return the model folder."""
    from mlflow.exceptions import MlflowException

    try:
        path = store.client.download_artifacts(run_id, MODEL_ARTIFACT_PATH, str(dest))
    except (MlflowException, OSError) as exc:
        raise TrackingStoreError(
            f"Run {run_id} has no fitted model to load ({one_line(exc)}); train it again."
        ) from exc
    return Path(path)


def log_dataset(
    store: RunStore, run_id: str, frame: pd.DataFrame, *, name: str, source: str, digest: str
) -> None:
    """Record ``frame`` as the run's training dataset input (MLflow's Datasets tab)."""
    from mlflow.data.pandas_dataset import from_pandas
    from mlflow.entities import DatasetInput, InputTag
    from mlflow.exceptions import MlflowException

    with warnings.catch_warnings():
        # MLflow warns that a local path could be several source kinds, and that integer
        # columns cannot hold missing values; neither applies to this record-only dataset.
        warnings.simplefilter("ignore", UserWarning)
        dataset = from_pandas(frame, source=source, name=name, digest=digest)
        entity = dataset._to_mlflow_entity()
    inputs = [DatasetInput(entity, tags=[InputTag("mlflow.data.context", "training")])]
    for attempt in range(_DATASET_ATTEMPTS):
        try:
            with store.uninterrupted():
                store.client.log_inputs(run_id, datasets=inputs)
            return
        except MlflowException as exc:
            # Runs logging the same dataset at once race in MLflow's SQL store: it looks the
            # dataset up, then inserts it, and the slower insert fails on the unique key
            # (experiment, name, digest). Again, the lookup finds the row the other run wrote.
            if _is_duplicate_key(exc) and attempt + 1 < _DATASET_ATTEMPTS:
                time.sleep(0.05 * (attempt + 1))
                continue
            raise TrackingStoreError(
                f"Cannot log the dataset of run {run_id}: {one_line(exc)}"
            ) from exc


#: Tries of log_inputs when another run inserts the same dataset at the same moment.
_DATASET_ATTEMPTS = 5


def _is_duplicate_key(exc: BaseException) -> bool:
    """SQLite's or PostgreSQL's unique-key violation, as MLflow passes it on."""
    text = str(exc)
    return "UNIQUE constraint failed" in text or "duplicate key value" in text
