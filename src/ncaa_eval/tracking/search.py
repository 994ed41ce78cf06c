"""Finding runs: MLflow filter strings, the one run search, and run id prefixes.

Filters are on params (``params.model_type = 'elo'``), where a run keeps what it is (see
:mod:`ncaa_eval.tracking.params`); runs saved by earlier versions have those params too. MLflow's
filter language has ``AND`` only, and every value is checked here before it reaches a filter.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ncaa_eval.errors import NcaaEvalError
from ncaa_eval.tracking.errors import AmbiguousRunIdError, RunNotFoundError, store_errors
from ncaa_eval.tracking.params import RECORDS_TAG
from ncaa_eval.tracking.records import is_model_type

if TYPE_CHECKING:
    from mlflow.entities import Run

    from ncaa_eval.tracking.store import RunStore

#: MLflow's ceiling for one search request.
MAX_SEARCH_RESULTS = 50_000

_PREFIX_RE = re.compile(r"^[0-9a-f]{4,32}$")

#: The tag of a run recording what ``predict`` or ``bracket`` wrote (see ``tracking.lineage``).
OUTPUT_TAG = "ncaa_eval.output"
#: A filter clause that leaves such runs out.
NOT_AN_OUTPUT = f"tags.`{OUTPUT_TAG}` IS NULL"


def shown(value: object) -> str:
    """``value`` quoted for a one-line message, however long or odd it is."""
    text = repr(value) if isinstance(value, str) else repr(str(value))
    return text if len(text) <= 50 else text[:47] + "..."


def check_max_results(max_results: int, what: str = "max_results") -> None:
    """Raise NcaaEvalError unless ``1 <= max_results <= MAX_SEARCH_RESULTS``."""
    if not 1 <= max_results <= MAX_SEARCH_RESULTS:
        raise NcaaEvalError(f"{what} must be 1 to {MAX_SEARCH_RESULTS}, not {max_results}.")


def search_filter(
    model_type: str | None = None, league: str | None = None, clauses: Sequence[str] = ()
) -> str:
    """An MLflow filter string for runs of ``model_type`` and ``league`` (each optional).

    Raises:
        NcaaEvalError: A filter value is invalid.
    """
    parts = list(clauses)
    if model_type is not None:
        if not is_model_type(model_type):
            raise NcaaEvalError(
                f"Invalid model type {shown(model_type)}: use letters, digits, '_', '.', '-'."
            )
        parts.append(f"params.model_type = '{model_type}'")
    if league is not None:
        if league not in ("M", "W"):
            raise NcaaEvalError(f"Invalid league {shown(league)}: use 'M' or 'W'.")
        parts.append(f"params.league = '{league}'")
    return " AND ".join(parts)


def records_filter(
    model_type: str | None = None,
    league: str | None = None,
    start_year: int | None = None,
    end_year: int | None = None,
) -> str:
    """:func:`search_filter` for saved runs only (the record mark set), with exact years.

    Raises:
        NcaaEvalError: A filter value is invalid.
    """
    clauses = [f"tags.{RECORDS_TAG} != ''"]
    for name, year in (("start_year", start_year), ("end_year", end_year)):
        if year is not None:
            clauses.append(f"params.{name} = '{int(year)}'")
    return search_filter(model_type, league, clauses)


def find_runs(store: RunStore, filter_string: str, max_results: int) -> list[Run]:
    """The experiment's active MLflow runs matching ``filter_string``, newest first.

    Raises:
        TrackingStoreError: The store cannot be read.
    """
    from mlflow.entities import ViewType

    experiment_id = store._get_experiment_id(create=False)
    if experiment_id is None:
        return []
    with store_errors(f"Cannot search runs in {store.tracking_uri}"):
        runs = store.client.search_runs(
            [experiment_id],
            filter_string,
            run_view_type=ViewType.ACTIVE_ONLY,
            max_results=max_results,
            order_by=["attributes.start_time DESC"],
        )
    return list(runs)


def resolve_run_id(store: RunStore, prefix: str) -> str:
    """Expand a unique prefix (4+ hex characters) of a run id in the store's experiment.

    Runs that record a forecast's output (lineage runs) are not matched: they are not runs to
    show, compare, register or forecast from.

    Raises:
        RunNotFoundError: ``prefix`` is not hex, shorter than 4 characters, or matches no run.
        AmbiguousRunIdError: ``prefix`` matches several runs.
        TrackingStoreError: The store cannot be read.
    """
    text = prefix.strip().lower() if isinstance(prefix, str) else ""
    if not _PREFIX_RE.match(text):
        raise RunNotFoundError(
            f"{shown(prefix)} is not a run id: give at least 4 of the 32 hex characters "
            "of a run id (see the runs list or the MLflow UI)."
        )
    runs = find_runs(store, f"attributes.run_id LIKE '{text}%' AND {NOT_AN_OUTPUT}", max_results=11)
    ids = sorted({str(run.info.run_id) for run in runs})
    if not ids:
        raise RunNotFoundError(
            f"No run id starting with '{text}' in experiment '{store.experiment}' of "
            f"{store.tracking_uri}; check the id and the tracking URI."
        )
    if len(ids) > 1:
        count = f"{len(ids)}+" if len(ids) > 10 else str(len(ids))
        listed = ", ".join(i[:12] for i in ids[:5])
        raise AmbiguousRunIdError(
            f"Run id prefix '{text}' matches {count} runs ({listed}); give more characters."
        )
    return ids[0]
