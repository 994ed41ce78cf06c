"""Massey ordinals as features: each team's mean log rank as of any day of a season."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from ncaa_eval.transform.feature_config import FloatArray


class OrdinalTable:
    """Per season: composite (mean log rank) per team as of each ranking day, forward-filled."""

    def __init__(
        self,
        ordinals: pd.DataFrame,
        systems: tuple[str, ...],
        team_ids: FloatArray,
        fallback: bool = True,
    ):
        self.by_season: dict[int, tuple[npt.NDArray[np.int64], FloatArray]] = {}
        if ordinals.empty:
            return
        n_teams = len(team_ids)
        for season, all_systems in ordinals.groupby("season", sort=True):
            grp = all_systems[all_systems["system"].isin(systems)]
            if grp.empty:
                if not fallback:
                    continue
                # None of the chosen systems ranked this season: use every system that did.
                grp = all_systems
            grp = grp.assign(log_rank=np.log(grp["rank"].to_numpy(dtype=np.float64)))
            wide = grp.pivot_table(
                index="ranking_day", columns=["system", "team_id"], values="log_rank"
            ).ffill()
            per_team = wide.T.groupby(level="team_id").mean().T  # days x teams
            days = per_team.index.to_numpy(dtype=np.int64)
            mat = np.full((len(days), n_teams), np.nan)
            cols = np.searchsorted(team_ids, per_team.columns.to_numpy())
            mat[:, cols] = per_team.to_numpy()
            self.by_season[int(str(season))] = (days, mat)

    def as_of(self, season: int, day: int, n_teams: int) -> FloatArray:
        """Composite of each team from the last ranking day strictly before ``day``."""
        if season not in self.by_season:
            return np.full(n_teams, np.nan)
        days, mat = self.by_season[season]
        row = int(np.searchsorted(days, day, side="left")) - 1
        return mat[row] if row >= 0 else np.full(n_teams, np.nan)


__all__ = ["OrdinalTable"]
