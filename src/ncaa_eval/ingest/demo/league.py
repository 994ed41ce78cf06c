"""Build the whole league season by season and write it in Kaggle's CSV layout."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from ncaa_eval.ingest.demo.conferences import _initial_conferences, _realign
from ncaa_eval.ingest.demo.config import FIRST_TEAM_ID, DemoConfig, DemoLeague
from ncaa_eval.ingest.demo.games import TEAM_PACE_SD, IntArray, _concat_games, _play
from ncaa_eval.ingest.demo.names import _conference_names, _team_names
from ncaa_eval.ingest.demo.ordinals import MASSEY_SYSTEMS, _massey
from ncaa_eval.ingest.demo.results import _ResultColumns
from ncaa_eval.ingest.demo.schedule import (
    _conference_schedule,
    _conference_tournaments,
    _day_zero,
    _nonconference_schedule,
)
from ncaa_eval.ingest.demo.tournament import REGION_NAMES, _ncaa_tournament
from ncaa_eval.ingest.demo_marker import DEMO_MARKER, DEMO_MARKER_FILE

# --- Strength model (points per game above an average D-I team) -------------------------------
#: Spread of conference levels: real power conferences sit ~15 points above the weakest ones.
CONF_STRENGTH_SD = 6.0
#: Conference levels change slowly (recruiting, money), so they are highly persistent.
CONF_STRENGTH_AR = 0.9
#: Spread of teams around their conference level.
WITHIN_CONF_SD = 6.5
#: Year-to-year persistence of a team's deviation from its conference (roster turnover).
TEAM_STRENGTH_AR = 0.8


# DemoConfig is a frozen dataclass, so a shared default instance is safe.
def build_demo_league(config: DemoConfig = DemoConfig()) -> DemoLeague:  # noqa: B008
    """Generate the synthetic league in memory (see :func:`write_demo_csvs`).

    Args:
        config: league settings; the same config always gives identical tables.

    Returns:
        the Kaggle tables and the latent team strengths behind them.
    """
    rng = np.random.default_rng(config.seed)
    n_teams, n_conf = config.n_teams, config.n_conferences
    seasons = range(config.first_season, config.last_season + 1)
    names = _team_names(rng, n_teams)
    conferences = _conference_names(n_conf)
    conf_abbrev = np.array([abbrev for abbrev, _ in conferences])
    conf_of = _initial_conferences(rng, config)
    conf_level = rng.normal(0.0, CONF_STRENGTH_SD, n_conf)
    strength = conf_level[conf_of] + rng.normal(0.0, WITHIN_CONF_SD, n_teams)
    pace = rng.normal(0.0, TEAM_PACE_SD, n_teams)
    # Innovation sizes that keep both AR(1) processes at their stationary spread.
    conf_shock = CONF_STRENGTH_SD * np.sqrt(1.0 - CONF_STRENGTH_AR**2)
    team_shock = WITHIN_CONF_SD * np.sqrt(1.0 - TEAM_STRENGTH_AR**2)

    regular, ncaa = _ResultColumns(), _ResultColumns()
    season_rows: list[tuple[int | str, ...]] = []
    membership: list[pd.DataFrame] = []
    truth: list[pd.DataFrame] = []
    seed_rows: list[tuple[int, str, int]] = []
    slot_rows: list[tuple[int, str, str, str]] = []
    massey_parts: list[tuple[int, tuple[IntArray, IntArray, IntArray, IntArray]]] = []
    team_ids = FIRST_TEAM_ID + np.arange(n_teams, dtype=np.int64)

    for i, season in enumerate(seasons):
        if i > 0:
            conf_of = _realign(rng, conf_of, config)
        # Drift before every season, the first included, so `previous` is a real last season.
        previous = strength
        conf_level = CONF_STRENGTH_AR * conf_level + rng.normal(0.0, conf_shock, n_conf)
        level = conf_level[conf_of]
        strength = level + TEAM_STRENGTH_AR * (previous - level)
        strength = strength + rng.normal(0.0, team_shock, n_teams)
        strength = strength - strength.mean()

        nc_day, nc_a, nc_b, nc_neutral = _nonconference_schedule(rng, conf_of, strength)
        nonconf = _play(rng, strength, pace, nc_day, nc_a, nc_b, nc_neutral)
        c_day, c_home, c_away = _conference_schedule(rng, conf_of, n_conf)
        conf_games = _play(
            rng, strength, pace, c_day, c_home, c_away, np.zeros(c_day.size, dtype=np.bool_)
        )
        conf_tourney, champions = _conference_tournaments(
            rng, conf_games, conf_of, n_conf, strength, pace
        )
        seeds, slots, tourney = _ncaa_tournament(rng, champions, strength, pace)
        massey_parts.append((season, _massey(rng, strength, previous)))

        regular.add(rng, season, _concat_games([nonconf, conf_games, conf_tourney]), i)
        ncaa.add(rng, season, tourney, i)
        seed_rows.extend((season, code, FIRST_TEAM_ID + team) for code, team in seeds)
        slot_rows.extend((season, *slot) for slot in slots)
        day_zero = _day_zero(season)
        regions = tuple(REGION_NAMES[j] for j in rng.permutation(len(REGION_NAMES)))
        # Kaggle writes DayZero as zero-padded mm/dd/YYYY.
        season_rows.append((season, day_zero.strftime("%m/%d/%Y"), *regions))
        membership.append(
            pd.DataFrame({"Season": season, "TeamID": team_ids, "ConfAbbrev": conf_abbrev[conf_of]})
        )
        truth.append(
            pd.DataFrame(
                {
                    "Season": season,
                    "TeamID": team_ids,
                    "ConfAbbrev": conf_abbrev[conf_of],
                    "Strength": strength,
                }
            )
        )

    regular_compact, regular_detailed = regular.frames()
    ncaa_compact, ncaa_detailed = ncaa.frames()
    system_names = np.array([name for name, _, _ in MASSEY_SYSTEMS])
    massey = pd.DataFrame(
        {
            "Season": np.concatenate(
                [np.full(part[0].size, season, dtype=np.int64) for season, part in massey_parts]
            ),
            "RankingDayNum": np.concatenate([part[0] for _, part in massey_parts]),
            "SystemName": system_names[np.concatenate([part[1] for _, part in massey_parts])],
            "TeamID": FIRST_TEAM_ID + np.concatenate([part[2] for _, part in massey_parts]),
            "OrdinalRank": np.concatenate([part[3] for _, part in massey_parts]),
        }
    )
    tables = {
        "Conferences.csv": pd.DataFrame(sorted(conferences), columns=["ConfAbbrev", "Description"]),
        "MTeams.csv": pd.DataFrame(
            {
                "TeamID": team_ids,
                "TeamName": names,
                "FirstD1Season": config.first_season,
                "LastD1Season": config.last_season,
            }
        ),
        "MSeasons.csv": pd.DataFrame(
            season_rows,
            columns=["Season", "DayZero", "RegionW", "RegionX", "RegionY", "RegionZ"],
        ),
        "MTeamConferences.csv": pd.concat(membership, ignore_index=True),
        "MRegularSeasonCompactResults.csv": regular_compact,
        "MRegularSeasonDetailedResults.csv": regular_detailed,
        "MNCAATourneyCompactResults.csv": ncaa_compact,
        "MNCAATourneyDetailedResults.csv": ncaa_detailed,
        "MNCAATourneySeeds.csv": pd.DataFrame(seed_rows, columns=["Season", "Seed", "TeamID"]),
        "MNCAATourneySlots.csv": pd.DataFrame(
            slot_rows, columns=["Season", "Slot", "StrongSeed", "WeakSeed"]
        ),
        "MMasseyOrdinals.csv": massey,
    }
    return DemoLeague(tables=tables, strengths=pd.concat(truth, ignore_index=True))


def write_demo_csvs(dest: Path, config: DemoConfig = DemoConfig()) -> list[Path]:  # noqa: B008
    """Write the synthetic men's league ('M' files) into dest in Kaggle CSV layout.

    Also writes :data:`DEMO_MARKER_FILE`, holding :data:`DEMO_MARKER` and the config, so the
    importer can mark the store as demo data.

    Args:
        dest: output folder, created if missing; existing files of the same names are replaced.
        config: league settings; the same config always gives byte-identical files.

    Returns:
        the files written, CSVs first and the marker file last.
    """
    league = build_demo_league(config)
    dest.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, frame in league.tables.items():
        path = dest / name
        # A fixed "\n" keeps the bytes identical on every platform, like Kaggle's files.
        frame.to_csv(path, index=False, lineterminator="\n")
        written.append(path)
    marker = dest / DEMO_MARKER_FILE
    settings = "".join(f"{key}={value}\n" for key, value in asdict(config).items())
    marker.write_text(f"{DEMO_MARKER}\n{settings}", encoding="utf-8", newline="\n")
    written.append(marker)
    return written
