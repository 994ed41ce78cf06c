"""Tracking URI resolution and safe first use of a store."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from ncaa_eval.tracking import TrackingStoreError, initialize_store, resolve_tracking_uri
from ncaa_eval.tracking.uri import HTTP_ENV_DEFAULTS, bound_http_retries, sqlite_path
from tests.helpers.mlflow_store import MLFLOW_ENV_VARS, scratch_dir

REPO_ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in MLFLOW_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_explicit_uri_wins_over_environment(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://from-env:5000")
    assert resolve_tracking_uri("http://explicit:5000") == "http://explicit:5000"
    assert resolve_tracking_uri(None) == "http://from-env:5000"
    assert resolve_tracking_uri("") == "http://from-env:5000"


def test_default_is_mlflows_sqlite_store_in_the_cwd(clean_env: Path) -> None:
    uri = resolve_tracking_uri()
    assert uri.startswith("sqlite:///")
    assert sqlite_path(uri) == clean_env.resolve() / "mlflow.db"


def test_relative_sqlite_paths_become_absolute(clean_env: Path) -> None:
    uri = resolve_tracking_uri("sqlite:///stores/runs.db?timeout=30")
    assert uri == f"sqlite:///{(clean_env / 'stores' / 'runs.db').resolve().as_posix()}?timeout=30"
    absolute = f"sqlite:///{(clean_env / 'a.db').as_posix()}"
    assert resolve_tracking_uri(absolute) == absolute


def test_sqlite_path_only_for_local_sqlite_files() -> None:
    assert sqlite_path("sqlite:////tmp/x%20y.db") == Path("/tmp/x y.db")
    assert sqlite_path("sqlite://") is None
    assert sqlite_path("sqlite:///:memory:") is None
    assert sqlite_path("http://host:5000") is None
    assert sqlite_path("postgresql://u@h/db") is None


def test_http_bounds_keep_values_the_user_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "5")
    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_TIMEOUT", raising=False)
    bound_http_retries()
    assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "5"
    assert (
        os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"]
        == HTTP_ENV_DEFAULTS["MLFLOW_HTTP_REQUEST_TIMEOUT"]
    )


def test_unreachable_server_fails_fast_with_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:  # a port nobody listens on once this socket closes
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    uri = f"http://127.0.0.1:{port}"
    # The user's own (zero) retries are kept; the default bound (2) is covered above.
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_TIMEOUT", raising=False)
    start = time.monotonic()
    with pytest.raises(TrackingStoreError) as caught:
        initialize_store(uri)
    assert time.monotonic() - start < 10
    message = str(caught.value)
    assert uri in message
    assert "\n" not in message


_CHILD = textwrap.dedent(
    """
    import sys
    from ncaa_eval.tracking import RunStore

    store = RunStore(sys.argv[1])
    with store.start_run(run_name=sys.argv[2]) as run_id:
        pass
    print(run_id)
    """
)


def test_concurrent_first_use_of_a_new_store(tmp_path: Path) -> None:
    """Four processes create the same new SQLite store at once; all of them get a run.

    Without the lock, all four fail (duplicate tables, alembic version mismatches).
    """
    with scratch_dir(tmp_path) as directory:
        _create_concurrently(directory, tmp_path)


def _create_concurrently(directory: Path, tmp_path: Path) -> None:
    db = directory / "fresh" / "mlflow.db"
    uri = f"sqlite:///{db.as_posix()}"
    env = {k: v for k, v in os.environ.items() if k not in MLFLOW_ENV_VARS}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT / "src"), env.get("PYTHONPATH", "")])
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _CHILD, uri, f"child-{i}"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(4)
    ]
    outputs = [child.communicate(timeout=120) for child in children]
    for child, (_out, err) in zip(children, outputs, strict=True):
        assert child.returncode == 0, err
    run_ids = {out.strip() for out, _ in outputs}
    assert len(run_ids) == 4

    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("ncaa-eval")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id])
    assert {r.info.run_id for r in runs} == run_ids
    assert {r.info.status for r in runs} == {"FINISHED"}
    assert db.with_name("mlflow.db.lock").exists()
    # Artifacts live next to the database, not in the children's cwd.
    assert experiment.artifact_location == str(db.parent / "mlruns" / "ncaa-eval")
    assert not (tmp_path / "mlruns").exists()
