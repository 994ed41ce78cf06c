"""Run tracking: ncaa-eval's run records and predictions, kept in MLflow.

This is the only package that imports ``mlflow``, and it does so inside the functions that need it,
so importing it costs pandas/pyarrow/pydantic but not MLflow's ~1 s.

* :class:`ModelRun`, :class:`Prediction`: the records (frozen Pydantic, ``extra="forbid"``).
* :data:`PREDICTION_SCHEMA`, :func:`predictions_to_table`: the Parquet format and its validation.
* :class:`RunStore`: start/join a run, save, load, list, export, resolve id prefixes.
* :func:`run_signals`: SIGTERM and Ctrl-C handling, entered by the command that owns the process
  and passed to :meth:`RunStore.start_run`.
* :func:`flatten_params`, :func:`identity_params`: a run's MLflow params.
* :func:`git_info`, :func:`code_git_info`, :func:`resolve_tracking_uri`, :func:`initialize_store`:
  provenance and store set-up.
"""

from ncaa_eval import DEFAULT_EXPERIMENT
from ncaa_eval.tracking.errors import (
    AmbiguousRunIdError,
    RunNotFoundError,
    TrackingStoreError,
)
from ncaa_eval.tracking.gitinfo import GitInfo, code_git_info, git_info
from ncaa_eval.tracking.params import flatten_params, identity_params
from ncaa_eval.tracking.predictions import (
    PREDICTION_COLUMNS,
    PREDICTION_DTYPES,
    PREDICTION_SCHEMA,
    frame_to_table,
    predictions_to_table,
    read_predictions,
    table_to_frame,
    validate_prediction_table,
    write_predictions,
)
from ncaa_eval.tracking.records import ModelRun, Prediction, is_run_id
from ncaa_eval.tracking.signals import RunSignals, RunTerminated, run_signals
from ncaa_eval.tracking.store import RunStore
from ncaa_eval.tracking.uri import initialize_store, resolve_tracking_uri

__all__ = [
    "DEFAULT_EXPERIMENT",
    "PREDICTION_COLUMNS",
    "PREDICTION_DTYPES",
    "PREDICTION_SCHEMA",
    "AmbiguousRunIdError",
    "GitInfo",
    "ModelRun",
    "Prediction",
    "RunNotFoundError",
    "RunSignals",
    "RunStore",
    "RunTerminated",
    "TrackingStoreError",
    "code_git_info",
    "flatten_params",
    "frame_to_table",
    "git_info",
    "identity_params",
    "initialize_store",
    "is_run_id",
    "predictions_to_table",
    "read_predictions",
    "resolve_tracking_uri",
    "run_signals",
    "table_to_frame",
    "validate_prediction_table",
    "write_predictions",
]
