"""Leakage-free features for every game, computed only from games strictly before it.

:class:`StatefulFeatureServer` walks a league's history once, day by day. Before each day it
reads every game of that day from the current state; only then does it learn from that day's
results. Tournament games are served from the state frozen after the last regular-season game
(no result of that tournament is used), as a Kaggle entry would be. So a change to any game can
only move the features of games after it; ``tests/transform/test_feature_serving.py`` proves it by
editing and deleting games.

Features (each ``*_diff`` is team A's value minus team B's, team A the lower TeamID):

============================  ==========================================================  =========
column                        what                                                        coverage
============================  ==========================================================  =========
``elo_diff``                  Elo ratings (the tuned :class:`~ncaa_eval.ratings.elo`)       always
``margin_rating_diff``        ridge least-squares margin rating (points), this season,    always
                              shrunk toward a share of last season's, recomputed every N
                              days and afresh for the tournament; optionally recency-
                              weighted
``net_eff_diff``              points scored minus allowed per 100 possessions, season to  box
                              date                                                        scores
``adj_off_diff``              points scored per 100 possessions, adjusted for opponents   box
                              and court (:mod:`~ncaa_eval.ratings.efficiency`: ridge      scores
                              least squares, this season, shrunk toward a share of last
                              season's; optionally recency-weighted), recomputed every N
                              days and afresh for the tournament
``adj_def_diff``              points allowed per 100 possessions, adjusted alike (lower   box
                              is better)                                                  scores
``pace_diff``                 adjusted possessions per 40 minutes (no direction)          box sc.
``adj_margin_diff``           the margin the adjusted ratings predict on a neutral court  box
                              (net per 100 possessions times the expected possessions)    scores
``form_margin_diff``          mean margin of the last N games                              always
``win_pct_diff``              season-to-date winning share                                always
``ordinal_diff``              mean log rank over Massey systems, last ranking day before  men 2003+
``ordinal_<SYS>_diff``        one Massey system's log rank (``ordinal_system_columns``)   men 2003+
``seed_diff``                 tournament seed number                                      tourn.
``court``                     +1 team A at home, -1 away, 0 neutral                       always
============================  ==========================================================  =========
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from ncaa_eval import LEAGUE_NAMES
from ncaa_eval.errors import NcaaEvalError
from ncaa_eval.ingest.repository import ParquetRepository
from ncaa_eval.ingest.schema import League
from ncaa_eval.ratings.efficiency import (
    OVERTIME_MINUTES,
    REGULATION_MINUTES,
    EfficiencyRatings,
    efficiency_ratings,
    possessions,
)
from ncaa_eval.ratings.elo import EloEngine, location_sign
from ncaa_eval.ratings.margin import HOME_RIDGE, ridge_margin_rating
from ncaa_eval.transform.feature_config import (
    FEATURE_DIRECTIONS,
    FeatureConfig,
    FloatArray,
    TeamSnapshot,
    feature_direction,
    ordinal_column,
)
from ncaa_eval.transform.matchups import conference_map, orient_games, pair_rows
from ncaa_eval.transform.ordinals import OrdinalTable
from ncaa_eval.transform.serving import ChronologicalDataServer


@dataclass
class FeatureSet:
    """The served rows: metadata (:data:`~ncaa_eval.model.base.GAME_COLUMNS`), label, features."""

    frame: pd.DataFrame
    feature_columns: list[str]
    notes: list[str] = field(default_factory=list)
    #: season -> team snapshot frozen before that season's tournament.
    tournament_snapshots: dict[int, TeamSnapshot] = field(default_factory=dict)
    team_ids: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    seeds: dict[int, dict[int, int]] = field(default_factory=dict)
    conferences: dict[int, dict[int, str]] = field(default_factory=dict)
    config: FeatureConfig = field(default_factory=FeatureConfig)
    #: Seasons served with at least one regular-season box score (the adjusted efficiency's).
    box_score_seasons: tuple[int, ...] = ()

    def pair_features(
        self, season: int, pairs: pd.DataFrame, court: FloatArray | None = None
    ) -> pd.DataFrame:
        """Features of unplayed games between tournament teams of ``season``.

        ``pairs`` holds ``team_a_id``/``team_b_id`` (A < B); the snapshot frozen before the
        season's tournament is used, so this works before a single tournament game is played.
        ``court`` is +1 where team A is at home, -1 away, 0 neutral (the default for every row).
        """
        snap = self.tournament_snapshots[season]
        ia = np.searchsorted(self.team_ids, pairs["team_a_id"].to_numpy())
        ib = np.searchsorted(self.team_ids, pairs["team_b_id"].to_numpy())
        out = pairs.copy()
        feats = _diff_features(
            self.config, snap, ia, ib, np.zeros(len(pairs)) if court is None else court,
            pairs["team_a_id"].to_numpy(), pairs["team_b_id"].to_numpy(),
            self.seeds.get(season, {}),
        )  # fmt: skip
        for col in self.feature_columns:
            out[col] = feats[col]
        return out


def _diff_features(
    config: FeatureConfig,
    snap: TeamSnapshot,
    ia: npt.NDArray[np.int64],
    ib: npt.NDArray[np.int64],
    court: FloatArray,
    team_a: npt.NDArray[np.int64],
    team_b: npt.NDArray[np.int64],
    seeds: dict[int, int] | None,
) -> dict[str, FloatArray]:
    out: dict[str, FloatArray] = {}
    if config.elo:
        out["elo_diff"] = snap.elo[ia] - snap.elo[ib]
    if config.margin_rating:
        out["margin_rating_diff"] = snap.margin_rating[ia] - snap.margin_rating[ib]
    if config.efficiency:
        out["net_eff_diff"] = snap.net_eff[ia] - snap.net_eff[ib]
    if config.adjusted_efficiency:
        out["adj_off_diff"] = snap.adj_off[ia] - snap.adj_off[ib]
        out["adj_def_diff"] = snap.adj_def[ia] - snap.adj_def[ib]
        out["pace_diff"] = snap.adj_tempo[ia] - snap.adj_tempo[ib]
        net = snap.adj_off - snap.adj_def
        expected_possessions = snap.adj_tempo[ia] + snap.adj_tempo[ib]
        out["adj_margin_diff"] = (net[ia] - net[ib]) * expected_possessions / 100.0
    if config.form:
        out["form_margin_diff"] = snap.form_margin[ia] - snap.form_margin[ib]
        out["win_pct_diff"] = snap.win_pct[ia] - snap.win_pct[ib]
    if config.ordinals:
        out["ordinal_diff"] = snap.ordinal[ia] - snap.ordinal[ib]
    for system in config.ordinal_system_columns:
        values = snap.ordinal_by_system[system]
        out[ordinal_column(system)] = values[ia] - values[ib]
    if config.seeds:
        if seeds is None:
            out["seed_diff"] = np.full(len(ia), np.nan)
        else:
            sa = np.array([seeds.get(int(t), np.nan) for t in team_a], dtype=np.float64)
            sb = np.array([seeds.get(int(t), np.nan) for t in team_b], dtype=np.float64)
            out["seed_diff"] = sa - sb
    if config.court:
        out["court"] = court.astype(np.float64)
    return out


class StatefulFeatureServer:
    """Serves leakage-free feature rows for every game of a league.

    Args:
        config: which features to compute.
    """

    def __init__(self, config: FeatureConfig | None = None) -> None:
        self.config = config or FeatureConfig()

    def serve(
        self,
        repository: ParquetRepository,
        league: League,
        seasons: list[int] | None = None,
    ) -> FeatureSet:
        """Walk the league's games (all, or ``seasons``) and serve one row per game.

        Seasons with seeds but no tournament results yet get a frozen tournament snapshot too, so
        their tournament can be forecast with :meth:`FeatureSet.pair_features`.

        BLAS/OpenMP run single-threaded inside: the walk solves thousands of small (~370 x 370)
        systems, where thread start-up and contention cost far more than they save (about 10x
        slower on 2 busy cores).
        """
        with threadpool_limits(limits=1):
            return self._serve(repository, league, seasons)

    def _serve(
        self,
        repository: ParquetRepository,
        league: League,
        seasons: list[int] | None,
    ) -> FeatureSet:
        server = ChronologicalDataServer(repository, league, seasons)
        conferences = conference_map(repository.conferences(league))
        seeds_df = repository.seeds(league)
        seeds = {
            int(str(s)): dict(
                zip(g["team_id"].astype(int), g["seed_number"].astype(int), strict=True)
            )
            for s, g in seeds_df.groupby("season")
        }
        wants_ordinals = self.config.ordinals or bool(self.config.ordinal_system_columns)
        ordinals = repository.ordinals(league, server.seasons) if wants_ordinals else pd.DataFrame()
        return self._walk(server, conferences, seeds, ordinals)

    def _walk(
        self,
        server: ChronologicalDataServer,
        conferences: dict[int, dict[int, str]],
        seeds: dict[int, dict[int, int]],
        ordinals: pd.DataFrame,
    ) -> FeatureSet:
        cfg = self.config
        games = orient_games(server.all_games(), conferences).reset_index(drop=True)
        box = server.all_games().reset_index(drop=True)
        team_ids = np.unique(
            np.concatenate(
                [
                    games["team_a_id"].to_numpy(),
                    games["team_b_id"].to_numpy(),
                    np.array([t for s in seeds.values() for t in s], dtype=np.int64),
                ]
            )
        )
        n_teams = len(team_ids)
        ia_all = np.searchsorted(team_ids, games["team_a_id"].to_numpy())
        ib_all = np.searchsorted(team_ids, games["team_b_id"].to_numpy())
        court_all = location_sign(games["team_a_loc"].to_numpy(dtype=object))
        score_a = games["team_a_score"].to_numpy(dtype=np.float64)
        score_b = games["team_b_score"].to_numpy(dtype=np.float64)
        a_won_w = games["team_a_won"].to_numpy() == 1
        poss_a, poss_b, has_box = self._possessions(box, a_won_w)
        minutes = REGULATION_MINUTES + OVERTIME_MINUTES * games["num_ot"].to_numpy(np.float64)
        ord_table = (
            OrdinalTable(ordinals, cfg.ordinal_systems, team_ids.astype(np.float64))
            if cfg.ordinals
            else None
        )
        system_tables = {
            system: OrdinalTable(ordinals, (system,), team_ids.astype(np.float64), False)
            for system in cfg.ordinal_system_columns
        }
        columns = cfg.feature_columns()
        feats = {c: np.full(len(games), np.nan) for c in columns}
        engine = EloEngine()
        prior = np.zeros(n_teams)
        eff_prior: tuple[FloatArray, FloatArray, FloatArray] | None = None
        snapshots: dict[int, TeamSnapshot] = {}
        season_arr = games["season"].to_numpy()
        day_arr = games["day_num"].to_numpy()
        is_t = games["is_tournament"].to_numpy(dtype=bool)
        team_a = games["team_a_id"].to_numpy(dtype=np.int64)
        team_b = games["team_b_id"].to_numpy(dtype=np.int64)
        loc = games["team_a_loc"].to_numpy(dtype=object).astype(str)

        for season in server.seasons:
            sel = np.flatnonzero(season_arr == season)
            reg = sel[~is_t[sel]]
            tour = sel[is_t[sel]]
            start_day = server.tournament_start_day(season)
            st = _SeasonState(n_teams, cfg, prior, eff_prior)
            # Elo: carry over into the new season before its first game.
            engine.new_season(season, conferences.get(season))
            days = day_arr[reg]
            bounds = np.flatnonzero(np.diff(days)) + 1
            for chunk in np.split(reg, bounds):
                if len(chunk) == 0:
                    continue
                day = int(day_arr[chunk[0]])
                snap = st.snapshot(engine, team_ids, ord_table, season, day, n_teams, system_tables)
                self._fill(feats, chunk, snap, ia_all, ib_all, court_all, team_a, team_b, None)
                st.learn(
                    chunk, ia_all, ib_all, score_a, score_b, court_all, poss_a, poss_b, has_box,
                    minutes, day,
                )  # fmt: skip
                engine.walk(
                    season_arr[chunk], day_arr[chunk], team_a[chunk], team_b[chunk],
                    score_a[chunk], score_b[chunk], loc[chunk], is_t[chunk],
                    conferences={season: conferences.get(season, {})},
                )  # fmt: skip
            if server.has_tournament(season):
                snap = st.snapshot(
                    engine, team_ids, ord_table, season, start_day, n_teams, system_tables,
                    force_solve=cfg.fresh_tournament_rating, fresh_efficiency=True,
                )  # fmt: skip
                snapshots[season] = snap
                if len(tour):
                    self._fill(
                        feats, tour, snap, ia_all, ib_all, court_all, team_a, team_b,
                        seeds.get(season, {}),
                    )  # fmt: skip
                    engine.walk(
                        season_arr[tour], day_arr[tour], team_a[tour], team_b[tour],
                        score_a[tour], score_b[tour], loc[tour], is_t[tour],
                        conferences={season: conferences.get(season, {})},
                    )  # fmt: skip
            prior = cfg.margin_carry * st.final_margin_rating()
            eff_prior = st.final_efficiency_prior()

        frame = games.copy()
        for col in columns:
            frame[col] = feats[col]
        notes = _coverage_notes(frame, columns)
        dropped = [c for c in columns if frame[c].isna().all()]
        kept = [c for c in columns if c not in dropped]
        frame = frame.drop(columns=dropped)
        return FeatureSet(
            frame=frame,
            feature_columns=kept,
            notes=notes,
            tournament_snapshots=snapshots,
            team_ids=team_ids,
            seeds=seeds,
            conferences=conferences,
            config=cfg,
            box_score_seasons=tuple(int(s) for s in np.unique(season_arr[has_box & ~is_t])),
        )

    def _fill(
        self,
        feats: dict[str, FloatArray],
        rows: npt.NDArray[np.int64],
        snap: TeamSnapshot,
        ia_all: npt.NDArray[np.int64],
        ib_all: npt.NDArray[np.int64],
        court_all: FloatArray,
        team_a: npt.NDArray[np.int64],
        team_b: npt.NDArray[np.int64],
        seeds: dict[int, int] | None,
    ) -> None:
        values = _diff_features(
            self.config, snap, ia_all[rows], ib_all[rows], court_all[rows],
            team_a[rows], team_b[rows], seeds,
        )  # fmt: skip
        for col, vals in values.items():
            feats[col][rows] = vals

    @staticmethod
    def _possessions(
        box: pd.DataFrame, a_won: npt.NDArray[np.bool_]
    ) -> tuple[FloatArray, FloatArray, npt.NDArray[np.bool_]]:
        def poss(side: str) -> FloatArray:
            def stat(name: str) -> FloatArray:
                return box[f"{side}_{name}"].to_numpy(dtype=np.float64, na_value=np.nan)

            return possessions(stat("fga"), stat("or"), stat("to"), stat("fta"))

        pw, pl = poss("w"), poss("l")
        has = box["has_box_score"].to_numpy(dtype=bool) & np.isfinite(pw) & np.isfinite(pl)
        return np.where(a_won, pw, pl), np.where(a_won, pl, pw), has


class _SeasonState:
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


def require_box_scores(features: FeatureSet, seasons: list[int], league: League) -> None:
    """Refuse to forecast a season without box scores when the adjusted efficiency is asked for.

    Earlier seasons without box scores may still be training rows (their values are NaN); a
    forecast season must have them, or its forecasts would rest on nothing.

    Raises:
        NcaaEvalError: ``features.adjusted_efficiency`` is on and a season of ``seasons`` has no
            regular-season box score; the message names the seasons that have them.
    """
    if not features.config.adjusted_efficiency:
        return
    have = sorted(features.box_score_seasons)
    missing = sorted(set(seasons) - set(have))
    if not missing:
        return
    name = LEAGUE_NAMES.get(league, league)
    if not have:
        has, fix = f"the {name}'s data has none", "import Kaggle's detailed results"
    else:
        # Contiguous up to the last season read: the store may hold later seasons with them too.
        last_read = int(features.frame["season"].max()) if len(features.frame) else None
        if have == list(range(have[0], have[-1] + 1)) and have[-1] == last_read:
            has = f"the {name}'s data has them from {have[0]} on"
        else:
            has = f"the {name}'s data has them for {_ranges(have)} only"
        before = missing[-1] < have[0]
        fix = f"start at {have[0]} or later" if before else f"forecast {_ranges(have)} only"
    which = f"seasons {_ranges(missing)} have" if len(missing) > 1 else f"season {missing[0]} has"
    raise NcaaEvalError(
        f"features.adjusted_efficiency needs box scores; {has}, and {which} none: {fix}, or set "
        "adjusted_efficiency to false."
    )


def _coverage_notes(frame: pd.DataFrame, columns: list[str]) -> list[str]:
    notes = []
    for col in columns:
        # Seeds exist for tournament games only.
        rows = frame[frame["is_tournament"]] if col == "seed_diff" else frame
        missing = rows.groupby("season")[col].apply(lambda s: bool(s.isna().all()))
        seasons = [int(str(s)) for s, m in missing.items() if m]
        if len(seasons) == len(missing):
            notes.append(f"{col}: cannot be computed for any served season; column dropped.")
        elif seasons:
            notes.append(f"{col}: not available for seasons {_ranges(seasons)} (left missing).")
    return notes


def _ranges(values: list[int]) -> str:
    out: list[str] = []
    start = prev = values[0]
    for v in values[1:]:
        if v == prev + 1:
            prev = v
            continue
        out.append(f"{start}-{prev}" if start != prev else str(start))
        start = prev = v
    out.append(f"{start}-{prev}" if start != prev else str(start))
    return ", ".join(out)


__all__ = [
    "FEATURE_DIRECTIONS",
    "FeatureConfig",
    "FeatureSet",
    "StatefulFeatureServer",
    "TeamSnapshot",
    "feature_direction",
    "ordinal_column",
    "pair_rows",
    "require_box_scores",
]
