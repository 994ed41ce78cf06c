"""Tests of MarginModel: the normal curve of a ridge margin, its spread fitted walk-forward.

Synthetic seasons check the model itself (monotone, antisymmetric, missing features, the spread's
out-of-sample fit, exact reloads); the demo league checks it inside the walk-forward, where no
later game, no result of the forecast tournament and no end year may move a forecast.
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
from pydantic import ValidationError
from scipy.special import log_ndtr, ndtr
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from ncaa_eval.errors import NcaaEvalError
from ncaa_eval.evaluation.walk_forward import walk_forward
from ncaa_eval.ingest import DemoConfig, ParquetRepository, import_kaggle, write_demo_csvs
from ncaa_eval.model.base import fit_inputs
from ncaa_eval.model.margin import SPREAD_TERM, MarginConfig, MarginModel
from ncaa_eval.model.registry import get_model
from ncaa_eval.tuning.space import declared_space
from tests.conftest import Invoke
from tests.helpers.mlflow_store import sqlite_uri

FEATURES = ["elo_diff", "margin_rating_diff", "ordinal_diff", "seed_diff", "court"]
#: Seasons of the synthetic league; ordinals exist from ORDINALS_FROM on, as Massey's from 2003.
SEASONS = list(range(2001, 2009))
ORDINALS_FROM = 2004
#: The league of the session's ``demo_store`` fixture (build_demo_store(seed=7, n_seasons=8)).
DEMO = DemoConfig(seed=7, first_season=2018, last_season=2025)
GAME_KEY = ["Season", "DayNum", "WTeamID", "LTeamID"]


@pytest.fixture(scope="module", autouse=True)
def _single_threaded_blas() -> Iterator[None]:
    with threadpool_limits(limits=1, user_api="blas"):
        yield


# --- a synthetic league ---------------------------------------------------------------------


def league(seed: int = 0, seasons: list[int] = SEASONS) -> pd.DataFrame:
    """Served-like rows: 400 regular-season and 40 tournament games a season, team A's margin a
    linear function of antisymmetric features plus noise (sd 10 points)."""
    rng = np.random.default_rng(seed)
    frames = []
    for season in seasons:
        for tournament, n in ((False, 400), (True, 40)):
            strength = rng.normal(0, 8, n)
            court = np.zeros(n) if tournament else rng.choice([-1.0, 0.0, 1.0], n)
            frame = pd.DataFrame(
                {
                    "season": season,
                    "day_num": rng.integers(136, 155, n)
                    if tournament
                    else rng.integers(90, 133, n),
                    "is_tournament": tournament,
                    "elo_diff": 25 * strength + rng.normal(0, 60, n),
                    "margin_rating_diff": strength + rng.normal(0, 3, n),
                    "ordinal_diff": (
                        -0.12 * strength + rng.normal(0, 0.4, n)
                        if season >= ORDINALS_FROM
                        else np.nan
                    ),
                    "seed_diff": -0.8 * strength + rng.normal(0, 3, n) if tournament else np.nan,
                    "court": court,
                }
            )
            margin = np.round(strength + 3.5 * court + rng.normal(0, 10, n))
            margin[margin == 0] = 1
            frame["team_a_score"] = 70 + np.maximum(margin, 0)
            frame["team_b_score"] = 70 - np.minimum(margin, 0)
            frame["team_a_won"] = margin > 0
            frames.append(frame.sort_values("day_num"))
    return pd.concat(frames, ignore_index=True)


def inputs(frame: pd.DataFrame) -> tuple[pd.DataFrame, npt.NDArray[np.int64]]:
    """What the walk-forward hands ``fit``: the features and the game columns, and the labels."""
    return fit_inputs(MarginModel, frame, FEATURES), frame["team_a_won"].to_numpy(dtype=np.int64)


def before_tournament(frame: pd.DataFrame, season: int) -> pd.DataFrame:
    """The rows the walk-forward trains on to forecast ``season``'s tournament."""
    keep = (frame["season"] < season) | ((frame["season"] == season) & ~frame["is_tournament"])
    return frame[keep]


def tournament(frame: pd.DataFrame, season: int) -> pd.DataFrame:
    return frame[(frame["season"] == season) & frame["is_tournament"]]


def fitted(frame: pd.DataFrame, **config: object) -> MarginModel:
    return MarginModel(MarginConfig.model_validate(config)).fit(*inputs(frame))


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return league()


@pytest.fixture(scope="module")
def model(data: pd.DataFrame) -> MarginModel:
    """Fitted to forecast the last season's tournament."""
    return fitted(before_tournament(data, SEASONS[-1]))


@pytest.fixture(scope="module")
def test_rows(data: pd.DataFrame) -> pd.DataFrame:
    return tournament(data, SEASONS[-1])[FEATURES]


# --- registration ---------------------------------------------------------------------------


def test_registered_with_its_search_space_and_the_game_columns_it_fits_on() -> None:
    assert get_model("margin") is MarginModel
    assert not MarginModel.stateful
    assert MarginModel.fit_columns == (
        "season", "day_num", "is_tournament", "team_a_score", "team_b_score"
    )  # fmt: skip
    space = declared_space(MarginConfig, "margin")
    assert {d.name for d in space.dimensions} == {
        "train_min_day", "margin_cap", "spread_fit", "ridge"
    }  # fmt: skip
    with pytest.raises(ValidationError, match="spread_seasons=2 is below spread_min_seasons=3"):
        MarginConfig(spread_seasons=2)


def test_fit_needs_the_game_columns_and_says_which(data: pd.DataFrame) -> None:
    X, y = inputs(before_tournament(data, SEASONS[-1]))
    with pytest.raises(ValueError, match=r"\['team_a_score', 'team_b_score'\]"):
        MarginModel().fit(X.drop(columns=["team_a_score", "team_b_score"]), y)
    with pytest.raises(ValueError, match="fit needs the game column"):
        fit_inputs(MarginModel, data.drop(columns=["day_num"]), FEATURES)


# --- the probability ------------------------------------------------------------------------


def test_the_probability_is_the_normal_curve_of_the_margin_so_monotone_in_it(
    model: MarginModel, data: pd.DataFrame, test_rows: pd.DataFrame
) -> None:
    margin = model.predict_margin(test_rows)
    p = model.predict_proba(test_rows)
    sigma = float(model.learned()["points"].iloc[-1])
    np.testing.assert_allclose(p, ndtr(margin / sigma), rtol=0, atol=1e-15)
    order = np.argsort(margin, kind="stable")
    assert (np.diff(p[order]) >= 0).all()
    assert (np.diff(p[order])[np.diff(margin[order]) > 0] > 0).all()  # strictly, here unsaturated
    played = tournament(data, SEASONS[-1])
    assert np.corrcoef(margin, played["team_a_score"] - played["team_b_score"])[0, 1] > 0.4
    # No intercept: teams equal on every feature are even.
    even = pd.DataFrame(np.zeros((1, len(FEATURES))), columns=FEATURES)
    assert model.predict_margin(even)[0] == 0.0
    assert model.predict_proba(even)[0] == 0.5


def test_swapping_the_teams_gives_the_complement_whatever_is_missing(
    model: MarginModel, data: pd.DataFrame
) -> None:
    """p(A, B) = 1 - p(B, A): B's view of a game negates every feature (a missing one stays)."""
    rows = pd.concat([data[FEATURES].sample(300, random_state=1), tournament(data, 2002)[FEATURES]])
    rows.iloc[:20, 0] = np.nan  # elo missing: a pattern no training row had
    swapped = -rows
    np.testing.assert_array_equal(model.predict_margin(swapped), -model.predict_margin(rows))
    np.testing.assert_allclose(
        model.predict_proba(swapped), 1.0 - model.predict_proba(rows), rtol=0, atol=1e-12
    )


@pytest.mark.parametrize("absent", ["ordinal_diff", "elo_diff", "seed_diff"])
def test_a_row_missing_a_feature_is_predicted_by_the_regression_without_it(
    absent: str, model: MarginModel, data: pd.DataFrame, test_rows: pd.DataFrame
) -> None:
    """Not imputed: the margin of such a row is that of a model never given the feature."""
    train = before_tournament(data, SEASONS[-1])
    X, y = inputs(train)
    without = MarginModel().fit(X.drop(columns=[absent]), y)
    rows = test_rows.assign(**{absent: np.nan})
    np.testing.assert_allclose(
        model.predict_margin(rows), without.predict_margin(rows), rtol=1e-10, atol=1e-10
    )
    # ... while the rows that have it use it.
    assert not np.allclose(model.predict_margin(test_rows), without.predict_margin(test_rows))


def test_a_feature_missing_from_some_training_rows_still_learns_from_the_rest(
    data: pd.DataFrame,
) -> None:
    """seed_diff exists in tournament games only, and is still learned (from them), while the
    court, neutral in every tournament game, is learned from the regular seasons."""
    train = before_tournament(data, SEASONS[-1])
    full = fitted(train).learned().set_index("term")
    points, per_unit = full["points"].to_dict(), full["per_unit"].to_dict()
    assert points["seed_diff"] < 0  # a better (smaller) seed number: a larger margin
    assert per_unit["court"] == pytest.approx(3.5, abs=0.6)


# --- the spread -----------------------------------------------------------------------------


def out_of_sample(frame: pd.DataFrame, seasons: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Each season's tournament margins predicted by a model fitted on the rows before it, and
    the capped true margins."""
    predicted, actual = [], []
    for season in seasons:
        before = fitted(before_tournament(frame, season), spread_min_seasons=1)
        rows = tournament(frame, season)
        predicted.append(before.predict_margin(rows[FEATURES]))
        actual.append(np.clip(rows["team_a_score"] - rows["team_b_score"], -30, 30))
    return np.concatenate(predicted), np.concatenate(actual)


def test_the_residual_spread_is_the_error_of_earlier_tournaments_forecast_out_of_sample(
    data: pd.DataFrame,
) -> None:
    last = SEASONS[-1]
    model = fitted(before_tournament(data, last), spread_fit="residuals", spread_seasons=4)
    table = model.learned()
    assert table["term"].iloc[-1] == SPREAD_TERM.format(n=4)
    earlier = list(range(last - 4, last))
    predicted, actual = out_of_sample(data, earlier)
    expected = math.sqrt(float(np.mean((actual - predicted) ** 2)))
    assert table["points"].iloc[-1] == pytest.approx(expected, rel=1e-9)
    assert model.state_ is not None
    assert model.state_.spread_seasons == earlier


def test_the_outcome_spread_minimises_the_log_loss_of_earlier_forecasts(
    data: pd.DataFrame,
) -> None:
    last = SEASONS[-1]
    sigma = fitted(before_tournament(data, last), spread_seasons=4).learned()["points"].iloc[-1]
    predicted, actual = out_of_sample(data, list(range(last - 4, last)))
    sign = np.sign(actual)

    def log_loss(s: float) -> float:
        return -float(np.mean(log_ndtr(sign * predicted / s)))

    grid = np.linspace(sigma * 0.8, sigma * 1.2, 401)
    best = grid[np.argmin([log_loss(s) for s in grid])]
    assert sigma == pytest.approx(best, rel=2e-3)
    assert 5 < sigma < 20


def test_too_few_earlier_tournaments_is_one_plain_error(data: pd.DataFrame) -> None:
    train = before_tournament(data[data["season"] <= 2003], 2003)  # tournaments 2001 and 2002
    with pytest.raises(NcaaEvalError) as info:
        fitted(train)
    message = str(info.value)
    assert "\n" not in message
    assert message == (
        "margin: the spread is fitted on earlier seasons' tournaments and the training games "
        "hold 2 (2001, 2002); it needs spread_min_seasons=3: start the walk-forward at 2004 or "
        "later, or lower spread_min_seasons."
    )
    assert fitted(train, spread_min_seasons=2).is_fitted
    with pytest.raises(NcaaEvalError, match="hold none; it needs spread_min_seasons=1: start "
                       "the walk-forward at 2002 or later"):  # fmt: skip
        fitted(before_tournament(data[data["season"] == 2001], 2001), spread_min_seasons=1)


# --- what it learned, and reloads -----------------------------------------------------------


def test_learned_is_the_coefficients_then_the_spread(model: MarginModel) -> None:
    table = model.learned()
    assert list(table.columns) == ["term", "points", "per_unit", "sd"]
    assert sorted(table["term"].iloc[:-1]) == sorted(FEATURES)
    assert table["term"].iloc[-1] == SPREAD_TERM.format(n=len(SEASONS) - 1)
    features = table.iloc[:-1]
    np.testing.assert_allclose(features["points"], features["per_unit"] * features["sd"])
    assert (np.diff(features["points"].abs().to_numpy()) <= 0).all()  # largest first
    assert table[["per_unit", "sd"]].iloc[-1].isna().all()


def test_save_load_is_json_and_predicts_exactly(
    model: MarginModel, test_rows: pd.DataFrame, tmp_path: Path
) -> None:
    model.save(tmp_path / "m")
    state = json.loads((tmp_path / "m" / "model.json").read_text())
    assert state["feature_names"] == FEATURES
    loaded = MarginModel.load(tmp_path / "m")
    rows = test_rows.copy()
    rows.iloc[:5, 1] = np.nan  # a pattern solved only after the reload
    np.testing.assert_array_equal(loaded.predict_proba(rows), model.predict_proba(rows))
    np.testing.assert_array_equal(loaded.predict_margin(rows), model.predict_margin(rows))
    pd.testing.assert_frame_equal(loaded.learned(), model.learned())


# --- inside the walk-forward, on the demo league --------------------------------------------


def _demo_walk(data_dir: Path, start: int = 2021, end: int = 2024) -> pd.DataFrame:
    return walk_forward(MarginModel, ParquetRepository(data_dir), "M", start, end).predictions


@pytest.fixture(scope="module")
def demo_csvs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("margin-demo-csvs")
    write_demo_csvs(folder, DEMO)
    return folder


@pytest.fixture(scope="module")
def demo_base(demo_store: Path) -> pd.DataFrame:
    return _demo_walk(demo_store)


def _late_regular_game(folder: Path, season: int) -> tuple[pd.DataFrame, pd.Series]:
    games = pd.read_csv(folder / "MRegularSeasonCompactResults.csv")
    season_games = games[games["Season"] == season]
    return games, season_games[season_games["DayNum"] == season_games["DayNum"].max()].iloc[0]


def _rewrite(folder: Path, kind: str, edit: Callable[[pd.DataFrame], pd.DataFrame]) -> None:
    for name in (f"M{kind}CompactResults.csv", f"M{kind}DetailedResults.csv"):
        edit(pd.read_csv(folder / name)).to_csv(folder / name, index=False, lineterminator="\n")


def late_score(folder: Path) -> int:
    """A blowout in place of a game on the last day of 2023's regular season."""
    _, game = _late_regular_game(folder, 2023)

    def edit(frame: pd.DataFrame) -> pd.DataFrame:
        row = (frame[GAME_KEY] == game[GAME_KEY]).all(axis=1)
        assert row.sum() == 1
        frame.loc[row, "WScore"] += 40
        return frame

    _rewrite(folder, "RegularSeason", edit)
    return 2023


def late_delete(folder: Path) -> int:
    _, game = _late_regular_game(folder, 2023)
    _rewrite(folder, "RegularSeason",
             lambda frame: frame[~(frame[GAME_KEY] == game[GAME_KEY]).all(axis=1)])  # fmt: skip
    return 2023


def swapped_tournament(folder: Path) -> int:
    """Every result of 2022's tournament reversed: each loser wins by the same score."""

    def edit(frame: pd.DataFrame) -> pd.DataFrame:
        rows = frame["Season"] == 2022
        frame.loc[rows, ["WTeamID", "LTeamID"]] = frame.loc[rows, ["LTeamID", "WTeamID"]].to_numpy()
        return frame

    _rewrite(folder, "NCAATourney", edit)
    return 2022


@pytest.mark.parametrize("edit", [late_score, late_delete, swapped_tournament])
def test_an_edit_moves_no_forecast_before_it(
    edit: Callable[[Path], int],
    demo_csvs: Path,
    demo_base: pd.DataFrame,
    tmp_path: Path,
) -> None:
    """A changed game moves no forecast of a tournament played before it, nor (a tournament's
    own results) that tournament's forecasts, the spread included; later ones move."""
    source = tmp_path / "csvs"
    shutil.copytree(demo_csvs, source)
    season = edit(source)
    import_kaggle(source, tmp_path / "data")
    other = _demo_walk(tmp_path / "data")
    assert base_ids(demo_base) == base_ids(other)
    kept = (demo_base["season"] <= season if edit is swapped_tournament
            else demo_base["season"] < season).to_numpy()  # fmt: skip
    if edit is swapped_tournament:
        assert (demo_base["team_a_won"] != other["team_a_won"])[kept].sum() > 30
    np.testing.assert_array_equal(
        demo_base.loc[kept, "pred_win_prob"].to_numpy(), other.loc[kept, "pred_win_prob"].to_numpy()
    )
    assert not np.array_equal(
        demo_base.loc[~kept, "pred_win_prob"].to_numpy(),
        other.loc[~kept, "pred_win_prob"].to_numpy(),
    ), "the edit moved nothing: this check could never fail"


def base_ids(predictions: pd.DataFrame) -> list[str]:
    return predictions["game_id"].astype(str).tolist()


def test_a_seasons_forecasts_do_not_depend_on_the_end_year(
    demo_store: Path, demo_base: pd.DataFrame
) -> None:
    short = _demo_walk(demo_store, 2021, 2022)
    same = demo_base[demo_base["season"] <= 2022].reset_index(drop=True)
    pd.testing.assert_frame_equal(short, same)


def test_a_walk_forward_starting_too_early_is_one_error_line(
    demo_store: Path, tmp_path: Path, run_cli: Invoke
) -> None:
    result = run_cli("train", "--model", "margin", "--data-dir", str(demo_store),
                     "--start-year", "2019", "--end-year", "2020",
                     "--output-dir", str(tmp_path / "out"),
                     "--tracking-uri", sqlite_uri(tmp_path / "mlflow.db"), expect=1)  # fmt: skip
    lines = result.output.strip().splitlines()
    # Refused before a run or a store exists (ModelConfig.forecast_problem).
    assert lines == [
        "Error: margin: the spread is fitted on earlier seasons' tournaments and the history "
        "holds 1 (2018) before 2019; it needs spread_min_seasons=3: start at 2021 or later, or "
        "lower spread_min_seasons."
    ], result.output
    assert not (tmp_path / "mlflow.db").exists()
    assert not (tmp_path / "out").exists()
