"""Tests of EloModel: the StatefulModel contract, persistence, and a real-data Brier check."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from ncaa_eval.errors import NotFittedError
from ncaa_eval.model.base import GAME_COLUMNS
from ncaa_eval.model.elo import EloConfig, EloModel, conferences_by_season
from ncaa_eval.model.registry import get_model
from ncaa_eval.ratings.elo import EloConfig as EngineConfig
from tests.helpers.elo_reference import expected_score

#: The tuned defaults as configs saved before the engine and the model shared one config held them.
TUNED_DEFAULTS = {
    "initial_rating": 1500.0,
    "new_team_rating": 985.0,
    "k": 40.0,
    "k_early": 75.0,
    "early_days": 60,
    "k_tournament": 47.0,
    "home_edge": 120.0,
    "use_margin": True,
    "mov_a": 2.5,
    "mov_b": 0.7,
    "mov_c": 6.0,
    "mov_d": 0.003,
    "carry_over": 0.64,
    "carry_toward": "conference",
    "mean_rating": 1500.0,
}

REPO_ROOT = Path(__file__).resolve().parents[2]
#: The real Kaggle download, shared read-only next to the repository.
KAGGLE_DIR = REPO_ROOT.parent / "shared" / "data" / "kaggle"


def game_frame(rows: Sequence[tuple[int, int, int, int, float, float, str, bool]]) -> pd.DataFrame:
    """GAME_COLUMNS from (season, day, a, b, score_a, score_b, loc, tournament) tuples."""
    frame = pd.DataFrame(
        rows,
        columns=[
            "season",
            "day_num",
            "team_a_id",
            "team_b_id",
            "team_a_score",
            "team_b_score",
            "team_a_loc",
            "is_tournament",
        ],
    )
    frame["game_id"] = np.arange(len(frame))
    frame["num_ot"] = 0
    frame["team_a_conf"] = frame["team_a_id"].map(lambda t: "odd" if t % 2 else "even")
    frame["team_b_conf"] = frame["team_b_id"].map(lambda t: "odd" if t % 2 else "even")
    return frame[list(GAME_COLUMNS)]


def synthetic_league(seed: int, seasons: tuple[int, ...] = (2010, 2011, 2012)) -> pd.DataFrame:
    """Random games of 30 teams with a hidden strength, each season ending in a tournament."""
    rng = np.random.default_rng(seed)
    strength = rng.normal(0, 8, size=31)
    rows = []
    for season in seasons:
        for day in range(10, 150, 2):
            teams = rng.permutation(np.arange(1, 31))[:10].reshape(5, 2)
            for x, y in teams:
                a, b = int(min(x, y)), int(max(x, y))
                loc = "N" if day >= 134 else str(rng.choice(["H", "A", "N"]))
                home = {"H": 3.5, "A": -3.5, "N": 0.0}[loc]
                margin = strength[a] - strength[b] + home + rng.normal(0, 10)
                margin = margin if abs(margin) >= 1 else 1.0
                score_a = 70.0 + max(margin, 0.0)
                score_b = 70.0 + max(-margin, 0.0)
                rows.append((season, day, a, b, round(score_a), round(score_b), loc, day >= 134))
    return game_frame(rows)


class TestContract:
    def test_registered_under_elo(self) -> None:
        assert get_model("elo") is EloModel
        assert EloModel.stateful

    def test_config_is_the_engine_config(self) -> None:
        # One definition of the constants: the model's config is the engine's, made a ModelConfig.
        assert issubclass(EloConfig, EngineConfig)
        assert EloConfig.model_fields.keys() == EngineConfig.model_fields.keys()
        assert EloConfig().model_dump() == EngineConfig().model_dump() == TUNED_DEFAULTS
        model = EloModel(EloConfig(k=33))
        assert model.engine_.config is model.config

    def test_saved_config_of_old_runs_loads(self) -> None:
        saved = json.loads(json.dumps(TUNED_DEFAULTS))
        assert EloConfig.from_saved(saved) == EloConfig()
        for name, field in EloConfig.model_fields.items():
            assert field.description, f"{name} has no description"

    def test_config_is_validated(self) -> None:
        with pytest.raises(ValidationError):
            EloConfig(k=-1)
        with pytest.raises(ValidationError):
            EloConfig(carry_over=1.2)
        with pytest.raises(ValidationError):
            EloConfig.model_validate({"kk": 20})
        assert EloModel.from_params({"k": 30}).config.k == 30

    def test_predict_before_fit_raises(self) -> None:
        games = synthetic_league(0)
        with pytest.raises(NotFittedError):
            EloModel().predict_proba(games)
        assert not EloModel().is_fitted

    def test_update_returns_pre_game_probabilities(self) -> None:
        config = EloConfig(
            k=20, k_early=20, k_tournament=20, home_edge=0, use_margin=False, carry_over=1
        )
        model = EloModel(config)
        probs = model.update(
            game_frame([(2000, 10, 1, 2, 70, 60, "N", False), (2000, 11, 1, 2, 70, 60, "N", False)])
        )
        assert probs[0] == 0.5
        assert probs[1] == pytest.approx(expected_score(1510, 1490))
        second_gain = 20 * (1 - expected_score(1510, 1490))
        assert model.ratings_ == pytest.approx({1: 1510 + second_gain, 2: 1490 - second_gain})
        assert model.is_fitted

    def test_fit_resets(self) -> None:
        games = synthetic_league(1)
        once = EloModel().fit(games)
        twice = EloModel().fit(games).fit(games)
        assert once.ratings_ == twice.ratings_

    def test_predict_proba_changes_nothing(self) -> None:
        games = synthetic_league(2)
        model = EloModel().fit(games[games["season"] < 2012])
        before = model.ratings_
        model.predict_proba(games[games["season"] == 2012])
        model.predict_proba(games[games["season"] == 2011])
        assert model.ratings_ == before
        assert model.season_ == 2011

    def test_symmetry(self) -> None:
        games = synthetic_league(3)
        model = EloModel().fit(games)
        flipped = games.rename(
            columns={
                "team_a_id": "team_b_id",
                "team_b_id": "team_a_id",
                "team_a_conf": "team_b_conf",
                "team_b_conf": "team_a_conf",
            }
        )
        flipped["team_a_loc"] = flipped["team_a_loc"].map({"H": "A", "A": "H", "N": "N"})
        np.testing.assert_allclose(
            model.predict_proba(games), 1.0 - model.predict_proba(flipped), atol=1e-12
        )

    def test_later_games_do_not_change_earlier_predictions(self) -> None:
        games = synthetic_league(4)
        full = EloModel().update(games)
        first = EloModel().update(games.iloc[:500])
        np.testing.assert_array_equal(full[:500], first)

    def test_update_in_pieces_equals_one_update(self) -> None:
        games = synthetic_league(5)
        whole = EloModel().update(games)
        model = EloModel()
        bounds = [0, 1, 2, 300, 301, 777, 1500, len(games)]
        pieces = [model.update(games.iloc[lo:hi]) for lo, hi in itertools.pairwise(bounds)]
        np.testing.assert_array_equal(np.concatenate(pieces), whole)

    def test_prediction_into_a_new_season_applies_carry_over(self) -> None:
        games = synthetic_league(6)
        model = EloModel().fit(games[games["season"] < 2012])
        next_season = games[games["season"] == 2012]
        predicted = model.predict_proba(next_season.iloc[:1])
        learned = model.update(next_season.iloc[:1])
        assert predicted[0] == pytest.approx(learned[0], abs=1e-15)

    def test_frozen_tournament_forecast(self) -> None:
        # Predicting the whole tournament at once uses the pre-tournament ratings for every round.
        games = synthetic_league(7)
        regular = games[~games["is_tournament"]]
        tournament = games[games["is_tournament"] & (games["season"] == 2012)]
        model = EloModel().fit(regular[regular["season"] <= 2012])
        frozen = model.predict_proba(tournament)
        live = model.update(tournament)
        assert frozen[0] == pytest.approx(live[0])
        assert not np.allclose(frozen[1:], live[1:])

    def test_missing_conferences_are_tolerated(self) -> None:
        games = synthetic_league(8)
        games["team_a_conf"] = None
        games.loc[games.index[::3], "team_b_conf"] = np.nan
        probs = EloModel().update(games)
        assert np.isfinite(probs).all()

    def test_conferences_by_season(self) -> None:
        games = game_frame(
            [(2000, 1, 1, 2, 70, 60, "N", False), (2001, 1, 1, 4, 70, 60, "N", False)]
        )
        games.loc[1, "team_b_conf"] = None
        assert conferences_by_season(games) == {2000: {1: "odd", 2: "even"}, 2001: {1: "odd"}}

    @pytest.mark.parametrize(
        ("mutate", "message"),
        [
            (lambda f: f.drop(columns=["day_num"]), "missing: day_num"),
            (lambda f: f.iloc[::-1], "time order"),
            (lambda f: f.assign(team_a_loc="X"), "'H', 'A' or 'N'"),
            (lambda f: f.assign(team_a_score=np.nan), "must not be missing"),
        ],
    )
    def test_bad_input_is_rejected(
        self, mutate: Callable[[pd.DataFrame], pd.DataFrame], message: str
    ) -> None:
        games = synthetic_league(9, seasons=(2010,))
        with pytest.raises(ValueError, match=message):
            EloModel().update(mutate(games))


class TestPersistence:
    def test_round_trip(self, tmp_path: Path) -> None:
        games = synthetic_league(10)
        config = EloConfig(k=33, home_edge=90)
        model = EloModel(config).fit(games[games["season"] < 2012])
        model.save(tmp_path / "elo")
        loaded = EloModel.load(tmp_path / "elo")
        assert loaded.config == config
        assert loaded.ratings_ == model.ratings_
        later = games[games["season"] == 2012]
        np.testing.assert_array_equal(loaded.predict_proba(later), model.predict_proba(later))
        # The state keeps walking identically after the reload.
        np.testing.assert_array_equal(loaded.update(later), model.update(later))

    def test_state_is_json(self, tmp_path: Path) -> None:
        EloModel().fit(synthetic_league(11)).save(tmp_path)
        state = json.loads((tmp_path / "model.json").read_text())
        assert state["season"] == 2012
        assert state["first_season"] == 2010
        assert len(state["ratings"]) == 30
        config = json.loads((tmp_path / "config.json").read_text())
        assert config["model"] == "elo"

    def test_unfitted_save_raises(self, tmp_path: Path) -> None:
        with pytest.raises(NotFittedError):
            EloModel().save(tmp_path)


def kaggle_games(data_dir: Path, prefix: str) -> pd.DataFrame:
    """Regular-season and NCAA tournament games as GAME_COLUMNS plus ``scored``."""
    reg = pd.read_csv(data_dir / f"{prefix}RegularSeasonCompactResults.csv")
    tour = pd.read_csv(data_dir / f"{prefix}NCAATourneyCompactResults.csv")
    reg["is_tournament"] = False
    tour["is_tournament"] = True
    g = pd.concat([reg, tour], ignore_index=True)
    g = g.sort_values(["Season", "is_tournament", "DayNum"], kind="stable")
    a_won = (g["WTeamID"] < g["LTeamID"]).to_numpy()
    w_loc = g["WLoc"].astype(str).to_numpy()
    flipped = np.where(w_loc == "H", "A", np.where(w_loc == "A", "H", "N"))
    frame = pd.DataFrame(
        {
            "game_id": np.arange(len(g)),
            "season": g["Season"].to_numpy(),
            "day_num": g["DayNum"].to_numpy(),
            "team_a_id": np.minimum(g["WTeamID"].to_numpy(), g["LTeamID"].to_numpy()),
            "team_b_id": np.maximum(g["WTeamID"].to_numpy(), g["LTeamID"].to_numpy()),
            "team_a_score": np.where(a_won, g["WScore"], g["LScore"]).astype(float),
            "team_b_score": np.where(a_won, g["LScore"], g["WScore"]).astype(float),
            "team_a_loc": np.where(a_won, w_loc, flipped),
            "num_ot": g["NumOT"].to_numpy(),
            "is_tournament": g["is_tournament"].to_numpy(),
        }
    )
    conf_table = pd.read_csv(data_dir / f"{prefix}TeamConferences.csv")
    conf = conf_table.set_index(["Season", "TeamID"])["ConfAbbrev"]
    seed_table = pd.read_csv(data_dir / f"{prefix}NCAATourneySeeds.csv")
    seeds = seed_table.set_index(["Season", "TeamID"])["Seed"].astype(str).str.strip()
    seed_pair = []
    for side in ("a", "b"):
        key = pd.MultiIndex.from_arrays([frame["season"], frame[f"team_{side}_id"]])
        frame[f"team_{side}_conf"] = conf.reindex(key).to_numpy()
        seed_pair.append(seeds.reindex(key).fillna("").to_numpy())
    # Play-in games (First Four) pit two a/b seeds of the same line: predicted, not scored.
    play_in = np.array(
        [len(x) == 4 and len(y) == 4 and x[:3] == y[:3] for x, y in zip(*seed_pair, strict=True)]
    )
    frame["scored"] = frame["is_tournament"].to_numpy() & ~play_in
    return frame


@pytest.mark.kaggle
def test_default_elo_on_real_men_tournaments() -> None:
    if not (KAGGLE_DIR / "MRegularSeasonCompactResults.csv").is_file():
        pytest.skip(f"real Kaggle data not found at {KAGGLE_DIR}")
    games = kaggle_games(KAGGLE_DIR, "M")
    model = EloModel()
    errors = []
    for season in sorted(games["season"].unique().tolist()):
        group = games[games["season"] == season]
        tournament = group[group["is_tournament"]]
        model.update(group[~group["is_tournament"]])
        if len(tournament):
            # Frozen before the tournament: no result of this tournament is used.
            prob = model.predict_proba(tournament)
            model.update(tournament)
            won = (tournament["team_a_score"] > tournament["team_b_score"]).to_numpy()
            scored = tournament["scored"].to_numpy() & (2003 <= season <= 2024)
            errors.append((prob[scored] - won[scored]) ** 2)
    squared = np.concatenate(errors)
    assert squared.size == 1322  # 21 tournaments x 63 games, minus 2021's no-contest
    brier = float(squared.mean())
    assert brier <= 0.19, f"men's 2003-2024 main-draw Brier {brier:.4f}"
