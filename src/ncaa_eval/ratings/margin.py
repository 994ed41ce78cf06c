"""Ridge least-squares margin rating: one number per team, in points of scoring margin.

Model (``r`` the team ratings, ``h`` the home edge, ``court`` +1 team A at home, -1 away,
0 neutral)::

    margin ~ r_a - r_b + h * court

solved by weighted ridge least squares, each team's rating shrunk toward ``prior`` with the
weight of ``prior_games`` games and the home edge toward 0 with ``home_ridge``. The feature
server (:mod:`ncaa_eval.transform.feature_serving`) solves it for the games of a season to date.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
#: Ridge weight of the home-court unknown; tiny, it is well identified.
HOME_RIDGE = 1e-3


def ridge_margin_rating(
    a: npt.NDArray[np.int64],
    b: npt.NDArray[np.int64],
    court: FloatArray,
    margin: FloatArray,
    weights: FloatArray,
    n_teams: int,
    prior: FloatArray,
    prior_games: float,
    home_ridge: float = HOME_RIDGE,
) -> FloatArray:
    """Ratings of ``n_teams`` teams from games ``a`` vs ``b`` (team indices), one weight each.

    Args:
        a: team A's index of each game.
        b: team B's index of each game.
        court: +1 where team A is at home, -1 away, 0 neutral.
        margin: team A's points minus team B's (capped by the caller if wanted).
        weights: the weight of each game.
        n_teams: number of teams (ratings returned).
        prior: the rating each team is shrunk toward.
        prior_games: the prior's weight, in games, per team.
        home_ridge: ridge weight of the home edge (shrunk toward 0).

    Returns:
        One rating per team, in points.
    """
    n = n_teams
    w = weights
    gram = np.zeros((n + 1, n + 1))
    rhs = np.zeros(n + 1)
    gram[np.arange(n), np.arange(n)] = prior_games
    gram[n, n] = home_ridge
    rhs[:n] = prior_games * prior
    np.add.at(gram, (a, a), w)
    np.add.at(gram, (b, b), w)
    np.add.at(gram, (a, b), -w)
    np.add.at(gram, (b, a), -w)
    # The home-court column: gram[:n, n] and gram[n, :n].
    np.add.at(gram[:, n], a, w * court)
    np.add.at(gram[n, :], a, w * court)
    np.add.at(gram[:, n], b, -w * court)
    np.add.at(gram[n, :], b, -w * court)
    gram[n, n] += float(np.dot(w * court, court))
    np.add.at(rhs, a, w * margin)
    np.add.at(rhs, b, -w * margin)
    rhs[n] += float(np.dot(w * court, margin))
    sol = np.linalg.solve(gram, rhs)
    return np.asarray(sol[:n], dtype=np.float64)


__all__ = ["HOME_RIDGE", "ridge_margin_rating"]
