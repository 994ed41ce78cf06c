"""What a run's model learned, as a table a person can read: ``learned.csv`` and ``learned.json``.

The table is the model's own (:meth:`ncaa_eval.model.base.Model.learned`): Elo's ratings, logistic
regression's coefficients, XGBoost's gain importances, or a plugin's. It is logged as CSV, which
the MLflow UI previews, next to a small ``learned.json`` holding its title. Runs saved before
these files existed, or whose model tells nothing, simply have neither.
"""

from __future__ import annotations

import json
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ncaa_eval.errors import DataValidationError
from ncaa_eval.tracking.errors import store_errors
from ncaa_eval.tracking.reading import download

if TYPE_CHECKING:
    from mlflow.entities import Run

    from ncaa_eval.tracking.store import RunStore

#: The table, one row per item (a team, a feature), in the order worth reading first.
LEARNED_FILE = "learned.csv"
#: Its title (what the table is), and its row count.
LEARNED_INFO_FILE = "learned.json"


@dataclass(frozen=True)
class LearnedTable:
    """What a model learned: a titled table, rows in the order worth reading first."""

    title: str
    frame: pd.DataFrame

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data: the title, the columns and every row (missing values as null)."""
        rows = [
            {str(k): _plain(v) for k, v in row.items()}
            for row in self.frame.to_dict(orient="records")
        ]
        return {
            "title": self.title,
            "file": LEARNED_FILE,
            "columns": [str(c) for c in self.frame.columns],
            "rows": rows,
        }


def _plain(value: Any) -> Any:
    """A JSON-ready scalar: numpy numbers as Python ones, NaN and NA as None."""
    if value is None or value is pd.NA:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def log_learned(store: RunStore, run_id: str, table: LearnedTable) -> None:
    """Log ``learned.csv`` (numbers to 6 significant digits) and ``learned.json`` on the run.

    Raises:
        TrackingStoreError: The store rejected the files or cannot be reached.
    """
    with tempfile.TemporaryDirectory(prefix="ncaa-eval-learned-") as tmp:
        folder = Path(tmp)
        table.frame.to_csv(folder / LEARNED_FILE, index=False, float_format="%.6g")
        info = {"title": table.title, "rows": len(table.frame)}
        (folder / LEARNED_INFO_FILE).write_text(json.dumps(info, indent=2) + "\n", "utf-8")
        with store_errors(f"Cannot log what the model of run {run_id} learned"):
            store.client.log_artifacts(run_id, tmp)


def read_learned(store: RunStore, run: Run) -> LearnedTable | None:
    """The run's :class:`LearnedTable`; None when it has no ``learned.csv``.

    A missing or unreadable ``learned.json`` only loses the title.

    Raises:
        DataValidationError: ``learned.csv`` is not a readable CSV table.
        TrackingStoreError: The store cannot be read.
    """
    with tempfile.TemporaryDirectory(prefix="ncaa-eval-learned-") as tmp:
        folder = Path(tmp)
        path = download(store, run, LEARNED_FILE, folder)
        if path is None:
            return None
        try:
            frame = pd.read_csv(path)
        except (ValueError, OSError) as exc:
            raise DataValidationError(
                f"Run {run.info.run_id}: {LEARNED_FILE} cannot be read ({exc})."
            ) from exc
        title = ""
        info = download(store, run, LEARNED_INFO_FILE, folder)
        if info is not None:
            try:
                title = str(json.loads(info.read_text("utf-8")).get("title", ""))
            except (ValueError, AttributeError):
                title = ""
    return LearnedTable(title, frame)
