"""Elo as a :class:`~ncaa_eval.model.base.StatefulModel`: the rating math lives in ratings.elo.

The model walks games in time order. A new value in the ``season`` column starts a new season:
ratings regress toward the mean of the team's conference, the conferences being those on that
season's rows of the frame passed to :meth:`EloModel.update`. The defaults were tuned on men's
tournaments 1990-2014 (walk-forward, main draw, Brier); ``ncaa-eval tune --model elo
--tune-years 1990-2014`` runs that search again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import Field

from ncaa_eval.model.base import STATE_FILE, FloatArray, ModelConfig, StatefulModel
from ncaa_eval.model.registry import register_model
from ncaa_eval.ratings.elo import EloEngine, EloParams
from ncaa_eval.tunable import tunable

_DEFAULTS = EloParams()

#: Columns :meth:`EloModel.update` needs (of :data:`~ncaa_eval.model.base.GAME_COLUMNS`).
UPDATE_COLUMNS = (
    "season",
    "day_num",
    "team_a_id",
    "team_b_id",
    "team_a_score",
    "team_b_score",
    "team_a_loc",
    "is_tournament",
)
#: Columns :meth:`EloModel.predict_proba` needs.
PREDICT_COLUMNS = ("season", "team_a_id", "team_b_id", "team_a_loc")


class EloConfig(ModelConfig):
    """Elo constants; each default is the tuned value of :class:`~ncaa_eval.ratings.EloParams`.

    Every field but the rating scale (``initial_rating``, ``mean_rating``) declares the range
    ``ncaa-eval tune`` searches (:func:`~ncaa_eval.tunable.tunable`).
    """

    initial_rating: float = Field(
        default=_DEFAULTS.initial_rating,
        gt=0,
        description="Rating of every team in the first season walked.",
    )
    new_team_rating: float = Field(
        default=_DEFAULTS.new_team_rating,
        gt=0,
        description="Rating of a team first seen in a later season (new Division I programs).",
        json_schema_extra=tunable(850, 1400),
    )
    k: float = Field(
        default=_DEFAULTS.k,
        ge=0,
        le=500,
        description="Update size (Elo points) of a regular-season game after early_days.",
        json_schema_extra=tunable(20, 80),
    )
    k_early: float = Field(
        default=_DEFAULTS.k_early,
        ge=0,
        le=500,
        description="Update size before day early_days, when carried-over ratings are stalest.",
        json_schema_extra=tunable(20, 150),
    )
    early_days: int = Field(
        default=_DEFAULTS.early_days,
        ge=0,
        le=200,
        description="Regular-season games with day_num below this use k_early; 0 disables it.",
        json_schema_extra=tunable(0, 80),
    )
    k_tournament: float = Field(
        default=_DEFAULTS.k_tournament,
        ge=0,
        le=500,
        description="Update size of an NCAA tournament game (learned after it is predicted).",
        json_schema_extra=tunable(10, 100),
    )
    home_edge: float = Field(
        default=_DEFAULTS.home_edge,
        ge=0,
        le=400,
        description="Home-court advantage in Elo points (about 25-30 per point of spread).",
        json_schema_extra=tunable(40, 150),
    )
    use_margin: bool = Field(
        default=_DEFAULTS.use_margin,
        description="Scale updates by the damped margin multiplier; off gives win/loss Elo.",
        json_schema_extra=tunable(),
    )
    mov_a: float = Field(
        default=_DEFAULTS.mov_a,
        ge=0,
        le=50,
        description="Margin multiplier (MOV + a)^b / (c + d * winner edge): offset a.",
        json_schema_extra=tunable(0.5, 6),
    )
    mov_b: float = Field(
        default=_DEFAULTS.mov_b,
        gt=0,
        le=2,
        description="Margin multiplier exponent b (< 1: blowouts count less than linearly).",
        json_schema_extra=tunable(0.4, 1.0),
    )
    mov_c: float = Field(
        default=_DEFAULTS.mov_c,
        gt=0,
        le=100,
        description="Margin multiplier denominator constant c.",
        json_schema_extra=tunable(2, 15),
    )
    mov_d: float = Field(
        default=_DEFAULTS.mov_d,
        ge=0,
        le=0.1,
        description="Margin multiplier damping d per Elo point of the winner's pre-game edge.",
        json_schema_extra=tunable(0, 0.012),
    )
    carry_over: float = Field(
        default=_DEFAULTS.carry_over,
        ge=0,
        le=1,
        description="Share of a rating's deviation from the mean kept into the next season.",
        json_schema_extra=tunable(0.4, 0.9),
    )
    carry_toward: Literal["conference", "league"] = Field(
        default=_DEFAULTS.carry_toward,
        description="Regress between seasons toward the conference mean or the league mean.",
        json_schema_extra=tunable(),
    )
    mean_rating: float = Field(
        default=_DEFAULTS.mean_rating,
        gt=0,
        description="League mean; also the target of teams whose conference is unknown.",
    )

    def to_params(self) -> EloParams:
        """The engine parameters these settings describe."""
        return EloParams(**self.model_dump())


@register_model("elo")
class EloModel(StatefulModel):
    """Margin-aware Elo with home edge, early-season K and carry-over toward conference means.

    ``X`` holds :data:`~ncaa_eval.model.base.GAME_COLUMNS`, team A the lower TeamID.
    """

    config_class: ClassVar[type[ModelConfig]] = EloConfig
    learned_title: ClassVar[str] = "Ratings after the last game walked (best first)"
    config: EloConfig

    def __init__(self, config: EloConfig | None = None) -> None:
        super().__init__(config)
        self.engine_ = EloEngine(self.config.to_params())

    @property
    def is_fitted(self) -> bool:
        """Whether any game has been learned from (or a fitted state loaded)."""
        return self.engine_.n_games > 0

    @property
    def ratings_(self) -> dict[int, float]:
        """A copy of the current rating of every team seen."""
        return self.engine_.ratings

    @property
    def season_(self) -> int | None:
        """The last season learned from."""
        return self.engine_.season

    def reset(self) -> None:
        """Forget every rating; the next :meth:`update` starts from ``initial_rating``."""
        self.engine_ = EloEngine(self.config.to_params())

    def update(self, games: pd.DataFrame) -> FloatArray:
        """Walk played ``games`` in time order and return each one's pre-game ``P(A wins)``.

        A season later than the last one walked first applies the carry-over, with conferences
        taken from that season's rows of ``games``.

        Raises:
            ValueError: a needed column is missing, a score is missing, ``team_a_loc`` is not
                ``H``/``A``/``N``, or the games are not in time order (also relative to the
                games already walked).
        """
        _require_columns(games, UPDATE_COLUMNS, "update")
        return self.engine_.walk(
            games["season"].to_numpy(dtype=np.int64),
            games["day_num"].to_numpy(dtype=np.int64),
            games["team_a_id"].to_numpy(dtype=np.int64),
            games["team_b_id"].to_numpy(dtype=np.int64),
            games["team_a_score"].to_numpy(dtype=np.float64),
            games["team_b_score"].to_numpy(dtype=np.float64),
            games["team_a_loc"].to_numpy(),
            # eq(True) reads True/1 as a tournament game and None/NaN as not.
            games["is_tournament"].eq(True).to_numpy(dtype=bool),
            conferences=conferences_by_season(games),
        )

    def predict_proba(self, X: pd.DataFrame) -> FloatArray:
        """``P(team A wins)`` from the current ratings; the model's state is left unchanged.

        Rows of a season later than the last one walked are predicted from carried-over ratings
        (computed in a copy, with that season's conferences from ``X``). Unknown teams get the
        rating a new team would start with.

        Raises:
            NotFittedError: no game has been learned from yet.
            ValueError: a needed column is missing or ``team_a_loc`` is invalid.
        """
        self._check_fitted()
        _require_columns(X, PREDICT_COLUMNS, "predict_proba")
        out = np.empty(len(X), dtype=np.float64)
        if len(X) == 0:
            return out
        seasons = X["season"].to_numpy(dtype=np.int64)
        conferences = conferences_by_season(X)
        for season in np.unique(seasons).tolist():
            rows = np.flatnonzero(seasons == season)
            part = X.iloc[rows]
            out[rows] = self.engine_.predict(
                part["team_a_id"].to_numpy(dtype=np.int64),
                part["team_b_id"].to_numpy(dtype=np.int64),
                part["team_a_loc"].to_numpy(),
                season=int(season),
                conference_of=conferences.get(int(season)),
            )
        return out

    def learned(self) -> pd.DataFrame:
        """Every team seen with its current rating and rank (1 = best), best first.

        Columns ``team_id``, ``rating``, ``rank``; equal ratings share the better rank.

        Raises:
            NotFittedError: no game has been learned from yet.
        """
        self._check_fitted()
        ratings = self.ratings_
        table = pd.DataFrame(
            {
                "team_id": np.fromiter(ratings.keys(), dtype=np.int64, count=len(ratings)),
                "rating": np.fromiter(ratings.values(), dtype=np.float64, count=len(ratings)),
            }
        )
        table = table.sort_values(["rating", "team_id"], ascending=[False, True], kind="stable")
        table["rank"] = table["rating"].rank(method="min", ascending=False).astype(np.int64)
        return table.reset_index(drop=True)

    def _save_state(self, path: Path) -> None:
        state = self.engine_.to_dict()
        # The config file is the one source of the constants; keep the state file to the state.
        del state["params"]
        (path / STATE_FILE).write_text(json.dumps(state, indent=2))

    def _load_state(self, path: Path) -> None:
        state = json.loads((path / STATE_FILE).read_text())
        self.engine_ = EloEngine.from_dict(state, params=self.config.to_params())


def conferences_by_season(games: pd.DataFrame) -> dict[int, dict[int, str]]:
    """Season -> (team id -> conference) from ``team_a_conf``/``team_b_conf``; missing skipped.

    Frames without the conference columns give an empty mapping (league-mean carry-over). A later
    row wins, as the last known conference (every ``team_a`` row, then every ``team_b`` row).
    """
    result: dict[int, dict[int, str]] = {}
    seasons = games["season"].to_numpy()
    # Called twice per season walked (and so per trial of a search): dicts built from zipped
    # lists, season by season, rather than a Python loop over rows or a pandas group-by.
    for side in ("a", "b"):
        column = f"team_{side}_conf"
        if column not in games.columns:
            continue
        confs = games[column]
        valid = confs.notna().to_numpy()
        teams = games[f"team_{side}_id"].to_numpy()[valid]
        names = confs.to_numpy(dtype=object)[valid]
        in_season = seasons[valid]
        for season in np.unique(in_season).tolist():
            rows = in_season == season
            result.setdefault(int(season), {}).update(
                zip(teams[rows].tolist(), map(str, names[rows].tolist()), strict=True)
            )
    return result


def _require_columns(frame: pd.DataFrame, columns: tuple[str, ...], method: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"EloModel.{method} needs the game columns {', '.join(columns)}; "
            f"missing: {', '.join(missing)}."
        )


__all__ = ["EloConfig", "EloModel", "conferences_by_season"]
