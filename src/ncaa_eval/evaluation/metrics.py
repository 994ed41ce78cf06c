"""Scores of probabilistic forecasts of binary outcomes (``y = 1`` when team A won).

Pure numpy. Every function checks its inputs the same way: ``y`` and ``p`` are 1-D, the same
length, not empty, ``y`` is 0/1 and ``p`` lies in ``[0, 1]`` with no NaN.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

FloatArray = npt.NDArray[np.float64]


def _validate(y: npt.ArrayLike, p: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Return ``y`` and ``p`` as float arrays, or raise ValueError saying what is wrong."""
    y_arr = np.asarray(y, dtype=np.float64)
    p_arr = np.asarray(p, dtype=np.float64)
    if y_arr.ndim != 1 or p_arr.ndim != 1:
        raise ValueError(f"y and p must be 1-D; got shapes {y_arr.shape} and {p_arr.shape}.")
    if y_arr.size != p_arr.size:
        raise ValueError(
            f"y and p must have the same length; got {y_arr.size} outcomes and "
            f"{p_arr.size} probabilities."
        )
    if y_arr.size == 0:
        raise ValueError("y and p are empty: there is nothing to score.")
    if not np.isin(y_arr, (0.0, 1.0)).all():
        bad = np.unique(y_arr[~np.isin(y_arr, (0.0, 1.0))])[:5].tolist()
        raise ValueError(f"y must hold only 0 and 1; got {bad}.")
    if np.isnan(p_arr).any():
        raise ValueError(f"p holds {int(np.isnan(p_arr).sum())} NaN value(s).")
    if (p_arr < 0.0).any() or (p_arr > 1.0).any():
        raise ValueError(
            f"p must lie in [0, 1]; got values from {p_arr.min():g} to {p_arr.max():g}."
        )
    return y_arr, p_arr


def brier_score(y: npt.ArrayLike, p: npt.ArrayLike) -> float:
    """Mean squared error of the probabilities; 0.25 for always 0.5, 0 is perfect."""
    y_arr, p_arr = _validate(y, p)
    return float(np.mean((p_arr - y_arr) ** 2))


def log_loss(y: npt.ArrayLike, p: npt.ArrayLike, eps: float = 1e-15) -> float:
    """Mean negative log-likelihood in nats; ``p`` is clipped to ``[eps, 1 - eps]``.

    The clip keeps a confident miss finite (``-ln(1e-15)`` is about 34.5); 0.693 is always 0.5.
    """
    if not 0.0 < eps < 0.5:
        raise ValueError(f"eps must be in (0, 0.5); got {eps}.")
    y_arr, p_arr = _validate(y, p)
    clipped = np.clip(p_arr, eps, 1.0 - eps)
    return float(-np.mean(y_arr * np.log(clipped) + (1.0 - y_arr) * np.log1p(-clipped)))


def accuracy(y: npt.ArrayLike, p: npt.ArrayLike) -> float:
    """Share of games whose favourite won: ``p > 0.5`` picks A, and ``p == 0.5`` scores half."""
    y_arr, p_arr = _validate(y, p)
    hits = np.where(p_arr == 0.5, 0.5, ((p_arr > 0.5) == (y_arr == 1.0)).astype(np.float64))
    return float(np.mean(hits))


def _bin_index(p: FloatArray, n_bins: int) -> npt.NDArray[np.int64]:
    # Equal-width bins [0, 1/n), ..., [(n-1)/n, 1]: p == 1 belongs to the last bin.
    return np.minimum((p * n_bins).astype(np.int64), n_bins - 1)


def _check_bins(n_bins: int) -> None:
    if isinstance(n_bins, bool) or not isinstance(n_bins, int | np.integer) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive integer; got {n_bins!r}.")


def reliability_table(y: npt.ArrayLike, p: npt.ArrayLike, n_bins: int = 10) -> pd.DataFrame:
    """Forecast against outcome per equal-width probability bin on ``[0, 1]``.

    Returns:
        One row per bin (empty bins included, with NaN means): ``bin``, ``lower``, ``upper``,
        ``count``, ``mean_pred`` and ``observed_rate``.
    """
    _check_bins(n_bins)
    y_arr, p_arr = _validate(y, p)
    index = _bin_index(p_arr, n_bins)
    count = np.bincount(index, minlength=n_bins)
    pred_sum = np.bincount(index, weights=p_arr, minlength=n_bins)
    obs_sum = np.bincount(index, weights=y_arr, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_pred = np.where(count > 0, pred_sum / count, np.nan)
        observed = np.where(count > 0, obs_sum / count, np.nan)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    return pd.DataFrame(
        {
            "bin": np.arange(n_bins),
            "lower": edges[:-1],
            "upper": edges[1:],
            "count": count.astype(np.int64),
            "mean_pred": mean_pred,
            "observed_rate": observed,
        }
    )


def expected_calibration_error(y: npt.ArrayLike, p: npt.ArrayLike, n_bins: int = 10) -> float:
    """``sum_bins (count / n) * |mean_pred - observed_rate|`` over equal-width bins."""
    table = reliability_table(y, p, n_bins)
    used = table[table["count"] > 0]
    gap = (used["mean_pred"] - used["observed_rate"]).abs()
    return float((gap * used["count"]).sum() / used["count"].sum())


@dataclass(frozen=True, slots=True)
class MetricSet:
    """The headline scores of one set of forecasts."""

    brier: float
    log_loss: float
    accuracy: float
    calibration_error: float
    n: int

    def as_dict(self) -> dict[str, float | int]:
        """The scores as a plain mapping (e.g. to log as metrics)."""
        return asdict(self)


def compute_metrics(y: npt.ArrayLike, p: npt.ArrayLike) -> MetricSet:
    """Brier, log loss, accuracy and 10-bin expected calibration error of ``p`` against ``y``."""
    y_arr, p_arr = _validate(y, p)
    return MetricSet(
        brier=brier_score(y_arr, p_arr),
        log_loss=log_loss(y_arr, p_arr),
        accuracy=accuracy(y_arr, p_arr),
        calibration_error=expected_calibration_error(y_arr, p_arr),
        n=int(y_arr.size),
    )


def metrics_by_season(
    df: pd.DataFrame,
    season_col: str = "season",
    y_col: str = "team_a_won",
    p_col: str = "pred_win_prob",
) -> pd.DataFrame:
    """:func:`compute_metrics` per season, one row each, sorted by season.

    Returns:
        Columns ``season_col``, ``brier``, ``log_loss``, ``accuracy``, ``calibration_error``,
        ``n``.
    """
    missing = [c for c in (season_col, y_col, p_col) if c not in df.columns]
    if missing:
        raise ValueError(
            f"metrics_by_season needs the columns {season_col}, {y_col}, {p_col}; "
            f"missing: {', '.join(missing)}."
        )
    if df.empty:
        raise ValueError("metrics_by_season got an empty frame: there is nothing to score.")
    rows = []
    for season, group in df.groupby(season_col, sort=True):
        scores = compute_metrics(group[y_col].to_numpy(), group[p_col].to_numpy())
        rows.append({season_col: season, **scores.as_dict()})
    return pd.DataFrame(rows)
