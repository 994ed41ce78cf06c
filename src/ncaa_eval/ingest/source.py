"""Where Kaggle CSV files come from: a folder or a ``.zip``, files at the top or in one folder."""

from __future__ import annotations

import hashlib
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import IO

from ncaa_eval.errors import DataValidationError


class KaggleSource:
    """Read-only access to the CSV files of a Kaggle download, by file name.

    Args:
        path: a folder holding the CSVs (directly or inside exactly one sub-folder), or a zip
            archive laid out the same way.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        if not path.exists():
            raise DataValidationError(
                f"Source '{path}' does not exist: give the folder or .zip of a Kaggle download."
            )
        self._zip: zipfile.ZipFile | None = None
        if path.is_dir():
            self._files = self._index_folder(path)
        elif zipfile.is_zipfile(path):
            try:
                self._zip = zipfile.ZipFile(path)
            except (zipfile.BadZipFile, OSError) as exc:
                raise DataValidationError(f"Source '{path}' is not a readable zip: {exc}.") from exc
            self._files = self._index_zip(self._zip)
        else:
            raise DataValidationError(
                f"Source '{path}' is neither a folder nor a zip archive (it may be truncated): "
                "give the folder or the .zip of a Kaggle download."
            )

    @staticmethod
    def _index_folder(path: Path) -> dict[str, str]:
        files = {p.name: str(p) for p in path.iterdir() if p.suffix.lower() == ".csv"}
        if not files:
            subdirs = [p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")]
            if len(subdirs) == 1:
                files = {p.name: str(p) for p in subdirs[0].iterdir() if p.suffix.lower() == ".csv"}
        return files

    @staticmethod
    def _index_zip(archive: zipfile.ZipFile) -> dict[str, str]:
        by_depth: dict[int, dict[str, str]] = {}
        for info in archive.infolist():
            member = PurePosixPath(info.filename)
            if info.is_dir() or member.suffix.lower() != ".csv" or "__MACOSX" in member.parts:
                continue
            by_depth.setdefault(len(member.parts), {})[member.name] = info.filename
        if 1 in by_depth:
            return by_depth[1]
        if 2 in by_depth:
            return by_depth[2]
        return {}

    def names(self) -> set[str]:
        """The CSV file names available."""
        return set(self._files)

    def has(self, name: str) -> bool:
        """Whether a CSV of that exact name is present."""
        return name in self._files

    @contextmanager
    def open(self, name: str) -> Iterator[IO[bytes]]:
        """Open one CSV for binary reading."""
        where = self._files[name]
        if self._zip is not None:
            try:
                with self._zip.open(where) as handle:
                    yield handle
            except (zipfile.BadZipFile, EOFError, OSError, zlib.error) as exc:
                raise DataValidationError(
                    f"{name}: cannot be read from '{self.path}' ({exc}); the zip is damaged, "
                    "download it again."
                ) from exc
        else:
            with open(where, "rb") as handle:
                yield handle

    def read_bytes(self, name: str) -> bytes:
        """The whole file's bytes (zip members are decompressed and CRC-checked)."""
        with self.open(name) as handle:
            try:
                return handle.read()
            except (zipfile.BadZipFile, EOFError, OSError, zlib.error) as exc:
                raise DataValidationError(
                    f"{name}: cannot be read from '{self.path}' ({exc}); the zip is damaged, "
                    "download it again."
                ) from exc

    def close(self) -> None:
        """Release the zip file, if any."""
        if self._zip is not None:
            self._zip.close()

    def __enter__(self) -> KaggleSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def digest_bytes(chunks: list[bytes]) -> str:
    """A short, stable content digest (sha256, 16 hex chars)."""
    h = hashlib.sha256()
    for chunk in chunks:
        h.update(len(chunk).to_bytes(8, "little"))
        h.update(chunk)
    return h.hexdigest()[:16]
