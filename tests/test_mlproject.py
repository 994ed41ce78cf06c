"""``mlflow run`` of this project end to end: the MLproject entry points, offline, from the venv.

``mlflow run`` creates the run and logs every entry-point parameter; ``ncaa-eval train`` then joins
that run (``MLFLOW_RUN_ID``) and must log the same values for the keys both write.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ncaa_eval.ingest.repository import ParquetRepository
from tests.helpers.mlflow_store import MLFLOW_ENV_VARS
from tests.training.tracking_checks import (
    Expected,
    all_runs,
    check_tracked_run,
    client_for,
    only_run,
    shared_template,
    store_copy,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
MLFLOW = VENV_BIN / "mlflow"

pytestmark = pytest.mark.skipif(not MLFLOW.is_file(), reason=f"no mlflow command in {VENV_BIN}")


@pytest.fixture(scope="session")
def mlflow_template(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    return shared_template(request.config, tmp_path_factory)


def _mlflow_run(
    cwd: Path, uri: str, entry: str, params: dict[str, str], experiment: str | None = None
) -> str:
    """Run one entry point of the project with ``mlflow run``; return its combined output."""
    env = {k: v for k, v in os.environ.items() if k not in MLFLOW_ENV_VARS}
    env.pop("NCAA_EVAL_DATA_DIR", None)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["MLFLOW_TRACKING_URI"] = uri
    command = [str(MLFLOW), "run", str(REPO_ROOT), "--env-manager", "local", "-e", entry]
    if experiment is not None:
        command += ["--experiment-name", experiment]
    for key, value in params.items():
        command += ["-P", f"{key}={value}"]
    done = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    return output


def test_mlflow_run_train_records_the_same_run_as_the_cli(
    demo_store: Path, mlflow_template: Path, tmp_path: Path
) -> None:
    uri = store_copy(mlflow_template, tmp_path / "mlflow.db")
    out = tmp_path / "out"
    params = {
        "model": "elo",
        "start_year": "2023",
        "end_year": "2025",
        "data_dir": str(demo_store),
        "output_dir": str(out),
    }

    output = _mlflow_run(tmp_path, uri, "train", params)

    run = only_run(uri)
    # MLflow's entry-point params (every declared one, defaults included) beside ncaa-eval's own;
    # start_year, end_year and league are logged by both with the same string.
    entry_params = {**params, "league": "M", "config": "none"}
    expected = Expected("elo", 2023, 2025, demo_store, out, extra_params=entry_params)
    check_tracked_run(uri, run, expected, tmp_path / "artifacts")
    tags = run.data.tags
    assert tags["mlflow.project.entryPoint"] == "train"
    assert tags["mlflow.source.type"] == "PROJECT"
    assert f"Run (ID '{run.info.run_id}') succeeded" in output


def test_mlflow_run_main_builds_the_demo_league_when_there_is_no_store(
    mlflow_template: Path, tmp_path: Path
) -> None:
    uri = store_copy(mlflow_template, tmp_path / "mlflow.db")
    data_dir = tmp_path / "no-store-yet"
    out = tmp_path / "out"
    params = {
        "model": "elo",
        "start_year": "2024",
        "end_year": "2025",
        "data_dir": str(data_dir),
        "output_dir": str(out),
    }

    output = _mlflow_run(tmp_path, uri, "main", params)

    repo = ParquetRepository(data_dir)
    assert repo.is_demo
    assert repo.seasons_available("M")[-1] == 2025
    run = only_run(uri)
    entry_params = {**params, "league": "M", "config": "none"}
    expected = Expected("elo", 2024, 2025, data_dir, out, extra_params=entry_params)
    check_tracked_run(uri, run, expected, tmp_path / "artifacts")
    assert run.data.tags["mlflow.project.entryPoint"] == "main"
    assert client_for(uri).get_experiment(run.info.experiment_id).name == "Default"
    # The summary names the experiment the run is really in (folded lines joined back).
    squeezed = "".join(output.replace("│", "").split())
    assert "(experiment'Default')" in squeezed
    assert "(experiment'ncaa-eval')" not in squeezed


def test_mlflow_run_relaunches_a_run_with_its_config_json(
    demo_store: Path, mlflow_template: Path, tmp_path: Path
) -> None:
    """A run's config.json artifact, given back as -P config=..., reproduces its settings."""
    uri = store_copy(mlflow_template, tmp_path / "mlflow.db")
    config = tmp_path / "config.json"
    config.write_text('{"k": 30.0, "home_edge": 90.0}')
    params = {
        "model": "elo",
        "start_year": "2024",
        "end_year": "2025",
        "data_dir": str(demo_store),
        "output_dir": str(tmp_path / "out"),
        "config": str(config),
    }

    _mlflow_run(tmp_path, uri, "train", params)

    run = only_run(uri)
    assert run.data.params["config"] == str(config)
    assert run.data.params["k"] == "30.0"
    assert run.data.params["home_edge"] == "90.0"
    # The relaunched run's own config.json gives the same settings again.
    folder = client_for(uri).download_artifacts(run.info.run_id, "config.json", str(tmp_path))
    saved = json.loads(Path(folder).read_text())
    assert saved["k"] == 30.0
    assert saved["home_edge"] == 90.0


def test_mlflow_run_predict_writes_a_submission_from_a_model_uri(
    demo_store: Path, mlflow_template: Path, tmp_path: Path
) -> None:
    """Train, then `mlflow run -e predict` with the run's model: the file, recorded on that run."""
    uri = store_copy(mlflow_template, tmp_path / "mlflow.db")
    train = {"model": "elo", "start_year": "2024", "end_year": "2025",
             "data_dir": str(demo_store), "output_dir": str(tmp_path / "out")}  # fmt: skip
    _mlflow_run(tmp_path, uri, "train", train)
    source = only_run(uri)
    out = tmp_path / "sub.csv"
    # data_dir relative to where `mlflow run` is started (not the project folder).
    params = {
        "model": f"runs:/{source.info.run_id}/model",
        "season": "2025",
        "data_dir": os.path.relpath(demo_store, tmp_path),
        "output": str(out),
    }

    output = _mlflow_run(tmp_path, uri, "predict", params)

    assert "by the model alone" in " ".join(output.split())
    rows = out.read_text().splitlines()
    assert rows[0] == "ID,Pred"
    assert len(rows) - 1 == 68 * 67 // 2
    client = client_for(uri)
    experiment = source.info.experiment_id
    (run,) = client.search_runs([experiment], "tags.`mlflow.project.entryPoint` = 'predict'")
    assert run.info.status == "FINISHED"
    assert run.data.tags["mlflow.parentRunId"] == source.info.run_id
    assert run.data.params["model"] == params["model"]
    assert run.data.params["season"] == "2025"
    assert [f.path for f in client.list_artifacts(run.info.run_id)] == ["sub.csv"]


def test_mlflow_run_tune_makes_its_run_the_study_run_with_the_trials_under_it(
    demo_store: Path, mlflow_template: Path, tmp_path: Path
) -> None:
    """`mlflow run -e tune`: the run MLflow made is the study's run; the trials nest under it."""
    uri = store_copy(mlflow_template, tmp_path / "mlflow.db")
    out = tmp_path / "out"
    params = {"model": "elo", "tune_years": "2021-2024", "trials": "3", "seed": "0",
              "data_dir": str(demo_store), "output_dir": str(out)}  # fmt: skip

    output = _mlflow_run(tmp_path, uri, "tune", params, experiment="ncaa-eval-demo")

    runs = all_runs(uri)
    (study,) = [r for r in runs if r.data.tags.get("ncaa_eval.tune") == "study"]
    trials = [r for r in runs if r.data.tags.get("ncaa_eval.tune") == "trial"]
    assert f"Run (ID '{study.info.run_id}') succeeded" in output
    assert study.info.status == "FINISHED"
    assert study.data.tags["mlflow.project.entryPoint"] == "tune"
    # MLflow's entry-point params ("none": option left out) beside the study's own.
    assert study.data.params["optuna_storage"] == "none"
    assert study.data.params["seed"] == "0"
    assert study.data.params["tune_years"] == "2021-2024"
    assert study.data.params["storage"] == str(tmp_path / "optuna.journal")
    assert len(trials) == 3
    for trial in trials:
        assert trial.data.tags["mlflow.parentRunId"] == study.info.run_id
        assert trial.info.experiment_id == study.info.experiment_id
    assert (out / "tune" / "elo-M-2021-2024-demo.best.json").is_file()
