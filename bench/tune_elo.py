"""Tune the Elo constants on men's NCAA tournaments before 2015, walk-forward.

Protocol (see ../shared/FORECASTING.md): ratings walk every regular-season game from the first
season on; each season's NCAA tournament is predicted from the ratings frozen before its first
game (``EloEngine.walk(freeze_tournament=True)``), then its results are learned for later seasons.
Play-in (First Four / opening round) games are predicted but not scored; they are found from the
seeds (both teams hold ``a``/``b`` seeds of the same line), which also catches the 2021 men's First
Four on day 136. The objective is the Brier score of the men's main draw 1990-2014
(``--first``/``--last``): every tournament before 2015 after five warm-up seasons, 1,575 games.
2003-2014 alone (744 games) is too noisy to separate the candidates: one season's Brier moves by
about 0.02 on luck, while the moves compared here are worth 0.0001-0.001. Seasons 2015 on are
held out.

The search is a coordinate descent over a coarse grid per constant, a few rounds, starting from the
published NCAA tuning. It prints each improvement, then the final Brier scores (men and women,
2003-2024, 2003-2014 and 2015-2024) and the time of one pass over all men's games.

Usage::

    .venv/bin/python bench/tune_elo.py                 # search, then report
    .venv/bin/python bench/tune_elo.py --report-only   # report the current EloParams defaults
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ncaa_eval.ratings.elo import EloEngine, EloParams

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "kaggle"

#: Candidate values per constant for the coordinate search.
GRID: dict[str, list[Any]] = {
    "k": [30.0, 35.0, 40.0, 44.0, 47.0, 50.0, 55.0, 60.0],
    "k_early": [40.0, 47.0, 55.0, 65.0, 75.0, 90.0, 110.0],
    "early_days": [0, 20, 30, 40, 50, 60],
    "k_tournament": [20.0, 30.0, 40.0, 47.0, 55.0, 65.0],
    "home_edge": [60.0, 70.0, 76.0, 82.0, 88.0, 95.0, 105.0, 120.0],
    "mov_a": [1.0, 2.0, 2.5, 3.0, 4.0],
    "mov_b": [0.5, 0.6, 0.7, 0.8, 0.9],
    "mov_c": [4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0],
    "mov_d": [0.0, 0.003, 0.006, 0.009],
    "carry_over": [0.5, 0.55, 0.6, 0.64, 0.68, 0.72, 0.78, 0.85],
    "new_team_rating": [900.0, 950.0, 985.0, 1050.0, 1150.0, 1300.0],
    "carry_toward": ["conference", "league"],
}

#: The published NCAA tuning the search starts from.
START = EloParams(
    initial_rating=1500.0,
    new_team_rating=985.0,
    k=47.0,
    k_early=47.0,
    early_days=0,
    k_tournament=47.0,
    home_edge=82.0,
    use_margin=True,
    mov_a=2.5,
    mov_b=0.7,
    mov_c=6.0,
    mov_d=0.006,
    carry_over=0.64,
    carry_toward="conference",
    mean_rating=1500.0,
)


@dataclass(frozen=True)
class Games:
    """Every regular-season and NCAA tournament game of one gender, team A the lower id."""

    season: np.ndarray[Any, Any]
    day: np.ndarray[Any, Any]
    team_a: np.ndarray[Any, Any]
    team_b: np.ndarray[Any, Any]
    score_a: np.ndarray[Any, Any]
    score_b: np.ndarray[Any, Any]
    loc: np.ndarray[Any, Any]
    tournament: np.ndarray[Any, Any]
    scored: np.ndarray[Any, Any]
    a_won: np.ndarray[Any, Any]
    conferences: dict[int, dict[int, str]]


def load_games(data_dir: Path, prefix: str) -> Games:
    """Read ``{prefix}RegularSeason``/``{prefix}NCAATourney`` compact results, time-ordered."""
    reg = pd.read_csv(data_dir / f"{prefix}RegularSeasonCompactResults.csv")
    tour = pd.read_csv(data_dir / f"{prefix}NCAATourneyCompactResults.csv")
    reg["tournament"] = False
    tour["tournament"] = True
    seeds = pd.read_csv(data_dir / f"{prefix}NCAATourneySeeds.csv")
    seed_of = {(s, t): str(x).strip() for s, x, t in seeds[["Season", "Seed", "TeamID"]].values}
    games = pd.concat([reg, tour], ignore_index=True)
    games = games.sort_values(["Season", "tournament", "DayNum"], kind="stable")
    a_won = (games["WTeamID"] < games["LTeamID"]).to_numpy()
    w_loc = games["WLoc"].to_numpy().astype(str)
    flipped = np.where(w_loc == "H", "A", np.where(w_loc == "A", "H", "N"))
    seasons = games["Season"].to_numpy()
    w = games["WTeamID"].to_numpy()
    lo = games["LTeamID"].to_numpy()
    tournament = games["tournament"].to_numpy()
    play_in = np.zeros(len(games), dtype=bool)
    for i in np.flatnonzero(tournament):
        sw = seed_of.get((seasons[i], w[i]), "")
        sl = seed_of.get((seasons[i], lo[i]), "")
        play_in[i] = len(sw) == 4 and len(sl) == 4 and sw[:3] == sl[:3]
    conf = pd.read_csv(data_dir / f"{prefix}TeamConferences.csv")
    conferences: dict[int, dict[int, str]] = {}
    for s, t, c in conf[["Season", "TeamID", "ConfAbbrev"]].itertuples(index=False):
        conferences.setdefault(int(s), {})[int(t)] = str(c)
    return Games(
        season=seasons,
        day=games["DayNum"].to_numpy(),
        team_a=np.minimum(w, lo),
        team_b=np.maximum(w, lo),
        score_a=np.where(a_won, games["WScore"], games["LScore"]).astype(float),
        score_b=np.where(a_won, games["LScore"], games["WScore"]).astype(float),
        loc=np.where(a_won, w_loc, flipped),
        tournament=tournament,
        scored=tournament & ~play_in,
        a_won=a_won.astype(float),
        conferences=conferences,
    )


def walk_forward(games: Games, params: EloParams) -> np.ndarray[Any, Any]:
    """Pre-game probabilities of every game, tournaments frozen before their first game."""
    return EloEngine(params).walk(
        games.season,
        games.day,
        games.team_a,
        games.team_b,
        games.score_a,
        games.score_b,
        games.loc,
        games.tournament,
        conferences=games.conferences,
        freeze_tournament=True,
    )


def brier(games: Games, prob: np.ndarray[Any, Any], first: int, last: int) -> float:
    """Brier score of the scored tournament games of seasons ``first``..``last``."""
    mask = games.scored & (games.season >= first) & (games.season <= last)
    return float(np.mean((prob[mask] - games.a_won[mask]) ** 2))


def tune(
    games: Games, start: EloParams, rounds: int, first: int, last: int, min_gain: float
) -> EloParams:
    """Coordinate descent over :data:`GRID`, minimising the Brier of seasons first..last.

    A move is taken only when it lowers the Brier by at least ``min_gain``: differences smaller
    than that on a few hundred games are noise, and chasing them walks to the edges of the grid.
    """
    best = start
    best_score = brier(games, walk_forward(games, best), first, last)
    print(f"start: Brier {first}-{last} = {best_score:.5f}")
    for round_no in range(1, rounds + 1):
        improved = False
        for name, values in GRID.items():
            for value in values:
                if getattr(best, name) == value:
                    continue
                candidate = dataclasses.replace(best, **{name: value})
                score = brier(games, walk_forward(games, candidate), first, last)
                if score < best_score - min_gain:
                    best, best_score, improved = candidate, score, True
                    print(f"round {round_no}: {name}={value!r} -> {score:.5f}")
        if not improved:
            break
    return best


def report(data_dir: Path, params: EloParams) -> None:
    """Print the Brier scores of ``params`` for men and women, and the pass time for men."""
    for prefix in ("M", "W"):
        games = load_games(data_dir, prefix)
        prob = walk_forward(games, params)
        scores = ", ".join(
            f"{a}-{b}: {brier(games, prob, a, b):.4f}"
            for a, b in ((2003, 2024), (2003, 2014), (2015, 2024))
        )
        n = int((games.scored & (games.season >= 2003) & (games.season <= 2024)).sum())
        print(f"{prefix}: {scores}  ({n} scored games 2003-2024)")
        if prefix == "M":
            timings = []
            for _ in range(5):
                t0 = time.perf_counter()
                walk_forward(games, params)
                timings.append(time.perf_counter() - t0)
            print(f"M: one pass over {games.season.size} games: best {min(timings):.3f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--first", type=int, default=1990, help="first season of the objective")
    parser.add_argument("--last", type=int, default=2014, help="last season of the objective")
    parser.add_argument("--min-gain", type=float, default=1e-4, help="smallest Brier gain taken")
    parser.add_argument("--report-only", action="store_true", help="report EloParams() defaults")
    args = parser.parse_args()
    if args.report_only:
        params = EloParams()
    else:
        men = load_games(args.data_dir, "M")
        if args.last >= 2015:
            parser.error("--last must be before 2015: later seasons are held out.")
        params = tune(men, START, args.rounds, args.first, args.last, args.min_gain)
        print("tuned:", params)
    report(args.data_dir, params)


if __name__ == "__main__":
    main()
