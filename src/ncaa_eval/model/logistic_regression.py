"""Logistic regression on the feature matrix, with imputation and standardisation built in.

``fit`` learns, in order: the median of every feature (used to fill NaN), a missing-indicator
column for each feature that had NaN in training, the mean and scale of every column, and then
scikit-learn's ``LogisticRegression``. The fitted model is a handful of numbers saved as JSON, and
predictions are computed with numpy from them, so a reloaded model predicts exactly as the fitted
one did without scikit-learn or pickles. scikit-learn is imported inside :meth:`fit` only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal, Self

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import Field

from ncaa_eval.model.base import (
    STATE_FILE,
    FeatureModelConfig,
    FloatArray,
    Model,
    ModelConfig,
)
from ncaa_eval.model.inputs import binary_target, numeric_matrix
from ncaa_eval.model.registry import register_model
from ncaa_eval.tunable import tunable

_MISSING_SUFFIX = "__missing"


class LogisticRegressionConfig(FeatureModelConfig):
    """Hyperparameters of :class:`LogisticRegressionModel`.

    ``C``, ``missing_indicators`` and ``train_min_day`` declare the ranges ``ncaa-eval tune``
    searches (:func:`~ncaa_eval.tunable.tunable`); the solver settings are left as they are.
    """

    C: float = Field(
        default=1.0,
        gt=0,
        description="Inverse L2 regularisation strength on the standardised features.",
        json_schema_extra=tunable(1e-3, 100, log=True),
    )
    class_weight: Literal["balanced"] | None = Field(
        default=None,
        description="None weighs every game equally; 'balanced' reweighs by class frequency.",
    )
    fit_intercept: bool = Field(
        default=True, description="Learn an intercept (a bias toward team A or B)."
    )
    max_iter: int = Field(
        default=1000, ge=10, le=100_000, description="Iteration cap of the lbfgs solver."
    )
    tol: float = Field(default=1e-6, gt=0, le=1, description="Convergence tolerance of lbfgs.")
    missing_indicators: bool = Field(
        default=True,
        description="Add a 0/1 column per feature that had NaN in training.",
        json_schema_extra=tunable(),
    )
    seed: int = Field(
        default=0,
        ge=0,
        description="Random state passed to scikit-learn (lbfgs itself is deterministic).",
    )


def _sigmoid(z: FloatArray) -> FloatArray:
    # Split by sign so exp never overflows.
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1.0 + ez)
    return out


@dataclass(frozen=True)
class LinearState:
    """Everything a fitted :class:`LogisticRegressionModel` needs to predict."""

    #: Training feature columns, in order.
    feature_names: list[str]
    #: Training median of each feature, filled in for NaN (0 for an all-NaN column).
    medians: FloatArray
    #: Features that had NaN in training and so got a 0/1 missing-indicator column.
    indicator_features: list[str]
    #: Mean and scale of each design column (features, then indicators).
    mean: FloatArray
    scale: FloatArray
    #: Coefficients on the standardised design columns, and the intercept.
    coef: FloatArray
    intercept: float

    @property
    def design_names(self) -> list[str]:
        """Names of the design columns the coefficients apply to."""
        return self.feature_names + [f + _MISSING_SUFFIX for f in self.indicator_features]

    def design(self, raw: FloatArray) -> FloatArray:
        """Impute NaN with the training medians and append the missing indicators."""
        return _design(raw, self.feature_names, self.medians, self.indicator_features)

    def predict(self, raw: FloatArray) -> FloatArray:
        """``P(team A wins)`` for a raw feature matrix in :attr:`feature_names` order."""
        z = ((self.design(raw) - self.mean) / self.scale) @ self.coef + self.intercept
        return _sigmoid(np.asarray(z, dtype=np.float64))

    def to_json(self) -> dict[str, Any]:
        """JSON-ready data; json writes floats with repr, which round-trips float64 exactly."""
        return {
            "feature_names": self.feature_names,
            "medians": self.medians.tolist(),
            "indicator_features": self.indicator_features,
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "coef": self.coef.tolist(),
            "intercept": self.intercept,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LinearState:
        """Rebuild from :meth:`to_json` output."""
        return cls(
            feature_names=[str(n) for n in data["feature_names"]],
            medians=np.array(data["medians"], dtype=np.float64),
            indicator_features=[str(n) for n in data["indicator_features"]],
            mean=np.array(data["mean"], dtype=np.float64),
            scale=np.array(data["scale"], dtype=np.float64),
            coef=np.array(data["coef"], dtype=np.float64),
            intercept=float(data["intercept"]),
        )


@register_model("logistic_regression")
class LogisticRegressionModel(Model):
    """L2 logistic regression on median-imputed, standardised numeric features."""

    config_class: ClassVar[type[ModelConfig]] = LogisticRegressionConfig
    learned_title: ClassVar[str] = (
        "Coefficients (log-odds of a team A win per standard deviation), largest first"
    )
    config: LogisticRegressionConfig

    def __init__(self, config: LogisticRegressionConfig | None = None) -> None:
        super().__init__(config)
        self.state_: LinearState | None = None

    @property
    def is_fitted(self) -> bool:
        """Whether :meth:`fit` has run (or a fitted model was loaded)."""
        return self.state_ is not None

    def fit(self, X: pd.DataFrame, y: npt.ArrayLike) -> Self:
        """Learn imputation, scaling and coefficients from numeric features ``X``.

        Raises:
            ValueError: ``X`` is empty or has a non-numeric column, ``y`` is not 0/1 of the same
                length, or only one class is present.
        """
        from sklearn.linear_model import LogisticRegression

        names = [str(c) for c in X.columns] if isinstance(X, pd.DataFrame) else []
        raw = numeric_matrix(X, names, "fit")
        target = binary_target(y, raw.shape[0]).astype(np.int64)
        has_nan = [bool(np.isnan(raw[:, j]).any()) for j in range(raw.shape[1])]
        medians = np.array([_median(raw[:, j]) for j in range(raw.shape[1])], dtype=np.float64)
        indicators = (
            [n for n, nan in zip(names, has_nan, strict=True) if nan]
            if self.config.missing_indicators
            else []
        )
        design = _design(raw, names, medians, indicators)
        mean = design.mean(axis=0)
        scale = design.std(axis=0)
        # A constant column carries no information; scale 1 keeps it at zero instead of NaN.
        scale[scale == 0.0] = 1.0
        classifier = LogisticRegression(
            C=self.config.C,
            class_weight=self.config.class_weight,
            fit_intercept=self.config.fit_intercept,
            max_iter=self.config.max_iter,
            tol=self.config.tol,
            solver="lbfgs",
            random_state=self.config.seed,
        )
        classifier.fit((design - mean) / scale, target)
        self.state_ = LinearState(
            feature_names=names,
            medians=medians,
            indicator_features=indicators,
            mean=mean,
            scale=scale,
            coef=np.asarray(classifier.coef_[0], dtype=np.float64),
            intercept=float(classifier.intercept_[0]),
        )
        return self

    def predict_proba(self, X: pd.DataFrame) -> FloatArray:
        """``P(team A wins)`` per row, computed with numpy from the fitted coefficients.

        ``X`` must hold the training feature columns (others are ignored).

        Raises:
            NotFittedError: :meth:`fit` has not run.
            ValueError: a training feature column is missing or non-numeric.
        """
        state = self._fitted_state()
        return state.predict(numeric_matrix(X, state.feature_names, "predict_proba"))

    def learned(self) -> pd.DataFrame:
        """One row per design column (features, then missing indicators) and the intercept.

        Columns: ``feature``; ``coefficient``, on the standardised column (log-odds of a team A
        win per standard deviation), so coefficients compare across features; ``per_unit``, the
        same per unit of the raw feature (``coefficient / scale``); and the scaler's ``mean`` and
        ``scale``. Rows go by the size of the coefficient, largest first; the intercept (no mean
        or scale) comes last.

        Raises:
            NotFittedError: :meth:`fit` has not run.
        """
        state = self._fitted_state()
        table = pd.DataFrame(
            {
                "feature": state.design_names,
                "coefficient": state.coef,
                "per_unit": state.coef / state.scale,
                "mean": state.mean,
                "scale": state.scale,
            }
        )
        order = np.argsort(-np.abs(state.coef), kind="stable")
        intercept = pd.DataFrame(
            {
                "feature": ["(intercept)"],
                "coefficient": [state.intercept],
                "per_unit": [state.intercept],
                "mean": [np.nan],
                "scale": [np.nan],
            }
        )
        return pd.concat([table.iloc[order], intercept], ignore_index=True)

    def _fitted_state(self) -> LinearState:
        self._check_fitted()
        assert self.state_ is not None
        return self.state_

    def _save_state(self, path: Path) -> None:
        state = self._fitted_state().to_json()
        (path / STATE_FILE).write_text(json.dumps(state, indent=2))

    def _load_state(self, path: Path) -> None:
        self.state_ = LinearState.from_json(json.loads((path / STATE_FILE).read_text()))


def _median(column: FloatArray) -> float:
    present = column[~np.isnan(column)]
    return float(np.median(present)) if present.size else 0.0


def _design(
    raw: FloatArray, names: list[str], medians: FloatArray, indicator_features: list[str]
) -> FloatArray:
    nan_mask = np.isnan(raw)
    filled: FloatArray = np.where(nan_mask, medians, raw)
    if not indicator_features:
        return filled
    position = {name: i for i, name in enumerate(names)}
    columns = [position[name] for name in indicator_features]
    return np.hstack([filled, nan_mask[:, columns].astype(np.float64)])
