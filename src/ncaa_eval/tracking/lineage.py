"""Lineage of what forecasts produce: a run nested under the run whose model made a file.

``ncaa-eval predict`` and ``bracket`` record each file they write as an MLflow run in the source
run's experiment, tagged ``mlflow.parentRunId`` = the source run (so ``mlflow ui`` shows it under
that run), with the season, league, model URI, registered version and data digests as params and
tags, and the file itself as an artifact. Such runs carry no ncaa-eval records, so ``runs list``
leaves them out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ncaa_eval.tracking.errors import store_errors
from ncaa_eval.tracking.search import OUTPUT_TAG
from ncaa_eval.tracking.store import RunStore

if TYPE_CHECKING:
    from ncaa_eval.tracking.signals import RunSignals

#: Tag naming what a lineage run recorded: ``submission`` or ``bracket``.
KIND_TAG = OUTPUT_TAG
PARENT_TAG = "mlflow.parentRunId"


def record_output(
    source: RunStore,
    parent_run_id: str,
    *,
    kind: str,
    run_name: str,
    params: Mapping[str, str],
    tags: Mapping[str, str],
    files: Sequence[Path],
    signals: RunSignals | None = None,
) -> str:
    """Record ``files`` on a new run nested under ``parent_run_id``; return its id.

    The caller writes the files to a scratch folder first and puts them in their place only once
    every record is made, so that a store that cannot record them leaves nothing half done.

    Args:
        source: the store holding the parent run.
        parent_run_id: the run whose model made the files.
        kind: ``submission`` or ``bracket``.
        run_name: the lineage run's name.
        params: e.g. season, league, model URI.
        tags: e.g. data digests, registered version.
        files: the files, logged under their own names.
        signals: the handlers the command installed (see ``run_signals``).
    """
    parent = source.get_run(parent_run_id)
    with store_errors(f"Cannot read the experiment of run {parent_run_id}"):
        experiment = source.client.get_experiment(parent.info.experiment_id)
    store = RunStore(source.tracking_uri, str(experiment.name))
    all_tags = {PARENT_TAG: parent_run_id, KIND_TAG: kind, **tags}
    with store.start_run(
        run_name=run_name, tags=all_tags, params=params, signals=signals
    ) as run_id:
        names = ", ".join(p.name for p in files)
        with store_errors(f"Cannot record {names} on run {run_id}"), store.uninterrupted():
            for path in files:
                store.client.log_artifact(run_id, str(path))
    return run_id
