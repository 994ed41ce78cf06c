"""Kaggle submission files: ``ID`` = ``SSSS_AAAA_BBBB`` (AAAA < BBBB), ``Pred`` = P(A wins)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd


def submission_frame(pairs: pd.DataFrame) -> pd.DataFrame:
    """Turn ``season, team_a_id, team_b_id, pred`` rows into Kaggle's ``ID, Pred`` columns."""
    ids = (
        pairs["season"].astype(int).astype(str)
        + "_"
        + pairs["team_a_id"].astype(int).astype(str)
        + "_"
        + pairs["team_b_id"].astype(int).astype(str)
    )
    return pd.DataFrame({"ID": ids, "Pred": pairs["pred"].clip(0.0, 1.0).to_numpy()})


def write_submission(frame: pd.DataFrame, path: Path) -> Path:
    """Write the CSV atomically (temporary file, then rename) and return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", newline="") as handle:
            frame.to_csv(handle, index=False, float_format="%.6f")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
