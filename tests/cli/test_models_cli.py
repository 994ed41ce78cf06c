"""``ncaa-eval models``: the search ranges each model declares, in the table and in ``--json``."""

from __future__ import annotations

import json

from ncaa_eval.cli.models import _fields
from ncaa_eval.model.logistic_regression import LogisticRegressionConfig
from ncaa_eval.model.registry import list_models
from tests.conftest import Invoke


def test_models_json_gives_each_model_its_search_ranges(run_cli: Invoke) -> None:
    out = json.loads(run_cli("models", "--json").output)
    assert sorted(out) == list_models()
    assert all("search" in entry for entry in out.values())
    elo = out["elo"]["search"]
    assert elo["k"] == {"low": 20.0, "high": 80.0}
    assert elo["carry_toward"] == {"choices": ["conference", "league"]}
    assert "initial_rating" not in elo
    assert set(elo) <= set(out["elo"]["config"])
    lr = out["logistic_regression"]["search"]
    assert lr["C"] == {"low": 0.001, "high": 100.0, "log": True}
    assert lr["train_min_day"] == {"low": 0, "high": 130}
    assert not [name for name in lr if name.startswith("features.")]
    assert out["xgboost"]["search"]["max_depth"] == {"low": 2, "high": 8}


def test_the_models_table_has_a_search_column(run_cli: Invoke) -> None:
    table = run_cli("models").output
    header = next(line for line in table.splitlines() if "field" in line and "default" in line)
    assert [cell.strip() for cell in header.strip("┃ \n").split("┃")] == [
        "field",
        "type",
        "default",
        "search",
        "description",
    ]
    rows = {line.split("│")[1].strip(): line for line in table.splitlines() if "│" in line}
    assert "20 - 80" in rows["k"].split("│")[4]
    assert "40 - 150" in rows["home_edge"].split("│")[4]
    assert rows["initial_rating"].split("│")[4].strip() == ""
    assert "0 - 130" in rows["train_min_day"].split("│")[4]


def test_the_table_rows_show_the_model_defaults_of_nested_fields() -> None:
    """A stateless model's features default to the tuned ones, not FeatureConfig's own."""
    rows = {row[0]: row for row in _fields(LogisticRegressionConfig(), {"C": "0.001 - 100 log"})}
    assert rows["features.margin_cap"][2] == "30.0"  # FeatureConfig alone defaults to 20
    assert rows["features.efficiency"][2] == "false"
    assert rows["C"][3] == "0.001 - 100 log"
    assert rows["features.margin_cap"][3] == ""
