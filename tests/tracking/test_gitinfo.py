"""git_info inside a real temporary repository and outside any."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from ncaa_eval.tracking import GitInfo, git_info

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


@pytest.fixture(autouse=True)
def _isolated_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Keep git from finding a repository above tmp_path or reading the developer's config.
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def test_outside_a_repository_is_unknown(tmp_path: Path) -> None:
    assert git_info(tmp_path) == GitInfo("unknown", None)


def test_missing_folder_and_missing_git_are_unknown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert git_info(tmp_path / "nope") == GitInfo("unknown", None)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert git_info(tmp_path) == GitInfo("unknown", None)


def test_commit_then_dirty(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    assert git_info(repo) == GitInfo("unknown", None), "no commit yet"
    (repo / "model.py").write_text("K = 20\n")
    _git(repo, "add", "model.py")
    _git(repo, "commit", "-q", "-m", "init")
    head = _git(repo, "rev-parse", "HEAD")

    assert git_info(repo) == GitInfo(head, False)
    # Untracked files (mlflow.db, outputs) do not make the checkout dirty.
    (repo / "mlflow.db").write_bytes(b"")
    assert git_info(repo) == GitInfo(head, False)
    (repo / "model.py").write_text("K = 32\n")
    assert git_info(repo) == GitInfo(head, True)
    # A subfolder and the current directory (the default) find the same checkout.
    (repo / "sub").mkdir()
    assert git_info(repo / "sub") == GitInfo(head, True)
    monkeypatch.chdir(repo / "sub")
    assert git_info() == GitInfo(head, True)
