"""Tests of the synthetic demo league: Kaggle layout, determinism and basketball realism."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ncaa_eval.ingest.demo import (
    DEMO_MARKER,
    DEMO_MARKER_FILE,
    DemoConfig,
    DemoLeague,
    build_demo_league,
    write_demo_csvs,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
#: The real Kaggle download, shared read-only next to the repository (absent on most machines).
KAGGLE_DIR = REPO_ROOT.parent / "shared" / "data" / "kaggle"

CSV_FILES = (
    "Conferences.csv",
    "MTeams.csv",
    "MSeasons.csv",
    "MTeamConferences.csv",
    "MRegularSeasonCompactResults.csv",
    "MRegularSeasonDetailedResults.csv",
    "MNCAATourneyCompactResults.csv",
    "MNCAATourneyDetailedResults.csv",
    "MNCAATourneySeeds.csv",
    "MNCAATourneySlots.csv",
    "MMasseyOrdinals.csv",
)
BOX = ("FGM", "FGA", "FGM3", "FGA3", "FTM", "FTA", "OR", "DR", "Ast", "TO", "Stl", "Blk", "PF")
#: A short league for tests that only need *some* output (determinism across seeds).
SMALL = DemoConfig(first_season=2023, last_season=2025)
TOURNEY_DAYS = {134, 135, 136, 137, 138, 139, 143, 144, 145, 146, 152, 154}


@dataclass(frozen=True)
class Written:
    """The default demo league on disk, read back, plus its in-memory truth."""

    folder: Path
    paths: list[Path]
    frames: dict[str, pd.DataFrame]
    league: DemoLeague


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Written:
    folder = tmp_path_factory.mktemp("demo")
    paths = write_demo_csvs(folder)
    frames = {name: pd.read_csv(folder / name) for name in CSV_FILES}
    return Written(folder, paths, frames, build_demo_league())


def _results(demo: Written, kind: str) -> pd.DataFrame:
    return demo.frames[f"M{kind}CompactResults.csv"]


def _appearances(games: pd.DataFrame) -> pd.DataFrame:
    """One row per team per game: Season, DayNum, TeamID."""
    cols = ["Season", "DayNum"]
    won = games[[*cols, "WTeamID"]].rename(columns={"WTeamID": "TeamID"})
    lost = games[[*cols, "LTeamID"]].rename(columns={"LTeamID": "TeamID"})
    return pd.concat([won, lost], ignore_index=True)


# --- files and determinism --------------------------------------------------------------------


def test_writes_every_file_and_the_marker(demo: Written) -> None:
    assert sorted(p.name for p in demo.paths) == sorted([*CSV_FILES, DEMO_MARKER_FILE])
    assert all(p.parent == demo.folder and p.is_file() for p in demo.paths)
    marker = (demo.folder / DEMO_MARKER_FILE).read_text(encoding="utf-8").splitlines()
    assert marker[0] == DEMO_MARKER
    assert "seed=2025" in marker
    assert "n_teams=352" in marker


def test_same_seed_gives_identical_bytes(demo: Written, tmp_path: Path) -> None:
    again = write_demo_csvs(tmp_path)
    for first, second in zip(demo.paths, again, strict=True):
        assert first.name == second.name
        assert first.read_bytes() == second.read_bytes(), first.name


def test_different_seed_gives_different_league(tmp_path: Path) -> None:
    one = write_demo_csvs(tmp_path / "one", SMALL)
    other = write_demo_csvs(tmp_path / "other", DemoConfig(seed=7, first_season=2023))
    differs = {a.name for a, b in zip(one, other, strict=True) if a.read_bytes() != b.read_bytes()}
    assert {"MRegularSeasonCompactResults.csv", "MNCAATourneySeeds.csv"} <= differs


@pytest.mark.kaggle
@pytest.mark.parametrize("name", CSV_FILES)
def test_headers_match_real_kaggle_files(demo: Written, name: str) -> None:
    real = KAGGLE_DIR / name
    if not real.is_file():
        pytest.skip(f"real Kaggle file {real} is not available on this machine")
    with real.open(encoding="utf-8") as handle:
        real_header = handle.readline()
    with (demo.folder / name).open(encoding="utf-8") as handle:
        demo_header = handle.readline()
    assert demo_header == real_header


def test_plain_unix_csv_without_index(demo: Written) -> None:
    raw = (demo.folder / "MRegularSeasonCompactResults.csv").read_bytes()
    assert b"\r" not in raw
    assert raw.startswith(b"Season,DayNum,WTeamID,")


def test_invalid_config_is_rejected() -> None:
    with pytest.raises(ValueError, match="last_season"):
        DemoConfig(first_season=2025, last_season=2024)
    with pytest.raises(ValueError, match="n_teams"):
        DemoConfig(n_teams=50)
    with pytest.raises(ValueError, match="n_conferences"):
        DemoConfig(n_conferences=2)


# --- league structure -------------------------------------------------------------------------


def test_teams_conferences_and_seasons(demo: Written) -> None:
    teams = demo.frames["MTeams.csv"]
    assert len(teams) == 352
    assert teams["TeamID"].tolist() == list(range(1101, 1101 + 352))
    assert teams["TeamName"].is_unique
    assert (teams["FirstD1Season"] == 2006).all()
    assert (teams["LastD1Season"] == 2025).all()

    conferences = demo.frames["Conferences.csv"]
    assert len(conferences) == 32
    assert conferences["ConfAbbrev"].is_unique
    membership = demo.frames["MTeamConferences.csv"]
    assert len(membership) == 352 * 20
    assert set(membership["ConfAbbrev"]) == set(conferences["ConfAbbrev"])
    sizes = membership.groupby(["Season", "ConfAbbrev"]).size()
    assert sizes.min() >= 6
    assert sizes.groupby("Season").size().eq(32).all()

    seasons = demo.frames["MSeasons.csv"]
    assert seasons["Season"].tolist() == list(range(2006, 2026))
    assert seasons["DayZero"].str.fullmatch(r"\d\d/\d\d/\d{4}").all()


def test_conferences_differ_in_strength(demo: Written) -> None:
    by_conf = demo.league.strengths.groupby(["Season", "ConfAbbrev"])["Strength"].mean()
    assert by_conf.groupby("Season").std().mean() > 3.0


def test_strength_persists_but_drifts(demo: Written) -> None:
    wide = demo.league.strengths.pivot(index="TeamID", columns="Season", values="Strength")
    corr = [np.corrcoef(wide[s], wide[s + 1])[0, 1] for s in range(2006, 2025)]
    assert 0.5 < float(np.mean(corr)) < 0.97


# --- regular season ---------------------------------------------------------------------------


def test_about_thirty_games_per_team(demo: Written) -> None:
    per_team = _appearances(_results(demo, "RegularSeason")).groupby(["Season", "TeamID"]).size()
    assert len(per_team) == 352 * 20  # every team plays every season
    assert 27 <= per_team.mean() <= 33
    assert per_team.min() >= 18
    assert per_team.max() <= 40


def test_most_games_are_conference_games(demo: Written) -> None:
    games = _results(demo, "RegularSeason")
    conf = demo.frames["MTeamConferences.csv"].set_index(["Season", "TeamID"])["ConfAbbrev"]
    w = conf.loc[list(zip(games["Season"], games["WTeamID"], strict=True))].to_numpy()
    lo = conf.loc[list(zip(games["Season"], games["LTeamID"], strict=True))].to_numpy()
    assert 0.5 <= float(np.mean(w == lo)) <= 0.7


def test_no_team_plays_twice_on_a_day(demo: Written) -> None:
    games = pd.concat([_results(demo, "RegularSeason"), _results(demo, "NCAATourney")])
    assert not _appearances(games).duplicated().any()
    pairs = pd.DataFrame(
        {
            "Season": games["Season"],
            "DayNum": games["DayNum"],
            "lo": np.minimum(games["WTeamID"], games["LTeamID"]),
            "hi": np.maximum(games["WTeamID"], games["LTeamID"]),
        }
    )
    assert not pairs.duplicated().any()
    assert (games["WTeamID"] != games["LTeamID"]).all()


def test_scores_locations_and_days_are_valid(demo: Written) -> None:
    for kind in ("RegularSeason", "NCAATourney"):
        games = _results(demo, kind)
        assert (games["WScore"] > games["LScore"]).all()
        assert games["WLoc"].isin(["H", "A", "N"]).all()
        assert (games["NumOT"] >= 0).all()
        assert games["LScore"].between(25, 140).all()
        assert games["WScore"].between(30, 160).all()
    regular = _results(demo, "RegularSeason")
    assert regular["DayNum"].between(7, 132).all()
    assert (regular.loc[regular["DayNum"] >= 120, "WLoc"] == "N").mean() > 0.5  # conf tourneys
    assert set(_results(demo, "NCAATourney")["DayNum"]) <= TOURNEY_DAYS
    assert (_results(demo, "NCAATourney")["WLoc"] == "N").all()


def test_scores_are_plausible(demo: Written) -> None:
    games = _results(demo, "RegularSeason")
    assert 60 <= games["LScore"].mean() <= 70 < games["WScore"].mean() <= 82
    margin = games["WScore"] - games["LScore"]
    assert 9 <= margin.mean() <= 15
    assert 0.02 <= (games["NumOT"] > 0).mean() <= 0.08
    neutral_share = (games["WLoc"] == "N").mean()
    assert 0.05 <= neutral_share <= 0.2


def test_home_teams_win_more_often(demo: Written) -> None:
    wloc = _results(demo, "RegularSeason")["WLoc"]
    home, away = int((wloc == "H").sum()), int((wloc == "A").sum())
    assert home / (home + away) > 0.57


def test_stronger_teams_win_more_often(demo: Written) -> None:
    strength = demo.league.strengths.set_index(["Season", "TeamID"])["Strength"]
    for kind in ("RegularSeason", "NCAATourney"):
        games = _results(demo, kind)
        w = strength.loc[list(zip(games["Season"], games["WTeamID"], strict=True))].to_numpy()
        lo = strength.loc[list(zip(games["Season"], games["LTeamID"], strict=True))].to_numpy()
        # Noisy, as real games are: favourites win about three times in four.
        assert 0.65 < float(np.mean(w > lo)) < 0.85, kind


# --- box scores -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["RegularSeason", "NCAATourney"])
def test_box_scores_add_up(demo: Written, kind: str) -> None:
    detailed = demo.frames[f"M{kind}DetailedResults.csv"]
    compact = _results(demo, kind)
    pd.testing.assert_frame_equal(detailed[list(compact.columns)], compact)
    for side in ("W", "L"):
        box = {stat: detailed[f"{side}{stat}"] for stat in BOX}
        assert all((col >= 0).all() for col in box.values())
        assert (2 * box["FGM"] + box["FGM3"] + box["FTM"] == detailed[f"{side}Score"]).all()
        assert (box["FGM3"] <= box["FGA3"]).all()
        assert (box["FGA3"] <= box["FGA"]).all()
        assert (box["FGM"] <= box["FGA"]).all()
        assert (box["FGM3"] <= box["FGM"]).all()
        assert (box["FTM"] <= box["FTA"]).all()
        assert (box["Ast"] <= box["FGM"]).all()
        assert 50 <= box["FGA"].mean() <= 65
        assert 15 <= box["FGA3"].mean() <= 28
    # Rebounds of one side come out of the other side's misses.
    for side, opp in (("W", "L"), ("L", "W")):
        misses = detailed[f"{side}FGA"] - detailed[f"{side}FGM"]
        assert (detailed[f"{side}OR"] + detailed[f"{opp}DR"] <= misses).all()
        assert (detailed[f"{opp}Stl"] <= detailed[f"{side}TO"]).all()


# --- NCAA tournament --------------------------------------------------------------------------


def test_sixty_eight_seeds_per_season(demo: Written) -> None:
    seeds = demo.frames["MNCAATourneySeeds.csv"]
    for _, group in seeds.groupby("Season"):
        codes = group["Seed"]
        assert len(group) == 68
        assert group["TeamID"].is_unique
        assert codes.is_unique
        assert codes.str.fullmatch(r"[WXYZ](0[1-9]|1[0-6])[ab]?").all()
        play_in = codes[codes.str.len() == 4]
        assert sorted(play_in.str[1:3].tolist()) == ["11"] * 4 + ["16"] * 4
        lines = codes.str[1:3].astype(int).value_counts()
        assert lines.loc[11] == 6
        assert lines.loc[16] == 6
        assert lines.drop([11, 16]).eq(4).all()


def test_one_seeds_are_stronger_than_sixteen_seeds(demo: Written) -> None:
    seeds = demo.frames["MNCAATourneySeeds.csv"].merge(
        demo.league.strengths, on=["Season", "TeamID"]
    )
    line = seeds["Seed"].str[1:3].astype(int)
    by_line = seeds.groupby(line)["Strength"].mean()
    assert by_line.loc[1] > by_line.loc[4] > by_line.loc[8] > by_line.loc[13] > by_line.loc[16]


def test_conference_champions_get_bids(demo: Written) -> None:
    seeds = demo.frames["MNCAATourneySeeds.csv"]
    conf = demo.frames["MTeamConferences.csv"]
    in_field = seeds.merge(conf, on=["Season", "TeamID"])
    # Every conference sends its champion, so every conference is represented every season.
    assert in_field.groupby("Season")["ConfAbbrev"].nunique().eq(32).all()


def test_slots_use_kaggle_naming(demo: Written) -> None:
    slots = demo.frames["MNCAATourneySlots.csv"]
    one = slots[slots["Season"] == 2025].set_index("Slot")
    assert len(one) == 67
    assert one.loc["R1W1", "StrongSeed"] == "W01"

    def feeders(slot: str) -> tuple[str, str]:
        return str(one.at[slot, "StrongSeed"]), str(one.at[slot, "WeakSeed"])

    assert feeders("R2X1") == ("R1X1", "R1X8")
    assert feeders("R3Y2") == ("R2Y2", "R2Y3")
    assert feeders("R4Z1") == ("R3Z1", "R3Z2")
    assert feeders("R5WX") == ("R4W1", "R4X1")
    assert feeders("R5YZ") == ("R4Y1", "R4Z1")
    assert feeders("R6CH") == ("R5WX", "R5YZ")
    first_four = one[~one.index.str.startswith("R")]
    assert len(first_four) == 4
    assert (first_four["StrongSeed"] == first_four.index + "a").all()
    assert (first_four["WeakSeed"] == first_four.index + "b").all()
    # Kaggle lists a season's slots alphabetically: R1W1 ... R6CH, then the First Four.
    assert one.index.tolist() == sorted(one.index)


def test_tournament_follows_the_bracket(demo: Written) -> None:
    games = _results(demo, "NCAATourney")
    seeds = demo.frames["MNCAATourneySeeds.csv"]
    slots = demo.frames["MNCAATourneySlots.csv"]
    for season, season_games in games.groupby("Season"):
        assert len(season_games) == 67
        played = {
            frozenset((int(w), int(lo))): (int(w), int(day))
            for w, lo, day in season_games[["WTeamID", "LTeamID", "DayNum"]].to_numpy()
        }
        assert len(played) == 67
        entrant = {
            str(code): (int(team), 0)
            for code, team in seeds.loc[seeds["Season"] == season, ["Seed", "TeamID"]].to_numpy()
        }
        pending = [
            (str(a), str(b), str(c))
            for a, b, c in slots.loc[
                slots["Season"] == season, ["Slot", "StrongSeed", "WeakSeed"]
            ].to_numpy()
        ]
        used: set[frozenset[int]] = set()
        while pending:
            ready = [s for s in pending if s[1] in entrant and s[2] in entrant]
            assert ready, f"{season}: slots reference unknown seeds or slots: {pending[:3]}"
            for slot, strong, weak in ready:
                (team_a, day_a), (team_b, day_b) = entrant[strong], entrant[weak]
                pair = frozenset((team_a, team_b))
                assert pair in played, f"{season} {slot}: {team_a} v {team_b} was not played"
                winner, day = played[pair]
                assert day > max(day_a, day_b), f"{season} {slot} played before its feeders"
                entrant[slot] = (winner, day)
                used.add(pair)
                pending.remove((slot, strong, weak))
        assert used == set(played)
        assert entrant["R6CH"][1] == 154


# --- rankings ---------------------------------------------------------------------------------


def test_massey_ordinals(demo: Written) -> None:
    ordinals = demo.frames["MMasseyOrdinals.csv"]
    assert len(ordinals) < 300_000
    assert set(ordinals["SystemName"]) == {"DEM", "SYN"}
    assert ordinals["RankingDayNum"].max() == 133
    assert ordinals["RankingDayNum"].min() >= 0
    ranks = ordinals.groupby(["Season", "RankingDayNum", "SystemName"])["OrdinalRank"]
    assert ranks.size().eq(352).all()
    assert ranks.min().eq(1).all()
    assert ranks.max().eq(352).all()
    assert ranks.nunique().eq(352).all()
    # Informative but noisy: final rankings track latent strength closely, not perfectly.
    final = ordinals[ordinals["RankingDayNum"] == 133].merge(
        demo.league.strengths, on=["Season", "TeamID"]
    )
    rho = final.groupby(["Season", "SystemName"])[["OrdinalRank", "Strength"]].corr(
        method="spearman"
    )
    values = rho.xs("OrdinalRank", level=2)["Strength"]
    assert (values < -0.8).all()
    assert (values > -0.995).all()


def test_team_names_look_like_names(demo: Written) -> None:
    names = demo.frames["MTeams.csv"]["TeamName"]
    assert names.map(lambda n: bool(re.fullmatch(r"[A-Za-z&' ]+", n))).all()
    assert names.tolist() == sorted(names)
