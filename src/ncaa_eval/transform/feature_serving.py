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

from ncaa_eval.ingest.repository import ParquetRepository
from ncaa_eval.ingest.schema import League
from ncaa_eval.ratings.efficiency import (
    OVERTIME_MINUTES,
    REGULATION_MINUTES,
    possessions,
)
from ncaa_eval.ratings.elo import EloEngine, location_sign
from ncaa_eval.transform.coverage import (
    box_score_problem,
    coverage_notes,
    require_box_scores,
)
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
from ncaa_eval.transform.season_state import SeasonState
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
            st = SeasonState(n_teams, cfg, prior, eff_prior)
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
        notes = coverage_notes(frame, columns)
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


__all__ = [
    "FEATURE_DIRECTIONS",
    "FeatureConfig",
    "FeatureSet",
    "StatefulFeatureServer",
    "TeamSnapshot",
    "box_score_problem",
    "feature_direction",
    "ordinal_column",
    "pair_rows",
    "require_box_scores",
]
