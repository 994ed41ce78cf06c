"""The importer on the real Kaggle download: counts and facts from ../shared/data/README.md.

Every test here only reads the session store ``kaggle_store`` (the real data imported once).
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from ncaa_eval.ingest import League, ParquetRepository, make_game_id

pytestmark = pytest.mark.kaggle

GAME_ID = re.compile(r"\d{4}_\d{3}_\d{4}_\d{4}")
_ID_FIELDS = ((0, 4), (5, 8), (9, 13), (14, 18))  # season, day, lower team, higher team


@pytest.fixture(scope="module")
def repo(kaggle_store: Path) -> ParquetRepository:
    return ParquetRepository(kaggle_store)


@pytest.fixture(scope="module")
def men(repo: ParquetRepository) -> pd.DataFrame:
    return repo.games("M")


@pytest.fixture(scope="module")
def women(repo: ParquetRepository) -> pd.DataFrame:
    return repo.games("W")


def _tournament_counts(games: pd.DataFrame) -> dict[int, int]:
    per = games[games["is_tournament"]].groupby("season").size()
    return {int(s): int(n) for s, n in zip(per.index.to_numpy(), per.to_numpy(), strict=True)}


def _data_rows(path: Path) -> int:
    return path.read_bytes().rstrip(b"\n").count(b"\n")


# --- counts -------------------------------------------------------------------------------------


def test_men_tournament_games_per_season(men: pd.DataFrame) -> None:
    expected = {s: 63 for s in range(1985, 2001)}
    expected |= {s: 64 for s in range(2001, 2011)}
    expected |= {s: 67 for s in range(2011, 2026) if s != 2020}
    expected[2021] = 66  # one no contest
    assert _tournament_counts(men) == expected


def test_women_tournament_games_per_season(women: pd.DataFrame) -> None:
    expected = {s: 63 for s in range(1998, 2022) if s != 2020}
    expected |= {s: 67 for s in range(2022, 2026)}
    assert _tournament_counts(women) == expected


def test_no_tournament_in_2020_but_a_regular_season(
    men: pd.DataFrame, women: pd.DataFrame, repo: ParquetRepository
) -> None:
    for games, league in ((men, "M"), (women, "W")):
        season_2020 = games[games["season"] == 2020]
        assert len(season_2020) > 4000
        assert not season_2020["is_tournament"].any()
        assert 2020 not in repo.manifest["leagues"][league]["tournament_seasons"]
        assert 2020 not in set(repo.seeds(league)["season"])  # type: ignore[arg-type]


def test_every_csv_row_becomes_one_game(
    kaggle_dir: Path, repo: ParquetRepository, men: pd.DataFrame, women: pd.DataFrame
) -> None:
    both: dict[League, pd.DataFrame] = {"M": men, "W": women}
    for league, games in both.items():
        regular = _data_rows(kaggle_dir / f"{league}RegularSeasonCompactResults.csv")
        tourney = _data_rows(kaggle_dir / f"{league}NCAATourneyCompactResults.csv")
        assert int((~games["is_tournament"]).sum()) == regular
        assert int(games["is_tournament"].sum()) == tourney
        summary = repo.manifest["leagues"][league]
        assert summary["games"] == regular + tourney
        assert summary["tournament_games"] == tourney
        assert len(repo.teams(league)) == _data_rows(kaggle_dir / f"{league}Teams.csv")
    assert (men["season"].min(), men["season"].max()) == (1985, 2025)
    assert (women["season"].min(), women["season"].max()) == (1998, 2025)


def test_mens_2025_final_florida_beat_houston(repo: ParquetRepository) -> None:
    teams = repo.teams("M").set_index("team_name")["team_id"]
    florida, houston = int(teams["Florida"]), int(teams["Houston"])
    tourney = repo.games("M", [2025])
    tourney = tourney[tourney["is_tournament"]]
    final = tourney[tourney["day_num"] == tourney["day_num"].max()]
    assert len(final) == 1
    game = final.iloc[0]
    assert (int(game["w_team_id"]), int(game["l_team_id"])) == (florida, houston)
    assert (int(game["w_score"]), int(game["l_score"])) == (65, 63)
    assert game["w_loc"] == "N"
    assert game["game_id"] == make_game_id(2025, int(game["day_num"]), florida, houston)
    assert game["date"] == dt.date(2025, 4, 7)


# --- box scores and ordinals --------------------------------------------------------------------


def _box_seasons(games: pd.DataFrame, tournament: bool) -> list[int]:
    part = games[games["is_tournament"] == tournament]
    return sorted(int(s) for s in part.loc[part["has_box_score"], "season"].unique())


def test_box_score_coverage_seasons(men: pd.DataFrame, women: pd.DataFrame) -> None:
    assert _box_seasons(men, False) == list(range(2003, 2025))
    assert _box_seasons(men, True) == [s for s in range(2003, 2025) if s != 2020]
    assert _box_seasons(women, False) == list(range(2010, 2024))
    assert _box_seasons(women, True) == [s for s in range(2010, 2025) if s != 2020]
    # Men's box scores cover every game of 2003-2024.
    covered = men[men["season"].between(2003, 2024)]
    assert covered["has_box_score"].all()


def test_box_columns_are_filled_exactly_when_flagged_and_add_up(
    men: pd.DataFrame, women: pd.DataFrame
) -> None:
    for games in (men, women):
        box = [c for c in games.columns if c.startswith(("w_", "l_")) and c[2:] not in _NON_BOX]
        assert len(box) == 26
        filled = games[box].notna()
        assert (filled.all(axis=1) == games["has_box_score"]).all()
        assert not filled[~games["has_box_score"]].any(axis=None)
        with_box = games[games["has_box_score"]]
        for side in ("w", "l"):
            points = (
                2 * with_box[f"{side}_fgm"] + with_box[f"{side}_fgm3"] + with_box[f"{side}_ftm"]
            )
            assert (points == with_box[f"{side}_score"]).all(), side


_NON_BOX = {"team_id", "score", "loc"}


def test_ordinals_men_2003_to_2025_only(repo: ParquetRepository, kaggle_dir: Path) -> None:
    assert repo.seasons_available("M", "ordinals") == list(range(2003, 2026))
    assert repo.seasons_available("W", "ordinals") == []
    assert repo.ordinals("W").empty
    assert repo.manifest["leagues"]["W"]["ordinal_rows"] == 0
    rows = _data_rows(kaggle_dir / "MMasseyOrdinals.csv")
    assert repo.manifest["leagues"]["M"]["ordinal_rows"] == rows
    systems: set[str] = set()
    total = 0
    for part in sorted((repo.root / "M" / "ordinals").glob("season=*.parquet")):
        table = pq.read_table(part, columns=["system", "ranking_day"])
        systems |= set(pc.unique(table.column("system")).to_pylist())
        total += table.num_rows
    assert total == rows
    assert len(systems) == 193
    last = repo.ordinals("M", [2025])
    assert int(last["ranking_day"].max()) == 128
    assert set(last["season"]) == {2025}


# --- dates and ids ------------------------------------------------------------------------------


def test_date_is_day_zero_plus_day_num(
    repo: ParquetRepository, men: pd.DataFrame, women: pd.DataFrame
) -> None:
    both: dict[League, pd.DataFrame] = {"M": men, "W": women}
    for league, games in both.items():
        day_zero = repo.seasons(league).set_index("season")["day_zero"]
        expected = pd.to_datetime(games["season"].map(day_zero)) + pd.to_timedelta(
            games["day_num"].astype(int), unit="D"
        )
        assert (pd.to_datetime(games["date"]) == expected).all()
    # Spot check: the men's 2025 DayZero is 2024-11-04.
    assert repo.seasons("M").set_index("season")["day_zero"][2025] == dt.date(2024, 11, 4)


def test_game_ids_have_the_documented_format_and_are_unique(
    men: pd.DataFrame, women: pd.DataFrame
) -> None:
    both = pd.concat([men, women], ignore_index=True)
    ids = both["game_id"]
    assert ids.is_unique
    assert ids.str.fullmatch(GAME_ID.pattern).all()
    season, day, lo, hi = (ids.str.slice(a, b).astype(int) for a, b in _ID_FIELDS)
    assert (season == both["season"]).all()
    assert (day == both["day_num"]).all()
    assert (lo == np.minimum(both["w_team_id"], both["l_team_id"])).all()
    assert (hi == np.maximum(both["w_team_id"], both["l_team_id"])).all()
    assert (lo < hi).all()
    sample = both.sample(200, random_state=1)
    columns = ["game_id", "season", "day_num", "l_team_id", "w_team_id"]
    for game_id, season, day, loser, winner in sample[columns].itertuples(index=False, name=None):
        assert game_id == make_game_id(int(season), int(day), int(loser), int(winner))


def test_games_are_stored_in_time_order(men: pd.DataFrame, women: pd.DataFrame) -> None:
    for games in (men, women):
        order = games.sort_values(["season", "day_num", "game_id"], kind="stable")
        assert order.index.tolist() == games.index.tolist()
        assert set(games["league"]) <= {"M", "W"}
        assert games["league"].nunique() == 1


# --- one season alone ---------------------------------------------------------------------------


def test_one_season_is_readable_alone(repo: ParquetRepository, men: pd.DataFrame) -> None:
    part = repo.root / "M" / "games" / "season=2025.parquet"
    assert part.is_file()
    alone = pq.read_table(part)
    assert set(alone.column("season").to_pylist()) == {2025}
    season = repo.games("M", [2025])
    assert set(season["season"]) == {2025}
    assert len(season) == alone.num_rows == int((men["season"] == 2025).sum())
    pd.testing.assert_frame_equal(
        season.reset_index(drop=True),
        men[men["season"] == 2025].reset_index(drop=True),
    )
    assert repo.seasons_available("M") == list(range(1985, 2026))
    assert repo.seasons_available("W") == list(range(1998, 2026))


def test_reading_several_seasons_gives_them_in_time_order_once(repo: ParquetRepository) -> None:
    picked = repo.games("M", [2025, 1985, 2025, 1900])
    assert sorted(set(picked["season"])) == [1985, 2025]
    pd.testing.assert_frame_equal(picked, repo.games("M", [1985, 2025]))
    assert picked["season"].is_monotonic_increasing


def test_seeds_and_teams_tables(repo: ParquetRepository) -> None:
    seeds = repo.seeds("M")
    assert len(seeds[seeds["season"] == 2025]) == 68
    assert len(seeds[seeds["season"] == 2010]) == 65
    assert seeds["seed_number"].between(1, 16).all()
    play_in = seeds[seeds["season"] == 2025].dropna(subset=["play_in"])
    assert len(play_in) == 8
    assert set(play_in["play_in"]) == {"a", "b"}
    men_teams, women_teams = repo.teams("M"), repo.teams("W")
    assert men_teams["first_d1_season"].notna().all()
    assert women_teams["first_d1_season"].isna().all()
    assert men_teams["team_id"].between(1000, 1999).all()
    assert women_teams["team_id"].between(3000, 3999).all()
