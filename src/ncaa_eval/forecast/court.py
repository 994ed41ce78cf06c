"""The court of a tournament pair before it is played: the rule ``predict`` and ``bracket`` use.

The walk-forward scores each tournament game on its recorded court (``team_a_loc`` from Kaggle's
``WLoc``: :func:`ncaa_eval.transform.matchups.orient_games`, the feature server's ``court``).
A forecast is made before the games, so it uses the rule that reproduces those recorded courts
from the seeds alone:

* **men**: every tournament game is neutral;
* **women**, in the seasons the top 16 seeds hosted the first two rounds (1998-2002 and from
  2016, except 2021's single-site tournament; :func:`hosts_first_rounds`): the seed 1-4 of a
  first/second-round pod (the four seed lines ``1/16/8/9``, ``4/13/5/12``, ``3/14/6/11``,
  ``2/15/7/10`` of a region) is at home against any team of its pod, and away seen from that
  team; every other pair (the pod's 8-9 game, later rounds) is neutral;
* **women**, other seasons (2003-2015: sites fixed in advance, not derivable from the seeds):
  neutral. On the real data neutral matches 60.9% of 2003-2014's recorded women's courts, the
  hosting rule only 57.9%.

Two teams of one pod can only meet in the first two rounds, so a pair's court is a property of
the pair and a bracket's probability matrix carries it. A host that is not the pod's top seed (an
arena conflict) is not predictable from the seeds and is called neutral.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from ncaa_eval.ingest.schema import League

#: Seed number -> its first/second-round pod within a region (the pod hosted by seed 1, 4, 3, 2).
POD_OF_SEED: dict[int, int] = {
    1: 1, 16: 1, 8: 1, 9: 1,
    4: 4, 13: 4, 5: 4, 12: 4,
    3: 3, 14: 3, 6: 3, 11: 3,
    2: 2, 15: 2, 7: 2, 10: 2,
}  # fmt: skip
#: The women's seasons whose first two rounds were on the top 16 seeds' courts (from the data).
_HOSTED_UNTIL, _HOSTED_FROM, _SINGLE_SITE = 2002, 2016, frozenset({2021})


def hosts_first_rounds(league: League, season: int) -> bool:
    """Whether ``season``'s first two rounds are played on the pods' top seeds' courts."""
    if league != "W" or season in _SINGLE_SITE:
        return False
    return season <= _HOSTED_UNTIL or season >= _HOSTED_FROM


def tournament_court(
    league: League,
    season: int,
    seeds: pd.DataFrame,
    team_a: npt.ArrayLike,
    team_b: npt.ArrayLike,
) -> npt.NDArray[np.object_]:
    """``H``/``A``/``N`` from team A's side for tournament pairs of ``season``, by the rule above.

    Args:
        league: ``M`` or ``W``.
        season: the tournament's season.
        seeds: the store's seeds (``season``, ``seed`` code such as ``W01``, ``team_id``); other
            seasons' rows are ignored, and an unseeded team plays on a neutral court.
        team_a: team A's ids.
        team_b: team B's ids.
    """
    a = np.asarray(team_a, dtype=np.int64)
    b = np.asarray(team_b, dtype=np.int64)
    out = np.full(len(a), "N", dtype=object)
    if not hosts_first_rounds(league, season) or len(a) == 0:
        return out
    rows = seeds[seeds["season"] == season]
    codes = rows["seed"].astype(str)
    # (region, pod, is the pod's host) per seeded team.
    number = codes.str[1:3].astype(int)
    region = codes.str[0].to_numpy()
    pod = number.map(POD_OF_SEED).to_numpy()
    host = (number <= 4).to_numpy()
    ids = rows["team_id"].astype(int).to_numpy()
    place = {
        int(t): (str(r), int(p), bool(h)) for t, r, p, h in zip(ids, region, pod, host, strict=True)
    }
    for i, (x, y) in enumerate(zip(a.tolist(), b.tolist(), strict=True)):
        px, py = place.get(x), place.get(y)
        if px is None or py is None or px[:2] != py[:2] or px[2] == py[2]:
            continue
        out[i] = "H" if px[2] else "A"
    return out


def court_sign(loc: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """``H``/``A``/``N`` as the feature server's ``court``: +1, -1, 0."""
    text = np.asarray(loc).astype(str)
    sign: npt.NDArray[np.float64] = (text == "H").astype(np.float64) - (text == "A").astype(
        np.float64
    )
    return sign
