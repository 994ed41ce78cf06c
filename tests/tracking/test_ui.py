"""Where the MLflow UI shows a run: the runs table's address and the experiment's note."""

from __future__ import annotations

from pathlib import Path

from ncaa_eval import DEFAULT_EXPERIMENT, DEMO_EXPERIMENT
from ncaa_eval.tracking.ui import experiment_note, runs_table_url, ui_link


def test_the_address_opens_the_model_training_runs_table() -> None:
    assert runs_table_url("http://127.0.0.1:5000/", "7") == (
        "http://127.0.0.1:5000/#/experiments/7/runs?workflowType=machine_learning"
    )


def test_a_server_is_its_own_ui() -> None:
    link = ui_link("https://mlflow.example.org/", "3")
    assert link.command is None
    assert (
        link.url == "https://mlflow.example.org/#/experiments/3/runs?workflowType=machine_learning"
    )


def test_a_local_store_is_opened_by_its_absolute_path(tmp_path: Path) -> None:
    db = tmp_path / "with space" / "mlflow.db"
    link = ui_link(f"sqlite:///{db}", "1")
    assert link.command == f"mlflow ui --backend-store-uri 'sqlite:///{db.as_posix()}'"
    assert link.url == "http://127.0.0.1:5000/#/experiments/1/runs?workflowType=machine_learning"


def test_the_note_names_the_metrics_and_the_demo_says_so() -> None:
    note = experiment_note(DEFAULT_EXPERIMENT)
    for metric in ("brier", "log_loss", "accuracy", "calibration_error", "season_brier"):
        assert f"`{metric}`" in note
    assert "lower is better" in note
    assert "demo" not in note.lower()
    assert experiment_note(DEMO_EXPERIMENT).startswith("**Synthetic demo league**")
