"""``ncaa-eval tune --workers 2`` stopped from outside: Ctrl-C, SIGTERM, a worker killed.

Real ``python -m ncaa_eval.cli tune`` processes, each in a session of its own (as a terminal's
job). Once the study has a finished trial and the second worker has joined:

* Ctrl-C (SIGINT to the whole process group) ends with 130, SIGTERM to the command alone with 143;
  either way no MLflow run and no Optuna trial is left RUNNING (the parent run is KILLED), the
  worker process is gone and the journal is not left locked.
* ``kill -9`` of the worker process mid-trial: the study still ends with exactly the finished
  trials asked for, the killed trial FAIL in Optuna with its run FAILED, and retried with the same
  params by the command's own worker; the command reports it as a note, not as a failure.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import pytest

from tests.helpers.mlflow_store import MLFLOW_ENV_VARS
from tests.training.tracking_checks import shared_template, store_copy
from tests.tuning.test_tune import (
    Folder,
    alive,
    check_both_stores,
    demo_study,
    open_journal,
    tune_runs,
    worker_pid,
    years,
)

if TYPE_CHECKING:
    import optuna

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

#: Five tournaments: a trial lasts long enough to be caught in the middle.
WINDOW = (2019, 2023)
SEASONS = list(range(WINDOW[0], WINDOW[1] + 1))
#: Finished trials asked of the search whose worker is killed.
TRIALS = 40


def _child_signals() -> None:
    """In the child: SIGINT and SIGTERM as on a terminal, even if this runner ignores them."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _env() -> dict[str, str]:
    drop = {*MLFLOW_ENV_VARS, "NCAA_EVAL_DATA_DIR"}
    return {k: v for k, v in os.environ.items() if k not in drop}


@dataclass
class Tune:
    """One ``tune`` process and its folder."""

    folder: Folder
    proc: subprocess.Popen[bytes]
    stdout: IO[bytes]
    stderr: IO[bytes]

    @property
    def output(self) -> str:
        out = (self.folder.root / "stdout.txt").read_text(errors="replace")
        err = (self.folder.root / "stderr.txt").read_text(errors="replace")
        return f"--- stdout\n{out}\n--- stderr\n{err}"

    def stderr_text(self) -> str:
        return (self.folder.root / "stderr.txt").read_text(errors="replace")

    def stdout_text(self) -> str:
        return (self.folder.root / "stdout.txt").read_text(errors="replace")

    def study(self) -> optuna.Study:
        import optuna

        return optuna.load_study(study_name=demo_study(WINDOW), storage=open_journal(self.journal))

    @property
    def journal(self) -> Path:
        return self.folder.journal

    def wait_until(
        self, ready: Callable[[list[optuna.trial.FrozenTrial]], bool], timeout: float = 120
    ) -> list[optuna.trial.FrozenTrial]:
        """Poll the study's trials (the journal, read without its lock) until ``ready``."""
        deadline = time.monotonic() + timeout
        study: optuna.Study | None = None
        while True:
            assert self.proc.poll() is None, f"tune ended early ({self.proc.returncode})"
            assert time.monotonic() < deadline, f"nothing happened in {timeout} s\n{self.output}"
            if study is None and self.journal.exists():
                try:
                    study = self.study()
                except KeyError:  # the study is being created
                    study = None
            if study is not None:
                trials = study.get_trials(deepcopy=False)
                if ready(trials):
                    return trials
            time.sleep(0.02)

    def finish(self, timeout: float = 120) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            self.stdout.close()
            self.stderr.close()


@pytest.fixture
def start_tune(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    tmp_path: Path,
    demo_store: Path,
) -> Iterator[Callable[..., Tune]]:
    """Start ``tune --workers 2`` on the demo in its own session; kill what is left at the end."""
    started: list[Tune] = []
    template = shared_template(request.config, tmp_path_factory)

    def start(*extra: str) -> Tune:
        folder = Folder(tmp_path)
        store_copy(template, folder.db)
        command = [sys.executable, "-m", "ncaa_eval.cli",
                   *folder.tune(demo_store, "--workers", "2", *extra, window=WINDOW)]  # fmt: skip
        stdout = (tmp_path / "stdout.txt").open("wb")
        stderr = (tmp_path / "stderr.txt").open("wb")
        proc = subprocess.Popen(
            command,
            cwd=tmp_path,
            env=_env(),
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
            preexec_fn=_child_signals,
        )
        tune = Tune(folder, proc, stdout, stderr)
        started.append(tune)
        return tune

    yield start
    for tune in started:
        if tune.proc.poll() is None:
            os.killpg(tune.proc.pid, signal.SIGKILL)
            tune.proc.wait()


def _workers(trials: list[optuna.trial.FrozenTrial]) -> set[int]:
    return {worker_pid(t) for t in trials if "worker" in t.user_attrs}


def _joined_after_a_finished_trial(main: int) -> Callable[[list[Any]], bool]:
    """At least one trial finished, and the second worker has started one."""
    from optuna.trial import TrialState

    def ready(trials: list[optuna.trial.FrozenTrial]) -> bool:
        finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
        return bool(finished) and bool(_workers(trials) - {main})

    return ready


@pytest.mark.parametrize(
    ("sig", "to_group", "code", "said"),
    [
        pytest.param(signal.SIGINT, True, 130, "Interrupted.", id="ctrl-c-to-the-group"),
        pytest.param(signal.SIGTERM, False, 143, "Terminated.", id="sigterm-to-the-command"),
    ],
)
def test_a_signal_stops_every_worker_and_leaves_nothing_running(
    sig: signal.Signals, to_group: bool, code: int, said: str, start_tune: Callable[..., Tune]
) -> None:
    from optuna.trial import TrialState

    tune = start_tune("--trials", "500")
    main = tune.proc.pid
    tune.wait_until(_joined_after_a_finished_trial(main))
    if to_group:
        os.killpg(main, sig)
    else:
        os.kill(main, sig)
    returncode = tune.finish()

    assert returncode == code, tune.output
    err = tune.stderr_text()
    assert err.strip().splitlines()[-1:] == [said], tune.output
    assert tune.stdout_text() == "", tune.output

    study = tune.study()
    states = [t.state for t in study.trials]
    assert TrialState.RUNNING not in states
    assert 1 <= states.count(TrialState.COMPLETE) + states.count(TrialState.PRUNED) < 500
    parent, by_number = check_both_stores(tune.folder.uri, study, SEASONS)
    assert parent.info.status == "KILLED"
    # The trials stopped in the middle: FAIL in Optuna, KILLED ("interrupted") in MLflow.
    for t in study.trials:
        if t.state == TrialState.FAIL and t.number in by_number:
            run = by_number[t.number]
            assert (run.info.status, run.data.tags["ncaa_eval.trial_state"]) == (
                "KILLED",
                "interrupted",
            ), t.number
    # Both workers ran trials; neither is left behind.
    pids = _workers(study.trials)
    assert main in pids
    assert len(pids) == 2, pids
    time.sleep(0.2)
    assert [p for p in pids if alive(p)] == [], "a worker process outlived the command"
    assert not Path(f"{tune.journal}.lock").exists(), "the journal was left locked"
    # Nothing but the one line: no worker's traceback either.
    assert "Traceback" not in err, tune.output


#: Run in a child process: ``tune`` sends itself SIGINT right after one of Optuna's own writes
#: (argv[1]): creating a new trial (``ask``, the third) or recording the first complete one
#: (``tell``). Raised there at once, the signal would leave the trial RUNNING, or end the
#: command with Optuna's UnboundLocalError instead of "Interrupted.".
_SIGNAL_INSIDE_OPTUNA = """
import signal, sys
from optuna.storages import JournalStorage
from optuna.trial import TrialState
from ncaa_eval.cli.main import main

when = sys.argv[1]
create, set_state = JournalStorage.create_new_trial, JournalStorage.set_trial_state_values
created = []


def create_new_trial(self, study_id, template_trial=None):
    trial_id = create(self, study_id, template_trial)
    if when == "ask" and template_trial is None:  # not an enqueued trial
        created.append(trial_id)
        if len(created) == 3:
            print("signal sent", file=sys.stderr, flush=True)
            signal.raise_signal(signal.SIGINT)
    return trial_id


def set_trial_state_values(self, trial_id, state, values=None):
    done = set_state(self, trial_id, state, values)
    if when == "tell" and state == TrialState.COMPLETE:
        print("signal sent", file=sys.stderr, flush=True)
        signal.raise_signal(signal.SIGINT)
    return done


JournalStorage.create_new_trial = create_new_trial
JournalStorage.set_trial_state_values = set_trial_state_values
sys.argv = ["ncaa-eval", *sys.argv[2:]]
main()
"""


@pytest.mark.parametrize("when", ["ask", "tell"])
def test_a_signal_inside_optunas_own_writes_ends_the_trial_in_both_stores(
    when: str,
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    tmp_path: Path,
    demo_store: Path,
) -> None:
    from optuna.trial import TrialState

    folder = Folder(tmp_path)
    store_copy(shared_template(request.config, tmp_path_factory), folder.db)
    tune = folder.tune(demo_store, "--trials", "20", window=WINDOW)
    done = subprocess.run(
        [sys.executable, "-c", _SIGNAL_INSIDE_OPTUNA, when, *tune],
        cwd=tmp_path,
        env=_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=_child_signals,
    )
    output = f"--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
    assert done.returncode == 130, output
    assert done.stderr.splitlines()[0] == "signal sent", output
    assert done.stderr.splitlines()[-1] == "Interrupted.", output
    assert "Traceback" not in done.stderr, output

    import optuna

    study = optuna.load_study(study_name=demo_study(WINDOW), storage=open_journal(folder.journal))
    assert TrialState.RUNNING not in [t.state for t in study.trials]
    parent, _ = check_both_stores(folder.uri, study, SEASONS)
    assert parent.info.status == "KILLED"
    assert not Path(f"{folder.journal}.lock").exists(), "the journal was left locked"


def test_a_worker_killed_mid_trial_is_retried_and_the_study_completes(
    start_tune: Callable[..., Tune],
) -> None:
    from optuna.trial import TrialState

    # A trial takes a fraction of a second, a worker process a few seconds to start: enough
    # trials that the second worker joins well before the end.
    tune = start_tune("--trials", str(TRIALS), "--json")
    main = tune.proc.pid

    def the_worker_is_in_a_trial(trials: list[optuna.trial.FrozenTrial]) -> bool:
        return any(
            t.state == TrialState.RUNNING and "worker" in t.user_attrs and worker_pid(t) != main
            for t in trials
        )

    trials = tune.wait_until(the_worker_is_in_a_trial)
    (victim,) = {
        worker_pid(t)
        for t in trials
        if t.state == TrialState.RUNNING and "worker" in t.user_attrs and worker_pid(t) != main
    }
    os.kill(victim, signal.SIGKILL)
    try:
        returncode = tune.finish(timeout=60)
    except subprocess.TimeoutExpired:
        left = [
            f"trial {t.number} of worker {t.user_attrs.get('worker')}"
            for t in tune.study().trials
            if t.state == TrialState.RUNNING
        ]
        pytest.fail(
            f"tune still running 60 s after its worker {victim} was killed; RUNNING: {left}"
        )

    # The study survives a killed worker: a note, not a failure.
    assert returncode == 0, tune.output
    payload = json.loads(tune.stdout_text())
    assert "Traceback" not in tune.stderr_text(), tune.output
    assert len(payload["notes"]) == 1, payload["notes"]
    assert payload["notes"][0].startswith(f"worker 1 (pid {victim}) was killed by SIGKILL")

    study = tune.study()
    by_state = {s: [t for t in study.trials if t.state == s] for s in TrialState}
    assert len(by_state[TrialState.COMPLETE]) + len(by_state[TrialState.PRUNED]) == TRIALS
    assert by_state[TrialState.RUNNING] == []
    assert by_state[TrialState.WAITING] == []
    (killed,) = by_state[TrialState.FAIL]
    assert worker_pid(killed) == victim
    (retry,) = [t for t in study.trials if t.user_attrs.get("retry_of") == killed.number]
    assert retry.state in (TrialState.COMPLETE, TrialState.PRUNED)
    assert retry.params == killed.params
    assert retry.number > killed.number
    assert worker_pid(retry) == main
    assert not alive(victim)

    parent, by_number = check_both_stores(tune.folder.uri, study, SEASONS)
    run = by_number[killed.number]
    assert run.info.status == "FAILED"
    assert run.data.tags["ncaa_eval.trial_state"] == "failed"
    assert parent.info.status == "FINISHED"
    assert payload["trials"] == {
        "target": TRIALS,
        "complete": len(by_state[TrialState.COMPLETE]),
        "pruned": len(by_state[TrialState.PRUNED]),
        "failed": 1,
    }
    assert Path(payload["best_config_file"]).is_file()
    assert len(tune_runs(tune.folder.uri)[1]) == len(study.trials) == TRIALS + 1
    assert years(WINDOW) == payload["tune_years"]
