"""``P(A beats B)`` for every pair of teams of a season, from a run's model, with no leakage.

A run's saved model has learned from every season up to the run's end year, tournaments
included. So:

* for a season **after** the run's end year, the saved model is used as it is (a stateful model
  first walks the regular seasons since, up to the forecast season's Selection Sunday);
* for a season **within** the run's years, the model is rebuilt from the run's config and fitted
  on the games before that season's tournament only, exactly as the run's walk-forward did.

Either way the forecast uses only what was known on the season's Selection Sunday. Each pair is
played on the court :func:`ncaa_eval.forecast.court.tournament_court` gives it from the seeds (a
women's host seed at home in its first-round pod, else neutral), as the walk-forward scores the
played games on their recorded courts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from ncaa_eval.errors import NcaaEvalError
from ncaa_eval.forecast.court import court_sign, tournament_court
from ncaa_eval.ingest.repository import ParquetRepository
from ncaa_eval.ingest.schema import League
from ncaa_eval.model.base import (
    GAME_COLUMNS,
    FeatureModelConfig,
    Model,
    StatefulModel,
    fit_inputs,
)
from ncaa_eval.model.ensemble import MEMBERS_DIR, EnsembleConfig, EnsembleModel, blend
from ncaa_eval.model.registry import get_model
from ncaa_eval.transform.feature_serving import (
    FeatureConfig,
    StatefulFeatureServer,
    require_box_scores,
)
from ncaa_eval.transform.matchups import conference_map, orient_games, pair_rows
from ncaa_eval.transform.serving import ChronologicalDataServer


@dataclass
class PairForecast:
    """Pairwise probabilities for one season: ``prob[i, j] = P(team_ids[i] beats team_ids[j])``."""

    season: int
    league: League
    team_ids: npt.NDArray[np.int64]
    prob: npt.NDArray[np.float64]
    refit: bool

    @classmethod
    def from_upper(
        cls,
        season: int,
        league: League,
        team_ids: npt.NDArray[np.int64],
        p: npt.NDArray[np.float64],
        *,
        refit: bool,
    ) -> PairForecast:
        """From ``P(A beats B)`` of every pair ``i < j`` in ``np.triu_indices`` order."""
        prob = np.full((len(team_ids), len(team_ids)), 0.5)
        a, b = np.triu_indices(len(team_ids), k=1)
        prob[a, b] = p
        prob[b, a] = 1.0 - p
        return cls(season, league, team_ids, prob, refit)

    def pairs(self) -> pd.DataFrame:
        """One row per unordered pair, team A the lower id: season, team_a_id, team_b_id, pred."""
        a, b = np.triu_indices(len(self.team_ids), k=1)
        return pd.DataFrame(
            {
                "season": self.season,
                "team_a_id": self.team_ids[a],
                "team_b_id": self.team_ids[b],
                "pred": self.prob[a, b],
            }
        )


def tournament_teams(repository: ParquetRepository, league: League, season: int) -> list[int]:
    """The seeded teams of ``season``.

    Raises:
        NcaaEvalError: the season has no seeds in the store.
    """
    seeds = repository.seeds(league)
    teams = seeds.loc[seeds["season"] == season, "team_id"].astype(int).tolist()
    if not teams:
        have = sorted(set(seeds["season"].astype(int)))
        raise NcaaEvalError(
            f"Season {season} has no tournament seeds in the {league} store (seeded seasons: "
            f"{_season_ranges(have)}); import data with {season}'s seeds (a submission of every "
            "pair of the season's teams needs none: `predict --all-teams`)."
            if have
            else f"The {league} store has no tournament seeds."
        )
    return sorted(teams)


def season_teams(repository: ParquetRepository, league: League, season: int) -> list[int]:
    """Every team that played a game in ``season`` (Kaggle's stage-two pairs), else the seeds.

    Raises:
        NcaaEvalError: the season has neither games nor seeds in the store.
    """
    games = repository.games(league, [season])
    teams = set(games["w_team_id"].astype(int)) | set(games["l_team_id"].astype(int))
    if teams:
        return sorted(teams)
    seeds = repository.seeds(league)
    seeded = seeds.loc[seeds["season"] == season, "team_id"].astype(int).tolist()
    if not seeded:
        # Not tournament_teams' message, which would suggest --all-teams to its own user.
        available = repository.seasons_available(league)
        have = f" (it has {available[0]}-{available[-1]})" if available else ""
        raise NcaaEvalError(
            f"Season {season} has no games and no seeds in the {league} store{have}; "
            "import data that includes it."
        )
    return sorted(seeded)


def forecast_pairs(
    model_type: str,
    hyperparameters: dict[str, Any],
    end_year: int,
    model_dir: Path | None,
    repository: ParquetRepository,
    league: League,
    season: int,
    team_ids: list[int],
) -> PairForecast:
    """Probabilities for every pair of ``team_ids`` before ``season``'s tournament, each pair on
    its :func:`~ncaa_eval.forecast.court.tournament_court`.

    Args:
        model_type: the run's registered model name.
        hyperparameters: the run's full config.
        end_year: the run's last season (its saved model has seen everything through it).
        model_dir: the run's saved model folder (None forces a refit from the config).
        repository: the data store.
        league: the run's league.
        season: the season to forecast.
        team_ids: the teams to pair.
    """
    cls = get_model(model_type)
    config = cls.config_class.from_saved(hyperparameters)
    available = repository.seasons_available(league)
    history = [s for s in available if s <= season]
    if not history:
        raise NcaaEvalError(
            f"Season {season} is before the {league} data ({available[0]}-{available[-1]})."
        )
    use_saved = season > end_year and model_dir is not None
    if not use_saved:
        _check_refit(config, repository, league, season)
    ids = np.array(sorted(set(team_ids)), dtype=np.int64)
    if isinstance(config, EnsembleConfig):
        p = _composite(config, end_year, model_dir, repository, league, season, ids.tolist())
        return PairForecast.from_upper(season, league, ids, p, refit=not use_saved)
    conferences = conference_map(repository.conferences(league))
    server = ChronologicalDataServer(repository, league, history)
    start_day = server.tournament_start_day(season) if season in history else 134
    rows = pair_rows(season, ids.tolist(), start_day, conferences)
    rows["team_a_loc"] = tournament_court(
        league, season, repository.seeds(league), rows["team_a_id"], rows["team_b_id"]
    )
    if cls.stateful:
        p = _stateful(
            cls, config, use_saved, model_dir, end_year, server, conferences, rows, season
        )
    else:
        p = _stateless(cls, config, use_saved, model_dir, repository, league, history, rows, season)
    return PairForecast.from_upper(season, league, ids, p, refit=not use_saved)


def _composite(
    config: EnsembleConfig,
    end_year: int,
    model_dir: Path | None,
    repository: ParquetRepository,
    league: League,
    season: int,
    team_ids: list[int],
) -> npt.NDArray[np.float64]:
    """An ensemble: each member's pairs, from its saved model in the ensemble's folder after the
    run's years and refit before, blended with the weights the run's walk-forward forecast the
    season with (after its years, the blend it kept for later seasons)."""
    saved = EnsembleModel.load(model_dir) if model_dir is not None else None
    weights = None if saved is None else saved.weights_for(season, end_year)
    if weights is None:
        weights = _blend_before(config, repository, league, season)
    later = season > end_year and model_dir is not None
    members = []
    for name in config.members:
        forecast = forecast_pairs(
            name,
            config.member_configs[name],
            end_year,
            model_dir / MEMBERS_DIR / name if later and model_dir is not None else None,
            repository,
            league,
            season,
            team_ids,
        )
        a, b = np.triu_indices(len(forecast.team_ids), k=1)
        members.append(forecast.prob[a, b])
    return blend(np.column_stack(members), weights)


def _check_refit(config: Any, repository: ParquetRepository, league: League, season: int) -> None:
    """Refuse in one line a refit for a season the config cannot forecast (``margin`` with too
    few earlier tournaments, say): :meth:`~ncaa_eval.model.base.ModelConfig.forecast_problem`."""
    from ncaa_eval.evaluation.walk_forward import walk_scope

    # The whole store, so that the fix can name the first season that works.
    available = repository.seasons_available(league)
    scope = walk_scope(ChronologicalDataServer(repository, league, available), league)
    problem = config.forecast_problem(scope, [season])
    if problem is not None:
        raise NcaaEvalError(f"Cannot forecast {season} with this run's config: {problem}")


def _blend_before(
    config: EnsembleConfig, repository: ParquetRepository, league: League, season: int
) -> npt.NDArray[np.float64]:
    """The ensemble's weights refit on its members' forecasts of the ``blend_seasons``
    tournaments before ``season`` that every member can forecast (equal weights when there is
    none), as its walk-forward did."""
    from ncaa_eval.evaluation.walk_forward import walk_forward, walk_scope

    history = [s for s in repository.seasons_available(league) if s < season]
    if not history:
        return np.full(len(config.members), 1.0 / len(config.members))
    server = ChronologicalDataServer(repository, league, history)
    scope = walk_scope(server, league)
    played = [s for s in scope.tournaments if config.forecast_problem(scope, [s]) is None]
    if not played:
        return np.full(len(config.members), 1.0 / len(config.members))
    # The blend a walk-forward ending with the last of them keeps for the seasons after it.
    result = walk_forward(lambda: EnsembleModel(config), repository, league, played[-1], played[-1])
    model = result.model
    assert isinstance(model, EnsembleModel)
    assert model.blend_ is not None
    return model.blend_.weights


def _stateful(
    cls: type[Model],
    config: Any,
    use_saved: bool,
    model_dir: Path | None,
    end_year: int,
    server: ChronologicalDataServer,
    conferences: dict[int, dict[int, str]],
    rows: pd.DataFrame,
    season: int,
) -> npt.NDArray[np.float64]:
    if use_saved:
        assert model_dir is not None
        model = cls.load(model_dir)
        first = end_year + 1
    else:
        model = cls(config)
        assert isinstance(model, StatefulModel)
        model.reset()
        first = server.seasons[0]
    assert isinstance(model, StatefulModel)
    for s in server.seasons:
        if s < first:
            continue
        games = server.season(s)
        regular = orient_games(games.regular, conferences)
        if len(regular):
            model.update(regular[list(GAME_COLUMNS)])
        if s == season:
            break
        tournament = orient_games(games.tournament, conferences)
        if len(tournament):
            model.update(tournament[list(GAME_COLUMNS)])
    return model.predict_proba(rows[list(GAME_COLUMNS)])


def _stateless(
    cls: type[Model],
    config: Any,
    use_saved: bool,
    model_dir: Path | None,
    repository: ParquetRepository,
    league: League,
    history: list[int],
    rows: pd.DataFrame,
    season: int,
) -> npt.NDArray[np.float64]:
    from ncaa_eval.evaluation.walk_forward import training_mask

    if isinstance(config, FeatureModelConfig):
        feature_config, min_day = config.features, config.train_min_day
    else:
        feature_config, min_day = FeatureConfig(), FeatureModelConfig().train_min_day
    features = StatefulFeatureServer(feature_config).serve(repository, league, history)
    require_box_scores(features, [season], league)
    if season not in features.tournament_snapshots:
        raise NcaaEvalError(
            f"Season {season} has no tournament to forecast in the {league} data "
            "(there was none in 2020); choose another season."
        )
    X = features.pair_features(season, rows, court_sign(rows["team_a_loc"].to_numpy(dtype=object)))
    if use_saved:
        assert model_dir is not None
        model = cls.load(model_dir)
    else:
        frame = features.frame
        train = frame[training_mask(frame, season, min_day)]
        X_train = fit_inputs(cls, train, features.feature_columns)
        model = cls(config).fit(X_train, train["team_a_won"].to_numpy())
    return model.predict_proba(X)


def _season_ranges(seasons: list[int]) -> str:
    """``[1985, ..., 2019, 2021, ...]`` as ``1985-2019, 2021-2025``: gaps (2020) show."""
    parts: list[str] = []
    start = prev = seasons[0]
    for season in [*seasons[1:], None]:
        if season is not None and season == prev + 1:
            prev = season
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if season is not None:
            start = prev = season
    return ", ".join(parts)
