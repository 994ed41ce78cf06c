"""The point margin of a game, by ridge regression, turned into a win probability by a normal curve.

``fit`` learns, in order:

* **The margin.** Team A's points minus team B's, capped at ``margin_cap``, regressed on the
  feature columns by ridge least squares with **no intercept**, each coefficient penalised on the
  feature's standardised scale (its training standard deviation; the feature is not centred).
  Every served column is antisymmetric (swapping the teams negates it), so without an intercept
  the predicted margin of ``(B, A)`` is minus that of ``(A, B)``, and ``p(A, B) = 1 - p(B, A)``
  holds exactly.
* **Missing values** are never imputed with a value of their own nor flagged by an indicator
  column (either would break that antisymmetry). A row is predicted by the regression on the
  features it has (its missingness pattern): a regression on exactly those columns, fitted on
  every training row, a training row lacking one of them counting 0 there (no difference between
  the teams). So a game with no Massey ordinal (before 2003) is predicted without the ordinal
  term, and ``seed_diff``, which only tournament games have, is learned from them alone while
  the other coefficients learn from every game. (Fitting each pattern on the rows having all of
  its features instead would fit a tournament pattern on tournament games only: none with
  ordinals before 2004, a few hundred after; Brier 0.1886 against 0.1810 on men's 2003-2014.)
  The model keeps the sufficient statistics (:class:`Sums`: ``x'x``, ``x'y``, each feature's
  count and sum), from which any pattern's coefficients are solved, once, on demand, after a
  reload too.
* **The spread** ``sigma`` of the normal curve ``P(A wins) = Phi(margin / sigma)``, fitted
  walk-forward on earlier seasons only: for each season ``s`` of the training rows that has
  tournament games, the same regression is fitted on the training rows of the seasons before
  ``s`` and ``s``'s own regular season (the rule of
  :func:`ncaa_eval.evaluation.walk_forward.training_mask`) and predicts ``s``'s tournament out of
  sample. ``spread_fit="outcomes"`` picks the ``sigma`` that minimises the log loss of those
  forecasts against the results; ``"residuals"`` takes the root mean square of the capped
  margin's errors. Fewer than ``spread_min_seasons`` such tournaments is an error, never a
  silent default.

The fitted model is a few small arrays saved as JSON (no pickle), and a reloaded model predicts
exactly as the fitted one. scipy is imported inside the methods that use it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, Self

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import Field, model_validator

from ncaa_eval.errors import NcaaEvalError
from ncaa_eval.model.base import (
    STATE_FILE,
    FeatureModelConfig,
    FloatArray,
    Model,
    ModelConfig,
    WalkScope,
)
from ncaa_eval.model.inputs import binary_target, numeric_matrix
from ncaa_eval.model.registry import register_model
from ncaa_eval.tunable import tunable

BoolArray = npt.NDArray[np.bool_]

#: The range ``sigma`` is searched in (points); ``"residuals"`` is held inside it too.
SIGMA_BOUNDS = (0.1, 1000.0)
#: The learned table's name for the spread row, given the number of tournaments it was fitted on.
SPREAD_TERM = "(spread sigma, {n} earlier tournaments)"


class MarginConfig(FeatureModelConfig):
    """Hyperparameters of :class:`MarginModel`.

    ``margin_cap``, ``spread_fit``, ``ridge`` and ``train_min_day`` declare the ranges ``ncaa-eval
    tune`` searches (:func:`~ncaa_eval.tunable.tunable`).
    """

    margin_cap: float = Field(
        default=30.0,
        gt=0,
        le=200,
        description="The margin learned is capped at this many points either way (blowouts).",
        json_schema_extra=tunable(10, 50),
    )
    spread_fit: Literal["outcomes", "residuals"] = Field(
        default="outcomes",
        description=(
            "How the normal curve's spread is fitted on earlier tournaments: 'outcomes' "
            "minimises the log loss of the win forecasts; 'residuals' is the RMS margin error."
        ),
        json_schema_extra=tunable(),
    )
    spread_min_seasons: int = Field(
        default=3,
        ge=1,
        le=50,
        description="Fewest earlier tournaments the spread may be fitted on (else an error).",
    )
    spread_seasons: int | None = Field(
        default=None,
        ge=1,
        le=100,
        description="The spread is fitted on this many most recent earlier tournaments; None: all.",
    )
    ridge: float = Field(
        default=1e-3,
        gt=0,
        le=100,
        description=(
            "L2 penalty on each standardised coefficient, per training row having the feature "
            "(1 would about halve a lone feature's coefficient)."
        ),
        json_schema_extra=tunable(1e-5, 1, log=True),
    )

    @model_validator(mode="after")
    def _spread_window_holds_the_minimum(self) -> Self:
        if self.spread_seasons is not None and self.spread_seasons < self.spread_min_seasons:
            raise ValueError(
                f"spread_seasons={self.spread_seasons} is below spread_min_seasons="
                f"{self.spread_min_seasons}: raise spread_seasons or lower spread_min_seasons."
            )
        return self

    def forecast_problem(self, scope: WalkScope, seasons: Sequence[int]) -> str | None:
        """Besides the features' needs: the spread needs ``spread_min_seasons`` tournaments in
        the history before the first forecast season."""
        problem = super().forecast_problem(scope, seasons)
        if problem is not None or not seasons:
            return problem
        first, need = seasons[0], self.spread_min_seasons
        before = [s for s in scope.tournaments if s < first]
        if len(before) >= need:
            return None
        held = f"{len(before)} ({', '.join(map(str, before))})" if before else "none"
        fix = (
            f"start at {scope.tournaments[need]} or later"
            if len(scope.tournaments) > need
            else f"start later, with {need} tournaments before the first forecast season"
        )
        return (
            "margin: the spread is fitted on earlier seasons' tournaments and the history holds "
            f"{held} before {first}; it needs spread_min_seasons={need}: {fix}, or lower "
            "spread_min_seasons."
        )


@dataclass(frozen=True)
class Sums:
    """The sufficient statistics of the regression over some training rows.

    With ``x`` the raw features, a missing one counting 0, and ``m`` the capped margin: ``gram``
    is ``x'x``, ``xty`` is ``x'm``, ``counts`` the rows having each feature and ``totals`` each
    feature's sum over them. Sums of disjoint sets of rows add up.
    """

    gram: FloatArray
    xty: FloatArray
    counts: FloatArray
    totals: FloatArray

    @classmethod
    def of(cls, x: FloatArray, present: BoolArray, margin: FloatArray) -> Sums:
        """The sums over the rows of ``x`` (zero-filled) with their ``present`` mask."""
        return cls(x.T @ x, x.T @ margin, present.sum(axis=0).astype(np.float64), x.sum(axis=0))

    def __add__(self, other: Sums) -> Sums:
        return Sums(
            self.gram + other.gram,
            self.xty + other.xty,
            self.counts + other.counts,
            self.totals + other.totals,
        )

    def scale(self) -> FloatArray:
        """Each feature's standard deviation over the rows having it; 1 where none or constant."""
        n = np.maximum(self.counts, 1.0)
        mean = self.totals / n
        var = np.maximum(np.diag(self.gram) / n - mean**2, 0.0)
        sd = np.sqrt(var)
        return np.where((self.counts > 0) & (sd > 0), sd, 1.0)

    def solve(self, present: BoolArray, ridge: float) -> FloatArray:
        """Coefficients per raw unit of the regression on the ``present`` features (zero for the
        others): least squares with no intercept, each coefficient on the standardised feature
        penalised by ``ridge`` times the rows having it."""
        coef = np.zeros(len(present))
        idx = np.flatnonzero(present & (self.counts > 0))
        if idx.size:
            sd = self.scale()[idx]
            system = self.gram[np.ix_(idx, idx)] / np.outer(sd, sd)
            system[np.diag_indices(idx.size)] += ridge * self.counts[idx]
            coef[idx] = np.linalg.solve(system, self.xty[idx] / sd) / sd
        return coef

    def to_json(self) -> dict[str, Any]:
        """JSON-ready data; json writes floats with repr, which round-trips float64 exactly."""
        return {
            "gram": self.gram.tolist(),
            "xty": self.xty.tolist(),
            "counts": self.counts.tolist(),
            "totals": self.totals.tolist(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Sums:
        """Rebuild from :meth:`to_json` output."""
        xty = np.array(data["xty"], dtype=np.float64)
        return cls(
            np.array(data["gram"], dtype=np.float64).reshape(len(xty), len(xty)),
            xty,
            np.array(data["counts"], dtype=np.float64),
            np.array(data["totals"], dtype=np.float64),
        )

    @classmethod
    def zero(cls, k: int) -> Sums:
        """The sums over no rows, for ``k`` features."""
        return cls(np.zeros((k, k)), np.zeros(k), np.zeros(k), np.zeros(k))


@dataclass
class Regression:
    """The margin regression of some training rows, answering any missingness pattern."""

    sums: Sums
    ridge: float
    _coefs: dict[bytes, FloatArray] = field(default_factory=dict, repr=False, compare=False)

    def coefficients(self, present: BoolArray) -> FloatArray:
        """Coefficients (points per raw unit) of the regression on the ``present`` features,
        zero for the others; solved once per pattern."""
        key = present.tobytes()
        found = self._coefs.get(key)
        if found is None:
            found = self.sums.solve(present, self.ridge)
            self._coefs[key] = found
        return found

    def margins(self, raw: FloatArray) -> FloatArray:
        """Predicted margin (team A minus team B) of each row of ``raw`` (NaN where a feature is
        missing), each row by the regression on the features it has."""
        if not len(raw):
            return np.zeros(0)
        present = ~np.isnan(raw)
        patterns, inverse = np.unique(present, axis=0, return_inverse=True)
        coefs = np.stack([self.coefficients(p) for p in patterns])
        margin: FloatArray = (np.where(present, raw, 0.0) * coefs[inverse.ravel()]).sum(axis=1)
        return margin


@dataclass
class MarginState:
    """Everything a fitted :class:`MarginModel` needs to predict."""

    #: Training feature columns, in order.
    feature_names: list[str]
    regression: Regression
    #: The normal curve's spread (points), and the earlier tournaments it was fitted on.
    sigma: float
    spread_seasons: list[int]

    def to_json(self) -> dict[str, Any]:
        """JSON-ready data (floats round-trip exactly)."""
        return {
            "feature_names": self.feature_names,
            "sums": self.regression.sums.to_json(),
            "ridge": self.regression.ridge,
            "sigma": self.sigma,
            "spread_seasons": self.spread_seasons,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MarginState:
        """Rebuild from :meth:`to_json` output."""
        return cls(
            feature_names=[str(name) for name in data["feature_names"]],
            regression=Regression(Sums.from_json(data["sums"]), float(data["ridge"])),
            sigma=float(data["sigma"]),
            spread_seasons=[int(s) for s in data["spread_seasons"]],
        )


@register_model("margin")
class MarginModel(Model):
    """Ridge regression of the point margin, through a normal curve fitted on earlier seasons."""

    config_class: ClassVar[type[ModelConfig]] = MarginConfig
    fit_columns: ClassVar[tuple[str, ...]] = (
        "season",
        "day_num",
        "is_tournament",
        "team_a_score",
        "team_b_score",
    )
    learned_title: ClassVar[str] = (
        "Points of margin for team A per standard deviation of each feature, largest first; "
        "then the spread (points) of the normal curve and the earlier tournaments it was fitted on"
    )
    config: MarginConfig

    def __init__(self, config: MarginConfig | None = None) -> None:
        super().__init__(config)
        self.state_: MarginState | None = None

    @property
    def is_fitted(self) -> bool:
        """Whether :meth:`fit` has run (or a fitted model was loaded)."""
        return self.state_ is not None

    def fit(self, X: pd.DataFrame, y: npt.ArrayLike) -> Self:
        """Learn the margin regression from the features of ``X``, and the spread from its
        earlier seasons' tournaments.

        ``X`` holds the feature columns and the game columns of :attr:`fit_columns` (see
        :func:`~ncaa_eval.model.base.fit_inputs`); every other column is a feature.

        Raises:
            ValueError: ``X`` lacks a game column, is empty, has a non-numeric feature or an
                unplayed game, or ``y`` is not 0/1 of the same length.
            NcaaEvalError: fewer than ``spread_min_seasons`` tournaments to fit the spread on.
        """
        cfg = self.config
        if not isinstance(X, pd.DataFrame):
            raise ValueError(f"fit takes a pandas DataFrame of features; got {type(X).__name__}.")
        missing = [c for c in self.fit_columns if c not in X.columns]
        if missing:
            raise ValueError(
                f"margin: fit needs the game column(s) {missing} beside the features; build X "
                "with ncaa_eval.model.base.fit_inputs."
            )
        names = [str(c) for c in X.columns if c not in self.fit_columns]
        raw = numeric_matrix(X[names], names, "fit")
        won = binary_target(y, raw.shape[0])
        margin = (X["team_a_score"] - X["team_b_score"]).to_numpy(dtype=np.float64, na_value=np.nan)
        if not np.isfinite(margin).all():
            raise ValueError("margin: fit takes played games only; some rows have no score.")
        margin = np.clip(margin, -cfg.margin_cap, cfg.margin_cap)
        season = X["season"].to_numpy(dtype=np.int64)
        tournament = X["is_tournament"].to_numpy(dtype=bool)

        present = ~np.isnan(raw)
        x = np.where(present, raw, 0.0)
        sigma, used = self._fit_spread(x, present, margin, won, season, tournament)
        self.state_ = MarginState(
            feature_names=names,
            regression=Regression(Sums.of(x, present, margin), cfg.ridge),
            sigma=sigma,
            spread_seasons=used,
        )
        return self

    def _fit_spread(
        self,
        x: FloatArray,
        present: BoolArray,
        margin: FloatArray,
        won: FloatArray,
        season: npt.NDArray[np.int64],
        tournament: BoolArray,
    ) -> tuple[float, list[int]]:
        """``sigma`` from each earlier tournament forecast out of sample, and those seasons."""
        cfg = self.config
        seasons = sorted(set(season.tolist()))
        before = Sums.zero(x.shape[1])  # every row before the season in hand
        forecasts: list[tuple[int, FloatArray, FloatArray, FloatArray]] = []
        for s in seasons:
            regular = (season == s) & ~tournament
            played = (season == s) & tournament
            before = before + Sums.of(x[regular], present[regular], margin[regular])
            if played.any() and before.counts.any():
                # The regression as it stood on the eve of s's tournament.
                raw = np.where(present[played], x[played], np.nan)
                predicted = Regression(before, cfg.ridge).margins(raw)
                forecasts.append((s, predicted, margin[played], won[played]))
            before = before + Sums.of(x[played], present[played], margin[played])
        if len(forecasts) < cfg.spread_min_seasons:
            raise NcaaEvalError(_too_few_seasons(cfg, [f[0] for f in forecasts], seasons))
        if cfg.spread_seasons is not None:
            forecasts = forecasts[-cfg.spread_seasons :]
        predicted = np.concatenate([f[1] for f in forecasts])
        actual = np.concatenate([f[2] for f in forecasts])
        outcome = np.concatenate([f[3] for f in forecasts])
        if cfg.spread_fit == "residuals":
            sigma = math.sqrt(float(np.mean((actual - predicted) ** 2)))
            sigma = min(max(sigma, SIGMA_BOUNDS[0]), SIGMA_BOUNDS[1])
        else:
            sigma = _sigma_from_outcomes(predicted, outcome)
        return sigma, [f[0] for f in forecasts]

    def predict_margin(self, X: pd.DataFrame) -> FloatArray:
        """Predicted point margin (team A minus team B) of each row of ``X``.

        ``X`` must hold the training feature columns (others are ignored); a row missing some of
        them is predicted by the regression on the features it has.

        Raises:
            NotFittedError: :meth:`fit` has not run.
            ValueError: a training feature column is missing or non-numeric.
        """
        state = self._fitted_state()
        raw = numeric_matrix(X, state.feature_names, "predict_margin")
        return state.regression.margins(raw)

    def predict_proba(self, X: pd.DataFrame) -> FloatArray:
        """``P(team A wins) = Phi(predicted margin / sigma)`` per row.

        Raises:
            NotFittedError: :meth:`fit` has not run.
            ValueError: a training feature column is missing or non-numeric.
        """
        from scipy.special import ndtr

        state = self._fitted_state()
        margin = state.regression.margins(numeric_matrix(X, state.feature_names, "predict_proba"))
        return np.asarray(ndtr(margin / state.sigma), dtype=np.float64)

    def learned(self) -> pd.DataFrame:
        """One row per feature, then the spread.

        Columns: ``term``; ``points``, for a feature the points of margin for team A per standard
        deviation of it (the coefficient of the regression on every feature), so features
        compare, and for the spread ``sigma`` in points (its ``term`` tells how many earlier
        tournaments it was fitted on); ``per_unit``, the same per unit of the raw feature; ``sd``,
        the feature's training standard deviation. Features go by the size of their coefficient,
        largest first.

        Raises:
            NotFittedError: :meth:`fit` has not run.
        """
        state = self._fitted_state()
        per_unit = state.regression.coefficients(np.ones(len(state.feature_names), dtype=bool))
        sd = state.regression.sums.scale()
        table = pd.DataFrame(
            {"term": state.feature_names, "points": per_unit * sd, "per_unit": per_unit, "sd": sd}
        )
        order = np.argsort(-np.abs(per_unit * sd), kind="stable")
        spread = pd.DataFrame(
            {
                "term": [SPREAD_TERM.format(n=len(state.spread_seasons))],
                "points": [state.sigma],
                "per_unit": [np.nan],
                "sd": [np.nan],
            }
        )
        return pd.concat([table.iloc[order], spread], ignore_index=True)

    def _fitted_state(self) -> MarginState:
        self._check_fitted()
        assert self.state_ is not None
        return self.state_

    def _save_state(self, path: Path) -> None:
        state = self._fitted_state().to_json()
        (path / STATE_FILE).write_text(json.dumps(state, indent=2))

    def _load_state(self, path: Path) -> None:
        self.state_ = MarginState.from_json(json.loads((path / STATE_FILE).read_text()))


def _sigma_from_outcomes(predicted: FloatArray, won: FloatArray) -> float:
    """The ``sigma`` minimising the log loss of ``Phi(predicted / sigma)`` against ``won``."""
    from scipy.optimize import minimize_scalar
    from scipy.special import log_ndtr

    sign = np.where(won == 1.0, 1.0, -1.0)

    def log_loss(log_sigma: float) -> float:
        # -log P(observed result) = -log Phi(+-margin / sigma), computed without underflow.
        return -float(np.mean(log_ndtr(sign * predicted / math.exp(log_sigma))))

    low, high = (math.log(b) for b in SIGMA_BOUNDS)
    found = minimize_scalar(log_loss, bounds=(low, high), method="bounded",
                            options={"xatol": 1e-6})  # fmt: skip
    return math.exp(float(found.x))


def _too_few_seasons(cfg: MarginConfig, have: list[int], seasons: list[int]) -> str:
    held = f"{len(have)} ({', '.join(map(str, have))})" if have else "none"
    last = seasons[-1] if seasons else None
    where = (
        f"start the walk-forward at {last + cfg.spread_min_seasons - len(have)} or later"
        if last is not None
        else "train on more seasons"
    )
    return (
        "margin: the spread is fitted on earlier seasons' tournaments and the training games "
        f"hold {held}; it needs spread_min_seasons={cfg.spread_min_seasons}: {where}, or lower "
        "spread_min_seasons."
    )
