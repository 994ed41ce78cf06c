"""Bracket simulation: each team's chance of reaching each round, from pairwise probabilities.

The bracket is Kaggle's slots table: each slot is played between the winners of two earlier
slots (or two seeds). Play-in (First Four) slots carry no round prefix; ``R1``..``R6`` are the
rounds of 64 to the final. :func:`exact_bracket` propagates full winner distributions through
the slots (68 teams: a few milliseconds, so it is the default); :func:`monte_carlo_bracket`
samples ``sims`` brackets with a seeded generator for users who want sampled outcomes.
"""

from __future__ import annotations

import re

import numpy as np
import numpy.typing as npt
import pandas as pd

from ncaa_eval.errors import NcaaEvalError

ROUND_NAMES = (
    "Round of 64", "Round of 32", "Sweet 16", "Elite 8", "Final Four", "Final", "Champion",
)  # fmt: skip
SHORT_ROUND_NAMES = ("R64", "R32", "S16", "E8", "F4", "Final", "Champ")
_ROUND_RE = re.compile(r"^R([1-6])")


def _slot_round(slot: str) -> int:
    """0 for a play-in slot, 1..6 for R1..R6."""
    m = _ROUND_RE.match(slot)
    return int(m.group(1)) if m else 0


def _ordered_slots(slots: pd.DataFrame) -> list[tuple[str, str, str, int]]:
    rows = [
        (str(r.slot), str(r.strong_seed), str(r.weak_seed), _slot_round(str(r.slot)))
        for r in slots.itertuples(index=False)
    ]
    return sorted(rows, key=lambda r: (r[3], r[0]))


def _check(slots: pd.DataFrame, seeds: dict[str, int], season: int) -> None:
    if slots.empty:
        raise NcaaEvalError(
            f"Season {season} has no bracket slots in the store; import NCAATourneySlots.csv."
        )
    known = set(seeds) | set(slots["slot"].astype(str))
    for col in ("strong_seed", "weak_seed"):
        missing = sorted(set(slots[col].astype(str)) - known)
        if missing:
            raise NcaaEvalError(
                f"Season {season}'s slots refer to '{missing[0]}', which is neither a seed nor a "
                "slot of that season; the seeds and slots files disagree."
            )


def exact_bracket(
    slots: pd.DataFrame,
    seeds: dict[str, int],
    team_ids: npt.NDArray[np.int64],
    prob: npt.NDArray[np.float64],
    season: int,
) -> pd.DataFrame:
    """Exact probability of each seeded team reaching each round.

    Args:
        slots: the season's slots (slot, strong_seed, weak_seed).
        seeds: seed code (e.g. ``W16a``) -> team id.
        team_ids: sorted ids indexing ``prob``.
        prob: ``prob[i, j] = P(team_ids[i] beats team_ids[j])``.
        season: for messages.
    """
    _check(slots, seeds, season)
    index = {int(t): i for i, t in enumerate(team_ids.tolist())}
    n = len(team_ids)
    dist: dict[str, npt.NDArray[np.float64]] = {}
    for code, team in seeds.items():
        d = np.zeros(n)
        d[index[int(team)]] = 1.0
        dist[code] = d
    reach = np.zeros((n, len(ROUND_NAMES)))
    # Every seeded team not in a play-in reaches the round of 64.
    play_in_seeds = {s for s in seeds if s[-1] in "ab"}
    for code, team in seeds.items():
        if code not in play_in_seeds:
            reach[index[int(team)], 0] = 1.0
    for slot, strong, weak, rnd in _ordered_slots(slots):
        ps, pw = dist[strong], dist[weak]
        # P(i wins) = P(i arrives) * sum_j P(j arrives on the other side) * P(i beats j).
        win = ps * (prob @ pw) + pw * (prob @ ps)
        dist[slot] = win
        reach[:, rnd] += win
    out = pd.DataFrame(reach, columns=list(ROUND_NAMES))
    out.insert(0, "team_id", team_ids)
    seeded = {int(t) for t in seeds.values()}
    return out[out["team_id"].isin(seeded)].reset_index(drop=True)


def monte_carlo_bracket(
    slots: pd.DataFrame,
    seeds: dict[str, int],
    team_ids: npt.NDArray[np.int64],
    prob: npt.NDArray[np.float64],
    season: int,
    sims: int,
    seed: int | None,
) -> pd.DataFrame:
    """The same table estimated from ``sims`` sampled brackets (reproducible with ``seed``)."""
    _check(slots, seeds, season)
    if sims < 1:
        raise NcaaEvalError(f"--sims must be at least 1, got {sims}.")
    rng = np.random.default_rng(seed)
    index = {int(t): i for i, t in enumerate(team_ids.tolist())}
    n = len(team_ids)
    winners: dict[str, npt.NDArray[np.int64]] = {
        code: np.full(sims, index[int(team)], dtype=np.int64) for code, team in seeds.items()
    }
    counts = np.zeros((n, len(ROUND_NAMES)))
    play_in_seeds = {s for s in seeds if s[-1] in "ab"}
    for code, team in seeds.items():
        if code not in play_in_seeds:
            counts[index[int(team)], 0] = sims
    for slot, strong, weak, rnd in _ordered_slots(slots):
        s, w = winners[strong], winners[weak]
        strong_wins = rng.random(sims) < prob[s, w]
        won = np.where(strong_wins, s, w)
        winners[slot] = won
        counts[:, rnd] += np.bincount(won, minlength=n)
    out = pd.DataFrame(counts / sims, columns=list(ROUND_NAMES))
    out.insert(0, "team_id", team_ids)
    seeded = {int(t) for t in seeds.values()}
    return out[out["team_id"].isin(seeded)].reset_index(drop=True)
