"""One season's running state inside the feature walk: what the features are computed from.

:class:`SeasonState` accumulates a season's games day by day (scores, possessions, recent
margins, the games the margin rating and the adjusted efficiency are solved from) and answers
:meth:`SeasonState.snapshot`: every team's feature values before a day, nothing of that day
learned. :class:`~ncaa_eval.transform.feature_serving.StatefulFeatureServer` makes one per season.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ncaa_eval.ratings.efficiency import (
    EfficiencyRatings,
    efficiency_ratings,
)
from ncaa_eval.ratings.elo import EloEngine
from ncaa_eval.ratings.margin import HOME_RIDGE, ridge_margin_rating
from ncaa_eval.transform.feature_config import FeatureConfig, FloatArray, TeamSnapshot
from ncaa_eval.transform.ordinals import OrdinalTable


class SeasonState:
    """Season-to-date accumulators of one season (reset every season)."""

    def __init__(
        self,
        n_teams: int,
        cfg: FeatureConfig,
        prior: FloatArray,
        eff_prior: tuple[FloatArray, FloatArray, FloatArray] | None = None,
    ) -> None:
        self.cfg = cfg
        self.n = n_teams
        self.prior = prior
        self.pts_for = np.zeros(n_teams)
        self.pts_against = np.zeros(n_teams)
        self.poss_for = np.zeros(n_teams)
        self.poss_against = np.zeros(n_teams)
        self.wins = np.zeros(n_teams)
        self.games = np.zeros(n_teams)
        # Recent margins as a ring buffer per team: O(1) update, vectorised mean.
        self.recent = np.zeros((n_teams, cfg.form_games))
        self.recent_pos = np.zeros(n_teams, dtype=np.int64)
        self.recent_count = np.zeros(n_teams, dtype=np.int64)
        self.ls_a: list[npt.NDArray[np.int64]] = []
        self.ls_b: list[npt.NDArray[np.int64]] = []
        self.ls_court: list[FloatArray] = []
        self.ls_margin: list[FloatArray] = []
        self.ls_day: list[FloatArray] = []
        self.rating = prior.copy()
        self.next_solve_day = -1
        # The adjusted efficiency's box-score games, one entry per learned day: the teams, and
        # (court, points a, points b, possessions, minutes, day).
        self.eff_teams: list[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]] = []
        self.eff_games: list[tuple[FloatArray, ...]] = []
        self.eff_prior = eff_prior
        self.eff: EfficiencyRatings | None = None
        self.next_eff_day = -1

    def learn(
        self,
        rows: npt.NDArray[np.int64],
        ia_all: npt.NDArray[np.int64],
        ib_all: npt.NDArray[np.int64],
        score_a: FloatArray,
        score_b: FloatArray,
        court: FloatArray,
        poss_a: FloatArray,
        poss_b: FloatArray,
        has_box: npt.NDArray[np.bool_],
        minutes: FloatArray,
        day: int,
    ) -> None:
        ia, ib = ia_all[rows], ib_all[rows]
        sa, sb = score_a[rows], score_b[rows]
        margin = sa - sb
        np.add.at(self.games, ia, 1.0)
        np.add.at(self.games, ib, 1.0)
        np.add.at(self.wins, ia, (margin > 0).astype(float))
        np.add.at(self.wins, ib, (margin < 0).astype(float))
        hb = has_box[rows]
        if hb.any():
            a, b = ia[hb], ib[hb]
            np.add.at(self.pts_for, a, sa[hb])
            np.add.at(self.pts_for, b, sb[hb])
            np.add.at(self.pts_against, a, sb[hb])
            np.add.at(self.pts_against, b, sa[hb])
            np.add.at(self.poss_for, a, poss_a[rows][hb])
            np.add.at(self.poss_for, b, poss_b[rows][hb])
            np.add.at(self.poss_against, a, poss_b[rows][hb])
            np.add.at(self.poss_against, b, poss_a[rows][hb])
            if self.cfg.adjusted_efficiency:
                box_rows = rows[hb]
                game_poss = (poss_a[box_rows] + poss_b[box_rows]) / 2.0
                ok = game_poss > 0
                box_rows = box_rows[ok]
                self.eff_teams.append((a[ok], b[ok]))
                self.eff_games.append(
                    (
                        court[box_rows], score_a[box_rows], score_b[box_rows], game_poss[ok],
                        minutes[box_rows], np.full(len(box_rows), float(day)),
                    )
                )  # fmt: skip
        # A team plays at most once a day, so the teams of one day's games are distinct.
        for teams, margins in ((ia, margin), (ib, -margin)):
            self.recent[teams, self.recent_pos[teams]] = margins
            self.recent_pos[teams] = (self.recent_pos[teams] + 1) % self.cfg.form_games
            self.recent_count[teams] += 1
        cap = self.cfg.margin_cap
        self.ls_a.append(ia)
        self.ls_b.append(ib)
        self.ls_court.append(court[rows])
        self.ls_margin.append(np.clip(margin, -cap, cap))
        self.ls_day.append(np.full(len(rows), float(day)))

    def _solve(self, day: float | None = None) -> FloatArray:
        """The margin rating (:func:`~ncaa_eval.ratings.margin.ridge_margin_rating`) to date.

        With ``margin_half_life_days`` each game is weighted ``0.5 ** ((day - its day) /
        half_life)``, ``day`` being the rating day (the last game's day when None).
        """
        if self.ls_a:
            a = np.concatenate(self.ls_a)
            b = np.concatenate(self.ls_b)
            c = np.concatenate(self.ls_court)
            m = np.concatenate(self.ls_margin)
            half_life = self.cfg.margin_half_life_days
            if half_life is None:
                w = np.ones(len(a))
            else:
                d = np.concatenate(self.ls_day)
                now = float(d.max()) if day is None else float(day)
                w = 0.5 ** ((now - d) / half_life)
        else:
            a = b = np.zeros(0, dtype=np.int64)
            c = m = w = np.zeros(0)
        return ridge_margin_rating(
            a, b, c, m, w, self.n, self.prior, self.cfg.margin_prior_games, HOME_RIDGE
        )

    def _solve_efficiency(self, day: float | None = None) -> EfficiencyRatings:
        """The adjusted efficiency (:func:`~ncaa_eval.ratings.efficiency.efficiency_ratings`).

        Weighted like :meth:`_solve`, with ``efficiency_half_life_days``.
        """
        cfg = self.cfg
        if self.eff_games:
            a, b = (np.concatenate(parts) for parts in zip(*self.eff_teams, strict=True))
            court, pts_a, pts_b, poss, minutes, days = (
                np.concatenate(parts) for parts in zip(*self.eff_games, strict=True)
            )
        else:
            a = b = np.zeros(0, dtype=np.int64)
            court = pts_a = pts_b = poss = minutes = days = np.zeros(0)
        half_life = cfg.efficiency_half_life_days
        if half_life is None or len(days) == 0:
            w = np.ones(len(days))
        else:
            now = float(days.max()) if day is None else float(day)
            w = 0.5 ** ((now - days) / half_life)
        off0, def0, pace0 = self.eff_prior if self.eff_prior is not None else (None, None, None)
        return efficiency_ratings(
            a, b, court, pts_a, pts_b, poss, w, self.n,
            cfg.efficiency_prior_games, minutes=minutes, prior_offence=off0,
            prior_defence=def0, prior_pace=pace0,
        )  # fmt: skip

    def final_efficiency_prior(self) -> tuple[FloatArray, FloatArray, FloatArray] | None:
        """Next season's efficiency prior: ``efficiency_carry`` times this season's deviations.

        None (the league average) when the feature is off or the season had no box score.
        """
        cfg = self.cfg
        if not cfg.adjusted_efficiency or cfg.efficiency_carry == 0 or not self.eff_games:
            return None
        fit = self._solve_efficiency()
        if not np.isfinite(fit.average):
            return None
        off, dfn, pace = fit.deviations()
        carry = cfg.efficiency_carry
        return carry * off, carry * dfn, carry * pace

    def final_margin_rating(self) -> FloatArray:
        """The margin rating from every game learned this season."""
        return self._solve() if self.cfg.margin_rating else np.zeros(self.n)

    def snapshot(
        self,
        engine: EloEngine,
        team_ids: npt.NDArray[np.int64],
        ordinals: OrdinalTable | None,
        season: int,
        day: int,
        n_teams: int,
        system_tables: dict[str, OrdinalTable],
        force_solve: bool = False,
        fresh_efficiency: bool = False,
    ) -> TeamSnapshot:
        """Feature values of every team before ``day`` (nothing of ``day`` itself is learned).

        The margin rating is re-solved every ``rating_every_days`` days, or now if
        ``force_solve`` (the tournament snapshot, so it includes the conference tournaments);
        the adjusted efficiency likewise (from its first box score on), or now if
        ``fresh_efficiency``.
        """
        cfg = self.cfg
        if cfg.margin_rating and (force_solve or day >= self.next_solve_day):
            self.rating = self._solve(day)
            self.next_solve_day = day + cfg.rating_every_days
        if cfg.adjusted_efficiency and (fresh_efficiency or day >= self.next_eff_day):
            self.eff = self._solve_efficiency(day) if self.eff_games else None
            if self.eff is not None:
                self.next_eff_day = day + cfg.rating_every_days
        eff = self.eff
        nan = np.full(n_teams, np.nan)
        ratings = engine.ratings
        entry = engine.entry_rating()
        elo = np.array([ratings.get(int(t), entry) for t in team_ids], dtype=np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            net = 100.0 * (self.pts_for / self.poss_for - self.pts_against / self.poss_against)
            win_pct = np.where(self.games > 0, self.wins / np.maximum(self.games, 1), 0.5)
        filled = np.minimum(self.recent_count, self.cfg.form_games)
        form = np.where(filled > 0, self.recent.sum(axis=1) / np.maximum(filled, 1), 0.0)
        return TeamSnapshot(
            elo=elo,
            margin_rating=self.rating.copy(),
            net_eff=np.where(np.isfinite(net), net, np.nan),
            adj_off=nan if eff is None else eff.offence,
            adj_def=nan if eff is None else eff.defence,
            adj_tempo=nan if eff is None else eff.tempo,
            form_margin=form,
            win_pct=win_pct,
            ordinal=(
                ordinals.as_of(season, day, n_teams)
                if ordinals is not None
                else np.full(n_teams, np.nan)
            ),
            ordinal_by_system={
                system: table.as_of(season, day, n_teams) for system, table in system_tables.items()
            },
        )


__all__ = ["SeasonState"]
