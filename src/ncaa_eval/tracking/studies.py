"""A hyperparameter search in MLflow: one parent run per study, one nested run per trial.

The parent run holds what the search is (model, league, windows, sampler, seed), its best Brier
by trial number as a metric history, the best config, and the holdout scores. Each trial is a run
tagged ``mlflow.parentRunId`` = the parent (the MLflow UI shows the study as one row that expands
into its trials), with the trial's hyperparameters as params, its Brier season by season as
``season_brier`` and ``running_brier`` (step = season) and its final ``brier``. A trial run ends
FINISHED, or KILLED (pruned, interrupted) or FAILED, with the tag :data:`TRIAL_STATE_TAG` saying
which. Workers in other processes and on other machines attach their trials to the same parent,
by its id, through :class:`StudyRuns`; nothing here needs an active MLflow run.

Study and trial runs carry no ncaa-eval records, so ``runs list`` leaves them out.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ncaa_eval.tracking.errors import TrackingStoreError, store_errors
from ncaa_eval.tracking.lifecycle import begin_run, end_run
from ncaa_eval.tracking.params import mlflow_param_value
from ncaa_eval.tracking.store import RunStore

if TYPE_CHECKING:
    from ncaa_eval.tracking.signals import RunSignals

PARENT_TAG = "mlflow.parentRunId"
#: ``study`` on a study's parent run, ``trial`` on each trial run.
TUNE_TAG = "ncaa_eval.tune"
#: The study's name, on the parent and on every trial.
STUDY_TAG = "ncaa_eval.study"
#: ``complete``, ``pruned``, ``failed`` or ``interrupted``, on a trial run when it ends.
TRIAL_STATE_TAG = "ncaa_eval.trial_state"
#: The Optuna trial number, on a trial run.
TRIAL_NUMBER_TAG = "ncaa_eval.trial_number"

#: A trial run's final status for each way a trial can end.
STATUS_OF = {
    "complete": "FINISHED",
    "pruned": "KILLED",
    "interrupted": "KILLED",
    "failed": "FAILED",
}


class StudyRuns:
    """The MLflow side of one study: its parent run and its trials' runs.

    Every write holds Ctrl-C and SIGTERM back until it is done (with the handlers of
    :func:`~ncaa_eval.tracking.signals.run_signals`): a signal raised inside a SQLite commit can
    leave the database locked, and a trial's run could then not be ended. A write made while
    stopping already (``quiet``) drops a signal that comes meanwhile: the worker is stopping.

    Args:
        store: The tracking store and experiment the study's runs live in.
        signals: The handlers the command installed, if any.
    """

    def __init__(self, store: RunStore, signals: RunSignals | None = None) -> None:
        self.store = store
        self.signals = signals
        #: The experiment of the study's run, once known: trials go where their parent is
        #: (under ``mlflow run`` without ``--experiment-name``, not this store's experiment).
        self.parent_experiment_id: str | None = None

    @contextmanager
    def held(self, stopping: bool = False, defer: bool = False) -> Iterator[None]:
        """Hold signals for a write; then raise one noted, drop it (``stopping``), or keep it
        for :meth:`raise_deferred` (``defer``)."""
        if self.signals is None:
            yield
            return
        self.signals.hold()
        try:
            yield
        finally:
            self.signals.release(raise_noted=not (stopping or defer))
            if stopping:
                self.signals.pending()  # dropped: already stopping

    def raise_deferred(self) -> None:
        """Raise a signal that came during a deferred write (see :meth:`end_trial`), or while
        signals were held."""
        if self.signals is not None:
            noted = self.signals.pending()
            if noted is not None:
                raise noted

    @contextmanager
    def let_through(self) -> Iterator[None]:
        """Inside :meth:`held`: raise a signal noted so far, and signals at once for the block
        (see :meth:`RunSignals.let_through <ncaa_eval.tracking.RunSignals.let_through>`)."""
        if self.signals is None:
            yield
            return
        with self.signals.let_through():
            yield

    @property
    def experiment_id(self) -> str:
        """The experiment's id (created on first use)."""
        experiment_id = self.store._get_experiment_id(create=True)
        assert experiment_id is not None
        return experiment_id

    def create_parent(self, study: str, run_name: str, params: Mapping[str, str]) -> str:
        """Create the study's parent run (RUNNING), or join ``mlflow run``'s; return its id.

        Raises:
            TrackingStoreError: The store cannot be opened or written.
        """
        from mlflow.entities import Param

        with self.held():
            run_id = begin_run(self.store, run_name, {TUNE_TAG: "study", STUDY_TAG: study})
            self.parent_experiment_id = self.store.run_experiment_id
            with store_errors(f"Cannot log the study's params on run {run_id}"):
                params_ = [Param(k, v) for k, v in params.items()]
                self.store.client.log_batch(run_id, params=params_)
        return run_id

    def check_parent(self, run_id: str, study: str) -> None:
        """Raise unless the study's parent run ``run_id`` is in this store.

        Raises:
            TrackingStoreError: the run is missing or belongs to another study (the worker is
                pointed at another tracking store than the study was started with).
        """
        from mlflow.exceptions import MlflowException

        try:
            run = self.store.client.get_run(run_id)
        except MlflowException as exc:
            raise TrackingStoreError(
                f"Study '{study}' records its trials under MLflow run {run_id}, which is not in "
                f"{self.store.tracking_uri}; point --tracking-uri at the store the study was "
                "started with."
            ) from exc
        self.parent_experiment_id = str(run.info.experiment_id)
        if run.data.tags.get(STUDY_TAG) != study:
            raise TrackingStoreError(
                f"MLflow run {run_id} in {self.store.tracking_uri} is not study '{study}''s "
                "run; point --tracking-uri at the store the study was started with."
            )

    def set_parent_status(self, run_id: str, status: str, *, quiet: bool = False) -> None:
        """Mark the parent RUNNING (a worker joined) or ended (FINISHED, KILLED, FAILED)."""
        if status == "RUNNING":
            with self.held(), store_errors(f"Cannot reopen run {run_id}"):
                self.store.client.update_run(run_id, status="RUNNING")
        else:
            with self.held(stopping=quiet):
                end_run(self.store, run_id, status, quiet=quiet)

    def start_trial(
        self,
        parent_id: str,
        study: str,
        number: int,
        on_created: Callable[[str], None] | None = None,
    ) -> str:
        """Create trial ``number``'s run under ``parent_id``; return its id.

        One write: the hyperparameters are logged with the results by :meth:`end_trial` (a
        trial of Elo lasts about 0.3 s, and each write to a SQLite store costs about 5 ms).
        ``on_created(run_id)`` is called as soon as the run exists, before a signal held during
        the creation is raised, so that the caller can end the run it interrupts.

        Raises:
            TrackingStoreError: The store cannot be written.
        """
        tags = {
            PARENT_TAG: parent_id,
            TUNE_TAG: "trial",
            STUDY_TAG: study,
            TRIAL_NUMBER_TAG: str(number),
            "mlflow.note.content": f"Trial {number} of study {study}.",
        }
        # Trial first: nested under the study's row, the UI cuts long names at the end.
        name = f"trial-{number}-{study}"
        with self.held(), store_errors(f"Cannot record trial {number} of study '{study}'"):
            run = self.store.client.create_run(
                self.parent_experiment_id or self.experiment_id,
                tags={**tags, "mlflow.runName": name},
                run_name=name,
            )
            run_id = str(run.info.run_id)
            if on_created is not None:
                on_created(run_id)
        return run_id

    def end_trial(
        self,
        run_id: str,
        state: str,
        seasons: Mapping[int, tuple[float, float]],
        brier: float | None,
        params: Mapping[str, Any] | None = None,
        *,
        quiet: bool = False,
        defer: bool = False,
    ) -> None:
        """Log a trial's hyperparameters, season curve and final Brier, tag how it ended, and
        end its run: one batch and the status.

        Args:
            run_id: The trial's run.
            state: ``complete``, ``pruned``, ``failed`` or ``interrupted``.
            seasons: season -> (that season's Brier, the running Brier through it).
            brier: The final Brier (complete trials).
            params: The trial's hyperparameters (dotted names).
            quiet: Another error is on its way: only log a failure to write (and, unless
                ``defer``, drop a signal that comes meanwhile).
            defer: Keep a signal that comes meanwhile for :meth:`raise_deferred`, so that the
                trial ends in Optuna as it did here before the worker stops.
        """
        from mlflow.entities import Metric, Param, RunTag

        now = int(time.time() * 1000)
        metrics = [
            Metric(name, float(value), now, int(season))
            for season, (one, running) in seasons.items()
            for name, value in (("season_brier", one), ("running_brier", running))
        ]
        if brier is not None:
            metrics.append(Metric("brier", float(brier), now, 0))
        with self.held(stopping=quiet and not defer, defer=defer):
            try:
                with store_errors(f"Cannot record the end of trial run {run_id}"):
                    self.store.client.log_batch(
                        run_id,
                        metrics=metrics,
                        params=[Param(k, mlflow_param_value(v)) for k, v in (params or {}).items()],
                        tags=[RunTag(TRIAL_STATE_TAG, state)],
                    )
            except TrackingStoreError:
                if not quiet:
                    raise
            end_run(self.store, run_id, STATUS_OF[state], quiet=quiet)

    def log_best_history(self, parent_id: str, best_by_number: Mapping[int, float]) -> None:
        """Log ``best_brier`` (the best Brier of the trials up to each number) at the steps not
        logged yet: a resumed study, or another worker's command, adds only the new ones."""
        from mlflow.exceptions import MlflowException

        try:
            logged = self.store.client.get_metric_history(parent_id, "best_brier")
        except MlflowException:
            logged = []
        last = max((m.step for m in logged), default=-1)
        new = {n: {"best_brier": b} for n, b in best_by_number.items() if n > last}
        if new:
            with self.held():
                self.store.log_metric_steps(parent_id, new)

    def log_summary(
        self,
        parent_id: str,
        metrics: Mapping[str, float],
        files: Mapping[str, Any],
    ) -> None:
        """Log final metrics and JSON files (best config, search space, holdout) on the parent.

        A file logged again replaces the one before (a study resumed reports anew).
        """
        if metrics:
            with self.held():
                self.store.log_metrics(parent_id, metrics)
        if not files:
            return
        with (
            tempfile.TemporaryDirectory(prefix="ncaa-eval-study-") as tmp,
            store_errors(f"Cannot log the study's results on run {parent_id}"),
        ):
            for name, content in files.items():
                path = Path(tmp) / name
                path.write_text(json.dumps(content, indent=2, sort_keys=True) + "\n")
                with self.held():
                    self.store.client.log_artifact(parent_id, str(path))

    def close_orphans(self, trials: Mapping[str, Mapping[str, Any]]) -> int:
        """End as FAILED the trial runs still RUNNING whose worker died (``kill -9``).

        Args:
            trials: run id -> that trial's hyperparameters (logged with its end, as always).

        Returns:
            How many runs were closed.
        """
        closed = 0
        for run_id, params in trials.items():
            with store_errors(f"Cannot read trial run {run_id}"):
                run = self.store.client.get_run(run_id)
            if run.info.status == "RUNNING":
                # Not stopping: a signal that comes meanwhile is raised after the caller's hold.
                self.end_trial(run_id, "failed", {}, None, params, quiet=True, defer=True)
                closed += 1
        return closed
