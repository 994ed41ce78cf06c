"""What a run's model learned: ``learned.csv`` on the run and a section of ``runs show``.

One module-scoped MLflow store holds a run of each built-in trained through the real CLI on the
demo league, and a run saved the way runs were before ``learned.csv`` existed.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner, Result

from ncaa_eval.cli.main import cli
from ncaa_eval.cli.runs.show import LEARNED_ROWS
from ncaa_eval.ingest import ParquetRepository
from ncaa_eval.model.base import Model
from ncaa_eval.model.registry import get_model
from ncaa_eval.tracking import RunStore
from ncaa_eval.tracking.artifacts import download_model_dir
from ncaa_eval.tracking.learned import LEARNED_FILE, LEARNED_INFO_FILE, LearnedTable, read_learned
from tests.helpers.mlflow_store import MLFLOW_ENV_VARS, migrate_template, sqlite_uri

MODELS = ("elo", "logistic_regression", "xgboost")
SECTION = "What the model learned"


@dataclass(frozen=True)
class Store:
    uri: str
    folder: Path
    demo: Path
    runs: dict[str, str]
    #: A finished run with records but no learned.csv, as runs saved before it existed.
    old: str

    @property
    def store(self) -> RunStore:
        return RunStore(self.uri)


def _invoke(*args: str) -> Result:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def trained(demo_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    folder = tmp_path_factory.mktemp("learned-store")
    uri = sqlite_uri(migrate_template(folder))
    with pytest.MonkeyPatch.context() as mp, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # MLflow's integer-column hints
        for name in MLFLOW_ENV_VARS:
            mp.delenv(name, raising=False)
        mp.chdir(folder)
        store = RunStore(uri)
        runs: dict[str, str] = {}
        for model in MODELS:
            _invoke(
                "train", "--model", model, "--data-dir", str(demo_store),
                "--start-year", "2024", "--end-year", "2025", "--tracking-uri", uri,
                "--experiment", "ncaa-eval", "--output-dir", str(folder / "exports"),
                "--run-name", model,
            )  # fmt: skip
            [run] = store.find_runs(f"attributes.run_name = '{model}'", 1)
            runs[model] = str(run.info.run_id)
        # A run saved through the store alone, as every run was before learned.csv existed.
        source = runs["elo"]
        record = store.load_run(source)
        predictions = store.load_predictions(source).drop(columns=["run_id"])
        with store.start_run(run_name="old", params={"model_type": "elo", "league": "M"}) as old:
            fields = record.model_dump()
            fields.update(run_id=old, run_name="old")
            store.save_run(type(record).model_validate(fields), predictions)
        yield Store(uri, folder, demo_store, runs, old)


def _learned(trained: Store, model: str) -> LearnedTable:
    store = trained.store
    table = read_learned(store, store.get_run(trained.runs[model]))
    assert table is not None
    return table


def _fitted(trained: Store, model: str, tmp_path: Path) -> Model:
    """The run's final model (fitted through its end year), loaded from its artifacts."""
    folder = download_model_dir(trained.store, trained.runs[model], tmp_path)
    return get_model(model).load(folder)


def _show(trained: Store, run_id: str, *extra: str) -> str:
    return _invoke("runs", "show", run_id, "--tracking-uri", trained.uri, *extra).stdout


# --- the tables ---------------------------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS)
def test_the_run_logs_the_final_models_table_and_its_title(
    trained: Store, model: str, tmp_path: Path
) -> None:
    store = trained.store
    files = {a.path for a in store.client.list_artifacts(trained.runs[model])}
    assert {LEARNED_FILE, LEARNED_INFO_FILE} <= files
    learned = _learned(trained, model)
    fitted = _fitted(trained, model, tmp_path)
    assert learned.title == type(fitted).learned_title != ""
    info = json.loads(
        Path(store.client.download_artifacts(trained.runs[model], LEARNED_INFO_FILE, str(tmp_path)))
        .read_text(encoding="utf-8")
    )  # fmt: skip
    assert info == {"title": learned.title, "rows": len(learned.frame)}
    # The CSV is the table of the model the run keeps, numbers to 6 significant digits.
    expected = fitted.learned()
    assert expected is not None
    got = learned.frame
    if model == "elo":
        got = got.drop(columns=["team_name"])
    assert list(got.columns) == list(expected.columns)
    for column in expected.columns:
        if pd.api.types.is_float_dtype(expected[column]):
            np.testing.assert_allclose(got[column], expected[column], rtol=1e-5, atol=1e-9)
        else:
            assert got[column].tolist() == expected[column].tolist(), column


def test_elo_lists_every_team_seen_rated_around_the_mean_best_first(trained: Store) -> None:
    frame = _learned(trained, "elo").frame
    assert list(frame.columns) == ["team_id", "team_name", "rating", "rank"]
    repository = ParquetRepository(trained.demo)
    games = repository.games("M", [s for s in repository.seasons_available("M") if s <= 2025])
    seen = set(games["w_team_id"].astype(int)) | set(games["l_team_id"].astype(int))
    assert sorted(frame["team_id"]) == sorted(seen), "one row per team seen"
    teams = repository.teams("M").set_index("team_id")["team_name"]
    assert frame["team_name"].tolist() == [teams[t] for t in frame["team_id"]]
    mean_rating = trained.store.load_run(trained.runs["elo"]).hyperparameters["mean_rating"]
    assert abs(frame["rating"].mean() - mean_rating) < 25
    assert frame["rating"].is_monotonic_decreasing
    assert frame["rank"].iloc[0] == 1
    assert frame["rank"].is_monotonic_increasing
    assert frame["rating"].max() > mean_rating + 200, "the demo's best teams stand out"


def test_logistic_regression_lists_each_design_column_and_the_intercept(
    trained: Store, tmp_path: Path
) -> None:
    frame = _learned(trained, "logistic_regression").frame
    assert list(frame.columns) == ["feature", "coefficient", "per_unit", "mean", "scale"]
    fitted = _fitted(trained, "logistic_regression", tmp_path)
    state = fitted.state_  # type: ignore[attr-defined]
    assert len(frame) == len(state.design_names) + 1
    assert sorted(frame["feature"].iloc[:-1]) == sorted(state.design_names)
    assert set(state.feature_names) <= set(frame["feature"])
    intercept = frame.iloc[-1]
    assert intercept["feature"] == "(intercept)"
    assert np.isnan(intercept["mean"])
    assert np.isnan(intercept["scale"])
    features = frame.iloc[:-1].set_index("feature")
    assert (features["scale"] > 0).all()
    np.testing.assert_allclose(
        features["per_unit"], features["coefficient"] / features["scale"], rtol=1e-4
    )
    assert features["coefficient"].abs().is_monotonic_decreasing
    coefficients = features["coefficient"].to_dict()
    assert coefficients["elo_diff"] > 0, "a better-rated team A wins more"


def test_xgboost_lists_each_feature_with_its_gain_and_share(trained: Store, tmp_path: Path) -> None:
    frame = _learned(trained, "xgboost").frame
    assert list(frame.columns) == ["feature", "gain", "splits", "share"]
    fitted = _fitted(trained, "xgboost", tmp_path)
    assert sorted(frame["feature"]) == sorted(fitted.feature_names_)  # type: ignore[attr-defined]
    assert (frame["gain"] >= 0).all()
    assert (frame["splits"] >= 0).all()
    assert frame["share"].sum() == pytest.approx(1.0, abs=1e-4)
    assert frame["gain"].is_monotonic_decreasing
    assert frame["gain"].iloc[0] > 0


# --- runs show ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("model", "first"), [("elo", "team_name"), ("xgboost", "feature")])
def test_runs_show_prints_the_first_rows(trained: Store, model: str, first: str) -> None:
    out = _show(trained, trained.runs[model])
    learned = _learned(trained, model)
    assert f"{SECTION}: {learned.title}" in out
    # Between the per-season scores and the artifacts.
    assert out.index("Per season") < out.index(SECTION) < out.index("Artifacts")
    section = out[out.index(SECTION) : out.index("Artifacts")]
    for value in learned.frame[first].head(LEARNED_ROWS):
        assert str(value) in section
    if len(learned.frame) > LEARNED_ROWS:
        assert f"{LEARNED_ROWS} of {len(learned.frame)} rows; all in {LEARNED_FILE}" in section
        row = learned.frame.iloc[LEARNED_ROWS]
        assert not re.search(rf"│\s*{row.iloc[0]}\s*│", section), "only the first rows"


def test_runs_show_json_gives_every_row(trained: Store) -> None:
    data = json.loads(_show(trained, trained.runs["logistic_regression"], "--json"))
    learned = _learned(trained, "logistic_regression")
    assert data["learned"]["title"] == learned.title
    assert data["learned"]["file"] == LEARNED_FILE
    assert data["learned"]["columns"] == list(learned.frame.columns)
    rows = data["learned"]["rows"]
    assert [r["feature"] for r in rows] == learned.frame["feature"].tolist()
    assert rows[-1]["mean"] is None, "NaN is null"
    elo = json.loads(_show(trained, trained.runs["elo"], "--json"))["learned"]
    assert len(elo["rows"]) == len(_learned(trained, "elo").frame) > LEARNED_ROWS
    assert isinstance(elo["rows"][0]["team_id"], int)


def test_a_run_saved_before_learned_csv_shows_without_the_section(trained: Store) -> None:
    store = trained.store
    assert LEARNED_FILE not in {a.path for a in store.client.list_artifacts(trained.old)}
    assert read_learned(store, store.get_run(trained.old)) is None
    out = _show(trained, trained.old)
    assert SECTION not in out
    assert "predictions.parquet" in out
    assert json.loads(_show(trained, trained.old, "--json"))["learned"] is None
