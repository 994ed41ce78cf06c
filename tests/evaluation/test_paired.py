"""The paired Brier difference and its season bootstrap, on cases worked out by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ncaa_eval.evaluation import paired
from ncaa_eval.evaluation.paired import (
    FloatArray,
    PairedDifference,
    compare_to_first,
    paired_brier_difference,
    shared_scored_games,
)

Arrays = tuple[FloatArray, FloatArray, FloatArray, FloatArray]


def _simulated(n_seasons: int, games: int = 63, seed: int = 1) -> Arrays:
    """Forecasts of two models whose edge varies from season to season."""
    rng = np.random.default_rng(seed)
    season = np.repeat(np.arange(2000, 2000 + n_seasons), games)
    truth = rng.uniform(0.1, 0.9, season.size)
    y = (rng.uniform(size=season.size) < truth).astype(float)
    edge = rng.normal(0.0, 0.08, n_seasons)[season - 2000]
    first = np.clip(truth + rng.normal(0, 0.1, season.size), 0, 1)
    other = np.clip(truth + rng.normal(0, 0.1, season.size) + edge, 0, 1)
    return first, other, y, season.astype(np.float64)


class TestKnownCases:
    def test_identical_predictions_differ_by_exactly_zero(self) -> None:
        first, _, y, season = _simulated(5)
        result = paired_brier_difference(first, first.copy(), y, season)
        assert (result.difference, result.ci_low, result.ci_high) == (0.0, 0.0, 0.0)
        assert result.within_noise
        assert (result.games, result.seasons) == (5 * 63, 5)

    def test_the_same_change_on_every_game(self) -> None:
        # 0.5 -> 0.6 on games team A won: (0.4^2 - 0.5^2) = -0.09 on each, in every resample.
        season = np.repeat([2001, 2002, 2003], 4)
        result = paired_brier_difference(np.full(12, 0.5), np.full(12, 0.6), np.ones(12), season)
        assert result.difference == pytest.approx(-0.09)
        assert result.ci_low == pytest.approx(-0.09)
        assert result.ci_high == pytest.approx(-0.09)
        assert not result.within_noise

    def test_a_constant_shift(self) -> None:
        # (p + c - y)^2 - (p - y)^2 = 2c(p - y) + c^2, averaged over the games.
        first, _, y, season = _simulated(6)
        first = np.clip(first, 0.0, 0.9)
        c = 0.1
        result = paired_brier_difference(first, first + c, y, season)
        assert result.difference == pytest.approx(np.mean(2 * c * (first - y) + c**2), abs=1e-12)
        assert result.ci_low <= result.difference <= result.ci_high

    def test_a_small_example_by_hand(self) -> None:
        # Season 2001: two games won by A, 0.5 -> 0.6 and 0.5 -> 0.7: -0.09 and -0.16, mean
        # -0.125. Season 2002: one game lost by A, 0.5 -> 0.8: +0.39. All three games: 0.14 / 3.
        # Resamples are {2001, 2001} (a quarter of them, mean -0.125), {2002, 2002} (a quarter,
        # +0.39) or one of each (0.14 / 3): the 2.5th and 97.5th percentiles are the two ends.
        result = paired_brier_difference(
            [0.5, 0.5, 0.5], [0.6, 0.7, 0.8], [1, 1, 0], [2001, 2001, 2002]
        )
        assert result.difference == pytest.approx(0.14 / 3)
        assert result.ci_low == pytest.approx(-0.125)
        assert result.ci_high == pytest.approx(0.39)
        assert result.within_noise
        assert (result.games, result.seasons, result.resamples, result.seed) == (3, 2, 2000, 0)

    def test_a_bool_outcome_and_pandas_input(self) -> None:
        frame = pd.DataFrame(
            {"a": [0.5, 0.5, 0.5], "b": [0.6, 0.7, 0.8], "y": [True, True, False], "s": [1, 1, 2]}
        )
        result = paired_brier_difference(frame["a"], frame["b"], frame["y"], frame["s"])
        assert result.difference == pytest.approx(0.14 / 3)

    def test_a_clear_difference_is_not_noise(self) -> None:
        first, _, y, season = _simulated(10)
        worse = np.where(y == 1, first * 0.5, first + (1 - first) * 0.5)  # halfway to wrong
        result = paired_brier_difference(first, worse, y, season)
        assert 0.0 < result.ci_low <= result.difference <= result.ci_high
        assert not result.within_noise
        assert result.as_dict()["within_noise"] is False


class TestSeasonClusters:
    def test_one_season_gives_a_degenerate_interval(self) -> None:
        # The games differ a lot, but there is one season to draw: every resample is it.
        first, other, y, season = _simulated(1)
        result = paired_brier_difference(first, other, y, season)
        per_game = (other - y) ** 2 - (first - y) ** 2
        assert per_game.std() > 0.01
        assert result.ci_low == result.ci_high
        assert result.ci_low == pytest.approx(result.difference, abs=1e-15)
        assert result.difference == pytest.approx(per_game.mean(), abs=1e-15)

    def test_seasons_are_drawn_whole_not_games(self) -> None:
        # Three seasons of the same size and the same mean difference, each with games far apart:
        # resampling seasons always gives that mean; resampling games would not.
        diffs = np.array([-0.2, 0.2, 0.1, -0.1, 0.05, -0.05])  # every season: mean 0
        first = np.full(6, 0.5)
        # (p_other - 1)^2 - 0.25 = d  <=>  p_other = 1 - sqrt(0.25 + d)
        other = 1 - np.sqrt(0.25 + diffs)
        result = paired_brier_difference(first, other, np.ones(6), [1, 1, 2, 2, 3, 3])
        assert result.ci_high - result.ci_low == pytest.approx(0.0, abs=1e-15)
        assert result.difference == pytest.approx(0.0, abs=1e-15)

    def test_seasons_of_different_means_give_an_interval(self) -> None:
        first, other, y, season = _simulated(8)
        result = paired_brier_difference(first, other, y, season)
        assert result.ci_low < result.difference < result.ci_high

    def test_the_interval_narrows_with_more_seasons(self) -> None:
        widths = []
        for n in (4, 36):
            result = paired_brier_difference(*_simulated(n))
            widths.append(result.ci_high - result.ci_low)
        # Nine times the seasons: about a third of the width.
        assert widths[1] < 0.6 * widths[0], widths

    def test_a_big_season_weighs_more(self) -> None:
        # 2001: one game at +0.39; 2002: three games at -0.09. Pooled: (0.39 - 0.27) / 4.
        result = paired_brier_difference(
            [0.5] * 4, [0.8, 0.6, 0.6, 0.6], [0, 1, 1, 1], [2001, 2002, 2002, 2002]
        )
        assert result.difference == pytest.approx(0.03)


class TestReproducibility:
    def test_the_same_seed_gives_the_same_interval(self) -> None:
        data = _simulated(8)
        assert paired_brier_difference(*data, seed=5) == paired_brier_difference(*data, seed=5)
        other_seed = paired_brier_difference(*data, seed=6)
        assert other_seed.ci_low != paired_brier_difference(*data, seed=5).ci_low
        assert other_seed.difference == paired_brier_difference(*data, seed=5).difference

    def test_more_resamples_than_one_chunk(self, monkeypatch: pytest.MonkeyPatch) -> None:
        data = _simulated(5)
        whole = paired_brier_difference(*data, resamples=250)
        monkeypatch.setattr(paired, "_CHUNK", 100)
        chunked = paired_brier_difference(*data, resamples=250)
        # The draws come from one generator, chunk after chunk: the same resamples.
        assert chunked == whole
        assert paired_brier_difference(*data, resamples=1).ci_low == pytest.approx(
            paired_brier_difference(*data, resamples=1).ci_high
        )


class TestInvalidInput:
    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (([0.5], [0.5, 0.6], [1, 0], [1, 1]), "one length"),
            (([], [], [], []), "no games"),
            (([0.5], [0.5], [2], [1]), "only 0 and 1"),
            (([0.5], [1.5], [1], [1]), r"p_other must lie in \[0, 1\]"),
            (([np.nan], [0.5], [1], [1]), "p_first holds 1 NaN"),
        ],
    )
    def test_bad_arrays(
        self, args: tuple[list[float], list[float], list[float], list[float]], message: str
    ) -> None:
        with pytest.raises(ValueError, match=message):
            paired_brier_difference(*args)

    @pytest.mark.parametrize("resamples", [0, -3, 100_001, 2.5, True])
    def test_bad_resamples(self, resamples: object) -> None:
        with pytest.raises(ValueError, match="resamples"):
            paired_brier_difference([0.5], [0.5], [1], [1], resamples=resamples)  # type: ignore[arg-type]


# -- pairing runs' predictions ------------------------------------------------------------------

SEEDS = pd.DataFrame(
    {
        "season": [2001] * 4 + [2002] * 2,
        "seed": ["W01", "W16a", "W16b", "X01", "W01", "X01"],
        "region": ["W", "W", "W", "X", "W", "X"],
        "seed_number": [1, 16, 16, 1, 1, 1],
        "play_in": [None, "a", "b", None, None, None],
        "team_id": [10, 20, 30, 40, 10, 40],
    }
)


def _predictions(rows: list[tuple[str, int, int, int, float, bool | None]]) -> pd.DataFrame:
    frame = pd.DataFrame(
        rows, columns=["game_id", "season", "team_a_id", "team_b_id", "pred_win_prob", "team_a_won"]
    )
    return frame.assign(run_id="r", team_a_won=frame["team_a_won"].astype("boolean"))


FIRST = _predictions(
    [
        ("2001_134_20_30", 2001, 20, 30, 0.5, True),  # First Four: not scored
        ("2001_136_10_20", 2001, 10, 20, 0.9, True),
        ("2001_137_10_40", 2001, 10, 40, 0.6, False),
        ("2001_138_30_40", 2001, 30, 40, 0.3, False),  # only in the first run
        ("2002_136_10_40", 2002, 10, 40, 0.5, None),  # not played yet
        ("2002_137_10_40", 2002, 10, 40, 0.7, True),
    ]
)
OTHER = _predictions(
    [
        ("2001_134_20_30", 2001, 20, 30, 0.4, True),
        ("2001_136_10_20", 2001, 20, 10, 0.2, False),  # team B first: 1 - 0.2 for team 10
        ("2001_137_10_40", 2001, 10, 40, 0.5, False),
        ("2002_136_10_40", 2002, 10, 40, 0.5, True),
        ("2002_137_10_40", 2002, 10, 40, 0.6, True),
    ]
)


class TestSharedGames:
    def test_only_shared_main_draw_games_with_known_outcomes(self) -> None:
        shared = shared_scored_games([FIRST, OTHER], SEEDS)
        assert shared["game_id"].tolist() == ["2001_136_10_20", "2001_137_10_40", "2002_137_10_40"]
        assert shared["team_a_won"].tolist() == [1.0, 0.0, 1.0]
        assert shared["p_0"].tolist() == [0.9, 0.6, 0.7]
        assert shared["p_1"].tolist() == pytest.approx([0.8, 0.5, 0.6])
        assert shared["team_a_id"].tolist() == [10, 10, 10]

    def test_games_whose_outcomes_disagree_are_not_shared(self) -> None:
        flipped = OTHER.assign(team_a_won=OTHER["team_a_won"].where(OTHER["season"] != 2002, False))
        shared = shared_scored_games([FIRST, flipped], SEEDS)
        assert shared["season"].tolist() == [2001, 2001]

    def test_compare_to_first(self) -> None:
        result = compare_to_first([FIRST, OTHER, FIRST], SEEDS, resamples=500, seed=3)
        # Other - first: (0.2^2 - 0.1^2) + (0.5^2 - 0.6^2) + (0.4^2 - 0.3^2) over 3 games.
        expected = ((0.04 - 0.01) + (0.25 - 0.36) + (0.16 - 0.09)) / 3
        assert [d.difference for d in result.differences] == pytest.approx([expected, 0.0])
        assert (result.games, result.seasons, result.resamples, result.seed) == (
            3, [2001, 2002], 500, 3
        )  # fmt: skip
        assert result.differences[0].resamples == 500
        assert result.unseeded_seasons == []

    def test_seasons_without_seeds_are_left_out(self) -> None:
        result = compare_to_first([FIRST, OTHER], SEEDS[SEEDS["season"] == 2001])
        assert result.unseeded_seasons == [2002]
        assert (result.games, result.seasons) == (2, [2001])

    def test_no_shared_scored_game(self) -> None:
        later = OTHER.assign(season=OTHER["season"] + 10)
        result = compare_to_first([FIRST, later], SEEDS)
        assert (result.games, result.seasons, result.differences) == (0, [], [])
        unplayed = OTHER.assign(team_a_won=pd.array([None] * len(OTHER), dtype="boolean"))
        assert compare_to_first([FIRST, unplayed], SEEDS).games == 0

    def test_needs_two_runs_and_the_columns(self) -> None:
        with pytest.raises(ValueError, match="at least two runs"):
            compare_to_first([FIRST], SEEDS)
        with pytest.raises(ValueError, match="pred_win_prob"):
            shared_scored_games([FIRST.drop(columns=["pred_win_prob"]), OTHER], SEEDS)


def test_paired_difference_as_dict() -> None:
    d = PairedDifference(-0.01, -0.02, 0.0, 100, 2, 2000, 0)
    assert d.as_dict() == {
        "difference": -0.01,
        "ci_low": -0.02,
        "ci_high": 0.0,
        "games": 100,
        "seasons": 2,
        "resamples": 2000,
        "seed": 0,
        "within_noise": True,
    }
