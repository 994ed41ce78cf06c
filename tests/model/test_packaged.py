"""The packaged forecaster (what a run's MLflow Model serves), on EVERY registered model.

It must give, for the last forecast season, exactly the walk-forward's numbers, for any pair of
that season's teams, in either order, from its own folder alone; and refuse what it cannot answer.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from ncaa_eval.evaluation.walk_forward import WalkForwardResult, walk_forward
from ncaa_eval.ingest.repository import ParquetRepository
from ncaa_eval.model.packaged import (
    INFO_FILE,
    MODEL_DIR,
    TEAMS_FILE,
    PackagedForecaster,
    UnknownMatchupError,
    load_packaged,
    write_packaged,
)
from ncaa_eval.model.registry import get_model, list_models
from ncaa_eval.training.packaging import last_season_teams, package_result

MODEL_NAMES = list_models()
START, END = 2022, 2023


@pytest.fixture(scope="module", autouse=True)
def _single_threaded_blas() -> Iterator[None]:
    with threadpool_limits(limits=1, user_api="blas"):
        yield


@dataclass(frozen=True)
class Packaged:
    result: WalkForwardResult
    forecaster: PackagedForecaster
    folder: Path


@pytest.fixture(scope="module")
def packaged(
    demo_store: Path, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], Packaged]:
    cache: dict[str, Packaged] = {}
    repository = ParquetRepository(demo_store)

    def make(name: str) -> Packaged:
        if name not in cache:
            cls = get_model(name)
            result = walk_forward(cls, repository, "M", START, END)
            assert result.forecaster is not None
            folder = tmp_path_factory.mktemp(f"packaged-{name}") / "forecaster"
            # As a run packages it: an ensemble's members inside it, each with its own teams.
            package_result(folder, result, repository)
            cache[name] = Packaged(result, load_packaged(folder), folder)
        return cache[name]

    return make


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_the_package_gives_the_walk_forward_forecasts_of_its_season(
    name: str, packaged: Callable[[str], Packaged]
) -> None:
    p = packaged(name)
    preds = p.result.predictions
    last = preds[preds["season"] == END]
    assert len(last) > 0
    # Courts are neutral in the demo league's tournament, as in the men's NCAA tournament.
    got = p.forecaster.predict(last[["season", "team_a_id", "team_b_id"]])
    np.testing.assert_allclose(got, last["pred_win_prob"].to_numpy(), rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_the_package_answers_every_pair_both_ways_and_by_kaggle_id(
    name: str, packaged: Callable[[str], Packaged]
) -> None:
    f = packaged(name).forecaster
    teams = f.all_teams
    assert len(teams) > len(f.tournament_teams) > 0
    rng = np.random.default_rng(0)
    a, b = (rng.choice(teams, size=200) for _ in range(2))
    keep = a != b
    frame = pd.DataFrame({"season": END, "team_a_id": a[keep], "team_b_id": b[keep]})
    p = f.predict(frame)
    assert np.all((p >= 0) & (p <= 1))
    swapped = f.predict(frame.rename(columns={"team_a_id": "team_b_id", "team_b_id": "team_a_id"}))
    np.testing.assert_allclose(p + swapped, 1.0, atol=1e-12)
    ids = [f"{END}_{x}_{y}" for x, y in zip(frame["team_a_id"], frame["team_b_id"], strict=True)]
    np.testing.assert_array_equal(f.predict(pd.DataFrame({"ID": ids})), p)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_a_home_court_moves_the_forecast_toward_the_home_team(
    name: str, packaged: Callable[[str], Packaged]
) -> None:
    f = packaged(name).forecaster
    a, b = f.tournament_teams[:2]
    frame = pd.DataFrame({"season": [END] * 3, "team_a_id": [a] * 3, "team_b_id": [b] * 3})
    p = f.predict(frame.assign(team_a_loc=["A", "N", "H"]))
    assert p[0] <= p[1] <= p[2]
    # The same game seen from the other side: B away is A at home.
    other = f.predict(pd.DataFrame({"season": [END], "team_a_id": [b], "team_b_id": [a]}).assign(
        team_a_loc="A"
    ))  # fmt: skip
    np.testing.assert_allclose(other, 1.0 - p[2], atol=1e-12)


def test_the_package_holds_no_pickle_and_loads_from_its_folder_alone(
    packaged: Callable[[str], Packaged], tmp_path: Path
) -> None:
    import shutil

    p = packaged("xgboost")
    moved = shutil.copytree(p.folder, tmp_path / "elsewhere")
    for path in moved.rglob("*"):
        if path.is_file():
            assert path.suffix in {".json", ".ubj", ".parquet"}, path
            assert not path.read_bytes().startswith(b"\x80"), path
    info = json.loads((moved / INFO_FILE).read_text())
    assert info["season"] == END
    assert info["model"] == "xgboost"
    again = load_packaged(moved)
    frame = pd.DataFrame({"season": END, "team_a_id": [again.tournament_teams[0]],
                          "team_b_id": [again.tournament_teams[1]]})  # fmt: skip
    assert again.predict(frame)[0] == p.forecaster.predict(frame)[0]
    # Nothing that learned from the season's tournament travels with it: one model folder only.
    assert sorted(x.name for x in moved.iterdir()) == [INFO_FILE, MODEL_DIR, TEAMS_FILE]
    assert info["feature_columns"] == p.result.feature_set.feature_columns  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("frame", "pattern"),
    [
        (pd.DataFrame({"season": [END - 1], "team_a_id": [0], "team_b_id": [0]}), "season"),
        (pd.DataFrame({"season": [END], "team_a_id": [1], "team_b_id": [2]}), "Team 1"),
        (pd.DataFrame({"team_a_id": [1], "team_b_id": [2]}), "needs columns"),
        (pd.DataFrame({"ID": ["2023-1-2"]}), "2025_1103_1106"),
        (pd.DataFrame({"season": ["x"], "team_a_id": [1], "team_b_id": [2]}), "whole numbers"),
        (pd.DataFrame({"season": [END], "team_a_id": [1.5], "team_b_id": [2.0]}), "whole number"),
    ],
)
def test_what_the_package_cannot_answer_is_refused_by_name(
    frame: pd.DataFrame, pattern: str, packaged: Callable[[str], Packaged]
) -> None:
    f = packaged("elo").forecaster
    if "team_a_id" in frame and (frame["team_a_id"] == 0).any():
        frame = frame.assign(team_a_id=f.all_teams[0], team_b_id=f.all_teams[1])
    with pytest.raises(UnknownMatchupError, match=pattern):
        f.predict(frame)


def test_a_team_against_itself_and_a_bad_court_are_refused(
    packaged: Callable[[str], Packaged],
) -> None:
    f = packaged("elo").forecaster
    t = f.all_teams[0]
    with pytest.raises(UnknownMatchupError, match="cannot play itself"):
        f.predict(pd.DataFrame({"season": [END], "team_a_id": [t], "team_b_id": [t]}))
    with pytest.raises(UnknownMatchupError, match="team_a_loc"):
        f.predict(
            pd.DataFrame(
                {"season": [END], "team_a_id": [t], "team_b_id": [f.all_teams[1]],
                 "team_a_loc": ["X"]}
            )
        )  # fmt: skip


def test_a_package_with_the_adjusted_efficiency_gives_the_walk_forward_forecasts(
    demo_store: Path, tmp_path: Path
) -> None:
    from ncaa_eval.model.base import TUNED_MODEL_FEATURES
    from ncaa_eval.model.logistic_regression import (
        LogisticRegressionConfig,
        LogisticRegressionModel,
    )

    features = TUNED_MODEL_FEATURES.model_copy(update={"adjusted_efficiency": True})
    config = LogisticRegressionConfig(features=features)
    repository = ParquetRepository(demo_store)
    result = walk_forward(lambda: LogisticRegressionModel(config), repository, "M", END, END)
    assert result.forecaster is not None
    assert result.feature_set is not None
    assert "adj_margin_diff" in result.feature_set.feature_columns
    folder = write_packaged(
        tmp_path / "forecaster",
        forecaster=result.forecaster,
        league="M",
        season=END,
        state=last_season_teams(result, repository),
        feature_columns=result.feature_set.feature_columns,
    )
    teams = pd.read_parquet(folder / TEAMS_FILE)
    assert teams[["adj_off", "adj_def", "adj_tempo"]].notna().all().all()
    preds = result.predictions
    got = load_packaged(folder).predict(preds[["season", "team_a_id", "team_b_id"]])
    np.testing.assert_allclose(got, preds["pred_win_prob"].to_numpy(), rtol=0, atol=1e-12)


def test_a_package_written_before_the_adjusted_efficiency_still_loads(
    packaged: Callable[[str], Packaged], tmp_path: Path
) -> None:
    import shutil

    p = packaged("logistic_regression")
    old = shutil.copytree(p.folder, tmp_path / "old")
    teams = pd.read_parquet(old / TEAMS_FILE)
    teams.drop(columns=["adj_off", "adj_def", "adj_tempo"]).to_parquet(old / TEAMS_FILE)
    frame = pd.DataFrame({"season": END, "team_a_id": p.forecaster.tournament_teams[:4],
                          "team_b_id": p.forecaster.tournament_teams[4:8]})  # fmt: skip
    np.testing.assert_array_equal(load_packaged(old).predict(frame), p.forecaster.predict(frame))
