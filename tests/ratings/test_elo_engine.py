"""Tests of the Elo rating math: hand-computed updates, invariants and the fast batch walk."""

from __future__ import annotations

import json
import time
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
import pytest

from ncaa_eval.ratings.elo import EloConfig, EloEngine, location_sign
from tests.helpers.elo_reference import ReferenceEloEngine, expected_score

#: Classic Elo: K 20 everywhere, no home edge, no margin, no carry-over.
PLAIN = EloConfig(
    initial_rating=1500.0,
    new_team_rating=1500.0,
    k=20.0,
    k_early=20.0,
    early_days=0,
    k_tournament=20.0,
    home_edge=0.0,
    use_margin=False,
    carry_over=1.0,
)


def plain(**changes: Any) -> EloConfig:
    """PLAIN with some constants changed (validated)."""
    return EloConfig.model_validate({**PLAIN.model_dump(), **changes})


class Games(NamedTuple):
    """Arguments of :meth:`EloEngine.walk`, in order."""

    seasons: npt.NDArray[Any]
    day_nums: npt.NDArray[Any]
    team_a: npt.NDArray[Any]
    team_b: npt.NDArray[Any]
    score_a: npt.NDArray[Any]
    score_b: npt.NDArray[Any]
    a_loc: npt.NDArray[Any]
    is_tournament: npt.NDArray[Any]

    def rows(self, lo: int, hi: int) -> Games:
        """Games ``lo`` to ``hi - 1``."""
        return Games(*(values[lo:hi] for values in self))


def random_games(n: int, n_teams: int, seed: int) -> Games:
    """``n`` random games over three seasons, in time order, tournaments at the end of each."""
    rng = np.random.default_rng(seed)
    a = rng.integers(1, n_teams + 1, size=n)
    b = (a + rng.integers(1, n_teams, size=n) - 1) % n_teams + 1  # never equal to a
    season = np.sort(rng.integers(2000, 2003, size=n))
    day = np.zeros(n, dtype=np.int64)
    for s in np.unique(season):
        rows = np.flatnonzero(season == s)
        day[rows] = np.sort(rng.integers(0, 150, size=rows.size))
    return Games(
        seasons=season,
        day_nums=day,
        team_a=np.minimum(a, b),
        team_b=np.maximum(a, b),
        score_a=rng.integers(50, 90, size=n).astype(float),
        score_b=rng.integers(50, 90, size=n).astype(float),
        a_loc=rng.choice(np.array(["H", "A", "N"]), size=n),
        is_tournament=day >= 136,
    )


class TestSingleGame:
    def test_classic_update_from_equal_ratings(self) -> None:
        engine = ReferenceEloEngine(PLAIN)
        prob = engine.process_game(1, 2, 70, 60, "N")
        assert prob == 0.5
        assert engine.rating(1) == pytest.approx(1510.0)
        assert engine.rating(2) == pytest.approx(1490.0)

    def test_home_edge_golden_value(self) -> None:
        # E = 1 / (1 + 10^(-100/400)) = 0.640065; the home winner gains 20 * (1 - E) = 7.1987.
        engine = ReferenceEloEngine(plain(home_edge=100.0))
        prob = engine.process_game(1, 2, 70, 60, "H")
        assert prob == pytest.approx(0.6400649998, abs=1e-9)
        assert engine.rating(1) == pytest.approx(1507.1987000, abs=1e-6)
        assert engine.rating(2) == pytest.approx(1492.8013000, abs=1e-6)

    @pytest.mark.parametrize(("loc", "above_half"), [("H", True), ("A", False), ("N", None)])
    def test_home_edge_direction(self, loc: str, above_half: bool | None) -> None:
        engine = ReferenceEloEngine(plain(home_edge=80.0))
        p = engine.expected(1, 2, loc)  # type: ignore[arg-type]
        if above_half is None:
            assert p == 0.5
        else:
            assert (p > 0.5) is above_half

    def test_margin_multiplier_golden_value(self) -> None:
        # M = (10 + 2.5)^0.7 / (6 + 0.006 * 0) = 5.85918 / 6 = 0.976530; delta = 20 * M * 0.5.
        engine = ReferenceEloEngine(
            plain(use_margin=True, mov_a=2.5, mov_b=0.7, mov_c=6.0, mov_d=0.006)
        )
        engine.process_game(1, 2, 80, 70, "N")
        assert engine.rating(1) == pytest.approx(1500 + 9.7653038, abs=1e-6)

    def test_margin_damping_favourite_gains_less(self) -> None:
        params = plain(use_margin=True, mov_a=2.5, mov_b=0.7, mov_c=6.0, mov_d=0.006)
        engine = ReferenceEloEngine(params)
        engine._ratings.update({1: 1600.0, 2: 1500.0})
        engine.process_game(1, 2, 80, 70, "N")
        # E = 0.640065, M = 12.5^0.7 / (6 + 0.6) = 0.887755, gain 20 * M * (1 - E) = 6.390681.
        assert engine.rating(1) == pytest.approx(1606.3906811, abs=1e-6)
        # Without damping (d = 0) the same win would have counted for more.
        undamped = ReferenceEloEngine(plain(use_margin=True, mov_c=6.0, mov_d=0.0))
        undamped._ratings.update({1: 1600.0, 2: 1500.0})
        undamped.process_game(1, 2, 80, 70, "N")
        assert undamped.rating(1) > engine.rating(1)

    def test_upset_denominator_is_bounded(self) -> None:
        engine = ReferenceEloEngine(plain(use_margin=True, mov_c=6.0, mov_d=0.006))
        # A 2000-point underdog win would make c + d * edge negative without the floor.
        assert engine.margin_multiplier(10, -2000.0) == pytest.approx(12.5**0.7 / 3.0)

    def test_symmetry(self) -> None:
        engine = ReferenceEloEngine(plain(home_edge=70.0))
        engine._ratings.update({1: 1580.0, 2: 1490.0})
        for loc, flipped in (("H", "A"), ("A", "H"), ("N", "N")):
            p_ab = engine.expected(1, 2, loc)  # type: ignore[arg-type]
            p_ba = engine.expected(2, 1, flipped)  # type: ignore[arg-type]
            assert p_ab == pytest.approx(1.0 - p_ba, abs=1e-15)

    def test_k_factors(self) -> None:
        engine = ReferenceEloEngine(plain(k=20.0, k_early=50.0, early_days=30, k_tournament=10.0))
        assert engine.k_factor(29) == 50.0
        assert engine.k_factor(30) == 20.0
        assert engine.k_factor(140, is_tournament=True) == 10.0
        assert engine.k_factor(None) == 20.0

    def test_expected_score_function(self) -> None:
        assert expected_score(1500, 1500) == 0.5
        assert expected_score(1900, 1500) == pytest.approx(10 / 11)


class TestSeasons:
    def test_carry_over_toward_conference_mean(self) -> None:
        engine = ReferenceEloEngine(plain(carry_over=0.5, mean_rating=1500.0))
        engine.new_season(2000)
        engine._ratings.update({1: 1600.0, 2: 1400.0, 3: 1560.0, 4: 1450.0})
        engine.new_season(2001, {1: "x", 2: "x", 3: "y"})
        ratings = engine.ratings
        assert ratings[1] == pytest.approx(1550.0)  # toward the x mean 1500
        assert ratings[2] == pytest.approx(1450.0)
        assert ratings[3] == pytest.approx(1560.0)  # alone in y: its own mean
        assert ratings[4] == pytest.approx(1475.0)  # conference unknown: toward mean_rating

    def test_carry_over_toward_league_mean(self) -> None:
        engine = ReferenceEloEngine(
            plain(carry_over=0.6, carry_toward="league", mean_rating=1500.0)
        )
        engine.new_season(2000)
        engine._ratings.update({1: 1600.0, 2: 1400.0})
        engine.new_season(2001, {1: "x", 2: "x"})
        assert engine.ratings == pytest.approx({1: 1560.0, 2: 1440.0})

    def test_same_season_is_a_no_op_and_earlier_is_an_error(self) -> None:
        engine = ReferenceEloEngine(plain(carry_over=0.5))
        engine.new_season(2000)
        engine._ratings[1] = 1600.0
        engine.new_season(2000)
        assert engine.rating(1) == 1600.0
        with pytest.raises(ValueError, match="before the current season"):
            engine.new_season(1999)

    def test_carried_ratings_does_not_mutate(self) -> None:
        engine = ReferenceEloEngine(plain(carry_over=0.5))
        engine.new_season(2000)
        engine._ratings[1] = 1600.0
        assert engine.carried_ratings()[1] == pytest.approx(1550.0)
        assert engine.rating(1) == 1600.0

    def test_new_teams_after_first_season(self) -> None:
        engine = ReferenceEloEngine(plain(initial_rating=1500.0, new_team_rating=1200.0))
        engine.new_season(2000)
        assert engine.rating(7) == 1500.0
        engine.process_game(1, 2, 70, 60)
        engine.new_season(2001)
        assert engine.rating(7) == 1200.0
        assert engine.rating(1) == pytest.approx(1510.0)


class TestWalk:
    def test_walk_matches_game_by_game(self) -> None:
        params = EloConfig(k_early=70.0, early_days=40, k_tournament=30.0, carry_over=0.7)
        games = random_games(3000, 40, seed=1)
        conferences = {
            s: {t: "even" if t % 2 else "odd" for t in range(1, 41)} for s in (2000, 2001, 2002)
        }
        fast = EloEngine(params)
        probs = fast.walk(*games, conferences=conferences)

        slow = ReferenceEloEngine(params)
        expected = []
        for i in range(len(probs)):
            season = int(games.seasons[i])
            slow.new_season(season, conferences[season])
            expected.append(
                slow.process_game(
                    int(games.team_a[i]),
                    int(games.team_b[i]),
                    float(games.score_a[i]),
                    float(games.score_b[i]),
                    games.a_loc[i],
                    day_num=int(games.day_nums[i]),
                    is_tournament=bool(games.is_tournament[i]),
                )
            )
        np.testing.assert_allclose(probs, expected, rtol=0, atol=1e-12)
        assert fast.ratings == pytest.approx(slow.ratings, abs=1e-9)
        assert fast.n_games == slow.n_games == 3000

    def test_walk_is_zero_sum(self) -> None:
        engine = EloEngine(EloConfig(carry_over=1.0, initial_rating=1500.0))
        games = random_games(2000, 30, seed=2)
        games = games._replace(seasons=np.full(2000, 2000), day_nums=np.sort(games.day_nums))
        engine.walk(*games)
        ratings = engine.ratings
        assert sum(ratings.values()) == pytest.approx(1500.0 * len(ratings), abs=1e-6)

    def test_walk_in_chunks_equals_one_walk(self) -> None:
        games = random_games(1500, 25, seed=3)
        whole = EloEngine()
        p_whole = whole.walk(*games)
        chunked = EloEngine()
        parts = [
            chunked.walk(*games.rows(lo, hi)) for lo, hi in ((0, 400), (400, 401), (401, 1500))
        ]
        np.testing.assert_array_equal(np.concatenate(parts), p_whole)
        assert chunked.ratings == whole.ratings

    def test_freeze_tournament_predicts_from_pre_tournament_ratings(self) -> None:
        engine = ReferenceEloEngine(plain(home_edge=0.0))
        engine.walk([2000, 2000], [10, 20], [1, 3], [2, 4], [80, 80], [60, 60], ["N", "N"])
        before = engine.predict([1, 1, 3], [3, 4, 2], ["N", "N", "N"])
        probs = engine.walk(
            [2000, 2000, 2000],
            [136, 138, 140],
            [1, 1, 3],
            [3, 4, 2],
            [70, 70, 70],
            [60, 60, 60],
            ["N", "N", "N"],
            [True, True, True],
            freeze_tournament=True,
        )
        np.testing.assert_allclose(probs, before, atol=1e-15)
        # Ratings still learn from each tournament game.
        assert engine.rating(1) > 1510.0

    def test_walk_returns_pre_game_probabilities(self) -> None:
        engine = EloEngine(PLAIN)
        probs = engine.walk([2000, 2000], [1, 2], [1, 1], [2, 2], [70, 70], [60, 60], ["N", "N"])
        assert probs[0] == 0.5
        assert probs[1] == expected_score(1510.0, 1490.0)
        assert engine.ratings == pytest.approx(
            {1: 1510.0 + 20 * (1 - probs[1]), 2: 1490.0 - 20 * (1 - probs[1])}
        )

    def test_predict_into_a_later_season_applies_carry_over(self) -> None:
        engine = EloEngine(plain(carry_over=0.5, new_team_rating=1300.0))
        engine.walk([2000], [10], [1], [2], [70], [60], ["N"])
        later = engine.predict([1, 1], [2, 9], ["N", "N"], season=2001, conference_of={1: "x"})
        # Team 1 is alone in x, so its conference mean is itself; team 2 regresses to 1500.
        r1 = 1510.0
        r2 = 0.5 * 1490.0 + 0.5 * 1500.0
        assert later[0] == pytest.approx(expected_score(r1, r2))
        assert later[1] == pytest.approx(expected_score(r1, 1300.0))
        assert engine.season == 2000  # nothing changed

    @pytest.mark.parametrize(
        ("change", "message"),
        [
            ({"seasons": [2001, 2000]}, "not in time order"),
            ({"day_nums": [20, 10]}, "not in time order"),
            ({"score_a": [70.0, float("nan")]}, "must not be missing"),
            ({"a_loc": ["H", "X"]}, "'H', 'A' or 'N'"),
            ({"team_b": [2]}, "shape"),
        ],
    )
    def test_walk_rejects_bad_input(self, change: dict[str, object], message: str) -> None:
        games: dict[str, object] = {
            "seasons": [2000, 2000],
            "day_nums": [10, 20],
            "team_a": [1, 1],
            "team_b": [2, 2],
            "score_a": [70.0, 70.0],
            "score_b": [60.0, 60.0],
            "a_loc": ["N", "N"],
        }
        games.update(change)
        with pytest.raises(ValueError, match=message):
            EloEngine().walk(**games)  # type: ignore[arg-type]

    def test_walk_rejects_a_season_already_passed(self) -> None:
        engine = EloEngine()
        engine.walk([2001], [10], [1], [2], [70], [60], ["N"])
        with pytest.raises(ValueError, match="time order"):
            engine.walk([2000], [10], [1], [2], [70], [60], ["N"])

    def test_empty_walk(self) -> None:
        assert EloEngine().walk([], [], [], [], [], [], []).size == 0

    def test_location_sign(self) -> None:
        assert location_sign(["H", "A", "N"]).tolist() == [1.0, -1.0, 0.0]

    def test_json_round_trip(self) -> None:
        engine = EloEngine(EloConfig(k=33.0))
        engine.walk(*random_games(500, 20, seed=4))
        copy = EloEngine.from_dict(json.loads(json.dumps(engine.to_dict())))
        assert copy.config == engine.config
        assert copy.ratings == engine.ratings
        assert (copy.season, copy.first_season, copy.n_games) == (2002, 2000, 500)
        assert copy.predict([1], [2], ["H"]).tolist() == engine.predict([1], [2], ["H"]).tolist()

    def test_speed_of_a_large_walk(self) -> None:
        # ~200,000 games is the size of the men's history; the walk takes ~0.2 s. The bound is
        # loose so a busy machine does not fail it, yet it catches a per-row pandas regression.
        games = random_games(200_000, 360, seed=5)
        start = time.perf_counter()
        EloEngine().walk(*games)
        assert time.perf_counter() - start < 3.0


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="carry_over"):
        EloConfig(carry_over=1.5)
    with pytest.raises(ValueError, match="carry_toward"):
        EloConfig(carry_toward="nation")
