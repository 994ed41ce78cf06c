"""``ncaa-eval train``: the whole train, track, persist cycle through the real CLI and MLflow.

Every run is read back with ``MlflowClient`` (``tests.training.tracking_checks``): params, tags,
metrics recomputed from the predictions, artifacts, the dataset input, the reloaded model, the
export. Bad input must end in one ``Error:`` line with no run (and no store) left behind; signals
must end the run KILLED; processes started together on a fresh folder must all succeed.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pytest
from click.testing import Result

from ncaa_eval import DEMO_EXPERIMENT
from ncaa_eval.evaluation.walk_forward import play_in_mask
from ncaa_eval.ingest.repository import ParquetRepository
from ncaa_eval.model.elo import EloConfig
from ncaa_eval.model.logistic_regression import LogisticRegressionModel
from ncaa_eval.model.registry import list_models
from ncaa_eval.tracking import RunStore
from tests.conftest import Invoke
from tests.helpers.mlflow_store import MLFLOW_ENV_VARS, assert_no_active_run, sqlite_uri
from tests.training.tracking_checks import (
    Expected,
    all_runs,
    check_clean_exports,
    check_tracked_run,
    client_for,
    code_commit,
    first_four,
    make_git_checkout,
    model_inputs,
    only_run,
    shared_template,
    store_copy,
)

if TYPE_CHECKING:
    from mlflow.entities import Run

#: A short, early range of the 8-season demo league (2018-2025): three tournaments, and a short
#: history for the feature server of the stateless models.
DEMO = (2019, 2021)
ANSI = re.compile(r"\x1b\[[0-9;]*m")
CONSOLE_SCRIPT = Path(sys.executable).with_name("ncaa-eval")


def _summary(result: Result) -> dict[str, str]:
    """The rows of the summary table; a value folded over several lines is joined back."""
    rows: dict[str, str] = {}
    key = ""
    for line in ANSI.sub("", result.output).splitlines():
        cells = [c.strip() for c in line.split("│")]
        if len(cells) != 4:
            continue
        key = cells[1] or key
        rows[key] = f"{rows[key]} {cells[2]}" if key in rows else cells[2]
    return rows


@pytest.fixture(scope="session")
def mlflow_template(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    return shared_template(request.config, tmp_path_factory)


@dataclass(frozen=True)
class Workspace:
    """A test's folder: a git checkout as cwd, a migrated store beside it, an export folder."""

    root: Path
    cwd: Path
    uri: str
    out: Path
    git_hash: str

    def train(self, model: str, start: int, end: int, data_dir: Path, *extra: str) -> list[str]:
        return [
            *self.train_from_env(model, start, end, data_dir),
            "--tracking-uri",
            self.uri,
            *extra,
        ]

    def train_from_env(self, model: str, start: int, end: int, data_dir: Path) -> list[str]:
        """The same without ``--tracking-uri``."""
        return [
            "train",
            "--model",
            model,
            "--data-dir",
            str(data_dir),
            "--start-year",
            str(start),
            "--end-year",
            str(end),
            "--output-dir",
            str(self.out),
        ]

    def expect(self, model: str, start: int, end: int, data_dir: Path, **kw: Any) -> Expected:
        # The commit recorded is the one of the code that ran, not of the cwd's checkout.
        return Expected(model, start, end, data_dir, self.out, **kw)


@pytest.fixture
def workspace(
    mlflow_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Workspace]:
    for name in (*MLFLOW_ENV_VARS, "NCAA_EVAL_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    uri = store_copy(mlflow_template, tmp_path / "mlflow.db")
    cwd = tmp_path / "checkout"
    git_hash = make_git_checkout(cwd)
    monkeypatch.chdir(cwd)
    yield Workspace(tmp_path, cwd, uri, tmp_path / "out", git_hash)
    assert_no_active_run()


def _write_config(folder: Path, config: dict[str, Any]) -> str:
    path = folder / "config.json"
    path.write_text(json.dumps(config))
    return str(path)


# -- the full cycle, every built-in model ------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "overrides"),
    [
        pytest.param("elo", {}, id="elo"),
        pytest.param(
            "logistic_regression", {"features": {"ordinals": False}}, id="logistic_regression"
        ),
        pytest.param("xgboost", {}, id="xgboost"),
    ],
)
def test_train_tracks_exports_and_reloads_every_builtin_model(
    model: str,
    overrides: dict[str, Any],
    demo_store: Path,
    workspace: Workspace,
    run_cli: Invoke,
) -> None:
    extra = ["--config", _write_config(workspace.root, overrides)] if overrides else []
    result = run_cli(*workspace.train(model, *DEMO, demo_store, *extra))

    run = only_run(workspace.uri)
    expected = workspace.expect(model, *DEMO, demo_store, overrides=overrides)
    tracked = check_tracked_run(workspace.uri, run, expected, workspace.root / "artifacts")

    # Run from another checkout (the cwd): the commit recorded is still the code's.
    if workspace.git_hash != "unknown":
        assert run.data.tags.get("mlflow.source.git.commit") != workspace.git_hash
    summary = _summary(result)
    assert summary["run id"] == run.info.run_id
    assert summary["run name"] == f"{model}-{DEMO[0]}-{DEMO[1]}-demo"
    assert summary["seasons"] == "2019-2021 (3 tournaments)"
    n, scored = tracked.record.prediction_count, int(run.data.metrics["scored_games"])
    assert summary["predictions"] == f"{n} ({scored} scored, First Four excluded)"
    assert summary["Brier"] == f"{run.data.metrics['brier']:.4f}"
    # Long values are folded, not cut with an ellipsis: the path can be copied whole.
    export = workspace.out.resolve() / "runs" / run.info.run_id
    assert summary["exported to"].replace(" ", "") == str(export)
    if model == "logistic_regression":
        # The override is in the params and reached the fitted model's features.
        assert run.data.params["features.ordinals"] == "False"
        assert isinstance(tracked.model, LogisticRegressionModel)
        assert tracked.model.state_ is not None
        names = tracked.model.state_.feature_names
        assert "ordinal_diff" not in names
        assert "elo_diff" in names


def test_json_output_matches_the_tracked_run(
    demo_store: Path, workspace: Workspace, run_cli: Invoke
) -> None:
    result = run_cli(*workspace.train("elo", *DEMO, demo_store, "--json"))

    payload = json.loads(result.output)  # the whole output is one JSON object, no table
    run = only_run(workspace.uri)
    assert payload["run_id"] == run.info.run_id
    assert payload["model"] == "elo"
    assert payload["seasons"] == list(range(DEMO[0], DEMO[1] + 1))
    assert payload["metrics"]["brier"] == pytest.approx(run.data.metrics["brier"])
    assert payload["metrics"]["scored_games"] == run.data.metrics["scored_games"]
    client = client_for(workspace.uri)
    history = client.get_metric_history(run.info.run_id, "season_brier")
    assert {m.step: m.value for m in history} == {
        row["season"]: pytest.approx(row["brier"]) for row in payload["season_metrics"]
    }
    timings = payload["timings"]
    assert set(timings) == {"total", "forecasting", "tracking", "charts"}
    # Each phase really ran: the walk-forward, MLflow's calls and the two charts.
    assert all(v > 0 for v in timings.values())
    assert payload["export_dir"] == str(workspace.out / "runs" / run.info.run_id)


def test_an_elo_override_run_name_experiment_and_uri_from_the_environment(
    demo_store: Path, workspace: Workspace, run_cli: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    overrides = {"k": 30, "k_tournament": 0}
    config = _write_config(workspace.root, overrides)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", workspace.uri)
    args = workspace.train_from_env("elo", 2023, 2023, demo_store)
    args += ["--config", config, "--run-name", "elo-k30", "--experiment", "tuning"]
    result = run_cli(*args)

    run = only_run(workspace.uri)
    assert run.data.params["k"] == "30.0"
    assert run.data.params["k_tournament"] == "0.0"
    assert run.data.params["k_early"] == str(EloConfig().k_early), "defaults stay"
    assert client_for(workspace.uri).get_experiment(run.info.experiment_id).name == "tuning"
    expected = workspace.expect("elo", 2023, 2023, demo_store, overrides=overrides, name="elo-k30")
    tracked = check_tracked_run(workspace.uri, run, expected, workspace.root / "artifacts")
    summary = _summary(result)
    assert summary["seasons"] == "2023-2023 (1 tournament)"
    assert summary["run name"] == "elo-k30"
    tracking = f"{workspace.uri} (experiment 'tuning')"
    assert summary["tracking"].replace(" ", "") == tracking.replace(" ", "")

    # With k_tournament = 0 the tournament teaches the final model nothing, so the saved model,
    # reloaded, forecasts the tournament exactly as the run did.
    rows = model_inputs(tracked.model, ParquetRepository(demo_store), "M", 2023)
    reloaded = pd.Series(tracked.model.predict_proba(rows), index=rows["game_id"].to_numpy())
    logged = tracked.predictions.set_index("game_id")["pred_win_prob"]
    assert len(reloaded) == len(logged) == 67
    np.testing.assert_allclose(reloaded.loc[logged.index], logged, rtol=0, atol=1e-12)


# -- the real data -------------------------------------------------------------------------------

#: Tournament games per season, 2015-2025 (no tournament in 2020). Men: 68 teams, 67 games (2021:
#: 66, VCU-Oregon was a no-contest). Women: 64 teams (63 games) until 2021, 68 from 2022.
REAL_GAMES = {
    "M": {s: 66 if s == 2021 else 67 for s in range(2015, 2026) if s != 2020},
    "W": {s: 63 if s <= 2021 else 67 for s in range(2015, 2026) if s != 2020},
}


@pytest.mark.kaggle
@pytest.mark.parametrize("league", ["M", "W"])
def test_elo_on_the_real_data_2015_2025(
    league: str, kaggle_store: Path, workspace: Workspace, run_cli: Invoke
) -> None:
    result = run_cli(*workspace.train("elo", 2015, 2025, kaggle_store, "--league", league))

    run = only_run(workspace.uri)
    expected = workspace.expect("elo", 2015, 2025, kaggle_store, league=league)
    tracked = check_tracked_run(workspace.uri, run, expected, workspace.root / "artifacts")
    predictions = tracked.predictions
    assert predictions.groupby("season").size().to_dict() == REAL_GAMES[league]
    assert _summary(result)["seasons"] == "2015-2025 (10 tournaments)"

    # Brier over the main draw, recomputed from predictions.parquet with the First Four found as
    # play_in_mask finds them, is the logged brier.
    seeds = ParquetRepository(kaggle_store).seeds(league)  # type: ignore[arg-type]
    mask = play_in_mask(predictions, seeds)
    np.testing.assert_array_equal(mask, first_four(predictions, seeds))
    assert int(mask.sum()) == (40 if league == "M" else 16)
    main = predictions[~mask]
    brier = float(np.mean((main["pred_win_prob"] - main["team_a_won"].astype(float)) ** 2))
    assert run.data.metrics["brier"] == pytest.approx(brier, rel=1e-12)
    assert run.data.metrics["scored_games"] == len(main)
    # A tuned Elo is a real forecaster: far better than always 0.5 (Brier 0.25).
    assert brier < 0.2


# -- bad input: one error line, no run, no store ----------------------------------------------

MISSING = "<missing data dir>"


@pytest.mark.parametrize(
    ("extra", "config", "message"),
    [
        pytest.param(
            ["--model", "nope"],
            None,
            # Every registered model, in order.
            rf"Unknown model 'nope'\. Available: {re.escape(', '.join(list_models()))}\.$",
            id="unknown-model",
        ),
        pytest.param([], "k = 30", r"is not valid JSON \(line 1, column 1", id="config-not-json"),
        pytest.param([], "[1, 2]", r"holds a JSON array, not an object", id="config-list"),
        pytest.param(
            [],
            '{"kk": 1}',
            r"Invalid config for model 'elo': unknown field 'kk'\.",
            id="config-unknown-key",
        ),
        pytest.param(
            [],
            '{"k": -1}',
            r"'elo': k: Input should be greater than or equal to 0 \(got -1\)",
            id="config-out-of-range",
        ),
        pytest.param(
            ["--model", "logistic_regression"],
            '{"features": {"margin_cap": 0}}',
            r"features\.margin_cap: Input should be greater than 0 \(got 0\)",
            id="config-nested-out-of-range",
        ),
        pytest.param(
            ["--model", "margin", "--start-year", "2018"],
            None,
            r"margin: the spread is fitted on earlier seasons' tournaments and the history holds "
            r"none before 2018; it needs spread_min_seasons=3: start at 2021 or later",
            id="margin-spread-too-few-seasons",
        ),
        pytest.param(
            ["--model", "ensemble", "--start-year", "2019"],
            '{"members": ["elo", "margin"]}',
            r"ensemble member margin: the spread .* holds 1 \(2018\) before 2019; .* start at "
            r"2021 or later",
            id="ensemble-member-cannot-forecast",
        ),
        pytest.param(
            ["--model", "ensemble"],
            '{"members": ["elo", "ensemble"]}',
            r"Invalid config for model 'ensemble': members: .*ensemble",
            id="ensemble-of-itself",
        ),
        pytest.param(
            ["--start-year", "2023", "--end-year", "2021"],
            None,
            r"start year 2023 is after end year 2021; give --start-year <= --end-year",
            id="reversed-years",
        ),
        pytest.param(
            ["--start-year", "2010", "--end-year", "2022"],
            None,
            r"Years 2010-2022 are outside the M data \(2018-2025\)",
            id="years-before-the-data",
        ),
        pytest.param(
            ["--start-year", "2022", "--end-year", "2030"],
            None,
            r"Years 2022-2030 are outside the M data \(2018-2025\)",
            id="years-after-the-data",
        ),
        pytest.param(
            ["--start-year", "1900"],
            None,
            r"--start-year: Input should be greater than or equal to 1985 \(got 1900\)",
            id="year-out-of-range",
        ),
        pytest.param(
            ["--league", "w"],
            None,
            r"League 'W' is not in the data store at .* \(it has: M\)",
            id="league-not-in-store",
        ),
        pytest.param(
            ["--data-dir", MISSING], None, r"No data store in '.*nowhere'", id="missing-data-dir"
        ),
    ],
)
def test_bad_input_is_one_error_line_and_creates_no_store(
    extra: list[str],
    config: str | None,
    message: str,
    demo_store: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    run_cli: Invoke,
) -> None:
    for name in (*MLFLOW_ENV_VARS, "NCAA_EVAL_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    db = tmp_path / "store" / "mlflow.db"
    args = [
        "train",
        "--model",
        "elo",
        "--data-dir",
        str(demo_store),
        "--start-year",
        "2022",
        "--end-year",
        "2023",
        "--output-dir",
        str(tmp_path / "out"),
        "--tracking-uri",
        sqlite_uri(db),
    ]
    args += [str(tmp_path / "nowhere") if a == MISSING else a for a in extra]
    if config is not None:
        (tmp_path / "bad.json").write_text(config)
        args += ["--config", str(tmp_path / "bad.json")]

    result = run_cli(*args, expect=1)

    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error: "), result.output
    assert re.search(message, lines[0]), lines[0]
    assert not db.parent.exists(), "a store was created for a job that never ran"
    assert not (tmp_path / "out").exists()
    assert list(cwd.iterdir()) == []


def test_an_unusable_tracking_store_is_one_error_line(
    demo_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli: Invoke
) -> None:
    monkeypatch.chdir(tmp_path)
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    uri = sqlite_uri(blocker / "mlflow.db")
    result = run_cli("train", "--model", "elo", "--data-dir", str(demo_store),
                     "--start-year", "2024", "--end-year", "2025",
                     "--output-dir", str(tmp_path / "out"), "--tracking-uri", uri,
                     expect=1)  # fmt: skip
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith(f"Error: Cannot create the folder of the MLflow store {uri}")
    assert not (tmp_path / "out").exists()


def test_bad_input_leaves_no_run_in_an_existing_store(
    demo_store: Path, workspace: Workspace, run_cli: Invoke
) -> None:
    bad = _write_config(workspace.root, {"k": 1000})
    run_cli(*workspace.train("elo", *DEMO, demo_store, "--config", bad), expect=1)
    run_cli(*workspace.train("nope", *DEMO, demo_store), expect=1)
    run_cli(*workspace.train("elo", 2023, 2021, demo_store), expect=1)
    run_cli(*workspace.train("elo", *DEMO, demo_store, "--league", "W"), expect=1)

    assert all_runs(workspace.uri) == []
    names = [e.name for e in client_for(workspace.uri).search_experiments()]
    assert names == ["Default"], "the experiment was created for a job that never ran"
    assert not workspace.out.exists()


# -- processes: python -m and the console script, started together on a fresh folder ----------


def _clean_env() -> dict[str, str]:
    """The environment without anything steering MLflow or the data dir."""
    drop = {*MLFLOW_ENV_VARS, "NCAA_EVAL_DATA_DIR"}
    return {k: v for k, v in os.environ.items() if k not in drop}


@dataclass(frozen=True)
class Launch:
    command: list[str]
    done: subprocess.CompletedProcess[str]


@dataclass(frozen=True)
class FreshFolder:
    folder: Path
    launches: list[Launch]

    @property
    def uri(self) -> str:
        return sqlite_uri(self.folder / "mlflow.db")


#: Processes started at once on a fresh folder, half `python -m`, half the console script.
FRESH_PROCESSES = 8


@pytest.fixture(scope="module")
def fresh_folder_runs(demo_store: Path, tmp_path_factory: pytest.TempPathFactory) -> FreshFolder:
    """`python -m ncaa_eval.cli train` and `ncaa-eval train`, FRESH_PROCESSES in all, started at
    once in a folder with no mlflow.db, on the default tracking URI."""
    folder = tmp_path_factory.mktemp("fresh-folder")
    args = ["train", "--model", "elo", "--data-dir", str(demo_store),
            "--start-year", "2024", "--end-year", "2025", "--output-dir", "out"]  # fmt: skip
    module = [sys.executable, "-m", "ncaa_eval.cli", *args]
    script = [str(CONSOLE_SCRIPT), *args] if CONSOLE_SCRIPT.is_file() else module
    commands = [module if i % 2 == 0 else script for i in range(FRESH_PROCESSES)]
    procs = [
        subprocess.Popen(
            command,
            cwd=folder,
            env=_clean_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for command in commands
    ]
    launches = []
    for command, proc in zip(commands, procs, strict=True):
        out, err = proc.communicate(timeout=300)
        done = subprocess.CompletedProcess(command, proc.returncode, out, err)
        launches.append(Launch(command, done))
    return FreshFolder(folder, launches)


def test_processes_started_together_on_a_fresh_folder_all_finish(
    fresh_folder_runs: FreshFolder, demo_store: Path, tmp_path: Path
) -> None:
    for launch in fresh_folder_runs.launches:
        assert launch.done.returncode == 0, launch.done.stderr
        assert "Traceback" not in launch.done.stderr
    folder = fresh_folder_runs.folder
    assert (folder / "mlflow.db").is_file(), "the default store is ./mlflow.db"
    runs = all_runs(fresh_folder_runs.uri)
    assert len({r.info.run_id for r in runs}) == len(fresh_folder_runs.launches) == FRESH_PROCESSES
    assert {r.info.status for r in runs} == {"FINISHED"}
    expected = Expected("elo", 2024, 2025, demo_store, folder / "out")
    for i, run in enumerate(runs):
        check_tracked_run(fresh_folder_runs.uri, run, expected, tmp_path / str(i))
    assert {p.name for p in (folder / "out" / "runs").iterdir()} == {r.info.run_id for r in runs}
    # Artifacts sit beside the database, not in whatever folder MLflow was first opened from.
    # (Demo-league runs have their own experiment; its models/ holds the runs' MLflow Models.)
    beside = folder / "mlruns" / DEMO_EXPERIMENT
    assert {p.name for p in beside.iterdir()} == {r.info.run_id for r in runs} | {"models"}
    assert len(list((beside / "models").iterdir())) == FRESH_PROCESSES
    listed = RunStore(fresh_folder_runs.uri, DEMO_EXPERIMENT).list_runs()
    assert {r.run_id for r in listed} == {r.info.run_id for r in runs}


def test_python_m_and_the_console_script_record_the_same_run(
    fresh_folder_runs: FreshFolder,
) -> None:
    if not CONSOLE_SCRIPT.is_file():
        pytest.skip("the ncaa-eval console script is not installed in this environment")
    runs = all_runs(fresh_folder_runs.uri)
    scripts = [r for r in runs if r.data.tags["mlflow.source.name"] == str(CONSOLE_SCRIPT)]
    modules = [r for r in runs if r not in scripts]
    assert len(scripts) == len(modules) == FRESH_PROCESSES // 2
    script = scripts[0]
    for run in modules:
        source = run.data.tags["mlflow.source.name"]
        assert source.endswith(os.path.join("ncaa_eval", "cli", "__main__.py"))
        assert run.data.params == script.data.params
        assert run.data.metrics == script.data.metrics
        assert run.info.run_name == script.info.run_name == "elo-2024-2025-demo"
        for tag in ("ncaa_eval_version", "data_digest", "prediction_count",
                    "ncaa_eval_records"):  # fmt: skip
            assert run.data.tags[tag] == script.data.tags[tag], tag
    # Each records the commit of the code that ran, once, in MLflow's own git tag.
    for run in runs:
        tags = run.data.tags
        assert tags.get("mlflow.source.git.commit", "unknown") == code_commit()
        assert "git_hash" not in tags
    store = RunStore(fresh_folder_runs.uri)
    frames = [store.load_predictions(r.info.run_id).drop(columns="run_id") for r in runs]
    for frame in frames[1:]:
        pd.testing.assert_frame_equal(frame, frames[0])


def test_train_writes_no_warning_to_stderr(fresh_folder_runs: FreshFolder) -> None:
    for launch in fresh_folder_runs.launches:
        assert "Warning" not in launch.done.stderr, launch.done.stderr


# -- signals: the run ends KILLED, never RUNNING, and no half export ----------------------------


def _default_signals() -> None:
    """In the child: SIGINT and SIGTERM as on a terminal, even if this runner ignores them."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _wait_for_running(uri: str, proc: subprocess.Popen[Any], log: Path) -> Run:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(
                f"train exited ({proc.returncode}) before its run started:\n{log.read_text()}"
            )
        if Path(uri.removeprefix("sqlite:///")).is_file():
            running = [r for r in all_runs(uri) if r.info.status == "RUNNING"]
            if running:
                return running[0]
        time.sleep(0.1)
    pytest.fail(f"no RUNNING run after 180 s:\n{log.read_text()}")


@pytest.mark.parametrize(
    ("sig", "statuses", "codes"),
    [
        pytest.param(signal.SIGTERM, {"KILLED"}, {143}, id="SIGTERM"),
        # Ctrl-C: "Interrupted." and exit code 130.
        pytest.param(signal.SIGINT, {"KILLED", "FAILED"}, {130}, id="SIGINT"),
    ],
)
def test_a_signal_during_training_ends_the_run_and_leaves_no_half_export(
    sig: signal.Signals,
    statuses: set[str],
    codes: set[int],
    demo_store: Path,
    mlflow_template: Path,
    tmp_path: Path,
) -> None:
    uri = store_copy(mlflow_template, tmp_path / "mlflow.db")
    out = tmp_path / "out"
    log = tmp_path / "train.log"
    command = [sys.executable, "-m", "ncaa_eval.cli", "train", "--model", "xgboost",
               "--data-dir", str(demo_store), "--start-year", "2019", "--end-year", "2025",
               "--output-dir", str(out), "--tracking-uri", uri]  # fmt: skip
    with log.open("w") as sink:
        proc = _start(command, tmp_path, sink)
        try:
            run = _wait_for_running(uri, proc, log)
            # Into the training itself (a signal while the run is created is tested in
            # tests/reliability/test_interrupts.py).
            time.sleep(0.2)
            assert proc.poll() is None, "training finished before the signal; lengthen it"
            proc.send_signal(sig)
            code = proc.wait(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    output = log.read_text()
    assert code in codes, output
    assert "Traceback" not in output, output

    [ended] = all_runs(uri)
    assert ended.info.run_id == run.info.run_id
    assert ended.info.status in statuses, output
    assert ended.info.end_time is not None
    # Its records are incomplete, so ncaa-eval does not list it as a result.
    assert "ncaa_eval_records" not in ended.data.tags
    assert RunStore(uri).list_runs() == []
    check_clean_exports(out)
    assert not (out / "runs" / run.info.run_id).exists()


def _start(command: list[str], cwd: Path, sink: IO[str]) -> subprocess.Popen[Any]:
    return subprocess.Popen(
        command,
        cwd=cwd,
        env=_clean_env(),
        stdout=sink,
        stderr=subprocess.STDOUT,
        preexec_fn=_default_signals,
    )
