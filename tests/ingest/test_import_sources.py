"""The same data given as a folder, a zip, a zip with one folder inside, or imported twice, gives
the same store; missing optional files are reported, unknown extra files ignored.

Sources are trimmed copies of the real Kaggle files built in ``tmp_path`` (two seasons, both
leagues, every optional file, the last season's Massey ordinals).
"""

from __future__ import annotations

import re
import shutil
import zipfile
from pathlib import Path

import pytest

from ncaa_eval.ingest import ParquetRepository, import_kaggle
from tests.conftest import Invoke
from tests.ingest.sources import (
    REQUIRED,
    SMALL_OPTIONAL,
    assert_same_store,
    build_source,
    leftovers,
    manifest,
    snapshot,
    zip_folder,
)

pytestmark = pytest.mark.kaggle

ALL_OPTIONAL = {
    "M": [f"M{f}" for f in (*SMALL_OPTIONAL, "MasseyOrdinals.csv")],
    "W": [f"W{f}" for f in SMALL_OPTIONAL],  # Kaggle ships no women's ordinals: never "missing"
}


@pytest.fixture(scope="module")
def source(kaggle_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Both leagues, 2024-2025, every optional file (ordinals: the last ~14,000 rows)."""
    return build_source(
        kaggle_dir,
        tmp_path_factory.mktemp("source") / "kaggle",
        leagues=("M", "W"),
        first_season=2024,
        ordinals_bytes=300_000,
    )


@pytest.fixture(scope="module")
def folder_store(source: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("folder-store")
    import_kaggle(source, data_dir)
    return data_dir


def test_the_trimmed_source_imports_everything(folder_store: Path) -> None:
    repo = ParquetRepository(folder_store)
    assert repo.leagues == ["M", "W"]
    assert not repo.is_demo
    for league in ("M", "W"):
        summary = repo.manifest["leagues"][league]
        assert summary["missing_optional"] == []
        assert (summary["first_season"], summary["last_season"]) == (2024, 2025)
        assert repo.seasons_available(league) == [2024, 2025]
        assert len(repo.slots(league)) > 0
        assert len(repo.conferences(league)) > 0
    assert repo.seasons_available("M", "ordinals") == [2025]
    assert repo.manifest["leagues"]["M"]["ordinal_rows"] > 10_000
    assert repo.games("M")["has_box_score"].any()


@pytest.mark.parametrize(
    ("inner", "junk"),
    [("", False), ("march-machine-learning-mania-2025", True)],
    ids=["files-at-top", "inside-one-folder-with-macos-junk"],
)
def test_a_zip_gives_the_same_store_as_the_folder(
    source: Path, folder_store: Path, tmp_path: Path, inner: str, junk: bool
) -> None:
    archive = zip_folder(source, tmp_path / "download.zip", inner=inner, junk=junk)
    data_dir = tmp_path / "data"
    summary = import_kaggle(archive, data_dir)
    assert summary.store == data_dir / "store"
    assert not summary.demo
    assert_same_store(folder_store, data_dir)
    assert snapshot(folder_store / "store") == snapshot(data_dir / "store")
    assert leftovers(data_dir) == []


def test_a_folder_holding_one_folder_gives_the_same_store(
    source: Path, folder_store: Path, tmp_path: Path
) -> None:
    shutil.copytree(source, tmp_path / "download" / "march-machine-learning-mania-2025")
    data_dir = tmp_path / "data"
    import_kaggle(tmp_path / "download", data_dir)
    assert snapshot(folder_store / "store") == snapshot(data_dir / "store")


def test_importing_twice_gives_byte_identical_files(
    source: Path, folder_store: Path, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    first = import_kaggle(source, data_dir)
    before = snapshot(data_dir)
    second = import_kaggle(source, data_dir)
    assert snapshot(data_dir) == before
    assert first.source_digest == second.source_digest
    assert leftovers(data_dir) == []
    # ... and the same bytes as an import into another folder.
    assert snapshot(folder_store) == before


# --- optional and extra files -------------------------------------------------------------------


@pytest.fixture
def required_only(kaggle_dir: Path, tmp_path: Path) -> Path:
    return build_source(
        kaggle_dir, tmp_path / "required", leagues=("M", "W"), first_season=2025, files=REQUIRED
    )


def test_missing_optional_files_are_reported_not_errors(
    required_only: Path, tmp_path: Path
) -> None:
    summary = import_kaggle(required_only, tmp_path / "data")
    for league, expected in ALL_OPTIONAL.items():
        assert sorted(summary.leagues[league].missing_optional) == sorted(expected)
        assert summary.leagues[league].box_score_games == 0
        assert summary.leagues[league].ordinal_rows == 0
    repo = ParquetRepository(tmp_path / "data")
    assert sorted(repo.manifest["leagues"]["M"]["missing_optional"]) == sorted(ALL_OPTIONAL["M"])
    assert repo.slots("M").empty
    assert repo.conferences("W").empty
    assert not repo.games("M")["has_box_score"].any()
    assert repo.seasons_available("M", "ordinals") == []
    assert repo.games("M")["is_tournament"].sum() == 67


@pytest.mark.parametrize("missing", [*SMALL_OPTIONAL, "MasseyOrdinals.csv"])
def test_each_optional_file_can_be_missing_alone(
    kaggle_dir: Path, tmp_path: Path, missing: str
) -> None:
    files = [f for f in (*REQUIRED, *SMALL_OPTIONAL) if f != missing]
    src = build_source(
        kaggle_dir, tmp_path / "src", first_season=2025, files=files, ordinals_bytes=50_000
    )
    (src / f"M{missing}").unlink(missing_ok=True)
    summary = import_kaggle(src, tmp_path / "data")
    assert summary.leagues["M"].missing_optional == [f"M{missing}"]


def test_the_cli_lists_missing_optional_files(
    required_only: Path, tmp_path: Path, run_cli: Invoke
) -> None:
    result = run_cli("data", "import", str(required_only), "--data-dir", str(tmp_path / "data"))
    text = " ".join(result.output.split())
    assert "optional files not found, skipped" in text
    for name in (*ALL_OPTIONAL["M"], *ALL_OPTIONAL["W"]):
        assert re.search(rf"\b{name}\b", text), name
    assert "WMasseyOrdinals.csv" not in text
    assert "Error" not in text


def test_unknown_extra_files_are_ignored(required_only: Path, tmp_path: Path) -> None:
    plain = import_kaggle(required_only, tmp_path / "plain")
    extra = tmp_path / "extra"
    shutil.copytree(required_only, extra)
    (extra / "MSomethingNew2026.csv").write_bytes(b"not,a,kaggle\nfile\x00\xff\n")
    (extra / "Cities.csv").write_bytes(b"CityID,City,State\n1,Abilene,TX\n")
    (extra / "README.txt").write_text("hello")
    (extra / "MTeams.CSV.bak").write_bytes(b"junk")
    (extra / "notes").mkdir()
    (extra / "notes" / "MTeams.csv").write_bytes(b"junk in a sub-folder\n")
    with_extra = import_kaggle(extra, tmp_path / "with-extra")
    assert with_extra.source_digest == plain.source_digest
    assert_same_store(tmp_path / "plain", tmp_path / "with-extra")
    # The same extras inside a zip.
    archive = tmp_path / "extra.zip"
    zip_folder(extra, archive, inner="kaggle")
    with zipfile.ZipFile(archive, "a") as zf:
        zf.writestr("kaggle/docs/MTeams.csv", b"deeper junk\n")
    import_kaggle(archive, tmp_path / "from-zip")
    assert_same_store(tmp_path / "plain", tmp_path / "from-zip")


def test_a_changed_source_changes_the_digest(required_only: Path, tmp_path: Path) -> None:
    changed = tmp_path / "changed"
    shutil.copytree(required_only, changed)
    same = import_kaggle(changed, tmp_path / "same")
    teams = changed / "MTeams.csv"
    teams.write_bytes(teams.read_bytes().replace(b"Abilene Chr", b"Abilene Christian"))
    other = import_kaggle(changed, tmp_path / "other")
    assert same.source_digest != other.source_digest
    assert manifest(tmp_path / "other")["source_digest"] == other.source_digest
    assert "Abilene Christian" in set(ParquetRepository(tmp_path / "other").teams("M")["team_name"])
