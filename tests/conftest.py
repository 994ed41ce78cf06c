"""Fixtures shared by the whole suite: the real Kaggle folder, stores, and the CLI runner."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from ncaa_eval.cli.main import cli

REPO_ROOT = Path(__file__).resolve().parents[1]
#: The real Kaggle CSVs live beside the repository, never inside it.
KAGGLE_DIR = Path(
    os.environ.get("NCAA_EVAL_KAGGLE_DIR", REPO_ROOT.parent / "shared" / "data" / "kaggle")
)


@pytest.fixture(scope="session")
def kaggle_dir() -> Path:
    """The real Kaggle download; tests that need it skip when it is absent."""
    if not (KAGGLE_DIR / "MRegularSeasonCompactResults.csv").is_file():
        pytest.skip(f"real Kaggle data not found at {KAGGLE_DIR} (set NCAA_EVAL_KAGGLE_DIR)")
    return KAGGLE_DIR


@pytest.fixture(scope="session")
def kaggle_store(kaggle_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir holding the real Kaggle data imported once per session (read-only use)."""
    from ncaa_eval.ingest import import_kaggle

    data_dir = tmp_path_factory.mktemp("kaggle-store")
    import_kaggle(kaggle_dir, data_dir)
    return data_dir


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir holding a small demo league (8 seasons), built once per session (read-only)."""
    from ncaa_eval.ingest import build_demo_store

    data_dir = tmp_path_factory.mktemp("demo-store")
    build_demo_store(data_dir, seed=7, n_seasons=8)
    return data_dir


Invoke = Callable[..., Result]


@pytest.fixture
def run_cli() -> Invoke:
    """Invoke the real Click group in-process; unexpected exceptions propagate."""
    runner = CliRunner()

    def invoke(*args: str, expect: int | None = 0) -> Result:
        result = runner.invoke(cli, list(args), catch_exceptions=False)
        if expect is not None:
            assert result.exit_code == expect, result.output
        return result

    return invoke
