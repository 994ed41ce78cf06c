"""Elo game by game: the plain reference the tests hold :meth:`EloEngine.walk`'s fast loop to.

The library only walks games in batches (:meth:`~ncaa_eval.ratings.elo.EloEngine.walk`); this
subclass adds the one-game-at-a-time steps, written straight from the formulas of
:mod:`ncaa_eval.ratings.elo`, so a test can compute the same numbers the slow, obvious way.
"""

from __future__ import annotations

from typing import Literal

from ncaa_eval.ratings.elo import EloEngine

Location = Literal["H", "A", "N"]

_LOC_SIGN: dict[str, float] = {"H": 1.0, "A": -1.0, "N": 0.0}


def expected_score(rating_a: float, rating_b: float, home: float = 0.0) -> float:
    """``E_A`` for ratings ``rating_a``/``rating_b`` with ``home`` Elo points added to A."""
    return 1.0 / (1.0 + float(10.0 ** (-(rating_a + home - rating_b) / 400.0)))


class ReferenceEloEngine(EloEngine):
    """:class:`EloEngine` with single-game steps (same state, same seasons, same config)."""

    def rating(self, team: int) -> float:
        """Current rating of ``team`` (its entry rating when never seen)."""
        return self._ratings.get(team, self.entry_rating())

    def expected(self, team_a: int, team_b: int, a_loc: Location = "N") -> float:
        """``P(team A beats team B)`` from the current ratings; ``a_loc`` is A's side."""
        home = _LOC_SIGN[a_loc] * self.config.home_edge
        return expected_score(self.rating(team_a), self.rating(team_b), home)

    def margin_multiplier(self, mov: float, winner_edge: float) -> float:
        """The margin multiplier ``M`` for a win by ``mov`` points with ``winner_edge`` Elo."""
        c = self.config
        if not c.use_margin:
            return 1.0
        boost = float((mov + c.mov_a) ** c.mov_b)
        return boost / max(c.mov_c + c.mov_d * winner_edge, 0.5 * c.mov_c)

    def k_factor(self, day_num: int | None = None, is_tournament: bool = False) -> float:
        """The K of a game on ``day_num`` (tournament K first, then the early-season K)."""
        c = self.config
        if is_tournament:
            return c.k_tournament
        if day_num is not None and day_num < c.early_days:
            return c.k_early
        return c.k

    def process_game(
        self,
        team_a: int,
        team_b: int,
        score_a: float,
        score_b: float,
        a_loc: Location = "N",
        *,
        day_num: int | None = None,
        is_tournament: bool = False,
    ) -> float:
        """Learn from one played game and return its pre-game ``P(team A wins)``."""
        ra = self.rating(team_a)
        rb = self.rating(team_b)
        edge = ra + _LOC_SIGN[a_loc] * self.config.home_edge - rb
        e_a = expected_score(edge, 0.0)
        mov = score_a - score_b
        s_a = 1.0 if mov > 0 else (0.0 if mov < 0 else 0.5)
        winner_edge = edge if mov > 0 else (-edge if mov < 0 else 0.0)
        delta = (
            self.k_factor(day_num, is_tournament)
            * self.margin_multiplier(abs(mov), winner_edge)
            * (s_a - e_a)
        )
        self._ratings[team_a] = ra + delta
        self._ratings[team_b] = rb - delta
        self.n_games += 1
        return e_a
