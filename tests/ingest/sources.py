"""Helpers that build small Kaggle sources at test time and compare stores byte for byte.

The real Kaggle files are never copied into the repository: tests copy (and usually trim) the few
files they need into ``tmp_path`` and damage or zip them there.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ncaa_eval.ingest import DemoConfig, write_demo_csvs

#: Files every league needs (prefixed with ``M`` or ``W``).
REQUIRED = (
    "Teams.csv",
    "Seasons.csv",
    "RegularSeasonCompactResults.csv",
    "NCAATourneyCompactResults.csv",
    "NCAATourneySeeds.csv",
)
#: Optional files that stay small once trimmed to a few seasons.
SMALL_OPTIONAL = (
    "RegularSeasonDetailedResults.csv",
    "NCAATourneyDetailedResults.csv",
    "NCAATourneySlots.csv",
    "TeamConferences.csv",
)
ORDINALS = "MasseyOrdinals.csv"
#: Files that are copied whole (everything else is trimmed to ``first_season`` onwards).
_WHOLE = ("Teams.csv", "Seasons.csv")


def trim_csv(src: Path, dest: Path, first_season: int) -> None:
    """Copy ``src`` keeping the header and the rows whose first field (Season) >= first_season."""
    lines = src.read_bytes().split(b"\n")
    kept = [lines[0], *(ln for ln in lines[1:] if ln and int(ln.split(b",", 1)[0]) >= first_season)]
    dest.write_bytes(b"\n".join(kept) + b"\n")


def tail_csv(src: Path, dest: Path, n_bytes: int) -> None:
    """Copy the header and the whole rows in the last ``n_bytes`` of ``src`` (fast on 100+ MB)."""
    with src.open("rb") as handle:
        header = handle.readline()
        size = src.stat().st_size
        handle.seek(max(len(header), size - n_bytes))
        chunk = handle.read()
    rows = chunk.split(b"\n", 1)[1]  # drop the partial first row
    dest.write_bytes(header + rows)


def build_source(
    kaggle_dir: Path,
    dest: Path,
    *,
    leagues: Iterable[str] = ("M",),
    first_season: int = 2024,
    files: Iterable[str] = (*REQUIRED, *SMALL_OPTIONAL),
    ordinals_bytes: int = 0,
) -> Path:
    """A reduced Kaggle source in ``dest``: the given files of the given leagues, few seasons.

    ``ordinals_bytes`` > 0 adds the tail of MMasseyOrdinals.csv (the last season's rows).
    """
    dest.mkdir(parents=True, exist_ok=True)
    wanted = tuple(files)
    for league in leagues:
        for suffix in wanted:
            name = f"{league}{suffix}"
            src = kaggle_dir / name
            if not src.is_file():
                continue
            if suffix in _WHOLE:
                shutil.copyfile(src, dest / name)
            else:
                trim_csv(src, dest / name, first_season)
        if ordinals_bytes and (kaggle_dir / f"{league}{ORDINALS}").is_file():
            tail_csv(
                kaggle_dir / f"{league}{ORDINALS}", dest / f"{league}{ORDINALS}", ordinals_bytes
            )
    return dest


def demo_source(
    dest: Path, first_season: int = 2023, last_season: int = 2025, seed: int = 11
) -> Path:
    """The synthetic league's CSVs (men only) in ``dest``; needs no real data."""
    write_demo_csvs(dest, DemoConfig(seed=seed, first_season=first_season, last_season=last_season))
    return dest


# --- editing CSV files by line and column ------------------------------------------------------


def read_lines(path: Path) -> list[bytes]:
    """The file's lines (without the newline); line ``n`` of the file is ``[n - 1]``."""
    return path.read_bytes().split(b"\n")


def field(path: Path, line: int, column: str) -> str:
    """The value of ``column`` on 1-based ``line`` of a CSV file."""
    lines = read_lines(path)
    header = lines[0].decode().split(",")
    return lines[line - 1].decode().split(",")[header.index(column)]


def set_field(path: Path, line: int, column: str, value: str | bytes) -> None:
    """Replace the value of ``column`` on 1-based ``line`` of a CSV file, in place."""
    lines = read_lines(path)
    header = lines[0].decode().split(",")
    parts = lines[line - 1].split(b",")
    parts[header.index(column)] = value.encode() if isinstance(value, str) else value
    lines[line - 1] = b",".join(parts)
    path.write_bytes(b"\n".join(lines))


def insert_line(path: Path, after: int, content: bytes) -> None:
    """Insert ``content`` as a new line after 1-based line ``after``."""
    lines = read_lines(path)
    lines.insert(after, content)
    path.write_bytes(b"\n".join(lines))


# --- zips ---------------------------------------------------------------------------------------


def zip_folder(
    folder: Path,
    archive: Path,
    *,
    inner: str = "",
    compression: int = zipfile.ZIP_DEFLATED,
    junk: bool = False,
) -> Path:
    """Zip the CSVs of ``folder`` into ``archive``, at the top or under ``inner``/.

    ``junk`` adds what macOS Finder adds (``__MACOSX/._*`` and a ``.DS_Store``), which must be
    ignored.
    """
    with zipfile.ZipFile(archive, "w", compression) as zf:
        if inner:
            zf.writestr(f"{inner}/", b"")
        for path in sorted(folder.iterdir()):
            if path.is_file():
                zf.write(path, f"{inner}/{path.name}" if inner else path.name)
                if junk:
                    zf.writestr(f"__MACOSX/{inner}/._{path.name}", b"\x00\x05\x16\x07junk")
        if junk:
            zf.writestr(f"{inner}/.DS_Store" if inner else ".DS_Store", b"\x00\x00\x00\x01Bud1")
    return archive


# --- comparing stores ---------------------------------------------------------------------------


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` by relative path, with its bytes."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def store_tables(data_dir: Path) -> dict[str, pa.Table]:
    """Every Parquet table of the store under ``data_dir``, by relative path."""
    root = data_dir / "store"
    return {
        p.relative_to(root).as_posix(): pq.read_table(p) for p in sorted(root.rglob("*.parquet"))
    }


def manifest(data_dir: Path) -> dict[str, Any]:
    """The store's ``store.json``."""
    loaded: dict[str, Any] = json.loads((data_dir / "store" / "store.json").read_text())
    return loaded


def leftovers(data_dir: Path) -> list[str]:
    """Temporary folders an import may leave beside the store (there must be none)."""
    return sorted(p.name for p in data_dir.iterdir() if p.name.startswith(".store-"))


def assert_same_store(a: Path, b: Path) -> None:
    """Two data dirs hold the same tables (same files, equal Arrow tables) and manifest."""
    tables_a, tables_b = store_tables(a), store_tables(b)
    assert sorted(tables_a) == sorted(tables_b)
    differ = [name for name in tables_a if not tables_a[name].equals(tables_b[name])]
    assert not differ, f"tables differ: {differ}"
    assert manifest(a) == manifest(b)
