"""Finding a run or a store before reading it: one line, and nothing created on the way.

* :func:`store_is_missing`, :func:`require_store`: a local SQLite store that does not exist yet
  (reading it through MLflow would create and migrate an empty database);
* :func:`resolve_run`: the one resolver of the commands: a full run id anywhere in the store, a
  unique prefix in the experiment (runs that record a forecast's output never match).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ncaa_eval.tracking.errors import RunNotFoundError, TrackingStoreError
from ncaa_eval.tracking.records import is_run_id
from ncaa_eval.tracking.search import shown
from ncaa_eval.tracking.uri import sqlite_path

if TYPE_CHECKING:
    from ncaa_eval.tracking.store import RunStore


def store_is_missing(store: RunStore) -> bool:
    """Tell whether ``store`` is a local SQLite database that does not exist (so holds no runs).

    Reading such a store through MLflow would create and migrate an empty database first.
    """
    db = sqlite_path(store.tracking_uri)
    return db is not None and not db.is_file()


def require_store(store: RunStore) -> None:
    """Refuse, in one line, a local store that does not exist (instead of creating it).

    Raises:
        TrackingStoreError: ``store`` is a SQLite file that is not there.
    """
    if store_is_missing(store):
        raise TrackingStoreError(
            f"There is no MLflow store at {store.tracking_uri} yet; train a model first or pass "
            "--tracking-uri / MLFLOW_TRACKING_URI."
        )


def resolve_run(store: RunStore, prefix: str) -> str:
    """The full run id a unique prefix (4+ hex characters) or full id names.

    Raises:
        RunNotFoundError: The store does not exist, the prefix is malformed or matches no run.
        AmbiguousRunIdError: The prefix matches several runs.
    """
    if store_is_missing(store):
        raise RunNotFoundError(
            f"No run {shown(prefix)}: there is no MLflow store at {store.tracking_uri} yet; "
            "train a model first or pass --tracking-uri / MLFLOW_TRACKING_URI."
        )
    text = prefix.strip().lower() if isinstance(prefix, str) else ""
    if is_run_id(text):
        # A full run id names one run in the whole store, whatever its experiment.
        return str(store.get_run(text).info.run_id)
    return store.resolve_run_id(prefix)
