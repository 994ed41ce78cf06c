"""Where a study lives: Optuna's journal file on one machine, a database for many.

* No ``--storage``: a journal file, ``optuna.journal`` next to the MLflow store (beside the
  ``mlflow.db`` of a local store; in the current folder for a tracking server). Optuna's journal
  file storage is safe for several processes on one machine (file locks); Optuna itself advises
  against SQLite for parallel workers, so ``sqlite://`` is refused.
* A path (or ``journal:PATH``): a journal file there. Not over NFS: its locks are not safe there.
* ``postgresql://user:password@host/database`` (or ``mysql://...``): Optuna's RDB storage, for
  workers on many machines. Connections are checked before use (``pool_pre_ping``: a connection
  the server dropped while idle is replaced), the first connection gives up after
  :data:`CONNECT_TIMEOUT` seconds, and workers send a heartbeat: a trial whose worker stopped
  beating for three heartbeats (``kill -9``, a lost machine) is marked failed and retried by the
  others (as Optuna's ``RetryHeartbeatStaleTrialCallback`` does, with the same system attributes
  ``failed_trial`` and ``retry_history``, at most :data:`MAX_RETRY` times). Several workers creating
  the tables of an empty database at once can collide (a duplicate ``CREATE TYPE``); opening is
  retried after a short random pause.
"""

from __future__ import annotations

import random
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ncaa_eval.errors import NcaaEvalError
from ncaa_eval.paths import check_writable_dir
from ncaa_eval.tracking.uri import is_http_uri, sqlite_path

if TYPE_CHECKING:
    from optuna import Study
    from optuna.storages import BaseStorage
    from optuna.trial import FrozenTrial

#: File name of the default journal, next to the MLflow store.
JOURNAL_NAME = "optuna.journal"
#: Seconds the first connection to a database may take before the URL is called unreachable.
CONNECT_TIMEOUT = 5
#: Default seconds between a worker's heartbeats on a database (the grace period is 3x).
HEARTBEAT_SECONDS = 10
#: How many times a failed trial (a dead worker's) is retried.
MAX_RETRY = 3
_OPEN_ATTEMPTS = 6
_RDB_SCHEMES = ("postgresql", "mysql")


class StorageError(NcaaEvalError):
    """The Optuna storage URL is wrong or cannot be reached."""


@dataclass(frozen=True)
class StorageSpec:
    """A resolved ``--storage``: what kind, the URL or path, and a form safe to print."""

    kind: Literal["journal", "rdb"]
    url: str
    heartbeat: int = HEARTBEAT_SECONDS

    @property
    def shown(self) -> str:
        """The URL with any password masked."""
        return mask_password(self.url)

    @property
    def has_heartbeat(self) -> bool:
        """Whether dead workers' trials are detected (databases only)."""
        return self.kind == "rdb"

    def open(self) -> BaseStorage:
        """Open the storage (creating a journal file or a database's tables if new).

        Raises:
            StorageError: the database cannot be reached or refuses us, or a driver is missing.
        """
        if self.kind == "journal":
            return _open_journal(Path(self.url))
        return _open_rdb(self)


def resolve_storage(
    storage: str | None, tracking_uri: str, heartbeat: int = HEARTBEAT_SECONDS
) -> StorageSpec:
    """Turn ``--storage`` into a :class:`StorageSpec` (nothing is opened).

    Raises:
        StorageError: an unsupported scheme (SQLite, HTTP, ...) or an unusable journal folder.
    """
    if not storage:
        return _journal(default_journal(tracking_uri), heartbeat)
    if storage.startswith("journal:"):
        return _journal(Path(storage.removeprefix("journal:")), heartbeat)
    scheme = storage.partition("://")[0].lower() if "://" in storage else ""
    if not scheme:
        return _journal(Path(storage), heartbeat)
    base = scheme.partition("+")[0]
    if base in _RDB_SCHEMES:
        return StorageSpec("rdb", storage, heartbeat)
    if base == "sqlite":
        raise StorageError(
            f"--storage {mask_password(storage)}: SQLite is not safe for parallel workers "
            "(Optuna advises against it); give a journal file path for one machine or a "
            "postgresql:// URL for many."
        )
    raise StorageError(
        f"--storage {mask_password(storage)}: unsupported scheme '{scheme}'; give a journal file "
        "path (one machine) or postgresql://user:password@host/database (many machines)."
    )


def default_journal(tracking_uri: str) -> Path:
    """``optuna.journal`` beside the MLflow store: its database's folder, else the cwd."""
    db = sqlite_path(tracking_uri)
    if db is not None:
        return db.parent / JOURNAL_NAME
    if tracking_uri.startswith("file:"):
        return Path(re.sub(r"^file:(//)?", "", tracking_uri)).parent / JOURNAL_NAME
    if not is_http_uri(tracking_uri) and "://" not in tracking_uri:
        return Path(tracking_uri).parent / JOURNAL_NAME
    return Path.cwd() / JOURNAL_NAME


def mask_password(url: str) -> str:
    """``scheme://user:***@host/db`` for a URL holding a password; anything else as is."""
    return re.sub(r"(://[^:/@]+:)[^@/]*@", r"\1***@", url)


def _journal(path: Path, heartbeat: int) -> StorageSpec:
    path = path.expanduser()
    if path.is_dir():
        raise StorageError(
            f"--storage '{path}' is a folder; give a file path such as {path / JOURNAL_NAME}."
        )
    return StorageSpec("journal", str(path.resolve()), heartbeat)


def _open_journal(path: Path) -> BaseStorage:
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    check_writable_dir(path.parent, "--storage")
    path.parent.mkdir(parents=True, exist_ok=True)
    return JournalStorage(JournalFileBackend(str(path)))


def _open_rdb(spec: StorageSpec) -> BaseStorage:
    import warnings

    import optuna
    import sqlalchemy.exc

    engine_kwargs: dict[str, object] = {"pool_pre_ping": True}
    if spec.url.lower().startswith(("postgresql", "mysql")):
        engine_kwargs["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT}
    last: Exception | None = None
    for attempt in range(_OPEN_ATTEMPTS):
        try:
            # Heartbeats are "experimental" in Optuna: its warning would precede our output.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(
                    spec.url,
                    engine_kwargs=engine_kwargs,
                    heartbeat_interval=spec.heartbeat,
                    grace_period=3 * spec.heartbeat,
                    heartbeat_stale_trial_callback=retry_stale_trial,
                )
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError) as exc:
            # Another worker is creating the same tables: let it finish, then open again.
            if "already exists" not in str(exc) and "duplicate key" not in str(exc):
                raise _unreachable(spec, exc) from exc
            last = exc
            time.sleep(0.2 + random.random() * (attempt + 1))
        except (sqlalchemy.exc.SQLAlchemyError, ModuleNotFoundError, ValueError) as exc:
            raise _unreachable(spec, exc) from exc
    assert last is not None
    raise _unreachable(spec, last) from last


#: Trial user attributes a retry keeps; the others (the dead worker's pid, its MLflow run) were
#: the failed attempt's own.
KEPT_ON_RETRY = ("defaults",)


def retry_user_attrs(trial: FrozenTrial) -> dict[str, Any]:
    """The user attributes of a retry of ``trial``: ``retry_of`` plus :data:`KEPT_ON_RETRY`."""
    attrs: dict[str, Any] = {k: trial.user_attrs[k] for k in KEPT_ON_RETRY if k in trial.user_attrs}
    attrs["retry_of"] = trial.number
    return attrs


def retry_stale_trial(study: Study, trial: FrozenTrial) -> None:
    """Optuna's ``RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY)``, without copying the
    dead attempt's own user attributes: a copied ``worker`` would make the retry look like a dead
    local worker's trial while its new worker starts it."""
    import optuna

    system_attrs: dict[str, Any] = {
        "failed_trial": trial.number,
        "retry_history": [],
        **trial.system_attrs,
    }
    system_attrs["retry_history"].append(trial.number)
    if len(system_attrs["retry_history"]) > MAX_RETRY:
        return
    study.add_trial(
        optuna.create_trial(
            state=optuna.trial.TrialState.WAITING,
            params=trial.params,
            distributions=trial.distributions,
            user_attrs=retry_user_attrs(trial),
            system_attrs=system_attrs,
        )
    )


def _unreachable(spec: StorageSpec, exc: BaseException) -> StorageError:
    if isinstance(exc, ModuleNotFoundError):
        return StorageError(
            f"--storage {spec.shown}: the database driver '{exc.name}' is not installed; "
            "install it with `pip install 'ncaa-eval[postgres]'`."
        )
    detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    first = detail[0] if detail else type(exc).__name__
    first = first.replace(spec.url, spec.shown)
    return StorageError(
        f"Optuna storage {spec.shown} cannot be used ({first}); check the URL, that the "
        "database exists and that its server is up."
    )
