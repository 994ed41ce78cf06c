"""Fixtures for the tracking tests: a real, per-test MLflow SQLite store under ``tmp_path``."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest

from ncaa_eval.tracking import (
    PREDICTION_DTYPES,
    ModelRun,
    RunStore,
    flatten_params,
    predictions_to_table,
)
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
        return as_stored(store, record)

    return factory


def as_stored(store: RunStore, record: ModelRun) -> ModelRun:
    """``record`` as the store keeps it: its timestamp is the run's start time (milliseconds)."""
    start = store.client.get_run(record.run_id).info.start_time
    return record.model_copy(update={"timestamp": datetime.fromtimestamp(start / 1000, tz=UTC)})


def save_legacy_run(store: RunStore, **overrides: Any) -> ModelRun:
    """A run as ncaa-eval saved them before each fact was kept once (record format 1): the run's
    identity as params and tags, a ``git_hash`` tag, and ``run.json`` and ``config.json``."""
    from mlflow.entities import Param, RunTag

    experiment_id = store._get_experiment_id(create=True)
    assert experiment_id is not None
    client = store.client
    run_id = client.create_run(
        experiment_id, run_name=overrides.get("run_name", "elo-old")
    ).info.run_id
    record = make_record(run_id, **{"run_name": "elo-old", **overrides})
    identity = {
        "model_type": record.model_type,
        "start_year": str(record.start_year),
        "end_year": str(record.end_year),
        "league": record.league,
    }
    params = {**identity, **flatten_params(record.hyperparameters)}
    client.log_batch(run_id, params=[Param(k, v) for k, v in params.items()])
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "config.json").write_text(json.dumps(record.hyperparameters))
        (folder / "run.json").write_text(record.model_dump_json())
        table = predictions_to_table(make_frame(run_id, record.prediction_count), run_id=run_id)
        pq.write_table(table, folder / "predictions.parquet")
        client.log_artifacts(run_id, tmp)
    tags = {
        "git_hash": record.git_hash,
        "git_dirty": str(record.git_dirty).lower(),
        **identity,
        "ncaa_eval_version": record.ncaa_eval_version,
        "prediction_count": str(record.prediction_count),
        "mlflow.source.git.commit": record.git_hash,
        "data_digest": str(record.data_digest),
        "ncaa_eval_records": "1",
    }
    client.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])
    client.set_terminated(run_id)
    return record
