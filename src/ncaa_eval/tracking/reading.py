"""Reading a saved run back: its artifacts, its predictions table and its :class:`ModelRun`.

The record of a run saved by this version is rebuilt from its params, tags and ``config.json``
(:func:`~ncaa_eval.tracking.params.record_fields`); a run saved by an earlier version (record
format ``1``) holds a ``run.json``, which is read as it is.
"""

from __future__ import annotations

import json
import logging
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import ValidationError

from ncaa_eval.errors import DataValidationError
from ncaa_eval.tracking.errors import (
    RESOURCE_DOES_NOT_EXIST,
    RunNotFoundError,
    error_code,
    store_errors,
)
from ncaa_eval.tracking.params import (
    CONFIG_FILE,
    PREDICTIONS_FILE,
    RECORDS_TAG,
    RUN_FILE,
    record_fields,
)
from ncaa_eval.tracking.predictions import read_predictions
from ncaa_eval.tracking.records import ModelRun

if TYPE_CHECKING:
    from mlflow.entities import Run

    from ncaa_eval.tracking.store import RunStore

logger = logging.getLogger(__name__)

#: The record format of runs saved with a ``run.json`` artifact (earlier versions).
RUN_JSON_FORMAT = "1"


def download(store: RunStore, run: Run, name: str, folder: Path) -> Path | None:
    """Download one artifact of ``run`` into ``folder``; None if the run has no such artifact.

    Raises:
        TrackingStoreError: The store cannot be read.
    """
    from mlflow.artifacts import download_artifacts
    from mlflow.exceptions import MlflowException

    # From the run's artifact URI rather than `runs:/`, which costs two more run lookups.
    uri = f"{str(run.info.artifact_uri).rstrip('/')}/{name}"
    with store_errors(f"Cannot read {name} of run {run.info.run_id}"):
        try:
            return Path(
                download_artifacts(
                    artifact_uri=uri, dst_path=str(folder), tracking_uri=store.tracking_uri
                )
            )
        except MlflowException as exc:
            if error_code(exc) != RESOURCE_DOES_NOT_EXIST:
                raise
        except OSError:
            pass  # a local artifact store without the file
    return None


def load_table(store: RunStore, run_id: str) -> pa.Table:
    """The saved run's ``predictions.parquet``, validated.

    Raises:
        RunNotFoundError: As :meth:`RunStore.load_run`, or the run has no predictions file.
        DataValidationError: The stored file does not match the schema.
    """
    run_id = store._check_id(run_id)
    run = store._get_run(run_id)
    store._require_records(run)
    with tempfile.TemporaryDirectory(prefix="ncaa-eval-") as tmp:
        path = download(store, run, PREDICTIONS_FILE, Path(tmp))
        if path is None:
            raise RunNotFoundError(f"Run {run_id} has no {PREDICTIONS_FILE} artifact.")
        try:
            return read_predictions(path, run_id=run_id)
        except DataValidationError as exc:
            raise DataValidationError(f"Run {run_id}: {exc}") from exc


def read_record(store: RunStore, run: Run, folder: Path) -> ModelRun:
    """The :class:`ModelRun` of a saved run, using ``folder`` for downloads.

    Raises:
        DataValidationError: The stored record is invalid.
    """
    run_id = str(run.info.run_id)
    folder = folder / run_id
    folder.mkdir(parents=True, exist_ok=True)
    try:
        if run.data.tags.get(RECORDS_TAG) == RUN_JSON_FORMAT:
            path = download(store, run, RUN_FILE, folder)
            if path is not None:
                return ModelRun.model_validate_json(path.read_bytes())
        return ModelRun.model_validate(_rebuilt_fields(store, run, folder))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'record'}: {e['msg']}" for e in exc.errors()
        )
        raise DataValidationError(f"Run {run_id}: stored record is invalid: {problems}") from exc


def _rebuilt_fields(store: RunStore, run: Run, folder: Path) -> dict[str, Any]:
    hyperparameters = None
    config_path = download(store, run, CONFIG_FILE, folder)
    if config_path is not None:
        try:
            hyperparameters = json.loads(config_path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise DataValidationError(
                f"Run {run.info.run_id}: stored record is invalid: {CONFIG_FILE} is not JSON "
                f"({exc})"
            ) from exc
    count = None
    if "prediction_count" not in run.data.tags:
        parquet = download(store, run, PREDICTIONS_FILE, folder)
        count = pq.read_metadata(parquet).num_rows if parquet is not None else 0
    return record_fields(run, hyperparameters, count)


def read_records(store: RunStore, runs: list[Run]) -> list[ModelRun]:
    """The records of ``runs`` in order, skipping (with a warning) damaged ones."""

    def read(run: Run) -> ModelRun | None:
        try:
            return read_record(store, run, Path(tmp))
        except DataValidationError as exc:
            # One damaged run must not hide all the others; load_run still raises.
            logger.warning("Skipping run %s: %s", run.info.run_id, exc)
            return None

    with tempfile.TemporaryDirectory(prefix="ncaa-eval-") as tmp:
        if len(runs) <= 1:
            found = [read(run) for run in runs]
        else:
            # One artifact download per run: ~0.1 s each from a server, so overlap them.
            with ThreadPoolExecutor(max_workers=min(8, len(runs))) as pool:
                found = list(pool.map(read, runs))
    return [record for record in found if record is not None]
