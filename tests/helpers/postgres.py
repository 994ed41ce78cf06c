"""A real PostgreSQL and a real ``mlflow server`` on it, started and stopped from Python.

Used by the team-server integration tests and by ``bench/tracking_cost.py``, so it imports neither
pytest nor anything of ncaa-eval. Both servers listen on free loopback ports, keep everything in a
temporary folder and are stopped (and the folder removed) when the context ends::

    with postgres_server() as pg, mlflow_server(pg.database_uri("mlflow"), artifacts) as uri:
        ...  # `ncaa-eval train --tracking-uri {uri}`

PostgreSQL refuses to run as root, so under root the cluster belongs to the ``postgres`` system
user (Debian's package creates it) and its processes run as that user; otherwise as the current
user. The cluster trades durability for speed (``initdb --no-sync``, ``fsync=off``): it lives for
one test session.
"""

from __future__ import annotations

import contextlib
import grp
import importlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

#: Where Debian's ``postgresql`` package puts the server binaries (one folder per major version).
DEBIAN_PG_ROOT = Path("/usr/lib/postgresql")
#: The system user that owns the cluster when we run as root.
PG_SYSTEM_USER = "postgres"
#: Seconds to wait for each server to accept requests.
START_TIMEOUT = 120.0
#: A throw-away cluster: local connections need no password, nothing is synced to disk.
INITDB_OPTIONS = ("-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync")
SERVER_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    # MLflow's server keeps a pool per worker, and the tests start several clients at once.
    "max_connections": "200",
}
#: Variables that would point libpq or MLflow elsewhere than the servers started here.
_STRAY_ENV = ("PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "PGPASSWORD", "PGDATA")


def postgres_bin_dir() -> Path | None:
    """The folder holding ``initdb`` and ``postgres``: on PATH, else Debian's newest version."""
    on_path = shutil.which("initdb")
    if on_path is not None and shutil.which("postgres") is not None:
        return Path(on_path).resolve().parent
    candidates = sorted(
        (p for p in DEBIAN_PG_ROOT.glob("*/bin") if (p / "initdb").is_file()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    return candidates[-1] if candidates else None


def missing_requirements() -> str | None:
    """Why a PostgreSQL-backed MLflow server cannot be started here, or None if it can."""
    if postgres_bin_dir() is None:
        return (
            "PostgreSQL server binaries not found (initdb/postgres on PATH or under "
            f"{DEBIAN_PG_ROOT}/*/bin); install Debian's `postgresql` package"
        )
    try:
        from sqlalchemy.dialects import postgresql

        # The driver SQLAlchemy opens postgresql:// with (psycopg 3 from 2.1 on, else psycopg2).
        importlib.import_module(str(postgresql.dialect.driver))
    except ImportError as exc:
        return (
            f"no driver for SQLAlchemy's postgresql:// URIs ({exc}); "
            "pip install -e '.[postgres]' (or '.[dev]')"
        )
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(PG_SYSTEM_USER)
        except KeyError:
            return f"running as root and there is no '{PG_SYSTEM_USER}' user to run PostgreSQL"
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on (at the time of the call)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class Postgres:
    """A running PostgreSQL cluster on 127.0.0.1 that trusts local connections."""

    port: int
    user: str
    folder: Path
    bin_dir: Path

    def database_uri(self, name: str) -> str:
        """The SQLAlchemy URI of database ``name`` (MLflow's ``--backend-store-uri``)."""
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{name}"

    def create_database(self, name: str) -> str:
        """Create database ``name``; return its URI."""
        done = self._client("createdb", name)
        if done.returncode != 0:
            raise RuntimeError(f"createdb {name} failed ({done.returncode}): {done.stderr}")
        return self.database_uri(name)

    def is_ready(self) -> bool:
        """Tell whether the server accepts connections (``pg_isready``)."""
        return self._client("pg_isready", "-d", "postgres", "-t", "2", timeout=30).returncode == 0

    def query(self, database: str, sql: str) -> list[list[str]]:
        """Rows of ``sql`` run in ``database`` by ``psql`` (every value as text)."""
        # Unaligned, tuples only, tab-separated, no ~/.psqlrc, stop at the first error.
        options = ["-X", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1"]
        done = self._client("psql", "-d", database, *options, "-c", sql)
        if done.returncode != 0:
            raise RuntimeError(f"psql failed ({done.returncode}): {done.stderr}")
        return [line.split("\t") for line in done.stdout.splitlines() if line]

    def _client(
        self, tool: str, *args: str, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """Run a PostgreSQL client program against this server; never raises on its exit code."""
        server = ["-h", "127.0.0.1", "-p", str(self.port), "-U", self.user]
        return subprocess.run(
            [str(self.bin_dir / tool), *server, *args],
            capture_output=True,
            text=True,
            check=False,
            env=_client_env(),
            timeout=timeout,
        )


def _client_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in _STRAY_ENV}


@contextlib.contextmanager
def postgres_server() -> Iterator[Postgres]:
    """Create a throw-away cluster in a new temporary folder, start it, stop and remove it after.

    Raises:
        RuntimeError: The binaries are missing, ``initdb`` failed, or the server did not start;
            the message holds the server's log.
    """
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        raise RuntimeError(missing_requirements() or "PostgreSQL binaries not found")
    as_root = os.geteuid() == 0
    owner = pwd.getpwnam(PG_SYSTEM_USER) if as_root else pwd.getpwuid(os.geteuid())
    # Not under pytest's tmp_path: under root that is mode 0700 and the postgres user could not
    # reach the folder. mkdtemp's folder in the shared temp dir (mode 1777) is handed over whole.
    folder = Path(tempfile.mkdtemp(prefix="ncaa-eval-pg-"))
    proc: subprocess.Popen[bytes] | None = None
    try:
        if as_root:
            os.chown(folder, owner.pw_uid, owner.pw_gid)
        data, sockets, log = folder / "data", folder / "sockets", folder / "server.log"
        sockets.mkdir()
        if as_root:
            os.chown(sockets, owner.pw_uid, owner.pw_gid)
        user, group, groups = _demote(owner) if as_root else (None, None, None)
        env = _client_env() | {"HOME": str(folder), "LC_ALL": "C"}
        initdb = subprocess.run(
            [str(bin_dir / "initdb"), "-D", str(data), "-U", owner.pw_name, *INITDB_OPTIONS],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            user=user,
            group=group,
            extra_groups=groups,
        )
        if initdb.returncode != 0:
            raise RuntimeError(f"initdb failed ({initdb.returncode}):\n{initdb.stderr}")
        port = free_port()
        with open(log, "wb") as sink:
            settings = {**SERVER_SETTINGS, "unix_socket_directories": str(sockets)}
            options = [f"-c{name}={value}" for name, value in settings.items()]
            proc = subprocess.Popen(
                [str(bin_dir / "postgres"), "-D", str(data), "-p", str(port), *options],
                env=env,
                stdout=sink,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                user=user,
                group=group,
                extra_groups=groups,
            )
        server = Postgres(port=port, user=owner.pw_name, folder=folder, bin_dir=bin_dir)
        _wait_for_postgres(server, proc, log)
        yield server
    finally:
        if proc is not None:
            # "Immediate" shutdown: no checkpoint, since the cluster is deleted right after.
            _stop(proc, signal.SIGQUIT)
        shutil.rmtree(folder, ignore_errors=True)


def _demote(owner: pwd.struct_passwd) -> tuple[int, int, list[int]]:
    """Popen's ``user``, ``group`` and ``extra_groups`` to run a child as ``owner`` (from root)."""
    groups = [g.gr_gid for g in grp.getgrall() if owner.pw_name in g.gr_mem]
    return owner.pw_uid, owner.pw_gid, groups


def _wait_for_postgres(server: Postgres, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while not server.is_ready():
        if proc.poll() is not None:
            raise RuntimeError(f"postgres exited ({proc.returncode}):\n{_tail(log)}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"postgres not ready after {START_TIMEOUT:.0f} s:\n{_tail(log)}")
        time.sleep(0.1)


@contextlib.contextmanager
def mlflow_server(
    backend_store_uri: str, artifacts: Path, *, workers: int = 1, log: Path | None = None
) -> Iterator[str]:
    """Run ``mlflow server`` on a free loopback port with served artifacts; yield its URL.

    Waits until ``/health`` answers (the server migrates a new database first). The server and
    its workers are stopped afterwards.

    Raises:
        RuntimeError: The server exited or did not answer in time; the message holds its log.
    """
    port = free_port()
    uri = f"http://127.0.0.1:{port}"
    artifacts.mkdir(parents=True, exist_ok=True)
    log = log or artifacts.parent / f"mlflow-server-{port}.log"
    mlflow = Path(sys.executable).with_name("mlflow")
    command = [str(mlflow)] if mlflow.is_file() else [sys.executable, "-m", "mlflow"]
    command += ["server", "--backend-store-uri", backend_store_uri,
                "--artifacts-destination", str(artifacts),
                "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    with open(log, "wb") as sink:
        proc = subprocess.Popen(
            command,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=artifacts.parent,
            start_new_session=True,  # its own process group: the workers are stopped with it
        )
    try:
        _wait_for_health(uri, proc, log)
        yield uri
    finally:
        _stop(proc, signal.SIGTERM, group=True)


def _wait_for_health(uri: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"mlflow server exited ({proc.returncode}):\n{_tail(log)}")
        try:
            with urllib.request.urlopen(f"{uri}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"mlflow server not healthy after {START_TIMEOUT:.0f} s:\n{_tail(log)}"
            )
        time.sleep(0.2)


def _stop(proc: subprocess.Popen[bytes], sig: signal.Signals, *, group: bool = False) -> None:
    """Signal ``proc`` (or its process group), wait, and kill it if it lingers."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        if group:
            os.killpg(proc.pid, sig)
        else:
            proc.send_signal(sig)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            if group:
                os.killpg(proc.pid, signal.SIGKILL)
            else:
                proc.kill()
        proc.wait()


def _tail(log: Path, lines: int = 40) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"(no log: {exc})"
