"""The NCAA tournament: selection, seeding, the bracket's slots and the games."""

from __future__ import annotations

import numpy as np

from ncaa_eval.ingest.demo.games import FloatArray, IntArray, _concat_games, _Games, _play

# --- NCAA tournament ----------------------------------------------------------------------------
TOURNEY_FIELD = 68
REGIONS = ("W", "X", "Y", "Z")
#: Region display names written to MSeasons.csv (shuffled per season, as Kaggle's vary).
REGION_NAMES = ("East", "West", "Midwest", "South")
#: The selection committee sees strength only through a noisy resume.
COMMITTEE_SD = 2.0
#: Seed lines with First Four games: two 11-seed (last at-large) and two 16-seed (weakest
#: automatic qualifiers) play-ins, as since 2011.
PLAY_IN_LINES = (11, 16)
FIRST_FOUR_DAYS = (134, 135)
#: Rounds 1-4 are split over two days by region; the later day is ``day + 1``.
ROUND_DAYS = {1: 136, 2: 138, 3: 143, 4: 145, 5: 152, 6: 154}


def _slot_structure(
    play_in_regions: dict[int, tuple[str, ...]],
) -> list[tuple[int, str, str, str, str]]:
    """The bracket as Kaggle's slots: (round, region, slot, strong seed, weak seed).

    Round 0 is the First Four; a play-in slot is named like the seed it fills (e.g. ``W16``),
    so round-1 slots reference ``W16`` whether it is a team's seed or a play-in slot.
    """
    slots: list[tuple[int, str, str, str, str]] = []
    for line in PLAY_IN_LINES:
        for region in play_in_regions[line]:
            name = f"{region}{line:02d}"
            slots.append((0, region, name, f"{name}a", f"{name}b"))
    for region in REGIONS:
        for k in range(1, 9):
            slots.append((1, region, f"R1{region}{k}", f"{region}{k:02d}", f"{region}{17 - k:02d}"))
        for rnd, n_slots in ((2, 4), (3, 2), (4, 1)):
            for k in range(1, n_slots + 1):
                pair = 2 * n_slots + 1 - k
                strong, weak = f"R{rnd - 1}{region}{k}", f"R{rnd - 1}{region}{pair}"
                slots.append((rnd, region, f"R{rnd}{region}{k}", strong, weak))
    slots.append((5, "WX", "R5WX", "R4W1", "R4X1"))
    slots.append((5, "YZ", "R5YZ", "R4Y1", "R4Z1"))
    slots.append((6, "CH", "R6CH", "R5WX", "R5YZ"))
    return slots


def _ncaa_tournament(
    rng: np.random.Generator,
    champions: IntArray,
    strength: FloatArray,
    pace: FloatArray,
) -> tuple[list[tuple[str, int]], list[tuple[str, str, str]], _Games]:
    """Select, seed and play the 68-team tournament.

    Returns:
        seeds as (seed code, team index), slots as (slot, strong seed, weak seed), and games.
    """
    n = strength.size
    rating = strength + rng.normal(0.0, COMMITTEE_SD, n)
    is_champ = np.zeros(n, dtype=np.bool_)
    is_champ[champions] = True
    pool = np.flatnonzero(~is_champ)
    at_large = pool[np.argsort(-rating[pool], kind="stable")][: TOURNEY_FIELD - champions.size]
    autos = champions[np.argsort(-rating[champions], kind="stable")]
    # The First Four: the last four at-large teams on the 11 line, the four weakest automatic
    # qualifiers on the 16 line (both lists are in descending rating order).
    play_in_teams = dict(zip(PLAY_IN_LINES, (at_large[-4:], autos[-4:]), strict=True))
    rest = np.concatenate([at_large[:-4], autos[:-4]])
    rest = rest[np.argsort(-rating[rest], kind="stable")]

    play_in_regions: dict[int, tuple[str, ...]] = {}
    seeds: list[tuple[str, int]] = []
    pos = 0
    for line in range(1, 17):
        regions = [REGIONS[i] for i in rng.permutation(len(REGIONS))]
        if line in PLAY_IN_LINES:
            play_in_regions[line] = tuple(sorted(regions[:2]))
            regular = regions[2:]
            # Neighbours in the rating order meet (1st v 2nd, 3rd v 4th) for even contests.
            pairs = play_in_teams[line].reshape(2, 2).tolist()
            for region, (first, second) in zip(play_in_regions[line], pairs, strict=True):
                seeds.append((f"{region}{line:02d}a", first))
                seeds.append((f"{region}{line:02d}b", second))
        else:
            regular = regions
        for region in regular:
            seeds.append((f"{region}{line:02d}", int(rest[pos])))
            pos += 1
    seeds.sort()

    structure = _slot_structure(play_in_regions)
    early_regions = {REGIONS[i] for i in rng.permutation(len(REGIONS))[:2]}
    entrant = {code: team for code, team in seeds}
    parts: list[_Games] = []
    for rnd in range(7):
        slots = [s for s in structure if s[0] == rnd]
        if rnd == 0:
            # One 11-line and one 16-line play-in on each First Four day.
            days = [FIRST_FOUR_DAYS[i % 2] for i in range(len(slots))]
        elif rnd <= 4:
            days = [ROUND_DAYS[rnd] + (s[1] not in early_regions) for s in slots]
        else:
            days = [ROUND_DAYS[rnd]] * len(slots)
        games = _play(
            rng,
            strength,
            pace,
            np.array(days, dtype=np.int64),
            np.array([entrant[s[3]] for s in slots], dtype=np.int64),
            np.array([entrant[s[4]] for s in slots], dtype=np.int64),
            np.ones(len(slots), dtype=np.bool_),
        )
        winners = np.where(games.score_a > games.score_b, games.team_a, games.team_b)
        for s, w in zip(slots, winners.tolist(), strict=True):
            entrant[s[2]] = int(w)
        parts.append(games)
    slot_rows = sorted((s[2], s[3], s[4]) for s in structure)
    return seeds, slot_rows, _concat_games(parts)
