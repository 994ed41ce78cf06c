"""Fixtures for the tracking tests: a real, per-test MLflow SQLite store under ``tmp_path``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from ncaa_eval.tracking import PREDICTION_DTYPES, ModelRun, RunStore
from tests.helpers.mlflow_store import (
    assert_no_active_run,
    migrate_template,
    scratch_dir,
    use_store_copy,
)

GIT_HASH = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture(scope="session")
def mlflow_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with scratch_dir(tmp_path_factory.mktemp("mlflow-template")) as directory:
        yield migrate_template(directory)


@pytest.fixture
def tracking_uri(
    mlflow_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    uri = use_store_copy(mlflow_template, tmp_path, monkeypatch)
    yield uri
    assert_no_active_run()


@pytest.fixture
def store(tracking_uri: str) -> RunStore:
    return RunStore()


def make_record(run_id: str, **overrides: Any) -> ModelRun:
    """A valid ModelRun for ``run_id``; keyword arguments replace fields."""
    fields: dict[str, Any] = {
        "run_id": run_id,
        "model_type": "elo",
        "hyperparameters": {"k": 20.0, "home_advantage": 100, "decay": {"rate": 0.25}, "ids": [1]},
        "timestamp": datetime(2025, 3, 18, 12, 0, tzinfo=UTC),
        "git_hash": GIT_HASH,
        "git_dirty": False,
        "start_year": 2015,
        "end_year": 2024,
        "prediction_count": 3,
        "league": "M",
        "run_name": "elo-test",
        "data_digest": "abc123",
    }
    fields.update(overrides)
    return ModelRun(**fields)


def make_frame(run_id: str, rows: int = 3) -> pd.DataFrame:
    """Predictions with exactly the dtypes load_predictions returns."""
    won: list[bool | None] = [True, False, None]
    return pd.DataFrame(
        {
            "run_id": [run_id] * rows,
            "game_id": [f"2024_{1100 + i}_{1200 + i}" for i in range(rows)],
            "season": [2024] * rows,
            "team_a_id": [1100 + i for i in range(rows)],
            "team_b_id": [1200 + i for i in range(rows)],
            "pred_win_prob": [(i % 100) / 100 for i in range(rows)],
            "team_a_won": [won[i % 3] for i in range(rows)],
        }
    ).astype(PREDICTION_DTYPES)


SavedRun = Callable[..., ModelRun]


@pytest.fixture
def saved_run(store: RunStore) -> SavedRun:
    """Factory: start a run, save a record (fields overridable) with 3 predictions, return it."""

    def factory(**overrides: Any) -> ModelRun:
        with store.start_run(run_name=overrides.get("run_name", "elo-test")) as run_id:
            record = make_record(run_id, **overrides)
            store.save_run(record, make_frame(run_id, record.prediction_count))
        return record

    return factory
