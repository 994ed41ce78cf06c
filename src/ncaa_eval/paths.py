"""Checks on the folders a command will write to, made before any work starts."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ncaa_eval.errors import NcaaEvalError


def check_writable_dir(path: Path, option: str) -> None:
    """Make sure ``path`` is, or can be created as, a folder this process can write to.

    Nothing is left behind: when ``path`` does not exist yet, its nearest existing parent is
    probed with a temporary folder that is removed at once. Checked before an import or a
    training run starts, so that a bad folder fails in a second rather than after the work.

    Args:
        path: The folder.
        option: The option that named it, e.g. ``--data-dir``, for the message.

    Raises:
        NcaaEvalError: A part of ``path`` is a file, or the folder cannot be written to.
    """
    absolute = Path(os.path.abspath(path))
    existing = absolute
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise NcaaEvalError(
            f"{option} '{path}': '{existing}' is a file, not a folder; choose another {option}."
        )
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".ncaa-eval-probe-", dir=existing))
    except OSError as exc:
        raise NcaaEvalError(
            f"{option} '{path}': cannot write in '{existing}' ({exc.strerror}); choose a folder "
            f"you can write to with {option}."
        ) from exc


def user_file_mode() -> int:
    """The mode a new file gets under the user's umask (``0o666 & ~umask``).

    Files written atomically start as ``tempfile.mkstemp``'s private 0600; give them this mode
    before the rename, so that they end up as a plain ``open(path, "w")`` would have made them.
    """
    return 0o666 & ~_umask()


def _umask() -> int:
    """The process's umask: read from Linux's /proc without touching it, else set and put back
    (a moment in which another thread could create a file with the wrong mode)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_write(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` to write to; rename it over ``path`` at the end.

    The file is whole or absent, never half written, and it gets the user's umask rather than
    ``mkstemp``'s private 0600. On any exception the temporary file is removed.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, user_file_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
