"""A run's life: create it (or join the one ``mlflow run`` made), and end it with a status.

:func:`tracked_run` is the body of :meth:`RunStore.start_run
<ncaa_eval.tracking.RunStore.start_run>`; signal handling is the caller's (see
:mod:`ncaa_eval.tracking.signals`).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING

from ncaa_eval.tracking.errors import TrackingStoreError, one_line, store_errors
from ncaa_eval.tracking.signals import RunSignals, RunTerminated

if TYPE_CHECKING:
    from ncaa_eval.tracking.store import RunStore

logger = logging.getLogger(__name__)

#: Exit statuses of a process unwinding from Ctrl-C (130) or SIGTERM (143).
_SIGNAL_EXITS = (128 + signal.SIGINT, 128 + signal.SIGTERM)

#: ``MLFLOW_RUN_ID`` values this process joined already: the variable is left as it is (the
#: library does not edit the environment), and a later run in the process is a new one.
_joined: set[str] = set()
_joined_guard = threading.Lock()


def env_run_id() -> str | None:
    """The run ``mlflow run`` handed over in ``MLFLOW_RUN_ID``, unless this process joined it."""
    run_id = os.environ.get("MLFLOW_RUN_ID") or None
    with _joined_guard:
        return None if run_id in _joined else run_id


@contextmanager
def tracked_run(
    store: RunStore,
    run_name: str | None,
    params: Mapping[str, str],
    tags: Mapping[str, str],
    signals: RunSignals | None,
) -> Iterator[str]:
    """Create or join a run, yield its id, and end it FINISHED, FAILED or KILLED.

    With ``signals``, a signal that comes while the run is being created is held until the run
    exists and its clean-up is in place, then raised, so the run still ends KILLED.
    """
    # Open the store and the experiment before signals are held back: that can take seconds
    # (a new SQLite store, a slow server) and no run exists yet, so Ctrl-C must act at once.
    store.client  # noqa: B018 - opens (or creates) the store
    if env_run_id() is None:
        store._get_experiment_id(create=True)
    if signals is not None:
        signals.hold()
    try:
        run_id = begin_run(store, run_name, dict(tags))
    except BaseException as exc:
        if signals is not None:
            signals.release(raise_noted=False)
            interrupted = signals.pending()
            if interrupted is not None:
                raise interrupted from exc
        raise
    status = "FINISHED"
    store._signals = signals
    try:
        if signals is not None:
            signals.release()  # raises a signal noted while the run was created
        if params:
            store.log_params(run_id, params)
        yield run_id
    except (RunTerminated, KeyboardInterrupt):
        status = "KILLED"
        raise
    except SystemExit as exc:
        if exc.code in (0, None):
            status = "FINISHED"
        else:
            status = "KILLED" if exc.code in _SIGNAL_EXITS else "FAILED"
        raise
    except BaseException:
        status = "FAILED"
        raise
    finally:
        try:
            end_run(store, run_id, status, quiet=status != "FINISHED")
        except (RunTerminated, KeyboardInterrupt):
            # SIGTERM or Ctrl-C arrived while ending the run: record that instead.
            end_run(store, run_id, "KILLED", quiet=True)
            raise
        finally:
            store._signals = None


def begin_run(store: RunStore, run_name: str | None, tags: dict[str, str]) -> str:
    """Join the run of ``MLFLOW_RUN_ID`` (set RUNNING again, renamed, tagged) or create one.

    Raises:
        RunNotFoundError: ``MLFLOW_RUN_ID`` is malformed or names no run in the store.
        TrackingStoreError: The store cannot be written.
    """
    from mlflow.entities import RunTag

    client = store.client
    joining = env_run_id()
    with store_errors(f"Cannot start an MLflow run in {store.tracking_uri}"):
        if joining is not None:
            run_id = store._check_id(joining, source="MLFLOW_RUN_ID")
            run = store._get_run(run_id, source="MLFLOW_RUN_ID")
            client.update_run(run_id, status="RUNNING", name=run_name)
            if tags:
                client.log_batch(run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])
            with _joined_guard:
                _joined.add(run_id)
            own = store._get_experiment_id(create=False)
            store.run_experiment_id = str(run.info.experiment_id)
            if own != run.info.experiment_id:
                joined = client.get_experiment(run.info.experiment_id)
                store.run_experiment = joined.name if joined is not None else "?"
                logger.warning(
                    "Run %s (from MLFLOW_RUN_ID) is in experiment %s, not in '%s'; "
                    "list_runs will not show it. Pass --experiment-name %s to `mlflow run`.",
                    run_id,
                    run.info.experiment_id,
                    store.experiment,
                    store.experiment,
                )
            return run_id
        from mlflow.tracking.context.registry import resolve_tags

        experiment_id = store._get_experiment_id(create=True)
        assert experiment_id is not None
        store.run_experiment, store.run_experiment_id = store.experiment, experiment_id
        if run_name:
            tags["mlflow.runName"] = run_name
        created = client.create_run(experiment_id, tags=resolve_tags(tags), run_name=run_name)
        return str(created.info.run_id)


def end_run(store: RunStore, run_id: str, status: str, *, quiet: bool) -> None:
    """Mark the run ``status``; when ``quiet`` (another error is on its way) only log a failure."""
    try:
        store.client.set_terminated(run_id, status=status)
    except Exception as exc:
        if not quiet:
            raise TrackingStoreError(
                f"Cannot mark run {run_id} {status} in {store.tracking_uri}: {one_line(exc)}"
            ) from exc
        # Another error is already propagating; do not hide it behind this one.
        logger.warning("Could not mark run %s %s: %s", run_id, status, one_line(exc))
