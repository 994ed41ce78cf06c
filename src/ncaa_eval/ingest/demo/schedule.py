"""The regular season: non-conference and conference schedules, conference tournaments."""

from __future__ import annotations

import datetime as dt
import functools

import numpy as np

from ncaa_eval.ingest.demo.games import (
    BoolArray,
    FloatArray,
    IntArray,
    _concat_games,
    _Games,
    _play,
)

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


def _day_zero(season: int) -> dt.date:
    """First Monday on or after 31 October before the season, matching Kaggle's recent files."""
    start = dt.date(season - 1, 10, 31)
    return start + dt.timedelta(days=(7 - start.weekday()) % 7)
