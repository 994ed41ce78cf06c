"""Game simulation: final scores (with overtime) of games between teams of given strength."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
Stats = dict[str, IntArray]

# --- Game model ---------------------------------------------------------------------------------
#: Home-court advantage in points, close to the long-run D-I estimate.
HOME_EDGE = 3.5
#: Standard deviation of a game's margin around its expectation (real residual sd ~ 11).
GAME_MARGIN_SD = 11.0
#: Average points per team per game in modern D-I basketball.
MEAN_TEAM_SCORE = 70.0
#: Game-to-game noise of the combined score (pace, shooting luck).
GAME_TOTAL_SD = 12.0
#: Spread of team pace effects on the combined score (slow vs up-tempo teams).
TEAM_PACE_SD = 4.0
#: Floor on a team's score: clamps the rare extreme draw (real D-I lows are in the 20s-30s).
MIN_SCORE = 30
#: Games within this many points late are often forced level (fouling, last-shot threes), which
#: lifts the overtime rate to the real ~5% from the ~2.5% a plain normal margin gives.
LATE_TIE_MARGIN = 1
LATE_TIE_PROB = 0.5
#: Overtime is 5 of 40 minutes: the strength edge per OT period is scaled by this share.
OT_SHARE = 5.0 / 40.0
#: Points per team per overtime period.
OT_POINTS_MEAN = 9.0
#: Overtimes are simulated up to this count; a game still level is settled by a free throw.
MAX_OT = 6


@dataclass
class _Games:
    """Games of one season, team A at home unless neutral; scores filled by :func:`_play`."""

    day: IntArray
    team_a: IntArray  # team indices 0..n_teams-1
    team_b: IntArray
    neutral: BoolArray
    score_a: IntArray
    score_b: IntArray
    num_ot: IntArray


def _concat_games(parts: list[_Games]) -> _Games:
    return _Games(
        day=np.concatenate([g.day for g in parts]),
        team_a=np.concatenate([g.team_a for g in parts]),
        team_b=np.concatenate([g.team_b for g in parts]),
        neutral=np.concatenate([g.neutral for g in parts]),
        score_a=np.concatenate([g.score_a for g in parts]),
        score_b=np.concatenate([g.score_b for g in parts]),
        num_ot=np.concatenate([g.num_ot for g in parts]),
    )


def _play(
    rng: np.random.Generator,
    strength: FloatArray,
    pace: FloatArray,
    day: IntArray,
    team_a: IntArray,
    team_b: IntArray,
    neutral: BoolArray,
) -> _Games:
    """Simulate final scores of games where team A hosts unless the court is neutral."""
    n = team_a.size
    edge = strength[team_a] - strength[team_b] + np.where(neutral, 0.0, HOME_EDGE)
    margin = np.rint(edge + rng.normal(0.0, GAME_MARGIN_SD, n)).astype(np.int64)
    forced_level = (np.abs(margin) <= LATE_TIE_MARGIN) & (rng.random(n) < LATE_TIE_PROB)
    margin[forced_level] = 0
    total = 2.0 * MEAN_TEAM_SCORE + pace[team_a] + pace[team_b] + rng.normal(0.0, GAME_TOTAL_SD, n)
    # Draw the loser's score and add the margin, so the winner is exactly `margin` ahead.
    low = np.maximum(np.rint((total - np.abs(margin)) / 2.0), MIN_SCORE).astype(np.int64)
    score_a = low + np.maximum(margin, 0)
    score_b = low + np.maximum(-margin, 0)
    num_ot = np.zeros(n, dtype=np.int64)
    # A level score after regulation means overtime: each period is a short game of its own.
    for _ in range(MAX_OT):
        tied = np.flatnonzero(score_a == score_b)
        if tied.size == 0:
            break
        num_ot[tied] += 1
        shift = np.clip(edge[tied] * OT_SHARE / 2.0, -OT_POINTS_MEAN + 1, OT_POINTS_MEAN - 1)
        score_a[tied] += rng.poisson(OT_POINTS_MEAN + shift)
        score_b[tied] += rng.poisson(OT_POINTS_MEAN - shift)
    tied = np.flatnonzero(score_a == score_b)
    if tied.size:
        a_scores = rng.random(tied.size) < 0.5
        score_a[tied] += a_scores
        score_b[tied] += ~a_scores
    return _Games(day, team_a, team_b, neutral, score_a, score_b, num_ot)
