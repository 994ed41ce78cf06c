"""Orientation: every game becomes a row with team A = the lower TeamID (Kaggle's convention).

Labels are then balanced (team A wins about half the time), and a model that is given the same
pair always sees it the same way round, so ``p(A, B) = 1 - p(B, A)`` holds by construction.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt
import pandas as pd

_FLIP = {"H": "A", "A": "H", "N": "N"}


def conference_map(conferences: pd.DataFrame) -> dict[int, dict[int, str]]:
    """season -> (team id -> conference abbreviation)."""
    out: dict[int, dict[int, str]] = {}
    for season, team, conf in conferences[["season", "team_id", "conf_abbrev"]].itertuples(
        index=False
    ):
        out.setdefault(int(season), {})[int(team)] = str(conf)
    return out


def orient_games(
    games: pd.DataFrame, conferences: Mapping[int, Mapping[int, str]] | None = None
) -> pd.DataFrame:
    """Turn stored (winner/loser) games into team-A/team-B rows with ``team_a_won``.

    The result has :data:`ncaa_eval.model.base.GAME_COLUMNS` plus ``team_a_won`` and keeps the
    input's order.
    """
    w = games["w_team_id"].to_numpy(dtype=np.int64)
    lo = games["l_team_id"].to_numpy(dtype=np.int64)
    a_won = w < lo
    team_a = np.where(a_won, w, lo)
    team_b = np.where(a_won, lo, w)
    ws = games["w_score"].to_numpy(dtype=np.float64)
    ls = games["l_score"].to_numpy(dtype=np.float64)
    w_loc = games["w_loc"].astype(str).to_numpy()
    a_loc = np.where(a_won, w_loc, pd.Series(w_loc).map(_FLIP).to_numpy())
    seasons = games["season"].to_numpy(dtype=np.int64)
    out = pd.DataFrame(
        {
            "game_id": games["game_id"].to_numpy(),
            "season": seasons,
            "day_num": games["day_num"].to_numpy(dtype=np.int64),
            "team_a_id": team_a,
            "team_b_id": team_b,
            "team_a_score": np.where(a_won, ws, ls),
            "team_b_score": np.where(a_won, ls, ws),
            "team_a_loc": a_loc.astype(object),
            "num_ot": games["num_ot"].to_numpy(dtype=np.int64),
            "is_tournament": games["is_tournament"].to_numpy(dtype=bool),
        },
        index=games.index,
    )
    out["team_a_conf"] = _conference_of(seasons, team_a, conferences or {})
    out["team_b_conf"] = _conference_of(seasons, team_b, conferences or {})
    out["team_a_won"] = a_won.astype(np.int64)
    return out


def _conference_of(
    seasons: npt.NDArray[np.int64],
    teams: npt.NDArray[np.int64],
    conferences: Mapping[int, Mapping[int, str]],
) -> npt.NDArray[np.object_]:
    """Each team's conference in its season (None when unknown), looked up a season at a time."""
    out = np.full(len(teams), None, dtype=object)
    for season in np.unique(seasons):
        conf = conferences.get(int(season))
        if not conf:
            continue
        rows = np.flatnonzero(seasons == season)
        lookup = pd.Series(conf, dtype=object)
        found = lookup.reindex(teams[rows])
        out[rows] = found.where(found.notna(), None).to_numpy(dtype=object)
    return out


def pair_rows(
    season: int,
    team_ids: list[int],
    day_num: int,
    conferences: Mapping[int, Mapping[int, str]] | None = None,
) -> pd.DataFrame:
    """Every unordered pair of ``team_ids`` as unplayed neutral-court rows (scores NaN)."""
    ids = sorted(set(team_ids))
    a, b = np.triu_indices(len(ids), k=1)
    arr = np.asarray(ids, dtype=np.int64)
    conf = (conferences or {}).get(season, {})
    team_a = arr[a]
    team_b = arr[b]
    return pd.DataFrame(
        {
            "game_id": [
                f"{season}_{day_num:03d}_{x}_{y}" for x, y in zip(team_a, team_b, strict=True)
            ],
            "season": season,
            "day_num": day_num,
            "team_a_id": team_a,
            "team_b_id": team_b,
            "team_a_score": np.nan,
            "team_b_score": np.nan,
            "team_a_loc": "N",
            "num_ot": 0,
            "is_tournament": True,
            "team_a_conf": [conf.get(int(t)) for t in team_a],
            "team_b_conf": [conf.get(int(t)) for t in team_b],
        }
    )
