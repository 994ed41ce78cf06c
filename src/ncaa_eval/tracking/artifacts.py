"""Extra things a training run logs: the fitted model folder, its charts and its dataset inputs."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ncaa_eval.tracking.errors import TrackingStoreError, one_line, store_errors

if TYPE_CHECKING:
    from ncaa_eval.tracking.store import RunStore

#: Artifact folder of the fitted model (``config.json`` plus the model's own state files).
FITTED_MODEL_ARTIFACT_PATH = "fitted_model"
#: Where runs saved it before they logged an MLflow Model (``model`` is now that MLflow Model).
LEGACY_MODEL_ARTIFACT_PATH = "model"
#: Artifact folder of the run's PNG charts (shown as images on the run's page in ``mlflow ui``).
PLOTS_ARTIFACT_PATH = "plots"
#: MLflow's input tag naming what a dataset was used for.
CONTEXT_TAG = "mlflow.data.context"


def log_model_dir(store: RunStore, run_id: str, folder: Path) -> None:
    """Log a folder written by ``Model.save`` as the run's ``fitted_model/`` artifacts.

    That is the model fitted through the run's last tournament, which ``predict`` carries on to
    later seasons. It is kept apart from the run's MLflow Model, which answers for the last
    season and must not hold that season's tournament results.
    """
    with store_errors(f"Cannot log the fitted model of run {run_id}"):
        store.client.log_artifacts(run_id, str(folder), artifact_path=FITTED_MODEL_ARTIFACT_PATH)


def log_plots_dir(store: RunStore, run_id: str, folder: Path) -> None:
    """Log a folder of charts as the run's ``plots/`` artifacts."""
    with store_errors(f"Cannot log the charts of run {run_id}"):
        store.client.log_artifacts(run_id, str(folder), artifact_path=PLOTS_ARTIFACT_PATH)


def download_model_dir(store: RunStore, run_id: str, dest: Path) -> Path:
    """Download a run's fitted model folder into ``dest`` and return it.

    ``fitted_model/``, or ``model/`` for a run saved before runs logged an MLflow Model.
    """
    from mlflow.exceptions import MlflowException

    try:
        have = {a.path for a in store.client.list_artifacts(run_id)}
        for name in (FITTED_MODEL_ARTIFACT_PATH, LEGACY_MODEL_ARTIFACT_PATH):
            if name in have:
                return Path(store.client.download_artifacts(run_id, name, str(dest)))
        raise TrackingStoreError(f"Run {run_id} has no fitted model to load; train it again.")
    except (MlflowException, OSError) as exc:
        raise TrackingStoreError(
            f"Run {run_id} has no fitted model to load ({one_line(exc)}); train it again."
        ) from exc


@dataclass(frozen=True)
class RunDataset:
    """A dataset a run used, as MLflow's Datasets tab shows it.

    Attributes:
        frame: The rows; its columns make the schema, its length the profile's ``num_rows``.
        name: The dataset's name, e.g. ``M-training-games-1985-2025``.
        digest: What identifies the content (MLflow keeps one dataset per name and digest).
        source: Where the rows come from: a local folder or a URI.
        context: What the run used it for: ``training`` or ``evaluation``.
        profile: More facts for the profile (e.g. the season range), next to ``num_rows``.
    """

    frame: pd.DataFrame
    name: str
    digest: str
    source: str
    context: str = "training"
    profile: Mapping[str, Any] = field(default_factory=dict)


def log_dataset(
    store: RunStore,
    run_id: str,
    frame: pd.DataFrame,
    *,
    name: str,
    source: str,
    digest: str,
    context: str = "training",
) -> None:
    """Record ``frame`` as one dataset input of the run (see :func:`log_datasets`)."""
    log_datasets(store, run_id, [RunDataset(frame, name, digest, source, context)])


def log_datasets(store: RunStore, run_id: str, datasets: Sequence[RunDataset]) -> None:
    """Record the run's dataset inputs (MLflow's Datasets tab), in one request.

    Built with MLflow's public entities (``Dataset``, ``DatasetInput``, ``InputTag``): the
    schema is MLflow's column spec of each frame, the profile ``num_rows`` plus the dataset's
    own facts.

    Raises:
        TrackingStoreError: The store rejected the inputs or cannot be reached.
    """
    from mlflow.entities import Dataset, DatasetInput, InputTag
    from mlflow.exceptions import MlflowException

    inputs = [
        DatasetInput(
            Dataset(
                name=d.name,
                digest=d.digest,
                source_type=_source_type(d.source),
                source=json.dumps({"uri": d.source}),
                schema=json.dumps({"mlflow_colspec": _colspec(d.frame)}),
                profile=json.dumps({"num_rows": len(d.frame), **d.profile}),
            ),
            tags=[InputTag(CONTEXT_TAG, d.context)],
        )
        for d in datasets
    ]
    with store_errors(f"Cannot log the datasets of run {run_id}"):
        for attempt in range(_DATASET_ATTEMPTS):
            try:
                with store.uninterrupted():
                    store.client.log_inputs(run_id, datasets=inputs)
                return
            except MlflowException as exc:
                # Runs logging the same dataset at once race in MLflow's SQL store: it looks the
                # dataset up, then inserts it, and the slower insert fails on the unique key
                # (experiment, name, digest). Again, the lookup finds the row the other run wrote.
                if not (_is_duplicate_key(exc) and attempt + 1 < _DATASET_ATTEMPTS):
                    raise
                time.sleep(0.05 * (attempt + 1))


#: Tries of log_inputs when another run inserts the same dataset at the same moment.
_DATASET_ATTEMPTS = 5


def _is_duplicate_key(exc: BaseException) -> bool:
    """A unique-key violation while inserting the dataset, as MLflow passes it on.

    From a local SQL store the cause is SQLAlchemy's ``IntegrityError``, found by type in the
    exception's chain. From a tracking server only the message is left (the server's error code
    is a generic ``INTERNAL_ERROR``/``BAD_REQUEST``), so its text is matched: SQLite's or
    PostgreSQL's words for the violation.
    """
    from sqlalchemy.exc import IntegrityError

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, IntegrityError):
            return True
        seen = seen.__cause__ or seen.__context__
    text = str(exc)
    return "UNIQUE constraint failed" in text or "duplicate key value" in text


def _source_type(source: str) -> str:
    """MLflow's source type of a dataset source: ``local`` for a path, else the URI scheme."""
    scheme, sep, _ = source.partition("://")
    return scheme.lower() if sep and scheme.isalpha() else "local"


#: MLflow column types (``mlflow.types.DataType`` names) of pandas dtype kinds.
_KIND_TYPES = {"i": "long", "u": "long", "f": "double", "b": "boolean", "M": "datetime"}


def _colspec(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """MLflow's column spec of ``frame`` (the ``mlflow_colspec`` of a dataset's schema)."""
    from mlflow.types import ColSpec, Schema, TensorSpec

    columns: list[ColSpec | TensorSpec] = []
    for name, dtype in frame.dtypes.items():
        kind = getattr(dtype, "kind", "O")
        if str(dtype) in ("Int8", "Int16", "Int32", "int8", "int16", "int32"):
            mlflow_type = "integer"
        elif str(dtype) == "boolean":
            mlflow_type = "boolean"
        else:
            mlflow_type = _KIND_TYPES.get(kind, "string")
        columns.append(ColSpec(mlflow_type, str(name), required=not frame[name].isna().any()))
    colspec: list[dict[str, Any]] = Schema(columns).to_dict()
    return colspec
