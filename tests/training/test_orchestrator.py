"""The training orchestrator from Python, without Click: request in, one tracked run out."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from ncaa_eval.errors import NcaaEvalError
from ncaa_eval.tracking import RunStore
from ncaa_eval.training import TrainRequest, train
from tests.training.tracking_checks import all_runs, client_for, only_run

_PROBE = """
import json, sys
from ncaa_eval.training import TrainRequest, TrainResult, train
heavy = ("click", "rich", "ncaa_eval.cli", "mlflow", "xgboost", "sklearn")
print(json.dumps(sorted(m for m in heavy if m in sys.modules)))
"""


def test_importing_the_orchestrator_imports_no_cli_nor_heavy_library() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


def test_train_from_python_with_callbacks_and_no_export(
    demo_store: Path, tracking_uri: str, tmp_path: Path
) -> None:
    starts: list[list[int]] = []
    seasons: list[tuple[int, int]] = []
    request = TrainRequest(
        model="elo",
        start_year=2024,
        end_year=2025,
        data_dir=demo_store,
        output_dir=None,
        hyperparameters={"k": 25},
        experiment="python-api",
        run_name="from-python",
    )

    result = train(request, on_start=starts.append, on_season=lambda s, n: seasons.append((s, n)))

    assert starts == [[2024, 2025]]
    assert seasons == [(2024, 67), (2025, 67)]
    assert result.seasons == [2024, 2025]
    assert result.prediction_count == 134
    assert result.export_dir is None
    assert not (tmp_path / "data").exists(), "nothing is exported with output_dir=None"
    assert result.tracking_uri == tracking_uri, "the store comes from MLFLOW_TRACKING_URI"
    assert (result.run_name, result.experiment, result.model_type) == (
        "from-python",
        "python-api",
        "elo",
    )
    assert list(result.season_metrics["season"]) == [2024, 2025]

    run = only_run(tracking_uri)
    assert run.info.run_id == result.run_id
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "from-python"
    assert client_for(tracking_uri).get_experiment(run.info.experiment_id).name == "python-api"
    assert run.data.params["k"] == "25.0"
    assert run.data.metrics["brier"] == result.metrics.brier
    assert run.data.metrics["scored_games"] == result.metrics.n == 126
    [record] = RunStore(tracking_uri, "python-api").list_runs()
    assert record.run_id == result.run_id
    assert record.run_name == "from-python"
    assert record.hyperparameters["k"] == 25.0


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"model": "nope"}, "Unknown model 'nope'"),
        ({"hyperparameters": {"k": "fast"}}, "k: Input should be a valid number"),
        ({"hyperparameters": {"features": {}}}, "unknown field 'features'"),
        ({"league": "W"}, "League 'W' is not in the data store"),
        ({"start_year": 2000}, r"Years 2000-2023 are outside the M data \(2018-2025\)"),
        ({"data_dir": Path("nowhere")}, "No data store in 'nowhere'"),
    ],
)
def test_bad_requests_raise_before_any_run_exists(
    fields: dict[str, Any], message: str, demo_store: Path, tracking_uri: str
) -> None:
    base: dict[str, Any] = {"model": "elo", "start_year": 2022, "end_year": 2023}
    request = TrainRequest(**{"data_dir": demo_store, **base, **fields})
    with pytest.raises(NcaaEvalError, match=message):
        train(request)
    assert all_runs(tracking_uri) == []


@pytest.mark.parametrize(
    "fields",
    [
        {"model": "elo", "start_year": 2025, "end_year": 2020},
        {"model": "elo", "start_year": 1900},
        {"model": "elo", "league": "X"},
        {"model": ""},
        {"model": "elo", "epochs": 3},
    ],
)
def test_an_invalid_request_is_refused_when_built(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        TrainRequest(**fields)


def test_a_failure_after_the_run_started_ends_it_failed(
    demo_store: Path, tracking_uri: str, tmp_path: Path
) -> None:
    # The output folder itself is fine (checked before the run starts); its runs/ is a file.
    out = tmp_path / "out"
    out.mkdir()
    blocker = out / "runs"
    blocker.write_text("a file where the export folder should go\n")
    request = TrainRequest(
        model="elo", start_year=2024, end_year=2025, data_dir=demo_store, output_dir=out
    )
    with pytest.raises(NcaaEvalError, match="Cannot export run"):
        train(request)
    run = only_run(tracking_uri)
    assert run.info.status == "FAILED"
    assert run.info.end_time is not None
    assert blocker.read_text() == "a file where the export folder should go\n"
