"""RunStore against a real MLflow SQLite store: runs, records, predictions, listing, export."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest
from mlflow.tracking import MlflowClient

from ncaa_eval.errors import DataValidationError, NcaaEvalError
from ncaa_eval.tracking import (
    PREDICTION_SCHEMA,
    AmbiguousRunIdError,
    ModelRun,
    RunNotFoundError,
    RunStore,
    RunTerminated,
    TrackingStoreError,
    flatten_params,
    run_signals,
    table_to_frame,
)
from ncaa_eval.tracking.uri import sqlite_path
from tests.tracking.conftest import (
    GIT_HASH,
    SavedRun,
    as_stored,
    make_frame,
    make_record,
    save_legacy_run,
)

UNKNOWN_ID = "0" * 32


def _client(store: RunStore) -> MlflowClient:
    return MlflowClient(store.tracking_uri)


# -- start_run -----------------------------------------------------------------------------------


def test_start_run_creates_a_finished_run_with_context_tags(store: RunStore) -> None:
    with store.start_run(run_name="first", tags={"purpose": "test"}) as run_id:
        assert _client(store).get_run(run_id).info.status == "RUNNING"
    run = _client(store).get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "first"
    assert run.data.tags["purpose"] == "test"
    assert "mlflow.user" in run.data.tags
    experiment = _client(store).get_experiment(run.info.experiment_id)
    assert experiment.name == "ncaa-eval"
    db = sqlite_path(store.tracking_uri)
    assert db is not None
    assert run.info.artifact_uri == str(db.parent / "mlruns" / "ncaa-eval" / run_id / "artifacts")


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (ValueError("boom"), "FAILED"),
        (KeyboardInterrupt(), "KILLED"),
        (SystemExit(2), "FAILED"),
        (SystemExit(0), "FINISHED"),
    ],
)
def test_how_the_block_ends_sets_the_run_status(
    store: RunStore, error: BaseException, status: str
) -> None:
    run_ids: list[str] = []

    def train() -> None:
        with store.start_run() as run_id:
            run_ids.append(run_id)
            raise error

    with pytest.raises(type(error)):
        train()
    assert _client(store).get_run(run_ids[0]).info.status == status


def test_sigterm_marks_the_run_killed_and_exits_143(store: RunStore) -> None:
    before = signal.getsignal(signal.SIGTERM)
    run_ids: list[str] = []

    def killed_while_training() -> None:
        with run_signals() as signals, store.start_run(signals=signals) as run_id:
            run_ids.append(run_id)
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler interrupts this at once

    with pytest.raises(RunTerminated) as caught:
        killed_while_training()
    (run_id,) = run_ids
    assert caught.value.code == 128 + signal.SIGTERM
    assert _client(store).get_run(run_id).info.status == "KILLED"
    assert signal.getsignal(signal.SIGTERM) == before


def test_start_run_installs_no_signal_handler(store: RunStore) -> None:
    # Signals belong to the command that owns the process (run_signals), not to the library.
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    with store.start_run():
        assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["sigint", "sigterm"])
def test_a_signal_during_a_store_write_waits_for_the_write(store: RunStore, signum: int) -> None:
    """Ctrl-C inside a database commit could leave SQLite locked and the run RUNNING: a write
    wrapped in ``uninterrupted`` completes, then the signal ends the run KILLED."""
    from mlflow.entities import Param

    run_ids: list[str] = []

    def interrupted_while_writing() -> None:
        with run_signals() as signals, store.start_run(signals=signals) as run_id:
            run_ids.append(run_id)
            with store.uninterrupted():
                os.kill(os.getpid(), signum)
                time.sleep(0.2)  # the signal arrives here, and waits
                store.client.log_batch(run_id, params=[Param("written", "yes")])
            pytest.fail("the signal is raised as soon as the write is done")

    with pytest.raises((KeyboardInterrupt, RunTerminated)):
        interrupted_while_writing()
    (run_id,) = run_ids
    run = _client(store).get_run(run_id)
    assert run.data.params["written"] == "yes"
    assert run.info.status == "KILLED"


def test_joins_the_run_named_by_mlflow_run_id(
    store: RunStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What `mlflow run` does: create the run, then hand its id to the command.
    client = _client(store)
    experiment_id = client.create_experiment("ncaa-eval")
    outer = client.create_run(experiment_id).info.run_id
    monkeypatch.setenv("MLFLOW_RUN_ID", outer)
    with store.start_run(run_name="joined") as run_id:
        assert run_id == outer
        assert os.environ["MLFLOW_RUN_ID"] == outer  # the library leaves the environment alone
    run = client.get_run(outer)
    assert (run.info.status, run.info.run_name) == ("FINISHED", "joined")
    with store.start_run() as second:
        assert second != outer


def test_unknown_mlflow_run_id_is_a_one_line_error(
    store: RunStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_RUN_ID", UNKNOWN_ID)
    with (
        pytest.raises(RunNotFoundError, match=f"No MLFLOW_RUN_ID {UNKNOWN_ID} in"),
        store.start_run(),
    ):
        pass
    monkeypatch.setenv("MLFLOW_RUN_ID", "nonsense")
    with (
        pytest.raises(RunNotFoundError, match="Invalid MLFLOW_RUN_ID 'nonsense'"),
        store.start_run(),
    ):
        pass


# -- save / load ---------------------------------------------------------------------------------


def test_save_then_load_run_returns_what_was_written(store: RunStore, saved_run: SavedRun) -> None:
    record = saved_run()
    assert store.load_run(record.run_id) == record


def test_load_predictions_equals_the_frame_written(store: RunStore) -> None:
    with store.start_run() as run_id:
        frame = make_frame(run_id, 50)
        store.save_run(make_record(run_id, prediction_count=50), frame)
    loaded = store.load_predictions(run_id)
    pd.testing.assert_frame_equal(loaded, frame, check_dtype=True)
    assert loaded["team_a_won"].dtype == "boolean"
    assert loaded["season"].dtype == "int32"


def test_prediction_objects_and_frames_without_run_id_are_accepted(store: RunStore) -> None:
    with store.start_run() as run_id:
        frame = make_frame(run_id).drop(columns="run_id")
        frame["season"] = frame["season"].astype("int64")
        store.save_run(make_record(run_id), frame)
    pd.testing.assert_frame_equal(store.load_predictions(run_id), make_frame(run_id))


def test_params_tags_and_artifacts_are_visible_to_mlflow(
    store: RunStore, saved_run: SavedRun
) -> None:
    record = saved_run()
    client = _client(store)
    run = client.get_run(record.run_id)
    assert run.data.params == {
        "model_type": "elo",
        "start_year": "2015",
        "end_year": "2024",
        "league": "M",
        "k": "20.0",
        "home_advantage": "100",
        "decay.rate": "0.25",
        "ids": "[1]",
    }
    # Tags hold only what no param holds; the run's identity is in the params alone.
    assert {k: v for k, v in run.data.tags.items() if not k.startswith("mlflow.")} == {
        "git_dirty": "false",
        "ncaa_eval_version": record.ncaa_eval_version,
        "prediction_count": "3",
        "data_digest": "abc123",
        "ncaa_eval_records": "2",
    }
    assert run.data.tags["mlflow.source.git.commit"] == GIT_HASH
    assert run.info.run_name == "elo-test"
    names = {a.path for a in client.list_artifacts(record.run_id)}
    assert names == {"config.json", "predictions.csv", "predictions.parquet"}
    folder = Path(client.download_artifacts(record.run_id, "", str(Path.cwd() / "dl")))
    assert json.loads((folder / "config.json").read_text()) == record.hyperparameters
    assert pq.read_schema(folder / "predictions.parquet").equals(PREDICTION_SCHEMA)


def test_mlflow_s_own_git_commit_tag_is_never_overwritten(store: RunStore) -> None:
    mlflow_commit = "f" * 40
    with store.start_run(tags={"mlflow.source.git.commit": mlflow_commit}) as run_id:
        store.save_run(make_record(run_id), make_frame(run_id))
    assert _client(store).get_run(run_id).data.tags["mlflow.source.git.commit"] == mlflow_commit
    assert store.load_run(run_id).git_hash == mlflow_commit
    with store.start_run() as run_id:
        store.save_run(make_record(run_id, git_hash="unknown", git_dirty=None), make_frame(run_id))
    assert "mlflow.source.git.commit" not in _client(store).get_run(run_id).data.tags
    assert store.load_run(run_id).git_hash == "unknown"


def test_saving_twice_with_the_same_values_is_fine(store: RunStore) -> None:
    with store.start_run() as run_id:
        record = make_record(run_id)
        store.save_run(record, make_frame(run_id))
        store.save_run(record, make_frame(run_id))
        changed = make_record(run_id, hyperparameters={"k": 32.0})
        with pytest.raises(TrackingStoreError, match="Changing param values is not allowed"):
            store.save_run(changed, make_frame(run_id))
    assert store.load_run(run_id) == as_stored(store, record)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"prediction_count": 4}, "prediction_count is 4 but 3 predictions"),
        ({"hyperparameters": {"league": "W"}}, "'league' is 'W' but the run's league is 'M'"),
        ({"hyperparameters": {"a.b": 1, "a": {"b": 2}}}, "flatten to the param name 'a.b'"),
    ],
)
def test_invalid_saves_write_nothing(
    store: RunStore, overrides: dict[str, Any], message: str
) -> None:
    with store.start_run() as run_id, pytest.raises(DataValidationError, match=message):
        store.save_run(make_record(run_id, **overrides), make_frame(run_id))
    assert _client(store).get_run(run_id).data.params == {}
    with pytest.raises(RunNotFoundError, match="has no ncaa-eval records"):
        store.load_run(run_id)


def test_save_run_needs_an_existing_run(store: RunStore) -> None:
    with pytest.raises(RunNotFoundError, match=f"No run {UNKNOWN_ID} in the MLflow store"):
        store.save_run(make_record(UNKNOWN_ID), make_frame(UNKNOWN_ID))


def test_load_run_rebuilds_the_record_from_params_tags_and_config(
    store: RunStore, saved_run: SavedRun
) -> None:
    record = saved_run()
    run = _client(store).get_run(record.run_id)
    started = pd.Timestamp(run.info.start_time, unit="ms", tz="UTC").to_pydatetime()
    assert record.timestamp == started
    assert store.load_run(record.run_id) == record
    # Without config.json, hyperparameters come back from the flattened params.
    (Path(run.info.artifact_uri) / "config.json").unlink()
    assert store.load_run(record.run_id).hyperparameters == record.hyperparameters


def test_runs_saved_by_earlier_versions_still_load_list_and_filter(
    store: RunStore, saved_run: SavedRun
) -> None:
    old = save_legacy_run(store)
    time.sleep(0.005)
    old_w = save_legacy_run(store, league="W", model_type="xgboost", hyperparameters={"k": 1})
    time.sleep(0.005)
    new = saved_run()
    # run.json is read as it was written, its own timestamp included.
    assert store.load_run(old.run_id) == old
    assert store.list_runs() == [new, old_w, old]
    assert store.list_runs(model_type="elo") == [new, old]
    assert store.list_runs(league="W") == [old_w]
    assert store.list_runs(start_year=2015, end_year=2024, model_type="xgboost") == [old_w]
    pd.testing.assert_frame_equal(store.load_predictions(old.run_id), make_frame(old.run_id))
    # Without run.json, the old tags (git_hash) fill in what the params do not hold.
    run = _client(store).get_run(old.run_id)
    (Path(run.info.artifact_uri) / "run.json").unlink()
    assert store.load_run(old.run_id) == as_stored(store, old)


def test_a_damaged_record_is_an_error_but_does_not_hide_other_runs(
    store: RunStore, saved_run: SavedRun
) -> None:
    good, damaged, damaged_old = saved_run(), saved_run(), save_legacy_run(store)
    artifacts = Path(_client(store).get_run(damaged.run_id).info.artifact_uri)
    (artifacts / "config.json").write_text('{"k": ')
    old_artifacts = Path(_client(store).get_run(damaged_old.run_id).info.artifact_uri)
    (old_artifacts / "run.json").write_text('{"run_id": "nope"}')
    with pytest.raises(
        DataValidationError, match=f"Run {damaged_old.run_id}: stored record is invalid"
    ):
        store.load_run(damaged_old.run_id)
    with pytest.raises(
        DataValidationError, match=f"Run {damaged.run_id}: stored record is invalid"
    ):
        store.load_run(damaged.run_id)
    assert store.list_runs() == [good]


def test_a_store_that_cannot_be_created_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    store = RunStore(f"sqlite:///{tmp_path / 'file' / 'mlflow.db'}")
    with pytest.raises(TrackingStoreError, match="Cannot create the folder of the MLflow store"):
        store.list_runs()


@pytest.mark.parametrize("bad", ["../../etc", "ABC", "ABCDEF01" * 4, ""])
def test_malformed_ids_are_rejected_before_touching_mlflow(bad: str, tmp_path: Path) -> None:
    # No tracking store exists for this RunStore: a lookup would fail differently.
    store = RunStore("http://127.0.0.1:9")
    for call in (store.load_run, store.load_predictions):
        with pytest.raises(RunNotFoundError, match="a run id is 32 lowercase hex characters"):
            call(bad)
    assert store._client is None


def test_unknown_and_incomplete_runs_are_not_found(store: RunStore) -> None:
    with pytest.raises(RunNotFoundError, match=f"No run {UNKNOWN_ID} in the MLflow store"):
        store.load_run(UNKNOWN_ID)
    with store.start_run() as run_id:
        pass
    with pytest.raises(RunNotFoundError, match=f"Run {run_id} has no ncaa-eval records"):
        store.load_predictions(run_id)
    _client(store).delete_run(run_id)
    with pytest.raises(RunNotFoundError, match="is deleted; restore it"):
        store.load_run(run_id)


# -- list_runs -----------------------------------------------------------------------------------


def test_list_runs_filters_and_orders_newest_first(store: RunStore, saved_run: SavedRun) -> None:
    assert store.list_runs() == []
    elo_m = saved_run()
    time.sleep(0.005)  # distinct millisecond start times
    elo_w = saved_run(league="W", start_year=2020)
    time.sleep(0.005)
    xgb_m = saved_run(model_type="xgboost", run_name="xgb", end_year=2023)
    with store.start_run():  # a run without records is left out
        pass
    # ...even when tagged with a model type from the start, as the orchestrator does.
    with (
        pytest.raises(ValueError, match="crash"),
        store.start_run(params={"model_type": "elo", "league": "M"}),
    ):
        raise ValueError("crash")

    def ids(runs: list[ModelRun]) -> list[str]:
        return [r.run_id for r in runs]

    assert store.list_runs() == [xgb_m, elo_w, elo_m]
    assert ids(store.list_runs(model_type="elo")) == [elo_w.run_id, elo_m.run_id]
    assert ids(store.list_runs(league="M")) == [xgb_m.run_id, elo_m.run_id]
    assert ids(store.list_runs(model_type="elo", league="M")) == [elo_m.run_id]
    assert ids(store.list_runs(start_year=2020)) == [elo_w.run_id]
    assert ids(store.list_runs(end_year=2024)) == [elo_w.run_id, elo_m.run_id]
    assert ids(store.list_runs(max_results=1)) == [xgb_m.run_id]
    assert store.list_runs(model_type="lightgbm") == []
    with pytest.raises(NcaaEvalError, match="Invalid league 'X'"):
        store.list_runs(league="X")
    with pytest.raises(NcaaEvalError, match="Invalid model type"):
        store.list_runs(model_type="x' OR '1'='1")


def test_list_runs_in_another_experiment_is_separate(
    tracking_uri: str, saved_run: SavedRun
) -> None:
    saved_run()
    assert RunStore(experiment="other").list_runs() == []


# -- export --------------------------------------------------------------------------------------


def test_export_writes_run_json_and_predictions(
    store: RunStore, saved_run: SavedRun, tmp_path: Path
) -> None:
    record = saved_run()
    dest = tmp_path / "export"
    folder = store.export(record.run_id, dest)
    assert folder == (dest / "runs" / record.run_id).resolve()
    assert sorted(p.name for p in folder.iterdir()) == ["predictions.parquet", "run.json"]
    assert ModelRun.model_validate_json((folder / "run.json").read_text()) == record
    table = pq.read_table(folder / "predictions.parquet")
    assert table.schema.equals(PREDICTION_SCHEMA)
    pd.testing.assert_frame_equal(table_to_frame(table), make_frame(record.run_id))
    # Exporting again replaces the files in place.
    assert store.export(record.run_id, dest) == folder


@pytest.mark.parametrize("bad", ["../../etc", "../" + "0" * 29, "/etc/passwd", "a" * 31 + "/"])
def test_export_with_a_malicious_id_writes_nothing(
    store: RunStore, tmp_path: Path, bad: str
) -> None:
    dest = tmp_path / "export"
    with pytest.raises(RunNotFoundError, match="Invalid run id"):
        store.export(bad, dest)
    assert not dest.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mlflow.db"]


def test_export_of_an_unknown_run_writes_nothing(store: RunStore, tmp_path: Path) -> None:
    with pytest.raises(RunNotFoundError):
        store.export(UNKNOWN_ID, tmp_path / "export")
    assert not (tmp_path / "export").exists()


def test_export_refuses_a_symlink_leading_outside(
    store: RunStore, saved_run: SavedRun, tmp_path: Path
) -> None:
    record = saved_run()
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "export" / "runs").mkdir(parents=True)
    (tmp_path / "export" / "runs" / record.run_id).symlink_to(outside)
    with pytest.raises(NcaaEvalError, match="leads outside"):
        store.export(record.run_id, tmp_path / "export")
    assert list(outside.iterdir()) == []


# -- resolve_run_id ------------------------------------------------------------------------------


def _rename_run(db: Path, old: str, new: str) -> None:
    """Give a run a chosen id in the database, to make two ids share a prefix."""
    with sqlite3.connect(db) as conn:
        tables = [
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
        ]
        for table in tables:
            columns = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
            if "run_uuid" in columns:
                conn.execute(f"UPDATE {table} SET run_uuid = ? WHERE run_uuid = ?", (new, old))


def test_resolve_run_id_with_unique_ambiguous_and_unknown_prefixes(store: RunStore) -> None:
    ids = []
    for _ in range(3):
        with store.start_run() as run_id:
            ids.append(run_id)
    db = sqlite_path(store.tracking_uri)
    assert db is not None
    _rename_run(db, ids[0], "abcd0" + "1" * 27)
    _rename_run(db, ids[1], "abcd1" + "2" * 27)
    _rename_run(db, ids[2], "ef01" + "3" * 28)

    assert store.resolve_run_id("ef01") == "ef01" + "3" * 28
    assert store.resolve_run_id("ABCD0") == "abcd0" + "1" * 27
    assert store.resolve_run_id("abcd1" + "2" * 27) == "abcd1" + "2" * 27
    with pytest.raises(AmbiguousRunIdError, match="'abcd' matches 2 runs") as caught:
        store.resolve_run_id("abcd")
    assert "\n" not in str(caught.value)
    with pytest.raises(RunNotFoundError, match="No run id starting with '9999'"):
        store.resolve_run_id("9999")
    for bad in ("abc", "abcg", "../x", ""):
        with pytest.raises(RunNotFoundError, match="at least 4 of the 32 hex characters"):
            store.resolve_run_id(bad)


# -- helpers -------------------------------------------------------------------------------------


def test_flatten_params_stringifies_like_mlflow() -> None:
    assert flatten_params(
        {"a": 1, "b": {"c": True, "d": None, "e": {}}, "f": [1, "x"], "g": 0.1}
    ) == {"a": "1", "b.c": "True", "b.d": "None", "b.e": "{}", "f": '[1, "x"]', "g": "0.1"}


def test_log_metrics_with_season_steps(store: RunStore) -> None:
    with store.start_run() as run_id:
        store.log_metrics(run_id, {"brier": 0.2}, step=2023)
        store.log_metrics(run_id, {"brier": 0.18}, step=2024)
    history = _client(store).get_metric_history(run_id, "brier")
    assert [(m.step, m.value) for m in history] == [(2023, 0.2), (2024, 0.18)]
