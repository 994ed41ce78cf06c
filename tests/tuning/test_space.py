"""Search spaces: the ranges the configs declare, and a search-space file narrowing them.

Every built-in model declares a valid space holding its defaults; a file narrows a range, fixes
a field or opens a nested feature field; every bad declaration or file is one line naming the
field and the value.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import Field

from ncaa_eval.model.base import ModelConfig
from ncaa_eval.model.elo import EloConfig
from ncaa_eval.model.logistic_regression import LogisticRegressionConfig
from ncaa_eval.model.registry import get_model, list_models
from ncaa_eval.tunable import tunable
from ncaa_eval.tuning.space import (
    Dimension,
    SearchSpace,
    SearchSpaceError,
    declared_space,
    load_space,
)


def _dotted(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested config dump flattened to dotted names (``features.margin_cap``)."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            out |= _dotted(value, f"{prefix}{key}.")
        else:
            out[f"{prefix}{key}"] = value
    return out


def _load(tmp_path: Path, spec: Any, model: str = "elo") -> SearchSpace:
    path = tmp_path / "space.json"
    path.write_text(json.dumps(spec))
    return load_space(get_model(model).config_class, model, path)


def _dims(space: SearchSpace) -> dict[str, Dimension]:
    return {d.name: d for d in space.dimensions}


# --- the built-in models' declarations ----------------------------------------------------------


@pytest.mark.parametrize("name", list_models())
def test_every_model_declares_a_valid_space_holding_its_defaults(name: str) -> None:
    config_class = get_model(name).config_class
    space = declared_space(config_class, name)
    assert space.dimensions, f"model '{name}' declares no search range"
    assert space.fixed == {}
    defaults = _dotted(config_class().model_dump(mode="json"))
    outside = [d.name for d in space.dimensions if not SearchSpace((d,)).contains(defaults)]
    assert outside == [], f"defaults of {name} outside their declared ranges: {outside}"
    assert space.contains(defaults)
    for d in space.dimensions:
        assert d.describe()
        assert d.name in defaults


def test_the_elo_ranges_and_what_is_left_out() -> None:
    space = declared_space(EloConfig, "elo")
    dims = _dims(space)
    assert "initial_rating" not in dims  # the rating scale is not searched
    assert "mean_rating" not in dims
    assert dims["k"] == Dimension("k", "float", 20.0, 80.0)
    assert dims["early_days"] == Dimension("early_days", "int", 0, 80)
    assert dims["carry_toward"].choices == ("conference", "league")
    assert dims["use_margin"].choices == (True, False)
    # contains() is able to say no: a default moved outside its range is caught.
    defaults = _dotted(EloConfig().model_dump(mode="json"))
    assert not space.contains({**defaults, "k": 90.0})
    assert not space.contains({**defaults, "early_days": 10.5})
    assert not space.contains({**defaults, "carry_toward": "county"})


def test_the_stateless_models_declare_no_feature_range() -> None:
    for name in ("logistic_regression", "xgboost"):
        names = [d.name for d in declared_space(get_model(name).config_class, name).dimensions]
        assert "train_min_day" in names
        assert not [n for n in names if n.startswith("features.")], names
    dims = _dims(declared_space(LogisticRegressionConfig, "logistic_regression"))
    assert dims["C"] == Dimension("C", "float", 1e-3, 100.0, log=True)
    assert dims["C"].describe() == "0.001 - 100 log"


# --- narrowing with a search-space file ---------------------------------------------------------


def test_a_file_narrows_a_range_and_keeps_the_rest(tmp_path: Path) -> None:
    declared = _dims(declared_space(EloConfig, "elo"))
    space = _load(tmp_path, {"k": {"low": 30, "high": 60}, "home_edge": {"high": 100}})
    dims = _dims(space)
    assert dims["k"] == Dimension("k", "float", 30.0, 60.0)
    # A key left out keeps the declared one: home_edge keeps its low.
    assert dims["home_edge"] == Dimension("home_edge", "float", declared["home_edge"].low, 100.0)
    assert {n: d for n, d in dims.items() if n not in ("k", "home_edge")} == {
        n: d for n, d in declared.items() if n not in ("k", "home_edge")
    }
    assert list(dims) == list(declared)  # still in field order
    assert space.fixed == {}


def test_a_file_fixes_a_field(tmp_path: Path) -> None:
    space = _load(tmp_path, {"carry_toward": "league", "k": 35})
    names = [d.name for d in space.dimensions]
    assert "carry_toward" not in names
    assert "k" not in names
    assert "k_early" in names
    assert space.fixed == {"carry_toward": "league", "k": 35}
    assert space.overrides({"k_early": 90.0}) == {
        "carry_toward": "league",
        "k": 35,
        "k_early": 90.0,
    }
    assert space.to_json()["fixed"] == {"carry_toward": "league", "k": 35}


def test_a_file_opens_a_nested_feature_field(tmp_path: Path) -> None:
    spec = {"features": {"margin_cap": {"choices": [20, 25, 30]}, "form": True}}
    space = _load(tmp_path, spec, model="logistic_regression")
    dims = _dims(space)
    assert dims["features.margin_cap"] == Dimension(
        "features.margin_cap", "categorical", choices=(20, 25, 30)
    )
    # The declared ranges are still searched.
    assert {"C", "missing_indicators", "train_min_day"} <= set(dims)
    assert space.fixed == {"features.form": True}
    assert space.overrides({"features.margin_cap": 25}) == {
        "features": {"form": True, "margin_cap": 25}
    }
    assert space.to_json()["search"]["features.margin_cap"] == {"choices": [20, 25, 30]}


def test_an_undeclared_field_may_be_given_a_range(tmp_path: Path) -> None:
    space = _load(tmp_path, {"initial_rating": {"low": 1200, "high": 1800}})
    assert _dims(space)["initial_rating"] == Dimension("initial_rating", "float", 1200.0, 1800.0)


def test_choices_replace_a_declared_range(tmp_path: Path) -> None:
    space = _load(tmp_path, {"k": {"choices": [30, 40, 50]}})
    assert _dims(space)["k"] == Dimension("k", "categorical", choices=(30, 40, 50))


def test_no_file_gives_the_declared_space() -> None:
    assert load_space(EloConfig, "elo", None) == declared_space(EloConfig, "elo")


# --- bad files: one line naming the field and the value -----------------------------------------


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ({"nope": 1}, ["unknown field 'nope'", "'elo'"]),
        ({"k": {"low": -1, "high": 50}}, ["k", "low -1", "outside", "[0, 500]"]),
        ({"carry_over": {"high": 1.5}}, ["carry_over", "high 1.5", "outside", "[0, 1]"]),
        ({"mov_b": {"low": 0}}, ["mov_b", "low 0", "outside", "(0, 2]"]),
        ({"k": {"low": 90, "high": 30}}, ["k", "low 90 is above high 30"]),
        ({"mov_d": {"log": True}}, ["mov_d", "log range needs low > 0", "got 0"]),
        ({"k": {"low": 0, "high": 50, "log": True}}, ["k", "log", "got 0"]),
        ({"early_days": {"low": 1.5}}, ["early_days", "whole number", "1.5"]),
        ({"carry_toward": {"choices": ["conference", "county"]}}, ["carry_toward", "county"]),
        ({"k": {"choices": ["high"]}}, ["k", "high", "valid number"]),
        ({"k": {"choices": [[30, 40]]}}, ["k", "[30, 40]", "not a number"]),
        ({"k": {"choices": []}}, ["k", "non-empty"]),
        ({"k": {"choices": [600]}}, ["k", "choice 600", "outside"]),
        ({"k": {"lo": 30, "high": 60}}, ["k", "'lo'", "not a range"]),
        ({"k": {}}, ["k", "empty object"]),
        ({"carry_toward": {"low": 0, "high": 1}}, ["carry_toward", "not a number", "choices"]),
        ({"k": -5}, ["k", "-5", "greater than or equal to 0"]),
        ({"carry_toward": "county"}, ["carry_toward", "county"]),
        ({"use_margin": "yes"}, ["use_margin", "yes"]),
    ],
    ids=lambda v: json.dumps(v) if isinstance(v, dict) else None,
)
def test_a_bad_file_is_one_line_naming_the_field(
    tmp_path: Path, spec: dict[str, Any], words: list[str]
) -> None:
    with pytest.raises(SearchSpaceError) as info:
        _load(tmp_path, spec)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"Search-space file '{tmp_path / 'space.json'}'")
    for word in words:
        assert word in message, (word, message)


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ({"features": {"nope": {"low": 1, "high": 2}}}, ["unknown field 'features.nope'"]),
        ({"features": {"margin_cap": {"low": 0, "high": 30}}}, ["features.margin_cap", "low 0"]),
        ({"features": {"margin_cap": {"low": 10, "high": 120}}}, ["margin_cap", "high 120"]),
        # An undeclared field has no range to keep: both ends must be given.
        (
            {"features": {"margin_cap": {"high": 40}}},
            ["features.margin_cap", "give both low and high"],
        ),
        ({"features": {"form_games": {"choices": [5, 50]}}}, ["features.form_games", "50"]),
        ({"features": {"form_games": 0}}, ["features.form_games", "0"]),
        ({"features": 3}, ["features is a group of fields"]),
        ({"train_min_day": {"low": 0, "high": 250}}, ["train_min_day", "high 250", "[0, 200]"]),
    ],
    ids=lambda v: json.dumps(v) if isinstance(v, dict) else None,
)
def test_a_bad_nested_field_is_named_with_dots(
    tmp_path: Path, spec: dict[str, Any], words: list[str]
) -> None:
    with pytest.raises(SearchSpaceError) as info:
        _load(tmp_path, spec, model="logistic_regression")
    message = str(info.value)
    assert "\n" not in message
    for word in words:
        assert word in message, (word, message)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('{"k": {"low": 30,', ["not valid JSON", "line 1"]),
        ("[1, 2]", ["JSON array, not an object", '{"k": {"low": 30, "high": 60}']),
        ("", ["is empty"]),
        ('{"k": 30, "k": 40}', ["given twice"]),
    ],
    ids=["broken", "array", "empty", "duplicate"],
)
def test_an_unreadable_file_is_one_line(tmp_path: Path, text: str, words: list[str]) -> None:
    path = tmp_path / "space.json"
    path.write_text(text)
    with pytest.raises(SearchSpaceError) as info:
        load_space(EloConfig, "elo", path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"Search-space file '{path}'")
    for word in words:
        assert word in message, (word, message)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(SearchSpaceError, match=r"Search-space file .* does not exist"):
        load_space(EloConfig, "elo", tmp_path / "absent.json")


# --- a plugin's own declarations ----------------------------------------------------------------


class PluginConfig(ModelConfig):
    """A plugin-style config declaring its own ranges, as a third-party model would."""

    slope: float = Field(
        default=0.03,
        gt=0,
        le=1,
        description="Probability per seed line.",
        json_schema_extra=tunable(0.005, 0.2, log=True),
    )
    depth: int = Field(
        default=3, ge=1, le=10, description="A depth.", json_schema_extra=tunable(2, 6)
    )
    width: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="A share on a grid.",
        json_schema_extra=tunable(0.1, 0.9, step=0.1),
    )
    mode: Literal["a", "b", "c"] = Field(
        default="a", description="A named mode.", json_schema_extra=tunable()
    )
    flag: bool = Field(default=True, description="A switch.", json_schema_extra=tunable())
    cap: float = Field(
        default=20.0,
        gt=0,
        description="Picked from a few values.",
        json_schema_extra=tunable(choices=[10.0, 20.0, 40.0]),
    )
    seed: int = Field(default=0, ge=0, description="Not searched.")


class OutOfBoundsConfig(ModelConfig):
    """A plugin whose declared range goes past its own bound."""

    rate: float = Field(
        default=0.5, ge=0, le=1, description="A share.", json_schema_extra=tunable(0.5, 2)
    )


class RangeOnAFlagConfig(ModelConfig):
    """A plugin declaring a number range on a switch."""

    flag: bool = Field(default=True, description="A switch.", json_schema_extra=tunable(0, 1))


def test_a_plugin_config_declares_its_own_dimensions() -> None:
    space = declared_space(PluginConfig, "my_plugin")
    assert space.dimensions == (
        Dimension("slope", "float", 0.005, 0.2, log=True),
        Dimension("depth", "int", 2, 6),
        Dimension("width", "float", 0.1, 0.9, step=0.1),
        Dimension("mode", "categorical", choices=("a", "b", "c")),
        Dimension("flag", "categorical", choices=(True, False)),
        Dimension("cap", "categorical", choices=(10.0, 20.0, 40.0)),
    )
    assert [d.describe() for d in space.dimensions[:4]] == [
        "0.005 - 0.2 log",
        "2 - 6",
        "0.1 - 0.9 step 0.1",
        "a | b | c",
    ]
    assert space.contains(PluginConfig().model_dump())
    assert space.to_json()["search"]["depth"] == {"low": 2, "high": 6}


def test_a_plugin_file_narrows_its_own_fields(tmp_path: Path) -> None:
    path = tmp_path / "space.json"
    path.write_text(json.dumps({"depth": {"high": 4}, "mode": "b", "seed": {"low": 0, "high": 3}}))
    space = load_space(PluginConfig, "my_plugin", path)
    dims = _dims(space)
    assert dims["depth"] == Dimension("depth", "int", 2, 4)
    assert "mode" not in dims
    assert dims["seed"] == Dimension("seed", "int", 0, 3)
    assert space.fixed == {"mode": "b"}


@pytest.mark.parametrize(
    ("config_class", "words"),
    [
        (OutOfBoundsConfig, ["rate", "high 2", "outside", "[0, 1]"]),
        (RangeOnAFlagConfig, ["flag", "not a number"]),
    ],
    ids=["outside-bounds", "range-on-a-flag"],
)
def test_a_bad_plugin_declaration_names_the_model(
    config_class: type[ModelConfig], words: list[str]
) -> None:
    with pytest.raises(SearchSpaceError) as info:
        declared_space(config_class, "bad_plugin")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("Model 'bad_plugin' declares")
    for word in words:
        assert word in message, (word, message)


def test_a_partial_features_object_keeps_the_models_own_feature_defaults() -> None:
    """Naming one feature field (a --space or --config file) changes that field only: the rest
    stay the stateless models' tuned features, not FeatureConfig's class defaults."""
    from ncaa_eval.model.base import TUNED_MODEL_FEATURES
    from ncaa_eval.training.config_loading import validate_config
    from ncaa_eval.transform.feature_serving import FeatureConfig

    config = validate_config(
        LogisticRegressionConfig, {"features": {"margin_cap": 25}}, "logistic_regression"
    )
    assert isinstance(config, LogisticRegressionConfig)
    assert config.features == TUNED_MODEL_FEATURES.model_copy(update={"margin_cap": 25.0})
    assert TUNED_MODEL_FEATURES.margin_carry != FeatureConfig().margin_carry  # the case that bit
