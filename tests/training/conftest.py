"""Fixtures for the orchestrator tests: a real MLflow store per test, copied from one template."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.mlflow_store import assert_no_active_run, use_store_copy
from tests.training.tracking_checks import shared_template


@pytest.fixture(scope="session")
def mlflow_template(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    return shared_template(request.config, tmp_path_factory)


@pytest.fixture
def tracking_uri(
    mlflow_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """This test's store, also its MLFLOW_TRACKING_URI; the cwd is ``tmp_path``."""
    monkeypatch.delenv("NCAA_EVAL_DATA_DIR", raising=False)
    uri = use_store_copy(mlflow_template, tmp_path, monkeypatch)
    yield uri
    assert_no_active_run()
