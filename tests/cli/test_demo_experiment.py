"""Demo-league runs go to their own experiment, and the commands that read runs follow the data.

After the README's first command (`data demo`, then `train`) the runs are in ``ncaa-eval-demo``
and `runs list`, `predict` and `bracket` find them with no option; after `data import` of real
data they read ``ncaa-eval``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ncaa_eval import DEFAULT_EXPERIMENT, DEMO_EXPERIMENT
from ncaa_eval.cli.options import default_experiment
from ncaa_eval.ingest.repository import MANIFEST, STORE_DIR
from ncaa_eval.tracking import RunStore
from ncaa_eval.tracking.ui import EXPERIMENT_NOTE_TAG, experiment_note
from tests.conftest import Invoke
from tests.helpers.mlflow_store import MLFLOW_ENV_VARS


def _real_looking_copy(demo_store: Path, folder: Path) -> Path:
    """The demo store with its manifest saying it is not the demo (as a Kaggle import)."""
    shutil.copytree(demo_store, folder)
    manifest = folder / STORE_DIR / MANIFEST
    data = json.loads(manifest.read_text())
    data["demo"] = False
    manifest.write_text(json.dumps(data))
    return folder


def test_the_default_experiment_follows_the_data_store(demo_store: Path, tmp_path: Path) -> None:
    assert default_experiment(demo_store) == DEMO_EXPERIMENT
    assert default_experiment(_real_looking_copy(demo_store, tmp_path / "real")) == (
        DEFAULT_EXPERIMENT
    )
    assert default_experiment(tmp_path / "no-store") == DEFAULT_EXPERIMENT


def test_demo_runs_are_found_where_the_readme_says(
    demo_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli: Invoke
) -> None:
    for name in (*MLFLOW_ENV_VARS, "NCAA_EVAL_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    shutil.copytree(demo_store, tmp_path / "data")

    output = run_cli("train", "--model", "elo", "--start-year", "2024", "--end-year", "2025").output
    store = RunStore(None, DEMO_EXPERIMENT)
    [record] = store.list_runs()
    trained = {"run_id": record.run_id}
    assert record.run_name == "elo-2024-2025-demo"
    experiment = store.client.get_experiment_by_name(DEMO_EXPERIMENT)
    assert experiment is not None
    url = f"/#/experiments/{experiment.experiment_id}/runs?workflowType=machine_learning"
    assert url in output
    assert experiment.tags[EXPERIMENT_NOTE_TAG] == experiment_note(DEMO_EXPERIMENT)

    listed = json.loads(run_cli("runs", "list", "--json").output)
    assert [run["run_id"] for run in listed] == [trained["run_id"]]
    shown = run_cli("runs", "show", trained["run_id"][:8]).output
    assert DEMO_EXPERIMENT in shown
    run_cli("predict", "--run", trained["run_id"][:8], "--season", "2025")

    # With real data in ./data the real experiment is read; the demo runs stay one option away.
    shutil.rmtree(tmp_path / "data")
    _real_looking_copy(demo_store, tmp_path / "data")
    assert json.loads(run_cli("runs", "list", "--json").output) == []
    again = run_cli("runs", "list", "--experiment", DEMO_EXPERIMENT, "--json").output
    assert [run["run_id"] for run in json.loads(again)] == [trained["run_id"]]
