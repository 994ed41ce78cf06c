"""The training orchestrator: validate, walk forward, record one MLflow run, export it.

Usable from Python without Click::

    from ncaa_eval.training import TrainRequest, train
    result = train(TrainRequest(model="elo", start_year=2015, end_year=2025))

Everything a user can get wrong (model name, config, years, league, data dir) is checked before the
MLflow run is created, so bad input never leaves a run behind. Once the run exists, it ends
FINISHED, FAILED or KILLED (Ctrl-C, SIGTERM), never RUNNING.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ncaa_eval import DEFAULT_EXPERIMENT, DEMO_EXPERIMENT, LEAGUE_NAMES, __version__
from ncaa_eval.errors import NcaaEvalError
from ncaa_eval.evaluation.metrics import MetricSet
from ncaa_eval.evaluation.walk_forward import (
    WalkForwardResult,
    check_forecastable,
    check_range,
    walk_forward,
    walk_scope,
)
from ncaa_eval.ingest.repository import ParquetRepository
from ncaa_eval.ingest.schema import League
from ncaa_eval.model.base import Model
from ncaa_eval.model.registry import get_model
from ncaa_eval.paths import check_writable_dir
from ncaa_eval.training.config_loading import validate_config
from ncaa_eval.transform.serving import ChronologicalDataServer

if TYPE_CHECKING:
    from ncaa_eval.tracking import ModelRun, RunStore
    from ncaa_eval.tracking.artifacts import RunDataset


class TrainRequest(BaseModel):
    """Everything one training job needs; the CLI builds this from its options."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(min_length=1, description="Registered model name.")
    start_year: int = Field(default=2015, ge=1985, le=2100)
    end_year: int = Field(default=2025, ge=1985, le=2100)
    league: Literal["M", "W"] = "M"
    data_dir: Path = Path("data")
    output_dir: Path | None = Field(
        default=Path("data"), description="Where the run is exported; None skips the export."
    )
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    tracking_uri: str | None = None
    experiment: str | None = Field(
        default=None,
        min_length=1,
        description="MLflow experiment; None: ncaa-eval-demo for the demo league, else ncaa-eval.",
    )
    run_name: str | None = Field(
        default=None, description="None: <model>-<start>-<end>, plus -demo for the demo league."
    )

    @model_validator(mode="after")
    def _years_in_order(self) -> TrainRequest:
        if self.start_year > self.end_year:
            raise ValueError(
                f"start year {self.start_year} is after end year {self.end_year}; "
                "give --start-year <= --end-year"
            )
        return self


@dataclass
class TrainResult:
    """What a finished training job produced."""

    run_id: str
    run_name: str
    model_type: str
    league: str
    seasons: list[int]
    prediction_count: int
    metrics: MetricSet
    season_metrics: pd.DataFrame
    tracking_uri: str
    experiment: str
    #: The experiment's id in the store, for the MLflow UI's address of its runs table.
    experiment_id: str
    export_dir: Path | None
    notes: list[str]
    #: Wall seconds: ``total``, ``forecasting`` (the walk-forward), ``charts`` (drawing the two
    #: PNGs) and ``tracking`` (the rest from creating the run to the export: MLflow's calls, plus
    #: saving the model and computing the metrics).
    timings: dict[str, float]


@dataclass(frozen=True)
class _Prepared:
    model_class: type[Model]
    config: Any
    repository: ParquetRepository
    seasons: list[int]


def prepare(request: TrainRequest) -> _Prepared:
    """Check everything that can be checked before a run exists.

    Raises:
        NcaaEvalError: unknown model, invalid config, missing store or league, bad years, or
            seasons the model cannot forecast (:meth:`ModelConfig.forecast_problem`).
    """
    model_class = get_model(request.model)
    config = validate_config(model_class.config_class, request.hyperparameters, request.model)
    repository = ParquetRepository(request.data_dir)
    if request.league not in repository.leagues:
        have = ", ".join(repository.leagues) or "none"
        raise NcaaEvalError(
            f"League '{request.league}' is not in the data store at '{request.data_dir}' "
            f"(it has: {have}); choose --league {repository.leagues[0] if have != 'none' else 'M'}"
            " or import data that includes it."
        )
    available = repository.seasons_available(request.league)
    # Checked against every season in the store: the server below only holds those up to
    # end_year, so check_range alone would report a range cut short at end_year.
    if available and not available[0] <= request.start_year <= request.end_year <= available[-1]:
        have = f"{available[0]}-{available[-1]}"
        raise NcaaEvalError(
            f"Years {request.start_year}-{request.end_year} are outside the {request.league} "
            f"data ({have}): choose years within {have}."
        )
    history = [s for s in available if s <= request.end_year]
    server = ChronologicalDataServer(repository, request.league, history)
    seasons = check_range(server, request.start_year, request.end_year, request.league)
    # Against the whole store, so that a fix can name a start year after end_year's history.
    whole = ChronologicalDataServer(repository, request.league, available or None)
    check_forecastable(config, walk_scope(whole, request.league), seasons)
    if request.output_dir is not None:
        check_writable_dir(request.output_dir, "--output-dir")
    return _Prepared(model_class, config, repository, seasons)


def train(
    request: TrainRequest,
    on_start: Callable[[list[int]], None] | None = None,
    on_season: Callable[[int, int], None] | None = None,
) -> TrainResult:
    """Run one training job end to end and record it as one MLflow run.

    Args:
        request: the validated job description.
        on_start: called with the seasons to forecast, once everything is validated.
        on_season: called with ``(season, n_predictions)`` after each season's forecast.

    Raises:
        NcaaEvalError: bad input (before any run is created) or a tracking store problem.
    """
    from ncaa_eval.tracking import (
        PREDICTION_COLUMNS,
        ModelRun,
        RunStore,
        code_git_info,
        identity_params,
        run_signals,
    )

    clock_start = time.perf_counter()
    prepared = prepare(request)
    demo = prepared.repository.is_demo
    experiment = request.experiment or (DEMO_EXPERIMENT if demo else DEFAULT_EXPERIMENT)
    store = RunStore(request.tracking_uri, experiment)
    run_name = request.run_name or (
        f"{request.model}-{request.start_year}-{request.end_year}" + ("-demo" if demo else "")
    )
    # The commit of the code that runs (the checkout holding ncaa_eval), not of the cwd.
    git = code_git_info()
    hyperparameters = prepared.config.model_dump(mode="json")
    # Logged as the run starts, so the MLflow UI shows them for a run that fails too; checked
    # here (a hyperparameter clashing with a run param) before any run exists.
    params = identity_params(
        request.model, request.start_year, request.end_year, request.league, hyperparameters
    )
    if on_start is not None:
        on_start(prepared.seasons)
    tracking_start = time.perf_counter()
    # The command boundary: SIGTERM and Ctrl-C end the run KILLED (see run_signals).
    with (
        run_signals() as signals,
        store.start_run(
            run_name=run_name,
            tags={"ncaa_eval_version": __version__},
            params=params,
            signals=signals,
        ) as run_id,
    ):
        started = dt.datetime.now(dt.UTC)
        forecast_start = time.perf_counter()
        result = walk_forward(
            lambda: prepared.model_class(prepared.config),
            prepared.repository,
            request.league,
            request.start_year,
            request.end_year,
            on_season=on_season,
        )
        forecasting = time.perf_counter() - forecast_start
        predictions = result.predictions.assign(run_id=run_id)[list(PREDICTION_COLUMNS)]
        record = ModelRun(
            run_id=run_id,
            model_type=request.model,
            hyperparameters=hyperparameters,
            timestamp=started,
            git_hash=git.hash,
            git_dirty=git.dirty,
            start_year=request.start_year,
            end_year=request.end_year,
            prediction_count=len(predictions),
            league=request.league,
            run_name=run_name,
            data_digest=prepared.repository.digest,
        )
        metrics = result.metrics()
        season_metrics = result.season_metrics()
        charting = _record(store, record, predictions, result, metrics, season_metrics, prepared)
        export_dir = None
        if request.output_dir is not None:
            export_dir = store.export(run_id, request.output_dir)
    done = time.perf_counter()
    return TrainResult(
        run_id=run_id,
        run_name=run_name,
        model_type=request.model,
        league=request.league,
        seasons=result.seasons,
        prediction_count=len(predictions),
        metrics=metrics,
        season_metrics=season_metrics,
        tracking_uri=store.tracking_uri,
        experiment=store.run_experiment,
        experiment_id=store.run_experiment_id or "",
        export_dir=export_dir,
        notes=result.notes,
        timings={
            "total": done - clock_start,
            "forecasting": forecasting,
            "charts": charting,
            "tracking": done - tracking_start - forecasting - charting,
        },
    )


def _record(
    store: RunStore,
    record: ModelRun,
    predictions: pd.DataFrame,
    result: WalkForwardResult,
    metrics: MetricSet,
    season_metrics: pd.DataFrame,
    prepared: _Prepared,
) -> float:
    """Write params, tags, metrics, predictions, the model, what it learned, charts and the
    dataset onto the run.

    Returns the seconds spent drawing the charts (the rest is MLflow's).
    """
    from ncaa_eval.evaluation.plots import write_run_plots
    from ncaa_eval.tracking.artifacts import log_datasets, log_model_dir, log_plots_dir

    run_id = record.run_id
    store.save_run(record, predictions)
    store.log_metrics(
        run_id,
        {
            "brier": metrics.brier,
            "log_loss": metrics.log_loss,
            "accuracy": metrics.accuracy,
            "calibration_error": metrics.calibration_error,
            "scored_games": float(metrics.n),
        },
    )
    store.log_metric_steps(
        run_id,
        {
            int(row["season"]): {
                "season_brier": float(row["brier"]),
                "season_log_loss": float(row["log_loss"]),
            }
            for row in season_metrics.to_dict("records")
        },
    )
    with tempfile.TemporaryDirectory(prefix="ncaa-eval-model-") as tmp:
        _log_model(store, run_id, result, prepared, Path(tmp) / "forecaster")
        # The model fitted through the last tournament too, for forecasts of later seasons.
        fitted = Path(tmp) / "fitted"
        result.model.save(fitted)
        log_model_dir(store, run_id, fitted)
        league = LEAGUE_NAMES[record.league]
        title = f"{record.model_type}, {league}, {record.start_year}-{record.end_year}"
        plots = Path(tmp) / "plots"
        chart_start = time.perf_counter()
        write_run_plots(result.scored, season_metrics, metrics.brier, title, plots)
        charting = time.perf_counter() - chart_start
        log_plots_dir(store, run_id, plots)
    _log_learned(store, run_id, result.model, prepared.repository, record.league)
    log_datasets(store, run_id, _datasets(record, result, prepared))
    return charting


def _log_learned(
    store: RunStore, run_id: str, model: Model, repository: ParquetRepository, league: League
) -> None:
    """Log what the run's final model (fitted through the end year) learned, if it tells.

    A ``team_id`` column gets the team's name beside it from the store; the model knows ids only.

    Raises:
        NcaaEvalError: the model's :meth:`~ncaa_eval.model.base.Model.learned` returned something
            other than a DataFrame or None.
    """
    from ncaa_eval.tracking.learned import LearnedTable, log_learned

    table = model.learned()
    if table is None:
        return
    if not isinstance(table, pd.DataFrame):
        raise NcaaEvalError(
            f"{type(model).__name__}.learned() returned a {type(table).__name__}; "
            "it must return a pandas DataFrame or None."
        )
    if table.empty:
        return
    if "team_id" in table.columns and "team_name" not in table.columns:
        table = _with_team_names(table, repository, league)
    title = model.learned_title or f"What {model.name or type(model).__name__} learned"
    log_learned(store, run_id, LearnedTable(title, table))


def _with_team_names(
    table: pd.DataFrame, repository: ParquetRepository, league: League
) -> pd.DataFrame:
    """``table`` with a ``team_name`` column right after ``team_id`` (empty for unknown ids)."""
    teams = repository.teams(league)
    ids, team_names = teams["team_id"].astype(int).tolist(), teams["team_name"].astype(str).tolist()
    names = dict(zip(ids, team_names, strict=True))
    named = table.copy()
    position = list(named.columns).index("team_id") + 1
    named.insert(position, "team_name", [names.get(int(t)) for t in named["team_id"]])
    return named


def _datasets(record: ModelRun, result: WalkForwardResult, prepared: _Prepared) -> list[RunDataset]:
    """The run's dataset inputs: the games the final model learned from (context ``training``)
    and the tournament games it was scored on (context ``evaluation``)."""
    from ncaa_eval.evaluation.walk_forward import training_mask
    from ncaa_eval.model.base import FeatureModelConfig, StatefulModel
    from ncaa_eval.tracking.artifacts import RunDataset

    repository, league = prepared.repository, record.league
    history = [s for s in repository.seasons_available(league) if s <= record.end_year]
    games = repository.games(league, history)
    if not (isinstance(result.model, StatefulModel) or result.model.composite):
        # As walk_forward fits the final model: every game through end_year but the first days
        # of each regular season.
        config = prepared.config
        features = config if isinstance(config, FeatureModelConfig) else FeatureModelConfig()
        games = games[training_mask(games, record.end_year + 1, features.train_min_day)]
    scored = result.scored[["game_id", "season", "day_num", "team_a_id", "team_b_id", "team_a_won"]]

    def seasons(frame: pd.DataFrame) -> dict[str, int]:
        if frame.empty:
            return {}
        return {
            "first_season": int(frame["season"].min()),
            "last_season": int(frame["season"].max()),
        }

    suffix = "-demo" if repository.is_demo else ""
    source, digest = str(repository.root.resolve()), repository.digest
    span = seasons(games)
    first = span.get("first_season", record.start_year)
    return [
        RunDataset(
            games,
            f"{league}-games-{first}-{record.end_year}{suffix}",
            digest,
            source,
            "training",
            span,
        ),
        RunDataset(
            scored,
            f"{league}-tournaments-{record.start_year}-{record.end_year}{suffix}",
            digest,
            source,
            "evaluation",
            seasons(scored),
        ),
    ]


def _log_model(
    store: RunStore, run_id: str, result: WalkForwardResult, prepared: _Prepared, folder: Path
) -> None:
    """Log the run's MLflow Model: the last season's forecaster with its teams' state."""
    from ncaa_eval.model.packaged import LOADER
    from ncaa_eval.tracking.models import BASE_REQUIREMENTS, log_run_model, pinned_requirements
    from ncaa_eval.training.packaging import last_season_teams, package_result

    # An ensemble's members are packaged inside it, each with its own teams' state.
    package_result(folder, result, prepared.repository)
    state = last_season_teams(result, prepared.repository)
    season = result.seasons[-1]
    seeded = state.teams.loc[state.teams["seed"].notna(), "team_id"].astype(int).tolist()
    pair = (seeded or state.teams["team_id"].astype(int).tolist())[:2]
    example = pd.DataFrame({"season": [season], "team_a_id": [pair[0]], "team_b_id": [pair[1]]})
    log_run_model(
        store,
        run_id,
        folder,
        loader=LOADER,
        input_example=example,
        requirements=pinned_requirements([*BASE_REQUIREMENTS, *_model_distributions(prepared)]),
    )


def _model_distributions(prepared: _Prepared) -> list[str]:
    """What a model class needs to predict beyond ncaa-eval: its own ``pip_requirements``, or
    for a plugin the distribution that installed it; an ensemble's, those of its members too."""
    import importlib.metadata

    from ncaa_eval.model.ensemble import EnsembleConfig

    config = prepared.config
    members = config.members if isinstance(config, EnsembleConfig) else ()
    out: list[str] = []
    for cls in [prepared.model_class, *(get_model(name) for name in members)]:
        top = cls.__module__.split(".")[0]
        plugin = (
            [] if top == "ncaa_eval" else importlib.metadata.packages_distributions().get(top, [])
        )
        out += [*cls.pip_requirements, *plugin]
    return list(dict.fromkeys(out))
