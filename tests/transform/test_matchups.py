"""Orientation tests: team A is the lower TeamID whoever won, so ``p(A,B) = 1 - p(B,A)``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ncaa_eval.ingest import ParquetRepository
from ncaa_eval.model.base import GAME_COLUMNS
from ncaa_eval.transform.matchups import conference_map, orient_games, pair_rows


def stored_games(rows: list[tuple[int, int, int, int, int, int, str, bool]]) -> pd.DataFrame:
    """Stored (winner/loser) games from (season, day, w, w_score, l, l_score, w_loc, tourney)."""
    frame = pd.DataFrame(
        rows,
        columns=[
            "season",
            "day_num",
            "w_team_id",
            "w_score",
            "l_team_id",
            "l_score",
            "w_loc",
            "is_tournament",
        ],
    )
    lo = np.minimum(frame["w_team_id"], frame["l_team_id"])
    hi = np.maximum(frame["w_team_id"], frame["l_team_id"])
    frame["game_id"] = [
        f"{s}_{d:03d}_{a}_{b}"
        for s, d, a, b in zip(frame["season"], frame["day_num"], lo, hi, strict=True)
    ]
    frame["num_ot"] = 0
    return frame


def present(values: pd.Series) -> list[object]:
    """The values with every kind of missing (None, NaN) as None."""
    return [None if pd.isna(v) else v for v in values.tolist()]


def swap_winner_loser(games: pd.DataFrame) -> pd.DataFrame:
    """The same games listed the other way round: the loser's columns in the winner's place."""
    out = games.copy()
    out["w_team_id"], out["l_team_id"] = games["l_team_id"], games["w_team_id"]
    out["w_score"], out["l_score"] = games["l_score"], games["w_score"]
    out["w_loc"] = games["w_loc"].map({"H": "A", "A": "H", "N": "N"})
    return out


GAMES = stored_games(
    [
        (2024, 10, 1200, 80, 1100, 70, "H", False),  # higher id won at home
        (2024, 10, 1105, 75, 1300, 60, "H", False),  # lower id won at home
        (2024, 11, 1400, 66, 1301, 65, "A", False),  # higher id won away
        (2024, 12, 1101, 90, 1500, 85, "A", False),  # lower id won away
        (2024, 136, 1250, 70, 1150, 69, "N", True),  # neutral tournament game
    ]
)


def test_team_a_is_the_lower_id_and_the_label_follows_the_winner() -> None:
    out = orient_games(GAMES)
    assert (out["team_a_id"] < out["team_b_id"]).all()
    assert out["team_a_won"].tolist() == [0, 1, 0, 1, 0]
    assert out["team_a_score"].tolist() == [70, 75, 65, 90, 69]
    assert out["team_b_score"].tolist() == [80, 60, 66, 85, 70]
    # Location from team A's side: a loser listed at "H" means team A (that loser) was away.
    assert out["team_a_loc"].tolist() == ["A", "H", "H", "A", "N"]
    assert out["is_tournament"].tolist() == [False, False, False, False, True]
    # The winner's score is never below the loser's, seen from either side.
    won = out["team_a_won"] == 1
    assert (out.loc[won, "team_a_score"] > out.loc[won, "team_b_score"]).all()
    assert (out.loc[~won, "team_a_score"] < out.loc[~won, "team_b_score"]).all()


def test_output_has_the_game_columns_and_keeps_order_and_index() -> None:
    games = GAMES.set_index(pd.Index([50, 10, 40, 20, 30]))
    out = orient_games(games)
    assert list(out.columns) == [*GAME_COLUMNS, "team_a_won"]
    assert out.index.tolist() == [50, 10, 40, 20, 30]
    assert out["game_id"].tolist() == games["game_id"].tolist()


def test_listing_a_game_the_other_way_round_gives_the_same_matchup_row() -> None:
    """Orientation depends on the pair only, never on which side a file lists first."""
    out = orient_games(GAMES)
    swapped = orient_games(swap_winner_loser(GAMES))
    matchup = [c for c in out.columns if c != "team_a_won"]
    pd.testing.assert_frame_equal(out[matchup], swapped[matchup])
    # Only the label records who won, and it is the winner's column that decides it.
    assert (swapped["team_a_won"] == 1 - out["team_a_won"]).all()


def test_conferences_are_looked_up_per_season_and_side() -> None:
    conferences = {2024: {1100: "acc", 1200: "sec", 1150: "big10"}, 2023: {1105: "old"}}
    out = orient_games(GAMES, conferences)
    assert present(out["team_a_conf"]) == ["acc", None, None, None, "big10"]
    assert present(out["team_b_conf"]) == ["sec", None, None, None, None]
    bare = orient_games(GAMES)
    assert bare["team_a_conf"].isna().all()
    assert bare["team_b_conf"].isna().all()


def test_pair_rows_lists_every_unordered_pair_once_lower_id_first() -> None:
    rows = pair_rows(2025, [1300, 1100, 1200, 1100, 1250], day_num=136, conferences=None)
    assert len(rows) == 6  # 4 distinct teams
    assert (rows["team_a_id"] < rows["team_b_id"]).all()
    pairs = set(zip(rows["team_a_id"], rows["team_b_id"], strict=True))
    assert pairs == {
        (1100, 1200), (1100, 1250), (1100, 1300), (1200, 1250), (1200, 1300), (1250, 1300),
    }  # fmt: skip
    assert set(GAME_COLUMNS) <= set(rows.columns)
    assert rows["team_a_score"].isna().all()
    assert rows["team_b_score"].isna().all()
    assert (rows["team_a_loc"] == "N").all()
    assert rows["is_tournament"].all()
    assert rows["game_id"].iloc[0] == "2025_136_1100_1200"
    assert rows["game_id"].is_unique


def test_pair_rows_takes_conferences_of_its_season() -> None:
    rows = pair_rows(2025, [1200, 1100], 134, {2025: {1100: "acc"}, 2024: {1200: "sec"}})
    assert present(rows["team_a_conf"]) == ["acc"]
    assert present(rows["team_b_conf"]) == [None]


def test_stored_games_orient_consistently(demo_store: Path) -> None:
    """On a real store: ids sorted, labels balanced, and re-listing swaps only the label."""
    repo = ParquetRepository(demo_store)
    games = repo.games("M", [2024])
    conferences = conference_map(repo.conferences("M"))
    out = orient_games(games, conferences)
    assert len(out) == len(games)
    assert (out["team_a_id"] < out["team_b_id"]).all()
    assert out["team_a_conf"].notna().all()
    assert 0.4 < out["team_a_won"].mean() < 0.6
    swapped = orient_games(swap_winner_loser(games), conferences)
    matchup = [c for c in out.columns if c != "team_a_won"]
    pd.testing.assert_frame_equal(out[matchup], swapped[matchup])


def test_conference_map_reads_the_store(demo_store: Path) -> None:
    repo = ParquetRepository(demo_store)
    table = repo.conferences("M")
    mapping = conference_map(table)
    assert sorted(mapping) == sorted(set(table["season"].astype(int)))
    first = table.iloc[0]
    assert mapping[int(first["season"])][int(first["team_id"])] == str(first["conf_abbrev"])


@pytest.mark.parametrize("loc", ["H", "A", "N"])
def test_location_flips_with_the_side(loc: str) -> None:
    game = stored_games([(2024, 30, 1300, 70, 1200, 60, loc, False)])
    out = orient_games(game)
    assert out["team_a_loc"].iloc[0] == {"H": "A", "A": "H", "N": "N"}[loc]
    kept = orient_games(stored_games([(2024, 30, 1200, 70, 1300, 60, loc, False)]))
    assert kept["team_a_loc"].iloc[0] == loc
