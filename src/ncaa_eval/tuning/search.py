"""``tune()``: one search from the command line, on one worker or several.

Usable from Python without Click::

    from ncaa_eval.tuning import TuneRequest, tune
    result = tune(TuneRequest(model="elo", trials=40, workers=2, seed=0))

Everything a user can get wrong is checked before the study or any MLflow run exists. This
process creates or joins the study, starts ``workers - 1`` more worker processes on this machine,
runs trials itself, and once every worker is done reports the best config against the defaults,
both scored on the tuning window; with a holdout window, both are then scored on it once, after
the search, which never sees it. Ctrl-C and SIGTERM stop every worker: no MLflow run and no
Optuna trial is left RUNNING.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ncaa_eval.errors import NcaaEvalError
from ncaa_eval.paths import atomic_write
from ncaa_eval.tracking.studies import StudyRuns
from ncaa_eval.training.config_loading import validate_config
from ncaa_eval.tuning.objective import score_config
from ncaa_eval.tuning.request import PreparedTune, TuneRequest, prepare
from ncaa_eval.tuning.storage import resolve_storage
from ncaa_eval.tuning.study import DEFAULTS_ATTR, OpenStudy, open_study
from ncaa_eval.tuning.worker import Counts, TrialCallback, Worker, count

if TYPE_CHECKING:
    import optuna

#: Seconds a worker process gets to end its trial cleanly after SIGTERM before it is killed.
STOP_GRACE = 30.0
#: Study user attribute caching the defaults' Brier when they are not a trial of the study.
DEFAULT_BRIER_ATTR = "default_brier"


@dataclass
class TuneResult:
    """What a search found, and where it is recorded."""

    study: str
    storage: str
    model: str
    league: str
    tune_years: tuple[int, int]
    trials_target: int
    counts: Counts
    best_number: int
    best_brier: float
    #: The searched fields' best values (dotted names).
    best_params: dict[str, Any]
    best_config: dict[str, Any]
    default_config: dict[str, Any]
    default_brier: float
    #: ``{"years": "2015-2024", "best": brier, "default": brier}`` when a holdout was scored.
    holdout: dict[str, Any] | None
    best_config_file: Path
    parent_run_id: str
    tracking_uri: str
    experiment: str
    experiment_id: str
    workers: int
    seconds: float
    #: Things the user should know (a worker process killed from outside).
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """A plain JSON object (``--json``)."""
        return {
            "study": self.study,
            "storage": self.storage,
            "model": self.model,
            "league": self.league,
            "tune_years": f"{self.tune_years[0]}-{self.tune_years[1]}",
            "trials": {
                "target": self.trials_target,
                "complete": self.counts.complete,
                "pruned": self.counts.pruned,
                "failed": self.counts.failed,
            },
            "best": {
                "trial": self.best_number,
                "brier": self.best_brier,
                "params": self.best_params,
                "config": self.best_config,
            },
            "default": {"brier": self.default_brier, "config": self.default_config},
            "holdout": self.holdout,
            "best_config_file": str(self.best_config_file),
            "mlflow": {
                "tracking_uri": self.tracking_uri,
                "experiment": self.experiment,
                "experiment_id": self.experiment_id,
                "parent_run_id": self.parent_run_id,
            },
            "workers": self.workers,
            "seconds": round(self.seconds, 2),
            "notes": self.notes,
        }


def tune(
    request: TuneRequest,
    on_start: Callable[[Counts], None] | None = None,
    on_trial: TrialCallback | None = None,
) -> TuneResult:
    """Search ``request.model``'s hyperparameters; see the module docstring.

    Args:
        request: the search.
        on_start: called with the study's counts once it is open (a resumed study has some).
        on_trial: called with the study's counts after each trial of this process.

    Raises:
        NcaaEvalError: bad input (before any study or run exists), an unreachable storage or
            tracking store, a study made for another search, or a worker process that failed.
    """
    from ncaa_eval.tracking import RunStore, run_signals

    started = time.monotonic()
    deadline = None if request.timeout is None else time.time() + request.timeout
    prepared = prepare(request)
    store = RunStore(request.tracking_uri, prepared.experiment)
    spec = resolve_storage(request.storage, store.tracking_uri, request.heartbeat)
    with run_signals() as signals:
        runs = StudyRuns(store, signals)
        storage = spec.open()
        status = "FAILED"
        children: list[subprocess.Popen[bytes]] = []
        notes: list[str] = []
        opened: OpenStudy | None = None
        try:
            # The other workers start now, while this one opens the MLflow store and creates
            # the study: they load the same data meanwhile and join once it exists. They get
            # this process's resolved choices (absolute store URI, experiment, storage, study).
            resolved = request.model_copy(
                update={
                    "tracking_uri": store.tracking_uri,
                    "experiment": prepared.experiment,
                    "storage": spec.url,
                    "study": prepared.study_name,
                }
            )
            children = _spawn(resolved, deadline)
            opened = open_study(prepared, spec, runs, storage=storage)
            worker = Worker(prepared, spec, runs, opened, on_trial)
            worker.before_reap = lambda: _collect(children)
            if on_start is not None:
                on_start(count(opened.study))
            worker.run(None if deadline is None else max(0.0, deadline - time.time()))
            notes = _wait(children)
            worker.reap()
            status = "FINISHED"
        except (KeyboardInterrupt, SystemExit):
            status = "KILLED"
            raise
        finally:
            _stop(children)
            if opened is not None:
                runs.set_parent_status(opened.parent_run_id, status, quiet=status != "FINISHED")
        assert opened is not None
        result = _summarize(prepared, spec.shown, runs, opened, store, time.monotonic() - started)
    result.notes = notes
    return result


def _spawn(request: TuneRequest, deadline: float | None) -> list[subprocess.Popen[bytes]]:
    """Start ``workers - 1`` worker processes joining the study (worker 0 is this one)."""
    payload = request.model_dump_json()
    until = "none" if deadline is None else repr(deadline)
    return [
        subprocess.Popen(
            [sys.executable, "-m", "ncaa_eval.tuning", payload, str(i), until],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
        )
        for i in range(1, request.workers)
    ]


def _collect(children: list[subprocess.Popen[bytes]]) -> None:
    """Collect worker processes that exited (so their pids no longer look alive)."""
    for child in children:
        child.poll()


def _wait(children: list[subprocess.Popen[bytes]]) -> list[str]:
    """Wait for the worker processes; notes on those killed by a signal.

    A worker killed from outside (``kill -9``, the OOM killer) is what the study survives: its
    trial was failed and retried by the others, so it is a note. A worker that failed on its
    own (an exception, printed above with its traceback) fails the command.

    Raises:
        NcaaEvalError: a worker exited with an error status.
    """
    failed, notes = [], []
    for i, child in enumerate(children, start=1):
        code = child.wait()
        if code < 0:
            name = signal.Signals(-code).name
            notes.append(f"worker {i} (pid {child.pid}) was killed by {name}; its trial in "
                         "progress was failed and retried by the others")  # fmt: skip
        elif code != 0:
            failed.append(f"worker {i} (pid {child.pid}) exited with status {code}")
    if failed:
        raise NcaaEvalError(
            f"{'; '.join(failed)} (its error is printed above); the study keeps every trial "
            "that finished: run the same command again to complete it."
        )
    return notes


def _stop(children: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM every worker still running, wait for it to end its trial, kill it if stuck."""
    alive = [c for c in children if c.poll() is None]
    for child in alive:
        child.send_signal(signal.SIGTERM)
    for child in alive:
        try:
            child.wait(STOP_GRACE)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def _summarize(
    prepared: PreparedTune,
    storage: str,
    runs: StudyRuns,
    opened: OpenStudy,
    store: Any,
    seconds: float,
) -> TuneResult:
    """The best trial against the defaults, the holdout if asked, the best config file."""
    study = opened.study
    counts = count(study)
    request = prepared.request
    if counts.best_number is None:
        raise NcaaEvalError(
            f"Study '{prepared.study_name}' has no complete trial yet (pruned "
            f"{counts.pruned}, failed {counts.failed}); run it longer (--trials, --timeout)."
        )
    best_trial = study.trials[counts.best_number]
    best_params = dict(best_trial.params)
    best = validate_config(
        prepared.model_class.config_class,
        prepared.space.overrides(best_params),
        request.model,
    )
    default_brier = _default_brier(prepared, study)
    holdout: dict[str, Any] | None = None
    holdout_scores: dict[str, float] = {}
    if prepared.holdout is not None:
        first, last = prepared.holdout
        holdout_scores = {
            "holdout_brier_best": score_config(prepared, best, years=prepared.holdout).value,
            "holdout_brier_default": score_config(
                prepared, prepared.defaults, years=prepared.holdout
            ).value,
        }
        holdout = {
            "years": f"{first}-{last}",
            "best": holdout_scores["holdout_brier_best"],
            "default": holdout_scores["holdout_brier_default"],
        }
    best_json = best.model_dump(mode="json")
    path = request.output_dir / "tune" / f"{_slug(prepared.study_name)}.best.json"
    with atomic_write(path) as tmp:
        tmp.write_text(json.dumps(best_json, indent=2, sort_keys=True) + "\n")
    metrics: dict[str, float] = {"default_brier": default_brier}
    runs.log_best_history(opened.parent_run_id, _best_by_number(study))
    files: dict[str, Any] = {
        "best_config.json": best_json,
        "search_space.json": prepared.space.to_json(),
    }
    if holdout is not None:
        metrics |= holdout_scores
        files["holdout.json"] = holdout
    runs.log_summary(opened.parent_run_id, metrics, files)
    return TuneResult(
        study=prepared.study_name,
        storage=storage,
        model=request.model,
        league=request.league,
        tune_years=request.tune_years,
        trials_target=request.trials,
        counts=counts,
        best_number=counts.best_number,
        best_brier=float(best_trial.value or 0.0),
        best_params=best_params,
        best_config=best_json,
        default_config=prepared.defaults.model_dump(mode="json"),
        default_brier=default_brier,
        holdout=holdout,
        best_config_file=path,
        parent_run_id=opened.parent_run_id,
        tracking_uri=store.tracking_uri,
        experiment=prepared.experiment,
        experiment_id=runs.parent_experiment_id or runs.experiment_id,
        workers=request.workers,
        seconds=seconds,
    )


def _best_by_number(study: optuna.Study) -> dict[int, float]:
    """Trial number -> the best Brier of the complete trials up to it, for the numbers below
    every trial still running or waiting (whose results could still change them)."""
    from optuna.trial import TrialState

    trials = sorted(study.get_trials(deepcopy=False), key=lambda t: t.number)
    pending = [t.number for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    final = min(pending, default=len(trials) + 1_000_000)
    out: dict[int, float] = {}
    best: float | None = None
    for t in trials:
        if t.number >= final:
            break
        if t.state == TrialState.COMPLETE and t.value is not None:
            best = t.value if best is None else min(best, t.value)
        if best is not None:
            out[t.number] = best
    return out


def _default_brier(prepared: PreparedTune, study: optuna.Study) -> float:
    """The defaults' Brier on the tuning window: their trial's, else one walk (cached)."""
    from optuna.trial import TrialState

    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        if t.user_attrs.get(DEFAULTS_ATTR) and t.value is not None:
            return float(t.value)
    cached = study.user_attrs.get(DEFAULT_BRIER_ATTR)
    if isinstance(cached, float):
        return cached
    value = score_config(prepared, prepared.defaults).value
    study.set_user_attr(DEFAULT_BRIER_ATTR, value)
    return value


def _slug(name: str) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "study"
