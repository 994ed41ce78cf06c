"""Every ``ncaa-eval train`` run carries its charts: ``plots/reliability.png`` and
``plots/season_brier.png``, real PNG images that ``runs show`` lists.

Trained through the real CLI into a real SQLite MLflow store; the artifacts are downloaded with
``MlflowClient`` and opened with matplotlib.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ncaa_eval import DEMO_EXPERIMENT
from tests.conftest import Invoke
from tests.evaluation.test_plots import check_png
from tests.helpers.mlflow_store import MLFLOW_ENV_VARS, assert_no_active_run
from tests.training.tracking_checks import PLOTS, client_for, only_run, shared_template, store_copy


@pytest.fixture
def uri(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> str:
    for name in (*MLFLOW_ENV_VARS, "NCAA_EVAL_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    template = shared_template(request.config, tmp_path_factory)
    return store_copy(template, tmp_path / "store" / "mlflow.db")


@pytest.mark.parametrize(
    ("model", "years"),
    [
        pytest.param("elo", ("2023", "2023"), id="elo-one-season"),
        pytest.param("logistic_regression", ("2022", "2025"), id="logistic-four-seasons"),
    ],
)
def test_a_training_run_logs_its_charts(
    model: str, years: tuple[str, str], uri: str, demo_store: Path, tmp_path: Path, run_cli: Invoke
) -> None:
    run_cli("train", "--model", model, "--data-dir", str(demo_store),
            "--start-year", years[0], "--end-year", years[1],
            "--output-dir", str(tmp_path / "out"), "--tracking-uri", uri)  # fmt: skip

    run = only_run(uri)
    run_id = run.info.run_id
    client = client_for(uri)
    assert sorted(a.path for a in client.list_artifacts(run_id, "plots")) == PLOTS
    folder = Path(client.download_artifacts(run_id, "plots", str(tmp_path / "dl")))
    for name in PLOTS:
        check_png(folder.parent / name)

    demo = ("--experiment", DEMO_EXPERIMENT)
    shown = run_cli("runs", "show", run_id[:8], "--tracking-uri", uri, *demo).output
    for name in PLOTS:
        assert name in shown, shown
    listed = json.loads(
        run_cli("runs", "show", run_id, "--json", "--tracking-uri", uri, *demo).stdout
    )
    sizes = {a["path"]: a["size"] for a in listed["artifacts"]}
    for name in PLOTS:
        assert sizes[name] == (folder.parent / name).stat().st_size
    # The export stays the run's records only: charts live in MLflow.
    export = tmp_path / "out" / "runs" / run_id
    assert sorted(p.name for p in export.iterdir()) == ["predictions.parquet", "run.json"]
    assert_no_active_run()
