"""Kaggle's compact and detailed results tables, accumulated season by season."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from ncaa_eval.ingest.demo.box_scores import BOX_STATS, _box_scores
from ncaa_eval.ingest.demo.config import FIRST_TEAM_ID
from ncaa_eval.ingest.demo.games import _Games

# Column layouts, copied from Kaggle's headers.
COMPACT_COLUMNS = ("Season", "DayNum", "WTeamID", "WScore", "LTeamID", "LScore", "WLoc", "NumOT")
DETAILED_COLUMNS = (
    *COMPACT_COLUMNS,
    *(f"W{s}" for s in BOX_STATS),
    *(f"L{s}" for s in BOX_STATS),
)


@dataclass
class _ResultColumns:
    """Winner/loser oriented result columns accumulated over seasons."""

    columns: dict[str, list[npt.NDArray[np.generic]]] = field(default_factory=dict)

    def add(self, rng: np.random.Generator, season: int, games: _Games, era: int) -> None:
        a_won = games.score_a > games.score_b
        winner = np.where(a_won, games.team_a, games.team_b)
        loser = np.where(a_won, games.team_b, games.team_a)
        # Team A hosts unless neutral, so a winning A is the home winner.
        wloc = np.where(games.neutral, "N", np.where(a_won, "H", "A"))
        order = np.lexsort((loser, winner, games.day))
        w_score = np.where(a_won, games.score_a, games.score_b)[order]
        l_score = np.where(a_won, games.score_b, games.score_a)[order]
        values: dict[str, npt.NDArray[np.generic]] = {
            "Season": np.full(order.size, season, dtype=np.int64),
            "DayNum": games.day[order],
            "WTeamID": FIRST_TEAM_ID + winner[order],
            "WScore": w_score,
            "LTeamID": FIRST_TEAM_ID + loser[order],
            "LScore": l_score,
            "WLoc": wloc[order],
            "NumOT": games.num_ot[order],
            **_box_scores(rng, w_score, l_score, era),
        }
        for name, array in values.items():
            self.columns.setdefault(name, []).append(array)

    def frames(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(compact, detailed) frames in Kaggle column order."""
        data = {name: np.concatenate(parts) for name, parts in self.columns.items()}
        detailed = pd.DataFrame({c: data[c] for c in DETAILED_COLUMNS})
        return detailed.loc[:, list(COMPACT_COLUMNS)].copy(), detailed
