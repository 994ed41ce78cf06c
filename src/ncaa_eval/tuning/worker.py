"""One worker: run trials of a shared study until it has N finished trials in all.

Any number of workers, in any processes on any machines, run :func:`run_worker` on the same
study. After each trial a worker counts the study's finished trials (complete or pruned) and those
other workers are running; it stops once they reach N, so the study ends with N finished trials
rather than N plus one per worker (Optuna's ``MaxTrialsCallback`` overshoots). While another
worker's trial may still fail, the worker waits for it instead of stopping.

A worker that dies mid-trial (``kill -9``, a lost machine) leaves its trial RUNNING. On a database
Optuna's heartbeat marks it failed after the grace period and a retry with the same parameters is
queued (:mod:`ncaa_eval.tuning.storage`). On this machine a dead worker is also seen at once by
its process id, on any storage: its trial is failed and re-queued the same way. Either way the
trial's MLflow run is closed FAILED.

Run as ``python -m ncaa_eval.tuning REQUEST_JSON WORKER_INDEX DEADLINE`` by ``--workers K``.
"""

from __future__ import annotations

import os
import socket
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ncaa_eval.errors import NcaaEvalError
from ncaa_eval.tracking.studies import StudyRuns
from ncaa_eval.tuning.objective import (
    RUN_ATTR,
    SURPLUS_ATTR,
    WORKER_ATTR,
    Interrupted,
    Objective,
    SurplusTrialError,
)
from ncaa_eval.tuning.request import PreparedTune
from ncaa_eval.tuning.storage import StorageSpec, retry_user_attrs
from ncaa_eval.tuning.study import OpenStudy

if TYPE_CHECKING:
    import optuna

#: Seconds between checks while waiting for other workers' last trials.
POLL_SECONDS = 0.5

#: Called after each trial this worker ran, with the study's counts.
TrialCallback = Callable[["Counts"], None]


@dataclass
class Counts:
    """A study's trials by state, and its best complete trial."""

    complete: int = 0
    pruned: int = 0
    failed: int = 0
    running: int = 0
    waiting: int = 0
    best_value: float | None = None
    best_number: int | None = None

    @property
    def finished(self) -> int:
        """Complete and pruned trials: those that count toward N."""
        return self.complete + self.pruned


def count(study: optuna.Study) -> Counts:
    """Count the study's trials by state."""
    from optuna.trial import TrialState

    out = Counts()
    for t in study.get_trials(deepcopy=False):
        if t.state == TrialState.COMPLETE:
            out.complete += 1
            if t.value is not None and (out.best_value is None or t.value < out.best_value):
                out.best_value, out.best_number = t.value, t.number
        elif t.state == TrialState.PRUNED:
            out.pruned += 1
        elif t.state == TrialState.FAIL:
            if not t.user_attrs.get(SURPLUS_ATTR):
                out.failed += 1
        elif t.state == TrialState.RUNNING:
            out.running += 1
        elif t.state == TrialState.WAITING:
            out.waiting += 1
    return out


@dataclass
class Worker:
    """The state of one worker over its trials."""

    prepared: PreparedTune
    spec: StorageSpec
    runs: StudyRuns
    opened: OpenStudy
    on_trial: TrialCallback | None = None
    #: Called before looking for dead workers: the command collects its own exited worker
    #: processes there, which would otherwise look alive (zombies) until it waits for them.
    before_reap: Callable[[], None] | None = None
    trials_run: int = 0
    _closed: set[str] = field(default_factory=set)

    @property
    def study(self) -> optuna.Study:
        return self.opened.study

    def reap(self) -> None:
        """Fail and re-queue trials of dead workers; close their MLflow runs FAILED."""
        import optuna
        from optuna.trial import TrialState

        if self.before_reap is not None:
            self.before_reap()
        with self.runs.held():  # Optuna's writes: a signal is raised after them
            if self.spec.has_heartbeat:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                    optuna.storages.fail_stale_trials(self.study)
            host = socket.gethostname()
            for t in self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
                owner = str(t.user_attrs.get(WORKER_ATTR, ""))
                name, _, pid = owner.rpartition(":")
                if name == host and pid.isdigit() and not _alive(int(pid)):
                    try:
                        self.study.tell(t.number, state=TrialState.FAIL)
                    except (ValueError, RuntimeError):
                        continue  # another worker failed it a moment ago, and re-queues it
                    self.study.enqueue_trial(dict(t.params), user_attrs=retry_user_attrs(t))
            to_close: dict[str, dict[str, object]] = {}
            for t in self.study.get_trials(deepcopy=False, states=(TrialState.FAIL,)):
                run_id = t.user_attrs.get(RUN_ATTR)
                if isinstance(run_id, str) and run_id not in self._closed:
                    to_close[run_id] = {**self.prepared.space.fixed, **t.params}
                    self._closed.add(run_id)
            if to_close:
                self.runs.close_orphans(to_close)

    def should_stop(self) -> bool:
        """True once the study has N finished trials; waits while others' trials may fail."""
        target = self.prepared.request.trials
        while True:
            self.reap()
            counts = count(self.study)
            if counts.finished >= target:
                return True
            if counts.finished + counts.running < target:
                return False
            # Others' running trials would make N: wait for them to end (or to be found dead).
            with self.runs.let_through():
                time.sleep(POLL_SECONDS)

    def is_surplus(self, number: int) -> bool:
        """Whether trial ``number``, just started, is one too many: the finished trials and the
        running ones numbered before it already make N (two workers that checked at the same
        moment both started one; the earlier number goes on)."""
        from optuna.trial import TrialState

        finished = running_before = 0
        for t in self.study.get_trials(deepcopy=False):
            if t.state in (TrialState.COMPLETE, TrialState.PRUNED):
                finished += 1
            elif t.state == TrialState.RUNNING and t.number < number:
                running_before += 1
        return finished + running_before >= self.prepared.request.trials

    def after_trial(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        """Optuna callback: log the best so far on the parent, report, maybe stop."""

        self.runs.raise_deferred()
        self.trials_run += 1
        counts = count(study)
        if self.on_trial is not None:
            self.on_trial(counts)
        if self.should_stop():
            study.stop()

    def run(self, timeout: float | None) -> None:
        """Run trials until the study has N finished ones or ``timeout`` seconds passed.

        Raises:
            KeyboardInterrupt: Ctrl-C (the trial in progress is failed, its run KILLED).
            SystemExit: SIGTERM, the same.
        """
        if self.should_stop():
            return
        objective = Objective(
            self.prepared, self.runs, self.opened.parent_run_id, surplus=self.is_surplus
        )
        # Signals are held through Optuna's own writes (creating a trial, telling its end: a
        # signal inside either would leave the trial RUNNING, or the journal half written) and
        # the callbacks; the objective raises one at its start and lets them through for the walk.
        try:
            with self.runs.held():
                self.study.optimize(
                    objective,
                    timeout=timeout,
                    callbacks=[self.after_trial],
                    gc_after_trial=False,
                    catch=(SurplusTrialError,),
                )
        except Interrupted as exc:
            raise exc.exit from None


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie, dead but not collected yet, does not)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        # Linux: the state follows the parenthesised command name; Z is a zombie.
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def main(argv: list[str] | None = None) -> int:
    """Entry point of a worker process started by ``--workers K``: join and run trials."""
    from ncaa_eval.tracking import RunStore, run_signals
    from ncaa_eval.tuning.request import TuneRequest, prepare
    from ncaa_eval.tuning.storage import resolve_storage
    from ncaa_eval.tuning.study import open_study

    args = sys.argv[1:] if argv is None else argv
    request = TuneRequest.model_validate_json(args[0])
    index = int(args[1])
    deadline = float(args[2]) if len(args) > 2 and args[2] != "none" else None
    # The first Ctrl-C or SIGTERM stops the worker; later ones (the command forwards its own) are
    # ignored so that the trial in progress is recorded as ended. The command kills a worker
    # that does not end in time.
    with run_signals(then_ignore=True) as signals:
        try:
            prepared = prepare(request)
            store = RunStore(request.tracking_uri, prepared.experiment)
            spec = resolve_storage(request.storage, store.tracking_uri, request.heartbeat)
            runs = StudyRuns(store, signals)
            opened = open_study(prepared, spec, runs, worker=index, create=False)
            timeout = None if deadline is None else max(0.0, deadline - time.time())
            Worker(prepared, spec, runs, opened).run(timeout)
        except KeyboardInterrupt:
            return 130
        except NcaaEvalError:
            # The command that started this worker checks the same things and says it.
            return 2
        except SystemExit as exc:
            return exc.code if isinstance(exc.code, int) else 1
    return 0
