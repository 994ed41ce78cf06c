"""predictions.parquet: schema, vectorised validation, round trip."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from ncaa_eval.errors import DataValidationError
from ncaa_eval.tracking import (
    PREDICTION_DTYPES,
    PREDICTION_SCHEMA,
    Prediction,
    frame_to_table,
    predictions_to_table,
    read_predictions,
    table_to_frame,
    validate_prediction_table,
    write_predictions,
)
from tests.tracking.conftest import make_frame

RUN_ID = "0123456789abcdef0123456789abcdef"
OTHER_ID = "fedcba9876543210fedcba9876543210"


def _loose_frame(rows: int = 4) -> pd.DataFrame:
    """What an orchestrator might hand over: int64, object strings, 0/1/NaN results, no run_id."""
    return pd.DataFrame(
        {
            "game_id": pd.Series([f"g{i}" for i in range(rows)], dtype=object),
            "season": np.full(rows, 2024, dtype=np.int64),
            "team_a_id": np.arange(1101, 1101 + rows, dtype=np.int64),
            "team_b_id": np.arange(1201, 1201 + rows, dtype=np.float64),
            "pred_win_prob": np.linspace(0.0, 1.0, rows),
            "team_a_won": [1.0, 0.0, np.nan, 1.0][:rows],
        }
    )


def test_schema_is_explicit() -> None:
    assert PREDICTION_SCHEMA.names == [
        "run_id",
        "game_id",
        "season",
        "team_a_id",
        "team_b_id",
        "pred_win_prob",
        "team_a_won",
    ]
    assert PREDICTION_SCHEMA.field("season").type == pa.int32()
    assert PREDICTION_SCHEMA.field("team_a_won").nullable
    assert not PREDICTION_SCHEMA.field("pred_win_prob").nullable


def test_loose_frame_converts_to_the_exact_schema() -> None:
    table = frame_to_table(_loose_frame(), run_id=RUN_ID)
    assert table.schema.equals(PREDICTION_SCHEMA)
    assert table.column("run_id").to_pylist() == [RUN_ID] * 4
    assert table.column("team_b_id").to_pylist() == [1201, 1202, 1203, 1204]
    assert table.column("team_a_won").to_pylist() == [True, False, None, True]


@pytest.mark.parametrize(
    "won",
    [
        pd.Series([True, False, None], dtype=object),
        pd.Series([True, False, None], dtype="boolean"),
        pd.Series([True, False, np.nan], dtype=object),
    ],
)
def test_result_column_accepts_nullable_booleans(won: pd.Series[Any]) -> None:
    frame = make_frame(RUN_ID).assign(team_a_won=won)
    assert frame_to_table(frame).column("team_a_won").to_pylist() == [True, False, None]


def test_prediction_objects_and_frames_give_the_same_table() -> None:
    frame = make_frame(RUN_ID)
    objects = [Prediction.model_validate(row) for row in frame.astype(object).to_dict("records")]
    assert predictions_to_table(objects, run_id=RUN_ID).equals(predictions_to_table(frame))


def test_empty_predictions_give_an_empty_table() -> None:
    table = predictions_to_table([], run_id=RUN_ID)
    assert table.num_rows == 0
    assert table.schema.equals(PREDICTION_SCHEMA)
    assert table_to_frame(table).dtypes.to_dict() == make_frame(RUN_ID, 0).dtypes.to_dict()


def _broken(column: str, row: int, value: Any) -> pd.DataFrame:
    frame = make_frame(RUN_ID).astype(object)
    frame.loc[row, column] = value
    return frame


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (make_frame(RUN_ID).drop(columns="season"), "missing: season"),
        (make_frame(RUN_ID).assign(margin=1), "unexpected: margin"),
        (_broken("game_id", 1, None), "column 'game_id', row 1: is missing"),
        (_broken("game_id", 2, 7), "column 'game_id', row 2: 7 is not a string"),
        (_broken("season", 0, None), "column 'season', row 0: is missing"),
        (_broken("pred_win_prob", 2, 1.5), r"row 2: 1.5 is not a probability in \[0, 1\]"),
        (_broken("pred_win_prob", 1, np.nan), "column 'pred_win_prob', row 1: nan"),
        (_broken("pred_win_prob", 1, -0.1), "row 1: -0.1 is not a probability"),
        (_broken("team_a_id", 1, 1300), "row 1: 1300 must be lower than team_b_id 1201"),
        (_broken("team_a_won", 0, "yes"), "column 'team_a_won', row 0: 'yes' is not a boolean"),
        (_broken("game_id", 2, "2024_1100_1200"), "row 2: '2024_1100_1200' appears more"),
        (_broken("run_id", 1, OTHER_ID), f"row 1: '{OTHER_ID}' is not this run"),
        (
            make_frame(RUN_ID).assign(team_b_id=[1200.0, 1201.5, 1202.0]),
            "column 'team_b_id', row 1: 1201.5 is not an integer",
        ),
        (make_frame(RUN_ID).assign(season=[2024, 2**31, 2024]), "row 1: 2147483648 does not fit"),
        (make_frame(RUN_ID).assign(season=["2024"] * 3), "'season' has dtype"),
        (make_frame(RUN_ID).assign(team_a_won=[2.0, 0.0, 1.0]), "row 0: 2.0 is not a boolean"),
    ],
)
def test_invalid_frames_name_column_row_and_problem(frame: pd.DataFrame, message: str) -> None:
    with pytest.raises(DataValidationError, match=message):
        frame_to_table(frame, run_id=RUN_ID)


def test_error_rows_use_the_frame_index() -> None:
    frame = _broken("pred_win_prob", 1, 2.0).set_axis(["a", "b", "c"])
    with pytest.raises(DataValidationError, match="row b:"):
        frame_to_table(frame)


def test_a_full_tournament_validates_quickly() -> None:
    frame = make_frame(RUN_ID, 2_500)
    start = time.perf_counter()
    table = frame_to_table(frame, run_id=RUN_ID)
    elapsed = time.perf_counter() - start
    assert table.num_rows == 2_500
    # Typically ~2 ms; the bound only catches an accidental row-by-row path.
    assert elapsed < 0.5


def test_write_read_round_trip_keeps_schema_and_dtypes(tmp_path: Path) -> None:
    frame = make_frame(RUN_ID, 10)
    path = tmp_path / "out" / "predictions.parquet"
    write_predictions(frame_to_table(frame), path)
    table = read_predictions(path, run_id=RUN_ID)
    assert table.schema.equals(PREDICTION_SCHEMA)
    loaded = table_to_frame(table)
    pd.testing.assert_frame_equal(loaded, frame)
    assert loaded.dtypes.to_dict() == {k: frame[k].dtype for k in PREDICTION_DTYPES}
    assert [p.name for p in path.parent.iterdir()] == ["predictions.parquet"]


def test_tables_with_another_schema_are_rejected(tmp_path: Path) -> None:
    table = frame_to_table(make_frame(RUN_ID)).cast(
        PREDICTION_SCHEMA.set(2, pa.field("season", pa.int64(), nullable=False))
    )
    with pytest.raises(DataValidationError, match="season: int64 not null"):
        validate_prediction_table(table)
    path = tmp_path / "bad.parquet"
    path.write_text("not parquet")
    with pytest.raises(DataValidationError, match="cannot read"):
        read_predictions(path)
