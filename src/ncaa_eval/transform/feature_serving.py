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

from ncaa_eval.ingest.repository import ParquetRepository
from ncaa_eval.ingest.schema import League
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

# Possessions estimate (Pomeroy/Oliver): FGA - OR + TO + 0.475 * FTA.
_FTA_POSSESSION_SHARE = 0.475


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
            st = _SeasonState(n_teams, cfg, prior)
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
                    day,
                )  # fmt: skip
                engine.walk(
                    season_arr[chunk], day_arr[chunk], team_a[chunk], team_b[chunk],
                    score_a[chunk], score_b[chunk], loc[chunk], is_t[chunk],
                    conferences={season: conferences.get(season, {})},
                )  # fmt: skip
            if server.has_tournament(season):
                snap = st.snapshot(
                    engine, team_ids, ord_table, season, start_day, n_teams, system_tables,
                    force_solve=cfg.fresh_tournament_rating,
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
            out: FloatArray = (
                box[f"{side}_fga"].to_numpy(dtype=np.float64, na_value=np.nan)
                - box[f"{side}_or"].to_numpy(dtype=np.float64, na_value=np.nan)
                + box[f"{side}_to"].to_numpy(dtype=np.float64, na_value=np.nan)
                + _FTA_POSSESSION_SHARE
                * box[f"{side}_fta"].to_numpy(dtype=np.float64, na_value=np.nan)
            )
            return out

        pw, pl = poss("w"), poss("l")
        has = box["has_box_score"].to_numpy(dtype=bool) & np.isfinite(pw) & np.isfinite(pl)
        return np.where(a_won, pw, pl), np.where(a_won, pl, pw), has


class _SeasonState:
    """Season-to-date accumulators of one season (reset every season)."""

    def __init__(self, n_teams: int, cfg: FeatureConfig, prior: FloatArray) -> None:
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
    ) -> TeamSnapshot:
        """Feature values of every team before ``day`` (nothing of ``day`` itself is learned).

        The margin rating is re-solved every ``rating_every_days`` days, or now if
        ``force_solve`` (the tournament snapshot, so it includes the conference tournaments).
        """
        cfg = self.cfg
        if cfg.margin_rating and (force_solve or day >= self.next_solve_day):
            self.rating = self._solve(day)
            self.next_solve_day = day + cfg.rating_every_days
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
]
