"""Walk-forward evaluation: each season's tournament forecast from games before it only.

For every season ``S`` in ``[start, end]`` that had a tournament, the model is given the games
before ``S``'s tournament (the whole history from the store's first season, so ratings are
mature), and predicts every tournament game of ``S`` from that frozen state. First Four (play-in)
games are predicted but not scored, as Kaggle does (``../shared/FORECASTING.md``).

* A :class:`~ncaa_eval.model.base.StatefulModel` walks the history once: regular season, freeze,
  predict the tournament, then learn from the tournament before the next season.
* A stateless :class:`~ncaa_eval.model.base.Model` is served leakage-free features once; for each
  season a fresh model is fitted on the rows before that season's tournament and predicts it.
* An ensemble (:class:`~ncaa_eval.model.ensemble.EnsembleModel`) runs each member's own
  walk-forward once, then for each season fits its blend on the members' forecasts of the
  tournaments before it only, and forecasts the season: a walk-forward inside the walk-forward.

At the end the model is fitted on everything through ``end`` (the model a run keeps for later
seasons). The model as it forecast the last season (``forecaster``) is kept too: it is what a
run's MLflow Model serves.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from ncaa_eval.errors import NcaaEvalError
from ncaa_eval.evaluation.metrics import MetricSet, compute_metrics, metrics_by_season
from ncaa_eval.ingest.repository import ParquetRepository
from ncaa_eval.ingest.schema import League
from ncaa_eval.model.base import (
    GAME_COLUMNS,
    FeatureModelConfig,
    Model,
    ModelConfig,
    StatefulModel,
    WalkScope,
    fit_inputs,
)
from ncaa_eval.model.ensemble import BlendFit, EnsembleModel, blend
from ncaa_eval.transform.feature_serving import (
    FeatureConfig,
    FeatureSet,
    StatefulFeatureServer,
    require_box_scores,
)
from ncaa_eval.transform.matchups import conference_map, orient_games
from ncaa_eval.transform.serving import ChronologicalDataServer

#: Columns of the predictions frame a walk-forward returns.
PREDICTION_COLUMNS = (
    "game_id", "season", "day_num", "team_a_id", "team_b_id", "pred_win_prob", "team_a_won",
    "is_play_in",
)  # fmt: skip

SeasonCallback = Callable[[int, int], None]
PredictionsCallback = Callable[[int, pd.DataFrame], None]


@dataclass
class WalkForwardResult:
    """Predictions for every tournament game in the range, the final model, and metrics."""

    predictions: pd.DataFrame
    model: Model
    league: League
    start: int
    end: int
    seasons: list[int]
    feature_set: FeatureSet | None = None
    notes: list[str] = field(default_factory=list)
    #: The model exactly as it forecast the last season's tournament: fitted (or walked) on the
    #: games before it, no game of that tournament learned.
    forecaster: Model | None = None
    #: An ensemble's members' own walk-forwards, by member name (empty for other models, and
    #: for a search, whose ensemble reuses the members' forecasts kept on the history).
    members: dict[str, WalkForwardResult] = field(default_factory=dict)

    @property
    def scored(self) -> pd.DataFrame:
        """Main-draw predictions with a known outcome (First Four excluded)."""
        p = self.predictions
        return p[~p["is_play_in"] & p["team_a_won"].notna()]

    def metrics(self) -> MetricSet:
        """Brier, log loss, accuracy and calibration over all scored games."""
        s = self.scored
        return compute_metrics(s["team_a_won"].astype(float), s["pred_win_prob"])

    def season_metrics(self) -> pd.DataFrame:
        """The same metrics per season."""
        s = self.scored.assign(team_a_won=lambda d: d["team_a_won"].astype(float))
        return metrics_by_season(s)


def play_in_mask(rows: pd.DataFrame, seeds: pd.DataFrame) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """True for First Four / opening-round games: both teams hold the same play-in seed line."""
    codes = seeds.assign(line=seeds["region"] + seeds["seed_number"].astype(str))
    play_in = codes[codes["play_in"].notna()]
    key = dict(
        zip(
            zip(play_in["season"].astype(int), play_in["team_id"].astype(int), strict=True),
            play_in["line"],
            strict=True,
        )
    )
    out = np.zeros(len(rows), dtype=bool)
    for i, (season, a, b) in enumerate(
        zip(
            rows["season"].astype(int),
            rows["team_a_id"].astype(int),
            rows["team_b_id"].astype(int),
            strict=True,
        )
    ):
        line_a = key.get((season, a))
        out[i] = line_a is not None and line_a == key.get((season, b))
    return out


def check_range(server: ChronologicalDataServer, start: int, end: int, league: str) -> list[int]:
    if start > end:
        raise NcaaEvalError(
            f"Start year {start} is after end year {end}: give --start-year <= --end-year."
        )
    have = server.seasons
    if start < have[0] or end > have[-1]:
        raise NcaaEvalError(
            f"Years {start}-{end} are outside the {league} data ({have[0]}-{have[-1]}): "
            f"choose years within {have[0]}-{have[-1]}."
        )
    seasons = [s for s in range(start, end + 1) if s in have and server.has_tournament(s)]
    played = [s for s in seasons if len(server.season(s).tournament)]
    if not played:
        raise NcaaEvalError(
            f"No NCAA tournament was played in {start if start == end else f'{start}-{end}'} "
            f"({league}); choose years with one (there was none in 2020)."
        )
    return played


@dataclass
class WalkHistory:
    """The games a walk-forward reads, prepared once and reusable by many walks (a search).

    Built by :func:`prepare_history`. Holds the store's seasons from ``history_from`` through the
    last forecast season, the seasons whose tournaments are forecast, the seeds, and (computed on
    first use, then kept) the games oriented for stateful models and the features served for
    each :class:`FeatureConfig` asked for (the last :attr:`FEATURE_CACHE` of them).
    """

    FEATURE_CACHE = 2

    repository: ParquetRepository
    league: League
    history: list[int]
    seasons: list[int]
    server: ChronologicalDataServer
    seeds: pd.DataFrame
    _games: pd.DataFrame | None = None
    _features: dict[FeatureConfig, FeatureSet] = field(default_factory=dict)
    #: An ensemble's members' forecasts, by (member, config) then season: a search walks the
    #: members once, whatever blend settings its trials draw.
    _member_forecasts: dict[tuple[str, str], dict[int, pd.DataFrame]] = field(default_factory=dict)
    _scope: WalkScope | None = None

    def oriented_games(self) -> pd.DataFrame:
        """Every game walked, team A the lower id, in (season, day, game id) order."""
        if self._games is None:
            conferences = conference_map(self.repository.conferences(self.league))
            self._games = orient_games(self.server.all_games(), conferences)
        return self._games

    def scope(self) -> WalkScope:
        """What the history holds, for :meth:`ModelConfig.forecast_problem` (computed once)."""
        if self._scope is None:
            self._scope = walk_scope(self.server, self.league)
        return self._scope

    def features(self, config: FeatureConfig) -> FeatureSet:
        """The features served for ``config`` over the whole history (cached)."""
        found = self._features.pop(config, None)
        if found is None:
            found = StatefulFeatureServer(config).serve(self.repository, self.league, self.history)
        self._features[config] = found  # most recently used last
        while len(self._features) > self.FEATURE_CACHE:
            del self._features[next(iter(self._features))]
        return found


def walk_scope(server: ChronologicalDataServer, league: League) -> WalkScope:
    """The tournaments played and the seasons with box scores of ``server``'s history."""
    games = server.all_games()
    regular = games[~games["is_tournament"].to_numpy(dtype=bool)]
    box = regular.loc[regular["has_box_score"].to_numpy(dtype=bool), "season"]
    return WalkScope(
        league=league,
        tournaments=tuple(
            s
            for s in server.seasons
            if server.has_tournament(s) and len(server.season(s).tournament)
        ),
        box_scores=tuple(sorted({int(s) for s in box})),
        last=server.seasons[-1],
    )


def check_forecastable(config: ModelConfig, scope: WalkScope, seasons: list[int]) -> None:
    """Refuse, before anything runs, seasons a model of ``config`` cannot forecast.

    Raises:
        NcaaEvalError: :meth:`ModelConfig.forecast_problem` names a problem.
    """
    problem = config.forecast_problem(scope, seasons)
    if problem is not None:
        raise NcaaEvalError(problem)


def prepare_history(
    repository: ParquetRepository,
    league: League,
    start: int,
    end: int,
    history_from: int | None = None,
) -> WalkHistory:
    """Check the range and gather what a walk-forward over ``start..end`` reads.

    Raises:
        NcaaEvalError: the years are reversed, outside the data, or hold no tournament, or
            ``history_from`` is after ``start``.
    """
    if history_from is not None and history_from > start:
        raise NcaaEvalError(
            f"History from {history_from} starts after the first forecast season {start}: "
            "give a history start <= the start year."
        )
    first = history_from if history_from is not None else -1
    history = [s for s in repository.seasons_available(league) if first <= s <= end]
    server = ChronologicalDataServer(repository, league, history or None)
    seasons = check_range(server, start, end, league)
    return WalkHistory(repository, league, history, seasons, server, repository.seeds(league))


def walk_forward(
    model_factory: Callable[[], Model],
    repository: ParquetRepository,
    league: League,
    start: int,
    end: int,
    on_season: SeasonCallback | None = None,
    history_from: int | None = None,
    *,
    history: WalkHistory | None = None,
    on_predictions: PredictionsCallback | None = None,
    fit_final: bool = True,
) -> WalkForwardResult:
    """Forecast every tournament of ``start..end`` walk-forward and fit the final model.

    Args:
        model_factory: builds a fresh, unfitted model (called once per fit).
        repository: the imported store.
        league: ``"M"`` or ``"W"``.
        start: first season whose tournament is forecast.
        end: last season whose tournament is forecast.
        on_season: called with ``(season, n_predictions)`` after each season.
        history_from: first season of history walked (default: the store's first season).
        history: the games already gathered by :func:`prepare_history` for this range (a search
            walks the same range many times); ``repository``, ``league``, ``start``, ``end`` and
            ``history_from`` must be those it was prepared with.
        on_predictions: called with ``(season, predictions)`` after each season, the frame
            having :data:`PREDICTION_COLUMNS` (an exception raised here stops the walk).
        fit_final: fit the model a run keeps on everything through ``end`` (a search, which only
            scores the forecasts, skips it; ``model`` is then the last season's forecaster).

    Raises:
        NcaaEvalError: the years are reversed, outside the data, or hold no tournament, or
            ``history_from`` is after ``start``.
    """
    if history is None:
        history = prepare_history(repository, league, start, end, history_from)
    hooks = _Hooks(history.seeds, on_season, on_predictions)
    probe = model_factory()
    check_forecastable(probe.get_config(), history.scope(), history.seasons)
    if isinstance(probe, EnsembleModel):
        result = _walk_composite(probe, history, hooks, fit_final)
    elif isinstance(probe, StatefulModel):
        result = _walk_stateful(probe, history, hooks)
    else:
        result = _walk_stateless(model_factory, probe, history, hooks, fit_final)
    result.start, result.end = start, end
    return result


@dataclass(frozen=True)
class _Hooks:
    seeds: pd.DataFrame
    on_season: SeasonCallback | None
    on_predictions: PredictionsCallback | None

    def season_done(self, season: int, rows: pd.DataFrame, p: np.ndarray[Any, Any]) -> pd.DataFrame:
        frame = _prediction_frame(rows, p)
        frame["is_play_in"] = play_in_mask(frame, self.seeds)
        if self.on_season is not None:
            self.on_season(season, len(frame))
        if self.on_predictions is not None:
            self.on_predictions(season, frame)
        return frame


def _walk_stateful(model: StatefulModel, history: WalkHistory, hooks: _Hooks) -> WalkForwardResult:
    seasons = history.seasons
    server = history.server
    wanted = set(seasons)
    model.reset()
    frames = []
    forecaster: StatefulModel | None = None
    # Oriented once, then cut season by season: the server's order is (season, day, game id),
    # so each season's regular season and tournament are contiguous runs of rows, in date order.
    games = history.oriented_games()
    tournament_rows = games["is_tournament"].to_numpy(dtype=bool)
    bounds = np.searchsorted(games["season"].to_numpy(), [*server.seasons, 10_000])
    for i, season in enumerate(server.seasons):
        rows = slice(int(bounds[i]), int(bounds[i + 1]))
        season_games = games.iloc[rows]
        is_tournament = tournament_rows[rows]
        regular = season_games[~is_tournament]
        tournament = season_games[is_tournament]
        if len(regular):
            model.update(regular[list(GAME_COLUMNS)])
        if season in wanted and len(tournament):
            # Frozen: every tournament game is predicted before any of them is learned.
            p = model.predict_proba(tournament[list(GAME_COLUMNS)])
            if season == seasons[-1]:
                forecaster = copy.deepcopy(model)
            frames.append(hooks.season_done(season, tournament, p))
        if len(tournament):
            model.update(tournament[list(GAME_COLUMNS)])
    return WalkForwardResult(
        predictions=pd.concat(frames, ignore_index=True),
        model=model,
        league=history.league,
        start=seasons[0],
        end=seasons[-1],
        seasons=seasons,
        forecaster=forecaster,
    )


def training_mask(frame: pd.DataFrame, season: int, min_day: int) -> pd.Series:
    """Rows a stateless model may learn from to forecast ``season``'s tournament.

    Earlier seasons (tournaments included) and ``season``'s own regular season, leaving out
    regular-season games before ``min_day``.
    """
    before = (frame["season"] < season) | ((frame["season"] == season) & ~frame["is_tournament"])
    return before & (frame["is_tournament"] | (frame["day_num"] >= min_day))


def _walk_stateless(
    model_factory: Callable[[], Model],
    probe: Model,
    history: WalkHistory,
    hooks: _Hooks,
    fit_final: bool,
) -> WalkForwardResult:
    config = probe.get_config()
    if isinstance(config, FeatureModelConfig):
        feature_config, min_day = config.features, config.train_min_day
    else:
        feature_config, min_day = FeatureConfig(), FeatureModelConfig().train_min_day
    features = history.features(feature_config)
    require_box_scores(features, history.seasons, history.league)
    frame = features.frame
    cols = features.feature_columns
    seasons = history.seasons
    frames = []
    for season in seasons:
        train = frame[training_mask(frame, season, min_day)]
        test = frame[(frame["season"] == season) & frame["is_tournament"]]
        model = model_factory()
        model.fit(fit_inputs(model, train, cols), train["team_a_won"].to_numpy())
        frames.append(hooks.season_done(season, test, model.predict_proba(test[cols])))
    final = model
    if fit_final:
        final = model_factory()
        last = frame[training_mask(frame, seasons[-1] + 1, min_day)]
        final.fit(fit_inputs(final, last, cols), last["team_a_won"].to_numpy())
    return WalkForwardResult(
        predictions=pd.concat(frames, ignore_index=True),
        model=final,
        league=history.league,
        start=seasons[0],
        end=seasons[-1],
        seasons=seasons,
        feature_set=features,
        notes=features.notes,
        forecaster=model,
    )


def _walk_composite(
    ensemble: EnsembleModel, history: WalkHistory, hooks: _Hooks, fit_final: bool
) -> WalkForwardResult:
    """An ensemble: each member walks forward once, over the forecast seasons and the
    ``blend_seasons`` tournaments before them; then each season's blend is fitted on the members'
    forecasts of the tournaments before it (main draw, played) and forecasts the season."""
    config = ensemble.config
    names = ensemble.members
    seasons = history.seasons
    factories = {name: ensemble.member_factory(name) for name in names}
    probes = [factory() for factory in factories.values()]
    if any(isinstance(probe, StatefulModel) for probe in probes):
        history.oriented_games()  # computed once, shared by every member's view of the history
    earlier = _played_before(history, seasons[0])
    for probe in probes:
        earlier = [s for s in earlier if _can_forecast(probe, history, s)]
    walked = [*earlier[-config.blend_seasons :], *seasons]
    view = replace(history, seasons=walked)
    results: dict[str, WalkForwardResult] = {}
    for name, factory in factories.items():
        if fit_final:
            results[name] = walk_forward(
                factory, history.repository, history.league, walked[0], walked[-1], history=view
            )
    forecasts = {
        name: results[name].predictions if fit_final else _member_forecasts(view, name, factory)
        for name, factory in factories.items()
    }
    table = _member_table(forecasts)
    probabilities = table[list(names)].to_numpy(dtype=np.float64)
    scored = (~table["is_play_in"] & table["team_a_won"].notna()).to_numpy(dtype=bool)
    won = table["team_a_won"].to_numpy(dtype=np.float64)
    season_of = table["season"].to_numpy()

    def fitted_before(season: int) -> BlendFit:
        tournaments = [s for s in walked if s < season][-config.blend_seasons :]
        rows = scored & np.isin(season_of, tournaments)
        return ensemble.fit_blend(probabilities[rows], won[rows], tuple(tournaments))

    by_season: dict[int, BlendFit] = {}
    frames = []
    for season in seasons:
        by_season[season] = fitted = fitted_before(season)
        rows = season_of == season
        p = blend(probabilities[rows], fitted.weights)
        frames.append(hooks.season_done(season, table[rows], p))
    last = seasons[-1]
    forecasters = {name: r.forecaster for name, r in results.items() if r.forecaster is not None}
    forecaster = EnsembleModel.assemble(config, by_season[last], by_season, forecasters, last)
    final = forecaster
    if fit_final:
        finals = {name: r.model for name, r in results.items()}
        final = EnsembleModel.assemble(config, fitted_before(last + 1), by_season, finals)
    notes = [note for r in results.values() for note in r.notes]
    return WalkForwardResult(
        predictions=pd.concat(frames, ignore_index=True),
        model=final,
        league=history.league,
        start=seasons[0],
        end=last,
        seasons=seasons,
        notes=list(dict.fromkeys(notes)),
        forecaster=forecaster,
        members=results,
    )


def _played_before(history: WalkHistory, start: int) -> list[int]:
    """The seasons of the history before ``start`` whose tournament was played."""
    server = history.server
    return [
        s
        for s in history.history
        if s < start and server.has_tournament(s) and len(server.season(s).tournament)
    ]


def _can_forecast(model: Model, history: WalkHistory, season: int) -> bool:
    """Whether ``model`` can forecast ``season`` (:meth:`ModelConfig.forecast_problem`: one
    reading the adjusted efficiency needs the season's box scores, ``margin`` earlier
    tournaments), so an ensemble's blend learns only from tournaments every member forecast."""
    return model.get_config().forecast_problem(history.scope(), [season]) is None


def _member_forecasts(view: WalkHistory, name: str, factory: Callable[[], Model]) -> pd.DataFrame:
    """Member ``name``'s forecasts of ``view.seasons``, walked only for seasons not kept yet.

    A season's forecast does not depend on the range walked (each comes from the games before
    that tournament alone), so forecasts kept from an earlier walk are reused as they are.
    """
    key = (name, json.dumps(factory().get_config().model_dump(mode="json"), sort_keys=True))
    kept = view._member_forecasts.setdefault(key, {})
    missing = [s for s in view.seasons if s not in kept]
    if missing:
        span = [s for s in view.seasons if missing[0] <= s <= missing[-1]]
        walked = walk_forward(
            factory,
            view.repository,
            view.league,
            span[0],
            span[-1],
            history=replace(view, seasons=span),
            fit_final=False,
        )
        frame = walked.predictions
        for season in span:
            kept[season] = frame[frame["season"] == season].reset_index(drop=True)
    return pd.concat([kept[s] for s in view.seasons], ignore_index=True)


def _member_table(forecasts: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per game the members forecast, each member's probability in a column of its name.

    Raises:
        RuntimeError: two members forecast different games (a bug: both read the same store).
    """
    names = list(forecasts)
    keys = ["season", "game_id"]
    first = forecasts[names[0]]
    table = first.drop(columns="pred_win_prob").assign(**{names[0]: first["pred_win_prob"]})
    for name in names[1:]:
        other = forecasts[name][[*keys, "pred_win_prob"]].rename(columns={"pred_win_prob": name})
        table = table.merge(other, on=keys, how="left", validate="one_to_one")
        if len(other) != len(first) or table[name].isna().any():
            raise RuntimeError(f"Members {names[0]} and {name} forecast different games.")
    return table


def _prediction_frame(rows: pd.DataFrame, p: np.ndarray[Any, Any]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "game_id": rows["game_id"].to_numpy(),
            "season": rows["season"].to_numpy(dtype=np.int64),
            "day_num": rows["day_num"].to_numpy(dtype=np.int64),
            "team_a_id": rows["team_a_id"].to_numpy(dtype=np.int64),
            "team_b_id": rows["team_b_id"].to_numpy(dtype=np.int64),
            "pred_win_prob": np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0),
            "team_a_won": rows["team_a_won"].to_numpy(dtype=bool),
        }
    )
