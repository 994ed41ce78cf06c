"""Opponent-adjusted efficiency: offence and defence in points per 100 possessions, and pace.

Model, per game between team A and team B (``court`` +1 team A at home, -1 away, 0 neutral;
``poss`` the game's possessions, the mean of both sides' estimates)::

    100 * points_A / poss = avg + off_A + def_B + h * court
    100 * points_B / poss = avg + off_B + def_A - h * court
    poss * 40 / minutes   = tempo_avg + pace_A + pace_B

``off`` is a team's scoring and ``def`` the scoring it allows (higher is a worse defence), both as
deviations from the league average ``avg``; ``h`` is the home edge (per 100 possessions);
``pace`` is a team's share of a 40-minute game's possessions above the league's ``tempo_avg``.
It is solved by weighted ridge least squares: each team's ``off``, ``def`` and ``pace`` shrunk
toward a prior (default 0, the league average) with the weight of ``prior_games`` games, the home
edge toward 0 with ``home_ridge``; ``avg`` and ``tempo_avg`` are free. Every game counts with its
weight alone (not its possessions).

Solved as two small systems, not one of size 2n. With ``m`` half the game's difference of the two
sides' efficiencies and ``s`` their mean, the two rows of a game satisfy
``e_A**2 + e_B**2 = ((e_A - e_B)**2 + (e_A + e_B)**2) / 2`` and the ridge
``off**2 + def**2 = ((off - def)**2 + (off + def)**2) / 2``, so the fit splits exactly into

* ``m ~ r_A - r_B + h * court`` with ``r = (off - def) / 2`` (the margin rating's system,
  :mod:`ncaa_eval.ratings.margin`, on a graph Laplacian), and
* ``s ~ avg + t_A + t_B`` with ``t = (off + def) / 2``, whose matrix (the signless Laplacian) is
  the pace fit's too: one solve gives both.

Each has one row per team that has played (teams without a game keep their prior), so a season's
fit costs two solves of about 370 unknowns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ncaa_eval.ratings.margin import HOME_RIDGE

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
#: Possessions estimate (Pomeroy/Oliver): FGA - OR + TO + 0.475 * FTA.
FTA_POSSESSION_SHARE = 0.475
#: Minutes of regulation; an overtime adds five.
REGULATION_MINUTES = 40.0
OVERTIME_MINUTES = 5.0


def possessions(
    fga: FloatArray, offensive_rebounds: FloatArray, turnovers: FloatArray, fta: FloatArray
) -> FloatArray:
    """One side's possessions estimate: ``FGA - OR + TO + 0.475 * FTA``."""
    out: FloatArray = fga - offensive_rebounds + turnovers + FTA_POSSESSION_SHARE * fta
    return out


@dataclass(frozen=True)
class EfficiencyRatings:
    """Every team's adjusted efficiency and pace (team-indexed arrays).

    Attributes:
        offence: points scored per 100 possessions against an average defence on a neutral
            court (``avg + off``).
        defence: points allowed per 100 possessions against an average offence (``avg + def``;
            lower is better).
        tempo: half a 40-minute game's possessions against an average opponent
            (``tempo_avg / 2 + pace``): team i and j are expected to play ``tempo_i + tempo_j``.
        average: the league's points per 100 possessions (``avg``).
        possessions: the league's possessions per 40 minutes (``tempo_avg``).
        home_edge: points per 100 possessions a home team gains (``h``).
    """

    offence: FloatArray
    defence: FloatArray
    tempo: FloatArray
    average: float
    possessions: float
    home_edge: float

    @property
    def net(self) -> FloatArray:
        """Points scored minus allowed per 100 possessions, against average opposition."""
        out: FloatArray = self.offence - self.defence
        return out

    def expected_margin(self, a: IntArray, b: IntArray) -> FloatArray:
        """Team A's expected points margin over team B on a neutral court, in a 40-minute game."""
        out: FloatArray = (self.net[a] - self.net[b]) * (self.tempo[a] + self.tempo[b]) / 100.0
        return out

    def deviations(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        """``off``, ``def`` and ``pace``: each team's values relative to the league's."""
        return (
            self.offence - self.average,
            self.defence - self.average,
            self.tempo - self.possessions / 2.0,
        )


def efficiency_ratings(
    a: IntArray,
    b: IntArray,
    court: FloatArray,
    points_a: FloatArray,
    points_b: FloatArray,
    game_possessions: FloatArray,
    weights: FloatArray,
    n_teams: int,
    prior_games: float,
    *,
    minutes: FloatArray | None = None,
    prior_offence: FloatArray | None = None,
    prior_defence: FloatArray | None = None,
    prior_pace: FloatArray | None = None,
    home_ridge: float = HOME_RIDGE,
) -> EfficiencyRatings:
    """Adjusted offence, defence and pace of ``n_teams`` teams from games ``a`` vs ``b``.

    Args:
        a: team A's index of each game.
        b: team B's index of each game.
        court: +1 where team A is at home, -1 away, 0 neutral.
        points_a: team A's points.
        points_b: team B's points.
        game_possessions: each game's possessions (positive).
        weights: the weight of each game (both of its sides).
        n_teams: number of teams (ratings returned).
        prior_games: the prior's weight, in games, per team and unknown (> 0).
        minutes: each game's length (default 40); the pace fit reads possessions per 40 minutes.
        prior_offence: the ``off`` each team is shrunk toward (default 0).
        prior_defence: the ``def`` each team is shrunk toward (default 0).
        prior_pace: the ``pace`` each team is shrunk toward (default 0).
        home_ridge: ridge weight of the home edge (shrunk toward 0) in the difference system
            below; in the fit of both rows of every game it weighs twice that.

    Returns:
        The ratings; every value is NaN when the games weigh nothing (no game yet).
    """
    zeros = np.zeros(n_teams)
    off0 = zeros if prior_offence is None else prior_offence
    def0 = zeros if prior_defence is None else prior_defence
    pace0 = zeros if prior_pace is None else prior_pace
    w = weights
    total = float(w.sum())
    if len(w) == 0 or total <= 0:
        nan = np.full(n_teams, np.nan)
        return EfficiencyRatings(nan, nan.copy(), nan.copy(), np.nan, np.nan, np.nan)
    eff_a = 100.0 * points_a / game_possessions
    eff_b = 100.0 * points_b / game_possessions
    tempo = game_possessions
    if minutes is not None:
        tempo = game_possessions * REGULATION_MINUTES / minutes
    # Only the teams with a game enter the solve; the others keep their prior exactly.
    played = np.bincount(a, w, n_teams) + np.bincount(b, w, n_teams)
    active = np.flatnonzero(played > 0)
    k = len(active)
    local = np.full(n_teams, -1, dtype=np.int64)
    local[active] = np.arange(k)
    la, lb = local[a], local[b]
    degree = played[active]
    diagonal = np.arange(k), np.arange(k)
    # Both systems are bordered k x k matrices, built in place: the difference system's is
    # diag(degree + prior) - pair, the sum system's diag(degree + prior) + pair, with ``pair``
    # the weight of the games between each two teams.
    summed = np.empty((k + 1, k + 1))
    pair = summed[:k, :k]
    pair[...] = np.bincount(la * k + lb, w, k * k).reshape(k, k)
    pair += pair.T
    differenced = np.empty((k + 1, k + 1))
    np.negative(pair, out=differenced[:k, :k])
    differenced[diagonal] += degree + prior_games
    summed[diagonal] += degree + prior_games

    # The difference system: m ~ r_a - r_b + h * court, r = (off - def) / 2.
    m = (eff_a - eff_b) / 2.0
    r0 = (off0[active] - def0[active]) / 2.0
    wc = w * court
    home_col = np.bincount(la, wc, k) - np.bincount(lb, wc, k)
    differenced[:k, k] = home_col
    differenced[k, :k] = home_col
    differenced[k, k] = wc @ court + home_ridge
    rhs = np.empty(k + 1)
    rhs[:k] = np.bincount(la, w * m, k) - np.bincount(lb, w * m, k) + prior_games * r0
    rhs[k] = wc @ m
    sol = np.linalg.solve(differenced, rhs)
    r, home = sol[:k], float(sol[k])

    # The sum system, shared by efficiency and pace: y ~ avg + t_a + t_b.
    s = (eff_a + eff_b) / 2.0
    t0 = (off0[active] + def0[active]) / 2.0
    summed[:k, k] = degree
    summed[k, :k] = degree
    summed[k, k] = total
    rhs2 = np.empty((k + 1, 2))
    for j, (target, prior) in enumerate(((s, t0), (tempo, pace0[active]))):
        y = w * target
        rhs2[:k, j] = np.bincount(la, y, k) + np.bincount(lb, y, k) + prior_games * prior
        rhs2[k, j] = y.sum()
    sol2 = np.linalg.solve(summed, rhs2)
    t, avg = sol2[:k, 0], float(sol2[k, 0])
    pace_act, tempo_avg = sol2[:k, 1], float(sol2[k, 1])

    off = off0.astype(np.float64, copy=True)
    dfn = def0.astype(np.float64, copy=True)
    pace = pace0.astype(np.float64, copy=True)
    off[active] = t + r
    dfn[active] = t - r
    pace[active] = pace_act
    return EfficiencyRatings(
        offence=avg + off,
        defence=avg + dfn,
        tempo=tempo_avg / 2.0 + pace,
        average=avg,
        possessions=tempo_avg,
        home_edge=home,
    )


__all__ = [
    "FTA_POSSESSION_SHARE",
    "EfficiencyRatings",
    "efficiency_ratings",
    "possessions",
]
