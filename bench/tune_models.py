"""Choose the stateless models' defaults on men's tournaments 2003-2014 only, reproducibly.

Every variant is scored the way :func:`ncaa_eval.evaluation.walk_forward.walk_forward` scores a
stateless model: features served once by :class:`StatefulFeatureServer`, then for each season a
fresh model fitted on :func:`training_mask` rows (earlier seasons, tournaments included, plus the
season's own regular season from ``train_min_day``) predicts that season's tournament; the Brier of
the main draw (First Four excluded) is printed. Only seasons before 2015 are ever served, so the
2015-2024 test window cannot influence anything chosen here.

Groups (``--group``, default all):

* ``features``: feature-server variants with logistic regression (margin carry-over, prior
  weight, recency half-life, fresh tournament rating, separate Massey systems).
* ``lr``: logistic-regression settings (C, ``train_min_day``, tournament games repeated k times).
* ``calibration``: Platt / temperature scaling of the LR logit, fitted walk-forward on the
  out-of-sample tournament predictions of the previous k seasons only (OOS from 1990 on).
* ``xgb``: XGBoost depth, learning rate and min_child_weight.
* ``xgb_shape``: XGBoost with and without mirrored rows (``symmetric``) and monotone constraints
  (``monotone``), each over four seeds (one seed's luck moves the score by up to 0.0005), then
  depth, learning rate and min_child_weight again with both on, and finally without sampling
  (the chosen defaults: the seed no longer matters).

Usage: ``.venv/bin/python bench/tune_models.py --data-dir DIR [--group lr]``
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ncaa_eval.evaluation.metrics import brier_score
from ncaa_eval.evaluation.walk_forward import play_in_mask, training_mask
from ncaa_eval.ingest import ParquetRepository
from ncaa_eval.model.base import TUNED_MODEL_FEATURES, Model
from ncaa_eval.model.logistic_regression import LogisticRegressionConfig, LogisticRegressionModel
from ncaa_eval.model.xgboost_model import XGBoostConfig, XGBoostModel
from ncaa_eval.transform.feature_serving import FeatureConfig, StatefulFeatureServer

TUNING_SEASONS = range(2003, 2015)
#: Seasons served: everything before the held-out window.
HELD_OUT_FROM = 2015


class Bench:
    """Served feature frames (cached per feature config) and the walk-forward scorer."""

    def __init__(self, data_dir: Path) -> None:
        self.repo = ParquetRepository(data_dir)
        self.history = [s for s in self.repo.seasons_available("M") if s < HELD_OUT_FROM]
        self.seeds = self.repo.seeds("M")
        self._frames: dict[FeatureConfig, tuple[pd.DataFrame, list[str]]] = {}

    def features(self, config: FeatureConfig) -> tuple[pd.DataFrame, list[str]]:
        if config not in self._frames:
            fs = StatefulFeatureServer(config).serve(self.repo, "M", self.history)
            assert fs.frame["season"].max() < HELD_OUT_FROM
            self._frames[config] = (fs.frame, fs.feature_columns)
        return self._frames[config]

    def predictions(
        self,
        config: FeatureConfig,
        factory: Callable[[], Model],
        min_day: int,
        seasons: range = TUNING_SEASONS,
        tournament_repeat: int = 1,
    ) -> pd.DataFrame:
        """Out-of-sample main-draw predictions (column ``p``) of ``seasons``, walk-forward."""
        frame, cols = self.features(config)
        parts = []
        for season in seasons:
            train = frame[training_mask(frame, season, min_day)]
            if tournament_repeat > 1:
                extra = train[train["is_tournament"]]
                train = pd.concat([train, *[extra] * (tournament_repeat - 1)])
            test = frame[(frame["season"] == season) & frame["is_tournament"]]
            model = factory().fit(train[cols], train["team_a_won"].to_numpy())
            parts.append(test.assign(p=model.predict_proba(test[cols])))
        preds = pd.concat(parts)
        return preds[~play_in_mask(preds, self.seeds)]


def brier(preds: pd.DataFrame, column: str = "p") -> float:
    scored = preds[preds["season"].isin(TUNING_SEASONS)]
    return brier_score(scored["team_a_won"].to_numpy(dtype=np.float64), scored[column].to_numpy())


def lr(**params: Any) -> Callable[[], Model]:
    return lambda: LogisticRegressionModel(LogisticRegressionConfig(**params))


def xgb(**params: Any) -> Callable[[], Model]:
    return lambda: XGBoostModel(XGBoostConfig(**params))


#: XGBoost's shape when the ``xgb`` and ``combined`` groups were run (before ``xgb_shape``):
#: plain rows, no monotone constraints, rows and columns sampled at 0.8.
FIRST_SHAPE: dict[str, Any] = {
    "symmetric": False,
    "monotone": False,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
}


def xgb_first(**params: Any) -> Callable[[], Model]:
    return xgb(**FIRST_SHAPE, **params)


def show(name: str, score: float, t0: float) -> None:
    print(f"{name:55s} Brier 2003-2014 {score:.5f}  ({time.perf_counter() - t0:.0f} s)", flush=True)


def group_features(bench: Bench) -> None:
    # Single changes from the defaults as they were before this search (margin_carry 0.6).
    base = TUNED_MODEL_FEATURES.model_copy(update={"margin_carry": 0.6})
    variants: dict[str, dict[str, Any]] = {
        "old defaults (margin_carry 0.6)": {},
        "margin_carry 0": {"margin_carry": 0.0},
        "margin_carry 0.2": {"margin_carry": 0.2},
        "margin_carry 0.3": {"margin_carry": 0.3},
        "margin_carry 0.4": {"margin_carry": 0.4},
        "margin_carry 0.5": {"margin_carry": 0.5},
        "margin_carry 0.8": {"margin_carry": 0.8},
        "margin_prior_games 1": {"margin_prior_games": 1.0},
        "margin_prior_games 6": {"margin_prior_games": 6.0},
        "margin_cap 40": {"margin_cap": 40.0},
        "margin half-life 30 days": {"margin_half_life_days": 30.0},
        "margin half-life 60 days": {"margin_half_life_days": 60.0},
        "margin half-life 200 days": {"margin_half_life_days": 200.0},
        "stale tournament rating (fresh_tournament_rating off)": {"fresh_tournament_rating": False},
        "+ POM, SAG, MOR, WLK separately": {"ordinal_system_columns": ("POM", "SAG", "MOR", "WLK")},
        "POM instead of the composite": {"ordinals": False, "ordinal_system_columns": ("POM",)},
    }
    for name, update in variants.items():
        t0 = time.perf_counter()
        preds = bench.predictions(base.model_copy(update=update), lr(), 100)
        show(f"features: {name}", brier(preds), t0)


def group_lr(bench: Bench) -> None:
    base = TUNED_MODEL_FEATURES.model_copy(update={"margin_carry": 0.6})
    for C in (0.001, 0.01, 0.1, 1.0, 10.0):
        t0 = time.perf_counter()
        show(f"lr: C {C}", brier(bench.predictions(base, lr(C=C), 100)), t0)
    for min_day in (0, 60, 80, 100, 118):
        t0 = time.perf_counter()
        show(f"lr: train_min_day {min_day}", brier(bench.predictions(base, lr(), min_day)), t0)
    for repeat in (2, 5, 10):
        t0 = time.perf_counter()
        preds = bench.predictions(base, lr(), 100, tournament_repeat=repeat)
        show(f"lr: tournament rows x{repeat}", brier(preds), t0)


def _temperature(z: np.ndarray[Any, Any], y: np.ndarray[Any, Any]) -> float:
    """The logit scale minimising the log loss, on a 0.005 grid from 0.3 to 3."""
    grid = np.linspace(0.3, 3.0, 541)
    losses = [
        float(np.mean(np.logaddexp(0.0, -t * z) * y + np.logaddexp(0.0, t * z) * (1 - y)))
        for t in grid
    ]
    return float(grid[int(np.argmin(losses))])


def _platt(z: np.ndarray[Any, Any], y: np.ndarray[Any, Any]) -> tuple[float, float]:
    from sklearn.linear_model import LogisticRegression

    fit = LogisticRegression(C=1e6).fit(z[:, None], y)
    return float(fit.coef_[0][0]), float(fit.intercept_[0])


def group_calibration(bench: Bench) -> None:
    t0 = time.perf_counter()
    old = TUNED_MODEL_FEATURES.model_copy(update={"margin_carry": 0.6})
    preds = bench.predictions(old, lr(), 100, seasons=range(1990, 2015))
    show("calibration: none", brier(preds), t0)
    y = preds["team_a_won"].to_numpy(dtype=np.float64)
    p = np.clip(preds["p"].to_numpy(), 1e-6, 1 - 1e-6)
    z = np.log(p / (1 - p))
    season = preds["season"].to_numpy()
    for k in (5, 10, 13):
        for kind in ("temperature", "platt"):
            out = np.full(len(preds), np.nan)
            for s in TUNING_SEASONS:
                # Only the previous k seasons' out-of-sample predictions: never season s itself.
                past = (season < s) & (season >= s - k)
                now = season == s
                if kind == "temperature":
                    logit = _temperature(z[past], y[past]) * z[now]
                else:
                    slope, intercept = _platt(z[past], y[past])
                    logit = slope * z[now] + intercept
                out[now] = 1 / (1 + np.exp(-logit))
            show(f"calibration: {kind}, previous {k} seasons", brier(preds.assign(c=out), "c"), t0)


def group_xgb(bench: Bench) -> None:
    base = TUNED_MODEL_FEATURES.model_copy(update={"margin_carry": 0.6})
    variants: dict[str, dict[str, Any]] = {
        "old defaults (learning_rate 0.02)": {"learning_rate": 0.02},
        "max_depth 2": {"learning_rate": 0.02, "max_depth": 2},
        "max_depth 4": {"learning_rate": 0.02, "max_depth": 4},
        "learning_rate 0.05": {},
        "learning_rate 0.01": {"learning_rate": 0.01},
        "min_child_weight 1": {"learning_rate": 0.02, "min_child_weight": 1.0},
        "min_child_weight 20": {"learning_rate": 0.02, "min_child_weight": 20.0},
    }
    for name, params in variants.items():
        t0 = time.perf_counter()
        show(f"xgb: {name}", brier(bench.predictions(base, xgb_first(**params), 100)), t0)


def group_xgb_shape(bench: Bench) -> None:
    seeds = range(4)

    def over_seeds(name: str, **params: Any) -> None:
        t0 = time.perf_counter()
        scores = [
            brier(bench.predictions(TUNED_MODEL_FEATURES, xgb(seed=seed, **params), 100))
            for seed in seeds
        ]
        print(
            f"{'xgb_shape: ' + name:55s} Brier 2003-2014 mean {np.mean(scores):.5f} over seeds "
            f"0-3 (min {min(scores):.5f}, max {max(scores):.5f})  "
            f"({time.perf_counter() - t0:.0f} s)",
            flush=True,
        )

    sampled = {"subsample": 0.8, "colsample_bytree": 0.8}  # the defaults before this search
    over_seeds("plain (symmetric off, monotone off)", symmetric=False, monotone=False, **sampled)
    over_seeds("monotone only", symmetric=False, **sampled)
    over_seeds("symmetric only", monotone=False, **sampled)
    over_seeds("symmetric and monotone", **sampled)
    over_seeds("both, max_depth 2", max_depth=2, **sampled)
    over_seeds("both, max_depth 4", max_depth=4, **sampled)
    over_seeds("both, learning_rate 0.02", learning_rate=0.02, **sampled)
    over_seeds("both, learning_rate 0.1", learning_rate=0.1, **sampled)
    over_seeds("both, min_child_weight 10", min_child_weight=10.0, **sampled)
    over_seeds("CHOSEN DEFAULTS: both, no row or column sampling")


def group_combined(bench: Bench) -> None:
    """The single changes that helped above, combined; the last two rows were chosen (XGBoost
    then took its shape in ``xgb_shape``)."""
    base = TUNED_MODEL_FEATURES.model_copy(update={"margin_carry": 0.6})  # the old default
    carry = {c: base.model_copy(update={"margin_carry": c}) for c in (0.0, 0.3, 0.4)}
    runs: dict[str, tuple[FeatureConfig, Callable[[], Model], int]] = {
        "lr: margin_carry 0.4, train_min_day 60": (carry[0.4], lr(), 60),
        "lr: margin_carry 0.4, train_min_day 80": (carry[0.4], lr(), 80),
        "lr: margin_carry 0, margin_prior_games 1": (
            carry[0.0].model_copy(update={"margin_prior_games": 1.0}),
            lr(),
            100,
        ),
        "lr: margin_carry 0, margin_prior_games 6": (
            carry[0.0].model_copy(update={"margin_prior_games": 6.0}),
            lr(),
            100,
        ),
        "xgb: old defaults (margin_carry 0.6, learning_rate 0.02)": (
            base,
            xgb_first(learning_rate=0.02),
            100,
        ),
        "xgb: margin_carry 0.4, learning_rate 0.02": (
            carry[0.4],
            xgb_first(learning_rate=0.02),
            100,
        ),
        "xgb: margin_carry 0.4, learning_rate 0.05": (
            carry[0.4],
            xgb_first(learning_rate=0.05),
            100,
        ),
        "xgb: margin_carry 0.4, learning_rate 0.05, max_depth 4": (
            carry[0.4],
            xgb_first(learning_rate=0.05, max_depth=4),
            100,
        ),
        "xgb: margin_carry 0.3, learning_rate 0.05": (
            carry[0.3],
            xgb_first(learning_rate=0.05),
            100,
        ),
        "xgb: margin_carry 0, learning_rate 0.02": (carry[0.0], xgb_first(learning_rate=0.02), 100),
        "lr: CHOSEN DEFAULTS (margin_carry 0, C 1, train_min_day 100)": (carry[0.0], lr(), 100),
        "xgb: CHOSEN (margin_carry 0, learning_rate 0.05)": (carry[0.0], xgb_first(), 100),
    }
    for name, (features, factory, min_day) in runs.items():
        t0 = time.perf_counter()
        show(f"combined {name}", brier(bench.predictions(features, factory, min_day)), t0)


GROUPS = {
    "features": group_features,
    "lr": group_lr,
    "calibration": group_calibration,
    "xgb": group_xgb,
    "xgb_shape": group_xgb_shape,
    "combined": group_combined,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="imported ncaa-eval store")
    parser.add_argument("--group", choices=sorted(GROUPS), action="append")
    args = parser.parse_args()
    bench = Bench(args.data_dir)
    for name in args.group or list(GROUPS):
        GROUPS[name](bench)


if __name__ == "__main__":
    main()
