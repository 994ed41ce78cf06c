"""Every run's MLflow Model, the Model Registry, serving and lineage, with real MLflow parts.

One real SQLite store holds Elo runs on the real Kaggle data (men and women, 2013-2014: their
model answers for 2014) and logistic regression, XGBoost and ensemble runs on the demo league. The
model is loaded by MLflow itself (``mlflow.pyfunc.load_model`` with pickle refused, ``mlflow models
predict`` and ``mlflow models serve`` as real processes), registered through the CLI, and its
numbers are held against ``predictions.parquet`` and ``ncaa-eval predict``.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner, Result

from ncaa_eval.cli.main import cli
from ncaa_eval.ingest.repository import ParquetRepository
from ncaa_eval.tracking import RunStore
from tests.helpers.mlflow_store import (
    MLFLOW_ENV_VARS,
    assert_no_active_run,
    load_model_without_pickle,
)
from tests.training.tracking_checks import shared_template, store_copy, tournament_courts

#: The season the real-data runs end with; their MLflow Model answers for it.
SEASON = 2014
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Store:
    uri: str
    root: Path
    kaggle: Path
    demo: Path
    men: str
    women: str
    demo_runs: dict[str, str]

    def cli(self, *args: str, expect: int | None = 0) -> Result:
        result = CliRunner().invoke(
            cli, [*args, "--tracking-uri", self.uri], catch_exceptions=False
        )
        if expect is not None:
            assert result.exit_code == expect, result.output
        return result

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in MLFLOW_ENV_VARS}
        env["MLFLOW_TRACKING_URI"] = self.uri
        env["MLFLOW_ALLOW_PICKLE_DESERIALIZATION"] = "false"
        # `mlflow models serve` starts uvicorn by name, from the environment's scripts folder.
        env["PATH"] = os.pathsep.join([str(BIN), env.get("PATH", "")])
        return env


def _train(uri: str, data_dir: Path, model: str, league: str, start: int, end: int) -> str:
    before = {r.run_id for r in RunStore(uri, "runs").list_runs()}
    result = CliRunner().invoke(
        cli,
        [
            "train",
            "--model",
            model,
            "--league",
            league,
            "--data-dir",
            str(data_dir),
            "--start-year",
            str(start),
            "--end-year",
            str(end),
            "--tracking-uri",
            uri,
            "--experiment",
            "runs",
            "--output-dir",
            str(data_dir.parent / "out"),
            "--json",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    (new,) = {r.run_id for r in RunStore(uri, "runs").list_runs()} - before
    return new


@pytest.fixture(scope="module")
def store(
    request: pytest.FixtureRequest,
    kaggle_store: Path,
    demo_store: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Store]:
    root = tmp_path_factory.mktemp("run-models")
    uri = store_copy(shared_template(request.config, tmp_path_factory), root / "mlflow.db")
    with pytest.MonkeyPatch.context() as mp:
        for name in (*MLFLOW_ENV_VARS, "NCAA_EVAL_DATA_DIR"):
            mp.delenv(name, raising=False)
        mp.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "false")
        # A working folder without an mlflow.db: every command must use the URI it is given.
        (root / "cwd").mkdir()
        mp.chdir(root / "cwd")
        men = _train(uri, kaggle_store, "elo", "M", SEASON - 1, SEASON)
        women = _train(uri, kaggle_store, "elo", "W", SEASON - 1, SEASON)
        demo_runs = {
            m: _train(uri, demo_store, m, "M", 2024, 2025)
            for m in ("logistic_regression", "xgboost", "ensemble")
        }
        yield Store(uri, root, kaggle_store, demo_store, men, women, demo_runs)
    assert_no_active_run()


def _load(store: Store, uri: str) -> Any:
    return load_model_without_pickle(store.uri, uri)


def _predictions(store: Store, run_id: str) -> pd.DataFrame:
    return RunStore(store.uri, "runs").load_predictions(run_id)


def _seeded(data_dir: Path, league: str, season: int) -> list[int]:
    seeds = ParquetRepository(data_dir).seeds(league)  # type: ignore[arg-type]
    return sorted(seeds.loc[seeds["season"] == season, "team_id"].astype(int))


def _lineage_run(store: Store, parent: str, file: str) -> Any:
    """The one lineage run under ``parent`` that recorded ``file``."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(store.uri)
    experiment = client.get_run(parent).info.experiment_id
    (run,) = client.search_runs(
        [experiment], f"tags.mlflow.parentRunId = '{parent}' AND params.file = '{file}'"
    )
    return run


def _all_pairs(teams: list[int], season: int) -> pd.DataFrame:
    a, b = np.triu_indices(len(teams), k=1)
    ids = np.asarray(teams)
    return pd.DataFrame({"season": season, "team_a_id": ids[a], "team_b_id": ids[b]})


# --- the MLflow Model of every run -------------------------------------------------------------


@pytest.mark.kaggle
@pytest.mark.parametrize("which", ["men", "women", "logistic_regression", "xgboost", "ensemble"])
def test_the_run_model_loads_without_pickle_and_gives_the_runs_predictions(
    which: str, store: Store
) -> None:
    run_id = store.demo_runs.get(which) or getattr(store, which)
    preds = _predictions(store, run_id)
    last = preds[preds["season"] == preds["season"].max()]
    assert os.environ["MLFLOW_ALLOW_PICKLE_DESERIALIZATION"] == "false"
    model = _load(store, f"runs:/{run_id}/model")
    data = store.demo if which in store.demo_runs else store.kaggle
    league = "W" if which == "women" else "M"
    # Early rounds of the women's tournament are often on a home court: the model is told the
    # court each game was played on, as the walk-forward was.
    court = tournament_courts(ParquetRepository(data), league, last)
    if which == "women":
        assert set(court) > {"N"}
    got = np.asarray(
        model.predict(last[["season", "team_a_id", "team_b_id"]].assign(team_a_loc=court))
    )
    np.testing.assert_allclose(got, last["pred_win_prob"].to_numpy(), rtol=0, atol=1e-9)


@pytest.mark.kaggle
def test_the_model_mlflow_predict_and_ncaa_eval_predict_agree_on_every_pair(
    store: Store, tmp_path: Path
) -> None:
    teams = _seeded(store.kaggle, "M", SEASON)
    assert len(teams) == 68
    pairs = _all_pairs(teams, SEASON)
    model = _load(store, f"runs:/{store.men}/model")
    by_model = np.asarray(model.predict(pairs), dtype=float)

    out = tmp_path / "refit.csv"
    store.cli(
        "predict",
        "--run",
        store.men,
        "--season",
        str(SEASON),
        "--data-dir",
        str(store.kaggle),
        "--output",
        str(out),
        "--experiment",
        "runs",
    )
    refit = pd.read_csv(out)
    assert len(refit) == len(pairs) == 68 * 67 // 2
    np.testing.assert_allclose(by_model, refit["Pred"].to_numpy(), atol=1e-6)  # CSV: 6 decimals

    alone = tmp_path / "alone.csv"
    said = store.cli(
        "predict",
        "--model",
        f"runs:/{store.men}/model",
        "--season",
        str(SEASON),
        "--output",
        str(alone),
        "--data-dir",
        str(tmp_path / "no-store"),
    )
    assert "the model alone" in " ".join(said.output.split())
    assert alone.read_bytes() == out.read_bytes()

    # `mlflow models predict`, a real process, on Kaggle's ID column.
    csv = tmp_path / "in.csv"
    pd.DataFrame({"ID": refit["ID"]}).to_csv(csv, index=False)
    done = subprocess.run(
        [
            str(BIN / "mlflow"),
            "models",
            "predict",
            "-m",
            f"runs:/{store.men}/model",
            "-i",
            str(csv),
            "-t",
            "csv",
            "--env-manager",
            "local",
            "-o",
            str(tmp_path / "o.json"),
        ],
        env=store.env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    served = json.loads((tmp_path / "o.json").read_text())["predictions"]
    np.testing.assert_allclose(served, by_model, rtol=0, atol=1e-9)


def test_mlflow_models_predict_serves_an_ensemble_with_its_members(
    store: Store, tmp_path: Path
) -> None:
    """A fresh process (`mlflow models predict`) loads the ensemble's members from its folder."""
    run_id = store.demo_runs["ensemble"]
    last = _predictions(store, run_id)
    last = last[last["season"] == last["season"].max()]
    csv = tmp_path / "in.csv"
    last[["season", "team_a_id", "team_b_id"]].to_csv(csv, index=False)
    done = subprocess.run(
        [str(BIN / "mlflow"), "models", "predict", "-m", f"runs:/{run_id}/model", "-i", str(csv),
         "-t", "csv", "--env-manager", "local", "-o", str(tmp_path / "o.json")],
        env=store.env(), capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    served = json.loads((tmp_path / "o.json").read_text())["predictions"]
    np.testing.assert_allclose(served, last["pred_win_prob"].to_numpy(), rtol=0, atol=1e-9)


@pytest.mark.kaggle
def test_the_model_refuses_what_it_cannot_answer(store: Store) -> None:
    from mlflow.exceptions import MlflowException

    model = _load(store, f"runs:/{store.men}/model")
    teams = _seeded(store.kaggle, "M", SEASON)
    cases = [
        ({"season": [SEASON - 1], "team_a_id": teams[:1], "team_b_id": teams[1:2]}, "2013"),
        ({"season": [SEASON], "team_a_id": [9999], "team_b_id": teams[1:2]}, "Team 9999"),
        # A women's team in a men's model.
        ({"season": [SEASON], "team_a_id": [3104], "team_b_id": teams[1:2]}, "Team 3104"),
        ({"season": [SEASON], "team_a_id": teams[:1]}, "needs columns"),
    ]
    for frame, pattern in cases:
        with pytest.raises(MlflowException, match=pattern):
            model.predict(pd.DataFrame(frame))


def test_the_model_is_code_and_files_with_explicit_requirements(store: Store) -> None:
    import mlflow.artifacts
    from mlflow.tracking._tracking_service.utils import _use_tracking_uri

    run_id = store.demo_runs["xgboost"]
    with _use_tracking_uri(store.uri):
        folder = Path(
            mlflow.artifacts.download_artifacts(
                f"runs:/{run_id}/model", dst_path=str(store.root / "dl")
            )
        )
    mlmodel = (folder / "MLmodel").read_text()
    # Models from code: MLflow's code loader runs the file shipped with the model.
    assert "loader_module: mlflow.pyfunc.loaders.code_model" in mlmodel
    assert (folder / "pyfunc_model.py").is_file()
    assert (folder / "artifacts" / "forecaster" / "forecaster.json").is_file()
    assert "signature" in mlmodel
    assert "input_example" in mlmodel
    assert not list(folder.rglob("*.pkl"))
    requirements = (folder / "requirements.txt").read_text().split()
    names = {r.split("==")[0] for r in requirements}
    assert {"ncaa-eval", "mlflow"} <= names
    assert names & {"xgboost", "xgboost-cpu"}
    # The run page lists the model: the run's outputs name it.
    run = RunStore(store.uri, "runs").get_run(run_id)
    assert run.outputs is not None
    assert len(run.outputs.model_outputs) == 1
    # Logging the model adds no param to the run (MLflow logs a model config as params).
    assert set(run.data.params) == set(_expected_params(run.data.params))


def _expected_params(params: dict[str, str]) -> list[str]:
    """The run's own params: identity and hyperparameters, nothing the model logging added."""
    from ncaa_eval.model.registry import get_model
    from ncaa_eval.tracking import flatten_params

    config = get_model(params["model_type"]).config_class().model_dump(mode="json")
    return ["model_type", "start_year", "end_year", "league", *flatten_params(config)]


# --- the registry --------------------------------------------------------------------------


@pytest.mark.kaggle
def test_register_list_alias_and_predict_from_the_registry(store: Store, tmp_path: Path) -> None:
    out = store.cli(
        "runs",
        "register",
        store.men[:8],
        "--name",
        "ncaa-men",
        "--alias",
        "champion",
        "--experiment",
        "runs",
    )
    assert "models:/ncaa-men/1" in out.output
    store.cli(
        "runs", "register", store.demo_runs["xgboost"], "--name", "ncaa-men", "--experiment", "runs"
    )
    listed = json.loads(store.cli("registry", "list", "--json").output)
    (entry,) = [m for m in listed if m["name"] == "ncaa-men"]
    assert entry["aliases"] == {"champion": 1}
    assert [v["version"] for v in entry["versions"]] == [2, 1]
    assert entry["versions"][1]["run_id"] == store.men

    first = tmp_path / "champion.csv"
    said = store.cli(
        "predict",
        "--model",
        "models:/ncaa-men@champion",
        "--season",
        str(SEASON),
        "--output",
        str(first),
        "--data-dir",
        str(store.kaggle),
    )
    assert "version 1" in said.output
    by_version = tmp_path / "v1.csv"
    store.cli(
        "predict",
        "--model",
        "models:/ncaa-men/1",
        "--season",
        str(SEASON),
        "--output",
        str(by_version),
        "--data-dir",
        str(store.kaggle),
    )
    assert first.read_bytes() == by_version.read_bytes()

    # Moving the alias moves what models:/ncaa-men@champion serves: version 2 is another run
    # (the demo league's xgboost, season 2025).
    said = store.cli("registry", "alias", "ncaa-men", "champion", "2")
    assert "moved from version 1" in said.output
    listed = json.loads(store.cli("registry", "list", "ncaa-men", "--json").output)
    assert listed[0]["aliases"] == {"champion": 2}
    moved = tmp_path / "moved.csv"
    said = store.cli("predict", "--model", "models:/ncaa-men@champion", "--season", "2025",
                     "--output", str(moved))  # fmt: skip
    assert "version 2" in said.output
    assert moved.read_text().splitlines()[1].startswith("2025_")
    run = _lineage_run(store, store.demo_runs["xgboost"], "moved.csv")
    assert run.data.tags["ncaa_eval.registered_model"] == "ncaa-men/2"
    assert run.data.tags["ncaa_eval.model_uri"] == "models:/ncaa-men@champion"
    assert run.data.params["source"] == "models:/ncaa-men@champion"
    assert "ncaa_eval.data_digest" not in run.data.tags  # the model alone read no store
    store.cli("registry", "alias", "ncaa-men", "champion", "--delete")
    assert (
        json.loads(store.cli("registry", "list", "ncaa-men", "--json").output)[0]["aliases"] == {}
    )


@pytest.mark.kaggle
@pytest.mark.parametrize(
    ("args", "pattern"),
    [
        (("runs", "register", "0123abcd", "--name", "x", "--experiment", "runs"), "0123abcd"),
        (("runs", "register", "{men}", "--name", "bad/name", "--experiment", "runs"), "bad/name"),
        (
            (
                "runs",
                "register",
                "{men}",
                "--name",
                "ok",
                "--alias",
                "latest",
                "--experiment",
                "runs",
            ),
            "latest",
        ),
        (
            ("runs", "register", "{men}", "--name", "ok", "--alias", "v3", "--experiment", "runs"),
            "v3",
        ),
        (("registry", "alias", "nobody", "champion", "1"), "nobody"),
        (("registry", "alias", "ncaa-w", "champion", "7"), "no version 7"),
        (("registry", "alias", "ncaa-w", "nope", "--delete"), "no alias 'nope'"),
        (("registry", "list", "nobody"), "nobody"),
        (("predict", "--model", "models:/ncaa-w@nope", "--season", "2014"), "nope"),
        (("predict", "--model", "models:/not-registered/1", "--season", "2014"), "not-registered"),
        (("predict", "--men", "models:/ncaa-w/1", "--season", "2014"), "women's"),
        (("predict", "--women", "{men}", "--season", "2014"), "men's"),
        (("predict", "--run", "{men}", "--men", "{men}", "--season", "2014"), "exactly one"),
        (("bracket", "--model", "runs:/{men}/nothing", "--season", "2014"), "runs:/"),
    ],
)
def test_registry_bad_input_is_one_line_and_leaves_nothing(
    args: tuple[str, ...],
    pattern: str,
    store: Store,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(store.uri)
    if not client.search_registered_models(filter_string="name = 'ncaa-w'"):
        store.cli("runs", "register", store.women, "--name", "ncaa-w", "--experiment", "runs")
    before = _run_states(store)
    models_before = [
        (m.name, len(client.search_model_versions(f"name = '{m.name}'")))
        for m in client.search_registered_models()
    ]
    filled = [a.format(men=store.men, women=store.women) for a in args]
    monkeypatch.chdir(tmp_path)
    result = store.cli(*filled, expect=None)
    assert result.exit_code in (1, 2), result.output
    lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, result.output
    assert pattern in lines[0]
    if result.exit_code == 1:
        assert len(result.output.strip().splitlines()) == 1, result.output
    assert not list(tmp_path.iterdir())
    assert _run_states(store) == before
    assert [
        (m.name, len(client.search_model_versions(f"name = '{m.name}'")))
        for m in client.search_registered_models()
    ] == models_before


def _run_states(store: Store) -> list[tuple[str, str]]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(store.uri)
    experiments = [e.experiment_id for e in client.search_experiments()]
    runs = client.search_runs(experiments, max_results=1000)
    states = sorted((str(r.info.run_id), str(r.info.status)) for r in runs)
    assert all(s != "RUNNING" for _, s in states)
    return states


# --- serving -------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _post(port: int, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/invocations",
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.mark.kaggle
def test_mlflow_models_serve_answers_forecasts_and_readable_errors(
    store: Store, tmp_path: Path
) -> None:
    store.cli(
        "runs",
        "register",
        store.men,
        "--name",
        "served",
        "--alias",
        "champion",
        "--experiment",
        "runs",
    )
    out = tmp_path / "sub.csv"
    store.cli(
        "predict",
        "--model",
        "models:/served@champion",
        "--season",
        str(SEASON),
        "--output",
        str(out),
    )
    expected = pd.read_csv(out)
    port = _free_port()
    server = subprocess.Popen(
        [
            str(BIN / "mlflow"),
            "models",
            "serve",
            "-m",
            "models:/served@champion",
            "--env-manager",
            "local",
            "-p",
            str(port),
            "-h",
            "127.0.0.1",
        ],
        env=store.env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2):
                    break
            except OSError:
                assert server.poll() is None, server.stderr.read() if server.stderr else ""
                assert time.monotonic() < deadline, "the server did not start in 120 s"
                time.sleep(0.5)
        sample = expected.sample(50, random_state=0)
        status, body = _post(port, {"dataframe_records": [{"ID": i} for i in sample["ID"]]})
        assert status == 200, body
        np.testing.assert_allclose(body["predictions"], sample["Pred"], atol=1e-6)

        a, b = (int(x) for x in sample["ID"].iloc[0].split("_")[1:])
        status, body = _post(
            port,
            {
                "dataframe_split": {
                    "columns": ["season", "team_a_id", "team_b_id"],
                    "data": [[SEASON, b, a]],
                }
            },
        )
        assert status == 200
        assert body["predictions"][0] == pytest.approx(1 - sample["Pred"].iloc[0], abs=1e-6)

        for bad, pattern in [
            ({"dataframe_records": [{"season": SEASON, "team_a_id": 1, "team_b_id": a}]}, "Team 1"),
            ({"dataframe_records": [{"season": SEASON, "team_a_id": a}]}, "needs columns"),
        ]:
            status, body = _post(port, bad)
            assert status == 400, body
            assert pattern in body["message"]
        # Still serving after the errors.
        status, body = _post(port, {"dataframe_records": [{"ID": sample["ID"].iloc[0]}]})
        assert status == 200
    finally:
        server.terminate()
        server.wait(timeout=30)


# --- lineage -------------------------------------------------------------------------------


@pytest.mark.kaggle
def test_one_submission_for_both_leagues_recorded_under_each_source_run(
    store: Store, tmp_path: Path
) -> None:
    from mlflow.tracking import MlflowClient

    women_uri = f"runs:/{store.women}/model"
    old = os.umask(0o022)
    try:
        out = tmp_path / "both.csv"
        said = store.cli(
            "predict",
            "--men",
            store.men[:8],
            "--women",
            women_uri,
            "--season",
            str(SEASON),
            "--output",
            str(out),
            "--data-dir",
            str(store.kaggle),
            "--experiment",
            "runs",
        )
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o644
    frame = pd.read_csv(out)
    seasons_teams = frame["ID"].str.split("_", expand=True).astype(int)
    men = seasons_teams[seasons_teams[1] < 3000]
    women = seasons_teams[seasons_teams[1] >= 3000]
    n_w = len(_seeded(store.kaggle, "W", SEASON))
    assert len(men) == 68 * 67 // 2
    assert len(women) == n_w * (n_w - 1) // 2
    assert frame["ID"].is_unique
    assert frame["ID"].is_monotonic_increasing
    assert "Men:" in said.output
    assert "Women:" in said.output

    client = MlflowClient(store.uri)
    for source, league in ((store.men, "M"), (store.women, "W")):
        experiment = client.get_run(source).info.experiment_id
        (child,) = client.search_runs(
            [experiment],
            f"tags.mlflow.parentRunId = '{source}' AND params.file = 'both.csv'",
        )
        assert child.info.status == "FINISHED"
        assert child.data.params["season"] == str(SEASON)
        assert child.data.params["league"] == league
        assert child.data.tags["ncaa_eval.output"] == "submission"
        digest = ParquetRepository(store.kaggle).digest
        assert child.data.tags["ncaa_eval.trained_data_digest"] == digest
        assert child.data.params["source"] == (store.men[:8] if league == "M" else women_uri)
        if league == "M":  # a run id: refit on the data store
            assert child.data.tags["ncaa_eval.data_digest"] == digest
            assert "ncaa_eval.model_uri" not in child.data.tags
        else:  # a model URI, its own season: the model alone
            assert child.data.tags["ncaa_eval.model_uri"] == women_uri
            assert "ncaa_eval.data_digest" not in child.data.tags
        logged = [f.path for f in client.list_artifacts(child.info.run_id)]
        assert logged == ["both.csv"]
    # A lineage run is not a training run: `runs list` leaves it out.
    listed = json.loads(store.cli("runs", "list", "--json", "--experiment", "runs").output)
    assert all(r.get("model_type") for r in listed)


@pytest.mark.kaggle
def test_a_changed_data_store_is_named_in_one_line(store: Store, tmp_path: Path) -> None:
    def predict(data_dir: Path, name: str) -> Result:
        return store.cli("predict", "--run", store.demo_runs["xgboost"], "--season", "2025",
                         "--data-dir", str(data_dir), "--output", str(tmp_path / name),
                         "--experiment", "runs")  # fmt: skip

    result = predict(store.demo, "same.csv")
    assert "Note:" not in result.output
    # The demo store built with another seed is other data than the run was trained on.
    from ncaa_eval.ingest import build_demo_store

    other = tmp_path / "other-demo"
    build_demo_store(other, seed=8, n_seasons=8)
    result = predict(other, "o.csv")
    notes = [line for line in result.output.splitlines() if line.startswith("Note:")]
    assert len(notes) == 1
    digest_now = ParquetRepository(other).digest[:12]
    digest_then = ParquetRepository(store.demo).digest[:12]
    assert digest_now in notes[0]
    assert digest_then in notes[0]


@pytest.mark.kaggle
def test_bracket_from_a_model_uri_is_recorded(store: Store) -> None:
    from mlflow.tracking import MlflowClient

    result = store.cli(
        "bracket",
        "--model",
        f"runs:/{store.men}/model",
        "--season",
        str(SEASON),
        "--data-dir",
        str(store.kaggle),
        "--json",
    )
    table = pd.DataFrame(json.loads(result.output))
    assert len(table) == 68
    assert table["Champion"].sum() == pytest.approx(1.0)
    client = MlflowClient(store.uri)
    experiment = client.get_run(store.men).info.experiment_id
    runs = client.search_runs(
        [experiment],
        f"tags.mlflow.parentRunId = '{store.men}' AND tags.`ncaa_eval.output` = 'bracket'",
    )
    assert len(runs) == 1
    assert [f.path for f in client.list_artifacts(runs[0].info.run_id)] == ["bracket-M2014.csv"]
    assert runs[0].data.tags["ncaa_eval.data_digest"] == ParquetRepository(store.kaggle).digest
    # The same bracket as from the run (which refits on the store) to 1e-6.
    by_run = store.cli("bracket", "--run", store.men, "--season", str(SEASON), "--data-dir",
                       str(store.kaggle), "--json")  # fmt: skip
    other = pd.DataFrame(json.loads(by_run.output)).set_index("team_id")
    mine = table.set_index("team_id").loc[other.index]
    for column in ("Round of 32", "Sweet 16", "Final Four", "Champion"):
        np.testing.assert_allclose(mine[column], other[column], atol=1e-6)


@pytest.mark.kaggle
def test_a_bracket_whose_store_holds_teams_the_model_does_not_know_is_refused(
    store: Store, tmp_path: Path
) -> None:
    """A demo league's 2014 bracket with a real-data 2014 model: one line naming a team."""
    from ncaa_eval.ingest import build_demo_store

    demo = build_demo_store(tmp_path / "demo-2014", seed=3, n_seasons=12)
    assert 2014 in ParquetRepository(tmp_path / "demo-2014").seasons_available("M"), demo
    before = _run_states(store)
    result = store.cli("bracket", "--model", f"runs:/{store.men}/model", "--season", str(SEASON),
                       "--data-dir", str(tmp_path / "demo-2014"), expect=1)  # fmt: skip
    assert _run_states(store) == before
    assert result.output.startswith("Error: ")
    assert "played no Division I game in 2014" in result.output
    assert len(result.output.strip().splitlines()) == 1


@pytest.mark.kaggle
def test_exported_files_follow_the_umask(store: Store, tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        store.cli("runs", "export", store.men, "--output-dir", str(tmp_path), "--experiment",
                  "runs")  # fmt: skip
    finally:
        os.umask(old)
    files = sorted((tmp_path / "runs" / store.men).iterdir())
    assert [f.name for f in files] == ["predictions.parquet", "run.json"]
    assert {stat.S_IMODE(f.stat().st_mode) for f in files} == {0o640}


@pytest.mark.kaggle
def test_a_run_without_a_model_cannot_be_registered(store: Store) -> None:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(store.uri)
    experiment = client.get_experiment_by_name("runs")
    assert experiment is not None
    bare = client.create_run(experiment.experiment_id, run_name="no-model")
    client.set_terminated(bare.info.run_id)
    result = store.cli("runs", "register", bare.info.run_id, "--name", "x", "--experiment",
                       "runs", expect=1)  # fmt: skip
    assert result.output.startswith(f"Error: Run {bare.info.run_id} has no MLflow Model")
    assert not client.search_registered_models(filter_string="name = 'x'")


@pytest.mark.kaggle
def test_a_stateless_model_on_womens_data_serves_its_runs_numbers(
    store: Store, tmp_path: Path
) -> None:
    """Logistic regression on the women's data, which has no ranks: the model is fitted on the
    columns that exist, and the package serves exactly those."""
    run_id = _train(store.uri, store.kaggle, "logistic_regression", "W", SEASON - 1, SEASON)
    preds = _predictions(store, run_id)
    last = preds[preds["season"] == SEASON]
    model = _load(store, f"runs:/{run_id}/model")
    rows = last[["season", "team_a_id", "team_b_id"]].assign(
        team_a_loc=tournament_courts(ParquetRepository(store.kaggle), "W", last)
    )
    got = np.asarray(model.predict(rows), dtype=float)
    np.testing.assert_allclose(got, last["pred_win_prob"].to_numpy(), rtol=0, atol=1e-9)
    columns = model.unwrap_python_model().forecaster._features.feature_columns
    assert "ordinal_diff" not in columns


def test_commands_on_a_store_that_does_not_exist_create_nothing(tmp_path: Path) -> None:
    """No MLflow store yet: one line, and no mlflow.db made on the way."""
    uri = f"sqlite:///{tmp_path / 'none' / 'mlflow.db'}"
    (tmp_path / "none").mkdir()
    for args in (
        ("registry", "list"),
        ("registry", "alias", "x", "champion", "1"),
        ("runs", "register", "0123abcd", "--name", "x"),
        ("predict", "--model", "models:/x@champion", "--season", "2014"),
        ("predict", "--run", "0123abcd", "--season", "2014"),
    ):
        result = CliRunner().invoke(cli, [*args, "--tracking-uri", uri], catch_exceptions=False)
        assert result.exit_code == 1, result.output
        assert result.output.startswith("Error: "), result.output
        assert len(result.output.strip().splitlines()) == 1, result.output
        assert list((tmp_path / "none").iterdir()) == [], args


@pytest.mark.kaggle
def test_an_output_that_cannot_be_written_is_refused_before_anything_is_recorded(
    store: Store, tmp_path: Path
) -> None:
    before = _run_states(store)
    folder = tmp_path / "a-folder"
    folder.mkdir()
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    # A folder: Click's own usage error (exit 2); below a file: ours (exit 1).
    for output, code, pattern in (
        (folder, 2, "is a directory"),
        (blocker / "sub.csv", 1, "--output"),
    ):
        result = store.cli("predict", "--run", store.men, "--season", str(SEASON), "--output",
                           str(output), "--data-dir", str(store.kaggle), expect=code)  # fmt: skip
        errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
        assert len(errors) == 1
        assert pattern in errors[0]
    assert _run_states(store) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "a-folder"]
    assert list(folder.iterdir()) == []


@pytest.mark.kaggle
def test_a_fractional_team_id_is_refused(store: Store) -> None:
    from mlflow.exceptions import MlflowException

    model = _load(store, f"runs:/{store.men}/model")
    teams = _seeded(store.kaggle, "M", SEASON)
    # MLflow's schema enforcement refuses it before the model sees it (a 400 when served).
    with pytest.raises(MlflowException, match="team_a_id"):
        model.predict(
            pd.DataFrame(
                {"season": [SEASON], "team_a_id": [teams[0] + 0.5], "team_b_id": [teams[1]]}
            )
        )
