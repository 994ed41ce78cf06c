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
from typing import ClassVar

import numpy as np
import pandas as pd

from ncaa_eval.model.base import STATE_FILE, FloatArray, ModelConfig, StatefulModel
from ncaa_eval.model.registry import register_model
from ncaa_eval.ratings.elo import EloConfig as EngineConfig
from ncaa_eval.ratings.elo import EloEngine

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


class EloConfig(ModelConfig, EngineConfig):
    """The Elo constants as a model config: :class:`ncaa_eval.ratings.elo.EloConfig`'s fields.

    The fields, their bounds, defaults and search ranges are those of the engine's config, defined
    once there; this class only makes them a :class:`~ncaa_eval.model.base.ModelConfig` (saved
    configs, ``--config`` files). The engine takes an instance as it is.
    """


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
        self.engine_ = EloEngine(self.config)

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
        self.engine_ = EloEngine(self.config)

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
        del state["config"]
        (path / STATE_FILE).write_text(json.dumps(state, indent=2))

    def _load_state(self, path: Path) -> None:
        state = json.loads((path / STATE_FILE).read_text())
        self.engine_ = EloEngine.from_dict(state, config=self.config)


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
