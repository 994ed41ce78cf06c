"""Deterministic synthetic NCAA men's league in Kaggle's March Machine Learning Mania layout.

The demo league lets every part of ncaa-eval (import, features, models, evaluation) run without
a Kaggle account. It is built to be *learnable* the way the real data is:

* every team has a latent strength, in points per game above an average team, that drifts from
  season to season around its conference's level (an AR(1) process), so past seasons predict
  future ones only partly;
* game margins are strength difference + home-court edge + noise, so results are informative
  about strength but noisy, and home teams win more often;
* the NCAA tournament field, seeds and bracket follow the real 68-team format, so seed-based
  baselines work, and the Massey-style ordinals are noisy views of strength, so they help
  without giving the answer away.

Nothing here is derived from real data: team and conference names are invented.

Everything is drawn from one ``numpy.random.default_rng(seed)`` stream consumed in a fixed
order, so the same :class:`DemoConfig` always produces byte-identical files.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

__all__ = [
    "DEMO_MARKER",
    "DEMO_MARKER_FILE",
    "DemoConfig",
    "DemoLeague",
    "build_demo_league",
    "write_demo_csvs",
]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
Stats = dict[str, IntArray]

#: Written into :data:`DEMO_MARKER_FILE` so the importer can flag the store as synthetic.
DEMO_MARKER = "ncaa-eval-demo"
#: Marker file name; the importer looks for exactly this name next to the CSVs.
DEMO_MARKER_FILE = "DemoLeague.txt"

# --- League structure -------------------------------------------------------------------------
#: Kaggle numbers men's teams from 1101 upwards (women's from 3101), so IDs must stay below 2000.
FIRST_TEAM_ID = 1101
MAX_TEAMS = 899
#: Smallest conference: room for a 4-team conference tournament plus a few also-rans.
MIN_CONF_SIZE = 6
#: How far conference sizes may stray from the even split (real sizes run about 8 to 18).
CONF_SIZE_SPREAD = 3
#: Teams changing conference each off-season: real realignment is a handful of moves a year.
REALIGNMENTS_PER_SEASON = 3

# --- Strength model (points per game above an average D-I team) -------------------------------
#: Spread of conference levels: real power conferences sit ~15 points above the weakest ones.
CONF_STRENGTH_SD = 6.0
#: Conference levels change slowly (recruiting, money), so they are highly persistent.
CONF_STRENGTH_AR = 0.9
#: Spread of teams around their conference level.
WITHIN_CONF_SD = 6.5
#: Year-to-year persistence of a team's deviation from its conference (roster turnover).
TEAM_STRENGTH_AR = 0.8

# --- Game model ---------------------------------------------------------------------------------
#: Home-court advantage in points, close to the long-run D-I estimate.
HOME_EDGE = 3.5
#: Standard deviation of a game's margin around its expectation (real residual sd ~ 11).
GAME_MARGIN_SD = 11.0
#: Average points per team per game in modern D-I basketball.
MEAN_TEAM_SCORE = 70.0
#: Game-to-game noise of the combined score (pace, shooting luck).
GAME_TOTAL_SD = 12.0
#: Spread of team pace effects on the combined score (slow vs up-tempo teams).
TEAM_PACE_SD = 4.0
#: Floor on a team's score: clamps the rare extreme draw (real D-I lows are in the 20s-30s).
MIN_SCORE = 30
#: Games within this many points late are often forced level (fouling, last-shot threes), which
#: lifts the overtime rate to the real ~5% from the ~2.5% a plain normal margin gives.
LATE_TIE_MARGIN = 1
LATE_TIE_PROB = 0.5
#: Overtime is 5 of 40 minutes: the strength edge per OT period is scaled by this share.
OT_SHARE = 5.0 / 40.0
#: Points per team per overtime period.
OT_POINTS_MEAN = 9.0
#: Overtimes are simulated up to this count; a game still level is settled by a free throw.
MAX_OT = 6

# --- Schedule (DayNum is days since the season's DayZero) -----------------------------------
#: Non-conference play: rounds in which each team plays at most once, in 4-day windows from
#: day 7, i.e. mid-November to late December.
NONCONF_ROUNDS = 12
NONCONF_FIRST_DAY = 7
NONCONF_WINDOW = 4
#: Share of non-conference pairings left unplayed, so game counts vary between teams.
NONCONF_SKIP_PROB = 0.1
#: Early-season multi-team events (Thanksgiving tournaments) are on neutral courts.
EARLY_ROUNDS = 6
EARLY_NEUTRAL_PROB = 0.25
LATE_NEUTRAL_PROB = 0.05
#: Stronger programmes buy home games from weaker ones, so they usually host.
STRONGER_HOSTS_PROB = 0.7
#: Conference play: up to 20 double-round-robin rounds in 3-day windows from day 60 (January
#: to early March); conferences with fewer rounds spread them over the same span.
CONF_FIRST_DAY = 60
CONF_WINDOW = 3
CONF_ROUND_WINDOWS = 20
#: Conference tournaments (neutral, single elimination) end between these days; day 132 is
#: Selection Sunday in Kaggle's calendar.
CONF_TOURNEY_FIRST_FINAL = 124
CONF_TOURNEY_LAST_FINAL = 132
#: Bracket order of seeds for 8- and 4-team conference tournaments (1 v 8, 4 v 5, ...).
CONF_BRACKET_8 = (1, 8, 4, 5, 2, 7, 3, 6)
CONF_BRACKET_4 = (1, 4, 2, 3)

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

# --- Massey-style ordinals ----------------------------------------------------------------------
#: Weekly ranking days, like the real file (first ranking ~day 9, final ranking day 133).
MASSEY_DAYS = (*range(9, 129, 7), 133)
#: (system name, noise sd at the first ranking, noise sd at the last ranking): rankings sharpen
#: as the season produces evidence; SYN is the noisier system.
MASSEY_SYSTEMS = (("DEM", 6.0, 2.5), ("SYN", 7.5, 4.0))
#: Early-season rankings lean on last season (preseason polls); this is the weight on the
#: current strength at the first ranking day, rising linearly to 1 at the last.
MASSEY_PRESEASON_WEIGHT = 0.5
#: Share of a system's noise that persists all season (its own bias about a team).
MASSEY_PERSISTENT_SHARE = 0.6

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

#: Invented conference names; lowercase abbreviations in Kaggle's style but none of Kaggle's.
CONFERENCE_NAMES = (
    ("a_crest", "Atlantic Crest Conference"),
    ("big_river", "Big River Conference"),
    ("blue_ridge", "Blue Ridge Athletic Conference"),
    ("canyon", "Canyon Conference"),
    ("cap_dist", "Capital District League"),
    ("coast_pl", "Coastal Plains Conference"),
    ("delta_val", "Delta Valley Conference"),
    ("frontier", "Frontier Conference"),
    ("great_lk", "Great Lakes Alliance"),
    ("gulf_st", "Gulf States Conference"),
    ("harbor", "Harbor League"),
    ("heartland", "Heartland Conference"),
    ("high_pl", "High Plains Conference"),
    ("iron_rng", "Iron Range Conference"),
    ("keystone", "Keystone Conference"),
    ("lakeshore", "Lakeshore Athletic League"),
    ("mesa", "Mesa Conference"),
    ("mid_plains", "Mid-Plains Conference"),
    ("north_star", "North Star Conference"),
    ("n_woods", "North Woods League"),
    ("ozark", "Ozark Conference"),
    ("pac_rim", "Pacific Rim Conference"),
    ("piedmont", "Piedmont Conference"),
    ("prairie", "Prairie Conference"),
    ("red_rock", "Red Rock Conference"),
    ("river_val", "River Valley Conference"),
    ("sierra", "Sierra Conference"),
    ("summit_ln", "Summit Line Conference"),
    ("tidewater", "Tidewater Conference"),
    ("tri_state", "Tri-State Athletic Conference"),
    ("w_slope", "Western Slope Conference"),
    ("yankee_d", "Yankee Demo Conference"),
)
#: Invented place names are root + ending; a qualifier makes sister schools ("X" and "X St").
NAME_ROOTS = (
    "Alder", "Ash", "Bram", "Briar", "Cedar", "Clay", "Copper", "Dun", "Elm", "Fair",
    "Fern", "Glen", "Granite", "Hart", "Haw", "Holly", "Iron", "Juniper", "Kings", "Lark",
    "Marl", "Mill", "North", "Oak", "Pine", "Quarry", "Raven", "Red", "Rose", "Salt",
    "Silver", "Stone", "Thorn", "Timber", "Vale", "Willow", "Wex", "Wolf", "Yarrow", "Zephyr",
)  # fmt: skip
NAME_ENDINGS = (
    "ton", "wood", "field", "ville", "ford", "dale", "mont", "haven",
    "brook", "port", "burg", "crest", "ridge", "view", "water",
)  # fmt: skip
NAME_QUALIFIERS = (("{}", 6.0), ("{} St", 3.0), ("{} Tech", 0.6), ("{} A&M", 0.4), ("N {}", 0.5))

# Column layouts, copied from Kaggle's headers.
COMPACT_COLUMNS = ("Season", "DayNum", "WTeamID", "WScore", "LTeamID", "LScore", "WLoc", "NumOT")
BOX_STATS = (
    "FGM", "FGA", "FGM3", "FGA3", "FTM", "FTA", "OR", "DR", "Ast", "TO", "Stl", "Blk", "PF",
)  # fmt: skip
DETAILED_COLUMNS = (
    *COMPACT_COLUMNS,
    *(f"W{s}" for s in BOX_STATS),
    *(f"L{s}" for s in BOX_STATS),
)


@dataclass(frozen=True)
class DemoConfig:
    """Settings of the synthetic league; the same config always yields the same files.

    Attributes:
        seed: seed of the single ``numpy.random.default_rng`` stream behind everything.
        first_season: first season (Kaggle's season year, i.e. the year of the tournament).
        last_season: last season, inclusive.
        n_teams: number of Division I teams (constant; IDs 1101 upwards).
        n_conferences: number of conferences, each sending its tournament champion to the NCAA
            tournament.
    """

    seed: int = 2025
    first_season: int = 2006
    last_season: int = 2025
    n_teams: int = 352
    n_conferences: int = 32

    def __post_init__(self) -> None:
        if self.last_season < self.first_season:
            raise ValueError(
                f"last_season {self.last_season} is before first_season {self.first_season}."
            )
        if self.first_season < 1900 or self.last_season > 2200:
            raise ValueError("Seasons must lie between 1900 and 2200.")
        # Four automatic qualifiers and four at-large teams are needed for the First Four.
        if not 4 <= self.n_conferences <= TOURNEY_FIELD - 4:
            raise ValueError(f"n_conferences must be between 4 and {TOURNEY_FIELD - 4}.")
        low = max(TOURNEY_FIELD + 4, MIN_CONF_SIZE * self.n_conferences)
        if not low <= self.n_teams <= MAX_TEAMS:
            raise ValueError(
                f"n_teams must be between {low} and {MAX_TEAMS} for {self.n_conferences} "
                "conferences."
            )


@dataclass(frozen=True)
class DemoLeague:
    """The generated league in memory.

    Attributes:
        tables: Kaggle file name (e.g. ``"MTeams.csv"``) to its frame, columns in Kaggle order.
        strengths: the hidden truth, one row per (Season, TeamID) with ``ConfAbbrev`` and
            ``Strength`` (points per game above an average team on a neutral court). Not
            written to disk: it is what forecasting models try to recover.
    """

    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    strengths: pd.DataFrame = field(default_factory=pd.DataFrame)


@dataclass
class _Games:
    """Games of one season, team A at home unless neutral; scores filled by :func:`_play`."""

    day: IntArray
    team_a: IntArray  # team indices 0..n_teams-1
    team_b: IntArray
    neutral: BoolArray
    score_a: IntArray
    score_b: IntArray
    num_ot: IntArray


def _concat_games(parts: list[_Games]) -> _Games:
    return _Games(
        day=np.concatenate([g.day for g in parts]),
        team_a=np.concatenate([g.team_a for g in parts]),
        team_b=np.concatenate([g.team_b for g in parts]),
        neutral=np.concatenate([g.neutral for g in parts]),
        score_a=np.concatenate([g.score_a for g in parts]),
        score_b=np.concatenate([g.score_b for g in parts]),
        num_ot=np.concatenate([g.num_ot for g in parts]),
    )


def _play(
    rng: np.random.Generator,
    strength: FloatArray,
    pace: FloatArray,
    day: IntArray,
    team_a: IntArray,
    team_b: IntArray,
    neutral: BoolArray,
) -> _Games:
    """Simulate final scores of games where team A hosts unless the court is neutral."""
    n = team_a.size
    edge = strength[team_a] - strength[team_b] + np.where(neutral, 0.0, HOME_EDGE)
    margin = np.rint(edge + rng.normal(0.0, GAME_MARGIN_SD, n)).astype(np.int64)
    forced_level = (np.abs(margin) <= LATE_TIE_MARGIN) & (rng.random(n) < LATE_TIE_PROB)
    margin[forced_level] = 0
    total = 2.0 * MEAN_TEAM_SCORE + pace[team_a] + pace[team_b] + rng.normal(0.0, GAME_TOTAL_SD, n)
    # Draw the loser's score and add the margin, so the winner is exactly `margin` ahead.
    low = np.maximum(np.rint((total - np.abs(margin)) / 2.0), MIN_SCORE).astype(np.int64)
    score_a = low + np.maximum(margin, 0)
    score_b = low + np.maximum(-margin, 0)
    num_ot = np.zeros(n, dtype=np.int64)
    # A level score after regulation means overtime: each period is a short game of its own.
    for _ in range(MAX_OT):
        tied = np.flatnonzero(score_a == score_b)
        if tied.size == 0:
            break
        num_ot[tied] += 1
        shift = np.clip(edge[tied] * OT_SHARE / 2.0, -OT_POINTS_MEAN + 1, OT_POINTS_MEAN - 1)
        score_a[tied] += rng.poisson(OT_POINTS_MEAN + shift)
        score_b[tied] += rng.poisson(OT_POINTS_MEAN - shift)
    tied = np.flatnonzero(score_a == score_b)
    if tied.size:
        a_scores = rng.random(tied.size) < 0.5
        score_a[tied] += a_scores
        score_b[tied] += ~a_scores
    return _Games(day, team_a, team_b, neutral, score_a, score_b, num_ot)


@functools.cache
def _circle_rounds(n_even: int) -> IntArray:
    """Single round robin by the circle method: shape (rounds, pairs, 2) of local indices."""
    others = list(range(1, n_even))
    rounds = []
    for r in range(n_even - 1):
        lineup = [0, *others[r:], *others[:r]]
        rounds.append([(lineup[i], lineup[n_even - 1 - i]) for i in range(n_even // 2)])
    out = np.array(rounds, dtype=np.int64)
    out.flags.writeable = False  # cached and shared between calls
    return out


def _conference_schedule(
    rng: np.random.Generator, conf_of: IntArray, n_conferences: int
) -> tuple[IntArray, IntArray, IntArray]:
    """Conference regular season: a (possibly truncated) double round robin per conference.

    Returns:
        day, home team, away team (team indices).
    """
    days: list[IntArray] = []
    homes: list[IntArray] = []
    aways: list[IntArray] = []
    for conf in range(n_conferences):
        members = rng.permutation(np.flatnonzero(conf_of == conf))
        size = members.size
        n_even = size + size % 2
        single = _circle_rounds(n_even)
        flip = rng.random(single.shape[:2]) < 0.5
        first_leg = np.where(flip[..., None], single[..., ::-1], single)
        # The return leg swaps venues; truncating it leaves an unbalanced schedule, as in the
        # big real conferences.
        rounds = np.concatenate([first_leg, first_leg[..., ::-1]])[:CONF_ROUND_WINDOWS]
        n_rounds, n_pairs = rounds.shape[:2]
        window = np.rint(np.linspace(0, CONF_ROUND_WINDOWS - 1, n_rounds)).astype(np.int64)
        start = CONF_FIRST_DAY + CONF_WINDOW * np.repeat(window, n_pairs)
        local = rounds.reshape(-1, 2)
        real = (local < size).all(axis=1)  # index `size` is the bye of an odd conference
        local = local[real]
        days.append(start[real] + rng.integers(0, CONF_WINDOW, local.shape[0]))
        homes.append(members[local[:, 0]])
        aways.append(members[local[:, 1]])
    return np.concatenate(days), np.concatenate(homes), np.concatenate(aways)


def _nonconference_schedule(
    rng: np.random.Generator, conf_of: IntArray, strength: FloatArray
) -> tuple[IntArray, IntArray, IntArray, BoolArray]:
    """Random cross-conference pairings, each team at most once per window.

    Returns:
        day, team A (the host unless neutral), team B, neutral flag.
    """
    n = conf_of.size
    days: list[IntArray] = []
    teams_a: list[IntArray] = []
    teams_b: list[IntArray] = []
    neutrals: list[BoolArray] = []
    for r in range(NONCONF_ROUNDS):
        perm = rng.permutation(n)[: n - n % 2]
        a, b = perm[0::2], perm[1::2]
        keep = (conf_of[a] != conf_of[b]) & (rng.random(a.size) >= NONCONF_SKIP_PROB)
        a, b = a[keep], b[keep]
        start = NONCONF_FIRST_DAY + r * NONCONF_WINDOW
        days.append(start + rng.integers(0, NONCONF_WINDOW, a.size))
        neutral_prob = EARLY_NEUTRAL_PROB if r < EARLY_ROUNDS else LATE_NEUTRAL_PROB
        neutrals.append(rng.random(a.size) < neutral_prob)
        stronger_is_a = strength[a] >= strength[b]
        stronger_hosts = rng.random(a.size) < STRONGER_HOSTS_PROB
        swap = stronger_is_a != stronger_hosts
        teams_a.append(np.where(swap, b, a))
        teams_b.append(np.where(swap, a, b))
    return (
        np.concatenate(days),
        np.concatenate(teams_a),
        np.concatenate(teams_b),
        np.concatenate(neutrals),
    )


def _conference_tournaments(
    rng: np.random.Generator,
    conf_games: _Games,
    conf_of: IntArray,
    n_conferences: int,
    strength: FloatArray,
    pace: FloatArray,
) -> tuple[_Games, IntArray]:
    """Single-elimination tournaments of each conference's top 8 (or 4) by conference wins.

    Returns:
        the tournament games and each conference's champion (team index).
    """
    n = conf_of.size
    a_won = conf_games.score_a > conf_games.score_b
    winners = np.where(a_won, conf_games.team_a, conf_games.team_b)
    wins = np.bincount(winners, minlength=n)
    tiebreak = rng.random(n)
    final_day = rng.integers(CONF_TOURNEY_FIRST_FINAL, CONF_TOURNEY_LAST_FINAL + 1, n_conferences)
    brackets: list[list[int]] = []
    for conf in range(n_conferences):
        members = np.flatnonzero(conf_of == conf)
        ranked = members[np.lexsort((tiebreak[members], -wins[members]))]
        order = CONF_BRACKET_8 if members.size >= len(CONF_BRACKET_8) else CONF_BRACKET_4
        brackets.append([int(ranked[seed - 1]) for seed in order])
    parts: list[_Games] = []
    n_rounds = int(np.log2(len(CONF_BRACKET_8)))
    for rnd in range(n_rounds):
        rounds_left = n_rounds - rnd
        a: list[int] = []
        b: list[int] = []
        day: list[int] = []
        playing: list[int] = []
        for conf, alive in enumerate(brackets):
            if len(alive) < 2**rounds_left:
                continue  # a 4-team bracket starts in the semifinals
            playing.append(conf)
            a.extend(alive[0::2])
            b.extend(alive[1::2])
            day.extend([int(final_day[conf]) - rounds_left + 1] * (len(alive) // 2))
        games = _play(
            rng,
            strength,
            pace,
            np.array(day, dtype=np.int64),
            np.array(a, dtype=np.int64),
            np.array(b, dtype=np.int64),
            np.ones(len(a), dtype=np.bool_),
        )
        parts.append(games)
        won = np.where(games.score_a > games.score_b, games.team_a, games.team_b).tolist()
        pos = 0
        for conf in playing:
            k = len(brackets[conf]) // 2
            brackets[conf] = [int(t) for t in won[pos : pos + k]]
            pos += k
    champions = np.array([alive[0] for alive in brackets], dtype=np.int64)
    return _concat_games(parts), champions


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


def _massey(
    rng: np.random.Generator, strength: FloatArray, previous: FloatArray
) -> tuple[IntArray, IntArray, IntArray, IntArray]:
    """Weekly ordinal rankings of noisy strength estimates, sorted like Kaggle's file.

    Returns:
        ranking day, index into :data:`MASSEY_SYSTEMS`, team index and rank, one per row.
    """
    n = strength.size
    days = np.array(MASSEY_DAYS, dtype=np.int64)
    frac = ((days - days[0]) / (days[-1] - days[0]))[:, None]
    weight = MASSEY_PRESEASON_WEIGHT + (1.0 - MASSEY_PRESEASON_WEIGHT) * frac
    belief = weight * strength[None, :] + (1.0 - weight) * previous[None, :]
    persistent_sd = np.sqrt(MASSEY_PERSISTENT_SHARE)
    weekly_sd = np.sqrt(1.0 - MASSEY_PERSISTENT_SHARE)
    teams: list[IntArray] = []
    for _name, sd_first, sd_last in MASSEY_SYSTEMS:
        sd = sd_first + (sd_last - sd_first) * frac
        noise = persistent_sd * rng.normal(size=(1, n)) + weekly_sd * rng.normal(
            size=(days.size, n)
        )
        teams.append(np.argsort(-(belief + sd * noise), axis=1, kind="stable"))
    # Kaggle sorts by day, then system, then rank: stack as (day, system, rank).
    team = np.stack(teams, axis=1).reshape(-1)
    n_systems = len(MASSEY_SYSTEMS)
    day = np.repeat(days, n_systems * n)
    system = np.tile(np.repeat(np.arange(n_systems, dtype=np.int64), n), days.size)
    rank = np.tile(np.arange(1, n + 1, dtype=np.int64), days.size * n_systems)
    return day, system, team, rank


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


def _team_names(rng: np.random.Generator, n_teams: int) -> list[str]:
    """Distinct invented team names, alphabetical like Kaggle's ID order."""
    places = [root + ending for root in NAME_ROOTS for ending in NAME_ENDINGS]
    templates = [template for template, _ in NAME_QUALIFIERS]
    weights = np.tile([weight for _, weight in NAME_QUALIFIERS], len(places))
    picks = rng.choice(weights.size, size=n_teams, replace=False, p=weights / weights.sum())
    k = len(templates)
    return sorted(templates[i % k].format(places[i // k]) for i in picks.tolist())


def _conference_names(n_conferences: int) -> list[tuple[str, str]]:
    """(ConfAbbrev, Description) pairs, invented names first, then numbered ones."""
    named = list(CONFERENCE_NAMES[:n_conferences])
    extra = [
        (f"conf{i + 1:02d}", f"Demo Conference {i + 1}") for i in range(len(named), n_conferences)
    ]
    return named + extra


def _size_bounds(config: DemoConfig) -> tuple[int, int]:
    base = config.n_teams // config.n_conferences
    return max(MIN_CONF_SIZE, base - CONF_SIZE_SPREAD), base + CONF_SIZE_SPREAD


def _initial_conferences(rng: np.random.Generator, config: DemoConfig) -> IntArray:
    """Conference index of each team: uneven sizes, members scattered over the ID range."""
    n_conf = config.n_conferences
    low, high = _size_bounds(config)
    base, extra = divmod(config.n_teams, n_conf)
    sizes = np.full(n_conf, base, dtype=np.int64)
    sizes[:extra] += 1
    for _ in range(4 * n_conf):
        give, take = (int(x) for x in rng.integers(0, n_conf, 2))
        if give != take and sizes[give] > low and sizes[take] < high:
            sizes[give] -= 1
            sizes[take] += 1
    out: IntArray = np.repeat(np.arange(n_conf, dtype=np.int64), sizes)[
        rng.permutation(config.n_teams)
    ]
    return out


def _realign(rng: np.random.Generator, conf_of: IntArray, config: DemoConfig) -> IntArray:
    """A few off-season conference moves, keeping every conference within its size bounds."""
    low, high = _size_bounds(config)
    out = conf_of.copy()
    sizes = np.bincount(out, minlength=config.n_conferences)
    for _ in range(REALIGNMENTS_PER_SEASON):
        team = int(rng.integers(config.n_teams))
        target = int(rng.integers(config.n_conferences))
        source = int(out[team])
        if target != source and sizes[source] > low and sizes[target] < high:
            out[team] = target
            sizes[source] -= 1
            sizes[target] += 1
    return out


def _day_zero(season: int) -> dt.date:
    """First Monday on or after 31 October before the season, matching Kaggle's recent files."""
    start = dt.date(season - 1, 10, 31)
    return start + dt.timedelta(days=(7 - start.weekday()) % 7)


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


def build_demo_league(config: DemoConfig = DemoConfig()) -> DemoLeague:
    """Generate the synthetic league in memory (see :func:`write_demo_csvs`).

    Args:
        config: league settings; the same config always gives identical tables.

    Returns:
        the Kaggle tables and the latent team strengths behind them.
    """
    rng = np.random.default_rng(config.seed)
    n_teams, n_conf = config.n_teams, config.n_conferences
    seasons = range(config.first_season, config.last_season + 1)
    names = _team_names(rng, n_teams)
    conferences = _conference_names(n_conf)
    conf_abbrev = np.array([abbrev for abbrev, _ in conferences])
    conf_of = _initial_conferences(rng, config)
    conf_level = rng.normal(0.0, CONF_STRENGTH_SD, n_conf)
    strength = conf_level[conf_of] + rng.normal(0.0, WITHIN_CONF_SD, n_teams)
    pace = rng.normal(0.0, TEAM_PACE_SD, n_teams)
    # Innovation sizes that keep both AR(1) processes at their stationary spread.
    conf_shock = CONF_STRENGTH_SD * np.sqrt(1.0 - CONF_STRENGTH_AR**2)
    team_shock = WITHIN_CONF_SD * np.sqrt(1.0 - TEAM_STRENGTH_AR**2)

    regular, ncaa = _ResultColumns(), _ResultColumns()
    season_rows: list[tuple[int | str, ...]] = []
    membership: list[pd.DataFrame] = []
    truth: list[pd.DataFrame] = []
    seed_rows: list[tuple[int, str, int]] = []
    slot_rows: list[tuple[int, str, str, str]] = []
    massey_parts: list[tuple[int, tuple[IntArray, IntArray, IntArray, IntArray]]] = []
    team_ids = FIRST_TEAM_ID + np.arange(n_teams, dtype=np.int64)

    for i, season in enumerate(seasons):
        if i > 0:
            conf_of = _realign(rng, conf_of, config)
        # Drift before every season, the first included, so `previous` is a real last season.
        previous = strength
        conf_level = CONF_STRENGTH_AR * conf_level + rng.normal(0.0, conf_shock, n_conf)
        level = conf_level[conf_of]
        strength = level + TEAM_STRENGTH_AR * (previous - level)
        strength = strength + rng.normal(0.0, team_shock, n_teams)
        strength = strength - strength.mean()

        nc_day, nc_a, nc_b, nc_neutral = _nonconference_schedule(rng, conf_of, strength)
        nonconf = _play(rng, strength, pace, nc_day, nc_a, nc_b, nc_neutral)
        c_day, c_home, c_away = _conference_schedule(rng, conf_of, n_conf)
        conf_games = _play(
            rng, strength, pace, c_day, c_home, c_away, np.zeros(c_day.size, dtype=np.bool_)
        )
        conf_tourney, champions = _conference_tournaments(
            rng, conf_games, conf_of, n_conf, strength, pace
        )
        seeds, slots, tourney = _ncaa_tournament(rng, champions, strength, pace)
        massey_parts.append((season, _massey(rng, strength, previous)))

        regular.add(rng, season, _concat_games([nonconf, conf_games, conf_tourney]), i)
        ncaa.add(rng, season, tourney, i)
        seed_rows.extend((season, code, FIRST_TEAM_ID + team) for code, team in seeds)
        slot_rows.extend((season, *slot) for slot in slots)
        day_zero = _day_zero(season)
        regions = tuple(REGION_NAMES[j] for j in rng.permutation(len(REGION_NAMES)))
        # Kaggle writes DayZero as zero-padded mm/dd/YYYY.
        season_rows.append((season, day_zero.strftime("%m/%d/%Y"), *regions))
        membership.append(
            pd.DataFrame({"Season": season, "TeamID": team_ids, "ConfAbbrev": conf_abbrev[conf_of]})
        )
        truth.append(
            pd.DataFrame(
                {
                    "Season": season,
                    "TeamID": team_ids,
                    "ConfAbbrev": conf_abbrev[conf_of],
                    "Strength": strength,
                }
            )
        )

    regular_compact, regular_detailed = regular.frames()
    ncaa_compact, ncaa_detailed = ncaa.frames()
    system_names = np.array([name for name, _, _ in MASSEY_SYSTEMS])
    massey = pd.DataFrame(
        {
            "Season": np.concatenate(
                [np.full(part[0].size, season, dtype=np.int64) for season, part in massey_parts]
            ),
            "RankingDayNum": np.concatenate([part[0] for _, part in massey_parts]),
            "SystemName": system_names[np.concatenate([part[1] for _, part in massey_parts])],
            "TeamID": FIRST_TEAM_ID + np.concatenate([part[2] for _, part in massey_parts]),
            "OrdinalRank": np.concatenate([part[3] for _, part in massey_parts]),
        }
    )
    tables = {
        "Conferences.csv": pd.DataFrame(sorted(conferences), columns=["ConfAbbrev", "Description"]),
        "MTeams.csv": pd.DataFrame(
            {
                "TeamID": team_ids,
                "TeamName": names,
                "FirstD1Season": config.first_season,
                "LastD1Season": config.last_season,
            }
        ),
        "MSeasons.csv": pd.DataFrame(
            season_rows,
            columns=["Season", "DayZero", "RegionW", "RegionX", "RegionY", "RegionZ"],
        ),
        "MTeamConferences.csv": pd.concat(membership, ignore_index=True),
        "MRegularSeasonCompactResults.csv": regular_compact,
        "MRegularSeasonDetailedResults.csv": regular_detailed,
        "MNCAATourneyCompactResults.csv": ncaa_compact,
        "MNCAATourneyDetailedResults.csv": ncaa_detailed,
        "MNCAATourneySeeds.csv": pd.DataFrame(seed_rows, columns=["Season", "Seed", "TeamID"]),
        "MNCAATourneySlots.csv": pd.DataFrame(
            slot_rows, columns=["Season", "Slot", "StrongSeed", "WeakSeed"]
        ),
        "MMasseyOrdinals.csv": massey,
    }
    return DemoLeague(tables=tables, strengths=pd.concat(truth, ignore_index=True))


def write_demo_csvs(dest: Path, config: DemoConfig = DemoConfig()) -> list[Path]:
    """Write the synthetic men's league ('M' files) into dest in Kaggle CSV layout.

    Also writes :data:`DEMO_MARKER_FILE`, holding :data:`DEMO_MARKER` and the config, so the
    importer can mark the store as demo data.

    Args:
        dest: output folder, created if missing; existing files of the same names are replaced.
        config: league settings; the same config always gives byte-identical files.

    Returns:
        the files written, CSVs first and the marker file last.
    """
    league = build_demo_league(config)
    dest.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, frame in league.tables.items():
        path = dest / name
        # A fixed "\n" keeps the bytes identical on every platform, like Kaggle's files.
        frame.to_csv(path, index=False, lineterminator="\n")
        written.append(path)
    marker = dest / DEMO_MARKER_FILE
    settings = "".join(f"{key}={value}\n" for key, value in asdict(config).items())
    marker.write_text(f"{DEMO_MARKER}\n{settings}", encoding="utf-8", newline="\n")
    written.append(marker)
    return written
