"""Walk-forward evaluation: each season's tournament forecast from games before it only.

For every season ``S`` in ``[start, end]`` that had a tournament, the model is given the games
before ``S``'s tournament (the whole history from the store's first season, so ratings are
mature), and predicts every tournament game of ``S`` from that frozen state. First Four (play-in)
games are predicted but not scored, as Kaggle does (``../shared/FORECASTING.md``).

* A :class:`~ncaa_eval.model.base.StatefulModel` walks the history once: regular season, freeze,
  predict the tournament, then learn from the tournament before the next season.
* A stateless :class:`~ncaa_eval.model.base.Model` is served leakage-free features once; for each
  season a fresh model is fitted on the rows before that season's tournament and predicts it.

At the end the model is fitted on everything through ``end`` (the model a run keeps for later
seasons). The model as it forecast the last season (``forecaster``) is kept too: it is what a
run's MLflow Model serves.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ncaa_eval.errors import NcaaEvalError
from ncaa_eval.evaluation.metrics import MetricSet, compute_metrics, metrics_by_season
from ncaa_eval.ingest.repository import ParquetRepository
from ncaa_eval.ingest.schema import League
from ncaa_eval.model.base import GAME_COLUMNS, FeatureModelConfig, Model, StatefulModel
from ncaa_eval.transform.feature_serving import FeatureConfig, FeatureSet, StatefulFeatureServer
from ncaa_eval.transform.matchups import conference_map, orient_games
from ncaa_eval.transform.serving import ChronologicalDataServer

#: Columns of the predictions frame a walk-forward returns.
PREDICTION_COLUMNS = (
    "game_id", "season", "day_num", "team_a_id", "team_b_id", "pred_win_prob", "team_a_won",
    "is_play_in",
)  # fmt: skip

SeasonCallback = Callable[[int, int], None]


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


def walk_forward(
    model_factory: Callable[[], Model],
    repository: ParquetRepository,
    league: League,
    start: int,
    end: int,
    on_season: SeasonCallback | None = None,
    history_from: int | None = None,
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
    seeds = repository.seeds(league)
    probe = model_factory()
    if isinstance(probe, StatefulModel):
        result = _walk_stateful(probe, server, repository, league, seasons, on_season)
    else:
        result = _walk_stateless(model_factory, probe, repository, league, history, seasons,
                                 on_season)  # fmt: skip
    result.start, result.end = start, end
    preds = result.predictions
    preds["is_play_in"] = play_in_mask(preds, seeds)
    return result


def _walk_stateful(
    model: StatefulModel,
    server: ChronologicalDataServer,
    repository: ParquetRepository,
    league: League,
    seasons: list[int],
    on_season: SeasonCallback | None,
) -> WalkForwardResult:
    conferences = conference_map(repository.conferences(league))
    wanted = set(seasons)
    model.reset()
    frames = []
    forecaster: StatefulModel | None = None
    # Oriented once, then cut season by season: the server's order is (season, day, game id),
    # so each season's regular season and tournament are contiguous runs of rows, in date order.
    games = orient_games(server.all_games(), conferences)
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
            frames.append(_prediction_frame(tournament, p))
            if season == seasons[-1]:
                forecaster = copy.deepcopy(model)
            if on_season is not None:
                on_season(season, len(tournament))
        if len(tournament):
            model.update(tournament[list(GAME_COLUMNS)])
    return WalkForwardResult(
        predictions=pd.concat(frames, ignore_index=True),
        model=model,
        league=league,
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
    repository: ParquetRepository,
    league: League,
    history: list[int],
    seasons: list[int],
    on_season: SeasonCallback | None,
) -> WalkForwardResult:
    config = probe.get_config()
    if isinstance(config, FeatureModelConfig):
        feature_config, min_day = config.features, config.train_min_day
    else:
        feature_config, min_day = FeatureConfig(), FeatureModelConfig().train_min_day
    features = StatefulFeatureServer(feature_config).serve(repository, league, history)
    frame = features.frame
    cols = features.feature_columns
    frames = []
    for season in seasons:
        train = frame[training_mask(frame, season, min_day)]
        test = frame[(frame["season"] == season) & frame["is_tournament"]]
        model = model_factory()
        model.fit(train[cols], train["team_a_won"].to_numpy())
        frames.append(_prediction_frame(test, model.predict_proba(test[cols])))
        if on_season is not None:
            on_season(season, len(test))
    final = model_factory()
    last = frame[training_mask(frame, seasons[-1] + 1, min_day)]
    final.fit(last[cols], last["team_a_won"].to_numpy())
    return WalkForwardResult(
        predictions=pd.concat(frames, ignore_index=True),
        model=final,
        league=league,
        start=seasons[0],
        end=seasons[-1],
        seasons=seasons,
        feature_set=features,
        notes=features.notes,
        forecaster=model,
    )


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
