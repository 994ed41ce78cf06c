"""Settings of the demo league and the generated league in memory."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from ncaa_eval.ingest.demo.tournament import TOURNEY_FIELD

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
