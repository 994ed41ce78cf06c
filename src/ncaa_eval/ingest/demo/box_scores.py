"""Box scores consistent with the final scores (Kaggle's detailed results)."""

from __future__ import annotations

import numpy as np

from ncaa_eval.ingest.demo.games import MEAN_TEAM_SCORE, FloatArray, IntArray, Stats

# --- Box scores (per team per game, calibrated on Kaggle's 2003-2024 box scores) ---------------
#: Made free throws and threes scale with a team's points (winners make more of both).
FTM_MEAN = 13.0
FT_MISS_RATE = 0.4  # misses per made free throw (~71% shooting)
#: The three-point era: makes and attempts in first_season, growing by a step each season.
FGM3_MEAN_FIRST = 6.5
FGM3_GROWTH = 0.06
FGA3_MEAN_FIRST = 18.5
FGA3_GROWTH = 0.18
#: Field-goal attempts follow the game's pace, not the team's points, so a loser shoots about
#: as often as the winner but misses more (as in the real data).
FGA_MEAN = 57.5
#: Floor on expected misses of a kind, for hot-shooting games that outrun the attempt budget.
MIN_EXPECTED_MISSES = 2.0
OR_RATE = 0.27  # share of a team's own misses it rebounds
DR_RATE = 0.98  # share of the opponent's remaining misses credited as defensive rebounds
AST_RATE = 0.52  # assists per made field goal
TO_MEAN = 12.3
TO_SCORE_ELASTICITY = 0.5  # high-scoring sides turn the ball over less
STL_RATE = 0.52  # share of the opponent's turnovers that are steals
BLK_RATE = 0.18  # share of the opponent's missed twos that were blocked
PF_BASE_MEAN = 6.6
PF_PER_FTA = 0.5  # fouls committed per free throw the opponent attempted

BOX_STATS = (
    "FGM", "FGA", "FGM3", "FGA3", "FTM", "FTA", "OR", "DR", "Ast", "TO", "Stl", "Blk", "PF",
)  # fmt: skip


def _shooting(rng: np.random.Generator, points: IntArray, pace: FloatArray, era: int) -> Stats:
    """Field goals and free throws adding up exactly to ``points``.

    Free throws and threes are drawn first, then twos fill the rest; a parity fix-up keeps the
    two-point remainder even without breaking ``FGM3 <= FGM``. Misses fill up the attempts the
    game's pace allows.

    Args:
        rng: the league's random stream.
        points: the team's final scores.
        pace: each game's combined score relative to an average game (a possessions proxy).
        era: seasons since first_season, for the growth of the three-point shot.
    """
    scale = points / MEAN_TEAM_SCORE
    ftm = np.minimum(rng.poisson(FTM_MEAN * scale), points)
    rest = points - ftm
    fgm3 = np.minimum(rng.poisson((FGM3_MEAN_FIRST + FGM3_GROWTH * era) * scale), rest // 3)
    odd = (rest - fgm3) % 2 == 1
    drop_three = odd & (fgm3 > 0)
    add_three = odd & (fgm3 == 0) & (rest >= 3)
    extra_ft = odd & (fgm3 == 0) & (rest < 3)  # only rest == 1: one more free throw
    fgm3 = fgm3 - drop_three + add_three
    ftm = ftm + extra_ft
    rest = rest - extra_ft
    fgm = (rest - fgm3) // 2
    fga3_budget = (FGA3_MEAN_FIRST + FGA3_GROWTH * era) * pace
    fga2_budget = FGA_MEAN * pace - fga3_budget
    fga3 = fgm3 + rng.poisson(np.maximum(fga3_budget - fgm3, MIN_EXPECTED_MISSES))
    fgm2 = fgm - fgm3
    fga2 = fgm2 + rng.poisson(np.maximum(fga2_budget - fgm2, MIN_EXPECTED_MISSES))
    fta = ftm + rng.poisson(FT_MISS_RATE * ftm)
    return {"FGM": fgm, "FGA": fga2 + fga3, "FGM3": fgm3, "FGA3": fga3, "FTM": ftm, "FTA": fta}


def _box_scores(
    rng: np.random.Generator, w_score: IntArray, l_score: IntArray, era: int
) -> dict[str, IntArray]:
    """Kaggle box-score columns (``WFGM`` ... ``LPF``) consistent with the final scores.

    Cross-team statistics are drawn from the opponent's numbers (defensive rebounds from its
    misses, steals from its turnovers, blocks from its missed twos, fouls from its free
    throws), so the two lines of a game agree with each other.
    """
    n = w_score.size
    sides = ("W", "L")
    pace = (w_score + l_score) / (2.0 * MEAN_TEAM_SCORE)
    stats = {
        "W": _shooting(rng, w_score, pace, era),
        "L": _shooting(rng, l_score, pace, era),
    }
    for side, points in zip(sides, (w_score, l_score), strict=True):
        own = stats[side]
        own["OR"] = rng.binomial(own["FGA"] - own["FGM"], OR_RATE)
        ball_security = 1.0 - TO_SCORE_ELASTICITY * (points / MEAN_TEAM_SCORE - 1.0)
        own["TO"] = rng.poisson(TO_MEAN * np.maximum(ball_security, 0.1))
    for side, opp in zip(sides, sides[::-1], strict=True):
        own, other = stats[side], stats[opp]
        other_misses = other["FGA"] - other["FGM"]
        other_two_misses = other_misses - (other["FGA3"] - other["FGM3"])
        own["DR"] = rng.binomial(other_misses - other["OR"], DR_RATE)
        own["Ast"] = rng.binomial(own["FGM"], AST_RATE)
        own["Stl"] = rng.binomial(other["TO"], STL_RATE)
        own["Blk"] = rng.binomial(other_two_misses, BLK_RATE)
        fouls_for_free_throws = np.rint(PF_PER_FTA * other["FTA"]).astype(np.int64)
        own["PF"] = rng.poisson(PF_BASE_MEAN, n) + fouls_for_free_throws
    return {f"{side}{stat}": stats[side][stat] for side in sides for stat in BOX_STATS}
