"""The model contract every forecaster follows, built-in or plugin.

A model predicts ``P(team A wins)`` for each row of a matchup frame, team A being the lower
TeamID. Two kinds exist:

* :class:`Model` (stateless): learns from a feature matrix. ``fit(X, y)`` sees the feature
  columns the feature server produced, plus the game columns the model names in
  :attr:`Model.fit_columns` (a margin model's scores, a season's structure; :func:`fit_inputs`
  builds that ``X``); ``predict_proba(X)`` gets the feature columns only and returns one
  probability per row.
* :class:`StatefulModel`: walks games in time order (Elo). ``X`` holds the game metadata columns
  (:data:`GAME_COLUMNS`); ``update`` predicts each game from the state before it, then learns from
  it; ``predict_proba`` predicts from the current state and learns nothing.

A third, composite, kind blends other models (:attr:`Model.composite`, the ``ensemble``): ``X``
holds the members' probabilities, one column per member, and the walk-forward runs the members.

Configs are frozen Pydantic models with ``extra="forbid"``; every field has a default, a constraint
and a description, so ``ncaa-eval models`` can list them and ``--config`` can validate overrides.

Optionally, a model tells what it learned: :meth:`Model.learned` returns a table a person can read
(Elo's ratings, logistic regression's coefficients, XGBoost's gain importances), titled by
:attr:`Model.learned_title`. Each training run logs it as ``learned.csv`` and ``ncaa-eval runs
show`` prints its first rows; a model that does not implement it trains just the same.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from ncaa_eval.errors import NotFittedError
from ncaa_eval.transform.feature_serving import FeatureConfig, box_score_problem
from ncaa_eval.tunable import tunable

FloatArray = npt.NDArray[np.float64]

#: Columns a stateful model receives, one row per game, team A the lower TeamID. Scores are NaN for
#: games not yet played; ``team_a_loc`` is ``H``/``A``/``N`` from team A's side.
GAME_COLUMNS: tuple[str, ...] = (
    "game_id",
    "season",
    "day_num",
    "team_a_id",
    "team_b_id",
    "team_a_score",
    "team_b_score",
    "team_a_loc",
    "num_ot",
    "is_tournament",
    "team_a_conf",
    "team_b_conf",
)

CONFIG_FILE = "config.json"
STATE_FILE = "model.json"


@dataclass(frozen=True)
class WalkScope:
    """What a walk-forward's history holds, for the checks made before anything runs.

    Built by :func:`ncaa_eval.evaluation.walk_forward.walk_scope` from the games only (no feature
    is served), so ``train`` and ``tune`` refuse an impossible request before a run exists.
    """

    league: str
    #: Seasons of the history whose tournament was played, in order.
    tournaments: tuple[int, ...]
    #: Seasons with regular-season box scores, in order.
    box_scores: tuple[int, ...]
    #: The last season of the history.
    last: int


class ModelConfig(BaseModel):
    """Base class of every model's hyperparameters: frozen, strict about unknown keys."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    #: Fields added after configs of this class were first saved, each with the value that
    #: reproduces how a config saved before it existed behaved (see :meth:`complete_saved`).
    added_fields: ClassVar[dict[str, Any]] = {}

    @classmethod
    def complete_saved(cls, values: dict[str, Any]) -> dict[str, Any]:
        """Give a config saved before some fields existed the values it was trained with.

        A saved config (a run's ``config.json``, a saved model's) lists every field of its day.
        When ``values`` holds every field except some of :attr:`added_fields`, it was saved
        before those existed, and they get their old values rather than today's defaults. Any
        other mapping (a user's partial ``--config`` file) is returned as it is.
        """
        missing = {k: v for k, v in cls.added_fields.items() if k not in values}
        older = set(cls.model_fields) - set(cls.added_fields)
        if missing and older <= set(values):
            return {**values, **missing}
        return values

    @classmethod
    def from_saved(cls, values: dict[str, Any]) -> Self:
        """Validate a saved config (a run's hyperparameters, a saved model's config.json)."""
        return cls.model_validate(cls.complete_saved(values))

    def forecast_problem(self, scope: WalkScope, seasons: Sequence[int]) -> str | None:
        """Why a model of this config cannot forecast the tournaments of ``seasons`` (in order)
        from ``scope``'s history, in one line naming the fix; None when it can (the default)."""
        return None


#: The features stateless models use by default, chosen on men's tournaments 2003-2014 only
#: (searched again by ``ncaa-eval tune --model logistic_regression --space
#: bench/spaces/features.json``, and ``bench/spaces/margin.json`` for the margin rating's
#: settings; see the README, "Tune"): efficiency and form added nothing beyond Elo,
#: the margin rating, the ordinal composite and seeds (Brier 0.1831 with them vs 0.1820 without,
#: logistic regression), and a 30-point margin cap beat 20. The margin rating starts each season
#: from zero rather than from 0.6 x last season's (0.1815 vs 0.1820 logistic regression, 0.1811
#: vs 0.1819 XGBoost): Elo already carries the history, and the prior only made it stale.
TUNED_MODEL_FEATURES = FeatureConfig(
    margin_cap=30.0,
    margin_carry=0.0,
    efficiency=False,
    form=False,
    fresh_tournament_rating=True,
)


class FeatureModelConfig(ModelConfig):
    """Config of a stateless model: which features it is served and which games it learns from.

    The walk-forward serves ``features`` for every game and trains on tournament games of earlier
    seasons plus regular-season games from ``train_min_day`` on (early-season features rest on
    few games and are noisy). ``train_min_day`` declares the range ``ncaa-eval tune`` searches;
    the ``features`` declare none, and are searched only where a search-space file opens them.
    """

    features: FeatureConfig = Field(
        default_factory=lambda: TUNED_MODEL_FEATURES,
        description="Features served to the model.",
    )
    train_min_day: int = Field(
        default=100,
        ge=0,
        le=200,
        description="Regular-season games before this DayNum are not used as training rows.",
        json_schema_extra=tunable(0, 130),
    )

    def forecast_problem(self, scope: WalkScope, seasons: Sequence[int]) -> str | None:
        """The adjusted efficiency needs every forecast season's box scores."""
        if not self.features.adjusted_efficiency:
            return None
        missing = [s for s in seasons if s not in scope.box_scores]
        if not missing:
            return None
        return box_score_problem(scope.league, list(scope.box_scores), missing, scope.last)


class Model(ABC):
    """A stateless forecaster learning ``P(team A wins)`` from a feature matrix.

    Subclasses set ``config_class``, store the config in ``__init__`` and keep learned state in
    attributes ending in ``_`` (scikit-learn's convention).
    """

    config_class: ClassVar[type[ModelConfig]] = ModelConfig
    #: True for models that walk games in time order and need :data:`GAME_COLUMNS`.
    stateful: ClassVar[bool] = False
    #: True for a model that blends other registered models (``ensemble``): its ``X`` holds the
    #: members' probabilities, one column per member, and the walk-forward runs the members.
    composite: ClassVar[bool] = False
    #: The registry name; set by :func:`ncaa_eval.model.registry.register_model`.
    name: ClassVar[str] = ""
    #: Distributions a fitted model needs to predict, beyond ncaa-eval's own (pinned to the
    #: installed versions in a run's MLflow Model; names not installed are skipped).
    pip_requirements: ClassVar[tuple[str, ...]] = ()
    #: What :meth:`learned` returns, in a few words (shown above the table by ``runs show``).
    learned_title: ClassVar[str] = ""
    #: Game columns of the served frame (:data:`GAME_COLUMNS`) that :meth:`fit` receives in ``X``
    #: besides the feature columns (e.g. the scores, for a model of the margin); every caller
    #: passes them through :func:`fit_inputs`. :meth:`predict_proba` never gets them.
    fit_columns: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: ModelConfig | None = None) -> None:
        if config is None:
            config = self.config_class()
        if not isinstance(config, self.config_class):
            raise TypeError(
                f"{type(self).__name__} takes a {self.config_class.__name__}, "
                f"got {type(config).__name__}."
            )
        self.config = config

    def get_config(self) -> ModelConfig:
        """Return the full, resolved configuration."""
        return self.config

    @classmethod
    def from_params(cls, params: dict[str, Any] | None = None) -> Self:
        """Build the model from a plain mapping of hyperparameters, validated by its config."""
        return cls(cls.config_class.model_validate(params or {}))

    @abstractmethod
    def fit(self, X: pd.DataFrame, y: npt.ArrayLike) -> Self:
        """Learn from rows ``X`` with labels ``y`` (1 when team A won)."""

    @abstractmethod
    def predict_proba(self, X: pd.DataFrame) -> FloatArray:
        """Return ``P(team A wins)`` for each row of ``X``, in ``[0, 1]``."""

    @property
    @abstractmethod
    def is_fitted(self) -> bool:
        """Whether :meth:`fit` has run."""

    def learned(self) -> pd.DataFrame | None:
        """What the fitted model learned, as a tidy table a person can read; None: not told.

        Optional (the default returns None). One row per item (a team, a feature), in the order
        worth reading first (best-rated team, largest coefficient, most important feature):
        ``runs show`` prints the first rows. Plain columns of numbers and text; a ``team_id``
        column gets the team's name beside it in the run's ``learned.csv``.

        Raises:
            NotFittedError: the model is not fitted (in implementations).
        """
        return None

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFittedError(
                f"{type(self).__name__} is not fitted yet: call fit() before predict_proba()."
            )

    # Persistence: a directory holding config.json plus whatever state files the model writes.
    def save(self, path: Path) -> None:
        """Write the config and fitted state into directory ``path`` (no pickle)."""
        self._check_fitted()
        path.mkdir(parents=True, exist_ok=True)
        payload = {"model": self.name, "config": self.config.model_dump(mode="json")}
        (path / CONFIG_FILE).write_text(json.dumps(payload, indent=2, sort_keys=True))
        self._save_state(path)

    @classmethod
    def load(cls, path: Path) -> Self:
        """Rebuild a fitted model from a directory written by :meth:`save`."""
        payload = json.loads((path / CONFIG_FILE).read_text())
        model = cls(cls.config_class.from_saved(payload["config"]))
        model._load_state(path)
        return model

    @abstractmethod
    def _save_state(self, path: Path) -> None:
        """Write the learned state into ``path`` in a non-executable format."""

    @abstractmethod
    def _load_state(self, path: Path) -> None:
        """Read the learned state written by :meth:`_save_state`."""


def fit_inputs(
    model: Model | type[Model], frame: pd.DataFrame, feature_columns: Sequence[str]
) -> pd.DataFrame:
    """The ``X`` a stateless model is fitted on: the feature columns of the served ``frame``, then
    the game columns the model declares in :attr:`Model.fit_columns`.

    Raises:
        ValueError: ``frame`` lacks a column the model declares.
    """
    extra = [c for c in model.fit_columns if c not in feature_columns]
    missing = [c for c in extra if c not in frame.columns]
    if missing:
        raise ValueError(f"{model.name or 'The model'}: fit needs the game column(s) {missing}.")
    return frame[[*feature_columns, *extra]]


class StatefulModel(Model):
    """A forecaster that walks games in time order, predicting each from its state before it.

    ``fit`` resets the state and walks ``X``; ``update`` continues the walk with later games, so a
    walk-forward evaluation passes over the history once. ``predict_proba`` never changes state:
    a tournament is predicted from the state frozen before its first game.
    """

    stateful: ClassVar[bool] = True

    @abstractmethod
    def reset(self) -> None:
        """Forget everything learned; the next :meth:`update` starts from scratch."""

    @abstractmethod
    def update(self, games: pd.DataFrame) -> FloatArray:
        """Walk ``games`` (played, in time order) and return each one's pre-game ``P(A wins)``."""

    def fit(self, X: pd.DataFrame, y: npt.ArrayLike | None = None) -> Self:
        """Reset, then walk the played games in ``X``; ``y`` is implied by the scores."""
        self.reset()
        self.update(X)
        return self
