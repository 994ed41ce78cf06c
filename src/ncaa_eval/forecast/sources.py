"""Where a forecast comes from: a tracked run (``--run``) or an MLflow Model URI (``--model``).

A model URI (``models:/NAME@ALIAS``, ``models:/NAME/VERSION``, ``runs:/ID/model``) loads the run's
MLflow Model, which answers for its own season with no data store; for another season the source
run's config is refit on the data store, exactly as ``--run`` does.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np
import pandas as pd

from ncaa_eval import LEAGUE_NAMES
from ncaa_eval.errors import NcaaEvalError
from ncaa_eval.forecast.court import tournament_court
from ncaa_eval.forecast.pairs import PairForecast, forecast_pairs, season_teams, tournament_teams
from ncaa_eval.ingest.repository import ParquetRepository
from ncaa_eval.ingest.schema import League
from ncaa_eval.model.packaged import PackagedForecaster
from ncaa_eval.model.registry import get_model
from ncaa_eval.tracking import ModelRun, RunStore
from ncaa_eval.tracking.artifacts import download_model_dir

_URI_PREFIXES = ("models:/", "runs:/")


def is_model_uri(text: str) -> bool:
    """Whether ``text`` is a model URI rather than a run id."""
    return text.startswith(_URI_PREFIXES)


@dataclass
class ForecastSource:
    """A resolved run or model: the run's record, and the packaged model when a URI was given."""

    given: str
    run: ModelRun
    store: RunStore
    #: The URI given (``--model``), else None.
    model_uri: str | None = None
    #: ``NAME/VERSION`` when the URI named a registered model.
    registered: str | None = None
    packaged: PackagedForecaster | None = None

    @property
    def league(self) -> League:
        return self.run.league

    def describe(self) -> str:
        """E.g. ``models:/ncaa-men@champion (version 3, run 1a2b3c4d)`` or ``run 1a2b3c4d``."""
        run = f"run {self.run.run_id[:8]}"
        if self.model_uri is None:
            return run
        version = f"version {self.registered.rsplit('/', 1)[1]}, " if self.registered else ""
        return f"{self.model_uri} ({version}{run})"


def resolve_source(text: str, tracking_uri: str | None, experiment: str) -> ForecastSource:
    """A run id (full, in any experiment, or a unique prefix in ``experiment``) or a model URI.

    Raises:
        NcaaEvalError: no store at the URI, an unknown run or model, or a model not logged by
            ``ncaa-eval train``.
    """
    from ncaa_eval.tracking.lookup import require_store, resolve_run
    from ncaa_eval.tracking.models import load_run_model

    store = RunStore(tracking_uri, experiment)
    require_store(store)
    if not is_model_uri(text):
        return ForecastSource(given=text, run=store.load_run(resolve_run(store, text)), store=store)
    loaded = load_run_model(text, store.tracking_uri)
    packaged = loaded.forecaster
    if not isinstance(packaged, PackagedForecaster):
        raise NcaaEvalError(f"{text} is not a model logged by `ncaa-eval train`.")
    run = store.load_run(loaded.run_id)
    return ForecastSource(
        given=text,
        run=run,
        store=store,
        model_uri=text,
        registered=loaded.registered,
        packaged=packaged,
    )


def check_league(source: ForecastSource, league: League, option: str) -> None:
    """Refuse a source of the other league given for ``league`` (``--men``/``--women``)."""
    if source.league != league:
        raise NcaaEvalError(
            f"{option} {source.given}: that is a {LEAGUE_NAMES[source.league]}'s model "
            f"({source.run.model_type}, run {source.run.run_id[:8]}); give a "
            f"{LEAGUE_NAMES[league]}'s run or model for {option}."
        )


@dataclass
class SourceForecast:
    """One source's pairwise forecast for a season, and how it was made."""

    source: ForecastSource
    forecast: PairForecast
    #: The data store read (None when the model answered alone, with no store).
    repository: ParquetRepository | None
    #: The packaged model answered (its own season), rather than a refit or the fitted model.
    model_alone: bool = False

    @property
    def how(self) -> str:
        """How the forecast was made, for the user."""
        if self.model_alone:
            return "the model alone"
        if self.forecast.refit:
            return "the source run's config refit on the data store's games before the tournament"
        return "the run's fitted model carried forward on the data store"

    def digest_note(self) -> str | None:
        """One line when the data store differs from the data the model was trained on."""
        trained = self.source.run.data_digest
        if self.repository is None or trained is None:
            return None
        now = self.repository.digest
        if now == trained:
            return None
        return (
            f"The data store's digest {now[:12]} differs from {trained[:12]}, the data run "
            f"{self.source.run.run_id[:8]} was trained on."
        )


def forecast_source(
    source: ForecastSource,
    season: int,
    data_dir: Path,
    *,
    all_teams: bool = False,
    repository: ParquetRepository | None = None,
) -> SourceForecast:
    """Every pair of ``season``'s tournament teams (or all its teams) from one source.

    A model URI's own season uses the packaged model alone: its teams and seeds, no data store,
    unless ``repository`` is given (a bracket needs the store's slots), whose seeded teams are
    then paired (a team the model does not know is refused by name). Otherwise the run is used
    as ``--run`` always has been (refit within its years, its fitted model after them).

    Raises:
        NcaaEvalError: missing data for the season, or a season without a tournament.
    """
    packaged = source.packaged
    if packaged is not None and packaged.season == season:
        if repository is not None:
            teams = tournament_teams(repository, source.league, season)
        else:
            teams = packaged.all_teams if all_teams else packaged.tournament_teams
        if not teams:
            raise NcaaEvalError(
                f"{source.given} has no seeded teams for {season}; use --all-teams."
            )
        seeds = repository.seeds(source.league) if repository is not None else None
        return SourceForecast(source, packaged_pairs(packaged, teams, seeds), repository, True)
    repository = repository or ParquetRepository(data_dir)
    run = source.run
    if run.league not in repository.leagues:
        raise NcaaEvalError(
            f"Run {run.run_id[:8]} is a {LEAGUE_NAMES[run.league]}'s run but the store at "
            f"'{data_dir}' has no {LEAGUE_NAMES[run.league]}'s data; import it or pass "
            "--data-dir."
        )
    teams = (
        season_teams(repository, source.league, season)
        if all_teams
        else tournament_teams(repository, source.league, season)
    )
    # An ensemble also reads the weights its walk-forward used for a season within its years.
    saved = season > run.end_year or get_model(run.model_type).composite
    with tempfile.TemporaryDirectory(prefix="ncaa-eval-model-") as tmp:
        model_dir = download_model_dir(source.store, run.run_id, Path(tmp)) if saved else None
        forecast = forecast_pairs(
            run.model_type,
            run.hyperparameters,
            run.end_year,
            model_dir,
            repository,
            source.league,
            season,
            teams,
        )
    return SourceForecast(source, forecast, repository)


def packaged_pairs(
    packaged: PackagedForecaster, team_ids: list[int], seeds: pd.DataFrame | None = None
) -> PairForecast:
    """The packaged model's probability for every pair of ``team_ids``.

    With the store's ``seeds`` (their regions), each pair is on its
    :func:`~ncaa_eval.forecast.court.tournament_court`; without them (a packaged model keeps seed
    numbers, not regions) every pair is neutral.
    """
    ids = np.array(sorted(set(team_ids)), dtype=np.int64)
    a, b = np.triu_indices(len(ids), k=1)
    league = cast(League, packaged.league)
    loc = (
        tournament_court(league, packaged.season, seeds, ids[a], ids[b])
        if seeds is not None
        else "N"
    )
    p = packaged.predict(
        pd.DataFrame(
            {"season": packaged.season, "team_a_id": ids[a], "team_b_id": ids[b], "team_a_loc": loc}
        )
    )
    return PairForecast.from_upper(packaged.season, league, ids, p, refit=False)
