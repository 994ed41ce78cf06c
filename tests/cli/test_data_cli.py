"""``ncaa-eval data``: info on the real and demo stores, import output, demo, and fetch.

``data fetch`` talks to Kaggle through the ``kaggle`` package; its download service is the one
thing faked here (a stand-in ``kaggle.api.kaggle_api_extended`` module that writes a zip).
"""

from __future__ import annotations

import importlib.machinery
import re
import shutil
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import Result

from ncaa_eval.ingest import ParquetRepository
from tests.conftest import Invoke
from tests.ingest.sources import demo_source, snapshot, zip_folder

ANSI = re.compile(r"\x1b\[[0-9;]*m")
SLUG = "march-machine-learning-mania-2025"


def _text(result: Result) -> str:
    """The output without colour codes, whitespace collapsed (rich wraps long lines)."""
    return " ".join(ANSI.sub("", result.output).split())


def _table_rows(result: Result) -> list[list[str]]:
    """Cells of every rich table body row (lines framed by │)."""
    rows = []
    for line in ANSI.sub("", result.output).splitlines():
        if line.startswith("│"):
            rows.append([cell.strip() for cell in line.strip("│").split("│")])
    return rows


def _one_error_line(result: Result) -> str:
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error: ")
    return lines[0]


# --- data info ----------------------------------------------------------------------------------


@pytest.mark.kaggle
def test_info_on_the_real_store(kaggle_store: Path, run_cli: Invoke) -> None:
    result = run_cli("data", "info", "--data-dir", str(kaggle_store))
    repo = ParquetRepository(kaggle_store)
    text = _text(result)
    assert f"(Kaggle data, source digest {repo.digest})" in text
    assert "demo" not in text
    assert "men (M)" in text
    assert "women (W)" in text
    rows = _table_rows(result)
    men = {r[0]: r[1:] for r in rows[:42]}
    women = {r[0]: r[1:] for r in rows[42:]}
    m, w = repo.manifest["leagues"]["M"], repo.manifest["leagues"]["W"]
    assert men["41 seasons"] == [
        f"{m['games']:,}",
        f"{m['tournament_games']:,}",
        f"{m['box_score_games']:,}",
        "23 seasons",
    ]
    assert women["28 seasons"] == [
        f"{w['games']:,}",
        f"{w['tournament_games']:,}",
        f"{w['box_score_games']:,}",
        "0 seasons",
    ]
    assert men["2020"][1:] == ["0", men["2020"][0], "yes"]  # no tournament, every box score
    assert men["2025"][1:] == ["67", "0", "yes"]
    assert men["2002"][1:] == ["64", "0", "-"]
    assert men["2021"][1] == "66"
    assert women["2022"][1] == "67"
    assert women["1998"][3] == "-"


def test_info_on_the_demo_store(demo_store: Path, run_cli: Invoke) -> None:
    result = run_cli("data", "info", "--data-dir", str(demo_store))
    text = _text(result)
    assert "synthetic demo league" in text
    assert "men (M)" in text
    assert "women" not in text
    totals = [r for r in _table_rows(result) if r[0].endswith("seasons")]
    assert totals[0][0] == "8 seasons"
    assert totals[0][4] == "8 seasons"  # the demo has ordinals every season


def test_info_reads_the_data_dir_from_the_environment(
    demo_store: Path, run_cli: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NCAA_EVAL_DATA_DIR", str(demo_store))
    assert "synthetic demo league" in _text(run_cli("data", "info"))


def test_info_without_a_store_is_one_error_line(tmp_path: Path, run_cli: Invoke) -> None:
    result = run_cli("data", "info", "--data-dir", str(tmp_path / "empty"), expect=1)
    line = _one_error_line(result)
    assert "No data store" in line
    assert "ncaa-eval data import" in line


# --- data import and data demo ------------------------------------------------------------------


def test_import_prints_a_summary(tmp_path: Path, run_cli: Invoke) -> None:
    src = demo_source(tmp_path / "kaggle")
    (src / "MMasseyOrdinals.csv").unlink()
    data_dir = tmp_path / "data"
    result = run_cli("data", "import", str(src), "--data-dir", str(data_dir))
    repo = ParquetRepository(data_dir)
    text = _text(result)
    assert "Imported into" in text
    assert f"{repo.manifest['leagues']['M']['games']:,}" in text
    assert "men: optional files not found, skipped: MMasseyOrdinals.csv" in text
    assert "This is the synthetic demo league." in text  # the generated folder carries the marker
    assert result.stderr == ""


def test_demo_builds_and_reports_a_demo_store(tmp_path: Path, run_cli: Invoke) -> None:
    data_dir = tmp_path / "data"
    result = run_cli("data", "demo", "--seasons", "2", "--seed", "3", "--data-dir", str(data_dir))
    assert "This is the synthetic demo league." in _text(result)
    repo = ParquetRepository(data_dir)
    assert repo.is_demo
    assert repo.seasons_available("M") == [2024, 2025]
    run_cli("data", "demo", "--seasons", "1", "--data-dir", str(data_dir), expect=2)


# --- data fetch ---------------------------------------------------------------------------------


@dataclass
class FakeKaggle:
    """What the stand-in Kaggle API was asked to do, and what it serves."""

    payload: Path
    fail: Exception | None = None
    calls: list[tuple[str, ...]] = field(default_factory=list)


def _module(name: str) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__spec__ = importlib.machinery.ModuleSpec(name, loader=None)
    return module


@pytest.fixture
def no_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No Kaggle credentials anywhere: env vars unset, an empty config dir."""
    for var in ("KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_API_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    config = tmp_path / "kaggle-config"
    config.mkdir()
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(config))
    return config


@pytest.fixture
def fake_kaggle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeKaggle:
    """A stand-in for the kaggle package whose download writes a zip of a small valid source."""
    fake = FakeKaggle(payload=demo_source(tmp_path / "served", 2024, 2025, seed=5))

    class KaggleApi:
        def authenticate(self) -> None:
            fake.calls.append(("authenticate",))

        def competition_download_files(
            self, competition: str, path: str | None = None, force: bool = False, quiet: bool = True
        ) -> None:
            fake.calls.append(("download", competition, str(path)))
            if fake.fail is not None:
                raise fake.fail
            zip_folder(fake.payload, Path(str(path)) / f"{competition}.zip")

    extended = _module("kaggle.api.kaggle_api_extended")
    extended.KaggleApi = KaggleApi  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "kaggle", _module("kaggle"))
    monkeypatch.setitem(sys.modules, "kaggle.api", _module("kaggle.api"))
    monkeypatch.setitem(sys.modules, "kaggle.api.kaggle_api_extended", extended)
    return fake


def test_fetch_without_the_kaggle_package_says_how_to_install(
    tmp_path: Path, run_cli: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "kaggle", None)  # what an absent package looks like
    monkeypatch.setenv("KAGGLE_USERNAME", "someone")
    monkeypatch.setenv("KAGGLE_KEY", "0123456789abcdef")
    result = run_cli("data", "fetch", "--data-dir", str(tmp_path / "data"), expect=1)
    line = _one_error_line(result)
    assert "kaggle package is not installed" in line
    assert "pip install 'ncaa-eval[kaggle]'" in line
    assert not (tmp_path / "data" / "store").exists()


def test_fetch_without_the_package_nor_credentials_asks_to_install_first(
    tmp_path: Path, run_cli: Invoke, monkeypatch: pytest.MonkeyPatch, no_credentials: Path
) -> None:
    monkeypatch.setitem(sys.modules, "kaggle", None)
    line = _one_error_line(run_cli("data", "fetch", "--data-dir", str(tmp_path), expect=1))
    assert "pip install 'ncaa-eval[kaggle]'" in line


def test_fetch_downloads_and_imports(
    tmp_path: Path,
    run_cli: Invoke,
    monkeypatch: pytest.MonkeyPatch,
    fake_kaggle: FakeKaggle,
    no_credentials: Path,
) -> None:
    monkeypatch.setenv("KAGGLE_USERNAME", "someone")
    monkeypatch.setenv("KAGGLE_KEY", "0123456789abcdef")
    data_dir = tmp_path / "data"
    result = run_cli("data", "fetch", "--data-dir", str(data_dir))
    downloads = data_dir / "downloads"
    assert fake_kaggle.calls == [("authenticate",), ("download", SLUG, str(downloads))]
    assert (downloads / f"{SLUG}.zip").is_file()
    repo = ParquetRepository(data_dir)
    assert repo.seasons_available("M") == [2024, 2025]
    assert not repo.is_demo  # imported from a zip: the demo marker only counts in a folder
    text = _text(result)
    assert "Imported into" in text
    assert f"{repo.manifest['leagues']['M']['games']:,}" in text


def test_fetch_with_another_competition_and_a_kaggle_json(
    tmp_path: Path, run_cli: Invoke, fake_kaggle: FakeKaggle, no_credentials: Path
) -> None:
    (no_credentials / "kaggle.json").write_text('{"username": "someone", "key": "abc"}')
    data_dir = tmp_path / "data"
    run_cli("data", "fetch", "--competition", "march-mania-2026", "--data-dir", str(data_dir))
    assert fake_kaggle.calls[-1][1] == "march-mania-2026"
    assert ParquetRepository(data_dir).seasons_available("M") == [2024, 2025]


def test_fetch_without_credentials_says_how_to_set_them(
    tmp_path: Path, run_cli: Invoke, fake_kaggle: FakeKaggle, no_credentials: Path
) -> None:
    result = run_cli("data", "fetch", "--data-dir", str(tmp_path / "data"), expect=1)
    line = _one_error_line(result)
    assert "No Kaggle credentials found" in line
    assert "KAGGLE_USERNAME" in line
    assert "KAGGLE_KEY" in line
    assert "kaggle.json" in line
    assert fake_kaggle.calls == []  # nothing was asked of Kaggle


def test_a_failed_download_is_one_error_line_and_keeps_the_old_store(
    demo_store: Path,
    tmp_path: Path,
    run_cli: Invoke,
    monkeypatch: pytest.MonkeyPatch,
    fake_kaggle: FakeKaggle,
    no_credentials: Path,
) -> None:
    monkeypatch.setenv("KAGGLE_API_TOKEN", "token-from-the-new-kaggle-cli")
    data_dir = tmp_path / "data"
    shutil.copytree(demo_store, data_dir)
    before = snapshot(data_dir)
    fake_kaggle.fail = RuntimeError("403 Forbidden: accept the competition rules")
    line = _one_error_line(run_cli("data", "fetch", "--data-dir", str(data_dir), expect=1))
    assert f"Downloading Kaggle competition '{SLUG}' failed" in line
    assert "403 Forbidden" in line
    assert snapshot(data_dir) == before


def test_a_kaggle_package_that_exits_on_import_is_one_error_line(
    tmp_path: Path, run_cli: Invoke, monkeypatch: pytest.MonkeyPatch, no_credentials: Path
) -> None:
    """The real kaggle package authenticates when imported and calls exit(1) when that fails."""
    package = tmp_path / "site" / "kaggle"
    (package / "api").mkdir(parents=True)
    (package / "__init__.py").write_text(
        "print('Could not find kaggle.json. Make sure it is located in ~/.kaggle.')\n"
        "raise SystemExit(1)\n"
    )
    (package / "api" / "__init__.py").write_text("")
    (package / "api" / "kaggle_api_extended.py").write_text("class KaggleApi: ...\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    for name in [m for m in sys.modules if m == "kaggle" or m.startswith("kaggle.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setenv("KAGGLE_USERNAME", "someone")
    monkeypatch.setenv("KAGGLE_KEY", "0123456789abcdef")
    try:
        result = run_cli("data", "fetch", "--data-dir", str(tmp_path / "data"), expect=1)
    finally:
        for name in [m for m in sys.modules if m == "kaggle" or m.startswith("kaggle.")]:
            del sys.modules[name]
    errors = [ln for ln in result.output.splitlines() if ln.startswith("Error: ")]
    assert len(errors) == 1, result.output
    assert errors[0].startswith("Error: The kaggle package failed to start (SystemExit: 1)")
    assert "KAGGLE_USERNAME" in errors[0]
    assert result.stderr.strip() == errors[0]
