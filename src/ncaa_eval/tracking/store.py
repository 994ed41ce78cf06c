"""RunStore: ncaa-eval's records kept in MLflow runs, through ``MlflowClient`` and nothing else.

Layout of one run (any MLflow store: local SQLite, or a team server); each fact is kept once, as
:mod:`ncaa_eval.tracking.params` describes:

* params: ``model_type``, ``start_year``, ``end_year``, ``league`` and every hyperparameter;
* tags: ``git_dirty``, ``ncaa_eval_version``, ``prediction_count``, ``data_digest``,
  ``mlflow.source.git.commit`` (unless MLflow set it) and ``ncaa_eval_records``;
* artifacts: ``config.json`` (the nested hyperparameters), ``predictions.parquet``
  (:data:`PREDICTION_SCHEMA`) and ``predictions.csv`` (the same for the MLflow UI's preview,
  which shows no Parquet). The :class:`ModelRun` is rebuilt from these when read; runs saved
  by earlier versions also hold ``run.json``, which is read as it is.

The tag ``ncaa_eval_records`` (the record format version) is written last, in the same batch as the
other tags, after every artifact: it marks a run whose records are complete, and only such runs are
listed or loaded.

The work is split by concern into the modules of this package; :class:`RunStore` is the one
public face over them.

Typical use by the orchestrator (see :meth:`RunStore.start_run`)::

    store = RunStore(tracking_uri)
    with run_signals() as signals, store.start_run(run_name="elo-2024", signals=signals) as run_id:
        ...train and predict..., store.log_metrics(run_id, {"brier": b}, step=season)
        store.save_run(ModelRun(run_id=run_id, ...), predictions_frame)
"""

from __future__ import annotations

import re
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from ncaa_eval import DEFAULT_EXPERIMENT
from ncaa_eval.errors import NcaaEvalError
from ncaa_eval.tracking.errors import (
    RESOURCE_ALREADY_EXISTS,
    RESOURCE_DOES_NOT_EXIST,
    RunNotFoundError,
    error_code,
    store_errors,
)
from ncaa_eval.tracking.export import export_run
from ncaa_eval.tracking.lifecycle import tracked_run
from ncaa_eval.tracking.params import (
    RECORDS_TAG,
)
from ncaa_eval.tracking.predictions import table_to_frame
from ncaa_eval.tracking.reading import load_table, read_record, read_records
from ncaa_eval.tracking.records import ModelRun, Prediction, is_run_id
from ncaa_eval.tracking.saving import save_records
from ncaa_eval.tracking.search import (
    check_max_results,
    find_runs,
    records_filter,
    resolve_run_id,
    shown,
)
from ncaa_eval.tracking.signals import RunSignals
from ncaa_eval.tracking.ui import EXPERIMENT_NOTE_TAG, experiment_note
from ncaa_eval.tracking.uri import initialize_store, resolve_tracking_uri, sqlite_path

if TYPE_CHECKING:
    from mlflow.entities import Run
    from mlflow.tracking import MlflowClient

#: Most metrics MLflow takes in one log_batch request.
_METRIC_BATCH = 1000


class RunStore:
    """Save, load, list and export ncaa-eval runs kept in an MLflow tracking store.

    Construction only resolves the URI; the store is opened (and, if new, created safely under a
    file lock) on first use, which also applies
    :func:`~ncaa_eval.tracking.uri.apply_mlflow_defaults` (the one place the tracking package
    sets environment variables or logger levels). All
    failures a user can fix raise :class:`NcaaEvalError` subclasses with one-line messages; run
    ids are validated before the store or the filesystem is touched. No signal handler is
    installed here: see :func:`~ncaa_eval.tracking.signals.run_signals`.

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
        #: The signal handlers of the run in progress, if its caller gave them.
        self._signals: RunSignals | None = None
        #: The experiment of the last run started: ``experiment``, or the one of a run joined
        #: from ``MLFLOW_RUN_ID`` (``mlflow run`` without ``--experiment-name``).
        self.run_experiment = experiment
        #: The id of :attr:`run_experiment`, once a run started.
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
        params: Mapping[str, str] | None = None,
        signals: RunSignals | None = None,
    ) -> Iterator[str]:
        """Create (or join) the MLflow run of one training job; yield its run id.

        * Under ``mlflow run`` (``MLFLOW_RUN_ID`` is set) the run MLflow created is joined, as
          ``mlflow.start_run()`` would: set RUNNING again. The variable is left as it is; a
          later run in this process is a new one. Pass ``--experiment-name`` to ``mlflow run``
          so the run lands in this store's experiment; otherwise :meth:`list_runs` will not
          show it.
        * Otherwise a run is created in this store's experiment (created on first use, with its
          artifacts next to the SQLite database for a local store), carrying MLflow's usual
          context tags (user, source, git commit).

        The run always ends with a status: FINISHED on success (or ``sys.exit(0)``), FAILED on an
        exception, KILLED on ``KeyboardInterrupt``, :class:`RunTerminated` or an exit with status
        130 or 143. Signals are the caller's: pass ``signals`` from
        :func:`~ncaa_eval.tracking.signals.run_signals` and SIGTERM or Ctrl-C end the run KILLED,
        even one that comes while the run is being created (it is held until the run exists).

        Args:
            run_name: MLflow run name; None lets MLflow pick one (or keeps the joined run's).
            tags: Extra tags for the run.
            params: Params to log at once (e.g. :func:`~ncaa_eval.tracking.params.identity_params`),
                so that the MLflow UI shows them while the run goes on, or after it failed.
            signals: The handlers the caller installed with ``run_signals()``.

        Yields:
            The run id, to put in :class:`ModelRun` and pass to :meth:`save_run`.

        Raises:
            RunNotFoundError: ``MLFLOW_RUN_ID`` names no run in this store.
            TrackingStoreError: The store cannot be opened or written.
        """
        with tracked_run(self, run_name, dict(params or {}), dict(tags or {}), signals) as run_id:
            yield run_id

    @contextmanager
    def uninterrupted(self) -> Iterator[None]:
        """Wrap one write to the store: Ctrl-C or SIGTERM waits until it is done.

        Only inside :meth:`start_run` given ``signals`` (elsewhere it does nothing). The signal is
        raised as soon as the write returns, so the run still ends KILLED, with the write
        complete: a KeyboardInterrupt inside a SQLite commit can leave the database locked, and
        then the run could not be marked KILLED.
        """
        if self._signals is None:
            yield
        else:
            with self._signals.held():
                yield

    def log_params(self, run_id: str, params: Mapping[str, str]) -> None:
        """Log params on a run (a param logged again must keep its value).

        Raises:
            RunNotFoundError: ``run_id`` is malformed.
            TrackingStoreError: MLflow rejected a param (e.g. another value) or the store is down.
        """
        from mlflow.entities import Param

        run_id = self._check_id(run_id)
        with store_errors(f"Cannot log params on run {run_id}", limit=400), self.uninterrupted():
            self.client.log_batch(run_id, params=[Param(k, v) for k, v in params.items()])

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

        run_id = self._check_id(run_id)
        now = int(time.time() * 1000)
        batch = [
            Metric(k, float(v), now, int(step))
            for step, values in by_step.items()
            for k, v in values.items()
        ]
        with store_errors(f"Cannot log metrics on run {run_id}"):
            for first in range(0, len(batch), _METRIC_BATCH):
                with self.uninterrupted():
                    self.client.log_batch(run_id, metrics=batch[first : first + _METRIC_BATCH])

    def save_run(self, run: ModelRun, predictions: Sequence[Prediction] | pd.DataFrame) -> None:
        """Write a run's records onto its existing MLflow run ``run.run_id``.

        Safe to repeat with the same values (MLflow refuses to change a param's value).

        Args:
            run: The record; ``prediction_count`` must equal the number of predictions. Its
                ``timestamp`` is not stored: the run's start time is (a record read back has
                that, to the millisecond).
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
        save_records(self, run, predictions)

    def load_run(self, run_id: str) -> ModelRun:
        """Read a run's :class:`ModelRun`, rebuilt from its params, tags and ``config.json``.

        Raises:
            RunNotFoundError: ``run_id`` is malformed, unknown, deleted, or has no ncaa-eval
                records.
            DataValidationError: The stored record is invalid.
        """
        run_id = self._check_id(run_id)
        run = self._get_run(run_id)
        self._require_records(run)
        with tempfile.TemporaryDirectory(prefix="ncaa-eval-") as tmp:
            return read_record(self, run, Path(tmp))

    def load_predictions(self, run_id: str) -> pd.DataFrame:
        """Read a run's predictions with the dtypes of
        :data:`~ncaa_eval.tracking.predictions.PREDICTION_DTYPES`.

        Raises:
            RunNotFoundError: As :meth:`load_run`, or the run has no ``predictions.parquet``.
            DataValidationError: The stored file does not match the schema.
        """
        return table_to_frame(load_table(self, run_id))

    def list_runs(
        self,
        model_type: str | None = None,
        league: str | None = None,
        start_year: int | None = None,
        end_year: int | None = None,
        max_results: int = 1000,
    ) -> list[ModelRun]:
        """The experiment's runs with ncaa-eval records, newest (MLflow start time) first.

        Each filter given must match exactly (on the run's params); runs without records (not
        saved, or a save that did not finish) and deleted runs are left out.

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
        check_max_results(max_results)
        runs = self.find_runs(records_filter(model_type, league, start_year, end_year), max_results)
        return read_records(self, runs)

    def find_runs(self, filter_string: str, max_results: int) -> list[Run]:
        """The experiment's active MLflow runs matching ``filter_string``, newest first.

        The one search behind :meth:`list_runs` and ``runs list``; build the filter with
        :func:`~ncaa_eval.tracking.search.search_filter`.

        Raises:
            TrackingStoreError: The store cannot be read.
        """
        return find_runs(self, filter_string, max_results)

    def resolve_run_id(self, prefix: str) -> str:
        """Expand a unique prefix (4+ hex characters) of a run id in the experiment.

        A full run id is returned as it is once found. Case is ignored.

        Raises:
            RunNotFoundError: ``prefix`` is not hex, shorter than 4 characters, or matches no run.
            AmbiguousRunIdError: ``prefix`` matches several runs.
        """
        return resolve_run_id(self, prefix)

    def export(self, run_id: str, dest: Path) -> Path:
        """Write ``dest/runs/<run_id>/run.json`` and ``predictions.parquet``, each atomically.

        See :func:`~ncaa_eval.tracking.export.export_run`.

        Returns:
            The run's folder ``dest/runs/<run_id>`` (resolved).

        Raises:
            RunNotFoundError: As :meth:`load_run`.
            NcaaEvalError: The target folder would be outside ``dest`` (a symlink).
        """
        return export_run(self, run_id, dest)

    def get_run(self, run_id: str) -> Run:
        """The MLflow run ``run_id`` (saved or not), its id checked first.

        Raises:
            RunNotFoundError: ``run_id`` is malformed, unknown or deleted.
            TrackingStoreError: The store cannot be read.
        """
        return self._get_run(self._check_id(run_id))

    # -- helpers ------------------------------------------------------------------------------

    def _check_id(self, run_id: object, source: str = "run id") -> str:
        if not is_run_id(run_id):
            raise RunNotFoundError(
                f"Invalid {source} {shown(run_id)}: a run id is 32 lowercase hex characters; "
                "copy one from the runs list or the MLflow UI."
            )
        assert isinstance(run_id, str)
        return run_id

    def _get_run(self, run_id: str, source: str = "run") -> Run:
        from mlflow.exceptions import MlflowException

        with store_errors(f"Cannot read run {run_id} from {self.tracking_uri}"):
            try:
                run = self.client.get_run(run_id)
            except MlflowException as exc:
                if error_code(exc) != RESOURCE_DOES_NOT_EXIST:
                    raise
                raise RunNotFoundError(
                    f"No {source} {run_id} in the MLflow store {self.tracking_uri}; "
                    "check the id and the tracking URI."
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

    def _get_experiment_id(self, *, create: bool) -> str | None:
        """The experiment's id; None if it does not exist and ``create`` is False."""
        if self._experiment_id is not None:
            return self._experiment_id
        from mlflow.exceptions import MlflowException

        client = self.client
        with store_errors(f"Cannot open experiment '{self.experiment}' in {self.tracking_uri}"):
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
                    if error_code(exc) != RESOURCE_ALREADY_EXISTS:
                        raise
                experiment = client.get_experiment_by_name(self.experiment)
                assert experiment is not None
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
