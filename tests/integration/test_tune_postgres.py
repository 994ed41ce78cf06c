"""``ncaa-eval tune`` on a real PostgreSQL: workers joining one study, dying, and bad URLs.

One PostgreSQL cluster per module (``tests.helpers.postgres``), one fresh empty database per
test; every worker is the real CLI in its own process, sharing an MLflow SQLite store under the
test's folder. What the workers did is read back from both stores: Optuna's (``optuna.load_study``
on the database) and MLflow's (its client). Skipped, saying why, without the PostgreSQL binaries
or a driver.

The cluster trusts local connections; one role, :data:`PW_USER`, is made to log in with a
password (a ``pg_hba.conf`` line of its own) so that a wrong password is really refused.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.mlflow_store import MLFLOW_ENV_VARS, migrate_template, sqlite_uri
from tests.helpers.postgres import Postgres, free_port, missing_requirements, postgres_server
from tests.training.tracking_checks import all_runs, client_for

pytestmark = pytest.mark.slow

CONSOLE_SCRIPT = Path(sys.executable).with_name("ncaa-eval")
#: A role that must give its password (scram-sha-256), unlike the cluster's superuser.
PW_USER = "tuner"
PW_RIGHT = "Right-pw-4711"
#: The password put in every bad URL: it must never be printed.
PW_WRONG = "Wr0ng-s3cret-pw-0815"
#: Seconds a worker process may take (a hung worker fails the test rather than CI).
PROCESS_TIMEOUT = 240.0
PARENT_TAG = "mlflow.parentRunId"


@pytest.fixture(scope="module")
def pg() -> Iterator[Postgres]:
    reason = missing_requirements()
    if reason is not None:
        pytest.skip(reason)
    with postgres_server() as server:
        # First matching line wins: PW_USER over TCP needs its password, everyone else is trusted.
        hba = server.folder / "data" / "pg_hba.conf"
        hba.write_text(f"host all {PW_USER} 127.0.0.1/32 scram-sha-256\n" + hba.read_text())
        server.query("postgres", f"CREATE ROLE {PW_USER} LOGIN PASSWORD '{PW_RIGHT}'")
        server.query("postgres", "SELECT pg_reload_conf()")
        yield server


@pytest.fixture(scope="module")
def mlflow_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return migrate_template(tmp_path_factory.mktemp("mlflow-template"))


@dataclass(frozen=True)
class Env:
    """One test's stores: a fresh empty database, an MLflow store, a clean environment."""

    pg: Postgres
    database: str
    url: str
    tracking_uri: str
    folder: Path
    environ: dict[str, str]


@pytest.fixture
def env(
    pg: Postgres, mlflow_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Env:
    for name in (*MLFLOW_ENV_VARS, "NCAA_EVAL_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    database = f"tune_{uuid.uuid4().hex[:10]}"
    url = pg.create_database(database)
    db = tmp_path / "mlflow.db"
    shutil.copyfile(mlflow_template, db)
    return Env(pg, database, url, sqlite_uri(db), tmp_path, dict(os.environ))


def _tune(
    e: Env,
    data_dir: Path,
    *,
    storage: str | None = None,
    model: str = "elo",
    league: str = "M",
    years: str = "2024-2025",
    study: str = "team",
    trials: int = 10,
    heartbeat: int | None = None,
) -> list[str]:
    script = [str(CONSOLE_SCRIPT)] if CONSOLE_SCRIPT.is_file() else [
        sys.executable, "-m", "ncaa_eval.cli"
    ]  # fmt: skip
    command = [*script, "tune", "--model", model, "--league", league, "--data-dir", str(data_dir),
               "--tune-years", years, "--study", study, "--storage", storage or e.url,
               "--trials", str(trials), "--tracking-uri", e.tracking_uri,
               "--output-dir", str(e.folder / "out"), "--json"]  # fmt: skip
    if heartbeat is not None:
        command += ["--heartbeat", str(heartbeat)]
    return command


def _start(e: Env, command: list[str], name: str) -> subprocess.Popen[str]:
    """Start a worker; its output goes to files (a pipe nobody reads could block it)."""
    with open(e.folder / f"{name}.out", "w") as out, open(e.folder / f"{name}.err", "w") as err:
        return subprocess.Popen(
            command,
            cwd=e.folder,
            env=e.environ,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            text=True,
        )


def _finish(e: Env, proc: subprocess.Popen[str], name: str) -> tuple[int, str, str]:
    """Wait for a worker started by :func:`_start`; its exit status, stdout and stderr."""
    try:
        code = proc.wait(PROCESS_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise
    return code, (e.folder / f"{name}.out").read_text(), (e.folder / f"{name}.err").read_text()


def _run(e: Env, command: list[str]) -> tuple[int, str, str, float]:
    started = time.monotonic()
    done = subprocess.run(
        command,
        cwd=e.folder,
        env=e.environ,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr, time.monotonic() - started


def _load(url: str, study: str) -> Any:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    return optuna.load_study(study_name=study, storage=url)


def _worker_pid(trial: Any) -> int | None:
    """The pid in a trial's ``worker`` attribute (``host:pid``) when the host is this one."""
    host, _, pid = str(trial.user_attrs.get("worker", "")).rpartition(":")
    return int(pid) if host == socket.gethostname() and pid.isdigit() else None


def _param_text(value: Any) -> str:
    """A hyperparameter as a train run logs it: str(), JSON for lists and objects."""
    return json.dumps(value) if isinstance(value, list | dict) else str(value)


def _children(uri: str, experiment_id: str, parent: str) -> list[Any]:
    client = client_for(uri)
    return list(
        client.search_runs(
            [experiment_id], filter_string=f"tags.`{PARENT_TAG}` = '{parent}'", max_results=1000
        )
    )


def _state_names(study: Any) -> list[str]:
    return [f"#{t.number} {t.state.name} {t.user_attrs}" for t in study.trials]


# --- 1. two workers, one study, an empty database --------------------------------------------


def test_two_workers_started_at_once_on_an_empty_database_share_one_study(
    env: Env, demo_store: Path
) -> None:
    from optuna.trial import TrialState

    command = _tune(env, demo_store, trials=10)
    workers = [_start(env, command, name) for name in ("a", "b")]
    results = [_finish(env, proc, name) for proc, name in zip(workers, ("a", "b"), strict=True)]
    for code, out, err in results:
        assert code == 0, out + err
        assert "Traceback" not in err, err
    reports = [json.loads(out) for _, out, _ in results]

    study = _load(env.url, "team")
    states = [t.state for t in study.trials]
    finished = [t for t in study.trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(finished) == 10, _state_names(study)
    assert TrialState.RUNNING not in states, _state_names(study)
    assert TrialState.WAITING not in states, _state_names(study)
    pids = {_worker_pid(t) for t in study.trials}
    assert pids == {p.pid for p in workers}, _state_names(study)

    # One parent run, both workers reporting it; one child run per Optuna trial.
    parent = reports[0]["mlflow"]["parent_run_id"]
    assert {r["mlflow"]["parent_run_id"] for r in reports} == {parent}
    experiment_id = reports[0]["mlflow"]["experiment_id"]
    runs = all_runs(env.tracking_uri)
    studies = [r for r in runs if r.data.tags.get("ncaa_eval.tune") == "study"]
    assert [r.info.run_id for r in studies] == [parent]
    assert studies[0].info.status == "FINISHED"
    children = _children(env.tracking_uri, experiment_id, parent)
    assert len(children) == len(study.trials) == len(runs) - 1
    by_id = {r.info.run_id: r for r in children}
    for trial in study.trials:
        run = by_id[trial.user_attrs["mlflow_run_id"]]
        assert run.data.tags["ncaa_eval.trial_number"] == str(trial.number)
        assert run.data.params == {k: _param_text(v) for k, v in trial.params.items()}
        assert run.info.status in ("FINISHED", "KILLED"), run.info
    assert len({r.info.run_id for r in children}) == len(children)


# --- 2. kill -9 mid-trial -----------------------------------------------------------------------


def test_a_worker_killed_mid_trial_is_retried_and_the_other_finishes_the_study(
    env: Env, demo_store: Path
) -> None:
    from optuna.trial import TrialState

    command = _tune(env, demo_store, years="2019-2025", trials=12, heartbeat=1)
    a = _start(env, command, "a")
    b = _start(env, command, "b")
    try:
        killed = _wait_for_running_trial_of(env.url, "team", a.pid, deadline=120.0)
        os.kill(a.pid, signal.SIGKILL)
        code_a, _, _ = _finish(env, a, "a")
        assert code_a == -signal.SIGKILL
        code_b, out_b, err_b = _finish(env, b, "b")
    finally:
        for proc in (a, b):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert code_b == 0, out_b + err_b
    assert "Traceback" not in err_b, err_b

    study = _load(env.url, "team")
    trials = study.trials
    states = [t.state for t in trials]
    finished = sum(s in (TrialState.COMPLETE, TrialState.PRUNED) for s in states)
    assert finished == 12, _state_names(study)
    assert TrialState.RUNNING not in states, _state_names(study)
    dead = trials[killed]
    assert dead.state == TrialState.FAIL, _state_names(study)
    assert _worker_pid(dead) == a.pid
    # The retry: ncaa-eval's own (the dead pid seen on this host) or Optuna's heartbeat's.
    by_pid = [
        t
        for t in trials
        if t.user_attrs.get("retry_of") == killed and "failed_trial" not in t.system_attrs
    ]
    by_heartbeat = [t for t in trials if t.system_attrs.get("failed_trial") == killed]
    retries = by_pid + by_heartbeat
    assert len(retries) == 1, _state_names(study)
    [retry] = retries
    assert retry.params == dead.params
    assert retry.state in (TrialState.COMPLETE, TrialState.PRUNED), _state_names(study)
    assert _worker_pid(retry) == b.pid
    mechanism = "pid re-queue (retry_of)" if by_pid else "Optuna heartbeat (failed_trial)"
    print(f"trial #{killed} of killed worker retried as #{retry.number} by {mechanism}")
    if by_heartbeat:
        assert retry.system_attrs["retry_history"] == [killed]

    # The killed trial's MLflow run was closed FAILED by the surviving worker.
    client = client_for(env.tracking_uri)
    dead_run = client.get_run(dead.user_attrs["mlflow_run_id"])
    assert dead_run.info.status == "FAILED"
    assert dead_run.data.tags.get("ncaa_eval.trial_state") == "failed"
    retry_run = client.get_run(retry.user_attrs["mlflow_run_id"])
    assert retry_run.info.run_id != dead_run.info.run_id
    assert retry_run.info.status in ("FINISHED", "KILLED")
    assert not [r.info.run_id for r in all_runs(env.tracking_uri) if r.info.status == "RUNNING"]


def _wait_for_running_trial_of(url: str, name: str, pid: int, deadline: float) -> int:
    """Poll the storage until a trial of worker ``pid`` is RUNNING; its number."""
    import optuna
    from optuna.trial import TrialState

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    storage = optuna.storages.RDBStorage(url)
    end = time.monotonic() + deadline
    study = None
    while time.monotonic() < end:
        if study is None:
            try:
                study = optuna.load_study(study_name=name, storage=storage)
            except KeyError:
                time.sleep(0.1)
                continue
        for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            if _worker_pid(t) == pid:
                return int(t.number)
        time.sleep(0.05)
    raise AssertionError(f"worker {pid} never ran a trial in {deadline:.0f} s")


# --- 3. the heartbeat itself, for a worker on another machine ---------------------------------


def test_a_silent_trial_of_another_host_is_failed_and_retried_by_the_heartbeat(
    env: Env, demo_store: Path
) -> None:
    import optuna
    from optuna.trial import TrialState

    from ncaa_eval.tracking import RunStore
    from ncaa_eval.tracking.studies import StudyRuns
    from ncaa_eval.tuning.request import TuneRequest, prepare
    from ncaa_eval.tuning.storage import resolve_storage
    from ncaa_eval.tuning.study import open_study
    from ncaa_eval.tuning.worker import Worker

    request = TuneRequest(model="elo", tune_years=(2024, 2025), trials=5, study="beat",
                          storage=env.url, data_dir=demo_store, tracking_uri=env.tracking_uri,
                          output_dir=env.folder / "out", heartbeat=1)  # fmt: skip
    prepared = prepare(request)
    store = RunStore(request.tracking_uri, prepared.experiment)
    spec = resolve_storage(request.storage, store.tracking_uri, request.heartbeat)
    assert spec.has_heartbeat
    runs = StudyRuns(store)
    opened = open_study(prepared, spec, runs)
    assert opened.created
    study = opened.study
    storage = getattr(study._storage, "_backend", study._storage)  # inside Optuna's cache
    assert isinstance(storage, optuna.storages.RDBStorage)

    def start(worker: str) -> tuple[optuna.Trial, str]:
        """A trial as a worker on ``worker`` starts it: params drawn, run created, one beat."""
        trial = study.ask()
        prepared.space.suggest(trial)
        run_id = runs.start_trial(opened.parent_run_id, prepared.study_name, trial.number)
        trial.set_user_attr("mlflow_run_id", run_id)
        trial.set_user_attr("worker", worker)
        storage.record_heartbeat(trial._trial_id)
        return trial, run_id

    silent, silent_run = start("elsewhere:1")
    beating, beating_run = start("elsewhere:2")
    worker = Worker(prepared, spec, runs, opened)
    worker.reap()  # within the grace period nothing is touched
    assert [t.state for t in study.get_trials()] == [TrialState.RUNNING] * 2

    time.sleep(3 * request.heartbeat + 1.5)  # past the grace period of the silent one
    storage.record_heartbeat(beating._trial_id)
    assert worker.should_stop() is False

    trials = study.get_trials()
    assert trials[silent.number].state == TrialState.FAIL, _state_names(study)
    assert trials[beating.number].state == TrialState.RUNNING, _state_names(study)
    waiting = study.get_trials(states=(TrialState.WAITING,))
    assert len(waiting) == 1, _state_names(study)
    [retry] = waiting
    assert retry.params == trials[silent.number].params
    assert retry.system_attrs["failed_trial"] == silent.number
    assert retry.system_attrs["retry_history"] == [silent.number]
    # The dead attempt's own attributes are not copied: a retry that kept its worker's host:pid
    # would look like a dead local worker's trial while its new worker starts it.
    assert retry.user_attrs.get("retry_of") == silent.number
    assert "worker" not in retry.user_attrs
    assert "mlflow_run_id" not in retry.user_attrs
    client = client_for(env.tracking_uri)
    assert client.get_run(silent_run).info.status == "FAILED"
    assert client.get_run(silent_run).data.tags.get("ncaa_eval.trial_state") == "failed"
    assert client.get_run(beating_run).info.status == "RUNNING"
    # Reaping again neither fails nor retries anything more.
    worker.reap()
    assert len(study.get_trials()) == len(trials)
    store.client.set_terminated(beating_run, "KILLED")


# --- 4. bad storage URLs ----------------------------------------------------------------------


@pytest.mark.parametrize("case", ["wrong-port", "no-database", "wrong-password", "unknown-host"])
def test_a_bad_storage_url_is_one_error_line_quickly_and_leaves_nothing(
    env: Env, demo_store: Path, case: str
) -> None:
    pg = env.pg
    missing = f"nodb_{uuid.uuid4().hex[:8]}"
    owned = f"owned_{uuid.uuid4().hex[:8]}"
    pg.query("postgres", f"CREATE DATABASE {owned} OWNER {PW_USER}")
    url = {
        "wrong-port": f"postgresql://{PW_USER}:{PW_WRONG}@127.0.0.1:{free_port()}/{owned}",
        "no-database": f"postgresql://{pg.user}:{PW_WRONG}@127.0.0.1:{pg.port}/{missing}",
        "wrong-password": f"postgresql://{PW_USER}:{PW_WRONG}@127.0.0.1:{pg.port}/{owned}",
        "unknown-host": f"postgresql://{PW_USER}:{PW_WRONG}@no-such-host.invalid/{owned}",
    }[case]
    code, out, err, seconds = _run(env, _tune(env, demo_store, storage=url, trials=2))

    assert code == 1, out + err
    assert seconds < 10, f"{case} took {seconds:.1f} s"
    assert PW_WRONG not in out + err
    assert "Traceback" not in err, err
    errors = [line for line in (out + err).splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, out + err
    assert errors[0].startswith("Error: Optuna storage postgresql://"), err
    assert f"{PW_USER if case != 'no-database' else pg.user}:***@" in errors[0]
    expected = {
        "wrong-port": "refused",
        "no-database": "does not exist",
        "wrong-password": "password authentication failed",
        "unknown-host": "no-such-host.invalid",
    }[case]
    assert expected in errors[0], errors[0]
    # Nothing left behind: no Optuna tables, no journal instead, no MLflow run.
    tables = pg.query(owned, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
    assert tables == [["0"]]
    assert pg.query("postgres", f"SELECT 1 FROM pg_database WHERE datname = '{missing}'") == []
    assert not list(env.folder.rglob("*.journal"))
    assert all_runs(env.tracking_uri) == []
    # The whole output is that one line, as for every expected failure of the CLI.
    assert (out, err.strip().splitlines()) == ("", errors), "more than the Error line:\n" + err


# --- 5. joining a study made for another search -----------------------------------------------


def _with_league_w(demo_store: Path, folder: Path) -> Path:
    """A copy of the demo store whose men's league also stands as a women's one (same digest)."""
    copy = folder / "demo-mw"
    shutil.copytree(demo_store, copy)
    store = copy / "store"
    shutil.copytree(store / "M", store / "W")
    manifest = json.loads((store / "store.json").read_text())
    manifest["leagues"]["W"] = manifest["leagues"]["M"]
    (store / "store.json").write_text(json.dumps(manifest))
    return copy


def test_joining_a_study_with_another_model_or_league_is_refused_and_leaves_it_as_it_was(
    env: Env, demo_store: Path
) -> None:
    code, out, err, _ = _run(env, _tune(env, demo_store, study="made", trials=2))
    assert code == 0, out + err
    before = _load(env.url, "made")
    trials_before = [(t.number, t.state, t.params) for t in before.trials]
    assert len(trials_before) >= 2
    runs_before = {r.info.run_id: r.info.status for r in all_runs(env.tracking_uri)}

    joiners = {
        "made for model elo, not logistic_regression": _tune(
            env, demo_store, study="made", trials=4, model="logistic_regression"
        ),
        "made for league M, not W": _tune(
            env, _with_league_w(demo_store, env.folder), study="made", trials=4, league="W"
        ),
    }
    for message, joiner in joiners.items():
        code, out, err, _ = _run(env, joiner)
        assert code == 1, out + err
        errors = [line for line in (out + err).splitlines() if line.startswith("Error:")]
        assert len(errors) == 1, out + err
        assert message in errors[0], errors[0]
        assert "Traceback" not in err, err

        after = _load(env.url, "made")
        assert [(t.number, t.state, t.params) for t in after.trials] == trials_before
        assert after.user_attrs == before.user_attrs
        assert {r.info.run_id: r.info.status for r in all_runs(env.tracking_uri)} == runs_before


# --- 6. connections checked before use --------------------------------------------------------


def test_the_storage_checks_its_connections_before_use(env: Env) -> None:
    import optuna

    from ncaa_eval.tuning.storage import CONNECT_TIMEOUT, resolve_storage, retry_stale_trial

    pg = env.pg
    database = f"owned_{uuid.uuid4().hex[:8]}"
    pg.query("postgres", f"CREATE DATABASE {database} OWNER {PW_USER}")
    url = f"postgresql://{PW_USER}:{PW_RIGHT}@127.0.0.1:{pg.port}/{database}"
    spec = resolve_storage(url, env.tracking_uri, heartbeat=2)
    assert spec.shown == f"postgresql://{PW_USER}:***@127.0.0.1:{pg.port}/{database}"
    storage = spec.open()
    assert isinstance(storage, optuna.storages.RDBStorage)
    assert storage.engine.pool._pre_ping is True
    assert storage.engine_kwargs["connect_args"] == {"connect_timeout": CONNECT_TIMEOUT}
    assert (storage.heartbeat_interval, storage.grace_period) == (2, 6)
    # ncaa-eval's retry (Optuna's, without the dead attempt's own user attributes).
    assert storage.get_heartbeat_stale_trial_callback() is retry_stale_trial

    # What pre-ping is for: the server drops the pooled connection while idle, the next use
    # replaces it instead of failing.
    optuna.create_study(study_name="idle", storage=storage)
    backends = f"FROM pg_stat_activity WHERE datname = '{database}' AND usename = '{PW_USER}'"
    assert pg.query("postgres", f"SELECT count(*) {backends}") != [["0"]]
    pg.query("postgres", f"SELECT pg_terminate_backend(pid) {backends}")
    deadline = time.monotonic() + 10
    while pg.query("postgres", f"SELECT count(*) {backends}") != [["0"]]:
        assert time.monotonic() < deadline, "the backends were not terminated"
        time.sleep(0.05)
    assert [s.study_name for s in storage.get_all_studies()] == ["idle"]
