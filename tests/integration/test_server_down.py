"""A tracking server down, mute or not MLflow: one ``Error:`` line naming the URI and the fix.

Real sockets on 127.0.0.1 stand in for the three ways a team server fails a client: nothing
listens (connection refused), something accepts but never answers, and another web server answers
404. Every command that opens the store says so in one line and exits 1; ``train`` leaves no export
behind. How long each takes is measured in ``bench/tracking_cost.py``'s report, not asserted here.
"""

from __future__ import annotations

import http.server
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import Invoke
from tests.helpers.mlflow_store import MLFLOW_ENV_VARS
from tests.helpers.postgres import free_port

FIX = "start the server (see the README, Team tracking server) or pass another --tracking-uri"


@pytest.fixture
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No variable steering MLflow; short HTTP bounds (set here, so undone after the test)."""
    for name in (*MLFLOW_ENV_VARS, "NCAA_EVAL_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "1")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def mute_server() -> Iterator[str]:
    """A listening socket that accepts connections (the kernel does) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


class _Answers(http.server.BaseHTTPRequestHandler):
    """Answers every request with the status in the server's ``status`` attribute."""

    def do_GET(self) -> None:
        self.send_error(getattr(self.server, "status", 500))

    def do_POST(self) -> None:
        self.do_GET()

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def web_server(status: int) -> Iterator[str]:
    """A web server that is not MLflow: ``status`` for every path."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Answers)
    server.status = status  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _commands(uri: str, data_dir: Path, out: Path) -> list[list[str]]:
    store = ["--tracking-uri", uri]
    job = ["--data-dir", str(data_dir), "--start-year", "2024", "--end-year", "2025"]
    return [
        ["train", "--model", "elo", *job, "--output-dir", str(out), *store],
        ["runs", "list", *store],
        ["runs", "list", "--json", *store],
        ["runs", "show", "abcd1234", *store],
        ["runs", "export", "abcd1234", "--output-dir", str(out), *store],
    ]


def _one_error_line(run_cli: Invoke, args: list[str]) -> str:
    result = run_cli(*args, expect=1)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error: "), result.output
    return lines[0]


def test_a_closed_port_is_one_error_line_for_every_command(
    demo_store: Path, clean_env: Path, run_cli: Invoke
) -> None:
    uri = f"http://127.0.0.1:{free_port()}"
    out = clean_env / "out"
    for args in _commands(uri, demo_store, out):
        line = _one_error_line(run_cli, args)
        assert line == (
            f"Error: Cannot reach the MLflow tracking server at {uri} (connection refused); "
            f"{FIX} / MLFLOW_TRACKING_URI"
        ), args
    assert not out.exists()
    assert list(clean_env.iterdir()) == [], "nothing is written when the server is down"


def test_the_uri_may_come_from_the_environment(
    demo_store: Path, clean_env: Path, run_cli: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    line = _one_error_line(run_cli, ["runs", "list"])
    assert line.startswith(f"Error: Cannot reach the MLflow tracking server at {uri} ")


def test_a_server_that_never_answers_is_one_error_line(
    demo_store: Path, clean_env: Path, mute_server: str, run_cli: Invoke
) -> None:
    for args in _commands(mute_server, demo_store, clean_env / "out")[:2]:
        line = _one_error_line(run_cli, args)
        assert line == (
            f"Error: Cannot reach the MLflow tracking server at {mute_server} "
            f"(no answer within 1 s); {FIX} / MLFLOW_TRACKING_URI"
        ), args


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        pytest.param(
            404,
            "answered HTTP 404: it is not an MLflow tracking server; check the host, port and "
            "path in --tracking-uri / MLFLOW_TRACKING_URI",
            id="not-mlflow",
        ),
        pytest.param(
            503,
            "(it answers HTTP 5xx errors; see the server's log); " + FIX,
            id="failing-server",
        ),
    ],
)
def test_a_server_answering_errors_is_one_error_line(
    status: int, reason: str, demo_store: Path, clean_env: Path, run_cli: Invoke
) -> None:
    with web_server(status) as uri:
        for args in _commands(uri, demo_store, clean_env / "out")[:2]:
            line = _one_error_line(run_cli, args)
            assert uri in line, line
            assert reason in line, line


class _StuckServer(http.server.ThreadingHTTPServer):
    """Remembers when a request got stuck, and lets them all go at the end."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _HealthyButStuck)
        self.stuck = threading.Event()
        self.release = threading.Event()


class _HealthyButStuck(http.server.BaseHTTPRequestHandler):
    """Answers ``/health`` and then holds every other request open without answering."""

    def do_GET(self) -> None:
        if self.path.startswith("/health"):
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"OK")
            return
        assert isinstance(self.server, _StuckServer)
        self.server.stuck.set()
        self.server.release.wait()

    def do_POST(self) -> None:
        self.do_GET()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["sigint", "sigterm"])
def test_a_signal_while_the_store_is_being_opened_stops_train_at_once(
    signum: int, demo_store: Path, clean_env: Path
) -> None:
    """A server that answers its health check but hangs: Ctrl-C or kill ends train there.

    MLflow is given an hour per request, so the process can only end because the signal acted
    while MLflow waited; no run can exist yet, so nothing is left RUNNING.
    """
    server = _StuckServer()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    uri = f"http://127.0.0.1:{server.server_address[1]}"
    env = {**os.environ, "MLFLOW_HTTP_REQUEST_TIMEOUT": "3600"}
    cmd = [sys.executable, "-m", "ncaa_eval", "train", "--model", "elo"]
    cmd += ["--data-dir", str(demo_store), "--start-year", "2024", "--end-year", "2025"]
    cmd += ["--output-dir", str(clean_env / "out"), "--tracking-uri", uri]
    proc = subprocess.Popen(
        cmd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        # A shell that starts the suite in the background ignores SIGINT, and children inherit
        # that; the child must start with the dispositions a user's shell gives it.
        preexec_fn=_default_signals,
    )
    try:
        # Wait until the client is stuck in MLflow's first API request (after /health).
        reached = server.stuck.wait(timeout=120)
        assert reached, f"train never reached the tracking server: {proc.poll()}"
        proc.send_signal(signum)
        _, stderr = proc.communicate(timeout=120)
    finally:
        proc.kill()
        server.release.set()
        server.shutdown()
        server.server_close()
    assert proc.returncode == 128 + signum, stderr
    assert "Traceback" not in stderr.decode()
    assert not (clean_env / "out").exists()


def _default_signals() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
