"""Ctrl-C and SIGTERM at any moment of `train` and `data import` end cleanly.

Real ``python -m ncaa_eval.cli`` processes are started together and each is sent SIGTERM or SIGINT
after its own delay, from 0.05 s (Python still importing) to a few seconds (training, or the
Parquet store being written). Whenever the signal lands, afterwards:

* no MLflow run is RUNNING; a run that did not finish is KILLED or FAILED;
* the data store is either the previous one or the complete new one, never a mix, never gone;
* the data dir and the export dir hold no temporary file, and every exported file is whole.

Nothing here is timed: the delays only spread the signals over the commands' phases.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pyarrow.parquet as pq
import pytest

from ncaa_eval.ingest import import_kaggle
from tests.helpers.mlflow_store import MLFLOW_ENV_VARS
from tests.ingest.sources import assert_same_store, demo_source, manifest
from tests.reliability.checks import run_statuses, temp_leftovers
from tests.training.tracking_checks import shared_template, store_copy

#: (signal, anchor, delay in seconds): the signal is sent ``delay`` after the anchor, which is
#: the process start, the moment its MLflow run exists, or the moment the new store is being
#: written (a ``.store-new-*`` folder appears).
TRAIN_SWEEP = [
    (signal.SIGTERM, "start", 0.05),
    (signal.SIGTERM, "start", 0.8),
    (signal.SIGTERM, "run", 0.0),
    (signal.SIGTERM, "run", 0.4),
    (signal.SIGTERM, "run", 1.5),
    (signal.SIGINT, "run", 0.0),
    (signal.SIGINT, "run", 0.8),
]
IMPORT_SWEEP = [
    (signal.SIGTERM, "start", 0.05),
    (signal.SIGTERM, "start", 0.8),
    (signal.SIGTERM, "write", 0.0),
    (signal.SIGTERM, "write", 0.15),
    (signal.SIGTERM, "write", 0.5),
    (signal.SIGINT, "write", 0.05),
]
#: Exit codes allowed: finished first (0), unwound (130 Ctrl-C, 143 SIGTERM), or killed by the
#: signal's default action while Python was still starting, before ncaa-eval's handlers exist.
CODES = {0, 128 + signal.SIGINT, 128 + signal.SIGTERM, -signal.SIGINT, -signal.SIGTERM}


def _child_signals() -> None:
    """In the child: SIGINT and SIGTERM as on a terminal, even if this runner ignores them."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _env() -> dict[str, str]:
    drop = {*MLFLOW_ENV_VARS, "NCAA_EVAL_DATA_DIR"}
    return {k: v for k, v in os.environ.items() if k not in drop}


@dataclass
class Job:
    """One process, the signal it gets and when, and its folder."""

    kind: str  # "train" or "import"
    sig: signal.Signals
    anchor: str  # "start", "run" or "write"
    delay: float
    folder: Path
    command: list[str]
    proc: subprocess.Popen[Any] | None = None
    log: IO[str] | None = None
    code: int | None = None

    @property
    def name(self) -> str:
        return f"{self.kind}: {self.sig.name} {self.delay} s after {self.anchor}"

    @property
    def db(self) -> Path:
        return self.folder / "mlflow" / "mlflow.db"

    def anchored(self) -> bool:
        """Whether the moment the delay counts from has come."""
        if self.anchor == "run":
            try:
                return "RUNNING" in run_statuses(self.db).values()
            except sqlite3.OperationalError:  # the child holds a write lock this instant
                return False
        if self.anchor == "write":
            return any((self.folder / "data").glob(".store-new-*"))
        return True

    def output(self) -> str:
        return (self.folder / "output.log").read_text(errors="replace")


@dataclass(frozen=True)
class Sources:
    old_store: Path  # a data dir holding the previous store (3 seasons)
    new_source: Path  # what the import brings in (8 seasons)
    new_store: Path  # that source imported without interruption, for comparison


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> Sources:
    root = tmp_path_factory.mktemp("interrupt-sources")
    old = demo_source(root / "old-source", first_season=2023, last_season=2025)
    import_kaggle(old, root / "old-store")
    new = demo_source(root / "new-source", first_season=2018, last_season=2025, seed=5)
    import_kaggle(new, root / "new-store")
    return Sources(root / "old-store", new, root / "new-store")


def _jobs(root: Path, template: Path, demo_store: Path, sources: Sources) -> list[Job]:
    jobs = []
    python = [sys.executable, "-m", "ncaa_eval.cli"]
    for sig, anchor, delay in TRAIN_SWEEP:
        folder = root / f"train-{sig.name}-{anchor}-{delay}"
        uri = store_copy(template, folder / "mlflow" / "mlflow.db")
        command = [*python, "train", "--model", "elo", "--data-dir", str(demo_store),
                   "--start-year", "2019", "--end-year", "2025",
                   "--output-dir", str(folder / "out"), "--tracking-uri", uri]  # fmt: skip
        jobs.append(Job("train", sig, anchor, delay, folder, command))
    for sig, anchor, delay in IMPORT_SWEEP:
        folder = root / f"import-{sig.name}-{anchor}-{delay}"
        shutil.copytree(sources.old_store, folder / "data")
        command = [*python, "data", "import", str(sources.new_source),
                   "--data-dir", str(folder / "data")]  # fmt: skip
        jobs.append(Job("import", sig, anchor, delay, folder, command))
    return jobs


@pytest.fixture(scope="module")
def interrupted(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    demo_store: Path,
    sources: Sources,
) -> list[Job]:
    """Every job started at once, each signalled after its delay, all waited for."""
    template = shared_template(request.config, tmp_path_factory)
    jobs = _jobs(tmp_path_factory.mktemp("interrupted"), template, demo_store, sources)
    try:
        for job in jobs:
            job.folder.mkdir(parents=True, exist_ok=True)
            job.log = (job.folder / "output.log").open("w")
            job.proc = subprocess.Popen(
                job.command,
                cwd=job.folder,
                env=_env(),
                stdout=job.log,
                stderr=subprocess.STDOUT,
                preexec_fn=_child_signals,
            )
        _signal_each(jobs)
        for job in jobs:
            assert job.proc is not None
            job.code = job.proc.wait(timeout=180)
    finally:
        for job in jobs:
            if job.proc is not None and job.proc.poll() is None:
                job.proc.kill()
                job.proc.wait()
            if job.log is not None:
                job.log.close()
    return jobs


def _signal_each(jobs: list[Job]) -> None:
    """Send each job its signal ``delay`` after its anchor; skip those that ended before."""
    started = time.monotonic()
    anchors: dict[int, float] = {}
    waiting = list(range(len(jobs)))
    while waiting:
        now = time.monotonic()
        for i in list(waiting):
            job = jobs[i]
            assert job.proc is not None
            if job.proc.poll() is not None:
                waiting.remove(i)
                continue
            if i not in anchors and job.anchored():
                anchors[i] = started if job.anchor == "start" else now
            if i in anchors and now >= anchors[i] + job.delay:
                job.proc.send_signal(job.sig)
                waiting.remove(i)
        time.sleep(0.005)


def _check_exports(out: Path, statuses: dict[str, str]) -> None:
    assert temp_leftovers(out) == []
    runs = out / "runs"
    if not runs.exists():
        return
    for folder in runs.iterdir():
        assert folder.name in statuses, f"export of an unknown run {folder.name}"
        for path in folder.iterdir():
            if path.name == "run.json":
                assert json.loads(path.read_text())["run_id"] == folder.name
            else:
                assert path.name == "predictions.parquet", path
                pq.read_table(path)  # whole, or this raises


def test_every_command_ends_with_an_expected_exit_code(interrupted: list[Job]) -> None:
    for job in interrupted:
        assert job.code in CODES, f"{job.name}: exit {job.code}\n{job.output()}"
        if job.code not in (-signal.SIGINT,):  # killed while importing Python modules
            assert "Traceback" not in job.output(), f"{job.name}\n{job.output()}"


def test_no_run_is_left_running_and_exports_are_whole(interrupted: list[Job]) -> None:
    for job in (j for j in interrupted if j.kind == "train"):
        statuses = run_statuses(job.db)
        assert "RUNNING" not in statuses.values(), f"{job.name}: {statuses}\n{job.output()}"
        if job.code == 0:
            assert list(statuses.values()) == ["FINISHED"], job.name
        else:
            assert set(statuses.values()) <= {"KILLED", "FAILED"}, f"{job.name}: {statuses}"
        _check_exports(job.folder / "out", statuses)
        finished = {r for r, status in statuses.items() if status == "FINISHED"}
        exported = {p.name for p in (job.folder / "out" / "runs").glob("*")}
        assert finished <= exported, job.name


def test_the_data_store_is_the_old_or_the_complete_new_one(
    interrupted: list[Job], sources: Sources
) -> None:
    outcomes = set()
    for job in (j for j in interrupted if j.kind == "import"):
        data = job.folder / "data"
        assert temp_leftovers(data) == [], job.name
        assert sorted(p.name for p in data.iterdir()) == ["store"], job.name
        if manifest(data) == manifest(sources.old_store):
            assert_same_store(data, sources.old_store)
            outcomes.add("old")
        else:
            assert_same_store(data, sources.new_store)
            outcomes.add("new")
    assert "old" in outcomes, "no import was interrupted: the sweep missed every import"


def test_the_sweep_hit_training_runs(interrupted: list[Job]) -> None:
    """At least one signal landed while a run existed, else the delays need adjusting."""
    killed = [
        job
        for job in interrupted
        if job.kind == "train" and "KILLED" in run_statuses(job.db).values()
    ]
    assert killed, [f"{j.name}: {j.code}" for j in interrupted]


#: Run in a child process: SIGTERM or SIGINT sent to itself while MLflow creates the run (from a
#: run-context provider, which MLflow calls while building the new run's tags). Native libraries'
#: threads exist by then, so a signal merely blocked in the main thread would reach one of them
#: and end the process with the run half made.
_SIGNAL_DURING_CREATION = """
import os, signal, sys
from mlflow.tracking.context.abstract_context import RunContextProvider
from mlflow.tracking.context.registry import _run_context_provider_registry
from ncaa_eval.tracking import RunStore, run_signals

class SignalWhileCreating(RunContextProvider):
    def in_context(self):
        return True

    def tags(self):
        os.kill(os.getpid(), int(sys.argv[2]))
        print("signal sent", flush=True)
        return {}

_run_context_provider_registry.register(SignalWhileCreating)
store = RunStore(sys.argv[1])
try:
    with run_signals() as signals, store.start_run(run_name="created-under-fire", signals=signals):
        print("body reached", flush=True)
except KeyboardInterrupt:
    sys.exit(130)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize(
    ("sig", "code"),
    [(signal.SIGTERM, 128 + signal.SIGTERM), (signal.SIGINT, 128 + signal.SIGINT)],
    ids=["SIGTERM", "SIGINT"],
)
def test_a_signal_while_the_run_is_created_ends_it_killed(
    sig: signal.Signals,
    code: int,
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    tmp_path: Path,
) -> None:
    uri = store_copy(shared_template(request.config, tmp_path_factory), tmp_path / "mlflow.db")
    done = subprocess.run(
        [sys.executable, "-c", _SIGNAL_DURING_CREATION, uri, str(int(sig))],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=_child_signals,
    )
    output = done.stdout + done.stderr
    assert "signal sent" in output, output
    assert done.returncode == code, output
    assert "body reached" not in output, output
    assert list(run_statuses(tmp_path / "mlflow.db").values()) == ["KILLED"], output
