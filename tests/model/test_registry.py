"""Registry tests: names to classes, clear errors for unknown and duplicate names."""

from __future__ import annotations

from pathlib import Path
from typing import Self

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest

from ncaa_eval.errors import NcaaEvalError
from ncaa_eval.model import registry
from ncaa_eval.model.base import FloatArray, Model
from ncaa_eval.model.elo import EloModel
from ncaa_eval.model.logistic_regression import LogisticRegressionModel
from ncaa_eval.model.registry import (
    DuplicateModelError,
    ModelNotFoundError,
    get_model,
    list_models,
    register_model,
)
from ncaa_eval.model.xgboost_model import XGBoostModel
from tests.conftest import Invoke

BUILTINS = {
    "elo": EloModel,
    "logistic_regression": LogisticRegressionModel,
    "xgboost": XGBoostModel,
}


class ConstantModel(Model):
    """A stateless model predicting 0.5; never registered at import time."""

    def __init__(self, config: object = None) -> None:
        super().__init__(None)
        self.fitted_ = False

    @property
    def is_fitted(self) -> bool:
        return self.fitted_

    def fit(self, X: pd.DataFrame, y: npt.ArrayLike) -> Self:
        self.fitted_ = True
        return self

    def predict_proba(self, X: pd.DataFrame) -> FloatArray:
        self._check_fitted()
        return np.full(len(X), 0.5)

    def _save_state(self, path: Path) -> None:
        (path / "model.json").write_text("{}")

    def _load_state(self, path: Path) -> None:
        self.fitted_ = True


@pytest.fixture(autouse=True)
def clean_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test works on a copy of the registry; the original is put back afterwards."""
    list_models()  # built-ins (and installed plugins) are in before the copy is taken
    monkeypatch.setattr(registry, "_registry", dict(registry._registry))
    monkeypatch.setattr(registry, "_entry_points_loaded", registry._entry_points_loaded)


def test_builtins_are_registered_by_name() -> None:
    names = list_models()
    assert set(BUILTINS) <= set(names)
    assert names == sorted(names)
    for name, cls in BUILTINS.items():
        assert get_model(name) is cls
        assert cls.name == name


def test_builtins_declare_their_kind() -> None:
    assert EloModel.stateful
    assert not LogisticRegressionModel.stateful
    assert not XGBoostModel.stateful


def test_register_get_and_list_a_new_model() -> None:
    class Registered(ConstantModel):
        pass

    assert register_model("my-model_2")(Registered) is Registered
    assert get_model("my-model_2") is Registered
    assert Registered.name == "my-model_2"
    assert "my-model_2" in list_models()
    model = Registered().fit(pd.DataFrame({"x": [1.0]}), [1])
    assert model.predict_proba(pd.DataFrame({"x": [1.0, 2.0]})).tolist() == [0.5, 0.5]


def test_registering_the_same_class_again_is_harmless() -> None:
    class Again(ConstantModel):
        pass

    register_model("again")(Again)
    register_model("again")(Again)
    assert get_model("again") is Again
    assert list_models().count("again") == 1


def test_unknown_name_lists_the_available_ones() -> None:
    with pytest.raises(ModelNotFoundError) as info:
        get_model("no_such_model")
    available = list_models()
    message = str(info.value)
    assert message == f"Unknown model 'no_such_model'. Available: {', '.join(available)}."
    for name in BUILTINS:
        assert name in message
    assert info.value.available == available
    # A library error (one-line CLI message) that dict-style callers can still catch.
    assert isinstance(info.value, NcaaEvalError)
    assert isinstance(info.value, KeyError)
    assert "\n" not in message


def test_duplicate_name_from_another_class_names_both_classes() -> None:
    class Impostor(ConstantModel):
        pass

    with pytest.raises(DuplicateModelError) as info:
        register_model("elo")(Impostor)
    message = str(info.value)
    assert "'elo'" in message
    assert "ncaa_eval.model.elo.EloModel" in message
    assert f"{Impostor.__module__}.{Impostor.__qualname__}" in message
    assert isinstance(info.value, NcaaEvalError)
    # The first registration stands and the impostor was not renamed.
    assert get_model("elo") is EloModel
    assert EloModel.name == "elo"
    assert Impostor.name == ""


def test_duplicate_between_two_new_classes() -> None:
    class First(ConstantModel):
        pass

    class Second(ConstantModel):
        pass

    register_model("twice")(First)
    with pytest.raises(DuplicateModelError, match=r"First.*Second"):
        register_model("twice")(Second)
    assert get_model("twice") is First


@pytest.mark.parametrize("name", ["", "has space", "dotted.name", "slash/name", "semi;colon", "-"])
def test_invalid_names_are_rejected(name: str) -> None:
    with pytest.raises(ValueError, match="letters, digits"):
        register_model(name)
    assert name not in list_models()


def test_only_model_subclasses_can_register() -> None:
    class NotAModel:
        pass

    with pytest.raises(TypeError, match=r"subclass of ncaa_eval\.model\.base\.Model"):
        register_model("not_a_model")(NotAModel)  # type: ignore[type-var]
    assert "not_a_model" not in list_models()


def test_the_registry_after_a_test_is_the_original() -> None:
    """The autouse fixture undid the registrations of the tests above."""
    for name in ("my-model_2", "again", "twice"):
        assert name not in list_models()


def test_cli_reports_an_unknown_model_in_one_line(run_cli: Invoke, demo_store: Path) -> None:
    result = run_cli("train", "--model", "no_such_model", "--data-dir", str(demo_store), expect=1)
    lines = result.output.strip().splitlines()
    assert lines == [
        f"Error: Unknown model 'no_such_model'. Available: {', '.join(list_models())}."
    ]


def test_cli_lists_every_registered_model(run_cli: Invoke) -> None:
    import json

    out = json.loads(run_cli("models", "--json").output)
    assert sorted(out) == list_models()
    assert out["elo"]["class"] == "ncaa_eval.model.elo.EloModel"
    assert out["elo"]["stateful"] is True
    assert out["xgboost"]["stateful"] is False
    assert "features" in out["logistic_regression"]["config"]
