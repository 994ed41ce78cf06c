"""Feature-serving tests, above all the leakage proof.

A served feature row may depend only on games strictly before it (and a tournament's rows only on
games before that tournament). So the proof edits or deletes one game in the source CSVs,
re-imports them through the real importer, serves again and checks that every row before the
edited game is bit-for-bit identical, while some later row moves (so the check can fail). The
same is done for a tournament result, which must not move any row of its own tournament, and for
a day of Massey ordinals.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
from pydantic import ValidationError
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from ncaa_eval.errors import NcaaEvalError
from ncaa_eval.ingest import DemoConfig, ParquetRepository, import_kaggle, write_demo_csvs
from ncaa_eval.ingest.schema import League
from ncaa_eval.ratings.efficiency import EfficiencyRatings, efficiency_ratings, possessions
from ncaa_eval.transform.feature_config import ADJUSTED_EFFICIENCY_COLUMNS
from ncaa_eval.transform.feature_serving import (
    FeatureConfig,
    FeatureSet,
    StatefulFeatureServer,
    feature_direction,
    require_box_scores,
)
from ncaa_eval.transform.matchups import pair_rows
from tests.conftest import Invoke
from tests.helpers.mlflow_store import sqlite_uri

#: The league of the session's ``demo_store`` fixture (build_demo_store(seed=7, n_seasons=8)).
DEMO = DemoConfig(seed=7, first_season=2018, last_season=2025)
#: Seasons served in the leakage checks; the edits are in EDIT_SEASON, with seasons on both sides.
SERVED = [2021, 2022, 2023, 2024]
EDIT_SEASON = 2022
ALL_FEATURES = FeatureConfig().feature_columns()
#: Features every game has, whatever the data.
ALWAYS = ["elo_diff", "margin_rating_diff", "form_margin_diff", "win_pct_diff", "court"]
GAME_KEY = ["Season", "DayNum", "WTeamID", "LTeamID"]
#: (season, day): rows on or before it must not move. Day 999 covers a whole season.
Cutoff = tuple[int, int]


@pytest.fixture(scope="module", autouse=True)
def _single_threaded_blas() -> Iterator[None]:
    """The margin rating solves many small systems; threaded BLAS only slows those down."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def serve(data_dir: Path, league: str = "M", seasons: list[int] | None = None,
          config: FeatureConfig | None = None) -> FeatureSet:  # fmt: skip
    repo = ParquetRepository(data_dir)
    return StatefulFeatureServer(config).serve(repo, league, seasons)  # type: ignore[arg-type]


# --- editing the source CSVs ----------------------------------------------------------------


def read(folder: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(folder / name)


def write(folder: Path, name: str, frame: pd.DataFrame) -> None:
    target = folder / name
    if target.is_symlink():
        target.unlink()  # never write through a link into the shared data
    frame.to_csv(target, index=False, lineterminator="\n")


def game_mask(frame: pd.DataFrame, game: pd.Series) -> pd.Series:
    mask: pd.Series = (frame[GAME_KEY] == game[GAME_KEY]).all(axis=1)
    return mask


def change_score(folder: Path, kind: str, game: pd.Series, points: int) -> None:
    """Add ``points`` to the winner's score, in the compact and detailed files alike."""
    for name in (f"M{kind}CompactResults.csv", f"M{kind}DetailedResults.csv"):
        frame = read(folder, name)
        mask = game_mask(frame, game)
        assert mask.sum() == 1, name
        frame.loc[mask, "WScore"] += points
        write(folder, name, frame)


def delete_game(folder: Path, kind: str, game: pd.Series) -> None:
    for name in (f"M{kind}CompactResults.csv", f"M{kind}DetailedResults.csv"):
        frame = read(folder, name)
        mask = game_mask(frame, game)
        assert mask.sum() == 1, name
        write(folder, name, frame[~mask])


def flip_result(folder: Path, kind: str, game: pd.Series) -> None:
    """Make the loser the winner by the same score: the team ids swap sides, WLoc mirrored."""
    for name in (f"M{kind}CompactResults.csv", f"M{kind}DetailedResults.csv"):
        frame = read(folder, name)
        mask = game_mask(frame, game)
        assert mask.sum() == 1, name
        cols = ["WTeamID", "LTeamID"]
        frame.loc[mask, cols] = frame.loc[mask, cols[::-1]].to_numpy()
        frame.loc[mask, "WLoc"] = frame.loc[mask, "WLoc"].map({"H": "A", "A": "H", "N": "N"})
        write(folder, name, frame)


def pick(folder: Path, kind: str, season: int, which: str) -> pd.Series:
    """A game of ``season``: on its third day ('early') or its last day ('late')."""
    games = read(folder, f"M{kind}CompactResults.csv")
    games = games[games["Season"] == season]
    days = sorted(games["DayNum"].unique())
    day = days[2] if which == "early" else days[-1]
    game: pd.Series = games[games["DayNum"] == day].iloc[0]
    return game


def no_edit(folder: Path) -> Cutoff | None:
    return None


def early_score(folder: Path) -> Cutoff:
    game = pick(folder, "RegularSeason", EDIT_SEASON, "early")
    change_score(folder, "RegularSeason", game, 25)
    return EDIT_SEASON, int(game["DayNum"])


def late_delete(folder: Path) -> Cutoff:
    game = pick(folder, "RegularSeason", EDIT_SEASON, "late")
    delete_game(folder, "RegularSeason", game)
    return EDIT_SEASON, int(game["DayNum"])


def tournament_flip(folder: Path) -> Cutoff:
    """Flip a first-round result: no row of that season, its tournament included, may move."""
    games = read(folder, "MNCAATourneyCompactResults.csv")
    games = games[games["Season"] == EDIT_SEASON]
    day = sorted(games["DayNum"].unique())[2]  # after the two First Four days
    flip_result(folder, "NCAATourney", games[games["DayNum"] == day].iloc[0])
    return EDIT_SEASON, 999


def tournament_final_score(folder: Path) -> Cutoff:
    games = read(folder, "MNCAATourneyCompactResults.csv")
    final = games[games["Season"] == EDIT_SEASON].sort_values("DayNum").iloc[-1]
    change_score(folder, "NCAATourney", final, 30)
    return EDIT_SEASON, 999


def ordinal_day(folder: Path) -> Cutoff:
    """Reverse one ranking day's ranks: a ranking of day D may only reach games after day D-1."""
    ordinals = read(folder, "MMasseyOrdinals.csv")
    season = ordinals["Season"] == EDIT_SEASON
    days = sorted(ordinals.loc[season, "RankingDayNum"].unique())
    day = int(days[len(days) // 2])
    rows = season & (ordinals["RankingDayNum"] == day)
    top = ordinals.loc[rows, "OrdinalRank"].max()
    ordinals.loc[rows, "OrdinalRank"] = top + 1 - ordinals.loc[rows, "OrdinalRank"]
    write(folder, "MMasseyOrdinals.csv", ordinals)
    return EDIT_SEASON, day - 1


@dataclass(frozen=True)
class Comparison:
    before: int
    after: int
    changed_after: int
    missing: int


def compare(base: FeatureSet, other: FeatureSet, cutoff: Cutoff | None) -> Comparison:
    """Assert every row on or before ``cutoff`` is identical (NaN == NaN); count later moves."""
    assert other.feature_columns == base.feature_columns
    cols = base.feature_columns
    b = base.frame.set_index("game_id")
    o = other.frame.set_index("game_id")
    common = b.index.intersection(o.index)
    missing = len(b.index.union(o.index)) - len(common)
    b, o = b.loc[common], o.loc[common]
    same = np.ones(len(common), dtype=bool)
    for col in cols:
        x = b[col].to_numpy(dtype=np.float64)
        y = o[col].to_numpy(dtype=np.float64)
        same &= (x == y) | (np.isnan(x) & np.isnan(y))
    if cutoff is None:
        before = np.ones(len(common), dtype=bool)
    else:
        when = b["season"].to_numpy() * 1000 + b["day_num"].to_numpy()
        before = when <= cutoff[0] * 1000 + cutoff[1]
    moved = common[before & ~same]
    assert len(moved) == 0, f"{len(moved)} rows before the edit moved, e.g. {list(moved[:5])}"
    # The whole block, once more, as arrays.
    assert np.array_equal(
        b.loc[before, cols].to_numpy(dtype=np.float64),
        o.loc[before, cols].to_numpy(dtype=np.float64),
        equal_nan=True,
    )
    return Comparison(
        before=int(before.sum()),
        after=int((~before).sum()),
        changed_after=int((~before & ~same).sum()),
        missing=missing,
    )


# --- the leakage proof on the demo league ---------------------------------------------------


@pytest.fixture(scope="module")
def demo_csvs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("demo-csvs")
    write_demo_csvs(folder, DEMO)
    return folder


@pytest.fixture(scope="module")
def demo_base(demo_store: Path) -> FeatureSet:
    return serve(demo_store, seasons=SERVED)


EDITS: dict[str, Callable[[Path], Cutoff | None]] = {
    "no_edit": no_edit,
    "early_regular_score": early_score,
    "late_regular_delete": late_delete,
    "tournament_first_round_flip": tournament_flip,
    "tournament_final_score": tournament_final_score,
    "ordinal_ranking_day": ordinal_day,
}


def edited_store(edit: str, demo_csvs: Path, tmp_path: Path) -> tuple[Path, Cutoff | None]:
    """Copy the demo CSVs, apply ``edit``, import the copy; the data dir and the edit's cutoff."""
    source = tmp_path / "csvs"
    shutil.copytree(demo_csvs, source)
    cutoff = EDITS[edit](source)
    import_kaggle(source, tmp_path / "data")
    return tmp_path / "data", cutoff


@pytest.mark.parametrize("edit", list(EDITS))
def test_an_edit_moves_no_row_before_it(
    edit: str, demo_csvs: Path, demo_base: FeatureSet, tmp_path: Path
) -> None:
    data, cutoff = edited_store(edit, demo_csvs, tmp_path)
    result = compare(demo_base, serve(data, seasons=SERVED), cutoff)
    if cutoff is None:
        # The control: an unedited copy is served exactly as the session's demo store.
        assert result.missing == 0
        return
    assert result.missing == (1 if edit == "late_regular_delete" else 0)
    assert result.before > 1000  # earlier seasons and days really were compared
    assert result.changed_after > 0, "the edit moved nothing: this check could never fail"


@pytest.mark.parametrize("base", ["demo_base", "extended_base"])
def test_a_tournament_is_served_from_one_frozen_snapshot(
    base: str, request: pytest.FixtureRequest
) -> None:
    """Every tournament row equals the pre-tournament pair features of its two teams."""
    demo_base: FeatureSet = request.getfixturevalue(base)
    frame = demo_base.frame
    for season in SERVED:
        games = frame[(frame["season"] == season) & frame["is_tournament"]]
        assert len(games) == 67
        pairs = games[["team_a_id", "team_b_id"]].reset_index(drop=True)
        served = demo_base.pair_features(season, pairs)
        cols = demo_base.feature_columns
        assert np.array_equal(
            games[cols].to_numpy(dtype=np.float64),
            served[cols].to_numpy(dtype=np.float64),
            equal_nan=True,
        )


def test_pair_features_cover_every_possible_matchup(demo_base: FeatureSet) -> None:
    season = SERVED[-1]
    teams = sorted(demo_base.seeds[season])
    assert len(teams) == 68
    pairs = pair_rows(season, teams, 134)
    served = demo_base.pair_features(season, pairs)
    assert len(served) == 68 * 67 // 2
    for col in demo_base.feature_columns:
        assert served[col].notna().all(), col
    assert (served["court"] == 0).all()


@pytest.mark.parametrize("base", ["demo_base", "extended_base"])
def test_every_feature_is_antisymmetric(base: str, request: pytest.FixtureRequest) -> None:
    # XGBoost's mirrored rows rest on it: swapping the teams negates every served column.
    demo_base: FeatureSet = request.getfixturevalue(base)
    season = SERVED[-1]
    pairs = pair_rows(season, sorted(demo_base.seeds[season]), 134)
    swapped = pairs.rename(columns={"team_a_id": "team_b_id", "team_b_id": "team_a_id"})
    straight = demo_base.pair_features(season, pairs)
    mirrored = demo_base.pair_features(season, swapped[pairs.columns])
    for col in demo_base.feature_columns:
        # Unplayed pairs are neutral-court games; court's sign is checked on played games below.
        assert col == "court" or straight[col].abs().max() > 0, col
        np.testing.assert_array_equal(mirrored[col].to_numpy(), -straight[col].to_numpy())
    frame = demo_base.frame
    sign = frame["team_a_loc"].map({"H": 1.0, "A": -1.0, "N": 0.0})
    np.testing.assert_array_equal(frame["court"].to_numpy(), sign.to_numpy())
    assert set(frame["court"]) == {-1.0, 0.0, 1.0}


def test_every_servable_feature_has_a_direction_and_it_is_right(demo_store: Path) -> None:
    # XGBoost mirrors its rows only when every column has a direction, and constrains each
    # to move P(A wins) that way: a feature without one, or with the wrong one, would hurt.
    config = EXTENDED.model_copy(update={"ordinal_system_columns": ("DEM", "SYN")})
    assert all(feature_direction(c) is not None for c in config.feature_columns())
    assert feature_direction("team_a_id") is None
    frame = serve(demo_store, seasons=SERVED, config=config).frame
    won = frame["team_a_won"].astype(float)
    for col in config.feature_columns():
        rows = frame[col].notna()
        corr = np.corrcoef(frame.loc[rows, col], won[rows])[0, 1]
        if feature_direction(col) == 0:
            continue  # pace: no direction, XGBoost leaves it free
        assert np.sign(corr) == feature_direction(col), (col, corr)
        assert abs(corr) > 0.05, (col, corr)


def test_the_first_day_knows_nothing(demo_base: FeatureSet) -> None:
    frame = demo_base.frame
    first = frame[(frame["season"] == SERVED[0]) & (frame["day_num"] == frame["day_num"].min())]
    assert len(first) > 0
    for col in ("elo_diff", "margin_rating_diff", "form_margin_diff", "win_pct_diff"):
        assert (first[col] == 0).all(), col
    assert first["net_eff_diff"].isna().all()


def test_demo_features_are_complete_and_well_formed(demo_base: FeatureSet) -> None:
    frame = demo_base.frame
    assert demo_base.feature_columns == ALL_FEATURES
    assert demo_base.notes == []
    assert (frame.loc[frame["is_tournament"], "court"] == 0).all()
    assert frame["game_id"].is_unique
    assert (frame["team_a_id"] < frame["team_b_id"]).all()
    check_features(demo_base)


def test_a_disabled_feature_is_not_served(demo_store: Path) -> None:
    config = FeatureConfig(ordinals=False, efficiency=False, court=False)
    served = serve(demo_store, seasons=[2024], config=config)
    for col in ("ordinal_diff", "net_eff_diff", "court"):
        assert col not in served.feature_columns
        assert col not in served.frame.columns
    assert served.feature_columns == config.feature_columns()
    assert served.feature_columns == [
        "elo_diff", "margin_rating_diff", "form_margin_diff", "win_pct_diff", "seed_diff",
    ]  # fmt: skip


def test_feature_config_is_strict() -> None:
    with pytest.raises(ValidationError):
        FeatureConfig.model_validate({"no_such_feature": True})
    with pytest.raises(ValidationError):
        FeatureConfig(form_games=0)
    with pytest.raises(ValidationError):
        FeatureConfig(ordinal_systems=())
    config = FeatureConfig()
    with pytest.raises(ValidationError):
        config.__setattr__("elo", False)  # frozen


def check_features(features: FeatureSet) -> None:
    """Checks every served league must pass."""
    frame = features.frame
    for col in features.feature_columns:
        assert frame[col].notna().any(), f"{col} is all NaN"
    for col in ALWAYS:
        if col in features.feature_columns:
            assert frame[col].notna().all(), f"{col} has NaN"
    tournament = frame["is_tournament"].to_numpy(dtype=bool)
    seeds = frame["seed_diff"].to_numpy(dtype=np.float64)
    assert not np.isnan(seeds[tournament]).any(), "a tournament game lacks seed_diff"
    assert np.isnan(seeds[~tournament]).all(), "a regular-season game has seed_diff"
    assert (np.abs(seeds[tournament]) <= 15).all()
    assert (seeds[tournament] == np.round(seeds[tournament])).all()
    court = frame["court"]
    assert set(court.unique()) <= {-1.0, 0.0, 1.0}
    expected = frame["team_a_loc"].map({"H": 1.0, "A": -1.0, "N": 0.0})
    assert (court == expected).all()
    # Labels stay balanced when team A is the lower id.
    assert 0.4 < frame["team_a_won"].mean() < 0.6


# --- the real data --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_men(kaggle_store: Path) -> FeatureSet:
    return serve(kaggle_store, "M")


@pytest.fixture(scope="module")
def real_women(kaggle_store: Path) -> FeatureSet:
    return serve(kaggle_store, "W")


@pytest.mark.kaggle
def test_real_men_features(real_men: FeatureSet, kaggle_store: Path) -> None:
    frame = real_men.frame
    repo = ParquetRepository(kaggle_store)
    assert len(frame) == len(repo.games("M"))
    assert sorted(frame["season"].unique()) == list(range(1985, 2026))
    assert real_men.feature_columns == ALL_FEATURES
    check_features(real_men)
    # Men's tournament games are all on neutral courts (women's early rounds are not).
    assert (frame.loc[frame["is_tournament"], "court"] == 0).all()
    assert "ordinal_diff: not available for seasons 1985-2002 (left missing)." in real_men.notes
    ordinal = frame.groupby("season")["ordinal_diff"].apply(lambda s: float(s.notna().mean()))
    assert (ordinal[ordinal.index < 2003] == 0).all()
    assert (ordinal[ordinal.index >= 2003] > 0.7).all()
    tournament = frame[frame["is_tournament"]]
    assert tournament.loc[tournament["season"] >= 2003, "ordinal_diff"].notna().all()
    assert sorted(real_men.tournament_snapshots) == [s for s in range(1985, 2026) if s != 2020]


@pytest.mark.kaggle
def test_real_women_features(real_women: FeatureSet) -> None:
    frame = real_women.frame
    assert real_women.feature_columns == [c for c in ALL_FEATURES if c != "ordinal_diff"]
    assert "ordinal_diff" not in frame.columns
    check_features(real_women)
    assert (
        "ordinal_diff: cannot be computed for any served season; column dropped."
        in real_women.notes
    )
    assert 2020 not in real_women.tournament_snapshots
    assert 2025 in real_women.tournament_snapshots


REAL_SERVED = [2022, 2023, 2024]
NO_ORDINALS = FeatureConfig(ordinals=False)


def real_regular_edit(folder: Path) -> Cutoff:
    games = read(folder, "MRegularSeasonCompactResults.csv")
    game = games[(games["Season"] == 2023) & (games["DayNum"] == 60)].iloc[0]
    change_score(folder, "RegularSeason", game, 25)
    return 2023, 60


def real_tournament_flip(folder: Path) -> Cutoff:
    games = read(folder, "MNCAATourneyCompactResults.csv")
    games = games[games["Season"] == 2023]
    flip_result(folder, "NCAATourney", games[games["DayNum"] == 136].iloc[0])
    return 2023, 999


@pytest.fixture(scope="module")
def real_base(kaggle_store: Path) -> FeatureSet:
    return serve(kaggle_store, seasons=REAL_SERVED, config=NO_ORDINALS)


@pytest.mark.kaggle
@pytest.mark.parametrize("edit", [real_regular_edit, real_tournament_flip])
def test_real_data_edit_moves_no_row_before_it(
    edit: Callable[[Path], Cutoff],
    kaggle_dir: Path,
    real_base: FeatureSet,
    tmp_path: Path,
) -> None:
    """The real men's files (linked, not copied; ordinals left out to keep it quick)."""
    source = tmp_path / "csvs"
    source.mkdir()
    for path in kaggle_dir.glob("M*.csv"):
        if path.name != "MMasseyOrdinals.csv":
            os.symlink(path, source / path.name)
    cutoff = edit(source)
    import_kaggle(source, tmp_path / "data")
    result = compare(real_base, serve(tmp_path / "data", seasons=REAL_SERVED,
                                      config=NO_ORDINALS), cutoff)  # fmt: skip
    assert result.missing == 0
    assert result.before > 5000
    assert result.changed_after > 0


# --- the optional margin-rating and ordinal settings ----------------------------------------

#: Every optional setting on at once, so the leakage proof covers them too.
EXTENDED = FeatureConfig(
    margin_carry=0.0,
    margin_half_life_days=30.0,
    ordinal_system_columns=("DEM", "SYN"),
    rating_every_days=5,
    adjusted_efficiency=True,
    efficiency_half_life_days=25.0,
)


@pytest.fixture(scope="module")
def extended_base(demo_store: Path) -> FeatureSet:
    return serve(demo_store, seasons=SERVED, config=EXTENDED)


@pytest.mark.parametrize(
    "edit",
    [
        "early_regular_score",
        "late_regular_delete",
        "tournament_first_round_flip",
        "tournament_final_score",
        "ordinal_ranking_day",
    ],
)
def test_extended_features_are_leakage_free_too(
    edit: str, demo_csvs: Path, extended_base: FeatureSet, tmp_path: Path
) -> None:
    data, cutoff = edited_store(edit, demo_csvs, tmp_path)
    other = serve(data, seasons=SERVED, config=EXTENDED)
    result = compare(extended_base, other, cutoff)
    assert result.before > 1000
    assert result.changed_after > 0, "the edit moved nothing: this check could never fail"
    if edit == "ordinal_ranking_day":
        return
    only = _columns(extended_base, list(ADJUSTED_EFFICIENCY_COLUMNS))
    other_only = _columns(other, list(ADJUSTED_EFFICIENCY_COLUMNS))
    if edit.startswith("tournament"):
        # The adjusted efficiency never learns a tournament game: no row of any season moves.
        assert compare(only, other_only, None).before == len(only.frame) - result.missing
        for season, snap in extended_base.tournament_snapshots.items():
            for name in ("adj_off", "adj_def", "adj_tempo"):
                np.testing.assert_array_equal(
                    getattr(snap, name), getattr(other.tournament_snapshots[season], name)
                )
    else:
        # An edited regular-season game moves the adjusted efficiency after it, never before.
        assert compare(only, other_only, cutoff).changed_after > 0


def _columns(features: FeatureSet, columns: list[str]) -> FeatureSet:
    """The same served rows, compared on ``columns`` only."""
    return FeatureSet(frame=features.frame, feature_columns=columns)


def test_a_massey_system_can_be_served_on_its_own(demo_store: Path) -> None:
    config = FeatureConfig(ordinal_systems=("DEM",), ordinal_system_columns=("DEM", "SYN", "ZZZ"))
    served = serve(demo_store, seasons=[2023, 2024], config=config)
    frame = served.frame
    # ZZZ ranked no season: dropped, with a note, instead of falling back to other systems.
    assert "ordinal_ZZZ_diff" not in served.feature_columns
    assert any(note.startswith("ordinal_ZZZ_diff") for note in served.notes)
    # A composite of one system is that system.
    assert np.array_equal(
        frame["ordinal_DEM_diff"].to_numpy(), frame["ordinal_diff"].to_numpy(), equal_nan=True
    )
    dem, syn = frame["ordinal_DEM_diff"], frame["ordinal_SYN_diff"]
    assert dem.notna().mean() > 0.9
    assert not np.allclose(dem.fillna(0), syn.fillna(0))
    assert 0.5 < np.corrcoef(dem.fillna(0), syn.fillna(0))[0, 1] < 1.0


def test_the_tournament_margin_rating_is_solved_fresh(demo_store: Path) -> None:
    """With fresh_tournament_rating the tournament rows see every regular-season game.

    Solving every day is the reference; a 60-day cadence reproduces it in the tournament only
    when the tournament snapshot is solved afresh.
    """
    daily = serve(demo_store, seasons=[2024], config=FeatureConfig(rating_every_days=1))
    fresh = serve(
        demo_store,
        seasons=[2024],
        config=FeatureConfig(rating_every_days=60, fresh_tournament_rating=True),
    )
    # The default, so that configs saved before the field existed load as they were trained.
    stale = serve(demo_store, seasons=[2024], config=FeatureConfig(rating_every_days=60))

    def tournament(fs: FeatureSet) -> npt.NDArray[np.float64]:
        frame = fs.frame
        column: pd.Series = frame.loc[frame["is_tournament"], "margin_rating_diff"]
        return column.to_numpy(dtype=np.float64)

    assert np.allclose(tournament(fresh), tournament(daily))
    assert not np.allclose(tournament(stale), tournament(daily))


def test_recency_weighting_changes_the_rating_but_not_the_first_day(demo_store: Path) -> None:
    flat = serve(demo_store, seasons=[2024], config=FeatureConfig(margin_carry=0.0))

    def rating(half_life: float) -> pd.DataFrame:
        config = FeatureConfig(margin_carry=0.0, margin_half_life_days=half_life)
        return serve(demo_store, seasons=[2024], config=config).frame

    a, recent, slow = flat.frame, rating(20.0), rating(1000.0)
    first = a["day_num"] == a["day_num"].min()
    for frame in (a, recent, slow):
        assert (frame.loc[first, "margin_rating_diff"] == 0).all()
    late = a["is_tournament"].to_numpy()
    x = a.loc[late, "margin_rating_diff"]
    assert not np.allclose(x, recent.loc[late, "margin_rating_diff"])
    # A half-life far longer than a season weighs every game almost equally.
    assert np.allclose(x, slow.loc[late, "margin_rating_diff"], atol=0.5)


def test_new_feature_settings_are_validated() -> None:
    with pytest.raises(ValidationError):
        FeatureConfig(margin_half_life_days=0.0)
    with pytest.raises(ValidationError):
        FeatureConfig(margin_carry=1.5)
    assert FeatureConfig(ordinal_system_columns=("POM",)).feature_columns()[5:7] == [
        "ordinal_diff",
        "ordinal_POM_diff",
    ]


def test_serving_runs_single_threaded(demo_store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """serve() pins BLAS/OpenMP pools to one thread while it walks, then restores them."""
    from threadpoolctl import threadpool_info

    seen: list[int] = []
    walk = StatefulFeatureServer._walk

    def spy(self: StatefulFeatureServer, *args: object) -> FeatureSet:
        seen.extend(int(pool["num_threads"]) for pool in threadpool_info())
        return walk(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(StatefulFeatureServer, "_walk", spy)
    with threadpool_limits(limits=2):
        serve(demo_store, seasons=[2024])
    assert seen
    assert set(seen) == {1}


# --- the adjusted efficiency ----------------------------------------------------------------

DAILY_EFFICIENCY = FeatureConfig(
    adjusted_efficiency=True, efficiency_carry=0.0, rating_every_days=1
)


def direct_efficiency(
    games: pd.DataFrame, team_ids: npt.NDArray[np.int64], config: FeatureConfig
) -> EfficiencyRatings:
    """The efficiency fit of ``games`` straight from the store's rows (winner as team A)."""
    box = games[games["has_box_score"] & ~games["is_tournament"]]

    def poss(side: str) -> npt.NDArray[np.float64]:
        def stat(name: str) -> npt.NDArray[np.float64]:
            return box[f"{side}_{name}"].to_numpy(dtype=np.float64)

        return possessions(stat("fga"), stat("or"), stat("to"), stat("fta"))

    return efficiency_ratings(
        np.searchsorted(team_ids, box["w_team_id"].to_numpy()),
        np.searchsorted(team_ids, box["l_team_id"].to_numpy()),
        np.asarray(box["w_loc"].map({"H": 1.0, "A": -1.0, "N": 0.0}), dtype=np.float64),
        box["w_score"].to_numpy(dtype=np.float64),
        box["l_score"].to_numpy(dtype=np.float64),
        (poss("w") + poss("l")) / 2.0,
        np.ones(len(box)),
        len(team_ids),
        config.efficiency_prior_games,
        minutes=40.0 + 5.0 * box["num_ot"].to_numpy(dtype=np.float64),
    )


def test_the_adjusted_efficiency_is_the_fit_of_the_games_before(demo_store: Path) -> None:
    """Served values equal a fit of the store's games before the day (and before the tournament)."""
    served = serve(demo_store, seasons=[2024], config=DAILY_EFFICIENCY)
    games = ParquetRepository(demo_store).games("M", [2024])
    ids = served.team_ids
    full = direct_efficiency(games, ids, DAILY_EFFICIENCY)
    snap = served.tournament_snapshots[2024]
    np.testing.assert_allclose(snap.adj_off, full.offence, atol=1e-8)
    np.testing.assert_allclose(snap.adj_def, full.defence, atol=1e-8)
    np.testing.assert_allclose(snap.adj_tempo, full.tempo, atol=1e-8)
    # Solved afresh for the tournament, whatever the cadence.
    sparse = DAILY_EFFICIENCY.model_copy(update={"rating_every_days": 60})
    stale = serve(demo_store, seasons=[2024], config=sparse).tournament_snapshots[2024]
    np.testing.assert_allclose(stale.adj_off, full.offence, atol=1e-8)
    frame = served.frame
    days = sorted(frame.loc[~frame["is_tournament"], "day_num"].unique())
    first = frame[frame["day_num"] == days[0]]
    assert first[list(ADJUSTED_EFFICIENCY_COLUMNS)].isna().all().all()
    day = days[len(days) // 2]
    rows = frame[(frame["day_num"] == day) & ~frame["is_tournament"]]
    before = direct_efficiency(games[games["day_num"] < day], ids, DAILY_EFFICIENCY)
    ia = np.searchsorted(ids, rows["team_a_id"].to_numpy())
    ib = np.searchsorted(ids, rows["team_b_id"].to_numpy())
    expected = {
        "adj_off_diff": before.offence[ia] - before.offence[ib],
        "adj_def_diff": before.defence[ia] - before.defence[ib],
        "pace_diff": before.tempo[ia] - before.tempo[ib],
        "adj_margin_diff": before.expected_margin(ia, ib),
    }
    for col, values in expected.items():
        np.testing.assert_allclose(rows[col].to_numpy(dtype=np.float64), values, atol=1e-8)
    # The ratings look like basketball: ~100 points per 100 possessions, ~70 possessions.
    assert 85 < full.average < 120
    assert 55 < full.possessions < 85
    assert 0 < full.home_edge < 10


def test_the_efficiency_carries_a_share_of_last_season(demo_store: Path) -> None:
    config = DAILY_EFFICIENCY.model_copy(update={"efficiency_carry": 0.6})
    carried = serve(demo_store, seasons=[2023, 2024], config=config)
    fresh = serve(demo_store, seasons=[2023, 2024], config=DAILY_EFFICIENCY)
    a, b = carried.frame, fresh.frame
    cols = list(ADJUSTED_EFFICIENCY_COLUMNS)
    first_season = (a["season"] == 2023).to_numpy()
    # No season before 2023 is served: its rows are the same; 2024's start from 2023's ratings.
    np.testing.assert_array_equal(
        a.loc[first_season, cols].to_numpy(), b.loc[first_season, cols].to_numpy()
    )
    assert not np.allclose(
        a.loc[~first_season, "adj_margin_diff"].fillna(0),
        b.loc[~first_season, "adj_margin_diff"].fillna(0),
    )


def test_recency_weighting_of_the_adjusted_efficiency(demo_store: Path) -> None:
    def tournament(half_life: float | None) -> npt.NDArray[np.float64]:
        config = DAILY_EFFICIENCY.model_copy(update={"efficiency_half_life_days": half_life})
        frame = serve(demo_store, seasons=[2024], config=config).frame
        column: pd.Series = frame.loc[frame["is_tournament"], "adj_margin_diff"]
        return column.to_numpy(dtype=np.float64)

    flat, recent, slow = tournament(None), tournament(15.0), tournament(5000.0 / 5)
    assert not np.allclose(flat, recent, atol=0.5)
    # A half-life far longer than a season weighs every game almost equally.
    np.testing.assert_allclose(flat, slow, atol=0.5)


def test_adjusted_efficiency_settings_are_validated() -> None:
    assert "adj_off_diff" not in FeatureConfig().feature_columns()  # off by default
    for bad in ({"efficiency_prior_games": 0.0}, {"efficiency_carry": 1.5},
                {"efficiency_half_life_days": 0.0}):  # fmt: skip
        with pytest.raises(ValidationError):
            FeatureConfig.model_validate(bad)


def without_box_scores(folder: Path, seasons: list[int]) -> None:
    """Drop the detailed results of ``seasons``, as in Kaggle's men's data before 2003."""
    for name in ("MRegularSeasonDetailedResults.csv", "MNCAATourneyDetailedResults.csv"):
        frame = read(folder, name)
        write(folder, name, frame[~frame["Season"].isin(seasons)])


@pytest.fixture(scope="module")
def late_box_scores(demo_csvs: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo league with box scores from 2021 on only."""
    root = tmp_path_factory.mktemp("late-box-scores")
    shutil.copytree(demo_csvs, root / "csvs")
    without_box_scores(root / "csvs", [2018, 2019, 2020])
    import_kaggle(root / "csvs", root / "data")
    return root / "data"


def test_seasons_without_box_scores_have_no_adjusted_efficiency(late_box_scores: Path) -> None:
    config = FeatureConfig(adjusted_efficiency=True)
    served = serve(late_box_scores, config=config)
    assert served.box_score_seasons == (2021, 2022, 2023, 2024, 2025)
    frame = served.frame
    early = frame["season"] <= 2020
    for col in ADJUSTED_EFFICIENCY_COLUMNS:
        assert frame.loc[early, col].isna().all()
        assert frame.loc[~early & frame["is_tournament"], col].notna().all()
        assert f"{col}: not available for seasons 2018-2020 (left missing)." in served.notes
    require_box_scores(served, [2021, 2025], "M")  # every forecast season has them
    with pytest.raises(NcaaEvalError, match=r"seasons 2019-2020 have none: start at 2021"):
        require_box_scores(served, [2019, 2020, 2021], "M")
    # Off, nothing is asked of the data.
    require_box_scores(serve(late_box_scores, seasons=[2019, 2020]), [2019, 2020], "M")


def test_the_box_score_error_names_the_seasons_that_have_them() -> None:
    config = FeatureConfig(adjusted_efficiency=True)
    women = FeatureSet(frame=pd.DataFrame(), feature_columns=[], config=config,
                       box_score_seasons=tuple(range(2010, 2024)))  # fmt: skip
    with pytest.raises(NcaaEvalError) as caught:
        require_box_scores(women, [2023, 2024], "W")
    assert str(caught.value) == (
        "features.adjusted_efficiency needs box scores; the women's data has them for "
        "2010-2023 only, and season 2024 has none: forecast 2010-2023 only, or set "
        "adjusted_efficiency to false."
    )
    none = FeatureSet(frame=pd.DataFrame(), feature_columns=[], config=config)
    with pytest.raises(NcaaEvalError, match="the men's data has none"):
        require_box_scores(none, [2024], "M")


def test_train_refuses_efficiency_for_a_season_without_box_scores(
    late_box_scores: Path, tmp_path: Path, run_cli: Invoke
) -> None:
    """Through the real CLI: one line, exit 1; from the first season with box scores it trains."""
    config = tmp_path / "efficiency.json"
    config.write_text(json.dumps({"features": {"adjusted_efficiency": True}}))
    common = ["--model", "logistic_regression", "--data-dir", str(late_box_scores),
              "--config", str(config), "--tracking-uri", sqlite_uri(tmp_path / "mlflow.db"),
              "--output-dir", str(tmp_path / "out")]  # fmt: skip
    result = run_cli("train", *common, "--start-year", "2020", "--end-year", "2021", expect=1)
    lines = result.output.strip().splitlines()
    assert lines == [
        "Error: features.adjusted_efficiency needs box scores; the men's data has them from "
        "2021 on, and season 2020 has none: start at 2021 or later, or set "
        "adjusted_efficiency to false."
    ], result.output


@pytest.mark.kaggle
@pytest.mark.parametrize(("league", "first"), [("M", 2003), ("W", 2010)])
def test_real_adjusted_efficiency_covers_the_box_score_seasons(
    league: League, first: int, kaggle_store: Path
) -> None:
    served = serve(kaggle_store, league, config=FeatureConfig(adjusted_efficiency=True))
    games = ParquetRepository(kaggle_store).games(league)
    regular = games[~games["is_tournament"]]
    with_box = sorted(int(s) for s in regular.loc[regular["has_box_score"], "season"].unique())
    assert served.box_score_seasons == tuple(with_box)
    assert with_box[0] == first
    # Kaggle's 2024 download: men 2003-2024, women 2010-2023 at least.
    assert set(range(first, 2024)) <= set(with_box)
    frame = served.frame
    share = frame.groupby("season")["adj_margin_diff"].apply(lambda s: float(s.notna().mean()))
    assert (share[share.index < first] == 0).all()
    assert (share[with_box] > 0.95).all()
    tournament = frame[frame["is_tournament"] & frame["season"].isin(with_box)]
    assert tournament["adj_margin_diff"].notna().all()
    # Adjusted efficiency predicts the winner at least as well as the raw net efficiency.
    won = frame["team_a_won"].astype(float)
    rows = frame["adj_margin_diff"].notna() & frame["net_eff_diff"].notna()
    adj = np.corrcoef(frame.loc[rows, "adj_margin_diff"], won[rows])[0, 1]
    raw = np.corrcoef(frame.loc[rows, "net_eff_diff"], won[rows])[0, 1]
    assert adj > raw > 0.3
    with pytest.raises(NcaaEvalError, match=rf"start at {first} or later"):
        require_box_scores(served, [first - 1, first], league)
