"""The ensemble: registered models blended on their log-odds, the blend fitted walk-forward.

The blend of a season learns from the members' forecasts of earlier tournaments only, so editing a
later game moves no earlier weight; a season's forecast does not depend on the run's end year; a
one-member ensemble is that member. A run of it is a normal run (predictions, learned weights,
an MLflow Model holding its members), and ``predict`` uses the weights its walk-forward used.
"""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner, Result
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from ncaa_eval.cli.main import cli
from ncaa_eval.evaluation.walk_forward import WalkForwardResult, prepare_history, walk_forward
from ncaa_eval.ingest import ParquetRepository, import_kaggle, write_demo_csvs
from ncaa_eval.model.base import CONFIG_FILE, TUNED_MODEL_FEATURES
from ncaa_eval.model.elo import EloConfig
from ncaa_eval.model.ensemble import (
    MEMBERS_DIR,
    EnsembleConfig,
    EnsembleModel,
    blend,
    fit_weights,
    log_odds,
)
from ncaa_eval.model.packaged import INFO_FILE, MODEL_DIR, TEAMS_FILE, load_packaged
from ncaa_eval.model.registry import get_model
from ncaa_eval.model.xgboost_model import XGBoostConfig
from ncaa_eval.tracking import RunStore
from ncaa_eval.training.config_loading import ConfigError, validate_config
from ncaa_eval.training.packaging import package_result
from tests.helpers.mlflow_store import MLFLOW_ENV_VARS, assert_no_active_run, sqlite_uri
from tests.training.tracking_checks import (
    ARTIFACTS,
    check_model_answers,
    shared_template,
    store_copy,
)
from tests.transform.test_feature_serving import DEMO, delete_game, flip_result, pick

#: Two quick members for most tests (XGBoost is the slow one).
MEMBERS = ("elo", "logistic_regression")
DEMO_EXPERIMENT = "ncaa-eval-demo"


@pytest.fixture(scope="module", autouse=True)
def _single_threaded_blas() -> Iterator[None]:
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def ensemble(**fields: Any) -> Callable[[], EnsembleModel]:
    config = EnsembleConfig(**fields)
    return lambda: EnsembleModel(config)


def weights_by_season(result: WalkForwardResult) -> dict[int, list[float]]:
    model = result.model
    assert isinstance(model, EnsembleModel)
    return {season: fit.weights.tolist() for season, fit in model.by_season_.items()}


# --- the config ----------------------------------------------------------------------------


def test_every_member_config_is_completed_with_that_models_defaults() -> None:
    config = EnsembleConfig()
    assert list(config.member_configs) == list(config.members)
    for name in config.members:
        default = get_model(name).config_class().model_dump(mode="json")
        assert config.member_configs[name] == default
        assert config.config_of(name) == get_model(name).config_class()


def test_a_partial_member_config_keeps_the_members_own_defaults() -> None:
    config = validate_config(
        EnsembleConfig,
        {"members": list(MEMBERS),
         "member_configs": {"logistic_regression": {"C": 0.5, "features": {"efficiency": True}}}},
        "ensemble",
    )  # fmt: skip
    assert isinstance(config, EnsembleConfig)
    lr = config.member_configs["logistic_regression"]
    assert lr["C"] == 0.5
    assert lr["features"]["efficiency"] is True
    # The member's tuned features, not FeatureConfig's own defaults, for the rest.
    assert lr["features"]["margin_cap"] == TUNED_MODEL_FEATURES.margin_cap != 20.0
    assert config.member_configs["elo"] == get_model("elo").config_class().model_dump(mode="json")


def test_a_member_config_saved_before_a_field_existed_keeps_its_old_value() -> None:
    saved = XGBoostConfig().model_dump(mode="json")
    for name in XGBoostConfig.added_fields:
        del saved[name]
    config = EnsembleConfig(members=("xgboost",), member_configs={"xgboost": saved})
    assert config.member_configs["xgboost"]["symmetric"] is False  # today's default: True
    assert config.member_configs["xgboost"]["monotone"] is False


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"members": ["elo", "nope"]}, ["members", "'nope'", "elo, logistic_regression"]),
        ({"members": ["elo", "ensemble"]}, ["members", "cannot blend itself", "'ensemble'"]),
        ({"members": []}, ["members", "at least one member"]),
        ({"members": ["elo", "elo"]}, ["members", "'elo' is named twice"]),
        ({"members": ["elo"], "member_configs": {"xgboost": {}}}, ["'xgboost' is not a member"]),
        ({"members": ["elo"], "member_configs": {"elo": {"k": -1}}}, ["elo: k:", "got -1"]),
        ({"members": ["elo"], "member_configs": {"elo": {"kk": 1}}}, ["unknown field 'kk'"]),
    ],
)
def test_a_bad_ensemble_config_is_one_line_naming_the_value(
    values: dict[str, Any], named: list[str]
) -> None:
    with pytest.raises(ConfigError) as info:
        validate_config(EnsembleConfig, values, "ensemble")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("Invalid config for model 'ensemble'")
    for part in named:
        assert part in message


# --- the blend -----------------------------------------------------------------------------


def _games(n: int, seed: int) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Two members' log-odds of ``n`` games and their outcomes: member 0 knows the truth
    (sharpened), member 1 is noisy."""
    rng = np.random.default_rng(seed)
    truth = rng.normal(0.0, 1.0, n)
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-truth))).astype(float)
    z = np.column_stack([1.5 * truth, truth + rng.normal(0.0, 2.0, n)])
    return z, y


def _objective(z: np.ndarray[Any, Any], y: np.ndarray[Any, Any], w: np.ndarray[Any, Any],
               shrink: float) -> float:  # fmt: skip
    s = z @ w
    return float(np.mean(np.logaddexp(0.0, s) - y * s) + shrink * np.sum((w - 0.5) ** 2))


def test_with_no_earlier_game_the_weights_are_equal() -> None:
    z = np.zeros((0, 3))
    np.testing.assert_array_equal(fit_weights(z, np.zeros(0), shrink=0.1, pool=True), [1 / 3] * 3)
    np.testing.assert_array_equal(fit_weights(z, np.zeros(0), shrink=0.1, pool=False), [1 / 3] * 3)


@pytest.mark.parametrize("shrink", [0.0, 1e-3, 0.1])
def test_the_pooled_weights_are_the_best_on_the_simplex(shrink: float) -> None:
    z, y = _games(600, seed=1)
    w = fit_weights(z, y, shrink=shrink, pool=True)
    assert w.sum() == pytest.approx(1.0, abs=1e-12)
    assert (w >= 0).all()
    grid = np.linspace(0.0, 1.0, 2001)
    best = min(_objective(z, y, np.array([a, 1.0 - a]), shrink) for a in grid)
    assert _objective(z, y, w, shrink) <= best + 1e-9
    assert w[0] > w[1]  # the informed member weighs more


def test_the_free_weights_are_the_best_non_negative_ones() -> None:
    z, y = _games(600, seed=2)
    z = np.column_stack([z[:, 0], -z[:, 1]])  # member 1 now points the wrong way
    w = fit_weights(z, y, shrink=1e-3, pool=False)
    assert w[1] == 0.0  # a negative weight is not allowed: the member is dropped
    grid = np.linspace(0.0, 2.0, 2001)
    best = min(_objective(z, y, np.array([a, 0.0]), 1e-3) for a in grid)
    assert _objective(z, y, w, 1e-3) <= best + 1e-9
    assert w[0] > 1 / 1.5 - 0.2  # undoes the member's sharpening, roughly


def test_the_blend_gives_the_complement_for_the_swapped_pair() -> None:
    rng = np.random.default_rng(3)
    p = rng.random((200, 3))
    w = np.array([0.2, 0.5, 0.3])
    np.testing.assert_allclose(blend(1.0 - p, w), 1.0 - blend(p, w), rtol=0, atol=1e-12)
    assert np.allclose(log_odds(1.0 - p), -log_odds(p), atol=1e-9)


def test_a_pool_of_one_member_is_that_member_exactly() -> None:
    p = np.random.default_rng(4).random((50, 1))
    np.testing.assert_array_equal(blend(p, np.array([1.0])), p[:, 0])
    assert fit_weights(log_odds(p), np.ones(50), shrink=0.0, pool=True).tolist() == [1.0]


# --- the walk-forward ----------------------------------------------------------------------


@pytest.mark.parametrize("member", ["elo", "logistic_regression", "xgboost"])
def test_the_ensemble_of_one_member_equals_that_member(member: str, demo_store: Path) -> None:
    repo = ParquetRepository(demo_store)
    alone = walk_forward(get_model(member), repo, "M", 2023, 2025)
    one = walk_forward(ensemble(members=(member,)), repo, "M", 2023, 2025)
    pd.testing.assert_frame_equal(one.predictions, alone.predictions)


@pytest.fixture(scope="module")
def walked(demo_store: Path) -> WalkForwardResult:
    return walk_forward(
        ensemble(members=MEMBERS, blend_seasons=2), ParquetRepository(demo_store), "M", 2022, 2025
    )


def test_each_member_walks_once_and_each_season_blends_the_tournaments_before_it(
    walked: WalkForwardResult,
) -> None:
    assert walked.seasons == [2022, 2023, 2024, 2025]
    for name in MEMBERS:
        assert walked.members[name].seasons == [2020, 2021, 2022, 2023, 2024, 2025]
    model = walked.model
    assert isinstance(model, EnsembleModel)
    forecasts = {name: walked.members[name].predictions for name in MEMBERS}
    first = forecasts[MEMBERS[0]]
    probabilities = np.column_stack([forecasts[n]["pred_win_prob"] for n in MEMBERS])
    for name in MEMBERS[1:]:
        assert forecasts[name]["game_id"].tolist() == first["game_id"].tolist()
    scored = ~first["is_play_in"].to_numpy()
    for season in walked.seasons:
        fitted = model.by_season_[season]
        assert fitted.seasons == (season - 2, season - 1)
        # Refit by hand on the members' forecasts of those two tournaments, main draw only.
        rows = scored & first["season"].isin(fitted.seasons).to_numpy()
        again = model.fit_blend(probabilities[rows], first["team_a_won"].to_numpy(float)[rows])
        np.testing.assert_array_equal(fitted.weights, again.weights)
        assert fitted.games == rows.sum() == 2 * 63
        # The season's forecasts are that blend of the members' forecasts, First Four included.
        this = first["season"].to_numpy() == season
        got = walked.predictions[walked.predictions["season"] == season]
        assert got["game_id"].tolist() == first.loc[this, "game_id"].tolist()
        assert got["is_play_in"].sum() == 4
        np.testing.assert_allclose(
            got["pred_win_prob"], blend(probabilities[this], fitted.weights), rtol=0, atol=0
        )
    # The final blend learns from the last two tournaments, through the end year.
    assert model.season_ is None
    assert model.blend_ is not None
    assert model.blend_.seasons == (2024, 2025)


def test_what_the_ensemble_learned_is_its_weights_by_season(walked: WalkForwardResult) -> None:
    table = walked.model.learned()
    assert table is not None
    assert list(table.columns) == ["forecast", "tournaments", "games", *MEMBERS]
    assert table["forecast"].tolist() == ["after 2025", "2025", "2024", "2023", "2022"]
    assert table["tournaments"].tolist() == ["2024-2025", "2023-2024", "2022-2023", "2021-2022",
                                             "2020-2021"]  # fmt: skip
    weights = table[list(MEMBERS)].to_numpy()
    assert (weights >= 0).all()
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-12)
    forecaster = walked.forecaster
    assert isinstance(forecaster, EnsembleModel)
    # The forecaster of the last season has no blend for later seasons yet.
    assert forecaster.learned()["forecast"].tolist() == ["2025", "2024", "2023", "2022"]


def test_a_seasons_forecasts_do_not_depend_on_the_end_year(
    walked: WalkForwardResult, demo_store: Path
) -> None:
    shorter = walk_forward(
        ensemble(members=MEMBERS, blend_seasons=2), ParquetRepository(demo_store), "M", 2022, 2023
    )
    long = walked.predictions
    pd.testing.assert_frame_equal(
        shorter.predictions, long[long["season"] <= 2023].reset_index(drop=True)
    )
    short_weights = weights_by_season(shorter)
    assert short_weights == {s: w for s, w in weights_by_season(walked).items() if s <= 2023}


@pytest.fixture(scope="module")
def demo_csvs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ensemble-csvs")
    write_demo_csvs(folder, DEMO)
    return folder


def _flip_a_2023_tournament_game(folder: Path) -> None:
    games = pd.read_csv(folder / "MNCAATourneyCompactResults.csv")
    games = games[games["Season"] == 2023]
    day = sorted(games["DayNum"].unique())[2]  # a first-round game, after the First Four
    flip_result(folder, "NCAATourney", games[games["DayNum"] == day].iloc[0])


def _delete_a_late_2023_game(folder: Path) -> None:
    delete_game(folder, "RegularSeason", pick(folder, "RegularSeason", 2023, "late"))


@pytest.mark.parametrize("edit", [_flip_a_2023_tournament_game, _delete_a_late_2023_game])
def test_editing_a_later_game_moves_no_earlier_blend_weight(
    edit: Callable[[Path], None], demo_csvs: Path, tmp_path: Path
) -> None:
    """Every blend weight of the seasons up to the edit's stays bit for bit; a later one moves
    (so the check can fail)."""
    walks = {}
    for label in ("base", "edited"):
        source = shutil.copytree(demo_csvs, tmp_path / label / "csvs")
        if label == "edited":
            edit(source)
        import_kaggle(source, tmp_path / label / "data")
        walks[label] = weights_by_season(
            walk_forward(
                ensemble(members=MEMBERS, blend_seasons=2),
                ParquetRepository(tmp_path / label / "data"),
                "M",
                2021,
                2025,
            )
        )
    base, edited = walks["base"], walks["edited"]
    assert {s: w for s, w in edited.items() if s <= 2023} == {
        s: w for s, w in base.items() if s <= 2023
    }
    assert any(edited[s] != base[s] for s in (2024, 2025)), "the edit moved nothing"


@pytest.mark.kaggle
def test_the_blend_learns_only_from_tournaments_every_member_can_forecast(
    kaggle_store: Path,
) -> None:
    """A member reading the adjusted efficiency forecasts seasons with box scores only (men's
    from 2003): the blend of 2003 has no earlier tournament of both members, so it is the prior."""
    repo = ParquetRepository(kaggle_store)
    efficiency = {"features": {"adjusted_efficiency": True}}

    def blends(member_configs: dict[str, Any]) -> dict[int, tuple[int, ...]]:
        result = walk_forward(
            ensemble(members=MEMBERS, blend_seasons=3, member_configs=member_configs),
            repo, "M", 2003, 2005, fit_final=False,
        )  # fmt: skip
        model = result.forecaster
        assert isinstance(model, EnsembleModel)
        return {season: fit.seasons for season, fit in model.by_season_.items()}

    assert blends({"logistic_regression": efficiency}) == {
        2003: (), 2004: (2003,), 2005: (2003, 2004)
    }  # fmt: skip
    assert blends({})[2003] == (2000, 2001, 2002)


def test_a_search_walks_the_members_once_whatever_the_blend(demo_store: Path) -> None:
    repo = ParquetRepository(demo_store)
    history = prepare_history(repo, "M", 2023, 2025)
    first = walk_forward(ensemble(members=MEMBERS, blend_seasons=2), repo, "M", 2023, 2025,
                         history=history, fit_final=False)  # fmt: skip
    kept = {key: dict(by_season) for key, by_season in history._member_forecasts.items()}
    assert sorted(name for name, _ in kept) == sorted(MEMBERS)
    # A wider window walks only the seasons not seen yet, the others are reused as they are.
    wider = walk_forward(ensemble(members=MEMBERS, blend_seasons=4, blend="logistic"), repo, "M",
                         2023, 2025, history=history, fit_final=False)  # fmt: skip
    for key, by_season in kept.items():
        for season, frame in by_season.items():
            assert history._member_forecasts[key][season] is frame
        assert sorted(history._member_forecasts[key]) == [2019, 2020, 2021, 2022, 2023, 2024, 2025]
    # Both score exactly as walks of their own would.
    for result, fields in ((first, {"blend_seasons": 2}),
                           (wider, {"blend_seasons": 4, "blend": "logistic"})):  # fmt: skip
        fresh = walk_forward(ensemble(members=MEMBERS, **fields), repo, "M", 2023, 2025)
        pd.testing.assert_frame_equal(result.predictions, fresh.predictions)
    assert first.members == {}  # a search keeps the members' forecasts, not their models


def test_the_fitted_ensemble_saves_and_loads_its_members(
    walked: WalkForwardResult, tmp_path: Path
) -> None:
    model = walked.model
    assert isinstance(model, EnsembleModel)
    model.save(tmp_path / "saved")
    files = sorted(p.relative_to(tmp_path / "saved").as_posix()
                   for p in (tmp_path / "saved").rglob("*") if p.is_file())  # fmt: skip
    assert files == ["config.json", "members/elo/config.json", "members/elo/model.json",
                     "members/logistic_regression/config.json",
                     "members/logistic_regression/model.json", "model.json"]  # fmt: skip
    for path in (tmp_path / "saved").rglob("*.json"):
        json.loads(path.read_text())  # JSON, never pickle
    loaded = EnsembleModel.load(tmp_path / "saved")
    assert loaded.get_config() == model.get_config()
    pd.testing.assert_frame_equal(loaded.learned(), model.learned())
    assert sorted(loaded.members_) == sorted(MEMBERS)
    for name in MEMBERS:
        member, again = model.members_[name], loaded.members_[name]
        assert type(again) is type(member)
        assert again.get_config() == member.get_config()
        again_learned, learned = again.learned(), member.learned()
        assert again_learned is not None
        assert learned is not None
        pd.testing.assert_frame_equal(again_learned, learned)
    probabilities = pd.DataFrame(np.random.default_rng(5).random((30, 2)), columns=list(MEMBERS))
    np.testing.assert_array_equal(loaded.predict_proba(probabilities),
                                  model.predict_proba(probabilities))  # fmt: skip
    assert model.blend_ is not None
    for season, want in ((2023, model.by_season_[2023].weights), (2026, model.blend_.weights)):
        got = loaded.weights_for(season, 2025)
        assert got is not None
        np.testing.assert_array_equal(got, want)


def test_the_package_holds_each_member_packaged_and_blends_them(
    walked: WalkForwardResult, demo_store: Path, tmp_path: Path
) -> None:
    repo = ParquetRepository(demo_store)
    folder = package_result(tmp_path / "forecaster", walked, repo)
    assert sorted(p.name for p in folder.iterdir()) == [INFO_FILE, MEMBERS_DIR, MODEL_DIR,
                                                        TEAMS_FILE]  # fmt: skip
    info = json.loads((folder / INFO_FILE).read_text())
    assert info["model"] == "ensemble"
    assert info["members"] == list(MEMBERS)
    # The blend alone in model/: each member lives in its own package.
    assert not (folder / MODEL_DIR / MEMBERS_DIR).exists()
    assert json.loads((folder / MODEL_DIR / CONFIG_FILE).read_text())["model"] == "ensemble"
    last = walked.predictions[walked.predictions["season"] == 2025]
    pairs = last[["season", "team_a_id", "team_b_id"]]
    for name in MEMBERS:
        member = load_packaged(folder / MEMBERS_DIR / name)
        own = walked.members[name].predictions
        want = own.loc[own["season"] == 2025, "pred_win_prob"].to_numpy()
        np.testing.assert_allclose(member.predict(pairs), want, rtol=0, atol=1e-12)
    package = load_packaged(folder)
    np.testing.assert_allclose(package.predict(pairs), last["pred_win_prob"], rtol=0, atol=1e-12)


# --- through the command line, into MLflow --------------------------------------------------


@dataclass(frozen=True)
class Runs:
    uri: str
    root: Path
    demo: Path
    #: Ensemble of MEMBERS, an ensemble of Elo alone, and Elo: 2023-2024 each.
    pair: str
    only_elo: str
    elo: str

    def cli(self, *args: str, expect: int = 0) -> Result:
        result = CliRunner().invoke(
            cli, [*args, "--tracking-uri", self.uri, "--experiment", DEMO_EXPERIMENT],
            catch_exceptions=False,
        )  # fmt: skip
        assert result.exit_code == expect, result.output
        return result

    def predict(self, source: str, season: int, name: str) -> bytes:
        out = self.root / f"{name}.csv"
        option = "--model" if source.startswith("runs:/") else "--run"
        self.cli("predict", option, source, "--season", str(season), "--data-dir", str(self.demo),
                 "--output", str(out))  # fmt: skip
        return out.read_bytes()


def _train(uri: str, demo: Path, root: Path, model: str, config: dict[str, Any] | None) -> str:
    args = ["train", "--model", model, "--data-dir", str(demo), "--start-year", "2023",
            "--end-year", "2024", "--tracking-uri", uri, "--output-dir", str(root / "out"),
            "--json"]  # fmt: skip
    if config is not None:
        path = root / f"{model}-{len(config['members'])}.json"
        path.write_text(json.dumps(config))
        args += ["--config", str(path)]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return str(json.loads(result.output)["run_id"])


@pytest.fixture(scope="module")
def runs(
    request: pytest.FixtureRequest, demo_store: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Runs]:
    root = tmp_path_factory.mktemp("ensemble-runs")
    uri = store_copy(shared_template(request.config, tmp_path_factory), root / "mlflow.db")
    with pytest.MonkeyPatch.context() as mp:
        for name in (*MLFLOW_ENV_VARS, "NCAA_EVAL_DATA_DIR"):
            mp.delenv(name, raising=False)
        mp.chdir(root)
        pair = _train(uri, demo_store, root, "ensemble", {"members": list(MEMBERS)})
        only_elo = _train(uri, demo_store, root, "ensemble", {"members": ["elo"]})
        elo = _train(uri, demo_store, root, "elo", None)
        yield Runs(uri, root, demo_store, pair, only_elo, elo)
    assert_no_active_run()


@pytest.mark.filterwarnings("ignore::UserWarning:mlflow.types.utils")
def test_training_an_ensemble_makes_a_normal_run(runs: Runs) -> None:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(runs.uri)
    run = client.get_run(runs.pair)
    assert run.info.status == "FINISHED"
    assert sorted(a.path for a in client.list_artifacts(runs.pair)) == ARTIFACTS
    params = run.data.params
    assert params["model_type"] == "ensemble"
    assert params["members"] == json.dumps(list(MEMBERS))
    assert params["member_configs.elo.k"] == str(EloConfig().k)
    assert params["member_configs.logistic_regression.features.margin_cap"] == "30.0"
    assert run.data.metrics["scored_games"] == 2 * 63
    store = RunStore(runs.uri, DEMO_EXPERIMENT)
    predictions = store.load_predictions(runs.pair)
    assert sorted(set(predictions["season"])) == [2023, 2024]
    # The MLflow Model, loaded by MLflow with pickle refused, answers as the walk-forward did.
    check_model_answers(runs.uri, runs.pair, predictions, ParquetRepository(runs.demo), "M")
    # What it learned: the weights, shown by `runs show`.
    shown = runs.cli("runs", "show", runs.pair).output
    assert "Member weights" in shown
    assert "after 2024" in shown
    learned = json.loads(runs.cli("runs", "show", runs.pair, "--json").output)["learned"]
    assert learned["columns"] == ["forecast", "tournaments", "games", *MEMBERS]
    assert [row["forecast"] for row in learned["rows"]] == ["after 2024", "2024", "2023"]


@pytest.mark.filterwarnings("ignore::UserWarning:mlflow.types.utils")
def test_predict_with_an_ensemble_run_uses_the_weights_of_its_walk(runs: Runs) -> None:
    # Its own last season: the run refit on the store, and its MLflow Model alone, agree.
    by_run = runs.predict(runs.pair, 2024, "pair-2024")
    assert by_run == runs.predict(f"runs:/{runs.pair}/model", 2024, "pair-model-2024")
    frame = pd.read_csv(runs.root / "pair-2024.csv")
    assert len(frame) == 68 * 67 // 2
    assert frame["Pred"].between(0, 1).all()
    # A later season: the members' saved models carried forward, the final weights.
    later = pd.read_csv(io.BytesIO(runs.predict(runs.pair, 2025, "pair-2025")))
    assert len(later) == 68 * 67 // 2
    # A one-member ensemble gives its member's numbers in and after the run's years.
    for season in (2023, 2024, 2025):
        assert runs.predict(runs.only_elo, season, f"one-{season}") == runs.predict(
            runs.elo, season, f"elo-{season}"
        )


@pytest.mark.parametrize(
    ("members", "named"),
    [
        (["elo", "no_such_model"], "unknown model 'no_such_model'"),
        (["elo", "ensemble"], "cannot blend itself"),
        ([], "at least one member"),
    ],
)
def test_a_bad_ensemble_is_refused_in_one_line_before_any_run(
    members: list[str], named: str, demo_store: Path, tmp_path: Path
) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"members": members}))
    result = CliRunner().invoke(
        cli,
        ["train", "--model", "ensemble", "--data-dir", str(demo_store), "--config", str(config),
         "--tracking-uri", sqlite_uri(tmp_path / "never.db")],
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("Error: Invalid config for model 'ensemble': members: ")
    assert named in lines[0]
    assert not (tmp_path / "never.db").exists()  # no store, so no run left RUNNING


def test_tune_searches_the_blend_on_members_walked_once(
    request: pytest.FixtureRequest,
    demo_store: Path,
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in (*MLFLOW_ENV_VARS, "NCAA_EVAL_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    uri = store_copy(shared_template(request.config, tmp_path_factory), tmp_path / "mlflow.db")
    space = tmp_path / "space.json"
    space.write_text(json.dumps({"members": list(MEMBERS)}))
    # 2019-2020: the default members (margin among them) could not forecast 2019 with one
    # tournament before it; the fixed members can, and the search is judged on them.
    result = CliRunner().invoke(
        cli,
        ["tune", "--model", "ensemble", "--trials", "3", "--tune-years", "2019-2020",
         "--space", str(space), "--seed", "0", "--data-dir", str(demo_store),
         "--tracking-uri", uri, "--output-dir", str(tmp_path / "out"), "--json"],
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["trials"]["complete"] + payload["trials"]["pruned"] == 3
    assert set(payload["best"]["params"]) <= {"blend", "blend_seasons", "shrink"}
    best = json.loads(Path(payload["best_config_file"]).read_text())
    assert best["members"] == list(MEMBERS)
    assert EnsembleConfig.model_validate(best).model_dump(mode="json") == best
    assert payload["default"]["config"]["members"] == list(MEMBERS)


def test_a_refit_blends_the_tournaments_every_member_forecasts(demo_store: Path) -> None:
    from ncaa_eval.errors import NcaaEvalError
    from ncaa_eval.forecast.pairs import forecast_pairs, tournament_teams

    repository = ParquetRepository(demo_store)
    config = {"members": ["elo", "margin"]}
    teams = tournament_teams(repository, "M", 2021)[:6]
    # 2021: margin has 2018-2020 before it; no earlier tournament has both members' forecasts,
    # so the blend is the equal-weights prior (the walk-forward does the same).
    refit = forecast_pairs("ensemble", config, 2025, None, repository, "M", 2021, teams)
    elo = forecast_pairs("elo", {}, 2025, None, repository, "M", 2021, teams)
    margin = forecast_pairs("margin", {}, 2025, None, repository, "M", 2021, teams)
    logit = np.log(elo.prob / (1 - elo.prob)) / 2 + np.log(margin.prob / (1 - margin.prob)) / 2
    off = ~np.eye(len(teams), dtype=bool)
    np.testing.assert_allclose(refit.prob[off], (1 / (1 + np.exp(-logit)))[off], atol=1e-9)
    walked = walk_forward(
        lambda: EnsembleModel(EnsembleConfig.model_validate(config)), repository, "M", 2021, 2021
    )
    assert walked.predictions["pred_win_prob"].notna().all()
    # 2020: margin cannot forecast it; refused in one line naming the first season that works.
    with pytest.raises(NcaaEvalError, match=r"Cannot forecast 2020 .* start at 2021 or later"):
        forecast_pairs("ensemble", config, 2025, None, repository, "M", 2020, teams)
