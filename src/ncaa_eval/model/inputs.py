"""Input checks shared by the feature-matrix models: one feature matrix, one 0/1 target."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from ncaa_eval.model.base import FloatArray


def numeric_matrix(X: pd.DataFrame, columns: list[str], method: str) -> FloatArray:
    """The ``columns`` of ``X`` as a float matrix (NaN kept), or a ValueError naming the issue."""
    if not isinstance(X, pd.DataFrame):
        raise ValueError(f"{method} takes a pandas DataFrame of features; got {type(X).__name__}.")
    if method == "fit" and (X.shape[0] == 0 or X.shape[1] == 0):
        raise ValueError(f"fit needs at least one row and one feature; got shape {X.shape}.")
    missing = [c for c in columns if c not in X.columns]
    if missing:
        raise ValueError(f"{method}: X lacks the training feature column(s) {missing}.")
    non_numeric = [
        c
        for c in columns
        if not pd.api.types.is_numeric_dtype(X[c]) or pd.api.types.is_complex_dtype(X[c])
    ]
    if non_numeric:
        raise ValueError(f"{method}: feature column(s) {non_numeric} are not numeric.")
    return X[columns].to_numpy(dtype=np.float64, na_value=np.nan)


def binary_target(y: npt.ArrayLike, n_rows: int) -> FloatArray:
    """``y`` as a float vector of 0/1 labels, or a ValueError naming the problem."""
    target = np.asarray(y, dtype=np.float64).ravel()
    if target.size != n_rows:
        raise ValueError(f"y has {target.size} labels for {n_rows} rows of X.")
    if not np.isin(target, (0.0, 1.0)).all():
        raise ValueError("y must hold only 0 and 1 (1 when team A won).")
    if np.unique(target).size < 2:
        raise ValueError("y holds a single class; fitting needs both wins and losses.")
    return target
