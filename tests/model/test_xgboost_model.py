"""Tests of XGBoostModel: time-ordered early stopping, determinism and UBJ persistence."""

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
from ncaa_eval.model.registry import get_model
from ncaa_eval.model.xgboost_model import (
    XGBoostConfig,
    XGBoostModel,
    time_ordered_split,
    training_rows,
)
from ncaa_eval.training.config_loading import validate_config
from ncaa_eval.transform.feature_serving import feature_direction

#: Small and quick, with sampling on so the seed matters.
FAST = XGBoostConfig.model_validate(
    {
        "n_estimators": 300,
        "learning_rate": 0.1,
        "early_stopping_rounds": 20,
        "n_jobs": 1,
        "subsample": 0.8,
        "colsample_bytree": 0.8,
    }
)


def dataset(n: int = 1500, seed: int = 0) -> tuple[pd.DataFrame, npt.NDArray[np.int64]]:
    """Four features, one of them partly missing; y depends on the first two."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 4)), columns=["elo_diff", "seed_diff", "noise", "net"])
    logit = 1.2 * X["elo_diff"].to_numpy() - 0.8 * X["seed_diff"].to_numpy()
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    X.loc[rng.random(n) < 0.15, "net"] = np.nan
    return X, y


class TestTimeOrderedSplit:
    def test_validation_is_the_tail(self) -> None:
        train, valid = time_ordered_split(10, 0.2)
        assert (train, valid) == (slice(0, 8), slice(8, 10))

    def test_rounding_and_degenerate_cases(self) -> None:
        assert time_ordered_split(9, 0.25) == (slice(0, 7), slice(7, 9))
        # No validation when it would be empty or take every row.
        assert time_ordered_split(3, 0.2) == (slice(0, 3), slice(3, 3))
        assert time_ordered_split(100, 0.0) == (slice(0, 100), slice(100, 100))
        assert time_ordered_split(1, 0.9) == (slice(0, 1), slice(1, 1))

    def test_rejects_bad_fraction(self) -> None:
        with pytest.raises(ValueError, match="validation_fraction"):
            time_ordered_split(10, 1.0)


class TestEarlyStopping:
    def test_validates_on_the_latest_rows(self) -> None:
        # The relationship flips in the last 20% of rows. Validating on exactly those rows, the
        # first round is already the best one; a random 20% (mostly old regime) would keep going.
        rng = np.random.default_rng(1)
        n = 2000
        x = rng.normal(size=n)
        y = (x > 0).astype(int)
        y[int(0.8 * n) :] = 1 - y[int(0.8 * n) :]
        X = pd.DataFrame({"x": x, "z": rng.normal(size=n)})
        model = XGBoostModel(FAST).fit(X, y)
        assert model.best_iteration_ == 0
        assert model.n_rounds_ == 1
        assert model.booster_ is not None
        assert model.booster_.num_boosted_rounds() == 1

        # Sanity check of the premise: on a random validation sample, many rounds help.
        import xgboost

        order = rng.permutation(n)
        train, valid = order[:1600], order[1600:]
        probe = xgboost.train(
            {"objective": "binary:logistic", "eta": 0.1, "max_depth": 3, "nthread": 1},
            xgboost.DMatrix(X.to_numpy()[train], label=y[train]),
            num_boost_round=300,
            evals=[(xgboost.DMatrix(X.to_numpy()[valid], label=y[valid]), "v")],
            early_stopping_rounds=20,
            verbose_eval=False,
        )
        assert probe.best_iteration > 10

    def test_refit_uses_the_best_round_count_on_all_rows(self) -> None:
        X, y = dataset()
        model = XGBoostModel(FAST).fit(X, y)
        assert model.best_iteration_ is not None
        assert 0 < model.best_iteration_ < FAST.n_estimators - 1
        assert model.n_rounds_ == model.best_iteration_ + 1
        assert model.booster_ is not None
        assert model.booster_.num_boosted_rounds() == model.n_rounds_
        assert model.validation_logloss_ is not None
        assert model.validation_logloss_ < np.log(2)

    def test_no_validation(self) -> None:
        X, y = dataset(n=400)
        config = FAST.model_copy(update={"validation_fraction": 0.0, "n_estimators": 25})
        model = XGBoostModel(config).fit(X, y)
        assert model.best_iteration_ is None
        assert model.n_rounds_ == 25


class TestContract:
    def test_registered(self) -> None:
        assert get_model("xgboost") is XGBoostModel

    def test_config(self) -> None:
        with pytest.raises(ValidationError):
            XGBoostConfig.model_validate({"validation_fraction": 1.0})
        with pytest.raises(ValidationError):
            XGBoostConfig.model_validate({"max_depth": 0})
        with pytest.raises(ValidationError):
            XGBoostConfig.model_validate({"eta": 0.1})
        for name, field in XGBoostConfig.model_fields.items():
            assert field.description, f"{name} has no description"
        # The walk-forward reads which features to serve and train from off the config.
        assert issubclass(XGBoostConfig, FeatureModelConfig)

    def test_predict_before_fit_raises(self) -> None:
        X, _ = dataset(n=50)
        with pytest.raises(NotFittedError):
            XGBoostModel().predict_proba(X)

    def test_learns_the_signal(self) -> None:
        X, y = dataset()
        p = XGBoostModel(FAST).fit(X, y).predict_proba(X)
        assert p.dtype == np.float64
        assert ((p > 0) & (p < 1)).all()
        assert float(np.mean((p > 0.5) == (y == 1))) > 0.7

    def test_deterministic_for_a_seed(self) -> None:
        X, y = dataset()
        a = XGBoostModel(FAST).fit(X, y).predict_proba(X)
        b = XGBoostModel(FAST).fit(X, y).predict_proba(X)
        np.testing.assert_array_equal(a, b)
        other = XGBoostModel(FAST.model_copy(update={"seed": 1})).fit(X, y).predict_proba(X)
        assert not np.array_equal(a, other)

    def test_the_default_config_does_not_depend_on_the_seed(self) -> None:
        # The defaults sample neither rows nor columns, so the seed changes nothing.
        X, y = served_dataset(n=600)
        config = XGBoostConfig(n_estimators=100, learning_rate=0.1)
        a = XGBoostModel(config).fit(X, y).predict_proba(X)
        b = XGBoostModel(config.model_copy(update={"seed": 7})).fit(X, y).predict_proba(X)
        np.testing.assert_array_equal(a, b)

    def test_thread_count_does_not_change_predictions(self) -> None:
        X, y = dataset(n=600)
        one = XGBoostModel(FAST).fit(X, y).predict_proba(X)
        two = XGBoostModel(FAST.model_copy(update={"n_jobs": 2})).fit(X, y).predict_proba(X)
        np.testing.assert_array_equal(one, two)

    def test_column_order_does_not_matter(self) -> None:
        X, y = dataset(n=500)
        model = XGBoostModel(FAST).fit(X, y)
        np.testing.assert_array_equal(
            model.predict_proba(X[["net", "noise", "seed_diff", "elo_diff"]]),
            model.predict_proba(X),
        )

    def test_rejects_bad_input(self) -> None:
        X, y = dataset(n=100)
        with pytest.raises(ValueError, match="single class"):
            XGBoostModel(FAST).fit(X, np.ones(100))
        with pytest.raises(ValueError, match="labels"):
            XGBoostModel(FAST).fit(X, y[:50])
        model = XGBoostModel(FAST).fit(X, y)
        with pytest.raises(ValueError, match="elo_diff"):
            model.predict_proba(X.drop(columns=["elo_diff"]))


def served_dataset(n: int = 1500, seed: int = 0) -> tuple[pd.DataFrame, npt.NDArray[np.int64]]:
    """Columns the feature server serves (all antisymmetric), one partly missing."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "elo_diff": rng.normal(size=n),
            "seed_diff": rng.normal(size=n),
            "margin_rating_diff": rng.normal(size=n),
            "court": rng.choice([-1.0, 0.0, 1.0], size=n),
        }
    )
    logit = 1.2 * X["elo_diff"] - 0.8 * X["seed_diff"] + 0.4 * X["court"]
    y = (rng.random(n) < 1 / (1 + np.exp(-logit.to_numpy()))).astype(np.int64)
    X.loc[rng.random(n) < 0.3, "seed_diff"] = np.nan
    return X, y


class TestMirroredRows:
    def test_swapping_the_teams_gives_the_complement(self) -> None:
        X, y = served_dataset()
        model = XGBoostModel(FAST).fit(X, y)
        assert model.symmetric_
        np.testing.assert_allclose(model.predict_proba(X) + model.predict_proba(-X), 1.0, atol=1e-6)
        # Without mirroring the trees are not antisymmetric: the check above can fail.
        plain = XGBoostModel(FAST.model_copy(update={"symmetric": False})).fit(X, y)
        assert not plain.symmetric_
        gap = np.abs(plain.predict_proba(X) + plain.predict_proba(-X) - 1.0)
        assert gap.max() > 0.01

    def test_the_default_features_are_all_mirrored(self) -> None:
        columns = XGBoostConfig().features.feature_columns()
        assert all(feature_direction(c) is not None for c in columns), columns

    def test_a_column_of_unknown_direction_turns_mirroring_off(self) -> None:
        # "noise" might be symmetric in the teams (a pace sum, say): negating it would be wrong.
        X, y = dataset()
        assert not XGBoostModel(FAST).fit(X, y).symmetric_

    def test_training_rows_interleave_each_game_with_its_mirror(self) -> None:
        raw = np.arange(20, dtype=np.float64).reshape(10, 2)
        raw[3, 1] = np.nan
        target = np.array([1, 0, 1, 1, 0, 0, 1, 0, 1, 0], dtype=np.float64)
        rows, labels, train, valid = training_rows(raw, target, 0.25, mirrored=True)
        np.testing.assert_array_equal(rows[0::2], raw)
        np.testing.assert_array_equal(rows[1::2], -raw)
        np.testing.assert_array_equal(labels[0::2], target)
        np.testing.assert_array_equal(labels[1::2], 1 - target)
        # The split is on games: the last 2 of 10 and their mirrors, never half a pair.
        assert (train, valid) == (slice(0, 16), slice(16, 20))
        for fraction in (0.1, 0.15, 0.2, 0.33):
            _, _, train, valid = training_rows(raw, target, fraction, mirrored=True)
            assert train.stop % 2 == 0, fraction
            assert valid.start == train.stop, fraction
        assert training_rows(raw, target, 0.25, mirrored=False)[2:] == (slice(0, 8), slice(8, 10))

    def test_learning_the_mirrored_games_gives_the_same_model(self) -> None:
        # With mirroring, (X, y) and (-X, 1 - y) are the same games: the same forecasts (up to
        # float summation order). Without it they are different data and the forecasts differ.
        X, y = served_dataset(n=800)
        unsampled = FAST.model_copy(update={"subsample": 1.0, "colsample_bytree": 1.0})
        a = XGBoostModel(unsampled).fit(X, y).predict_proba(X)
        b = XGBoostModel(unsampled).fit(-X, 1 - y).predict_proba(X)
        np.testing.assert_allclose(a, b, atol=1e-5)
        plain = unsampled.model_copy(update={"symmetric": False})
        c = XGBoostModel(plain).fit(X, y).predict_proba(X)
        d = XGBoostModel(plain).fit(-X, 1 - y).predict_proba(X)
        assert np.abs(c - d).max() > 0.01

    def test_the_booster_learns_every_game_twice(self) -> None:
        # The first tree's root covers the hessian of every training row (0.25 a row at p=0.5):
        # mirrored, twice the rows of the plain model. Averaging at predict time alone would not
        # pass this.
        X, y = served_dataset(n=800)
        unsampled = FAST.model_copy(
            update={"subsample": 1.0, "colsample_bytree": 1.0, "validation_fraction": 0.0}
        )

        def root_cover(config: XGBoostConfig) -> float:
            booster = XGBoostModel(config).fit(X, y).booster_
            assert booster is not None
            tree = json.loads(booster.get_dump(dump_format="json", with_stats=True)[0])
            return float(tree["cover"])

        mirrored = root_cover(unsampled)
        plain = root_cover(unsampled.model_copy(update={"symmetric": False}))
        assert mirrored == pytest.approx(2 * 800 * 0.25, rel=1e-3)
        assert mirrored == pytest.approx(2 * plain, rel=0.02)

    def test_mirrors_stay_next_to_their_rows_so_validation_is_still_the_latest_games(
        self,
    ) -> None:
        # As in TestEarlyStopping, the relationship flips in the last 20% of rows.
        rng = np.random.default_rng(1)
        n = 2000
        x = rng.normal(size=n)
        y = (x > 0).astype(int)
        y[int(0.8 * n) :] = 1 - y[int(0.8 * n) :]
        X = pd.DataFrame({"elo_diff": x, "court": rng.choice([-1.0, 0.0, 1.0], size=n)})
        model = XGBoostModel(FAST.model_copy(update={"monotone": False})).fit(X, y)
        assert model.symmetric_
        assert model.best_iteration_ == 0

    def test_learns_the_signal(self) -> None:
        X, y = served_dataset()
        p = XGBoostModel(FAST).fit(X, y).predict_proba(X)
        assert float(np.mean((p > 0.5) == (y == 1))) > 0.7


class TestMonotone:
    @staticmethod
    def sweep(model: XGBoostModel, column: str) -> npt.NDArray[np.float64]:
        grid = pd.DataFrame(
            {
                "elo_diff": np.zeros(201),
                "seed_diff": np.zeros(201),
                "margin_rating_diff": np.zeros(201),
                "court": np.zeros(201),
            }
        )
        grid[column] = np.linspace(-3, 3, 201)
        return model.predict_proba(grid)

    def test_probability_moves_the_known_way_in_every_feature(self) -> None:
        # A weak, noisy signal: free trees wiggle up and down along a feature.
        X, _ = served_dataset(n=3000, seed=3)
        rng = np.random.default_rng(4)
        y = (rng.random(len(X)) < 1 / (1 + np.exp(-0.2 * X["elo_diff"].to_numpy()))).astype(int)
        config = FAST.model_copy(update={"validation_fraction": 0.0, "n_estimators": 200})
        free = XGBoostModel(config.model_copy(update={"monotone": False})).fit(X, y)
        assert (np.diff(self.sweep(free, "elo_diff")) < -1e-6).any()
        model = XGBoostModel(config).fit(X, y)
        for column, sign in (
            ("elo_diff", 1),
            ("margin_rating_diff", 1),
            ("court", 1),
            ("seed_diff", -1),
        ):
            steps = sign * np.diff(self.sweep(model, column))
            assert (steps >= -1e-9).all(), column

    def test_a_column_without_a_direction_is_mirrored_and_left_free(self) -> None:
        # pace_diff (direction 0) is antisymmetric, so the rows are mirrored, but no direction
        # is imposed: a signal rising then falling along it is learned both ways.
        rng = np.random.default_rng(6)
        n = 3000
        X = pd.DataFrame({"elo_diff": rng.normal(size=n), "pace_diff": rng.uniform(-3, 3, n)})
        logit = X["elo_diff"].to_numpy() + 2.5 * np.sin(1.5 * X["pace_diff"].to_numpy())
        y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
        config = FAST.model_copy(update={"validation_fraction": 0.0, "n_estimators": 200})
        model = XGBoostModel(config).fit(X, y)
        assert model.symmetric_
        grid = pd.DataFrame({"elo_diff": np.zeros(201), "pace_diff": np.linspace(-3, 3, 201)})
        steps = np.diff(model.predict_proba(grid))
        assert (steps > 1e-3).any()
        assert (steps < -1e-3).any()


class TestConfigsSavedBefore:
    """Runs saved before mirroring existed refit (predict, bracket, mlflow run) as they trained."""

    @staticmethod
    def saved_before() -> dict[str, object]:
        old = XGBoostConfig(symmetric=False, monotone=False, subsample=0.8, colsample_bytree=0.8)
        values = old.model_dump(mode="json")
        del values["symmetric"], values["monotone"]
        return values

    def test_a_complete_old_config_gets_the_old_behaviour(self) -> None:
        config = validate_config(XGBoostConfig, self.saved_before(), "xgboost")
        assert isinstance(config, XGBoostConfig)
        assert (config.symmetric, config.monotone, config.subsample) == (False, False, 0.8)

    def test_a_partial_config_gets_todays_defaults(self) -> None:
        config = validate_config(XGBoostConfig, {"max_depth": 4}, "xgboost")
        assert isinstance(config, XGBoostConfig)
        assert (config.symmetric, config.monotone, config.max_depth) == (True, True, 4)
        # A saved config that names the new fields keeps what it says.
        values = {**self.saved_before(), "symmetric": True}
        assert XGBoostConfig.complete_saved(values)["symmetric"] is True
        assert XGBoostConfig.complete_saved(values)["monotone"] is False


class TestPersistence:
    def test_round_trip_is_exact(self, tmp_path: Path) -> None:
        X, y = dataset()
        model = XGBoostModel(FAST.model_copy(update={"train_min_day": 90})).fit(X, y)
        model.save(tmp_path / "xgb")
        loaded = XGBoostModel.load(tmp_path / "xgb")
        assert loaded.config == model.config
        assert loaded.best_iteration_ == model.best_iteration_
        assert loaded.n_rounds_ == model.n_rounds_
        assert loaded.feature_names_ == model.feature_names_
        np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))

    def test_round_trip_keeps_the_mirroring(self, tmp_path: Path) -> None:
        X, y = served_dataset(n=600)
        model = XGBoostModel(FAST).fit(X, y)
        model.save(tmp_path / "xgb")
        loaded = XGBoostModel.load(tmp_path / "xgb")
        assert loaded.symmetric_
        np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))

    def test_a_model_saved_before_mirroring_predicts_as_it_was_trained(
        self, tmp_path: Path
    ) -> None:
        import xgboost

        X, y = served_dataset(n=600)
        model = XGBoostModel(FAST.model_copy(update={"symmetric": False})).fit(X, y)
        model.save(tmp_path)
        meta = json.loads((tmp_path / "model.json").read_text())
        del meta["symmetric"]
        (tmp_path / "model.json").write_text(json.dumps(meta))
        payload = json.loads((tmp_path / "config.json").read_text())
        for field in ("symmetric", "monotone"):
            del payload["config"][field]
        (tmp_path / "config.json").write_text(json.dumps(payload))
        loaded = XGBoostModel.load(tmp_path)
        # A complete config without the new fields is from before them: their old values.
        assert not loaded.config.symmetric
        assert not loaded.config.monotone
        assert not loaded.symmetric_
        assert loaded.booster_ is not None
        raw = loaded.booster_.predict(xgboost.DMatrix(X.to_numpy(dtype=np.float64)))
        np.testing.assert_array_equal(loaded.predict_proba(X), raw)

    def test_files(self, tmp_path: Path) -> None:
        X, y = dataset(n=300)
        XGBoostModel(FAST).fit(X, y).save(tmp_path)
        assert sorted(p.name for p in tmp_path.iterdir()) == [
            "config.json",
            "model.json",
            "model.ubj",
        ]
        meta = json.loads((tmp_path / "model.json").read_text())
        assert meta["feature_names"] == ["elo_diff", "seed_diff", "noise", "net"]


def test_module_import_does_not_load_xgboost() -> None:
    code = "import sys, ncaa_eval.model.xgboost_model; print('xgboost' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"
