"""The git commit a run was made from, and whether the checkout had uncommitted changes."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import NamedTuple

#: Seconds each git command may take; a hung git (network filesystem, credential prompt) must not
#: hang a training run, and "unknown" is an acceptable answer.
GIT_TIMEOUT = 5.0

_HASH_RE = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")


class GitInfo(NamedTuple):
    """A commit hash (``"unknown"`` when there is none) and the dirty flag (``None`` if unknown)."""

    hash: str
    dirty: bool | None


UNKNOWN = GitInfo("unknown", None)


def _git(args: list[str], cwd: Path) -> str | None:
    env = dict(os.environ)
    # `git status` otherwise refreshes the index and takes index.lock, which can make a git
    # command the user is running at the same moment fail.
    env["GIT_OPTIONAL_LOCKS"] = "0"
    # Never wait on an interactive prompt.
    env["GIT_TERMINAL_PROMPT"] = "0"
    try:
        result = subprocess.run(
            ["git", *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError):
        # git missing, cwd missing, or timed out.
        return None
    return result.stdout if result.returncode == 0 else None


def git_info(path: Path | None = None) -> GitInfo:
    """Describe the git checkout containing ``path``.

    ``dirty`` is True when tracked files differ from ``HEAD`` (staged or not). Untracked files are
    ignored on purpose: the default MLflow store (``mlflow.db``, ``mlruns/``), data downloads and
    outputs are untracked files created inside the checkout, and they do not change what the
    committed code computes; counting them would mark nearly every run dirty.

    Args:
        path: A folder inside the checkout (default: the current working directory).

    Returns:
        ``GitInfo(hash, dirty)``; ``GitInfo("unknown", None)`` outside a repository, in a
        repository without commits, when git is not installed or when it does not answer within
        :data:`GIT_TIMEOUT` seconds. ``dirty`` is None if only the status check failed.
    """
    cwd = Path.cwd() if path is None else Path(path)
    head = _git(["rev-parse", "--verify", "--quiet", "HEAD"], cwd)
    commit = head.strip() if head else ""
    if not _HASH_RE.match(commit):
        return UNKNOWN
    status = _git(["status", "--porcelain", "--untracked-files=no"], cwd)
    return GitInfo(commit, None if status is None else bool(status.strip()))


def code_git_info() -> GitInfo:
    """Describe the checkout holding the imported ``ncaa_eval`` package: the code that runs.

    Not the current directory, which may be any other repository (a user's analysis project).
    An installed package (under ``site-packages``, even inside a virtual environment that lives
    in a checkout) is not described by any checkout: ``GitInfo("unknown", None)``.
    """
    import ncaa_eval

    source = Path(ncaa_eval.__file__).resolve().parent
    if "site-packages" in source.parts or "dist-packages" in source.parts:
        return UNKNOWN
    return git_info(source)
