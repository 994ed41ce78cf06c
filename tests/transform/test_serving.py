"""ChronologicalDataServer: games in time order, and no way to reach a game on or after a cut."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from ncaa_eval.errors import NcaaEvalError, StoreNotFoundError
from ncaa_eval.ingest import ParquetRepository, import_kaggle
from ncaa_eval.transform.serving import (
    DEFAULT_TOURNAMENT_START_DAY,
    ChronologicalDataServer,
    SeasonGames,
)
from tests.ingest.sources import demo_source, read_lines

REGULAR = "MRegularSeasonCompactResults.csv"
TOURNEY = "MNCAATourneyCompactResults.csv"
SEEDS = "MNCAATourneySeeds.csv"


def _assert_before(frame: pd.DataFrame, season: int, day: int) -> None:
    """Nothing in ``frame`` is on or after day ``day`` of ``season``."""
    later = (frame["season"] > season) | ((frame["season"] == season) & (frame["day_num"] >= day))
    assert not later.any(), frame[later].head()


def _expected_before(games: pd.DataFrame, season: int, day: int) -> pd.DataFrame:
    keep = (games["season"] < season) | ((games["season"] == season) & (games["day_num"] < day))
    return games[keep]


def _check_season_split(sg: SeasonGames) -> None:
    regular, tourney = sg.regular, sg.tournament
    assert not regular["is_tournament"].any()
    assert tourney["is_tournament"].all()
    assert set(regular["season"]) | set(tourney["season"]) <= {sg.season}
    for part in (regular, tourney):
        assert part["date"].is_monotonic_increasing
        assert part["day_num"].is_monotonic_increasing
    if len(tourney):
        assert sg.has_tournament
        assert sg.tournament_start_day == int(tourney["day_num"].min())
        if len(regular):
            assert regular["date"].max() < tourney["date"].min()
            assert int(regular["day_num"].max()) < sg.tournament_start_day


# --- on the demo store (no real data needed) ----------------------------------------------------


@pytest.fixture(scope="module")
def demo_repo(demo_store: Path) -> ParquetRepository:
    return ParquetRepository(demo_store)


@pytest.fixture(scope="module")
def demo_server(demo_repo: ParquetRepository) -> ChronologicalDataServer:
    return ChronologicalDataServer(demo_repo, "M")


def test_seasons_are_served_in_order(
    demo_server: ChronologicalDataServer, demo_repo: ParquetRepository
) -> None:
    assert demo_server.seasons == demo_repo.seasons_available("M") == list(range(2018, 2026))
    assert [sg.season for sg in demo_server.iter_seasons()] == demo_server.seasons
    demo_server.seasons.append(1900)  # a copy
    assert 1900 not in demo_server.seasons


def test_each_season_is_sorted_and_regular_games_precede_the_tournament(
    demo_server: ChronologicalDataServer, demo_repo: ParquetRepository
) -> None:
    total = 0
    for sg in demo_server.iter_seasons():
        _check_season_split(sg)
        assert len(sg.tournament) == 67
        assert sg.tournament_start_day == 134
        total += len(sg.regular) + len(sg.tournament)
    assert total == len(demo_repo.games("M"))
    everything = demo_server.all_games()
    order = everything.sort_values(["season", "day_num", "game_id"], kind="stable")
    assert everything.index.tolist() == order.index.tolist()


@pytest.mark.parametrize(
    ("season", "day"),
    [(2018, 0), (2018, 1), (2019, 60), (2021, 133), (2021, 134), (2024, 136), (2025, 155)],
)
def test_games_before_stops_strictly_before_the_cut(
    demo_server: ChronologicalDataServer, demo_repo: ParquetRepository, season: int, day: int
) -> None:
    before = demo_server.games_before(season, day)
    _assert_before(before, season, day)
    expected = _expected_before(demo_repo.games("M"), season, day)
    assert before["game_id"].tolist() == expected["game_id"].tolist()  # same rows, same order


def test_games_before_the_tournament_holds_the_whole_regular_season(
    demo_server: ChronologicalDataServer,
) -> None:
    sg = demo_server.season(2024)
    frozen = demo_server.games_before_tournament(2024)
    this_season = frozen[frozen["season"] == 2024]
    assert not this_season["is_tournament"].any()
    assert sorted(this_season["game_id"]) == sorted(sg.regular["game_id"])
    assert set(frozen["season"]) == set(range(2018, 2025))


def test_returned_frames_are_copies(demo_server: ChronologicalDataServer) -> None:
    first = demo_server.season(2022)
    regular, tourney = first.regular.copy(), first.tournament.copy()
    before = demo_server.games_before(2022, 100)
    before_copy = before.copy()
    everything = demo_server.all_games()
    everything_copy = everything.copy()
    for frame in (first.regular, first.tournament, before, everything):
        frame["w_score"] = 0
        frame.loc[frame.index[:5], "game_id"] = "tampered"
        frame.pop("num_ot")
    again = demo_server.season(2022)
    pd.testing.assert_frame_equal(again.regular, regular)
    pd.testing.assert_frame_equal(again.tournament, tourney)
    pd.testing.assert_frame_equal(demo_server.games_before(2022, 100), before_copy)
    pd.testing.assert_frame_equal(demo_server.all_games(), everything_copy)


def test_a_subset_of_seasons(demo_repo: ParquetRepository) -> None:
    server = ChronologicalDataServer(demo_repo, "M", seasons=[2025, 2019, 2019])
    assert server.seasons == [2019, 2025]
    games = server.all_games()
    assert set(games["season"]) == {2019, 2025}
    assert games["game_id"].is_unique
    assert len(games) == len(demo_repo.games("M", [2019, 2025]))
    with pytest.raises(NcaaEvalError, match="Season 2022 is not served"):
        server.season(2022)
    with pytest.raises(NcaaEvalError, match=r"Season 1999 is not in the M store .*2018-2025"):
        ChronologicalDataServer(demo_repo, "M", seasons=[1999, 2020])
    nothing = ChronologicalDataServer(demo_repo, "M", seasons=[])
    assert nothing.seasons == []
    assert nothing.all_games().empty
    with pytest.raises(NcaaEvalError, match="not served"):
        nothing.season(2020)


def test_a_league_missing_from_the_store(demo_repo: ParquetRepository) -> None:
    with pytest.raises(StoreNotFoundError, match="League 'W' is not in the store"):
        ChronologicalDataServer(demo_repo, "W")


# --- stores written from modified sources -------------------------------------------------------


@pytest.fixture(scope="module")
def base_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Demo CSVs for 2023-2025 without box scores and ordinals (so results can be edited)."""
    src = demo_source(tmp_path_factory.mktemp("base") / "kaggle")
    for name in ("MRegularSeasonDetailedResults.csv", "MNCAATourneyDetailedResults.csv"):
        (src / name).unlink()
    (src / "MMasseyOrdinals.csv").unlink()
    return src


def _rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    lines = [ln.decode() for ln in read_lines(path) if ln]
    cols = lines[0].split(",")
    return cols, [dict(zip(cols, ln.split(","), strict=True)) for ln in lines[1:]]


def _write_rows(path: Path, cols: list[str], rows: list[dict[str, str]]) -> None:
    lines = [",".join(cols), *(",".join(row[c] for c in cols) for row in rows)]
    path.write_text("\n".join(lines) + "\n")


def _rewrite_after(src: Path, season: int, day: int) -> None:
    """Delete, flip and move games on or after day ``day`` of ``season``; add a new one."""
    cols, rows = _rows(src / REGULAR)
    out: list[dict[str, str]] = []
    late = 0
    for row in rows:
        s, d = int(row["Season"]), int(row["DayNum"])
        if (s, d) < (season, day):
            out.append(row)
            continue
        late += 1
        if late % 3 == 0:
            continue  # deleted
        if late % 3 == 1:  # the other team wins
            row = {
                **row,
                "WTeamID": row["LTeamID"],
                "LTeamID": row["WTeamID"],
                "WScore": str(int(row["WScore"]) + 5),
                "LScore": row["LScore"],
                "WLoc": {"H": "A", "A": "H", "N": "N"}[row["WLoc"]],
            }
        else:  # played a day later
            row = {**row, "DayNum": str(min(d + 1, 132))}
        out.append(row)
    first = out[0]
    out.append({**first, "Season": str(season), "DayNum": str(day), "NumOT": "3"})
    _write_rows(src / REGULAR, cols, out)
    cols, rows = _rows(src / TOURNEY)  # tournament games on or after the cut: all deleted
    _write_rows(
        src / TOURNEY,
        cols,
        [r for r in rows if (int(r["Season"]), int(r["DayNum"])) < (season, day)],
    )


@pytest.mark.parametrize(("season", "day"), [(2024, 60), (2024, 134), (2025, 1), (2025, 140)])
def test_changing_games_after_a_cut_does_not_change_what_is_served_before_it(
    base_source: Path, tmp_path: Path, season: int, day: int
) -> None:
    import_kaggle(base_source, tmp_path / "original")
    changed = tmp_path / "changed"
    shutil.copytree(base_source, changed)
    _rewrite_after(changed, season, day)
    import_kaggle(changed, tmp_path / "rewritten")
    original = ChronologicalDataServer(ParquetRepository(tmp_path / "original"), "M")
    rewritten = ChronologicalDataServer(ParquetRepository(tmp_path / "rewritten"), "M")
    assert not original.all_games().equals(rewritten.all_games())  # the edit did change things
    pd.testing.assert_frame_equal(
        original.games_before(season, day), rewritten.games_before(season, day)
    )
    # Any earlier cut is unchanged as well.
    pd.testing.assert_frame_equal(
        original.games_before(season, day - 1), rewritten.games_before(season, day - 1)
    )


def _add_next_season(src: Path, with_games: bool) -> None:
    """Season 2026 with seeds (copied from 2025) but no tournament results yet."""
    seasons = src / "MSeasons.csv"
    last = read_lines(seasons)[-2].decode().split(",")
    assert last[0] == "2025"
    seasons.write_text(seasons.read_text() + ",".join(["2026", "11/3/2025", *last[2:]]) + "\n")
    cols, rows = _rows(src / SEEDS)
    _write_rows(
        src / SEEDS,
        cols,
        [*rows, *({**r, "Season": "2026"} for r in rows if r["Season"] == "2025")],
    )
    if with_games:
        cols, rows = _rows(src / REGULAR)
        early = [
            {**r, "Season": "2026"} for r in rows if r["Season"] == "2025" and int(r["DayNum"]) < 40
        ]
        _write_rows(src / REGULAR, cols, [*rows, *early])


@pytest.mark.parametrize("with_games", [True, False], ids=["season-under-way", "no-games-yet"])
def test_a_season_with_seeds_but_no_results_yet(
    base_source: Path, tmp_path: Path, with_games: bool
) -> None:
    src = tmp_path / "kaggle"
    shutil.copytree(base_source, src)
    _add_next_season(src, with_games)
    import_kaggle(src, tmp_path / "data")
    repo = ParquetRepository(tmp_path / "data")
    assert 2026 in set(repo.seeds("M")["season"])
    server = ChronologicalDataServer(repo, "M")
    assert server.has_tournament(2026)
    assert server.tournament_start_day(2026) == DEFAULT_TOURNAMENT_START_DAY == 134
    frozen = server.games_before_tournament(2026)
    _assert_before(frozen, 2026, 134)
    assert len(frozen) == len(repo.games("M"))  # everything played so far
    if with_games:
        sg = server.season(2026)
        assert sg.has_tournament
        assert sg.tournament.empty
        assert sg.tournament_start_day == 134
        assert len(sg.regular) > 100
        _check_season_split(sg)
    else:
        assert 2026 not in server.seasons


# --- on the real data ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_repo(kaggle_store: Path) -> ParquetRepository:
    return ParquetRepository(kaggle_store)


@pytest.fixture(scope="module")
def men_server(real_repo: ParquetRepository) -> ChronologicalDataServer:
    return ChronologicalDataServer(real_repo, "M")


@pytest.fixture(scope="module")
def men_games(real_repo: ParquetRepository) -> pd.DataFrame:
    return real_repo.games("M")


@pytest.mark.kaggle
def test_real_men_seasons_and_tournaments(men_server: ChronologicalDataServer) -> None:
    assert men_server.seasons == list(range(1985, 2026))
    assert not men_server.has_tournament(2020)
    assert all(men_server.has_tournament(s) for s in men_server.seasons if s != 2020)
    starts = {s: men_server.tournament_start_day(s) for s in men_server.seasons}
    assert {s: d for s, d in starts.items() if s <= 2000} == dict.fromkeys(range(1985, 2001), 136)
    assert all(starts[s] == 134 for s in range(2001, 2026) if s not in (2020, 2021))
    assert starts[2021] == 136  # 2021 (played in Indiana) began on day 136
    assert starts[2020] == 134  # no tournament: the default day after the regular season
    for sg in men_server.iter_seasons():
        _check_season_split(sg)
    final_four = men_server.season(2025)
    assert len(final_four.tournament) == 67
    assert final_four.tournament_start_day == 134


@pytest.mark.kaggle
def test_real_women_tournaments_start_after_their_regular_season(
    real_repo: ParquetRepository,
) -> None:
    server = ChronologicalDataServer(real_repo, "W")
    assert not server.has_tournament(2020)
    for sg in server.iter_seasons():
        _check_season_split(sg)
        if sg.season != 2020:
            assert sg.has_tournament
            assert len(sg.tournament) in (63, 67)


@pytest.mark.kaggle
@pytest.mark.parametrize(
    ("season", "day"),
    [(1985, 0), (1985, 136), (2003, 100), (2020, 134), (2021, 136), (2025, 134), (2025, 155)],
)
def test_real_games_before_a_cut(
    men_server: ChronologicalDataServer, men_games: pd.DataFrame, season: int, day: int
) -> None:
    before = men_server.games_before(season, day)
    _assert_before(before, season, day)
    expected = _expected_before(men_games, season, day)
    assert len(before) == len(expected)
    assert before["game_id"].is_unique
    assert before["game_id"].tolist() == expected["game_id"].tolist()


@pytest.mark.kaggle
def test_real_games_before_the_2025_tournament(men_server: ChronologicalDataServer) -> None:
    frozen = men_server.games_before_tournament(2025)
    assert not frozen[frozen["season"] == 2025]["is_tournament"].any()
    assert int(frozen["is_tournament"].sum()) == 2585 - 67
    assert len(frozen[frozen["season"] == 2025]) == len(men_server.season(2025).regular)
