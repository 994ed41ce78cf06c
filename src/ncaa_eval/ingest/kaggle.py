"""Import a Kaggle March Machine Learning Mania download into the Parquet store.

Everything is validated before anything is written: required files and columns, types, scores
(winner above loser), team ids known, courts in H/A/N, seeds that parse, box scores that agree with
the compact results. Errors name the file, the line and the column. Files Kaggle ships that we do
not use are ignored; optional files that are missing (box scores, ordinals, conferences, slots) are
listed in the summary.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ncaa_eval import __version__
from ncaa_eval.errors import DataValidationError, NcaaEvalError
from ncaa_eval.ingest.csv_reader import read_kaggle_csv
from ncaa_eval.ingest.demo_marker import DEMO_MARKER_FILE
from ncaa_eval.ingest.repository import FORMAT_VERSION, LeagueTables, to_frame, write_store
from ncaa_eval.ingest.schema import (
    BOX_COLUMNS,
    BOX_STATS,
    CONFERENCES_SCHEMA,
    GAMES_SCHEMA,
    LEAGUE_NAMES,
    LEAGUES,
    ORDINALS_SCHEMA,
    SEASONS_SCHEMA,
    SEEDS_SCHEMA,
    SLOTS_SCHEMA,
    TEAMS_SCHEMA,
    League,
)
from ncaa_eval.ingest.source import KaggleSource, digest_bytes
from ncaa_eval.paths import check_writable_dir

I16, I32, I8, STR = pa.int16(), pa.int32(), pa.int8(), pa.string()

COMPACT_COLUMNS: dict[str, pa.DataType] = {
    "Season": I16, "DayNum": I16, "WTeamID": I32, "WScore": I16,
    "LTeamID": I32, "LScore": I16, "WLoc": STR, "NumOT": I8,
}  # fmt: skip
_KAGGLE_BOX = (
    "FGM",
    "FGA",
    "FGM3",
    "FGA3",
    "FTM",
    "FTA",
    "OR",
    "DR",
    "Ast",
    "TO",
    "Stl",
    "Blk",
    "PF",
)
DETAILED_COLUMNS: dict[str, pa.DataType] = {
    **COMPACT_COLUMNS,
    **{f"{side}{stat}": I16 for side in ("W", "L") for stat in _KAGGLE_BOX},
}
_SEED_RE = re.compile(r"^([WXYZ])(\d\d)([ab]?)$")
_GAME_KEY = ["Season", "DayNum", "WTeamID", "LTeamID"]
#: Optional per-league files: reported in the summary when absent, never an error.
OPTIONAL_FILES = (
    "RegularSeasonDetailedResults.csv",
    "NCAATourneyDetailedResults.csv",
    "NCAATourneySlots.csv",
    "TeamConferences.csv",
    "MasseyOrdinals.csv",
)
REQUIRED_FILES = (
    "Teams.csv",
    "Seasons.csv",
    "RegularSeasonCompactResults.csv",
    "NCAATourneyCompactResults.csv",
    "NCAATourneySeeds.csv",
)

ProgressFn = Callable[[str], None]


@dataclass
class LeagueSummary:
    """What one league's import produced."""

    first_season: int
    last_season: int
    seasons: int
    games: int
    tournament_games: int
    box_score_games: int
    ordinal_rows: int
    tournament_seasons: list[int]
    missing_optional: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (stored in the manifest)."""
        return dict(self.__dict__)


@dataclass
class ImportSummary:
    """The result of :func:`import_kaggle`."""

    store: Path
    leagues: dict[str, LeagueSummary]
    source_digest: str
    demo: bool
    seconds: float


def _fail(name: str, row: int, column: str, message: str) -> DataValidationError:
    return DataValidationError(f"{name} line {row + 2}, column {column}: {message}")


def _pair_key(df: pd.DataFrame) -> pd.DataFrame:
    """Season, day and the two teams in id order: the key of ``game_id``, whoever won."""
    w_ids, l_ids = df["WTeamID"].to_numpy(), df["LTeamID"].to_numpy()
    return pd.DataFrame(
        {
            "season": df["Season"].to_numpy(),
            "day": df["DayNum"].to_numpy(),
            "lo": np.minimum(w_ids, l_ids),
            "hi": np.maximum(w_ids, l_ids),
        }
    )


def _first_true(mask: np.ndarray[Any, Any]) -> int | None:
    idx = np.flatnonzero(mask)
    return int(idx[0]) if len(idx) else None


class _LeagueReader:
    """Reads and validates one league's files from a source."""

    def __init__(self, source: KaggleSource, league: League, chunks: list[bytes]) -> None:
        self.source = source
        self.league = league
        self.chunks = chunks
        self.missing_optional: list[str] = []

    def file(self, suffix: str) -> str:
        return f"{self.league}{suffix}"

    def read(
        self,
        suffix: str,
        columns: dict[str, pa.DataType],
        nullable: frozenset[str] = frozenset(),
        *,
        optional: bool = False,
    ) -> pa.Table | None:
        name = self.file(suffix) if not suffix.startswith("/") else suffix[1:]
        if not self.source.has(name):
            if optional:
                self.missing_optional.append(name)
                return None
            raise DataValidationError(
                f"{name} is missing from '{self.source.path}': it is required for the "
                f"{LEAGUE_NAMES[self.league]}'s league; use a complete Kaggle download."
            )
        raw = self.source.read_bytes(name)
        self.chunks.append(name.encode() + raw)
        table = read_kaggle_csv(raw, name, columns, nullable=nullable)
        if not optional and table.num_rows == 0:
            raise DataValidationError(
                f"{name} has a header but no rows: it is required for the "
                f"{LEAGUE_NAMES[self.league]}'s league; use a complete Kaggle download."
            )
        return table

    # --- small tables -------------------------------------------------------------------------

    def teams(self) -> pd.DataFrame:
        cols: dict[str, pa.DataType] = {"TeamID": I32, "TeamName": STR}
        table = self.read("Teams.csv", cols)
        assert table is not None
        name = self.file("Teams.csv")
        df = table.to_pandas()
        # Men's file has FirstD1Season/LastD1Season; women's does not.
        extra = None
        if self.league == "M":
            raw_header = self.source.read_bytes(name).split(b"\n", 1)[0]
            if b"FirstD1Season" in raw_header:
                extra = read_kaggle_csv(
                    self.source.read_bytes(name),
                    name,
                    {"FirstD1Season": I16, "LastD1Season": I16},
                    nullable=frozenset({"FirstD1Season", "LastD1Season"}),
                ).to_pandas()
        dup = _first_true(df["TeamID"].duplicated().to_numpy())
        if dup is not None:
            raise _fail(name, dup, "TeamID", f"team {df['TeamID'][dup]} is listed twice.")
        out = pd.DataFrame(
            {
                "team_id": df["TeamID"],
                "team_name": df["TeamName"],
                "first_d1_season": extra["FirstD1Season"] if extra is not None else None,
                "last_d1_season": extra["LastD1Season"] if extra is not None else None,
            }
        ).sort_values("team_id")
        return out

    def seasons(self) -> pd.DataFrame:
        cols: dict[str, pa.DataType] = {"Season": I16, "DayZero": STR}
        name = self.file("Seasons.csv")
        table = self.read("Seasons.csv", cols)
        assert table is not None
        df = table.to_pandas()
        regions: dict[str, Any] = {}
        raw = self.source.read_bytes(name)
        header = raw.split(b"\n", 1)[0].decode("utf-8", "replace")
        present = [r for r in ("RegionW", "RegionX", "RegionY", "RegionZ") if r in header]
        if present:
            reg = read_kaggle_csv(
                raw, name, dict.fromkeys(present, STR), nullable=frozenset(present)
            )
            regions = {f"region_{r[-1].lower()}": reg.column(r).to_pandas() for r in present}
        day_zero = pd.to_datetime(df["DayZero"], format="%m/%d/%Y", errors="coerce")
        if day_zero.isna().any():
            bad = int(np.flatnonzero(day_zero.isna().to_numpy())[0])
            raise _fail(
                name, bad, "DayZero", f"{df['DayZero'][bad]!r} is not a date like 11/4/2024."
            )
        dup = _first_true(df["Season"].duplicated().to_numpy())
        if dup is not None:
            raise _fail(name, dup, "Season", f"season {df['Season'][dup]} is listed twice.")
        out = pd.DataFrame({"season": df["Season"], "day_zero": day_zero.dt.date})
        for r in "wxyz":
            out[f"region_{r}"] = regions.get(f"region_{r}")
        return out.sort_values("season")

    def seeds(self, team_ids: set[int], seasons: set[int]) -> pd.DataFrame:
        cols: dict[str, pa.DataType] = {"Season": I16, "Seed": STR, "TeamID": I32}
        name = self.file("NCAATourneySeeds.csv")
        table = self.read("NCAATourneySeeds.csv", cols)
        assert table is not None
        df = table.to_pandas()
        parsed = df["Seed"].astype(str).str.extract(_SEED_RE)
        bad = _first_true(parsed[0].isna().to_numpy())
        if bad is not None:
            raise _fail(
                name, bad, "Seed", f"{df['Seed'][bad]!r} is not a seed like W01, X16a or Z11b."
            )
        numbers = parsed[1].astype(int)
        bad = _first_true(((numbers < 1) | (numbers > 16)).to_numpy())
        if bad is not None:
            raise _fail(name, bad, "Seed", f"{df['Seed'][bad]!r}: seed numbers run from 1 to 16.")
        self._check_known(name, df, "TeamID", team_ids, "team", f"{self.league}Teams.csv")
        self._check_known(name, df, "Season", seasons, "season", f"{self.league}Seasons.csv")
        dup = _first_true(df.duplicated(["Season", "TeamID"]).to_numpy())
        if dup is not None:
            raise _fail(name, dup, "TeamID", f"team {df['TeamID'][dup]} is seeded twice.")
        out = pd.DataFrame(
            {
                "season": df["Season"],
                "seed": df["Seed"],
                "region": parsed[0],
                "seed_number": numbers.astype("int8"),
                "play_in": parsed[2].replace("", None),
                "team_id": df["TeamID"],
            }
        )
        return out.sort_values(["season", "seed"])

    def slots(self) -> pd.DataFrame:
        cols: dict[str, pa.DataType] = {
            "Season": I16, "Slot": STR, "StrongSeed": STR, "WeakSeed": STR,
        }  # fmt: skip
        table = self.read("NCAATourneySlots.csv", cols, optional=True)
        if table is None:
            return to_frame(SLOTS_SCHEMA.empty_table())
        df = table.to_pandas()
        return pd.DataFrame(
            {
                "season": df["Season"],
                "slot": df["Slot"],
                "strong_seed": df["StrongSeed"],
                "weak_seed": df["WeakSeed"],
            }
        ).sort_values(["season", "slot"])

    def conferences(self, team_ids: set[int]) -> pd.DataFrame:
        cols: dict[str, pa.DataType] = {"Season": I16, "TeamID": I32, "ConfAbbrev": STR}
        table = self.read("TeamConferences.csv", cols, optional=True)
        if table is None:
            return to_frame(CONFERENCES_SCHEMA.empty_table())
        df = table.to_pandas()
        self._check_known(
            self.file("TeamConferences.csv"), df, "TeamID", team_ids, "team",
            f"{self.league}Teams.csv",
        )  # fmt: skip
        return pd.DataFrame(
            {"season": df["Season"], "team_id": df["TeamID"], "conf_abbrev": df["ConfAbbrev"]}
        ).sort_values(["season", "team_id"])

    def ordinals(self, team_ids: set[int]) -> pa.Table:
        if self.league != "M" and not self.source.has(self.file("MasseyOrdinals.csv")):
            return ORDINALS_SCHEMA.empty_table()  # Kaggle ships no women's ordinals
        cols: dict[str, pa.DataType] = {
            "Season": I16, "RankingDayNum": I16, "SystemName": STR, "TeamID": I32,
            "OrdinalRank": I16,
        }  # fmt: skip
        table = self.read("MasseyOrdinals.csv", cols, optional=True)
        if table is None:
            return ORDINALS_SCHEMA.empty_table()
        name = self.file("MasseyOrdinals.csv")
        known = pa.array(sorted(team_ids), type=I32)
        unknown = pc.invert(pc.is_in(table.column("TeamID"), value_set=known))
        if pc.any(unknown).as_py():
            row = pc.index(unknown, True).as_py()
            raise _fail(
                name, row, "TeamID",
                f"team {table.column('TeamID')[row].as_py()} is not in {self.league}Teams.csv.",
            )  # fmt: skip
        bad_rank = pc.less(table.column("OrdinalRank"), 1)
        if pc.any(bad_rank).as_py():
            row = pc.index(bad_rank, True).as_py()
            raise _fail(name, row, "OrdinalRank", "a rank must be 1 or more.")
        table = table.rename_columns(["season", "ranking_day", "system", "team_id", "rank"])
        indices = pc.sort_indices(
            table,
            sort_keys=[
                ("season", "ascending"), ("ranking_day", "ascending"),
                ("system", "ascending"), ("team_id", "ascending"),
            ],
        )  # fmt: skip
        return table.take(indices).cast(ORDINALS_SCHEMA)

    # --- games --------------------------------------------------------------------------------

    @staticmethod
    def _check_known(
        name: str, df: pd.DataFrame, col: str, known: set[int], what: str, where: str
    ) -> None:
        mask = ~df[col].isin(known).to_numpy()
        bad = _first_true(mask)
        if bad is not None:
            raise _fail(name, bad, col, f"{what} {df[col].iloc[bad]} is not in {where}.")

    def _validate_games(
        self, name: str, df: pd.DataFrame, team_ids: set[int], seasons: set[int]
    ) -> None:
        bad = _first_true((df["WScore"] <= df["LScore"]).to_numpy())
        if bad is not None:
            raise _fail(
                name, bad, "WScore",
                f"winner score {df['WScore'][bad]} is not above loser score {df['LScore'][bad]}.",
            )  # fmt: skip
        bad = _first_true(~df["WLoc"].isin(["H", "A", "N"]).to_numpy())
        if bad is not None:
            raise _fail(name, bad, "WLoc", f"{df['WLoc'][bad]!r} is not one of H, A, N.")
        bad = _first_true(((df["DayNum"] < 0) | (df["DayNum"] > 200)).to_numpy())
        if bad is not None:
            raise _fail(name, bad, "DayNum", f"{df['DayNum'][bad]} is outside 0..200.")
        bad = _first_true((df["NumOT"] < 0).to_numpy())
        if bad is not None:
            raise _fail(name, bad, "NumOT", f"{df['NumOT'][bad]} overtimes is negative.")
        bad = _first_true((df["WScore"] < 0).to_numpy() | (df["LScore"] < 0).to_numpy())
        if bad is not None:
            raise _fail(name, bad, "LScore", "a score cannot be negative.")
        bad = _first_true((df["WTeamID"] == df["LTeamID"]).to_numpy())
        if bad is not None:
            raise _fail(name, bad, "LTeamID", f"team {df['WTeamID'][bad]} cannot play itself.")
        teams_file = f"{self.league}Teams.csv"
        self._check_known(name, df, "WTeamID", team_ids, "team", teams_file)
        self._check_known(name, df, "LTeamID", team_ids, "team", teams_file)
        self._check_known(name, df, "Season", seasons, "season", f"{self.league}Seasons.csv")
        dup = _first_true(_pair_key(df).duplicated().to_numpy())
        if dup is not None:
            raise _fail(
                name, dup, "Season",
                "this game (season, day and the two teams) is listed twice; remove the duplicate.",
            )  # fmt: skip

    def _games_of(
        self, kind: str, team_ids: set[int], seasons: set[int]
    ) -> tuple[pd.DataFrame, pd.DataFrame | None]:
        compact_name = f"{kind}CompactResults.csv"
        table = self.read(compact_name, COMPACT_COLUMNS)
        assert table is not None
        compact = table.to_pandas()
        self._validate_games(self.file(compact_name), compact, team_ids, seasons)
        detailed_name = f"{kind}DetailedResults.csv"
        detailed_table = self.read(detailed_name, DETAILED_COLUMNS, optional=True)
        if detailed_table is None:
            return compact, None
        detailed = detailed_table.to_pandas()
        name = self.file(detailed_name)
        self._validate_games(name, detailed, team_ids, seasons)
        joined = detailed[[*_GAME_KEY, "WScore", "LScore"]].merge(
            compact[[*_GAME_KEY, "WScore", "LScore"]], on=_GAME_KEY, how="left",
            suffixes=("", "_compact"), indicator=True,
        )  # fmt: skip
        bad = _first_true((joined["_merge"] != "both").to_numpy())
        if bad is not None:
            raise _fail(
                name, bad, "WTeamID",
                f"this game is not in {self.file(compact_name)}; box scores must match a result.",
            )  # fmt: skip
        bad = _first_true(
            (joined["WScore"] != joined["WScore_compact"]).to_numpy()
            | (joined["LScore"] != joined["LScore_compact"]).to_numpy()
        )
        if bad is not None:
            raise _fail(name, bad, "WScore", f"the score differs from {self.file(compact_name)}.")
        return compact, detailed

    def games(self, team_ids: set[int], seasons_df: pd.DataFrame) -> pd.DataFrame:
        seasons = set(seasons_df["season"].tolist())
        frames = []
        for kind, is_tournament in (("RegularSeason", False), ("NCAATourney", True)):
            compact, detailed = self._games_of(kind, team_ids, seasons)
            if detailed is not None:
                renames = {
                    f"{side}{k}": f"{side.lower()}_{s}"
                    for side in ("W", "L")
                    for k, s in zip(_KAGGLE_BOX, BOX_STATS, strict=True)
                }
                box = detailed[[*_GAME_KEY, *renames]].rename(columns=renames)
                compact = compact.merge(box, on=_GAME_KEY, how="left")
                compact["has_box_score"] = compact["w_fgm"].notna()
            else:
                compact["has_box_score"] = False
                for c in BOX_COLUMNS:
                    compact[c] = pd.NA
            compact["is_tournament"] = is_tournament
            frames.append(compact)
        games = pd.concat(frames, ignore_index=True)
        dup = _first_true(_pair_key(games).duplicated().to_numpy())
        if dup is not None:
            row = dup - len(frames[0])
            raise _fail(
                self.file("NCAATourneyCompactResults.csv"), row, "DayNum",
                "this game is also in the regular-season file; a game belongs to one of them.",
            )  # fmt: skip
        day_zero = seasons_df.set_index("season")["day_zero"]
        dates = pd.to_datetime(games["Season"].map(day_zero)) + pd.to_timedelta(
            games["DayNum"].astype(int), unit="D"
        )
        lo = np.minimum(games["WTeamID"].to_numpy(), games["LTeamID"].to_numpy())
        hi = np.maximum(games["WTeamID"].to_numpy(), games["LTeamID"].to_numpy())
        game_id = (
            games["Season"].astype(str)
            + "_"
            + games["DayNum"].astype(int).map("{:03d}".format)
            + "_"
            + pd.Series(lo).astype(str)
            + "_"
            + pd.Series(hi).astype(str)
        )
        out = pd.DataFrame(
            {
                "game_id": game_id,
                "league": self.league,
                "season": games["Season"],
                "day_num": games["DayNum"],
                "date": dates.dt.date,
                "w_team_id": games["WTeamID"],
                "w_score": games["WScore"],
                "l_team_id": games["LTeamID"],
                "l_score": games["LScore"],
                "w_loc": games["WLoc"],
                "num_ot": games["NumOT"],
                "is_tournament": games["is_tournament"],
                "has_box_score": games["has_box_score"].astype(bool),
            }
        )
        for c in BOX_COLUMNS:
            out[c] = games[c]
        return out.sort_values(["season", "day_num", "game_id"], kind="stable")


def _to_table(df: pd.DataFrame, schema: pa.Schema) -> pa.Table:
    return pa.Table.from_pandas(df, schema=schema, preserve_index=False)


def read_league(
    source: KaggleSource, league: League, chunks: list[bytes], progress: ProgressFn
) -> tuple[LeagueTables, LeagueSummary]:
    """Read and validate every table of one league."""
    reader = _LeagueReader(source, league, chunks)
    progress(f"{league}: teams and seasons")
    teams = reader.teams()
    seasons = reader.seasons()
    team_ids = set(teams["team_id"].tolist())
    progress(f"{league}: games and box scores")
    games = reader.games(team_ids, seasons)
    progress(f"{league}: seeds, slots, conferences")
    seeds = reader.seeds(team_ids, set(seasons["season"].tolist()))
    slots = reader.slots()
    conferences = reader.conferences(team_ids)
    progress(f"{league}: Massey ordinals")
    ordinals = reader.ordinals(team_ids)
    tables = LeagueTables(
        games=_to_table(games, GAMES_SCHEMA),
        teams=_to_table(teams, TEAMS_SCHEMA),
        seasons=_to_table(seasons, SEASONS_SCHEMA),
        seeds=_to_table(seeds, SEEDS_SCHEMA),
        slots=_to_table(slots, SLOTS_SCHEMA),
        conferences=_to_table(conferences, CONFERENCES_SCHEMA),
        ordinals=ordinals,
    )
    game_seasons = sorted(set(games["season"].tolist()))
    tourney = games[games["is_tournament"]]
    summary = LeagueSummary(
        first_season=game_seasons[0] if game_seasons else 0,
        last_season=game_seasons[-1] if game_seasons else 0,
        seasons=len(game_seasons),
        games=len(games),
        tournament_games=len(tourney),
        box_score_games=int(games["has_box_score"].sum()),
        ordinal_rows=ordinals.num_rows,
        tournament_seasons=sorted(set(tourney["season"].tolist())),
        missing_optional=reader.missing_optional,
    )
    return tables, summary


def import_kaggle(
    source_path: Path,
    data_dir: Path,
    progress: ProgressFn | None = None,
) -> ImportSummary:
    """Validate a Kaggle download (folder or zip) and write it as the store under ``data_dir``.

    Nothing is written unless every league validates; the previous store stays as it was.

    Raises:
        DataValidationError: the source is unreadable or a file fails validation.
    """
    started = time.perf_counter()
    say = progress or (lambda _msg: None)
    with KaggleSource(Path(source_path)) as source:
        leagues = [lg for lg in LEAGUES if source.has(f"{lg}RegularSeasonCompactResults.csv")]
        if not leagues:
            raise DataValidationError(
                f"Source '{source_path}' holds no Kaggle results: expected "
                "MRegularSeasonCompactResults.csv or WRegularSeasonCompactResults.csv in it "
                "(at the top or inside one folder)."
            )
        check_writable_dir(Path(data_dir), "--data-dir")
        # The demo league is always imported from the folder it was generated into.
        demo = Path(source_path).is_dir() and (Path(source_path) / DEMO_MARKER_FILE).is_file()
        chunks: list[bytes] = []
        tables: dict[League, LeagueTables] = {}
        summaries: dict[str, LeagueSummary] = {}
        for league in leagues:
            tables[league], summaries[league] = read_league(source, league, chunks, say)
    digest = digest_bytes(chunks)
    manifest = {
        "format_version": FORMAT_VERSION,
        "ncaa_eval_version": __version__,
        "source_digest": digest,
        "demo": demo,
        "leagues": {lg: s.as_dict() for lg, s in summaries.items()},
    }
    say("writing the Parquet store")
    try:
        store = write_store(Path(data_dir), tables, manifest)
    except OSError as exc:  # disk full, permissions changed meanwhile: the old store is kept
        raise NcaaEvalError(
            f"Cannot write the data store in '{data_dir}' ({exc.strerror or exc}); the previous "
            "store is unchanged: free some space or choose another --data-dir."
        ) from exc
    return ImportSummary(
        store=store,
        leagues=summaries,
        source_digest=digest,
        demo=demo,
        seconds=time.perf_counter() - started,
    )
