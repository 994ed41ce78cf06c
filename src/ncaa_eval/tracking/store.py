"""RunStore: ncaa-eval's records kept in MLflow runs, through ``MlflowClient`` and nothing else.

Layout of one run (any MLflow store: local SQLite, or a team server):

* params: ``model_type``, ``start_year``, ``end_year``, ``league`` and every hyperparameter under
  its own name (nested keys joined with dots, values as ``str(value)`` like MLflow, lists as JSON);
* tags: ``git_hash``, ``git_dirty``, ``mlflow.source.git.commit``, ``start_year``, ``end_year``,
  ``league``, ``ncaa_eval_version``, ``prediction_count``, ``data_digest``, ``model_type`` and
  ``ncaa_eval_records``;
* artifacts: ``config.json`` (the full config), ``run.json`` (the :class:`ModelRun`),
  ``predictions.parquet`` (:data:`PREDICTION_SCHEMA`) and ``predictions.csv`` (the same, for the
  MLflow UI's preview, which shows no Parquet).

The tag ``ncaa_eval_records`` (the record format version) is written last, in the same batch as the
other tags, after every artifact: it marks a run whose records are complete, and only such runs are
listed or loaded. ``model_type`` cannot serve as that mark, since callers tag a run with it from the
start so that the MLflow UI shows it while the run is going on (or after it failed).

Typical use by the orchestrator (see :meth:`RunStore.start_run`)::

    store = RunStore(tracking_uri)
    with store.start_run(run_name="elo-2024") as run_id:   # joins MLFLOW_RUN_ID under `mlflow run`
        ...train and predict..., store.log_metrics(run_id, {"brier": b}, step=season)
        store.save_run(ModelRun(run_id=run_id, ...), predictions_frame)
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import ValidationError

from ncaa_eval import DEFAULT_EXPERIMENT
from ncaa_eval.errors import DataValidationError, NcaaEvalError
from ncaa_eval.tracking.errors import (
    AmbiguousRunIdError,
    RunNotFoundError,
    TrackingStoreError,
)
from ncaa_eval.tracking.predictions import (
    PREDICTIONS_CSV_FILE,
    predictions_to_table,
    read_predictions,
    table_to_frame,
    write_predictions,
    write_predictions_csv,
)
from ncaa_eval.tracking.records import (
    ModelRun,
    Prediction,
    is_model_type,
    is_run_id,
)
from ncaa_eval.tracking.ui import EXPERIMENT_NOTE_TAG, experiment_note
from ncaa_eval.tracking.uri import (
    initialize_store,
    one_line,
    resolve_tracking_uri,
    sqlite_path,
)

if TYPE_CHECKING:
    from mlflow.entities import Run
    from mlflow.tracking import MlflowClient

#: Most metrics MLflow takes in one log_batch request.
_METRIC_BATCH = 1000
logger = logging.getLogger(__name__)

RUN_FILE = "run.json"
PREDICTIONS_FILE = "predictions.parquet"
CONFIG_FILE = "config.json"

#: Params that describe the run itself; a hyperparameter may reuse one only with the same value.
RUN_PARAMS = ("model_type", "start_year", "end_year", "league")

#: Tag set last by save_run: the run's records are complete. Its value is the record format.
RECORDS_TAG = "ncaa_eval_records"
RECORDS_FORMAT = "1"

#: MLflow's ceiling for one search request.
MAX_SEARCH_RESULTS = 50_000

_PREFIX_RE = re.compile(r"^[0-9a-f]{4,32}$")


class RunTerminated(SystemExit):
    """Raised in the main thread on SIGTERM inside :meth:`RunStore.start_run`.

    A :class:`SystemExit` so that, once the run is marked KILLED, the process exits with the
    conventional status ``128 + SIGTERM`` (143) unless the caller catches it.
    """


def mlflow_param_value(value: Any) -> str:
    """A param value as MLflow stores it (``str(value)``), except lists and dicts, as JSON."""
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


def flatten_params(config: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Flatten a nested config into MLflow params: ``{"a": {"b": 1}}`` -> ``{"a.b": "1"}``.

    Empty dicts are kept as ``"{}"`` so that the key still shows.

    Raises:
        DataValidationError: Two keys flatten to the same name (e.g. ``"a.b"`` and ``a: {b}``).
    """
    out: dict[str, str] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        items = (
            flatten_params(value, f"{name}.").items()
            if isinstance(value, Mapping) and value
            else [(name, mlflow_param_value(value))]
        )
        for flat, text in items:
            if flat in out:
                raise DataValidationError(
                    f"hyperparameters: two keys flatten to the param name '{flat}'; rename one"
                )
            out[flat] = text
    return out


def run_params(run: ModelRun) -> dict[str, str]:
    """The MLflow params :meth:`RunStore.save_run` logs for ``run``.

    Raises:
        DataValidationError: A hyperparameter reuses a run param name (``model_type``,
            ``start_year``, ``end_year``, ``league``) with a different value.
    """
    params = {
        "model_type": run.model_type,
        "start_year": str(run.start_year),
        "end_year": str(run.end_year),
        "league": run.league,
    }
    for key, value in flatten_params(run.hyperparameters).items():
        if key in params and params[key] != value:
            raise DataValidationError(
                f"hyperparameters: '{key}' is {value!r} but the run's {key} is {params[key]!r}; "
                "rename the hyperparameter"
            )
        params[key] = value
    return params


def run_tags(run: ModelRun) -> dict[str, str]:
    """The MLflow tags :meth:`RunStore.save_run` sets for ``run``, the completion mark last."""
    tags = {
        "git_hash": run.git_hash,
        "git_dirty": "unknown" if run.git_dirty is None else str(run.git_dirty).lower(),
        "start_year": str(run.start_year),
        "end_year": str(run.end_year),
        "league": run.league,
        "ncaa_eval_version": run.ncaa_eval_version,
        "prediction_count": str(run.prediction_count),
    }
    if run.git_hash != "unknown":
        tags["mlflow.source.git.commit"] = run.git_hash
    if run.data_digest is not None:
        tags["data_digest"] = run.data_digest
    tags["model_type"] = run.model_type
    tags[RECORDS_TAG] = RECORDS_FORMAT
    return tags


def _shown(value: object) -> str:
    """``value`` quoted for a one-line message, however long or odd it is."""
    text = repr(value) if isinstance(value, str) else repr(str(value))
    return text if len(text) <= 50 else text[:47] + "..."


def _parse_param(text: str) -> Any:
    """Best-effort inverse of :func:`mlflow_param_value`, for runs without ``config.json``."""
    literals: dict[str, Any] = {"True": True, "False": False, "None": None}
    if text in literals:
        return literals[text]
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, int | float | list | dict) else text


def _unflatten(params: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in sorted(params):
        node = out
        *parents, leaf = key.split(".")
        for part in parents:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                # A flat key like "a" next to "a.b": keep the dotted key as it is.
                node, leaf = out, key
                break
            node = child
        node[leaf] = _parse_param(params[key])
    return out


class _InterruptGuard:
    """SIGTERM and Ctrl-C (SIGINT) from the creation of a run to its end, main thread only.

    While the run is being created a signal is only noted: raised at once, it could leave a run
    that exists but is never ended, RUNNING for ever. :meth:`arm` (called once the run exists and
    its ``try`` has begun) raises a noted signal, and from then on SIGTERM raises
    :class:`RunTerminated` and SIGINT ``KeyboardInterrupt``, so the run ends KILLED.

    Python-level handlers are used rather than blocking the signals with ``pthread_sigmask``:
    threads that native libraries start at import keep the signals unblocked, and the kernel
    delivers a process signal to any of them, where the default action ends the process.

    SIGTERM is left alone when ignored (``SIG_IGN``) or when ``handle_sigterm`` is false; SIGINT
    when someone replaced Python's default handler.
    """

    def __init__(self, handle_sigterm: bool) -> None:
        self._previous: dict[int, Any] = {}
        self._noted: int | None = None
        self._armed = False
        if threading.current_thread() is not threading.main_thread():
            return
        term, inter = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
        if handle_sigterm and term != signal.SIG_IGN:
            self._previous[signal.SIGTERM] = term if term is not None else signal.SIG_DFL
        if inter is signal.default_int_handler:
            self._previous[signal.SIGINT] = inter
        for signum in self._previous:
            signal.signal(signum, self._handle)

    @staticmethod
    def _exception(signum: int) -> BaseException:
        if signum == signal.SIGTERM:
            return RunTerminated(128 + signum)
        return KeyboardInterrupt()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if not self._armed:
            if self._noted is None:
                self._noted = signum
                return
            # A second signal while the run is being created: the user insists, stop now (the
            # run, if MLflow created it already, may stay RUNNING; better than a stuck process).
            signal.signal(signum, self._previous.get(signum, signal.SIG_DFL))
            raise self._exception(signum)
        # A second signal during the clean-up behaves as it did before the run started.
        signal.signal(signum, self._previous.get(signum, signal.SIG_DFL))
        raise self._exception(signum)

    def arm(self) -> None:
        """From now on a signal raises; one noted while the run was created is raised now."""
        self._armed = True
        noted, self._noted = self._noted, None
        if noted is not None:
            signal.signal(noted, self._previous.get(noted, signal.SIG_DFL))
            raise self._exception(noted)

    @contextmanager
    def held(self) -> Iterator[None]:
        """Note a signal instead of raising it for the block; raise it right after.

        A KeyboardInterrupt raised inside a database commit can leave SQLite's write lock with
        a broken connection of this process, and then marking the run KILLED fails with
        "database is locked": the run would stay RUNNING.
        """
        if not self._armed:
            yield
            return
        self._armed = False
        try:
            yield
        finally:
            self.arm()

    def noted(self) -> BaseException | None:
        """The exception of a signal noted and not raised yet, if any."""
        return None if self._noted is None else self._exception(self._noted)

    def restore(self) -> None:
        """Put back the handlers found at the start."""
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous = {}


def search_filter(
    model_type: str | None = None, league: str | None = None, clauses: Sequence[str] = ()
) -> str:
    """An MLflow filter string for runs of ``model_type`` and ``league`` (each optional).

    The values are checked here, before they reach the filter string.

    Raises:
        NcaaEvalError: A filter value is invalid.
    """
    parts = list(clauses)
    if model_type is not None:
        if not is_model_type(model_type):
            raise NcaaEvalError(
                f"Invalid model type {_shown(model_type)}: use letters, digits, '_', '.', '-'."
            )
        parts.append(f"tags.model_type = '{model_type}'")
    if league is not None:
        if league not in ("M", "W"):
            raise NcaaEvalError(f"Invalid league {_shown(league)}: use 'M' or 'W'.")
        parts.append(f"tags.league = '{league}'")
    return " AND ".join(parts)


class RunStore:
    """Save, load, list and export ncaa-eval runs kept in an MLflow tracking store.

    Construction only resolves the URI; the store is opened (and, if new, created safely under a
    file lock) on first use. All failures a user can fix raise :class:`NcaaEvalError` subclasses
    with one-line messages; run ids are validated before the store or the filesystem is touched.

    Args:
        tracking_uri: MLflow tracking URI; None uses ``MLFLOW_TRACKING_URI`` or MLflow's default
            (``sqlite:///mlflow.db`` in the current directory).
        experiment: MLflow experiment holding the runs, created on the first :meth:`start_run`.
    """

    def __init__(self, tracking_uri: str | None = None, experiment: str = DEFAULT_EXPERIMENT):
        if not experiment or not experiment.strip():
            raise NcaaEvalError("The MLflow experiment name must not be empty.")
        self.tracking_uri = resolve_tracking_uri(tracking_uri)
        self.experiment = experiment
        self._client: MlflowClient | None = None
        self._experiment_id: str | None = None
        self._guard: _InterruptGuard | None = None
        #: The experiment of the last run started: ``experiment``, or the one of a run joined
        #: from ``MLFLOW_RUN_ID`` (``mlflow run`` without ``--experiment-name``).
        self.run_experiment = experiment
        #: The id of :attr:`run_experiment`, once a run is started (for the MLflow UI's link).
        self.run_experiment_id: str | None = None

    def __repr__(self) -> str:
        return f"RunStore({self.tracking_uri!r}, experiment={self.experiment!r})"

    @property
    def client(self) -> MlflowClient:
        """The ``MlflowClient`` bound to this store, opening the store on first use."""
        if self._client is None:
            initialize_store(self.tracking_uri)
            from mlflow.tracking import MlflowClient

            self._client = MlflowClient(tracking_uri=self.tracking_uri)
        return self._client

    # -- runs ---------------------------------------------------------------------------------

    @contextmanager
    def start_run(
        self,
        run_name: str | None = None,
        tags: Mapping[str, str] | None = None,
        *,
        handle_sigterm: bool = True,
    ) -> Iterator[str]:
        """Create (or join) the MLflow run of one training job; yield its run id.

        * Under ``mlflow run`` (``MLFLOW_RUN_ID`` is set) the run MLflow created is joined, as
          ``mlflow.start_run()`` would: set RUNNING again, and the variable removed so that a later
          run in this process is a new one. Pass ``--experiment-name`` to ``mlflow run`` so the
          run lands in this store's experiment; otherwise :meth:`list_runs` will not show it.
        * Otherwise a run is created in this store's experiment (created on first use, with its
          artifacts next to the SQLite database for a local store), carrying MLflow's usual
          context tags (user, source).

        The run always ends with a status: FINISHED on success (or ``sys.exit(0)``), FAILED on an
        exception, KILLED on Ctrl-C or SIGTERM. For SIGTERM (``kill``, ``docker stop``, a CI
        timeout) a handler is installed in the main thread that raises :class:`RunTerminated`, so
        the block unwinds, the run is marked KILLED, and the process exits with status 143. A
        SIGTERM or Ctrl-C that comes while the run is being created is held until it exists, and
        then ends it KILLED the same way. Only SIGKILL leaves a run RUNNING.

        Args:
            run_name: MLflow run name; None lets MLflow pick one (or keeps the joined run's).
            tags: Extra tags for the run.
            handle_sigterm: Install the SIGTERM handler (main thread only) for the block.

        Yields:
            The run id, to put in :class:`ModelRun` and pass to :meth:`save_run`.

        Raises:
            RunNotFoundError: ``MLFLOW_RUN_ID`` names no run in this store.
            TrackingStoreError: The store cannot be opened or written.
        """
        # Open the store and the experiment before signals are held back: that can take seconds
        # (a new SQLite store, a slow server) and no run exists yet, so Ctrl-C must act at once.
        self.client  # noqa: B018 - opens (or creates) the store
        if not os.environ.get("MLFLOW_RUN_ID"):
            self._get_experiment_id(create=True)
        guard = _InterruptGuard(handle_sigterm)
        try:
            run_id = self._begin_run(run_name, dict(tags or {}))
        except BaseException as exc:
            guard.restore()
            interrupted = guard.noted()
            if interrupted is not None:
                raise interrupted from exc
            raise
        status = "FINISHED"
        self._guard = guard
        try:
            guard.arm()
            yield run_id
        except (RunTerminated, KeyboardInterrupt):
            status = "KILLED"
            raise
        except SystemExit as exc:
            status = "FINISHED" if exc.code in (0, None) else "FAILED"
            raise
        except BaseException:
            status = "FAILED"
            raise
        finally:
            try:
                self._end_run(run_id, status, quiet=status != "FINISHED")
            except (RunTerminated, KeyboardInterrupt):
                # SIGTERM or Ctrl-C arrived while ending the run: record that instead.
                self._end_run(run_id, "KILLED", quiet=True)
                raise
            finally:
                self._guard = None
                guard.restore()

    @contextmanager
    def uninterrupted(self) -> Iterator[None]:
        """Wrap one write to the store: Ctrl-C or SIGTERM waits until it is done.

        Inside :meth:`start_run` only (elsewhere it does nothing). The signal is raised as soon
        as the write returns, so the run still ends KILLED, with the write complete.
        """
        if self._guard is None:
            yield
        else:
            with self._guard.held():
                yield

    def _begin_run(self, run_name: str | None, tags: dict[str, str]) -> str:
        from mlflow.entities import RunTag
        from mlflow.exceptions import MlflowException

        client = self.client
        env_run_id = os.environ.get("MLFLOW_RUN_ID")
        try:
            if env_run_id:
                run_id = self._check_id(env_run_id, source="MLFLOW_RUN_ID")
                run = self._get_run(run_id, source="MLFLOW_RUN_ID")
                client.update_run(run_id, status="RUNNING", name=run_name)
                if tags:
                    client.log_batch(run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])
                del os.environ["MLFLOW_RUN_ID"]
                self.run_experiment_id = str(run.info.experiment_id)
                own = self._get_experiment_id(create=False)
                if own != run.info.experiment_id:
                    joined = client.get_experiment(run.info.experiment_id)
                    self.run_experiment = joined.name if joined is not None else "?"
                    logger.warning(
                        "Run %s (from MLFLOW_RUN_ID) is in experiment %s, not in '%s'; "
                        "list_runs will not show it. Pass --experiment-name %s to `mlflow run`.",
                        run_id,
                        run.info.experiment_id,
                        self.experiment,
                        self.experiment,
                    )
                return run_id
            from mlflow.tracking.context.registry import resolve_tags

            experiment_id = self._get_experiment_id(create=True)
            assert experiment_id is not None
            self.run_experiment_id = experiment_id
            if run_name:
                tags["mlflow.runName"] = run_name
            created = client.create_run(experiment_id, tags=resolve_tags(tags), run_name=run_name)
            return str(created.info.run_id)
        except MlflowException as exc:
            raise TrackingStoreError(
                f"Cannot start an MLflow run in {self.tracking_uri}: {one_line(exc)}"
            ) from exc

    def _end_run(self, run_id: str, status: str, *, quiet: bool) -> None:
        try:
            self.client.set_terminated(run_id, status=status)
        except Exception as exc:
            if not quiet:
                raise TrackingStoreError(
                    f"Cannot mark run {run_id} {status} in {self.tracking_uri}: {one_line(exc)}"
                ) from exc
            # Another error is already propagating; do not hide it behind this one.
            logger.warning("Could not mark run %s %s: %s", run_id, status, one_line(exc))

    def log_metrics(
        self, run_id: str, metrics: Mapping[str, float], step: int | None = None
    ) -> None:
        """Log metrics on a run, e.g. ``step=season`` for per-season curves in the MLflow UI.

        Raises:
            RunNotFoundError: ``run_id`` is malformed.
            TrackingStoreError: MLflow rejected the metrics (bad name, store down).
        """
        self.log_metric_steps(run_id, {step or 0: metrics})

    def log_metric_steps(self, run_id: str, by_step: Mapping[int, Mapping[str, float]]) -> None:
        """Log stepped metrics, e.g. ``{2024: {"season_brier": 0.18}}``, in as few calls as can be.

        One request per 1,000 values (MLflow's batch limit) instead of one per step: over HTTP
        each request costs a round trip.

        Raises:
            RunNotFoundError: ``run_id`` is malformed.
            TrackingStoreError: MLflow rejected the metrics (bad name, store down).
        """
        from mlflow.entities import Metric
        from mlflow.exceptions import MlflowException

        run_id = self._check_id(run_id)
        now = int(time.time() * 1000)
        batch = [
            Metric(k, float(v), now, int(step))
            for step, values in by_step.items()
            for k, v in values.items()
        ]
        try:
            for first in range(0, len(batch), _METRIC_BATCH):
                with self.uninterrupted():
                    self.client.log_batch(run_id, metrics=batch[first : first + _METRIC_BATCH])
        except MlflowException as exc:
            raise TrackingStoreError(
                f"Cannot log metrics on run {run_id}: {one_line(exc)}"
            ) from exc

    def save_run(self, run: ModelRun, predictions: Sequence[Prediction] | pd.DataFrame) -> None:
        """Write a run's records onto its existing MLflow run ``run.run_id``.

        Safe to repeat with the same values (MLflow refuses to change a param's value).

        Args:
            run: The record; ``prediction_count`` must equal the number of predictions.
            predictions: :class:`Prediction` objects or a DataFrame (see
                :func:`~ncaa_eval.tracking.predictions.frame_to_table`); a DataFrame without
                a ``run_id`` column gets ``run.run_id``.

        Raises:
            DataValidationError: Invalid predictions, a count mismatch, or a hyperparameter that
                clashes with a run param.
            RunNotFoundError: No run ``run.run_id`` in the store (create it with
                :meth:`start_run` first).
            TrackingStoreError: MLflow rejected a write (e.g. a param logged before with another
                value) or the store is down.
        """
        from mlflow.entities import Param, RunTag
        from mlflow.exceptions import MlflowException

        table = predictions_to_table(predictions, run_id=run.run_id)
        if table.num_rows != run.prediction_count:
            raise DataValidationError(
                f"Run {run.run_id}: prediction_count is {run.prediction_count} but "
                f"{table.num_rows} predictions were given"
            )
        params = run_params(run)
        tags = run_tags(run)
        client = self.client
        existing = self._get_run(run.run_id)
        try:
            with self.uninterrupted():
                client.log_batch(run.run_id, params=[Param(k, v) for k, v in params.items()])
                if run.run_name is not None and existing.info.run_name != run.run_name:
                    client.update_run(run.run_id, name=run.run_name)
            with tempfile.TemporaryDirectory(prefix="ncaa-eval-") as tmp:
                folder = Path(tmp)
                (folder / CONFIG_FILE).write_text(
                    json.dumps(run.hyperparameters, indent=2) + "\n", encoding="utf-8"
                )
                (folder / RUN_FILE).write_text(run.model_dump_json(indent=2) + "\n", "utf-8")
                pq.write_table(table, folder / PREDICTIONS_FILE)
                write_predictions_csv(table, folder / PREDICTIONS_CSV_FILE)
                client.log_artifacts(run.run_id, tmp)
            with self.uninterrupted():
                client.log_batch(run.run_id, tags=[RunTag(k, v) for k, v in tags.items()])
        except MlflowException as exc:
            raise TrackingStoreError(
                f"Cannot save run {run.run_id} to {self.tracking_uri}: {one_line(exc, 400)}"
            ) from exc

    def load_run(self, run_id: str) -> ModelRun:
        """Read a run's :class:`ModelRun` from ``run.json``, or rebuild it from params and tags.

        Raises:
            RunNotFoundError: ``run_id`` is malformed, unknown, deleted, or has no ncaa-eval
                records.
            DataValidationError: The stored record is invalid.
        """
        run_id = self._check_id(run_id)
        run = self._get_run(run_id)
        self._require_records(run)
        with tempfile.TemporaryDirectory(prefix="ncaa-eval-") as tmp:
            return self._record(run, Path(tmp))

    def load_predictions(self, run_id: str) -> pd.DataFrame:
        """Read a run's predictions with the dtypes of
        :data:`~ncaa_eval.tracking.predictions.PREDICTION_DTYPES`.

        Raises:
            RunNotFoundError: As :meth:`load_run`, or the run has no ``predictions.parquet``.
            DataValidationError: The stored file does not match the schema.
        """
        return table_to_frame(self._load_table(run_id))

    def list_runs(
        self,
        model_type: str | None = None,
        league: str | None = None,
        start_year: int | None = None,
        end_year: int | None = None,
        max_results: int = 1000,
    ) -> list[ModelRun]:
        """The experiment's runs with ncaa-eval records, newest (MLflow start time) first.

        Each filter given must match exactly; runs without records (not saved, or a save that
        did not finish) and deleted runs are left out.

        Args:
            model_type: Only runs of this model type.
            league: Only ``"M"`` or ``"W"`` runs.
            start_year: Only runs whose ``start_year`` equals this.
            end_year: Only runs whose ``end_year`` equals this.
            max_results: At most this many runs (1 to 50,000).

        Raises:
            NcaaEvalError: A filter value is invalid.
            TrackingStoreError: The store cannot be read.
        """
        if not 1 <= max_results <= MAX_SEARCH_RESULTS:
            raise NcaaEvalError(
                f"max_results must be 1 to {MAX_SEARCH_RESULTS}, not {max_results}."
            )
        clauses = [f"tags.{RECORDS_TAG} != ''"]
        for name, year in (("start_year", start_year), ("end_year", end_year)):
            if year is not None:
                clauses.append(f"tags.{name} = '{int(year)}'")
        runs = self.find_runs(search_filter(model_type, league, clauses), max_results)
        return self._records(runs)

    def find_runs(self, filter_string: str, max_results: int) -> list[Run]:
        """The experiment's active MLflow runs matching ``filter_string``, newest first.

        The one search behind :meth:`list_runs` and ``runs list``; build the filter with
        :func:`search_filter`.

        Raises:
            TrackingStoreError: The store cannot be read.
        """
        from mlflow.entities import ViewType
        from mlflow.exceptions import MlflowException

        experiment_id = self._get_experiment_id(create=False)
        if experiment_id is None:
            return []
        try:
            runs = self.client.search_runs(
                [experiment_id],
                filter_string,
                run_view_type=ViewType.ACTIVE_ONLY,
                max_results=max_results,
                order_by=["attributes.start_time DESC"],
            )
        except MlflowException as exc:
            raise TrackingStoreError(
                f"Cannot search runs in {self.tracking_uri}: {one_line(exc)}"
            ) from exc
        return list(runs)

    def _records(self, runs: list[Run]) -> list[ModelRun]:
        """Read the records of ``runs`` in order, skipping (with a warning) damaged ones."""

        def read(run: Run) -> ModelRun | None:
            try:
                return self._record(run, Path(tmp))
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

    def resolve_run_id(self, prefix: str) -> str:
        """Expand a unique prefix (4+ hex characters) of a run id in the experiment.

        A full run id is returned as it is once found. Case is ignored.

        Raises:
            RunNotFoundError: ``prefix`` is not hex, shorter than 4 characters, or matches no run.
            AmbiguousRunIdError: ``prefix`` matches several runs.
        """
        from mlflow.entities import ViewType
        from mlflow.exceptions import MlflowException

        text = prefix.strip().lower() if isinstance(prefix, str) else ""
        if not _PREFIX_RE.match(text):
            raise RunNotFoundError(
                f"{_shown(prefix)} is not a run id: give at least 4 of the 32 hex characters "
                "of a run id (see the runs list or the MLflow UI)."
            )
        experiment_id = self._get_experiment_id(create=False)
        runs: list[Run] = []
        if experiment_id is not None:
            try:
                runs = self.client.search_runs(
                    [experiment_id],
                    f"attributes.run_id LIKE '{text}%'",
                    run_view_type=ViewType.ACTIVE_ONLY,
                    max_results=11,
                )
            except MlflowException as exc:
                raise TrackingStoreError(
                    f"Cannot search runs in {self.tracking_uri}: {one_line(exc)}"
                ) from exc
        ids = sorted({str(run.info.run_id) for run in runs})
        if not ids:
            raise RunNotFoundError(
                f"No run id starting with '{text}' in experiment '{self.experiment}' of "
                f"{self.tracking_uri}; check the id and the tracking URI."
            )
        if len(ids) > 1:
            count = f"{len(ids)}+" if len(ids) > 10 else str(len(ids))
            shown = ", ".join(i[:12] for i in ids[:5])
            raise AmbiguousRunIdError(
                f"Run id prefix '{text}' matches {count} runs ({shown}); give more characters."
            )
        return ids[0]

    def export(self, run_id: str, dest: Path) -> Path:
        """Write ``dest/runs/<run_id>/run.json`` and ``predictions.parquet``, each atomically.

        The id is validated before anything else, the records are read before any folder is
        created, and the target folder must resolve (symlinks followed) inside ``dest``.

        Returns:
            The run's folder ``dest/runs/<run_id>`` (resolved).

        Raises:
            RunNotFoundError: As :meth:`load_run`.
            NcaaEvalError: The target folder would be outside ``dest`` (a symlink).
        """
        run_id = self._check_id(run_id)
        root = Path(dest).resolve()
        target = (root / "runs" / run_id).resolve()
        if not target.is_relative_to(root):
            raise NcaaEvalError(
                f"Refusing to export run {run_id}: {root / 'runs' / run_id} leads outside "
                f"{root} (to {target})."
            )
        record = self.load_run(run_id)
        table = self._load_table(run_id)
        try:
            target.mkdir(parents=True, exist_ok=True)
            _write_text_atomic(target / RUN_FILE, record.model_dump_json(indent=2) + "\n")
            write_predictions(table, target / PREDICTIONS_FILE)
        except OSError as exc:
            raise NcaaEvalError(f"Cannot export run {run_id} to {target}: {exc}") from exc
        return target

    # -- helpers ------------------------------------------------------------------------------

    def _check_id(self, run_id: object, source: str = "run id") -> str:
        if not is_run_id(run_id):
            raise RunNotFoundError(
                f"Invalid {source} {_shown(run_id)}: a run id is 32 lowercase hex characters; "
                "copy one from the runs list or the MLflow UI."
            )
        assert isinstance(run_id, str)
        return run_id

    def _get_run(self, run_id: str, source: str = "run") -> Run:
        from mlflow.exceptions import MlflowException

        try:
            run = self.client.get_run(run_id)
        except MlflowException as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                raise RunNotFoundError(
                    f"No {source} {run_id} in the MLflow store {self.tracking_uri}; "
                    "check the id and the tracking URI."
                ) from exc
            raise TrackingStoreError(
                f"Cannot read run {run_id} from {self.tracking_uri}: {one_line(exc)}"
            ) from exc
        if run.info.lifecycle_stage == "deleted":
            raise RunNotFoundError(
                f"Run {run_id} is deleted; restore it with `mlflow runs restore --run-id {run_id}`."
            )
        return run

    def _require_records(self, run: Run) -> None:
        if not run.data.tags.get(RECORDS_TAG):
            raise RunNotFoundError(
                f"Run {run.info.run_id} has no ncaa-eval records (it was not saved, or its save "
                "did not finish); run the model again."
            )

    def _download(self, run: Run, name: str, folder: Path) -> Path | None:
        """Download one artifact into ``folder``; None if the run has no such artifact."""
        from mlflow.artifacts import download_artifacts
        from mlflow.exceptions import MlflowException

        run_id = str(run.info.run_id)
        # From the run's artifact URI rather than `runs:/`, which costs two more run lookups.
        uri = f"{str(run.info.artifact_uri).rstrip('/')}/{name}"
        try:
            return Path(
                download_artifacts(
                    artifact_uri=uri, dst_path=str(folder), tracking_uri=self.tracking_uri
                )
            )
        except MlflowException as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                return None
            raise TrackingStoreError(
                f"Cannot read {name} of run {run_id}: {one_line(exc)}"
            ) from exc
        except OSError:
            return None

    def _load_table(self, run_id: str) -> pa.Table:
        run_id = self._check_id(run_id)
        run = self._get_run(run_id)
        self._require_records(run)
        with tempfile.TemporaryDirectory(prefix="ncaa-eval-") as tmp:
            path = self._download(run, PREDICTIONS_FILE, Path(tmp))
            if path is None:
                raise RunNotFoundError(f"Run {run_id} has no {PREDICTIONS_FILE} artifact.")
            try:
                return read_predictions(path, run_id=run_id)
            except DataValidationError as exc:
                raise DataValidationError(f"Run {run_id}: {exc}") from exc

    def _record(self, run: Run, folder: Path) -> ModelRun:
        run_id = str(run.info.run_id)
        folder = folder / run_id
        folder.mkdir(parents=True, exist_ok=True)
        path = self._download(run, RUN_FILE, folder)
        try:
            if path is not None:
                return ModelRun.model_validate_json(path.read_bytes())
            return self._record_from_params(run, folder)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'record'}: {e['msg']}"
                for e in exc.errors()
            )
            raise DataValidationError(
                f"Run {run_id}: stored record is invalid: {problems}"
            ) from exc

    def _record_from_params(self, run: Run, folder: Path) -> ModelRun:
        """Rebuild a :class:`ModelRun` for a run whose ``run.json`` is missing."""
        tags: dict[str, str] = dict(run.data.tags)
        params: dict[str, str] = dict(run.data.params)
        config_path = self._download(run, CONFIG_FILE, folder)
        if config_path is not None:
            hyperparameters = json.loads(config_path.read_text(encoding="utf-8"))
        else:
            hyperparameters = _unflatten({k: v for k, v in params.items() if k not in RUN_PARAMS})
        dirty = tags.get("git_dirty", "unknown").lower()
        count = tags.get("prediction_count")
        if count is None:
            parquet = self._download(run, PREDICTIONS_FILE, folder)
            count = str(pq.read_metadata(parquet).num_rows) if parquet is not None else "0"
        fields: dict[str, Any] = {
            "run_id": run.info.run_id,
            "model_type": tags.get("model_type"),
            "hyperparameters": hyperparameters,
            "timestamp": datetime.fromtimestamp(run.info.start_time / 1000, tz=UTC),
            "git_hash": tags.get("git_hash", tags.get("mlflow.source.git.commit", "unknown")),
            "git_dirty": {"true": True, "false": False}.get(dirty),
            "start_year": tags.get("start_year", params.get("start_year")),
            "end_year": tags.get("end_year", params.get("end_year")),
            "prediction_count": count,
            "league": tags.get("league", params.get("league")),
            "run_name": run.info.run_name,
            "ncaa_eval_version": tags.get("ncaa_eval_version", "unknown"),
            "data_digest": tags.get("data_digest"),
        }
        return ModelRun.model_validate(fields)

    def _get_experiment_id(self, *, create: bool) -> str | None:
        """The experiment's id; None if it does not exist and ``create`` is False."""
        if self._experiment_id is not None:
            return self._experiment_id
        from mlflow.exceptions import MlflowException

        client = self.client
        try:
            experiment = client.get_experiment_by_name(self.experiment)
            if experiment is None:
                if not create:
                    return None
                try:
                    client.create_experiment(
                        self.experiment,
                        artifact_location=self._artifact_location(),
                        tags={EXPERIMENT_NOTE_TAG: experiment_note(self.experiment)},
                    )
                except MlflowException as exc:
                    # Another process created it a moment ago.
                    if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                        raise
                experiment = client.get_experiment_by_name(self.experiment)
                assert experiment is not None
        except MlflowException as exc:
            raise TrackingStoreError(
                f"Cannot open experiment '{self.experiment}' in {self.tracking_uri}: "
                f"{one_line(exc)}"
            ) from exc
        if experiment.lifecycle_stage == "deleted":
            raise NcaaEvalError(
                f"The MLflow experiment '{self.experiment}' is deleted; restore it with "
                f"`mlflow experiments restore --experiment-id {experiment.experiment_id}` "
                "or use another experiment name."
            )
        self._experiment_id = str(experiment.experiment_id)
        return self._experiment_id

    def _artifact_location(self) -> str | None:
        """Keep a local SQLite store's artifacts next to its database, whatever the cwd.

        MLflow's default is ``./mlruns`` relative to the directory the experiment happens to be
        created from; anchoring it to the database keeps the store one self-contained folder.
        Servers choose their own artifact location.
        """
        db = sqlite_path(self.tracking_uri)
        if db is None:
            return None
        slug = re.sub(r"[^A-Za-z0-9._-]+", "_", self.experiment).strip("._") or "experiment"
        return str(db.parent / "mlruns" / slug)


def _write_text_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
