"""Feature-serving tests, above all the leakage proof.

A served feature row may depend only on games strictly before it (and a tournament's rows only on
games before that tournament). So the proof edits or deletes one game in the source CSVs,
re-imports them through the real importer, serves again and checks that every row before the
edited game is bit-for-bit identical, while some later row moves (so the check can fail). The
same is done for a tournament result, which must not move any row of its own tournament, and for
a day of Massey ordinals.
"""

from __future__ import annotations

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

from ncaa_eval.ingest import DemoConfig, ParquetRepository, import_kaggle, write_demo_csvs
from ncaa_eval.transform.feature_serving import (
    FeatureConfig,
    FeatureSet,
    StatefulFeatureServer,
    feature_direction,
)
from ncaa_eval.transform.matchups import pair_rows

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


def test_a_tournament_is_served_from_one_frozen_snapshot(demo_base: FeatureSet) -> None:
    """Every tournament row equals the pre-tournament pair features of its two teams."""
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


def test_every_feature_is_antisymmetric(demo_base: FeatureSet) -> None:
    # XGBoost's mirrored rows rest on it: swapping the teams negates every served column.
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
)


@pytest.fixture(scope="module")
def extended_base(demo_store: Path) -> FeatureSet:
    return serve(demo_store, seasons=SERVED, config=EXTENDED)


@pytest.mark.parametrize(
    "edit", ["early_regular_score", "tournament_first_round_flip", "ordinal_ranking_day"]
)
def test_extended_features_are_leakage_free_too(
    edit: str, demo_csvs: Path, extended_base: FeatureSet, tmp_path: Path
) -> None:
    data, cutoff = edited_store(edit, demo_csvs, tmp_path)
    result = compare(extended_base, serve(data, seasons=SERVED, config=EXTENDED), cutoff)
    assert result.before > 1000
    assert result.changed_after > 0, "the edit moved nothing: this check could never fail"


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
