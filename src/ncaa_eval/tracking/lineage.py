"""Lineage of what forecasts produce: a run nested under the run whose model made a file.

``ncaa-eval predict`` and ``bracket`` record each file they write as an MLflow run in the source
run's experiment, tagged ``mlflow.parentRunId`` = the source run (so ``mlflow ui`` shows it under
that run), with the season, league, model URI, registered version and data digests as params and
tags, and the file itself as an artifact. Such runs carry no ncaa-eval records, so ``runs list``
leaves them out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from ncaa_eval.tracking.errors import store_errors
from ncaa_eval.tracking.store import RunStore

if TYPE_CHECKING:
    from mlflow.entities import Param

#: Tag naming what a lineage run recorded: ``submission`` or ``bracket``.
KIND_TAG = "ncaa_eval.output"
PARENT_TAG = "mlflow.parentRunId"


def record_output(
    source: RunStore,
    parent_run_id: str,
    *,
    kind: str,
    run_name: str,
    params: Mapping[str, str],
    tags: Mapping[str, str],
    write: Callable[[], Path],
) -> str:
    """Create a run under ``parent_run_id``, call ``write`` inside it, log the file it wrote.

    ``write`` runs only once the run exists, so a store that cannot be written leaves no file
    behind; a failing ``write`` ends the run FAILED.

    Args:
        source: the store holding the parent run.
        parent_run_id: the run whose model made the file.
        kind: ``submission`` or ``bracket``.
        run_name: the lineage run's name.
        params: e.g. season, league, model URI.
        tags: e.g. data digests, registered version.
        write: writes the file and returns its path.

    Returns:
        The lineage run's id.
    """
    parent = source.get_run(parent_run_id)
    with store_errors(f"Cannot read the experiment of run {parent_run_id}"):
        experiment = source.client.get_experiment(parent.info.experiment_id)
    store = RunStore(source.tracking_uri, str(experiment.name))
    all_tags = {PARENT_TAG: parent_run_id, KIND_TAG: kind, **tags}
    with store.start_run(run_name=run_name, tags=all_tags) as run_id:
        path = write()
        with store_errors(f"Cannot record {path.name} on run {run_id}"), store.uninterrupted():
            store.client.log_batch(run_id, params=_params(params))
            store.client.log_artifact(run_id, str(path))
    return run_id


def _params(params: Mapping[str, str]) -> list[Param]:
    from mlflow.entities import Param

    return [Param(k, str(v)) for k, v in params.items()]
