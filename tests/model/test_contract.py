"""The model contract, checked on EVERY registered model (built-ins and installed plugins).

Stateless models are fitted on leakage-free features served from the demo store; stateful models
walk the demo store's games (:data:`GAME_COLUMNS`). Both then forecast the last season's
tournament, which they never saw.
"""

from __future__ import annotations

import contextlib
import json
import types
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
from annotated_types import Ge, Gt, Le, Lt
from pydantic import BaseModel, ValidationError
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from ncaa_eval.errors import NotFittedError
from ncaa_eval.ingest import ParquetRepository
from ncaa_eval.model.base import (
    CONFIG_FILE,
    GAME_COLUMNS,
    FeatureModelConfig,
    FloatArray,
    Model,
    ModelConfig,
    StatefulModel,
    fit_inputs,
)
from ncaa_eval.model.registry import get_model, list_models
from ncaa_eval.transform.feature_serving import FeatureConfig, FeatureSet, StatefulFeatureServer
from ncaa_eval.transform.matchups import conference_map, orient_games
from ncaa_eval.transform.serving import ChronologicalDataServer

MODEL_NAMES = list_models()
STATEFUL = [n for n in MODEL_NAMES if get_model(n).stateful]
#: Seasons of the demo store the models learn from; the last one's tournament is forecast. Three
#: earlier tournaments: the margin model fits its spread on them (spread_min_seasons=3).
SEASONS = [2020, 2021, 2022, 2023]
TEST_SEASON = SEASONS[-1]
#: Pickle streams (protocol 2+) start with the PROTO opcode.
PICKLE_PROTO = b"\x80"
#: What a saved model folder may hold: JSON, and XGBoost's own UBJSON booster format.
SAFE_SUFFIXES = {".json", ".ubj"}


@pytest.fixture(scope="module", autouse=True)
def _single_threaded_blas() -> Iterator[None]:
    """The feature server solves many small systems; threaded BLAS only slows those down."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield


# --- config checks --------------------------------------------------------------------------


def _nested_config(annotation: object) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return None


def _is_numeric(annotation: object) -> bool:
    """int or float (optional or not); bool is a flag, not a number to bound."""
    if annotation in (int, float):
        return True
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return bool(args) and all(a in (int, float) for a in args)
    return False


def config_problems(config_class: type[BaseModel]) -> list[str]:
    """Every way ``config_class`` (and the configs nested in it) breaks the config rules."""
    problems = []
    where = config_class.__name__
    if config_class.model_config.get("extra") != "forbid":
        problems.append(f"{where}: extra is not 'forbid'")
    if not config_class.model_config.get("frozen"):
        problems.append(f"{where}: not frozen")
    for name, info in config_class.model_fields.items():
        field = f"{where}.{name}"
        if info.is_required():
            problems.append(f"{field}: no default")
        if not (info.description or "").strip():
            problems.append(f"{field}: no description")
        nested = _nested_config(info.annotation)
        if nested is not None:
            problems += config_problems(nested)
        elif _is_numeric(info.annotation) and not any(
            isinstance(m, (Ge, Gt, Le, Lt)) for m in info.metadata
        ):
            problems.append(f"{field}: numeric without a ge/gt/le/lt constraint")
    return problems


def nested_fields(config_class: type[BaseModel]) -> list[str]:
    return [
        name
        for name, info in config_class.model_fields.items()
        if _nested_config(info.annotation) is not None
    ]


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_config_is_strict_defaulted_described_and_bounded(name: str) -> None:
    cls = get_model(name)
    assert issubclass(cls.config_class, ModelConfig)
    assert config_problems(cls.config_class) == []


def test_config_checker_catches_a_bad_config() -> None:
    """The checker above is not vacuous: it flags each rule it enforces."""
    from pydantic import ConfigDict, Field

    class Loose(BaseModel):
        model_config = ConfigDict(extra="ignore")

        required: int
        unbounded: float = Field(default=1.0, description="no bounds")
        undocumented: bool = True
        bounded: int | None = Field(default=None, ge=0, description="fine")

    assert config_problems(Loose) == [
        "Loose: extra is not 'forbid'",
        "Loose: not frozen",
        "Loose.required: no default",
        "Loose.required: no description",
        "Loose.required: numeric without a ge/gt/le/lt constraint",
        "Loose.unbounded: numeric without a ge/gt/le/lt constraint",
        "Loose.undocumented: no description",
    ]


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_unknown_config_keys_are_rejected(name: str) -> None:
    cls = get_model(name)
    with pytest.raises(ValidationError, match="no_such_setting"):
        cls.config_class.model_validate({"no_such_setting": 1})
    with pytest.raises(ValidationError):
        cls.from_params({"no_such_setting": 1})
    for field in nested_fields(cls.config_class):
        with pytest.raises(ValidationError, match="no_such_setting"):
            cls.config_class.model_validate({field: {"no_such_setting": 1}})


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_default_config_survives_json(name: str) -> None:
    cls = get_model(name)
    default = cls.config_class()
    assert cls().get_config() == default
    assert cls.from_params({}).get_config() == default
    dumped = json.loads(json.dumps(default.model_dump(mode="json")))
    assert cls.config_class.model_validate(dumped) == default
    with pytest.raises(ValidationError):
        default.__setattr__(next(iter(cls.config_class.model_fields)), None)  # frozen


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_a_config_of_another_class_is_refused(name: str) -> None:
    class Other(ModelConfig):
        pass

    with pytest.raises(TypeError, match="takes a"):
        get_model(name)(Other())


# --- data -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Split:
    """Training rows, their labels, and the held-out tournament rows."""

    train: pd.DataFrame
    labels: npt.NDArray[np.int64]
    test: pd.DataFrame


@pytest.fixture(scope="module")
def games(demo_store: Path) -> pd.DataFrame:
    repo = ParquetRepository(demo_store)
    server = ChronologicalDataServer(repo, "M", SEASONS)
    return orient_games(server.all_games(), conference_map(repo.conferences("M")))


@pytest.fixture(scope="module")
def served(demo_store: Path) -> Callable[[FeatureConfig], FeatureSet]:
    cache: dict[FeatureConfig, FeatureSet] = {}

    def serve(config: FeatureConfig) -> FeatureSet:
        if config not in cache:
            repo = ParquetRepository(demo_store)
            cache[config] = StatefulFeatureServer(config).serve(repo, "M", SEASONS)
        return cache[config]

    return serve


def _held_out(frame: pd.DataFrame) -> pd.Series:
    return (frame["season"] == TEST_SEASON) & frame["is_tournament"]


@pytest.fixture(scope="module")
def split(
    games: pd.DataFrame, served: Callable[[FeatureConfig], FeatureSet], demo_store: Path
) -> Callable[[str], Split]:
    """The data a model of this name learns from and is tested on."""

    def make(name: str) -> Split:
        cls = get_model(name)
        if cls.composite:
            return _composite_split(cls, ParquetRepository(demo_store))
        if issubclass(cls, StatefulModel):
            test = _held_out(games)
            return Split(
                games.loc[~test, list(GAME_COLUMNS)],
                games.loc[~test, "team_a_won"].to_numpy(dtype=np.int64),
                games.loc[test, list(GAME_COLUMNS)],
            )
        config = cls.config_class()
        features = config.features if isinstance(config, FeatureModelConfig) else FeatureConfig()
        min_day = config.train_min_day if isinstance(config, FeatureModelConfig) else 100
        feature_set = served(features)
        frame, cols = feature_set.frame, feature_set.feature_columns
        test = _held_out(frame)
        train = ~test & (frame["is_tournament"] | (frame["day_num"] >= min_day))
        return Split(
            # The features, and the game columns the model declares it is fitted on.
            fit_inputs(cls, frame.loc[train], cols),
            frame.loc[train, "team_a_won"].to_numpy(dtype=np.int64),
            frame.loc[test, cols],
        )

    return make


def _composite_split(cls: type[Model], repository: ParquetRepository) -> Split:
    """A composite model learns from its members' probabilities: each member walks forward over
    the last three of :data:`SEASONS` (history from the store's first season, so a ``margin``
    member has the earlier tournaments its spread needs), the blend learns from the earlier
    tournaments' forecasts and forecasts the last one's."""
    from ncaa_eval.evaluation.walk_forward import walk_forward
    from ncaa_eval.model.ensemble import EnsembleModel

    model = cls()
    assert isinstance(model, EnsembleModel)
    columns, won = {}, None
    for name in model.members:
        factory = model.member_factory(name)
        walked = walk_forward(factory, repository, "M", SEASONS[1], TEST_SEASON).predictions
        walked = walked.set_index(["season", "game_id"])
        columns[name] = walked["pred_win_prob"]
        won = walked["team_a_won"]
    X = pd.DataFrame(columns)
    assert won is not None
    assert not X.isna().any().any()  # every member forecast the same games
    test = X.index.get_level_values("season") == TEST_SEASON
    labels = won.reindex(X.index).to_numpy(dtype=np.int64)
    return Split(X[~test].reset_index(drop=True), labels[~test], X[test].reset_index(drop=True))


@dataclass(frozen=True)
class Fitted:
    model: Model
    split: Split
    predictions: FloatArray


@pytest.fixture(scope="module")
def fitted(split: Callable[[str], Split]) -> Callable[[str], Fitted]:
    """A model of each name fitted once per module on its default config."""
    cache: dict[str, Fitted] = {}

    def fit(name: str) -> Fitted:
        if name not in cache:
            data = split(name)
            model = get_model(name)().fit(data.train, data.labels)
            cache[name] = Fitted(model, data, model.predict_proba(data.test))
        return cache[name]

    return fit


# --- behaviour ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_predicting_or_saving_before_fit_raises_not_fitted(
    name: str, split: Callable[[str], Split], tmp_path: Path
) -> None:
    model = get_model(name)()
    assert not model.is_fitted
    with pytest.raises(NotFittedError, match="not fitted"):
        model.predict_proba(split(name).test)
    with pytest.raises(NotFittedError):
        model.save(tmp_path / "model")
    assert not (tmp_path / "model").exists()


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_predictions_are_probabilities_one_per_row(
    name: str, fitted: Callable[[str], Fitted]
) -> None:
    result = fitted(name)
    p = result.predictions
    assert result.model.is_fitted
    assert len(result.split.test) == 67  # a full demo tournament, First Four included
    assert p.shape == (len(result.split.test),)
    assert p.dtype == np.float64
    assert np.isfinite(p).all()
    assert ((p >= 0.0) & (p <= 1.0)).all()


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_predicting_changes_nothing(name: str, fitted: Callable[[str], Fitted]) -> None:
    result = fitted(name)
    test = result.split.test
    before = test.copy()
    again = result.model.predict_proba(test)
    np.testing.assert_array_equal(again, result.predictions)
    pd.testing.assert_frame_equal(test, before)
    # Row by row gives the same numbers as the batch.
    one = np.array([result.model.predict_proba(test.iloc[[i]])[0] for i in range(5)])
    np.testing.assert_allclose(one, result.predictions[:5], rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_what_a_model_learned_is_a_titled_table_or_nothing(
    name: str, fitted: Callable[[str], Fitted]
) -> None:
    """``learned()`` is optional: None, or a non-empty table with a title."""
    with contextlib.suppress(NotFittedError):  # unfitted: None or not fitted
        assert get_model(name)().learned() is None
    result = fitted(name)
    table = result.model.learned()
    if table is None:
        return
    assert isinstance(table, pd.DataFrame)
    assert not table.empty
    assert all(isinstance(column, str) for column in table.columns)
    assert type(result.model).learned_title
    # Reading it changes nothing.
    np.testing.assert_array_equal(result.model.predict_proba(result.split.test), result.predictions)


def test_a_model_that_does_not_tell_what_it_learned_returns_none() -> None:
    class Silent(Model):
        def fit(self, X: pd.DataFrame, y: npt.ArrayLike) -> Silent:
            return self

        def predict_proba(self, X: pd.DataFrame) -> FloatArray:
            return np.full(len(X), 0.5)

        @property
        def is_fitted(self) -> bool:
            return True

        def _save_state(self, path: Path) -> None:
            pass

        def _load_state(self, path: Path) -> None:
            pass

    assert Silent().learned() is None
    assert Silent.learned_title == ""


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_same_config_same_predictions(name: str, fitted: Callable[[str], Fitted]) -> None:
    result = fitted(name)
    data = result.split
    cls = get_model(name)
    twin = cls(cls.config_class.model_validate(result.model.get_config().model_dump()))
    twin.fit(data.train, data.labels)
    np.testing.assert_array_equal(twin.predict_proba(data.test), result.predictions)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_save_load_round_trip_without_pickle(
    name: str, fitted: Callable[[str], Fitted], tmp_path: Path
) -> None:
    result = fitted(name)
    folder = tmp_path / "saved"
    result.model.save(folder)
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert folder / CONFIG_FILE in files
    for path in files:
        assert path.suffix in SAFE_SUFFIXES, f"{path.name}: not JSON or UBJSON"
        assert not path.read_bytes().startswith(PICKLE_PROTO), f"{path.name} is a pickle"
    payload = json.loads((folder / CONFIG_FILE).read_text())
    assert payload["model"] == name
    cls = get_model(name)
    loaded = cls.load(folder)
    assert type(loaded) is cls
    assert loaded.is_fitted
    assert loaded.get_config() == result.model.get_config()
    np.testing.assert_array_equal(loaded.predict_proba(result.split.test), result.predictions)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_non_default_config_is_saved_and_restored(
    name: str, fitted: Callable[[str], Fitted], tmp_path: Path
) -> None:
    """A config other than the default comes back from disk exactly."""
    cls = get_model(name)
    data = fitted(name).split
    config = _tweaked(cls.config_class)
    assert isinstance(config, ModelConfig)
    assert config != cls.config_class()
    model = cls(config).fit(data.train, data.labels)
    model.save(tmp_path / "m")
    loaded = cls.load(tmp_path / "m")
    assert loaded.get_config() == config
    np.testing.assert_array_equal(loaded.predict_proba(data.test), model.predict_proba(data.test))


def _tweaked(config_class: type[BaseModel]) -> BaseModel:
    """The default config with one numeric field moved inside its bounds: ``seed`` if there is
    one (cheap to change), else the last one that can move."""
    default = config_class().model_dump()
    fields = sorted(reversed(config_class.model_fields.items()), key=lambda f: f[0] != "seed")
    for name, info in fields:
        value = default[name]
        if not _is_numeric(info.annotation) or value is None:
            continue
        steps = (value + 1, value - 1) if isinstance(value, int) else (value * 1.5, value / 2)
        for candidate in steps:
            try:
                return config_class.model_validate({**default, name: candidate})
            except ValidationError:
                continue
    pytest.skip(f"{config_class.__name__} has no numeric field that can change")


# --- stateful models ------------------------------------------------------------------------


@pytest.mark.parametrize("name", STATEFUL)
def test_stateful_fit_equals_walking_in_parts(name: str, fitted: Callable[[str], Fitted]) -> None:
    result = fitted(name)
    train = result.split.train
    cls = get_model(name)
    walker = cls()
    assert isinstance(walker, StatefulModel)
    cut = int(np.flatnonzero(train["season"].to_numpy() == SEASONS[1])[0])
    walker.reset()
    first = walker.update(train.iloc[:cut])
    second = walker.update(train.iloc[cut:])
    assert len(first) + len(second) == len(train)
    assert ((first >= 0) & (first <= 1)).all()
    np.testing.assert_array_equal(walker.predict_proba(result.split.test), result.predictions)
    # fit() forgets what was walked before.
    walker.fit(train)
    np.testing.assert_array_equal(walker.predict_proba(result.split.test), result.predictions)


@pytest.mark.parametrize("name", STATEFUL)
def test_stateful_swapped_pair_gives_the_complement(
    name: str, fitted: Callable[[str], Fitted]
) -> None:
    """p(A, B) = 1 - p(B, A): the same game seen from team B's side (court flipped)."""
    result = fitted(name)
    test = result.split.test
    regular = test.assign(team_a_loc=np.resize(np.array(["H", "A", "N"], dtype=object), len(test)))
    p = result.model.predict_proba(regular)
    swapped = regular.assign(
        team_a_id=regular["team_b_id"],
        team_b_id=regular["team_a_id"],
        team_a_score=regular["team_b_score"],
        team_b_score=regular["team_a_score"],
        team_a_loc=regular["team_a_loc"].map({"H": "A", "A": "H", "N": "N"}),
        team_a_conf=regular["team_b_conf"],
        team_b_conf=regular["team_a_conf"],
    )
    np.testing.assert_allclose(result.model.predict_proba(swapped), 1.0 - p, rtol=0, atol=1e-12)
    # Home court matters: the same pair at A's home is more likely an A win than away.
    home = result.model.predict_proba(regular.assign(team_a_loc="H"))
    away = result.model.predict_proba(regular.assign(team_a_loc="A"))
    assert (home >= away).all()


def test_the_game_columns_a_model_is_fitted_on_are_served_ones() -> None:
    """``fit_columns`` name game columns every served frame has; a stateful model gets them all."""
    for name in MODEL_NAMES:
        cls = get_model(name)
        assert set(cls.fit_columns) <= set(GAME_COLUMNS), name
        assert len(set(cls.fit_columns)) == len(cls.fit_columns), name


def test_every_composite_model_declares_itself() -> None:
    from ncaa_eval.model.ensemble import EnsembleModel

    for name in MODEL_NAMES:
        cls = get_model(name)
        assert cls.composite == issubclass(cls, EnsembleModel)
        assert not (cls.composite and cls.stateful)


def test_every_stateful_model_declares_itself() -> None:
    for name in MODEL_NAMES:
        cls = get_model(name)
        assert cls.stateful == issubclass(cls, StatefulModel)
