"""The adjusted-efficiency fit: golden values worked out by hand, and its exactness.

The hand solution of a round robin of three teams on neutral courts (every game weight 1, the
prior 0 with the weight ``lam`` of one game). Write ``m`` for half the difference of a game's two
efficiencies (points per 100 possessions), ``s`` for their mean, ``poss`` for its possessions:

=======  ======  ======  ====  ===========  ==========  ====  ====
game     A - B   points  poss  efficiency   m           s     poss
=======  ======  ======  ====  ===========  ==========  ====  ====
1        0 - 1   56-42   70    80 - 60      10          70    70
2        0 - 2   54-42   60    90 - 70      10          80    60
3        1 - 2   64-56   80    80 - 70      5           75    80
=======  ======  ======  ====  ===========  ==========  ====  ====

The fit splits exactly (see :mod:`ncaa_eval.ratings.efficiency`) into

* ``m ~ r_A - r_B`` with ``r = (off - def) / 2``. Every team plays the two others once, so its
  normal equations read ``(2 + lam) r_i - (sum of the others) = b_i`` with ``b_i`` the sum of
  its ``m`` (as A) minus those as B; ``sum(b) = 0`` gives ``sum(r) = 0``, hence
  ``r_i = b_i / (3 + lam)``. With ``b = (10 + 10, -10 + 5, -10 - 5) = (20, -5, -15)`` and
  ``lam = 1``: ``r = (5, -1.25, -3.75)``, the net ratings ``off - def = 2 r = (10, -2.5, -7.5)``.
* ``s ~ avg + t_A + t_B`` with ``t = (off + def) / 2``: the normal equations are
  ``(1 + lam) t_i + sum(t) + 2 avg = c_i`` (``c_i`` the sum of team i's ``s``) and
  ``2 sum(t) + 3 avg = sum(s)``. Adding the first three and using the last gives
  ``lam * sum(t) = 0``, so ``avg = sum(s) / 3 = 225 / 3 = 75`` and
  ``t_i = (c_i - 2 avg) / (1 + lam)``: ``c = (150, 145, 155)``, ``t = (0, -2.5, 2.5)``.
* Then ``off = t + r = (5, -3.75, -1.25)`` and ``def = t - r = (-5, -1.25, 6.25)``: offence
  ``avg + off = (80, 71.25, 73.75)``, defence ``avg + def = (70, 73.75, 81.25)``.
* Pace, ``poss ~ tempo_avg + pace_A + pace_B``, is the same system as ``s``: ``tempo_avg =
  (70 + 60 + 80) / 3 = 70``, ``c = (130, 150, 140)``, ``pace = (c - 140) / 2 = (-5, 5, 0)``; a
  team's tempo is ``tempo_avg / 2 + pace = (30, 40, 35)``.
* Team 0's expected margin over team 1: ``(10 - (-2.5)) * (30 + 40) / 100 = 8.75`` points.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from ncaa_eval.ratings.efficiency import EfficiencyRatings, efficiency_ratings, possessions

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

A = np.array([0, 0, 1])
B = np.array([1, 2, 2])
POINTS_A = np.array([56.0, 54.0, 64.0])
POINTS_B = np.array([42.0, 42.0, 56.0])
POSS = np.array([70.0, 60.0, 80.0])
NEUTRAL = np.zeros(3)


def fit(
    weights: FloatArray | None = None, court: FloatArray = NEUTRAL, **kwargs: object
) -> EfficiencyRatings:
    w = np.ones(3) if weights is None else weights
    return efficiency_ratings(A, B, court, POINTS_A, POINTS_B, POSS, w, 3, 1.0, **kwargs)  # type: ignore[arg-type]


def test_three_team_league_golden_values() -> None:
    ratings = fit()
    np.testing.assert_allclose(ratings.offence, [80.0, 71.25, 73.75], atol=1e-9)
    np.testing.assert_allclose(ratings.defence, [70.0, 73.75, 81.25], atol=1e-9)
    np.testing.assert_allclose(ratings.net, [10.0, -2.5, -7.5], atol=1e-9)
    np.testing.assert_allclose(ratings.tempo, [30.0, 40.0, 35.0], atol=1e-9)
    assert ratings.average == pytest.approx(75.0)
    assert ratings.possessions == pytest.approx(70.0)
    assert ratings.home_edge == pytest.approx(0.0, abs=1e-12)
    margin = ratings.expected_margin(np.array([0, 1]), np.array([1, 0]))
    np.testing.assert_allclose(margin, [8.75, -8.75], atol=1e-9)
    off, dfn, pace = ratings.deviations()
    np.testing.assert_allclose(off, [5.0, -3.75, -1.25], atol=1e-9)
    np.testing.assert_allclose(dfn, [-5.0, -1.25, 6.25], atol=1e-9)
    np.testing.assert_allclose(pace, [-5.0, 5.0, 0.0], atol=1e-9)


def test_a_team_without_a_game_keeps_its_prior() -> None:
    """A fourth team that never played: its deviations are exactly its prior."""
    prior_off, prior_def, prior_pace = (
        np.array([0, 0, 0, 4.0]),
        np.zeros(4),
        np.array([0, 0, 0, -2.0]),
    )
    ratings = efficiency_ratings(
        A, B, NEUTRAL, POINTS_A, POINTS_B, POSS, np.ones(3), 4, 1.0,
        prior_offence=prior_off, prior_defence=prior_def, prior_pace=prior_pace,
    )  # fmt: skip
    assert ratings.offence[3] == pytest.approx(75.0 + 4.0)
    assert ratings.defence[3] == pytest.approx(75.0)
    assert ratings.tempo[3] == pytest.approx(35.0 - 2.0)
    # The three who played are fitted as before (their priors are 0).
    np.testing.assert_allclose(ratings.offence[:3], fit().offence, atol=1e-9)


def test_no_game_gives_nan() -> None:
    empty = np.zeros(0)
    none = np.zeros(0, dtype=np.int64)
    ratings = efficiency_ratings(none, none, empty, empty, empty, empty, empty, 3, 1.0)
    assert np.isnan(ratings.offence).all()
    assert np.isnan(ratings.tempo).all()
    assert np.isnan(ratings.average)


def test_home_court_edge_by_hand() -> None:
    """Two equal teams split a home-and-away pair, each scoring 80 at home and 70 away.

    Half the efficiency gap is ``m = +5`` (team 0 at home) and ``-5`` (away); the teams' ``r``
    equations balance out (``r = 0``) and the home equation, ``sum(court^2) h = sum(court m)``,
    gives ``2 h = 10``: a home team gains 5 points per 100 possessions and its opponent loses 5.
    """
    a, b = np.array([0, 0]), np.array([1, 1])
    ratings = efficiency_ratings(
        a, b, np.array([1.0, -1.0]), np.array([80.0, 70.0]), np.array([70.0, 80.0]),
        np.array([100.0, 100.0]), np.ones(2), 2, 3.0, home_ridge=0.0,
    )  # fmt: skip
    assert ratings.home_edge == pytest.approx(5.0)
    np.testing.assert_allclose(ratings.offence, [75.0, 75.0])
    np.testing.assert_allclose(ratings.defence, [75.0, 75.0])


def test_a_home_win_counts_less_than_a_neutral_one() -> None:
    # Game 1 (team 0 beat team 1 by 20 per 100 possessions) played at team 0's home.
    home = fit(court=np.array([1.0, 0.0, 0.0]))
    neutral = fit()
    assert home.home_edge > 0
    assert home.net[0] - home.net[1] < neutral.net[0] - neutral.net[1]


def test_weights_are_recency_weights() -> None:
    """A game of weight 0 is a game not played; a heavier game pulls the fit toward itself."""
    dropped = fit(np.array([1.0, 1.0, 0.0]))
    two_games = efficiency_ratings(
        A[:2], B[:2], NEUTRAL[:2], POINTS_A[:2], POINTS_B[:2], POSS[:2], np.ones(2), 3, 1.0
    )
    for name in ("offence", "defence", "tempo"):
        np.testing.assert_allclose(getattr(dropped, name), getattr(two_games, name), atol=1e-9)
    # Game 3 (team 1 beat team 2 by 10 per 100) weighted up: team 1 over team 2 grows.
    heavy = fit(np.array([1.0, 1.0, 4.0]))
    base = fit()
    assert heavy.net[1] - heavy.net[2] > base.net[1] - base.net[2]
    # Scaling every weight and the prior alike changes nothing.
    scaled = efficiency_ratings(
        A, B, NEUTRAL, POINTS_A, POINTS_B, POSS, np.full(3, 2.0), 3, 2.0, home_ridge=2e-3
    )
    np.testing.assert_allclose(scaled.offence, base.offence, atol=1e-9)


def test_overtime_counts_toward_efficiency_but_not_pace() -> None:
    """Game 3 went to overtime: 80 possessions in 45 minutes are 71.1 per 40 minutes."""
    overtime = fit(minutes=np.array([40.0, 40.0, 45.0]))
    np.testing.assert_allclose(overtime.offence, fit().offence, atol=1e-9)
    assert overtime.possessions == pytest.approx((70 + 60 + 80 * 40 / 45) / 3)


def test_the_split_equals_the_joint_least_squares() -> None:
    """The two small systems give exactly the 2n + 2 unknowns' weighted ridge solution."""
    rng = np.random.default_rng(5)
    n, g, lam, home_ridge = 9, 50, 2.5, 0.01
    a = rng.integers(0, n - 1, g)
    b = (a + 1 + rng.integers(0, n - 2, g)) % (n - 1)  # team n - 1 never plays
    court = rng.choice([-1.0, 0.0, 1.0], g)
    pa, pb = rng.normal(70, 10, g), rng.normal(70, 10, g)
    poss, w = rng.normal(68, 5, g), rng.random(g)
    off0, def0, pace0 = rng.normal(0, 3, n), rng.normal(0, 3, n), rng.normal(0, 1, n)
    got = efficiency_ratings(
        a, b, court, pa, pb, poss, w, n, lam, prior_offence=off0, prior_defence=def0,
        prior_pace=pace0, home_ridge=home_ridge,
    )  # fmt: skip
    # Unknowns: off (n), def (n), avg, h; two rows per game. The split's home ridge is half the
    # joint one (its rows are the half-differences of the joint rows).
    rows = np.zeros((2 * g, 2 * n + 2))
    idx = np.arange(g)
    rows[2 * idx, a], rows[2 * idx, n + b], rows[2 * idx, 2 * n + 1] = 1, 1, court
    rows[2 * idx + 1, b], rows[2 * idx + 1, n + a], rows[2 * idx + 1, 2 * n + 1] = 1, 1, -court
    rows[:, 2 * n] = 1
    y = np.empty(2 * g)
    y[0::2], y[1::2] = 100 * pa / poss, 100 * pb / poss
    ww = np.repeat(w, 2)
    ridge = np.diag([lam] * (2 * n) + [0.0, 2 * home_ridge])
    target = np.concatenate([off0, def0, [0.0, 0.0]])
    joint = np.linalg.solve(
        rows.T @ (ww[:, None] * rows) + ridge, rows.T @ (ww * y) + ridge @ target
    )
    np.testing.assert_allclose(got.offence, joint[:n] + joint[2 * n], atol=1e-9)
    np.testing.assert_allclose(got.defence, joint[n : 2 * n] + joint[2 * n], atol=1e-9)
    assert got.average == pytest.approx(joint[2 * n])
    assert got.home_edge == pytest.approx(joint[2 * n + 1])
    design = np.zeros((g, n + 1))
    design[idx, a], design[idx, b], design[:, n] = 1, 1, 1
    ridge_p = np.diag([lam] * n + [0.0])
    pace = np.linalg.solve(
        design.T @ (w[:, None] * design) + ridge_p,
        design.T @ (w * poss) + ridge_p @ np.concatenate([pace0, [0.0]]),
    )
    np.testing.assert_allclose(got.tempo, pace[:n] + pace[n] / 2, atol=1e-9)
    assert got.tempo[n - 1] == pytest.approx(pace[n] / 2 + pace0[n - 1])


def test_possessions_estimate() -> None:
    # FGA - OR + TO + 0.475 * FTA
    assert possessions(np.array([60.0]), np.array([10.0]), np.array([12.0]), np.array([20.0]))[
        0
    ] == pytest.approx(60 - 10 + 12 + 9.5)
