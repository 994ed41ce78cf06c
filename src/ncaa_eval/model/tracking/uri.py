"""Which MLflow tracking store to use, and opening it safely the first time.

Resolution order is MLflow's own: an explicit URI, else ``MLFLOW_TRACKING_URI`` (or a URI set with
``mlflow.set_tracking_uri``), else MLflow's default, which in MLflow 3.7+ is ``sqlite:///mlflow.db``
in the current directory. Local SQLite URIs are made absolute so that the same string names the same
database from any directory (and in subprocesses).

A *new* SQLite store runs its schema migrations on first use, and several processes doing that at
once can leave the database unusable. :func:`initialize_store` therefore opens a SQLite store for
the first time under a :class:`filelock.FileLock` kept next to the database (``mlflow.db.lock``);
once the schema exists, concurrent writers are fine (MLflow sets a busy timeout). For HTTP servers
it bounds MLflow's retries, which otherwise back off for minutes when the server is down.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from urllib.parse import unquote

from ncaa_eval.model.tracking.errors import TrackingStoreError

#: Retry/timeout bounds applied to HTTP tracking servers unless the user set these variables. With
#: 2 retries, a refused connection fails after about 5 s, a server that accepts but never answers
#: after about 3 x 8 s + back-off, i.e. about 30 s.
HTTP_ENV_DEFAULTS: dict[str, str] = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "8",
}

#: How long to wait for another process that is creating the same SQLite store.
LOCK_TIMEOUT = 120.0

_SQLITE_PREFIX = "sqlite:///"
_ready: set[str] = set()
_ready_guard = threading.Lock()


def resolve_tracking_uri(uri: str | None = None) -> str:
    """Return the tracking URI to use.

    Args:
        uri: An explicit URI (e.g. from ``--tracking-uri``); empty or None means "not given".

    Returns:
        ``uri``, else MLflow's current tracking URI (``mlflow.set_tracking_uri``, then the
        ``MLFLOW_TRACKING_URI`` variable, then MLflow's default). A relative local SQLite path is
        made absolute against the current directory.
    """
    if not uri:
        import mlflow

        uri = str(mlflow.get_tracking_uri())
    db = sqlite_path(uri)
    if db is not None and not db.is_absolute():
        query = uri.partition("?")[2]
        uri = _SQLITE_PREFIX + db.resolve().as_posix() + (f"?{query}" if query else "")
    return uri


def sqlite_path(uri: str) -> Path | None:
    """The database file of a local ``sqlite:///`` URI, or None for other stores and in-memory."""
    if not uri.startswith(_SQLITE_PREFIX):
        return None
    raw = unquote(uri[len(_SQLITE_PREFIX) :].partition("?")[0])
    if not raw or raw == ":memory:":
        return None
    return Path(raw)


def is_http_uri(uri: str) -> bool:
    """Tell whether ``uri`` names an MLflow tracking server over HTTP(S)."""
    return uri.lower().startswith(("http://", "https://"))


def bound_http_retries() -> None:
    """Apply :data:`HTTP_ENV_DEFAULTS` to the process environment, keeping any value already set.

    MLflow reads these variables at each request, so this takes effect for later requests.
    """
    for name, value in HTTP_ENV_DEFAULTS.items():
        os.environ.setdefault(name, value)


def initialize_store(uri: str, *, lock_timeout: float = LOCK_TIMEOUT) -> None:
    """Open the store at ``uri`` once per process, creating and migrating it safely if new.

    Safe to call from several processes and threads at once, and cheap after the first call.

    Args:
        uri: A resolved tracking URI (see :func:`resolve_tracking_uri`).
        lock_timeout: Seconds to wait for another process creating the same SQLite store.

    Raises:
        TrackingStoreError: The store cannot be created, opened or reached; the message names the
            URI.
    """
    if uri in _ready:
        return
    with _ready_guard:
        if uri in _ready:
            return
        db = sqlite_path(uri)
        if db is not None:
            from filelock import FileLock, Timeout

            try:
                db.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise TrackingStoreError(
                    f"Cannot create the folder of the MLflow store {uri}: {exc}"
                ) from exc
            _preload_sqlalchemy_store()
            lock_path = db.with_name(db.name + ".lock")
            try:
                with FileLock(str(lock_path), timeout=lock_timeout):
                    _touch(uri)
            except Timeout as exc:
                raise TrackingStoreError(
                    f"Timed out after {lock_timeout:.0f} s waiting for {lock_path} while opening "
                    f"the MLflow store {uri}; if no other ncaa-eval process is running, "
                    "delete the lock file"
                ) from exc
        else:
            if is_http_uri(uri):
                bound_http_retries()
            _touch(uri)
        _ready.add(uri)


def _preload_sqlalchemy_store() -> None:
    """Import MLflow's SQL store before taking the lock (about 1 s), so that processes waiting on
    a store being created do not then import it one after the other while holding the lock."""
    import contextlib
    import importlib

    # An internal module path, so a failure only loses the optimisation.
    with contextlib.suppress(ImportError):
        importlib.import_module("mlflow.store.tracking.sqlalchemy_store")


def _touch(uri: str) -> None:
    """Make MLflow open the store, which creates and migrates a new SQLite database."""
    from mlflow.tracking import MlflowClient

    try:
        MlflowClient(tracking_uri=uri).search_experiments(max_results=1)
    except Exception as exc:  # MLflow, SQLAlchemy, requests and OS errors alike
        if is_http_uri(uri):
            what = "Cannot reach the MLflow tracking server at"
            fix = "start the server or pass another --tracking-uri / MLFLOW_TRACKING_URI"
            reason = _http_reason(exc)
        else:
            what = "Cannot open the MLflow tracking store"
            fix = "check the URI (e.g. sqlite:///mlflow.db) or set MLFLOW_TRACKING_URI"
            reason = one_line(exc)
        raise TrackingStoreError(f"{what} {uri} ({reason}); {fix}") from exc


_HTTP_REASONS = (
    ("refused", "connection refused"),
    ("timed out", "timed out"),
    ("Name or service not known", "unknown host"),
    ("nodename nor servname", "unknown host"),
    ("No route to host", "no route to host"),
    ("CERTIFICATE_VERIFY_FAILED", "TLS certificate not trusted"),
)


def _http_reason(exc: BaseException) -> str:
    """A short cause for a failed request; MLflow's own message runs to several hundred chars."""
    text = str(exc)
    for needle, reason in _HTTP_REASONS:
        if needle.lower() in text.lower():
            return reason
    return one_line(exc, 160)


def one_line(exc: BaseException, limit: int = 200) -> str:
    """The first line of an exception's message, shortened to ``limit`` characters."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."
