"""The tables of the ncaa-eval data store: Arrow schemas and the :class:`Game` record.

Every table carries its ``league`` implicitly through the folder it lives in (``M`` or ``W``);
games also carry it as a column so that frames from both leagues can be concatenated safely.
Column names are snake_case versions of Kaggle's, winner/loser oriented as Kaggle ships them;
the forecasting code re-orients games to team A = lower TeamID.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ncaa_eval import LEAGUE_NAMES as LEAGUE_NAMES  # re-exported: its first home

League = Literal["M", "W"]
LEAGUES: tuple[League, ...] = ("M", "W")

#: Kaggle box-score statistics, in Kaggle's order; each exists as ``w_<stat>`` and ``l_<stat>``.
BOX_STATS: tuple[str, ...] = (
    "fgm", "fga", "fgm3", "fga3", "ftm", "fta", "or", "dr", "ast", "to", "stl", "blk", "pf",
)  # fmt: skip
BOX_COLUMNS: tuple[str, ...] = tuple(f"{side}_{s}" for side in ("w", "l") for s in BOX_STATS)

GAMES_SCHEMA = pa.schema(
    [
        pa.field("game_id", pa.string(), nullable=False),
        pa.field("league", pa.string(), nullable=False),
        pa.field("season", pa.int16(), nullable=False),
        pa.field("day_num", pa.int16(), nullable=False),
        pa.field("date", pa.date32(), nullable=False),
        pa.field("w_team_id", pa.int32(), nullable=False),
        pa.field("w_score", pa.int16(), nullable=False),
        pa.field("l_team_id", pa.int32(), nullable=False),
        pa.field("l_score", pa.int16(), nullable=False),
        pa.field("w_loc", pa.string(), nullable=False),
        pa.field("num_ot", pa.int8(), nullable=False),
        pa.field("is_tournament", pa.bool_(), nullable=False),
        pa.field("has_box_score", pa.bool_(), nullable=False),
        *[pa.field(c, pa.int16()) for c in BOX_COLUMNS],
    ]
)

TEAMS_SCHEMA = pa.schema(
    [
        pa.field("team_id", pa.int32(), nullable=False),
        pa.field("team_name", pa.string(), nullable=False),
        pa.field("first_d1_season", pa.int16()),
        pa.field("last_d1_season", pa.int16()),
    ]
)

SEASONS_SCHEMA = pa.schema(
    [
        pa.field("season", pa.int16(), nullable=False),
        pa.field("day_zero", pa.date32(), nullable=False),
        pa.field("region_w", pa.string()),
        pa.field("region_x", pa.string()),
        pa.field("region_y", pa.string()),
        pa.field("region_z", pa.string()),
    ]
)

SEEDS_SCHEMA = pa.schema(
    [
        pa.field("season", pa.int16(), nullable=False),
        pa.field("seed", pa.string(), nullable=False),  # Kaggle's code, e.g. "W16a"
        pa.field("region", pa.string(), nullable=False),  # W, X, Y or Z
        pa.field("seed_number", pa.int8(), nullable=False),  # 1..16
        pa.field("play_in", pa.string()),  # "a"/"b" for First Four teams, else null
        pa.field("team_id", pa.int32(), nullable=False),
    ]
)

SLOTS_SCHEMA = pa.schema(
    [
        pa.field("season", pa.int16(), nullable=False),
        pa.field("slot", pa.string(), nullable=False),
        pa.field("strong_seed", pa.string(), nullable=False),
        pa.field("weak_seed", pa.string(), nullable=False),
    ]
)

CONFERENCES_SCHEMA = pa.schema(
    [
        pa.field("season", pa.int16(), nullable=False),
        pa.field("team_id", pa.int32(), nullable=False),
        pa.field("conf_abbrev", pa.string(), nullable=False),
    ]
)

ORDINALS_SCHEMA = pa.schema(
    [
        pa.field("season", pa.int16(), nullable=False),
        pa.field("ranking_day", pa.int16(), nullable=False),
        pa.field("system", pa.string(), nullable=False),
        pa.field("team_id", pa.int32(), nullable=False),
        pa.field("rank", pa.int16(), nullable=False),
    ]
)


class Game(BaseModel):
    """One played game, as stored (winner/loser oriented, as Kaggle ships it).

    ``game_id`` is ``<season>_<day_num:03d>_<lower team id>_<higher team id>``: stable across
    imports and free of the outcome, so it can key predictions without hinting at the winner.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    game_id: str
    league: League
    season: int = Field(ge=1900, le=2200)
    day_num: int = Field(ge=0, le=200, description="Days since the season's DayZero.")
    date: dt.date
    w_team_id: int
    w_score: int = Field(ge=0)
    l_team_id: int
    l_score: int = Field(ge=0)
    w_loc: Literal["H", "A", "N"] = Field(description="Winner's court: Home, Away or Neutral.")
    num_ot: int = Field(ge=0)
    is_tournament: bool
    has_box_score: bool = False

    @model_validator(mode="after")
    def _winner_scored_more(self) -> Game:
        if self.w_score <= self.l_score:
            raise ValueError(f"winner score {self.w_score} is not above loser {self.l_score}")
        if self.w_team_id == self.l_team_id:
            raise ValueError("a team cannot play itself")
        return self


def make_game_id(season: int, day_num: int, team_1: int, team_2: int) -> str:
    """The stable id of a game, independent of which team won."""
    lo, hi = sorted((team_1, team_2))
    return f"{season}_{day_num:03d}_{lo}_{hi}"
