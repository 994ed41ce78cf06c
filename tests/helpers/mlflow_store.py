"""Real MLflow SQLite stores for tests, fast: migrate once per session, copy the file per test.

Creating a SQLite store runs MLflow's migrations (1-2 s); copying a migrated database takes under a
millisecond. This is the pattern of MLflow's own test suite. Use from a ``conftest.py``::

    @pytest.fixture(scope="session")
    def mlflow_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
        with scratch_dir(tmp_path_factory.mktemp("mlflow-template")) as directory:
            yield migrate_template(directory)

    @pytest.fixture
    def tracking_uri(mlflow_template, tmp_path, monkeypatch) -> Iterator[str]:
        uri = use_store_copy(mlflow_template, tmp_path, monkeypatch)
        yield uri
        assert_no_active_run()
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

#: Variables that `mlflow run` or a developer's shell may set and that would steer a test's runs.
MLFLOW_ENV_VARS = (
    "MLFLOW_TRACKING_URI",
    "MLFLOW_RUN_ID",
    "MLFLOW_EXPERIMENT_ID",
    "MLFLOW_EXPERIMENT_NAME",
)


#: A RAM-backed folder, where SQLite's many commits during MLflow's migrations cost no disk syncs.
_TMPFS = Path("/dev/shm")


@contextmanager
def scratch_dir(fallback: Path) -> Iterator[Path]:
    """A temporary folder on tmpfs when the machine has one (creating a store there takes about
    half the time), else ``fallback``; the tmpfs folder is removed afterwards."""
    try:
        if shutil.disk_usage(_TMPFS).free < 256 * 2**20:
            raise OSError("tmpfs nearly full")
        directory = tempfile.mkdtemp(prefix="ncaa-eval-test-", dir=_TMPFS)
    except OSError:  # no /dev/shm (macOS, Windows), not writable, or full
        yield fallback
        return
    try:
        yield Path(directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def sqlite_uri(db: Path) -> str:
    """The ``sqlite:///`` URI of a database file (absolute)."""
    return f"sqlite:///{db.resolve().as_posix()}"


def migrate_template(directory: Path) -> Path:
    """Create and migrate an MLflow SQLite database in ``directory``; return its path.

    The Default experiment's artifact location is fixed when the database is created, relative to
    the store's artifact root, so it is pointed inside ``directory`` rather than the cwd.
    """
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    db = directory / "template.db"
    artifact_root = (directory / "mlruns").as_posix()
    store = SqlAlchemyStore(sqlite_uri(db), artifact_root)  # type: ignore[no-untyped-call]
    store.search_experiments()  # type: ignore[no-untyped-call]
    # Release the file so that copies see a quiescent, fully written database.
    store.engine.dispose()
    return db


def use_store_copy(template: Path, directory: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Copy ``template`` into ``directory`` and make it this test's default store.

    Clears the MLflow variables a shell or ``mlflow run`` may have set, points
    ``MLFLOW_TRACKING_URI`` at the copy and changes into ``directory`` so that anything relative
    to the cwd (``./mlruns``, ``./mlflow.db``) stays inside it. All undone by ``monkeypatch``.

    Returns:
        The copy's tracking URI.
    """
    db = directory / "mlflow.db"
    shutil.copyfile(template, db)
    uri = sqlite_uri(db)
    for name in MLFLOW_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(directory)
    return uri


def assert_no_active_run() -> None:
    """Fail if a test left an MLflow fluent run active (without importing mlflow if unused)."""
    if "mlflow" not in sys.modules:
        return
    import mlflow

    run = mlflow.active_run()
    if run is not None:
        mlflow.end_run("FAILED")
        pytest.fail(f"The test left MLflow run {run.info.run_id} active.")


def load_model_without_pickle(tracking_uri: str, model_uri: str) -> Any:
    """Load an MLflow Model as a user would, with pickle refused (models from code only).

    MLflow resolves a logged model behind ``runs:/`` and ``models:/`` with the global tracking
    URI, so it is set for the call.
    """
    from unittest import mock

    import mlflow.pyfunc
    from mlflow.tracking._tracking_service.utils import _use_tracking_uri

    with (
        mock.patch.dict(os.environ, {"MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "false"}),
        _use_tracking_uri(tracking_uri),
    ):
        return mlflow.pyfunc.load_model(model_uri)
