"""Serving a league's games in time order, with no way to reach the future.

:class:`ChronologicalDataServer` is the only door through which forecasting code reads games. It
hands out copies, always cut at a point in time: a season's regular season in date order, its
tournament, or "every game before day D of season S". Nothing it returns can include a game on or
after the cut, and mutating what it returns cannot change what it serves next.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pandas as pd

from ncaa_eval.errors import NcaaEvalError
from ncaa_eval.ingest.repository import ParquetRepository
from ncaa_eval.ingest.schema import League

#: Seasons whose NCAA tournament was cancelled (COVID-19): never taken for a season still to be
#: played. A store that holds tournament games for such a season (the synthetic demo league plays
#: every season) is served as it is.
NO_TOURNAMENT_SEASONS = frozenset({2020})
#: Kaggle's first tournament day (First Four); used when a season has seeds but no results yet.
DEFAULT_TOURNAMENT_START_DAY = 134


@dataclass(frozen=True)
class SeasonGames:
    """One season, split at the start of its NCAA tournament."""

    season: int
    regular: pd.DataFrame
    tournament: pd.DataFrame
    tournament_start_day: int
    has_tournament: bool


class ChronologicalDataServer:
    """Games of one league, served season by season in date order.

    Args:
        repository: the imported store.
        league: ``"M"`` or ``"W"``.
        seasons: restrict to these seasons (default: every season in the store).
    """

    def __init__(
        self, repository: ParquetRepository, league: League, seasons: list[int] | None = None
    ) -> None:
        self.league = league
        available = repository.seasons_available(league)
        if seasons is not None:
            missing = sorted(set(seasons) - set(available))
            if missing:
                raise NcaaEvalError(
                    f"Season {missing[0]} is not in the {league} store (it has "
                    f"{available[0]}-{available[-1]}); choose seasons inside that range."
                    if available
                    else f"The {league} store has no games; import data first."
                )
            available = sorted(set(seasons))
        games = repository.games(league, available)
        # A stable order: date, then game id, so two reads always agree.
        self._games = games.sort_values(["season", "day_num", "game_id"], kind="stable")
        self._games = self._games.reset_index(drop=True)
        self._seasons = available
        # One slice per season, cut once: season lookups are then O(1) instead of a scan of
        # every game (a walk over 40 seasons asks for each season several times).
        empty = self._games.iloc[0:0]
        by_season = dict(tuple(self._games.groupby("season", sort=True)))
        self._by_season = {s: by_season.get(s, empty) for s in available}
        seeds = repository.seeds(league)
        self._seeded = set(seeds["season"].tolist())

    @property
    def seasons(self) -> list[int]:
        """Seasons served, ascending."""
        return list(self._seasons)

    def has_tournament(self, season: int) -> bool:
        """Whether ``season`` had (or will have) an NCAA tournament (the real 2020 did not)."""
        if self._season_frame(season)["is_tournament"].any():
            return True
        return season in self._seeded and season not in NO_TOURNAMENT_SEASONS

    def tournament_start_day(self, season: int) -> int:
        """The DayNum of the season's first tournament game (134 when none is played yet)."""
        frame = self._season_frame(season)
        tourney = frame.loc[frame["is_tournament"], "day_num"]
        if len(tourney):
            return int(tourney.min())
        regular_end = frame["day_num"].max() if len(frame) else DEFAULT_TOURNAMENT_START_DAY - 1
        return max(DEFAULT_TOURNAMENT_START_DAY, int(regular_end) + 1)

    def _season_frame(self, season: int) -> pd.DataFrame:
        """The season's rows (a shared slice: never mutate or return it unchanged)."""
        return self._by_season.get(season, self._games.iloc[0:0])

    def season(self, season: int) -> SeasonGames:
        """One season's regular-season games and tournament games, each in date order."""
        if season not in self._seasons:
            have = f"{self._seasons[0]}-{self._seasons[-1]}" if self._seasons else "none"
            raise NcaaEvalError(f"Season {season} is not served (have {have}).")
        frame = self._season_frame(season)
        return SeasonGames(
            season=season,
            regular=frame[~frame["is_tournament"]].copy(),
            tournament=frame[frame["is_tournament"]].copy(),
            tournament_start_day=self.tournament_start_day(season),
            has_tournament=self.has_tournament(season),
        )

    def iter_seasons(self) -> Iterator[SeasonGames]:
        """Every served season in order."""
        for season in self._seasons:
            yield self.season(season)

    def games_before(self, season: int, day_num: int) -> pd.DataFrame:
        """Every served game strictly before day ``day_num`` of ``season``, in date order."""
        g = self._games
        mask = (g["season"] < season) | ((g["season"] == season) & (g["day_num"] < day_num))
        return g[mask].copy()

    def games_before_tournament(self, season: int) -> pd.DataFrame:
        """Every game known when ``season``'s tournament forecast is frozen."""
        return self.games_before(season, self.tournament_start_day(season))

    def all_games(self) -> pd.DataFrame:
        """Every served game in date order (for full-history passes that predict as they go)."""
        return self._games.copy()
