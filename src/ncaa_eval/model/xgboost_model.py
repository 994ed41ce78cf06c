"""Gradient-boosted trees (XGBoost) on the feature matrix, early-stopped on later games.

Rows arrive in chronological order, so early stopping holds out the *last*
``validation_fraction`` of the rows (:func:`time_ordered_split`), never a random sample: a random
split would let the trees learn from games played after the ones they are validated on, and pick
too many rounds. Once the best number of rounds is found, the model is refit on every row with that
number of rounds, so the most recent games, usually the most relevant ones, are learned from too.
The round count is kept as found rather than scaled up for the larger refit set: with a small
learning rate the validation loss is flat near its minimum, and erring toward fewer rounds is the
cheaper mistake on a few thousand tournament-like rows.

Two pieces of domain knowledge shape the trees (both on by default, chosen on men's tournaments
2003-2014; ``ncaa-eval tune --model xgboost --space bench/spaces/xgboost-shape.json`` searches them
again):

* **Mirrored rows** (``symmetric``): which team is "A" is an accident of TeamIDs, so the model
  learns from every row and from its mirror (every feature negated, the label flipped), and
  predicts ``(f(x) + 1 - f(-x)) / 2``: ``p(A, B) = 1 - p(B, A)`` then holds inside the model, not
  only through the orientation. This needs antisymmetric features (swapping the teams negates
  them), which every served column is; with any other column the rows are not mirrored.
* **Monotone constraints** (``monotone``): P(A wins) may only rise with a better rating, a better
  rank or seed, or playing at home
  (:data:`~ncaa_eval.transform.feature_config.FEATURE_DIRECTIONS`); columns of no direction
  (0, such as ``pace_diff``) or an unknown one are left free.

xgboost is imported inside the methods that need it, so importing this module stays cheap. The
booster is saved in XGBoost's own UBJSON format, next to a JSON file of metadata; no pickle.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self

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
from ncaa_eval.transform.feature_serving import feature_direction
from ncaa_eval.tunable import tunable

if TYPE_CHECKING:
    import xgboost

BOOSTER_FILE = "model.ubj"


class XGBoostConfig(FeatureModelConfig):
    """Hyperparameters of :class:`XGBoostModel`; defaults suit 1,000-100,000 rows of ~10 columns.

    The rounds, rate, depth, leaf weight, sampling and L2 penalty declare the ranges
    ``ncaa-eval tune`` searches (:func:`~ncaa_eval.tunable.tunable`); the seed, threads, early
    stopping and the mirrored-rows and monotone switches are left as they are.
    """

    #: Runs saved before mirrored rows and monotone constraints existed trained without them.
    added_fields: ClassVar[dict[str, Any]] = {"symmetric": False, "monotone": False}

    n_estimators: int = Field(
        default=2000,
        ge=1,
        le=100_000,
        description="Most boosting rounds; early stopping usually ends far sooner.",
        json_schema_extra=tunable(100, 3000, log=True),
    )
    learning_rate: float = Field(
        default=0.05,
        gt=0,
        le=1,
        description=(
            "Shrinkage per round: small, so early stopping can find a good round count "
            "(0.05 beat 0.02 and 0.01 on men's tournaments 2003-2014)."
        ),
        json_schema_extra=tunable(0.01, 0.3, log=True),
    )
    max_depth: int = Field(
        default=3,
        ge=1,
        le=16,
        description="Tree depth: shallow trees model few interactions and overfit less.",
        json_schema_extra=tunable(2, 8),
    )
    min_child_weight: float = Field(
        default=5.0,
        ge=0,
        description="Least hessian weight per leaf; larger stops leaves fitting a few games.",
        json_schema_extra=tunable(1, 100, log=True),
    )
    # No sampling by default: with mirrored rows and monotone constraints it scored 0.18014 on
    # 2003-2014 against 0.18021 for 0.8/0.8 averaged over four seeds (0.17998-0.18039), and a
    # forecast that does not depend on a seed is easier to trust and compare.
    subsample: float = Field(
        default=1.0,
        gt=0,
        le=1,
        description="Share of rows sampled for each tree.",
        json_schema_extra=tunable(0.5, 1),
    )
    colsample_bytree: float = Field(
        default=1.0,
        gt=0,
        le=1,
        description="Share of feature columns sampled for each tree.",
        json_schema_extra=tunable(0.5, 1),
    )
    reg_lambda: float = Field(
        default=1.0,
        ge=0,
        description="L2 penalty on leaf weights.",
        json_schema_extra=tunable(0.01, 100, log=True),
    )
    early_stopping_rounds: int = Field(
        default=100,
        ge=1,
        description="Stop after this many rounds without a better validation log loss.",
    )
    validation_fraction: float = Field(
        default=0.2,
        ge=0,
        lt=1,
        description=(
            "Share of the LAST rows (the latest games) held out for early stopping; "
            "0 trains n_estimators rounds without it."
        ),
    )
    seed: int = Field(
        default=0,
        ge=0,
        description="Seed of the row and column sampling (no effect when neither samples).",
    )
    symmetric: bool = Field(
        default=True,
        description=(
            "Learn from every row and its mirror (features negated, label flipped) and average "
            "f(x) with 1 - f(-x), so p(A, B) = 1 - p(B, A) inside the model; applies only when "
            "every column is a served, antisymmetric feature."
        ),
    )
    monotone: bool = Field(
        default=True,
        description=(
            "Constrain P(A wins) to rise with A's rating edge, fall with A's rank or seed "
            "number, and rise at home; columns of unknown direction stay free."
        ),
    )
    n_jobs: int = Field(
        default=1,
        ge=0,
        le=512,
        description=(
            "Threads; 0 uses every core. Predictions do not depend on it; one thread is quick "
            "on tables this size and does not stall when the cores are busy."
        ),
    )


def time_ordered_split(n_rows: int, validation_fraction: float) -> tuple[slice, slice]:
    """Train and validation slices of ``n_rows`` time-ordered rows: validation is the tail.

    The validation part has ``floor(n_rows * validation_fraction)`` rows; when that leaves either
    part empty, the validation slice is empty and no early stopping happens.
    """
    if n_rows < 0:
        raise ValueError(f"n_rows must be >= 0; got {n_rows}.")
    if not 0.0 <= validation_fraction < 1.0:
        raise ValueError(f"validation_fraction must be in [0, 1); got {validation_fraction}.")
    n_val = int(n_rows * validation_fraction)
    if n_val < 1 or n_val >= n_rows:
        return slice(0, n_rows), slice(n_rows, n_rows)
    return slice(0, n_rows - n_val), slice(n_rows - n_val, n_rows)


@register_model("xgboost")
class XGBoostModel(Model):
    """Binary-logistic gradient-boosted trees; NaN features are handled natively."""

    config_class: ClassVar[type[ModelConfig]] = XGBoostConfig
    # xgboost-cpu and xgboost ship the same module; whichever is installed is pinned.
    pip_requirements: ClassVar[tuple[str, ...]] = ("xgboost-cpu", "xgboost")
    learned_title: ClassVar[str] = "Gain importance of each feature (most important first)"
    config: XGBoostConfig

    def __init__(self, config: XGBoostConfig | None = None) -> None:
        super().__init__(config)
        self.booster_: xgboost.Booster | None = None
        self.feature_names_: list[str] = []
        #: Best round index (0-based) found on the validation rows; None without validation.
        self.best_iteration_: int | None = None
        #: Rounds of the final booster, refit on every row.
        self.n_rounds_: int = 0
        #: Validation log loss at the best round (of the booster on the validation games and
        #: their mirrors when mirrored); None without validation.
        self.validation_logloss_: float | None = None
        #: Whether the booster learned mirrored rows (and so predicts the mirrored average).
        self.symmetric_: bool = False

    @property
    def is_fitted(self) -> bool:
        """Whether :meth:`fit` has run (or a fitted model was loaded)."""
        return self.booster_ is not None

    def _params(self, names: list[str]) -> dict[str, Any]:
        c = self.config
        params: dict[str, Any] = {
            "objective": "binary:logistic",
            "eval_metric": "logloss",
            "tree_method": "hist",
            "eta": c.learning_rate,
            "max_depth": c.max_depth,
            "min_child_weight": c.min_child_weight,
            "subsample": c.subsample,
            "colsample_bytree": c.colsample_bytree,
            "lambda": c.reg_lambda,
            "seed": c.seed,
            "nthread": c.n_jobs,
            "verbosity": 0,
        }
        if c.monotone:
            signs = [feature_direction(name) or 0 for name in names]
            if any(signs):
                params["monotone_constraints"] = "(" + ",".join(map(str, signs)) + ")"
        return params

    def fit(self, X: pd.DataFrame, y: npt.ArrayLike) -> Self:
        """Early-stop on the last rows of ``X`` (in time order), then refit on all rows.

        Raises:
            ValueError: ``X`` is empty or has a non-numeric column, or ``y`` is not 0/1 of the
                same length with both classes present.
        """
        import xgboost

        names = [str(c) for c in X.columns] if isinstance(X, pd.DataFrame) else []
        raw = numeric_matrix(X, names, "fit")
        target = binary_target(y, raw.shape[0])
        params = self._params(names)
        symmetric = self.config.symmetric and all(feature_direction(n) is not None for n in names)
        raw, target, train, valid = training_rows(
            raw, target, self.config.validation_fraction, symmetric
        )
        best_iteration: int | None = None
        validation_logloss: float | None = None
        n_rounds = self.config.n_estimators
        if valid.stop > valid.start:
            d_train = xgboost.DMatrix(raw[train], label=target[train], nthread=self.config.n_jobs)
            d_valid = xgboost.DMatrix(raw[valid], label=target[valid], nthread=self.config.n_jobs)
            probe = xgboost.train(
                params,
                d_train,
                num_boost_round=self.config.n_estimators,
                evals=[(d_valid, "validation")],
                early_stopping_rounds=self.config.early_stopping_rounds,
                verbose_eval=False,
            )
            best_iteration = int(probe.best_iteration)
            validation_logloss = float(probe.best_score)
            n_rounds = best_iteration + 1
        d_all = xgboost.DMatrix(raw, label=target, nthread=self.config.n_jobs)
        self.booster_ = xgboost.train(params, d_all, num_boost_round=n_rounds, verbose_eval=False)
        self.feature_names_ = names
        self.best_iteration_ = best_iteration
        self.validation_logloss_ = validation_logloss
        self.n_rounds_ = n_rounds
        self.symmetric_ = symmetric
        return self

    def predict_proba(self, X: pd.DataFrame) -> FloatArray:
        """``P(team A wins)`` per row; ``X`` must hold the training feature columns.

        Raises:
            NotFittedError: :meth:`fit` has not run.
            ValueError: a training feature column is missing or non-numeric.
        """
        import xgboost

        self._check_fitted()
        assert self.booster_ is not None
        raw = numeric_matrix(X, self.feature_names_, "predict_proba")
        if raw.shape[0] == 0:
            return np.empty(0, dtype=np.float64)
        matrix = xgboost.DMatrix(raw, nthread=self.config.n_jobs)
        p = np.asarray(self.booster_.predict(matrix), dtype=np.float64)
        if self.symmetric_:
            mirror = xgboost.DMatrix(-raw, nthread=self.config.n_jobs)
            p = (p + 1.0 - np.asarray(self.booster_.predict(mirror), dtype=np.float64)) / 2.0
        return p

    def learned(self) -> pd.DataFrame:
        """One row per feature: its gain importance, how often it splits, and its share.

        Columns: ``feature``; ``gain``, the mean loss reduction of the splits on it (XGBoost's
        ``gain`` importance); ``splits``, how many splits use it across the trees; ``share``, its
        gain over the sum of every feature's (scikit-learn's ``feature_importances_``). A feature
        no tree splits on has 0 in each. Most important first.

        Raises:
            NotFittedError: :meth:`fit` has not run.
        """
        self._check_fitted()
        assert self.booster_ is not None
        # The booster learned from unnamed columns: XGBoost calls them f0, f1, ...
        gains = self.booster_.get_score(importance_type="gain")
        splits = self.booster_.get_score(importance_type="weight")
        keys = [f"f{i}" for i in range(len(self.feature_names_))]
        gain = np.array([float(np.asarray(gains.get(k, 0.0))) for k in keys], dtype=np.float64)
        total = gain.sum()
        table = pd.DataFrame(
            {
                "feature": self.feature_names_,
                "gain": gain,
                "splits": [int(np.asarray(splits.get(k, 0))) for k in keys],
                "share": gain / total if total > 0 else np.zeros_like(gain),
            }
        )
        order = np.argsort(-gain, kind="stable")
        return table.iloc[order].reset_index(drop=True)

    def _save_state(self, path: Path) -> None:
        assert self.booster_ is not None
        self.booster_.save_model(str(path / BOOSTER_FILE))
        meta = {
            "feature_names": self.feature_names_,
            "best_iteration": self.best_iteration_,
            "n_rounds": self.n_rounds_,
            "validation_logloss": self.validation_logloss_,
            "symmetric": self.symmetric_,
        }
        (path / STATE_FILE).write_text(json.dumps(meta, indent=2))

    def _load_state(self, path: Path) -> None:
        import xgboost

        meta = json.loads((path / STATE_FILE).read_text())
        booster = xgboost.Booster()
        booster.load_model(str(path / BOOSTER_FILE))
        booster.set_param({"nthread": self.config.n_jobs})
        self.booster_ = booster
        self.feature_names_ = [str(n) for n in meta["feature_names"]]
        best = meta["best_iteration"]
        self.best_iteration_ = None if best is None else int(best)
        self.n_rounds_ = int(meta["n_rounds"])
        loss = meta["validation_logloss"]
        self.validation_logloss_ = None if loss is None else float(loss)
        # Models saved before mirroring existed learned plain rows.
        self.symmetric_ = bool(meta.get("symmetric", False))


def training_rows(
    raw: FloatArray, target: FloatArray, validation_fraction: float, mirrored: bool
) -> tuple[FloatArray, FloatArray, slice, slice]:
    """The rows the booster learns from, and the train and validation slices of them.

    With ``mirrored``, every row is followed by its mirror (features negated, label flipped), so
    time order is kept; the split is made on games, so a game and its mirror always fall on the
    same side and validation holds the same latest games as without mirroring.
    """
    train, valid = time_ordered_split(raw.shape[0], validation_fraction)
    if not mirrored:
        return raw, target, train, valid
    out = np.empty((2 * raw.shape[0], raw.shape[1]), dtype=np.float64)
    out[0::2] = raw
    out[1::2] = -raw
    labels = np.empty(2 * target.shape[0], dtype=np.float64)
    labels[0::2] = target
    labels[1::2] = 1.0 - target
    return (
        out,
        labels,
        slice(2 * train.start, 2 * train.stop),
        slice(2 * valid.start, 2 * valid.stop),
    )
