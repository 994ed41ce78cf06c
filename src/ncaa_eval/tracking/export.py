"""Export a saved run to plain files: ``<dest>/runs/<run_id>/run.json`` and ``predictions.parquet``.

``run.json`` (the :class:`~ncaa_eval.tracking.records.ModelRun` as JSON) is the export format; the
MLflow run itself keeps each fact once (see :mod:`ncaa_eval.tracking.params`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ncaa_eval.errors import NcaaEvalError
from ncaa_eval.paths import atomic_write
from ncaa_eval.tracking.params import PREDICTIONS_FILE, RUN_FILE
from ncaa_eval.tracking.predictions import write_predictions
from ncaa_eval.tracking.reading import load_table

if TYPE_CHECKING:
    from ncaa_eval.tracking.store import RunStore


def export_run(store: RunStore, run_id: str, dest: Path) -> Path:
    """Write ``dest/runs/<run_id>/run.json`` and ``predictions.parquet``, each atomically.

    The id is validated before anything else, the records are read before any folder is
    created, and the target folder must resolve (symlinks followed) inside ``dest``.

    Returns:
        The run's folder ``dest/runs/<run_id>`` (resolved).

    Raises:
        RunNotFoundError: As :meth:`RunStore.load_run`.
        NcaaEvalError: The target folder would be outside ``dest`` (a symlink), or cannot be
            written.
    """
    run_id = store._check_id(run_id)
    root = Path(dest).resolve()
    target = (root / "runs" / run_id).resolve()
    if not target.is_relative_to(root):
        raise NcaaEvalError(
            f"Refusing to export run {run_id}: {root / 'runs' / run_id} leads outside "
            f"{root} (to {target})."
        )
    record = store.load_run(run_id)
    table = load_table(store, run_id)
    try:
        target.mkdir(parents=True, exist_ok=True)
        write_text_atomic(target / RUN_FILE, record.model_dump_json(indent=2) + "\n")
        write_predictions(table, target / PREDICTIONS_FILE)
    except OSError as exc:
        raise NcaaEvalError(f"Cannot export run {run_id} to {target}: {exc}") from exc
    return target


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``path`` through a temporary file in its folder, so it is whole or absent."""
    with atomic_write(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
