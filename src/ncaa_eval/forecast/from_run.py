"""Rebuild a tracked run's forecaster and forecast a season with it."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from ncaa_eval import DEFAULT_EXPERIMENT
from ncaa_eval.errors import NcaaEvalError
from ncaa_eval.forecast.pairs import PairForecast, forecast_pairs, season_teams, tournament_teams
from ncaa_eval.ingest.repository import ParquetRepository
from ncaa_eval.tracking import ModelRun, RunStore


@dataclass
class RunForecast:
    """A run's record and its pairwise forecast for one season."""

    run: ModelRun
    forecast: PairForecast
    repository: ParquetRepository


def forecast_from_run(
    run_id: str,
    season: int,
    data_dir: Path,
    *,
    tracking_uri: str | None = None,
    experiment: str = DEFAULT_EXPERIMENT,
    all_teams: bool = False,
) -> RunForecast:
    """Forecast every pair of ``season``'s tournament teams (or all its teams) with a run's model.

    ``run_id`` may be a unique prefix. The run's league decides which data is read.

    Raises:
        NcaaEvalError: unknown run, missing data for the season, or a season without a
            tournament.
    """
    from ncaa_eval.tracking.artifacts import download_model_dir

    store = RunStore(tracking_uri, experiment)
    full_id = store.resolve_run_id(run_id)
    run = store.load_run(full_id)
    repository = ParquetRepository(data_dir)
    if run.league not in repository.leagues:
        raise NcaaEvalError(
            f"Run {full_id[:8]} is a {run.league} run but the store at '{data_dir}' has no "
            f"{run.league} data; import it or pass --data-dir."
        )
    teams = (
        season_teams(repository, run.league, season)
        if all_teams
        else tournament_teams(repository, run.league, season)
    )
    with tempfile.TemporaryDirectory(prefix="ncaa-eval-model-") as tmp:
        model_dir = download_model_dir(store, full_id, Path(tmp)) if season > run.end_year else None
        forecast = forecast_pairs(
            run.model_type,
            run.hyperparameters,
            run.end_year,
            model_dir,
            repository,
            run.league,
            season,
            teams,
        )
    return RunForecast(run, forecast, repository)
