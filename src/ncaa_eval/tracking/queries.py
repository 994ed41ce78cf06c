"""Read-only views of tracked runs for the ``ncaa-eval runs`` commands.

:class:`~ncaa_eval.tracking.store.RunStore` reads a run's *records* (the :class:`ModelRun`
rebuilt from params, tags and ``config.json``, and ``predictions.parquet``); the helpers here add
what MLflow itself keeps about a run: its status and times, its metrics and per-season metric
history, and its artifact listing. They also see runs
whose records were never saved (a training that failed or was interrupted), which
:meth:`RunStore.list_runs` leaves out on purpose.

Nothing here writes to the store, and a local SQLite store that does not exist yet is never
created just to be read: it simply holds no runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ncaa_eval.errors import NcaaEvalError
from ncaa_eval.tracking.errors import RunNotFoundError, store_errors
from ncaa_eval.tracking.learned import LEARNED_FILE, LearnedTable, read_learned
from ncaa_eval.tracking.lookup import store_is_missing
from ncaa_eval.tracking.models import model_id_of
from ncaa_eval.tracking.params import RECORDS_TAG, flatten_params, run_fact
from ncaa_eval.tracking.records import ModelRun
from ncaa_eval.tracking.search import NOT_AN_OUTPUT, check_max_results, search_filter
from ncaa_eval.tracking.store import RunStore

if TYPE_CHECKING:
    from mlflow.entities import Run

#: The overall metrics a training run logs, in display order, and whether lower is better.
OVERALL_METRICS: dict[str, bool] = {
    "brier": True,
    "log_loss": True,
    "accuracy": False,
    "calibration_error": True,
}
#: Per-season metrics, logged with ``step=season``.
SEASON_BRIER = "season_brier"
SEASON_LOG_LOSS = "season_log_loss"
#: MLflow run statuses (``RunStatus``), for validation of a ``status`` filter.
RUN_STATUSES = ("RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED")


@dataclass(frozen=True)
class RunSummary:
    """One row of the runs list: what MLflow knows about a run without downloading anything.

    Fields are None when the run does not have them (yet), e.g. the metrics of a failed run.
    """

    run_id: str
    run_name: str | None
    model_type: str | None
    league: str | None
    start_year: int | None
    end_year: int | None
    prediction_count: int | None
    brier: float | None
    log_loss: float | None
    accuracy: float | None
    calibration_error: float | None
    status: str
    start_time: datetime | None
    end_time: datetime | None
    #: Whether the run's ncaa-eval records were saved (only such runs can be shown in full,
    #: compared or exported).
    has_records: bool

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data; times as ISO 8601 UTC strings."""
        return {
            "run_id": self.run_id,
            "run_name": self.run_name,
            "model_type": self.model_type,
            "league": self.league,
            "start_year": self.start_year,
            "end_year": self.end_year,
            "prediction_count": self.prediction_count,
            "brier": self.brier,
            "log_loss": self.log_loss,
            "accuracy": self.accuracy,
            "calibration_error": self.calibration_error,
            "status": self.status,
            "start_time": _iso(self.start_time),
            "end_time": _iso(self.end_time),
            "has_records": self.has_records,
        }


@dataclass(frozen=True)
class SeasonScore:
    """One season's scores from the run's metric history (None if that metric is missing)."""

    season: int
    brier: float | None
    log_loss: float | None


@dataclass(frozen=True)
class ArtifactEntry:
    """One artifact file, its path relative to the run's artifact root and its size in bytes."""

    path: str
    size: int | None


@dataclass(frozen=True)
class RunDetails:
    """Everything ``runs show`` displays about one run."""

    summary: RunSummary
    #: The saved :class:`ModelRun`; None for a run whose records were never saved.
    record: ModelRun | None
    #: Every overall metric the run logged (per-season ones excluded), latest value each.
    metrics: dict[str, float]
    seasons: list[SeasonScore]
    artifacts: list[ArtifactEntry]
    #: The id of the run's MLflow Model (``runs:/<id>/model``); None if it logged none.
    model_id: str | None = None
    #: What the run's model learned (``learned.csv``); None for a run without it.
    learned: LearnedTable | None = None

    @property
    def model_uri(self) -> str | None:
        """``runs:/<run id>/model`` when the run logged an MLflow Model."""
        return None if self.model_id is None else f"runs:/{self.summary.run_id}/model"

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data."""
        return {
            **self.summary.to_json(),
            "record": None if self.record is None else self.record.model_dump(mode="json"),
            "metrics": dict(self.metrics),
            "seasons": [
                {"season": s.season, "brier": s.brier, "log_loss": s.log_loss} for s in self.seasons
            ],
            "artifacts": [{"path": a.path, "size": a.size} for a in self.artifacts],
            "model_uri": self.model_uri,
            "model_id": self.model_id,
            "learned": None if self.learned is None else self.learned.to_json(),
        }


@dataclass(frozen=True)
class RunComparison:
    """Several runs side by side; every list is in the order of :attr:`runs`."""

    runs: list[RunDetails]
    #: Flattened hyperparameters (dotted keys) whose values are not all equal; None = not set.
    differing_params: dict[str, list[str | None]]
    #: :data:`OVERALL_METRICS` -> each run's value.
    metrics: dict[str, list[float | None]]
    #: Metric -> positions of the best run(s) (ties all count).
    best_metrics: dict[str, list[int]]
    #: Seasons every run scored -> each run's Brier.
    season_brier: dict[int, list[float]]
    #: Season -> positions of the run(s) with the lowest Brier.
    best_seasons: dict[int, list[int]]
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data; the per-run lists are keyed by full run id."""
        ids = [d.summary.run_id for d in self.runs]

        def keyed(values: Sequence[Any]) -> dict[str, Any]:
            return dict(zip(ids, values, strict=True))

        return {
            "runs": [d.summary.to_json() for d in self.runs],
            "differing_hyperparameters": {k: keyed(v) for k, v in self.differing_params.items()},
            "metrics": {
                name: {"values": keyed(values), "best": [ids[i] for i in self.best_metrics[name]]}
                for name, values in self.metrics.items()
            },
            "season_brier": {
                str(season): {
                    "values": keyed(values),
                    "best": [ids[i] for i in self.best_seasons[season]],
                }
                for season, values in self.season_brier.items()
            },
            "warnings": list(self.warnings),
        }


# -- store access -----------------------------------------------------------------------------


def search_runs(
    store: RunStore,
    *,
    model_type: str | None = None,
    league: str | None = None,
    max_results: int = 20,
) -> list[RunSummary]:
    """The experiment's runs, newest first, failed and unfinished ones included.

    Unlike :meth:`RunStore.list_runs` this downloads nothing: each row comes from the run's params,
    tags, metrics and status, so runs that never saved their records (status FAILED or KILLED) are
    listed too, with None for what they lack.

    Args:
        store: The store and experiment to search.
        model_type: Only runs of this model type (param ``model_type``).
        league: Only ``"M"`` or ``"W"`` runs (param ``league``).
        max_results: At most this many runs (1 to 50,000).

    Raises:
        NcaaEvalError: A filter value is invalid.
        TrackingStoreError: The store cannot be read.
    """
    check_max_results(max_results, "The limit")
    # Runs that record what a forecast wrote (lineage, nested under a training run) are not
    # training runs.
    filter_string = search_filter(model_type, league, [NOT_AN_OUTPUT])
    if store_is_missing(store):
        return []
    runs = store.find_runs(filter_string, max_results)
    return [summarize(run) for run in runs]


def summarize(run: Run) -> RunSummary:
    """A :class:`RunSummary` from an MLflow run's info, params, tags and latest metrics."""
    tags: dict[str, str] = dict(run.data.tags)
    metrics: dict[str, float] = dict(run.data.metrics)
    return RunSummary(
        run_id=str(run.info.run_id),
        run_name=run.info.run_name or tags.get("mlflow.runName") or None,
        model_type=run_fact(run, "model_type"),
        league=run_fact(run, "league"),
        start_year=_int(run_fact(run, "start_year")),
        end_year=_int(run_fact(run, "end_year")),
        prediction_count=_int(tags.get("prediction_count")),
        brier=metrics.get("brier"),
        log_loss=metrics.get("log_loss"),
        accuracy=metrics.get("accuracy"),
        calibration_error=metrics.get("calibration_error"),
        status=str(run.info.status),
        start_time=_time(run.info.start_time),
        end_time=_time(run.info.end_time),
        has_records=bool(tags.get(RECORDS_TAG)),
    )


def run_details(store: RunStore, run_id: str, *, artifacts: bool = True) -> RunDetails:
    """Everything about one run: summary, record (if saved), metrics, seasons, artifacts.

    Args:
        store: The store holding the run.
        run_id: A full run id (see :func:`~ncaa_eval.tracking.lookup.resolve_run` for prefixes).
        artifacts: List the run's artifacts (one request per folder), and read what its model
            learned when they include ``learned.csv``.

    Raises:
        RunNotFoundError: ``run_id`` is malformed, unknown or deleted.
        DataValidationError: The run's saved record, or its learned.csv, is invalid.
        TrackingStoreError: The store cannot be read.
    """
    run = store.get_run(run_id)
    summary = summarize(run)
    record = store.load_run(run_id) if summary.has_records else None
    per_season = {SEASON_BRIER, SEASON_LOG_LOSS}
    metrics = {k: float(v) for k, v in run.data.metrics.items() if k not in per_season}
    files = list_artifacts(store, run_id) if artifacts else []
    learned = read_learned(store, run) if any(a.path == LEARNED_FILE for a in files) else None
    return RunDetails(
        summary=summary,
        record=record,
        metrics=metrics,
        seasons=season_scores(store, run_id),
        artifacts=files,
        model_id=model_id_of(run),
        learned=learned,
    )


def season_scores(store: RunStore, run_id: str) -> list[SeasonScore]:
    """Per-season Brier and log loss from the run's metric history (step = season), by season.

    A season logged twice keeps its latest value.
    """
    briers = _history(store, run_id, SEASON_BRIER)
    losses = _history(store, run_id, SEASON_LOG_LOSS)
    return [
        SeasonScore(season=season, brier=briers.get(season), log_loss=losses.get(season))
        for season in sorted(briers.keys() | losses.keys())
    ]


def list_artifacts(store: RunStore, run_id: str) -> list[ArtifactEntry]:
    """Every artifact file of the run, folders walked recursively, sorted by path."""
    found: list[ArtifactEntry] = []
    folders: list[str | None] = [None]
    with store_errors(f"Cannot list the artifacts of run {run_id}"):
        while folders:
            for info in store.client.list_artifacts(run_id, folders.pop()):
                if info.is_dir:
                    folders.append(str(info.path))
                else:
                    size = info.file_size
                    found.append(ArtifactEntry(str(info.path), None if size is None else int(size)))
    return sorted(found, key=lambda a: a.path)


def compare_runs(store: RunStore, run_ids: Sequence[str]) -> RunComparison:
    """Put two or more saved runs side by side.

    Args:
        store: The store holding the runs.
        run_ids: Full, distinct run ids, in display order.

    Raises:
        NcaaEvalError: Fewer than two runs, or a run given twice.
        RunNotFoundError: A run is unknown or has no saved records (a failed run).
    """
    if len(run_ids) < 2:
        raise NcaaEvalError("Give at least two runs to compare.")
    seen: set[str] = set()
    for run_id in run_ids:
        if run_id in seen:
            raise NcaaEvalError(f"Run {run_id} is given twice; compare different runs.")
        seen.add(run_id)
    runs = [run_details(store, run_id, artifacts=False) for run_id in run_ids]
    records: list[ModelRun] = []
    for details in runs:
        if details.record is None:
            raise RunNotFoundError(
                f"Run {details.summary.run_id} ({details.summary.status}) has no ncaa-eval "
                "records, so there is nothing to compare; only saved runs can be compared."
            )
        records.append(details.record)

    flat = [flatten_params(record.hyperparameters) for record in records]
    keys = sorted(set[str]().union(*flat))
    differing: dict[str, list[str | None]] = {}
    for key in keys:
        texts = [params.get(key) for params in flat]
        if len(set(texts)) > 1:
            differing[key] = texts

    metrics: dict[str, list[float | None]] = {}
    best_metrics: dict[str, list[int]] = {}
    for name, lower in OVERALL_METRICS.items():
        values = [details.metrics.get(name) for details in runs]
        metrics[name] = values
        best_metrics[name] = best_positions(values, lower_is_better=lower)

    by_run = [{s.season: s.brier for s in d.seasons if s.brier is not None} for d in runs]
    shared = sorted(set.intersection(*(set(scores) for scores in by_run)))
    season_brier = {season: [scores[season] for scores in by_run] for season in shared}
    best_seasons = {
        season: best_positions(list(values), lower_is_better=True)
        for season, values in season_brier.items()
    }

    warnings = []
    leagues = sorted({record.league for record in records})
    if len(leagues) > 1:
        warnings.append(
            f"the runs cover different leagues ({', '.join(leagues)}); "
            "their scores are not comparable."
        )
    spans = {(record.start_year, record.end_year) for record in records}
    if len(spans) > 1:
        warnings.append(
            "the runs cover different seasons; overall metrics are over different tournaments "
            "(the per-season table lists only the seasons they share)."
        )
    return RunComparison(
        runs=runs,
        differing_params=differing,
        metrics=metrics,
        best_metrics=best_metrics,
        season_brier=season_brier,
        best_seasons=best_seasons,
        warnings=warnings,
    )


def best_positions(values: Sequence[float | None], *, lower_is_better: bool) -> list[int]:
    """Positions of the best value (all of them on a tie); missing values never win."""
    present = [v for v in values if v is not None]
    if not present:
        return []
    best = min(present) if lower_is_better else max(present)
    return [i for i, v in enumerate(values) if v is not None and v == best]


# -- helpers ----------------------------------------------------------------------------------


def _history(store: RunStore, run_id: str, key: str) -> dict[int, float]:
    with store_errors(f"Cannot read the {key} history of run {run_id}"):
        history = store.client.get_metric_history(run_id, key)
    latest: dict[int, tuple[int, float]] = {}
    for metric in history:
        step, stamp = int(metric.step), int(metric.timestamp)
        if step not in latest or stamp >= latest[step][0]:
            latest[step] = (stamp, float(metric.value))
    return {step: value for step, (_, value) in latest.items()}


def _int(text: str | None) -> int | None:
    try:
        return None if text is None else int(text)
    except ValueError:
        return None


def _time(millis: int | None) -> datetime | None:
    return None if millis is None else datetime.fromtimestamp(millis / 1000, tz=UTC)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
