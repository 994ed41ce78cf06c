"""What a failed or interrupted command must leave: the stores as they were, no RUNNING run.

The checks read the files themselves (SQLite through ``sqlite3``, Parquet folders byte for byte)
rather than going through ncaa-eval's or MLflow's code.
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

from tests.ingest.sources import demo_source, snapshot

#: The season whose NCAA tournament was cancelled (COVID-19); the test league leaves it out too.
NO_TOURNAMENT = 2020
_TOURNAMENT_FILES = (
    "MNCAATourneyCompactResults.csv",
    "MNCAATourneyDetailedResults.csv",
    "MNCAATourneySeeds.csv",
    "MNCAATourneySlots.csv",
)


def league_without_2020_tournament(dest: Path) -> Path:
    """The synthetic league's CSVs for 2018-2025, with no tournament in 2020 (as in reality)."""
    demo_source(dest, first_season=2018, last_season=2025)
    for name in _TOURNAMENT_FILES:
        path = dest / name
        lines = path.read_bytes().split(b"\n")
        kept = [ln for ln in lines if not ln.startswith(f"{NO_TOURNAMENT},".encode())]
        path.write_bytes(b"\n".join(kept))
    return dest


def sqlite_digest(db: Path) -> str:
    """sha256 of the database's logical content (its SQL dump), not of the file's pages."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        dump = "\n".join(conn.iterdump())
    conn.close()
    return hashlib.sha256(dump.encode()).hexdigest()


def run_statuses(db: Path) -> dict[str, str]:
    """run id -> status, straight from MLflow's ``runs`` table."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT run_uuid, status FROM runs").fetchall()
    conn.close()
    return {str(run_id): str(status) for run_id, status in rows}


def folder_digest(folder: Path, skip: tuple[str, ...] = ()) -> str:
    """sha256 over every file's relative path and bytes under ``folder`` (``skip``: names)."""
    h = hashlib.sha256()
    if not folder.exists():
        return "absent"
    for name, data in snapshot(folder).items():
        if Path(name).name in skip:
            continue
        h.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    return h.hexdigest()


def temp_leftovers(folder: Path) -> list[str]:
    """Files or folders under ``folder`` with a temporary name (``.store-*``, ``.*.tmp``...)."""
    if not folder.exists():
        return []
    return sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.name.startswith((".store-", ".ncaa-eval-probe-")) or p.name.endswith(".tmp")
    )
