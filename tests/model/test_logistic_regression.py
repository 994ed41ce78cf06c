"""Tests of LogisticRegressionModel: the Model contract, NaN handling and exact reloads."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
from pydantic import ValidationError

from ncaa_eval.errors import NotFittedError
from ncaa_eval.model.base import FeatureModelConfig
from ncaa_eval.model.logistic_regression import LogisticRegressionConfig, LogisticRegressionModel
from ncaa_eval.model.registry import get_model


def dataset(n: int = 600, seed: int = 0) -> tuple[pd.DataFrame, npt.NDArray[np.int64]]:
    """Three features: two informative (one with NaN) and one constant."""
    rng = np.random.default_rng(seed)
    x1 = rng.normal(0, 2, n)
    x2 = rng.normal(5, 1, n)
    logit = 0.9 * x1 - 0.6 * (x2 - 5)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    x2_missing = x2.copy()
    x2_missing[rng.random(n) < 0.2] = np.nan
    X = pd.DataFrame({"elo_diff": x1, "seed_diff": x2_missing, "constant": np.ones(n)})
    return X, y


class TestContract:
    def test_registered(self) -> None:
        assert get_model("logistic_regression") is LogisticRegressionModel
        assert not LogisticRegressionModel.stateful

    def test_config(self) -> None:
        with pytest.raises(ValidationError):
            LogisticRegressionConfig.model_validate({"C": 0})
        with pytest.raises(ValidationError):
            LogisticRegressionConfig.model_validate({"penalty": "l1"})
        for name, field in LogisticRegressionConfig.model_fields.items():
            assert field.description, f"{name} has no description"
        # The walk-forward reads which features to serve and train from off the config.
        assert issubclass(LogisticRegressionConfig, FeatureModelConfig)

    def test_predict_before_fit_raises(self) -> None:
        X, _ = dataset()
        with pytest.raises(NotFittedError):
            LogisticRegressionModel().predict_proba(X)

    def test_predictions_are_probabilities_that_track_the_signal(self) -> None:
        X, y = dataset()
        p = LogisticRegressionModel().fit(X, y).predict_proba(X)
        assert p.shape == (len(X),)
        assert ((p > 0) & (p < 1)).all()
        assert np.corrcoef(p, X["elo_diff"])[0, 1] > 0.8
        assert float(np.mean((p > 0.5) == (y == 1))) > 0.7

    def test_matches_the_scikit_learn_pipeline(self) -> None:
        # The numpy prediction path must equal imputer + indicator + scaler + LR in sklearn.
        from sklearn.impute import SimpleImputer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        X, y = dataset()
        ours = LogisticRegressionModel(LogisticRegressionConfig.model_validate({"C": 0.5})).fit(
            X, y
        )
        pipeline = make_pipeline(
            SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
            StandardScaler(),
            LogisticRegression(C=0.5, tol=1e-6, max_iter=1000),
        ).fit(X.to_numpy(), y)
        np.testing.assert_allclose(
            ours.predict_proba(X), pipeline.predict_proba(X.to_numpy())[:, 1], atol=1e-6
        )

    def test_missing_values(self) -> None:
        X, y = dataset()
        model = LogisticRegressionModel().fit(X, y)
        assert model.state_ is not None
        assert model.state_.indicator_features == ["seed_diff"]
        assert model.state_.design_names == [
            "elo_diff",
            "seed_diff",
            "constant",
            "seed_diff__missing",
        ]
        assert model.state_.medians[1] == pytest.approx(float(np.nanmedian(X["seed_diff"])))
        # A NaN in a column that had none in training is filled with the training median.
        probe = X.iloc[:3].copy()
        probe.loc[probe.index[0], "elo_diff"] = np.nan
        filled = probe.copy()
        filled.loc[filled.index[0], "elo_diff"] = model.state_.medians[0]
        np.testing.assert_array_equal(model.predict_proba(probe), model.predict_proba(filled))

    def test_without_indicators(self) -> None:
        X, y = dataset()
        model = LogisticRegressionModel(
            LogisticRegressionConfig.model_validate({"missing_indicators": False})
        )
        model.fit(X, y)
        assert model.state_ is not None
        assert model.state_.coef.shape == (3,)

    def test_constant_column_gets_no_weight(self) -> None:
        X, y = dataset()
        model = LogisticRegressionModel().fit(X, y)
        assert model.state_ is not None
        assert model.state_.coef[2] == 0.0

    def test_column_order_and_extra_columns_do_not_matter(self) -> None:
        X, y = dataset()
        model = LogisticRegressionModel().fit(X, y)
        shuffled = X[["constant", "seed_diff", "elo_diff"]].assign(extra=1.0)
        np.testing.assert_array_equal(model.predict_proba(shuffled), model.predict_proba(X))

    def test_deterministic(self) -> None:
        X, y = dataset()
        a = LogisticRegressionModel().fit(X, y).predict_proba(X)
        b = LogisticRegressionModel().fit(X, y).predict_proba(X)
        np.testing.assert_array_equal(a, b)

    @pytest.mark.parametrize(
        ("X", "y", "message"),
        [
            (pd.DataFrame({"a": [1.0, 2.0]}), [1], "2 rows"),
            (pd.DataFrame({"a": [1.0, 2.0]}), [1, 1], "single class"),
            (pd.DataFrame({"a": [1.0, 2.0]}), [1, 2], "only 0 and 1"),
            (pd.DataFrame({"a": ["x", "y"]}), [1, 0], "not numeric"),
            (pd.DataFrame(), [], "at least one row"),
        ],
    )
    def test_fit_rejects(self, X: pd.DataFrame, y: list[int], message: str) -> None:
        with pytest.raises(ValueError, match=message):
            LogisticRegressionModel().fit(X, y)

    def test_predict_needs_training_columns(self) -> None:
        X, y = dataset()
        model = LogisticRegressionModel().fit(X, y)
        with pytest.raises(ValueError, match="seed_diff"):
            model.predict_proba(X.drop(columns=["seed_diff"]))


class TestPersistence:
    def test_round_trip_is_exact(self, tmp_path: Path) -> None:
        X, y = dataset()
        model = LogisticRegressionModel(
            LogisticRegressionConfig.model_validate({"C": 0.3, "train_min_day": 90})
        ).fit(X, y)
        model.save(tmp_path / "lr")
        loaded = LogisticRegressionModel.load(tmp_path / "lr")
        assert loaded.config == model.config
        np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))

    def test_saved_as_json_only(self, tmp_path: Path) -> None:
        X, y = dataset()
        LogisticRegressionModel().fit(X, y).save(tmp_path)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "model.json"]
        state = json.loads((tmp_path / "model.json").read_text())
        assert state["feature_names"] == ["elo_diff", "seed_diff", "constant"]
        assert len(state["coef"]) == 4


def test_module_import_does_not_load_sklearn() -> None:
    code = (
        "import sys, ncaa_eval.model.logistic_regression; "
        "print(any(m == 'sklearn' or m.startswith('sklearn.') for m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"
