"""Optional download of a Kaggle competition with the ``kaggle`` package."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from pathlib import Path

from ncaa_eval.errors import NcaaEvalError

_SETUP = (
    "create an API token at kaggle.com (Account > API) and save it as ~/.kaggle/kaggle.json, "
    "or set KAGGLE_USERNAME and KAGGLE_KEY (or KAGGLE_API_TOKEN)"
)


def _has_credentials() -> bool:
    if os.environ.get("KAGGLE_API_TOKEN"):
        return True
    if os.environ.get("KAGGLE_USERNAME") and os.environ.get("KAGGLE_KEY"):
        return True
    config_dir = Path(os.environ.get("KAGGLE_CONFIG_DIR", Path.home() / ".kaggle"))
    return (config_dir / "kaggle.json").is_file() or (config_dir / "access_token").is_file()


def _kaggle_installed() -> bool:
    """Whether the kaggle package can be imported, without importing it."""
    try:
        return importlib.util.find_spec("kaggle") is not None
    except (ImportError, ValueError):  # ValueError: already imported, without a spec
        return sys.modules.get("kaggle") is not None


def fetch_competition(slug: str, dest: Path) -> Path:
    """Download competition ``slug``'s files into ``dest`` and return the zip's path.

    Raises:
        NcaaEvalError: the ``kaggle`` package or the credentials are missing, or the download
            failed (the message says how to fix it).
    """
    not_installed = (
        "The kaggle package is not installed: run `pip install 'ncaa-eval[kaggle]'`, then "
        f"{_SETUP}."
    )
    if not _kaggle_installed():
        raise NcaaEvalError(not_installed)
    # Checked before the import: importing the kaggle package authenticates at once and, when
    # that fails, prints its own message and exits the process.
    if not _has_credentials():
        raise NcaaEvalError(f"No Kaggle credentials found: {_SETUP}.")
    try:
        extended = importlib.import_module("kaggle.api.kaggle_api_extended")
    except ImportError as exc:
        raise NcaaEvalError(not_installed) from exc
    except (Exception, SystemExit) as exc:
        raise NcaaEvalError(
            f"The kaggle package failed to start ({type(exc).__name__}: {exc}): {_SETUP}."
        ) from exc
    api = extended.KaggleApi()
    dest.mkdir(parents=True, exist_ok=True)
    try:
        api.authenticate()
        api.competition_download_files(slug, path=str(dest), quiet=True)
    except (Exception, SystemExit) as exc:  # kaggle exits when authentication fails
        raise NcaaEvalError(
            f"Downloading Kaggle competition '{slug}' failed: {exc}. Check the slug, that you "
            "accepted the competition's rules on kaggle.com, and your network."
        ) from exc
    archive = dest / f"{slug}.zip"
    if not archive.is_file():
        zips = sorted(dest.glob("*.zip"))
        if not zips:
            raise NcaaEvalError(f"Kaggle download of '{slug}' produced no zip in '{dest}'.")
        archive = zips[-1]
    return archive
