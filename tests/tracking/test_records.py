"""ModelRun and Prediction validation."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from enum import StrEnum
from typing import Any

import pytest
from pydantic import ValidationError

from ncaa_eval import __version__
from ncaa_eval.tracking import ModelRun, Prediction, is_run_id
from tests.tracking.conftest import make_record

RUN_ID = "0123456789abcdef0123456789abcdef"


class Kind(StrEnum):
    FAST = "fast"


@pytest.mark.parametrize(
    "bad", ["", "abc", RUN_ID.upper(), RUN_ID + "0", "../../etc", RUN_ID[:-1] + "g", " " + RUN_ID]
)
def test_malformed_run_id_is_rejected(bad: str) -> None:
    assert not is_run_id(bad)
    with pytest.raises(ValidationError, match="run_id"):
        make_record(bad)
    with pytest.raises(ValidationError, match="run_id"):
        Prediction(
            run_id=bad,
            game_id="g",
            season=2024,
            team_a_id=1,
            team_b_id=2,
            pred_win_prob=0.5,
        )


def test_model_run_defaults_and_json_round_trip() -> None:
    record = make_record(RUN_ID, run_name=None, data_digest=None)
    assert record.ncaa_eval_version == __version__
    assert ModelRun.model_validate_json(record.model_dump_json()) == record


def test_timestamp_must_be_aware_and_is_normalised_to_utc() -> None:
    with pytest.raises(ValidationError, match="timestamp"):
        make_record(RUN_ID, timestamp=datetime(2025, 1, 1, 12, 0))
    eastern = datetime(2025, 1, 1, 7, 0, tzinfo=timezone(timedelta(hours=-5)))
    record = make_record(RUN_ID, timestamp=eastern)
    assert record.timestamp.utcoffset() == timedelta(0)
    assert record.timestamp.hour == 12


def test_years_must_be_in_order() -> None:
    make_record(RUN_ID, start_year=2020, end_year=2020)
    with pytest.raises(ValidationError, match="start_year 2021 is after end_year 2020"):
        make_record(RUN_ID, start_year=2021, end_year=2020)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("league", "X"),
        ("prediction_count", -1),
        ("git_hash", "abc"),
        ("git_dirty", "yes"),
        ("model_type", "bad name'"),
        ("start_year", 1800),
    ],
)
def test_model_run_field_constraints(field: str, value: Any) -> None:
    with pytest.raises(ValidationError, match=field):
        make_record(RUN_ID, **{field: value})


def test_unknown_fields_are_forbidden() -> None:
    with pytest.raises(ValidationError, match="extra"):
        make_record(RUN_ID, seed=3)
    with pytest.raises(ValidationError, match="extra"):
        Prediction.model_validate(
            {
                "run_id": RUN_ID,
                "game_id": "g",
                "season": 2024,
                "team_a_id": 1,
                "team_b_id": 2,
                "pred_win_prob": 0.5,
                "margin": 3,
            }
        )


@pytest.mark.parametrize(
    ("hyperparameters", "problem"),
    [
        ({"k": math.nan}, "NaN"),
        ({"k": {"inner": math.inf}}, "hyperparameters.k.inner"),
        ({"k": {1, 2}}, "set"),
        ({"k": object()}, "not JSON-serializable"),
        ({"k": {3: "x"}}, "non-string key"),
    ],
)
def test_hyperparameters_must_be_json(hyperparameters: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        make_record(RUN_ID, hyperparameters=hyperparameters)


def test_hyperparameters_are_normalised_to_plain_json() -> None:
    record = make_record(RUN_ID, hyperparameters={"layers": (1, 2), "kind": Kind.FAST})
    assert record.hyperparameters == {"layers": [1, 2], "kind": "fast"}
    assert type(record.hyperparameters["kind"]) is str


def _prediction(**overrides: Any) -> Prediction:
    fields: dict[str, Any] = {
        "run_id": RUN_ID,
        "game_id": "2024_1101_1102",
        "season": 2024,
        "team_a_id": 1101,
        "team_b_id": 1102,
        "pred_win_prob": 0.6,
        "team_a_won": None,
    }
    fields.update(overrides)
    return Prediction(**fields)


def test_prediction_accepts_bounds_and_unplayed_games() -> None:
    assert _prediction(pred_win_prob=0.0).team_a_won is None
    assert _prediction(pred_win_prob=1.0, team_a_won=True).team_a_won is True


@pytest.mark.parametrize("prob", [-0.01, 1.01, math.nan, math.inf])
def test_prediction_probability_must_be_in_unit_interval(prob: float) -> None:
    with pytest.raises(ValidationError, match="pred_win_prob"):
        _prediction(pred_win_prob=prob)


@pytest.mark.parametrize(("team_a", "team_b"), [(1102, 1101), (1101, 1101)])
def test_prediction_team_a_must_be_the_lower_id(team_a: int, team_b: int) -> None:
    with pytest.raises(ValidationError, match="must be lower than team_b_id"):
        _prediction(team_a_id=team_a, team_b_id=team_b)


def test_prediction_result_must_be_a_real_bool() -> None:
    with pytest.raises(ValidationError, match="team_a_won"):
        _prediction(team_a_won="yes")
    with pytest.raises(ValidationError, match="team_a_won"):
        _prediction(team_a_won=1)
