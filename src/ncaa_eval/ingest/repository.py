"""The Parquet data store: one folder per league, games and ordinals partitioned by season.

Layout under ``<data_dir>/store/``::

    store.json                     manifest: leagues, seasons, counts, source digest, demo flag
    M/games/season=2025.parquet    one file per season, so one season can be read alone
    M/ordinals/season=2025.parquet men's Massey ordinals (absent for women)
    M/teams.parquet  M/seasons.parquet  M/seeds.parquet  M/slots.parquet  M/conferences.parquet
    W/...

A store is written whole into a temporary sibling folder and swapped in with renames, so a failed
or interrupted import leaves the previous store untouched.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ncaa_eval.errors import StoreNotFoundError
from ncaa_eval.ingest.schema import LEAGUES, League

STORE_DIR = "store"
MANIFEST = "store.json"
FORMAT_VERSION = 1
TABLES = ("teams", "seasons", "seeds", "slots", "conferences")
PARTITIONED = ("games", "ordinals")


def to_frame(table: pa.Table) -> pd.DataFrame:
    """Arrow table -> DataFrame (typed: pyarrow ships no type hints)."""
    frame: pd.DataFrame = table.to_pandas()
    return frame


@dataclass(frozen=True)
class LeagueTables:
    """Everything imported for one league, as Arrow tables (``ordinals`` may be empty)."""

    games: pa.Table
    teams: pa.Table
    seasons: pa.Table
    seeds: pa.Table
    slots: pa.Table
    conferences: pa.Table
    ordinals: pa.Table


def _write_partitioned(table: pa.Table, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    if table.num_rows == 0:
        return
    seasons = table.column("season").to_numpy()
    # Tables arrive sorted by season, so each season is one contiguous slice.
    boundaries = [0, *(i for i in range(1, len(seasons)) if seasons[i] != seasons[i - 1])]
    boundaries.append(len(seasons))
    for start, stop in itertools.pairwise(boundaries):
        part = table.slice(start, stop - start)
        pq.write_table(part, folder / f"season={int(seasons[start])}.parquet")


def write_store(
    data_dir: Path,
    leagues: Mapping[League, LeagueTables],
    manifest: dict[str, Any],
    on_table: Any = None,
) -> Path:
    """Write a whole store under ``data_dir`` atomically and return its folder.

    The new store is built in a temporary folder next to the old one; only when every file is
    written is the old store moved aside and the new one renamed into place.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    final = data_dir / STORE_DIR
    # Named before it exists, so that a signal landing inside its creation still removes it.
    tmp = data_dir / f".store-new-{uuid.uuid4().hex[:12]}"
    old: Path | None = None
    try:
        tmp.mkdir()
        for league, tables in leagues.items():
            root = tmp / league
            root.mkdir()
            for name in TABLES:
                pq.write_table(getattr(tables, name), root / f"{name}.parquet")
            for name in PARTITIONED:
                _write_partitioned(getattr(tables, name), root / name)
                if on_table is not None:
                    on_table(league, name)
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        if final.exists():
            old = Path(tempfile.mkdtemp(prefix=".store-old-", dir=data_dir))
            os.replace(final, old / STORE_DIR)
        os.replace(tmp, final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        # Also on Ctrl-C or SIGTERM between the two renames: put the previous store back.
        if old is not None and not final.exists() and (old / STORE_DIR).exists():
            os.replace(old / STORE_DIR, final)
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        raise
    return final


class ParquetRepository:
    """Read access to an imported store.

    Args:
        data_dir: the folder given to ``ncaa-eval data import --data-dir`` (default ``data/``).
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.root = self.data_dir / STORE_DIR
        manifest_path = self.root / MANIFEST
        if not manifest_path.is_file():
            raise StoreNotFoundError(
                f"No data store in '{self.data_dir}': run `ncaa-eval data import <kaggle folder>` "
                "or `ncaa-eval data demo` first, or pass --data-dir."
            )
        self.manifest: dict[str, Any] = json.loads(manifest_path.read_text())

    @property
    def leagues(self) -> list[League]:
        """Leagues present in the store."""
        return [lg for lg in LEAGUES if lg in self.manifest.get("leagues", {})]

    @property
    def is_demo(self) -> bool:
        """Whether the store holds the synthetic demo league."""
        return bool(self.manifest.get("demo", False))

    @property
    def digest(self) -> str:
        """Content digest of the source the store was imported from."""
        return str(self.manifest.get("source_digest", "unknown"))

    def _league_root(self, league: League) -> Path:
        if league not in self.leagues:
            have = ", ".join(self.leagues) or "none"
            raise StoreNotFoundError(
                f"League '{league}' is not in the store at '{self.data_dir}' (it has: {have}); "
                "import a Kaggle download that includes it."
            )
        return self.root / league

    def seasons_available(self, league: League, table: str = "games") -> list[int]:
        """Seasons that have a partition of ``table`` (``games`` or ``ordinals``)."""
        folder = self._league_root(league) / table
        if not folder.is_dir():
            return []
        return sorted(int(p.stem.split("=", 1)[1]) for p in folder.glob("season=*.parquet"))

    def _read_partitions(
        self, league: League, table: str, seasons: Iterable[int] | None
    ) -> pa.Table:
        folder = self._league_root(league) / table
        available = self.seasons_available(league, table)
        wanted = available if seasons is None else sorted(set(seasons).intersection(available))
        parts = [pq.read_table(folder / f"season={s}.parquet") for s in wanted]
        if not parts:
            from ncaa_eval.ingest.schema import GAMES_SCHEMA, ORDINALS_SCHEMA

            return (GAMES_SCHEMA if table == "games" else ORDINALS_SCHEMA).empty_table()
        return pa.concat_tables(parts)

    def games_table(self, league: League, seasons: Iterable[int] | None = None) -> pa.Table:
        """Games of ``league`` (all seasons, or the given ones) as Arrow, sorted in time."""
        return self._read_partitions(league, "games", seasons)

    def games(self, league: League, seasons: Iterable[int] | None = None) -> pd.DataFrame:
        """Games of ``league`` as a DataFrame sorted by season, day and game id."""
        return to_frame(self.games_table(league, seasons))

    def ordinals(self, league: League, seasons: Iterable[int] | None = None) -> pd.DataFrame:
        """Massey ordinals (season, ranking_day, system, team_id, rank); empty when absent."""
        return to_frame(self._read_partitions(league, "ordinals", seasons))

    def _table(self, league: League, name: str) -> pd.DataFrame:
        return to_frame(pq.read_table(self._league_root(league) / f"{name}.parquet"))

    def teams(self, league: League) -> pd.DataFrame:
        """Teams: team_id, team_name, first/last D1 season (men only)."""
        return self._table(league, "teams")

    def seasons(self, league: League) -> pd.DataFrame:
        """Seasons with their DayZero and region names."""
        return self._table(league, "seasons")

    def seeds(self, league: League) -> pd.DataFrame:
        """NCAA tournament seeds: season, seed code, region, seed number, play-in, team."""
        return self._table(league, "seeds")

    def slots(self, league: League) -> pd.DataFrame:
        """NCAA tournament bracket slots."""
        return self._table(league, "slots")

    def conferences(self, league: League) -> pd.DataFrame:
        """Team conference membership per season."""
        return self._table(league, "conferences")
