"""Walk-forward tests: the forecast of a tournament uses nothing of that tournament.

Real men's data with Elo reproduces the reference protocol (1322 scored games 2003-2024);
editing a tournament result must leave that tournament's predictions untouched; a stateless model
is only ever fitted on rows from before the tournament it forecasts.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar, Self

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
from pydantic import Field
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from ncaa_eval.errors import NcaaEvalError
from ncaa_eval.evaluation.walk_forward import WalkForwardResult, walk_forward
from ncaa_eval.ingest import DemoConfig, ParquetRepository, import_kaggle, write_demo_csvs
from ncaa_eval.model.base import FeatureModelConfig, FloatArray, Model, ModelConfig
from ncaa_eval.model.elo import EloModel
from ncaa_eval.model.logistic_regression import LogisticRegressionModel
from ncaa_eval.transform.feature_serving import FeatureConfig

#: The league of the session's ``demo_store`` fixture (build_demo_store(seed=7, n_seasons=8)).
DEMO = DemoConfig(seed=7, first_season=2018, last_season=2025)
#: The demo season whose tournament result is flipped.
FLIP_SEASON = 2022


@pytest.fixture(scope="module", autouse=True)
def _single_threaded_blas() -> Iterator[None]:
    """The feature server solves many small systems; threaded BLAS only slows those down."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def counts(result: WalkForwardResult) -> dict[int, tuple[int, int]]:
    """season -> (predictions, scored games)."""
    p = result.predictions
    scored = result.scored
    return {
        int(s): (int((p["season"] == s).sum()), int((scored["season"] == s).sum()))
        for s in sorted(p["season"].unique())
    }


# --- real data, Elo -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def men_elo(kaggle_store: Path) -> WalkForwardResult:
    return walk_forward(EloModel, ParquetRepository(kaggle_store), "M", 2003, 2024)


@pytest.mark.kaggle
def test_men_elo_reproduces_the_reference_protocol(men_elo: WalkForwardResult) -> None:
    metrics = men_elo.metrics()
    assert metrics.n == 1322
    assert len(men_elo.scored) == 1322
    assert metrics.brier <= 0.187
    # Far better than the best public pipelines would mean leakage (../shared/FORECASTING.md).
    assert metrics.brier > 0.178
    assert metrics.log_loss < 0.56
    assert men_elo.seasons == [s for s in range(2003, 2025) if s != 2020]
    p = men_elo.predictions["pred_win_prob"]
    assert ((p > 0) & (p < 1)).all()
    per_season = men_elo.season_metrics()
    assert sorted(per_season["season"].astype(int)) == men_elo.seasons
    assert men_elo.model.is_fitted


@pytest.mark.kaggle
def test_first_four_games_are_predicted_but_not_scored(men_elo: WalkForwardResult) -> None:
    by_season = counts(men_elo)
    for season, (predicted, scored) in by_season.items():
        if season == 2021:
            expected = (66, 62)  # VCU-Oregon was a no contest
        elif season >= 2011:
            expected = (67, 63)  # the First Four
        else:
            expected = (64, 63)  # one opening-round game
        assert (predicted, scored) == expected, season
    p = men_elo.predictions
    play_in = p[p["is_play_in"]]
    # Play-in games open each tournament: none is later than any main-draw game.
    first_main = p[~p["is_play_in"]].groupby("season")["day_num"].min()
    assert (play_in["day_num"].to_numpy() <= first_main[play_in["season"]].to_numpy()).all()
    assert len(play_in) == sum(n - k for n, k in by_season.values())


@pytest.mark.kaggle
def test_women_elo(kaggle_store: Path) -> None:
    result = walk_forward(EloModel, ParquetRepository(kaggle_store), "W", 2015, 2024)
    by_season = counts(result)
    assert sorted(by_season) == [s for s in range(2015, 2025) if s != 2020]
    for season, (predicted, scored) in by_season.items():
        assert scored == 63, season
        assert predicted == (67 if season >= 2022 else 63), season
    assert result.metrics().brier < 0.16


@pytest.mark.kaggle
def test_a_range_without_a_tournament_is_refused(kaggle_store: Path) -> None:
    with pytest.raises(NcaaEvalError) as info:
        walk_forward(EloModel, ParquetRepository(kaggle_store), "M", 2020, 2020)
    message = str(info.value)
    assert "No NCAA tournament was played in 2020 (M)" in message
    assert "\n" not in message


# --- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (2024, 2022, "Start year 2024 is after end year 2022"),
        (2010, 2020, "Years 2010-2020 are outside the M data"),
        (2024, 2030, "Years 2024-2030 are outside the M data (2018-2025)"),
        (2000, 2005, "Years 2000-2005 are outside the M data"),
    ],
)
def test_bad_years_are_refused_in_one_line(
    demo_store: Path, start: int, end: int, expected: str
) -> None:
    with pytest.raises(NcaaEvalError) as info:
        walk_forward(EloModel, ParquetRepository(demo_store), "M", start, end)
    message = str(info.value)
    assert expected in message
    assert "\n" not in message


# --- frozen tournaments ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def flipped_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo league with one first-round result of FLIP_SEASON's tournament reversed."""
    source = tmp_path_factory.mktemp("flipped-csvs")
    write_demo_csvs(source, DEMO)
    compact = pd.read_csv(source / "MNCAATourneyCompactResults.csv")
    games = compact[compact["Season"] == FLIP_SEASON]
    day = sorted(games["DayNum"].unique())[2]  # after the two First Four days
    game = games[games["DayNum"] == day].iloc[0]
    key = ["Season", "DayNum", "WTeamID", "LTeamID"]
    for name in ("MNCAATourneyCompactResults.csv", "MNCAATourneyDetailedResults.csv"):
        frame = pd.read_csv(source / name)
        row = (frame[key] == game[key]).all(axis=1)
        assert row.sum() == 1
        # The loser wins by the same score.
        frame.loc[row, key[2:]] = frame.loc[row, key[:1:-1]].to_numpy()
        frame.to_csv(source / name, index=False, lineterminator="\n")
    data_dir = tmp_path_factory.mktemp("flipped-store")
    import_kaggle(source, data_dir)
    return data_dir


@pytest.mark.parametrize("model", [EloModel, LogisticRegressionModel], ids=["elo", "logreg"])
def test_a_tournament_result_cannot_change_its_own_forecast(
    model: type[Model], demo_store: Path, flipped_store: Path
) -> None:
    seasons = (FLIP_SEASON, FLIP_SEASON + 1)
    base = walk_forward(model, ParquetRepository(demo_store), "M", *seasons).predictions
    flip = walk_forward(model, ParquetRepository(flipped_store), "M", *seasons).predictions
    assert base["game_id"].tolist() == flip["game_id"].tolist()
    same_season = (base["season"] == FLIP_SEASON).to_numpy()
    # The flip is really in the data: exactly one outcome of that season differs.
    outcome_changed = base["team_a_won"].to_numpy() != flip["team_a_won"].to_numpy()
    assert outcome_changed.sum() == 1
    assert outcome_changed[same_season].sum() == 1
    # Every forecast of that tournament is identical: all were made before it was played.
    np.testing.assert_array_equal(
        base.loc[same_season, "pred_win_prob"].to_numpy(),
        flip.loc[same_season, "pred_win_prob"].to_numpy(),
    )
    # The next season learned from the flipped result (so this test could fail).
    later = base.loc[~same_season, "pred_win_prob"].to_numpy()
    assert not np.array_equal(later, flip.loc[~same_season, "pred_win_prob"].to_numpy())


# --- what a stateless model is fitted on ----------------------------------------------------


class RecordingConfig(FeatureModelConfig):
    """Features without ordinals and a non-default first training day, to see both honoured."""

    features: FeatureConfig = Field(
        default_factory=lambda: FeatureConfig(ordinals=False),
        description="Features served to the model.",
    )
    train_min_day: int = Field(default=90, ge=0, le=200, description="First training DayNum.")


class RecordingModel(Model):
    """Predicts the training base rate and records the rows it is fitted on and asked about."""

    config_class: ClassVar[type[ModelConfig]] = RecordingConfig
    fits: ClassVar[list[pd.DataFrame]] = []
    predicts: ClassVar[list[pd.DataFrame]] = []

    def __init__(self, config: RecordingConfig | None = None) -> None:
        super().__init__(config)
        self.rate_: float | None = None

    @property
    def is_fitted(self) -> bool:
        return self.rate_ is not None

    def fit(self, X: pd.DataFrame, y: npt.ArrayLike) -> Self:
        RecordingModel.fits.append(X.copy())
        self.rate_ = float(np.mean(np.asarray(y, dtype=np.float64)))
        return self

    def predict_proba(self, X: pd.DataFrame) -> FloatArray:
        self._check_fitted()
        assert self.rate_ is not None
        RecordingModel.predicts.append(X.copy())
        return np.full(len(X), self.rate_)

    def _save_state(self, path: Path) -> None:
        (path / "model.json").write_text(f'{{"rate": {self.rate_}}}')

    def _load_state(self, path: Path) -> None:
        self.rate_ = float((path / "model.json").read_text().split(":")[1].strip(" }"))


def test_a_stateless_model_is_fitted_only_on_rows_before_the_tournament(demo_store: Path) -> None:
    RecordingModel.fits.clear()
    RecordingModel.predicts.clear()
    announced: list[tuple[int, int]] = []
    result = walk_forward(
        RecordingModel,
        ParquetRepository(demo_store),
        "M",
        2021,
        2024,
        on_season=lambda season, n: announced.append((season, n)),
    )
    assert result.feature_set is not None
    frame = result.feature_set.frame
    cols = result.feature_set.feature_columns
    assert cols == RecordingConfig().features.feature_columns()
    assert "ordinal_diff" not in cols
    seasons = [2021, 2022, 2023, 2024]
    assert result.seasons == seasons
    assert announced == [(s, 67) for s in seasons]
    # One fit per forecast season, then the final fit through the last season.
    assert len(RecordingModel.fits) == len(seasons) + 1
    assert len(RecordingModel.predicts) == len(seasons)
    for season, X, asked in zip(
        [*seasons, 2025], RecordingModel.fits, [*RecordingModel.predicts, None], strict=True
    ):
        # The model sees the feature columns only: no ids, scores, outcomes or dates.
        assert list(X.columns) == cols
        rows = frame.loc[X.index]
        tourney = rows["is_tournament"].to_numpy(dtype=bool)
        season_of = rows["season"].to_numpy()
        assert not (season_of > season).any()
        assert not (tourney & (season_of == season)).any(), f"{season}: its tournament leaked"
        assert (rows.loc[~tourney, "day_num"] >= 90).all()
        expected = (
            ((frame["season"] < season) | ((frame["season"] == season) & ~frame["is_tournament"]))
            & (frame["is_tournament"] | (frame["day_num"] >= 90))
            & (frame["season"] <= 2024)
        )
        assert len(X) == int(expected.sum())
        assert set(X.index) == set(frame.index[expected])
        # Every earlier tournament is learned from.
        earlier = frame["is_tournament"] & (frame["season"] < season)
        assert set(frame.index[earlier]) <= set(X.index)
        if asked is not None:
            target = frame[(frame["season"] == season) & frame["is_tournament"]]
            assert list(asked.index) == list(target.index)
            assert list(asked.columns) == cols
    assert counts(result) == {s: (67, 63) for s in seasons}
    assert isinstance(result.model, RecordingModel)
    assert result.model.is_fitted


def test_history_can_start_later(demo_store: Path) -> None:
    repo = ParquetRepository(demo_store)
    full = walk_forward(EloModel, repo, "M", 2023, 2024)
    short = walk_forward(EloModel, repo, "M", 2023, 2024, history_from=2022)
    assert len(short.predictions) == len(full.predictions)
    assert not np.allclose(short.predictions["pred_win_prob"], full.predictions["pred_win_prob"])
    with pytest.raises(NcaaEvalError, match="History from 2024 starts after"):
        walk_forward(EloModel, repo, "M", 2023, 2024, history_from=2024)
