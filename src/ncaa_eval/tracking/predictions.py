"""The ``predictions.parquet`` format: an explicit Arrow schema and vectorised validation.

A run's predictions arrive either as a list of :class:`~ncaa_eval.tracking.records.Prediction`
or, usually, as a DataFrame with the same columns. Both become an Arrow table with
:data:`PREDICTION_SCHEMA`; a DataFrame is checked column by column with pandas/numpy, never row by
row, so a full tournament (~2,500 rows) converts in a few milliseconds. Every failure is a
:class:`~ncaa_eval.errors.DataValidationError` naming the column, the row and the problem.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ncaa_eval.errors import DataValidationError
from ncaa_eval.paths import atomic_write
from ncaa_eval.tracking.records import INT32_MAX, INT32_MIN, Prediction, is_run_id

#: Schema of ``predictions.parquet``; only ``team_a_won`` may be null (a game not played yet).
PREDICTION_SCHEMA: pa.Schema = pa.schema(
    [
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("game_id", pa.string(), nullable=False),
        pa.field("season", pa.int32(), nullable=False),
        pa.field("team_a_id", pa.int32(), nullable=False),
        pa.field("team_b_id", pa.int32(), nullable=False),
        pa.field("pred_win_prob", pa.float64(), nullable=False),
        pa.field("team_a_won", pa.bool_(), nullable=True),
    ]
)

PREDICTION_COLUMNS: tuple[str, ...] = tuple(PREDICTION_SCHEMA.names)

#: The run's predictions as the MLflow UI can preview them (it shows no Parquet).
PREDICTIONS_CSV_FILE = "predictions.csv"

#: The dtypes :func:`table_to_frame` (and so ``RunStore.load_predictions``) returns. ``str`` is the
#: pandas default string dtype of the installed pandas (``str`` in pandas 3, ``object`` before).
PREDICTION_DTYPES: dict[str, Any] = {
    "run_id": str,
    "game_id": str,
    "season": "int32",
    "team_a_id": "int32",
    "team_b_id": "int32",
    "pred_win_prob": "float64",
    "team_a_won": "boolean",
}

_STRING_COLUMNS = ("run_id", "game_id")
_INT_COLUMNS = ("season", "team_a_id", "team_b_id")


def _fail(column: str, row: object, problem: str) -> DataValidationError:
    return DataValidationError(f"predictions: column '{column}', row {row}: {problem}")


def _show(value: Any) -> str:
    """``repr`` of a value as Python would print it (``1.5``, not ``np.float64(1.5)``)."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def _first(mask: np.ndarray[Any, np.dtype[np.bool_]], index: pd.Index[Any]) -> object:
    return index[int(np.flatnonzero(mask)[0])]


def _string_array(series: pd.Series[Any], column: str) -> pa.Array:
    nulls = series.isna().to_numpy()
    if nulls.any():
        raise _fail(column, _first(nulls, series.index), "is missing")
    if series.dtype == object:
        is_str = np.fromiter((isinstance(v, str) for v in series), dtype=bool, count=len(series))
        if not is_str.all():
            bad = series.iloc[int(np.flatnonzero(~is_str)[0])]
            raise _fail(column, _first(~is_str, series.index), f"{_show(bad)} is not a string")
    elif not pd.api.types.is_string_dtype(series.dtype):
        raise DataValidationError(
            f"predictions: column '{column}' has dtype {series.dtype}; expected strings"
        )
    return pa.array(series.astype(object).to_numpy(), type=pa.string())


def _int_array(series: pd.Series[Any], column: str) -> pa.Array:
    nulls = series.isna().to_numpy()
    if nulls.any():
        raise _fail(column, _first(nulls, series.index), "is missing")
    if len(series) == 0:
        return pa.array([], type=pa.int32())
    if pd.api.types.is_bool_dtype(series.dtype):
        raise DataValidationError(
            f"predictions: column '{column}' holds booleans; expected integers"
        )
    if pd.api.types.is_integer_dtype(series.dtype):
        values = series.to_numpy(dtype=np.int64)
    elif pd.api.types.is_float_dtype(series.dtype):
        floats = series.to_numpy(dtype=np.float64)
        fractional = floats != np.round(floats)
        if fractional.any():
            bad = floats[int(np.flatnonzero(fractional)[0])]
            raise _fail(column, _first(fractional, series.index), f"{_show(bad)} is not an integer")
        values = floats.astype(np.int64)
    elif pd.api.types.infer_dtype(series, skipna=False) == "integer":
        values = series.to_numpy(dtype=np.int64)
    else:
        raise DataValidationError(
            f"predictions: column '{column}' has dtype {series.dtype}; expected integers"
        )
    out_of_range = (values < INT32_MIN) | (values > INT32_MAX)
    if out_of_range.any():
        bad = values[int(np.flatnonzero(out_of_range)[0])]
        raise _fail(
            column, _first(out_of_range, series.index), f"{_show(bad)} does not fit in int32"
        )
    return pa.array(values.astype(np.int32), type=pa.int32())


def _prob_array(series: pd.Series[Any], column: str) -> pa.Array:
    if pd.api.types.is_bool_dtype(series.dtype) or not (
        pd.api.types.is_numeric_dtype(series.dtype)
        or pd.api.types.infer_dtype(series, skipna=True) in ("integer", "floating", "empty")
    ):
        raise DataValidationError(
            f"predictions: column '{column}' has dtype {series.dtype}; expected floats"
        )
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    # NaN fails both comparisons, so it is caught here as well as values outside [0, 1].
    bad = ~((values >= 0.0) & (values <= 1.0))
    if bad.any():
        value = values[int(np.flatnonzero(bad)[0])]
        raise _fail(
            column, _first(bad, series.index), f"{_show(value)} is not a probability in [0, 1]"
        )
    return pa.array(values, type=pa.float64())


def _won_array(series: pd.Series[Any], column: str) -> pa.Array:
    nulls = series.isna().to_numpy()
    if pd.api.types.is_bool_dtype(series.dtype):
        # Covers numpy bool and the nullable "boolean" dtype.
        return pa.array(series, type=pa.bool_(), from_pandas=True)
    if pd.api.types.is_numeric_dtype(series.dtype):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        bad = ~(nulls | (values == 0.0) | (values == 1.0))
        if bad.any():
            value = values[int(np.flatnonzero(bad)[0])]
            raise _fail(column, _first(bad, series.index), f"{_show(value)} is not a boolean")
        return pa.array(np.where(nulls, False, values == 1.0), type=pa.bool_(), mask=nulls)
    is_bool = np.fromiter(
        (isinstance(v, bool | np.bool_) for v in series), dtype=bool, count=len(series)
    )
    bad = ~(is_bool | nulls)
    if bad.any():
        value = series.iloc[int(np.flatnonzero(bad)[0])]
        raise _fail(column, _first(bad, series.index), f"{_show(value)} is not a boolean or null")
    values = np.array([bool(v) if ok else False for v, ok in zip(series, is_bool, strict=True)])
    return pa.array(values, type=pa.bool_(), mask=nulls)


def frame_to_table(frame: pd.DataFrame, run_id: str | None = None) -> pa.Table:
    """Convert and validate a predictions DataFrame into an Arrow table with the schema.

    Args:
        frame: Columns ``game_id, season, team_a_id, team_b_id, pred_win_prob, team_a_won`` and,
            optionally, ``run_id``; no other columns. Integer columns may be any integer dtype or
            integral floats; ``team_a_won`` may be bool, nullable boolean, object (bool/None) or
            0/1 with NaN for unplayed games.
        run_id: Fills a missing ``run_id`` column; when the column exists, every row must equal it.

    Returns:
        A table with exactly :data:`PREDICTION_SCHEMA`, validated by
        :func:`validate_prediction_table`.

    Raises:
        DataValidationError: A column is missing or extra, a value is null, of the wrong type or
            out of range, team A is not the lower TeamID, or a ``game_id`` repeats.
    """
    if run_id is not None and not is_run_id(run_id):
        raise DataValidationError(f"predictions: run_id {run_id!r} is not 32 lowercase hex chars")
    columns = [str(c) for c in frame.columns]
    required = [c for c in PREDICTION_COLUMNS if c != "run_id" or run_id is None]
    missing = [c for c in required if c not in columns]
    extra = [c for c in columns if c not in PREDICTION_COLUMNS]
    if missing or extra:
        raise DataValidationError(
            "predictions: expected columns "
            f"{', '.join(PREDICTION_COLUMNS)}; missing: {', '.join(missing) or 'none'}; "
            f"unexpected: {', '.join(extra) or 'none'}"
        )
    if len(set(columns)) != len(columns):
        raise DataValidationError("predictions: a column name appears twice")
    arrays: list[pa.Array] = []
    for name in PREDICTION_COLUMNS:
        if name == "run_id" and name not in columns:
            assert run_id is not None  # guaranteed by the `required` check above
            arrays.append(pa.array([run_id] * len(frame), type=pa.string()))
        elif name in _STRING_COLUMNS:
            arrays.append(_string_array(frame[name], name))
        elif name in _INT_COLUMNS:
            arrays.append(_int_array(frame[name], name))
        elif name == "pred_win_prob":
            arrays.append(_prob_array(frame[name], name))
        else:
            arrays.append(_won_array(frame[name], name))
    table = pa.Table.from_arrays(arrays, schema=PREDICTION_SCHEMA)
    validate_prediction_table(table, run_id=run_id, index=frame.index)
    return table


def predictions_to_table(
    predictions: Sequence[Prediction] | pd.DataFrame, run_id: str | None = None
) -> pa.Table:
    """Convert a list of :class:`Prediction` or a DataFrame into a validated Arrow table.

    Args:
        predictions: The run's predictions (an empty list is allowed).
        run_id: When given, every prediction must belong to this run; also fills a DataFrame
            without a ``run_id`` column.

    Returns:
        A table with exactly :data:`PREDICTION_SCHEMA`.

    Raises:
        DataValidationError: See :func:`frame_to_table`.
    """
    if isinstance(predictions, pd.DataFrame):
        return frame_to_table(predictions, run_id=run_id)
    for i, item in enumerate(predictions):
        if not isinstance(item, Prediction):
            raise DataValidationError(
                f"predictions: item {i} is a {type(item).__name__}, not a Prediction"
            )
    # Prediction objects are valid already; columns of Python objects go through the same
    # checks, which adds run_id consistency and game_id uniqueness.
    frame = pd.DataFrame(
        {
            name: pd.Series([getattr(p, name) for p in predictions], dtype=object)
            for name in PREDICTION_COLUMNS
        }
    )
    return frame_to_table(frame, run_id=run_id)


def validate_prediction_table(
    table: pa.Table, run_id: str | None = None, index: pd.Index[Any] | None = None
) -> None:
    """Check an Arrow table against :data:`PREDICTION_SCHEMA` and the value rules.

    Args:
        table: The table, e.g. read back from ``predictions.parquet``.
        run_id: When given, every row's ``run_id`` must equal it.
        index: Row labels for error messages (default: positions).

    Raises:
        DataValidationError: Schema mismatch, nulls outside ``team_a_won``, a probability outside
            [0, 1], team A not the lower TeamID, a repeated ``game_id`` or a foreign ``run_id``.
    """
    if not table.schema.equals(PREDICTION_SCHEMA, check_metadata=False):
        raise DataValidationError(
            f"predictions: schema is ({_schema_text(table.schema)}); "
            f"expected ({_schema_text(PREDICTION_SCHEMA)})"
        )
    rows = index if index is not None else pd.RangeIndex(table.num_rows)
    for field in PREDICTION_SCHEMA:
        column = table.column(field.name)
        if not field.nullable and column.null_count:
            nulls = column.is_null().to_numpy(zero_copy_only=False)
            raise _fail(field.name, _first(nulls, rows), "is missing")
    if table.num_rows == 0:
        return
    probs = table.column("pred_win_prob").to_numpy()
    bad = ~((probs >= 0.0) & (probs <= 1.0))
    if bad.any():
        value = probs[int(np.flatnonzero(bad)[0])]
        raise _fail(
            "pred_win_prob", _first(bad, rows), f"{_show(value)} is not a probability in [0, 1]"
        )
    team_a = table.column("team_a_id").to_numpy()
    team_b = table.column("team_b_id").to_numpy()
    bad = team_a >= team_b
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise _fail(
            "team_a_id",
            rows[i],
            f"{_show(team_a[i])} must be lower than team_b_id {_show(team_b[i])} "
            "(team A is the lower TeamID)",
        )
    game_ids = pd.Series(table.column("game_id").to_numpy(zero_copy_only=False), dtype=object)
    repeated = game_ids.duplicated().to_numpy()
    if repeated.any():
        i = int(np.flatnonzero(repeated)[0])
        raise _fail("game_id", rows[i], f"{_show(game_ids.iloc[i])} appears more than once")
    if run_id is not None:
        run_ids = table.column("run_id").to_numpy(zero_copy_only=False)
        foreign = run_ids != run_id
        if foreign.any():
            i = int(np.flatnonzero(foreign)[0])
            raise _fail("run_id", rows[i], f"{_show(run_ids[i])} is not this run ({run_id})")


def _schema_text(schema: pa.Schema) -> str:
    return ", ".join(f"{f.name}: {f.type}{'' if f.nullable else ' not null'}" for f in schema)


def table_to_frame(table: pa.Table) -> pd.DataFrame:
    """Turn a validated predictions table into a DataFrame with :data:`PREDICTION_DTYPES`."""
    frame: pd.DataFrame = table.to_pandas(types_mapper={pa.bool_(): pd.BooleanDtype()}.get)
    # to_pandas already yields these dtypes; astype pins them for an empty table too.
    return frame.astype(PREDICTION_DTYPES)


def write_predictions(table: pa.Table, path: Path) -> None:
    """Write a validated table to ``path`` atomically (temp file in the same folder, then rename).

    Raises:
        DataValidationError: The table does not satisfy :func:`validate_prediction_table`.
    """
    validate_prediction_table(table)
    with atomic_write(path) as tmp:
        pq.write_table(table, tmp)


def write_predictions_csv(table: pa.Table, path: Path) -> None:
    """Write ``predictions.csv``: a small, readable copy of a validated table for the MLflow UI.

    The run id (the same on every row) is left out, probabilities keep 4 decimals and
    ``team_a_won`` is 1, 0 or empty (not played yet): about 50 bytes a game, so even every men's
    tournament since 1985 stays near 130 kB. ``predictions.parquet`` remains the record.
    """
    frame = table.drop_columns(["run_id"]).to_pandas()
    frame["team_a_won"] = frame["team_a_won"].astype("Int8")
    frame.to_csv(path, index=False, float_format="%.4f")


def read_predictions(path: Path, run_id: str | None = None) -> pa.Table:
    """Read and validate a ``predictions.parquet`` file.

    Raises:
        DataValidationError: The file is not Parquet or does not match the schema and rules.
    """
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise DataValidationError(f"predictions: cannot read {path}: {exc}") from exc
    try:
        validate_prediction_table(table, run_id=run_id)
    except DataValidationError as exc:
        raise DataValidationError(f"{path}: {exc}") from exc
    return table
