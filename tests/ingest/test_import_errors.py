"""Damaged sources: one-line errors naming file, line and column, and the old store untouched.

Each case copies a small trimmed source (real men's files, 2024-2025, no ordinals) into
``tmp_path``, damages one thing, and imports it into a data dir that already holds a good store.
"""

from __future__ import annotations

import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from ncaa_eval.errors import DataValidationError
from ncaa_eval.ingest import ParquetRepository, import_kaggle
from ncaa_eval.ingest.repository import PARTITIONED, TABLES, LeagueTables, write_store
from tests.conftest import Invoke
from tests.ingest.sources import (
    build_source,
    field,
    insert_line,
    leftovers,
    read_lines,
    set_field,
    snapshot,
    store_tables,
    zip_folder,
)

REGULAR = "MRegularSeasonCompactResults.csv"
TOURNEY = "MNCAATourneyCompactResults.csv"
SEEDS = "MNCAATourneySeeds.csv"
TEAMS = "MTeams.csv"


@pytest.fixture(scope="module")
def template(kaggle_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The good small source (men only, 2024-2025, required files plus small optional ones)."""
    return build_source(kaggle_dir, tmp_path_factory.mktemp("template") / "kaggle")


@pytest.fixture(scope="module")
def good_store(template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("good-store")
    import_kaggle(template, data_dir)
    return data_dir


@dataclass(frozen=True)
class Workspace:
    """A fresh copy of the good source and of a data dir holding the good store."""

    source: Path
    data_dir: Path
    before: dict[str, bytes]


@pytest.fixture
def work(template: Path, good_store: Path, tmp_path: Path) -> Workspace:
    source = tmp_path / "kaggle"
    shutil.copytree(template, source)
    data_dir = tmp_path / "data"
    shutil.copytree(good_store, data_dir)
    return Workspace(source, data_dir, snapshot(data_dir))


# --- the damage ---------------------------------------------------------------------------------

Damage = Callable[[Path], Path]  # damages the source folder, returns what to import


def _in(name: str, edit: Callable[[Path], object]) -> Damage:
    def damage(src: Path) -> Path:
        edit(src / name)
        return src

    return damage


def _set(name: str, line: int, column: str, value: str | bytes) -> Damage:
    return _in(name, lambda p: set_field(p, line, column, value))


def _winner_equals_loser(p: Path) -> None:
    set_field(p, 10, "WScore", field(p, 10, "LScore"))


def _duplicate_line_10(p: Path) -> None:
    insert_line(p, 11, read_lines(p)[9])


def _duplicate_line_10_reversed(p: Path) -> None:
    """The same two teams on the same day again, the other one winning: the same game id."""
    cols = read_lines(p)[0].decode().split(",")
    row = dict(zip(cols, read_lines(p)[9].decode().split(","), strict=True))
    flipped = {
        **row,
        "WTeamID": row["LTeamID"],
        "LTeamID": row["WTeamID"],
        "WScore": str(int(row["WScore"]) + 3),
        "LScore": row["WScore"],
        "WLoc": "N",
    }
    insert_line(p, 11, ",".join(flipped[c] for c in cols).encode())


def _rename_header(old: bytes, new: bytes) -> Callable[[Path], None]:
    def edit(p: Path) -> None:
        raw = p.read_bytes()
        header, rest = raw.split(b"\n", 1)
        p.write_bytes(header.replace(old, new, 1) + b"\n" + rest)

    return edit


def _cut_inside_line_101(p: Path) -> None:
    lines = read_lines(p)
    p.write_bytes(b"\n".join(lines[:100]) + b"\n" + lines[100][:9])


def _remove(name: str) -> Damage:
    def damage(src: Path) -> Path:
        (src / name).unlink()
        return src

    return damage


def _zipped(src: Path) -> Path:
    return zip_folder(src, src.parent / "download.zip")


def _truncated_zip(src: Path) -> Path:
    archive = _zipped(src)
    raw = archive.read_bytes()
    archive.write_bytes(raw[: len(raw) // 2])
    return archive


def _zip_with_corrupt_member(src: Path) -> Path:
    archive = _zipped(src)
    with zipfile.ZipFile(archive) as zf:
        info = zf.getinfo(REGULAR)
    # Local header: 30 bytes + name + extra field; the compressed data follows.
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    raw = bytearray(archive.read_bytes())
    for i in range(start + 2_000, start + 2_200):
        raw[i] ^= 0x5A
    archive.write_bytes(bytes(raw))
    return archive


def _not_a_zip(src: Path) -> Path:
    fake = src.parent / "download.zip"
    fake.write_text("<html>Kaggle: please sign in</html>\n")
    return fake


def _empty_zip_file(src: Path) -> Path:
    fake = src.parent / "download.zip"
    fake.write_bytes(b"")
    return fake


def _zip_without_csvs(src: Path) -> Path:
    archive = src.parent / "download.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("README.txt", "nothing here")
    return archive


@dataclass(frozen=True)
class Case:
    id: str
    damage: Damage
    expect: tuple[str, ...]  # fragments the one-line message must hold


CASES = [
    Case(
        "missing-column",
        _in(TOURNEY, _rename_header(b"WLoc", b"Where")),
        (TOURNEY, "missing column 'WLoc'"),
    ),
    Case(
        "header-with-stray-space",
        _in(REGULAR, _rename_header(b"DayNum", b" DayNum")),
        (REGULAR, "missing column 'DayNum'"),
    ),
    Case(
        "non-numeric-score",
        _set(REGULAR, 10, "WScore", "abc"),
        (f"{REGULAR} line 10", "column WScore", "'abc'"),
    ),
    Case(
        "score-out-of-range",
        _set(TOURNEY, 7, "LScore", "99999"),
        (f"{TOURNEY} line 7", "column LScore", "99999"),
    ),
    Case(
        "missing-value",
        _set(REGULAR, 10, "NumOT", ""),
        (f"{REGULAR} line 10", "column NumOT", "missing"),
    ),
    Case(
        "winner-not-above-loser",
        _in(REGULAR, _winner_equals_loser),
        (f"{REGULAR} line 10", "column WScore", "not above"),
    ),
    Case(
        "unknown-team",
        _set(REGULAR, 10, "LTeamID", "9999"),
        (f"{REGULAR} line 10", "column LTeamID", "9999", TEAMS),
    ),
    Case(
        "unknown-seeded-team",
        _set(SEEDS, 5, "TeamID", "1000"),
        (f"{SEEDS} line 5", "column TeamID", "1000"),
    ),
    Case(
        "court-x",
        _set(REGULAR, 10, "WLoc", "X"),
        (f"{REGULAR} line 10", "column WLoc", "'X'"),
    ),
    Case(
        "bad-seed",
        _set(SEEDS, 10, "Seed", "Q99"),
        (f"{SEEDS} line 10", "column Seed", "'Q99'"),
    ),
    Case(
        "seed-number-17",
        _set(SEEDS, 3, "Seed", "W17"),
        (f"{SEEDS} line 3", "column Seed", "'W17'"),
    ),
    Case(
        "bad-day-zero",
        _set("MSeasons.csv", 5, "DayZero", "2024-11-04"),
        ("MSeasons.csv line 5", "column DayZero"),
    ),
    Case(
        "duplicated-game-row",
        _in(REGULAR, _duplicate_line_10),
        (f"{REGULAR} line 12", "listed twice"),
    ),
    Case(
        "same-game-twice-with-winner-swapped",
        _in(REGULAR, _duplicate_line_10_reversed),
        (f"{REGULAR} line 12", "listed twice"),
    ),
    Case(
        "box-score-disagrees",
        _in(
            "MNCAATourneyDetailedResults.csv",
            lambda p: set_field(p, 4, "WScore", str(int(field(p, 4, "WScore")) + 1)),
        ),
        ("MNCAATourneyDetailedResults.csv line 4", "column WScore"),
    ),
    Case(
        "file-cut-mid-row",
        _in(REGULAR, _cut_inside_line_101),
        (f"{REGULAR} line 101", "malformed"),
    ),
    Case(
        "unterminated-quote",
        _set(REGULAR, 10, "LScore", '"70'),
        (f"{REGULAR} line 10", "malformed"),
    ),
    Case(
        "not-text",
        _set(TEAMS, 3, "TeamName", b"Air\x81Force"),
        (f"{TEAMS} line 3", "UTF-8"),
    ),
    Case("empty-file", _in(TEAMS, lambda p: p.write_bytes(b"")), (TEAMS, "empty")),
    Case("missing-required-file", _remove(SEEDS), (SEEDS, "missing", "required")),
    Case("truncated-zip", _truncated_zip, ("download.zip", "truncated")),
    Case("zip-with-damaged-member", _zip_with_corrupt_member, (REGULAR, "download.zip", "damaged")),
    Case("not-a-zip", _not_a_zip, ("download.zip", "neither a folder nor a zip")),
    Case("empty-zip-file", _empty_zip_file, ("download.zip",)),
    Case("zip-without-csvs", _zip_without_csvs, ("download.zip", "no Kaggle results")),
    Case(
        "source-does-not-exist", lambda src: src.parent / "nowhere", ("nowhere", "does not exist")
    ),
]


@pytest.mark.kaggle
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_damage_is_a_one_line_error_and_the_old_store_survives(work: Workspace, case: Case) -> None:
    target = case.damage(work.source)
    with pytest.raises(DataValidationError) as raised:
        import_kaggle(target, work.data_dir)
    message = str(raised.value)
    assert "\n" not in message
    assert "\r" not in message
    for fragment in case.expect:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    assert snapshot(work.data_dir) == work.before
    assert leftovers(work.data_dir) == []


@pytest.mark.kaggle
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_damage_through_the_cli_is_exit_1_and_one_error_line(
    work: Workspace, case: Case, run_cli: Invoke
) -> None:
    target = case.damage(work.source)
    result = run_cli("data", "import", str(target), "--data-dir", str(work.data_dir), expect=1)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error: ")
    for fragment in case.expect:
        assert fragment in lines[0]
    assert result.stdout == ""  # the error goes to stderr
    assert snapshot(work.data_dir) == work.before
    assert leftovers(work.data_dir) == []


# --- variations that must import fine -----------------------------------------------------------


def _crlf(src: Path) -> None:
    for p in src.glob("*.csv"):
        p.write_bytes(p.read_bytes().replace(b"\n", b"\r\n"))


def _bom(src: Path) -> None:
    for p in src.glob("*.csv"):
        p.write_bytes(b"\xef\xbb\xbf" + p.read_bytes())


def _crlf_and_bom(src: Path) -> None:
    _crlf(src)
    _bom(src)


@pytest.mark.kaggle
@pytest.mark.parametrize("variant", [_crlf, _bom, _crlf_and_bom], ids=["crlf", "bom", "both"])
def test_windows_line_endings_and_bom_import_to_the_same_tables(
    work: Workspace, good_store: Path, variant: Callable[[Path], None]
) -> None:
    variant(work.source)
    import_kaggle(work.source, work.data_dir)
    good, got = store_tables(good_store), store_tables(work.data_dir)
    assert sorted(good) == sorted(got)
    assert [name for name in good if not good[name].equals(got[name])] == []
    # Region names are the last column of MSeasons.csv: no stray "\r" may survive.
    regions = ParquetRepository(work.data_dir).seasons("M")["region_z"].dropna()
    assert not regions.str.contains("\r").any()


@pytest.mark.kaggle
@pytest.mark.parametrize("encoding", ["latin-1", "cp1252"])
def test_a_latin1_team_name_imports(work: Workspace, encoding: str) -> None:
    teams = work.source / TEAMS
    assert field(teams, 2, "TeamName") == "Abilene Chr"
    set_field(teams, 2, "TeamName", "Abilène Chr".encode(encoding))
    set_field(teams, 3, "TeamName", "Air Force Ñ".encode(encoding))
    import_kaggle(work.source, work.data_dir)
    names = ParquetRepository(work.data_dir).teams("M").set_index("team_id")["team_name"]
    assert names[1101] == "Abilène Chr"
    assert names[1102] == "Air Force Ñ"


@pytest.mark.kaggle
def test_a_header_only_optional_file_is_empty_not_an_error(work: Workspace) -> None:
    slots = work.source / "MNCAATourneySlots.csv"
    slots.write_bytes(read_lines(slots)[0] + b"\n")
    summary = import_kaggle(work.source, work.data_dir)
    assert summary.leagues["M"].missing_optional == ["MMasseyOrdinals.csv"]  # not slots
    assert ParquetRepository(work.data_dir).slots("M").empty


# --- the write itself is atomic -----------------------------------------------------------------


def _tables_of(data_dir: Path) -> LeagueTables:
    """The demo store's men's tables (games and ordinals: their first season only)."""
    root = data_dir / "store" / "M"
    tables = {name: pq.read_table(root / f"{name}.parquet") for name in TABLES}
    for name in PARTITIONED:
        tables[name] = pq.read_table(sorted((root / name).glob("season=*.parquet"))[0])
    return LeagueTables(**tables)


@pytest.mark.parametrize("interrupt", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_a_write_that_fails_midway_leaves_the_old_store(
    demo_store: Path, tmp_path: Path, interrupt: BaseException
) -> None:
    data_dir = tmp_path / "data"
    shutil.copytree(demo_store, data_dir)
    before = snapshot(data_dir)
    tables = _tables_of(data_dir)
    written: list[str] = []

    def fail_after_games(league: str, name: str) -> None:
        written.append(name)
        if name == "ordinals":
            raise interrupt

    with pytest.raises(type(interrupt)):
        write_store(data_dir, {"M": tables}, {"broken": True}, on_table=fail_after_games)
    assert written == ["games", "ordinals"]
    assert snapshot(data_dir) == before
    assert leftovers(data_dir) == []
    assert ParquetRepository(data_dir).is_demo
