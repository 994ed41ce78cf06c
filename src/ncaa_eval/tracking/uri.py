"""Which MLflow tracking store to use, and opening it safely the first time.

Resolution order is MLflow's own: an explicit URI, else ``MLFLOW_TRACKING_URI`` (or a URI set with
``mlflow.set_tracking_uri``), else MLflow's default, which in MLflow 3.7+ is ``sqlite:///mlflow.db``
in the current directory. Local SQLite URIs are made absolute so that the same string names the same
database from any directory (and in subprocesses).

A *new* SQLite store runs its schema migrations on first use, and several processes doing that at
once can leave the database unusable. :func:`initialize_store` therefore opens a SQLite store for
the first time under a :class:`filelock.FileLock` kept next to the database (``mlflow.db.lock``);
once the schema exists, concurrent writers are fine (MLflow sets a busy timeout). For HTTP servers
it first checks, with one request and a short connect timeout, that something answers at the URI,
and bounds MLflow's retries, which otherwise back off for minutes when the server is down.

:func:`apply_mlflow_defaults` is the only function of the tracking package that changes the
process environment or a logger's level; it never overrides a value the user set.
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path
from urllib.parse import unquote

from ncaa_eval.tracking.errors import TrackingStoreError, one_line

#: Retry/timeout bounds applied to HTTP tracking servers unless the user set these variables. With
#: 2 retries, a request to a server that went down fails after about 5 s (refused) and at worst
#: after 3 x 8 s + back-off (a server that accepts but never answers).
HTTP_ENV_DEFAULTS: dict[str, str] = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "8",
}

#: Seconds to wait for the TCP (and TLS) connection of the first request to a server. MLflow's
#: timeout covers connect and read alike, so an address that drops packets (a stopped VM, a
#: firewall, a wrong IP) would otherwise cost 3 x 8 s + back-off before anything is said.
HTTP_CONNECT_TIMEOUT = 5.0

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


def apply_mlflow_defaults(uri: str) -> None:
    """Set ncaa-eval's process-wide defaults for MLflow: the one place the tracking package
    changes ``os.environ`` or a logger's level.

    Called by :func:`initialize_store`, on the first use of a store. Nothing a user set is
    overridden: a variable already set keeps its value (``os.environ.setdefault``), a logger
    with a level of its own keeps it.

    * ``MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT=true``: MLflow otherwise prints "View run ... at:
      URL" on stdout when a run on a server ends, after our summary and inside ``--json``
      output.
    * ``MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR=false``: with ``tqdm`` installed (Optuna brings it)
      MLflow draws a "Downloading artifacts" bar on stderr for every artifact read, around our
      one-line errors and progress.
    * The loggers ``mlflow.store.db.utils`` and ``alembic.runtime.migration`` at WARNING: they
      log "Creating initial MLflow database tables..." at INFO on a new SQLite store.
    * For an HTTP(S) ``uri``, :data:`HTTP_ENV_DEFAULTS` (MLflow reads them at each request).
    """
    import logging

    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    for name in ("mlflow.store.db.utils", "alembic.runtime.migration"):
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.WARNING)
    if is_http_uri(uri):
        bound_http_retries()


def bound_http_retries() -> None:
    """Apply :data:`HTTP_ENV_DEFAULTS`, keeping any value already set (by
    :func:`apply_mlflow_defaults`)."""
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
        apply_mlflow_defaults(uri)
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
                probe_http_server(uri)
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


def probe_http_server(uri: str, connect_timeout: float = HTTP_CONNECT_TIMEOUT) -> None:
    """Fail fast, in one request and without retries, when nothing answers at ``uri``.

    Any HTTP answer counts (even 401 or 404: MLflow's own request then says what is wrong), and so
    does a TLS failure, which MLflow may accept with its own settings
    (``MLFLOW_TRACKING_INSECURE_TLS``, ``MLFLOW_TRACKING_SERVER_CERT_PATH``). Proxy variables
    apply as they do to MLflow's requests.

    Raises:
        TrackingStoreError: The connection is refused, the host is unknown, the connection or the
            answer times out; the message names the URI and the fix.
    """
    import requests

    try:
        read_timeout = float(os.environ.get("MLFLOW_HTTP_REQUEST_TIMEOUT") or "")
    except ValueError:
        read_timeout = float(HTTP_ENV_DEFAULTS["MLFLOW_HTTP_REQUEST_TIMEOUT"])
    try:
        response = requests.get(
            f"{uri.rstrip('/')}/health",
            timeout=(connect_timeout, read_timeout),
            allow_redirects=False,
            stream=True,
        )
        response.close()
    except requests.exceptions.SSLError:
        return
    except requests.exceptions.ConnectTimeout as exc:
        raise _unreachable(uri, f"no connection within {connect_timeout:g} s") from exc
    except requests.exceptions.ReadTimeout as exc:
        raise _unreachable(uri, f"no answer within {read_timeout:g} s") from exc
    except requests.exceptions.RequestException as exc:
        raise _unreachable(uri, _http_reason(exc)) from exc


def _unreachable(uri: str, reason: str) -> TrackingStoreError:
    return TrackingStoreError(
        f"Cannot reach the MLflow tracking server at {uri} ({reason}); start the server "
        "(see the README, Team tracking server) or pass another --tracking-uri / "
        "MLFLOW_TRACKING_URI"
    )


def _touch(uri: str) -> None:
    """Make MLflow open the store, which creates and migrates a new SQLite database."""
    from mlflow.tracking import MlflowClient

    try:
        MlflowClient(tracking_uri=uri).search_experiments(max_results=1)
    except Exception as exc:  # MLflow, SQLAlchemy, requests and OS errors alike
        if is_http_uri(uri):
            status = _HTTP_STATUS.search(str(exc))
            if status is not None and status.group(1) in _STATUS_FIXES:
                raise TrackingStoreError(
                    f"The server at {uri} answered HTTP {status.group(1)}: "
                    f"{_STATUS_FIXES[status.group(1)]}"
                ) from exc
            raise _unreachable(uri, _http_reason(exc)) from exc
        raise TrackingStoreError(
            f"Cannot open the MLflow tracking store {uri} ({one_line(exc)}); check the URI "
            "(e.g. sqlite:///mlflow.db) or set MLFLOW_TRACKING_URI"
        ) from exc


_HTTP_STATUS = re.compile(r"error code (\d{3})")
_STATUS_FIXES = {
    "401": "set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (or MLFLOW_TRACKING_TOKEN)",
    "403": "this user may not use it; check MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_TOKEN",
    "404": "it is not an MLflow tracking server; check the host, port and path in "
    "--tracking-uri / MLFLOW_TRACKING_URI",
}

_HTTP_REASONS = (
    ("refused", "connection refused"),
    ("Temporary failure in name resolution", "unknown host"),
    ("Failed to resolve", "unknown host"),
    # urllib3's words once MLflow's retries on 500/502/503/504 answers run out.
    ("too many 50", "it answers HTTP 5xx errors; see the server's log"),
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
