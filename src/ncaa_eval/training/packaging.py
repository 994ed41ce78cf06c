"""The pre-tournament state of the last forecast season's teams, for a run's packaged model."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import numpy as np
import pandas as pd

from ncaa_eval.evaluation.walk_forward import WalkForwardResult
from ncaa_eval.ingest.repository import ParquetRepository
from ncaa_eval.model.packaged import PackagedMember, TeamState, write_packaged
from ncaa_eval.transform.feature_serving import TeamSnapshot
from ncaa_eval.transform.matchups import conference_map


def last_season_teams(result: WalkForwardResult, repository: ParquetRepository) -> TeamState:
    """Every team of the last forecast season: conference, seed and (stateless) features.

    The teams are those that played a game in the season plus the seeded ones; the features
    are the snapshot the walk-forward froze before that season's tournament.
    """
    league, season = result.league, result.seasons[-1]
    games = repository.games(league, [season])
    seeds = repository.seeds(league)
    seeds = seeds[seeds["season"] == season]
    ids = np.array(
        sorted(
            set(games["w_team_id"].astype(int))
            | set(games["l_team_id"].astype(int))
            | set(seeds["team_id"].astype(int))
        ),
        dtype=np.int64,
    )
    conferences = conference_map(repository.conferences(league)).get(season, {})
    seed_of = dict(
        zip(seeds["team_id"].astype(int), seeds["seed_number"].astype(float), strict=True)
    )
    teams = pd.DataFrame(
        {
            "team_id": ids,
            "conference": [conferences.get(int(t)) for t in ids],
            "seed": [seed_of.get(int(t), np.nan) for t in ids],
        }
    )
    snapshot = None
    features = result.feature_set
    if features is not None:
        full = features.tournament_snapshots[season]
        rows = np.searchsorted(features.team_ids, ids)
        found = features.team_ids[np.minimum(rows, len(features.team_ids) - 1)] == ids
        if not found.all():
            # The feature server walks every game and seed of the history: this is a bug.
            missing = ", ".join(str(t) for t in ids[~found][:5])
            raise RuntimeError(f"No pre-tournament features for team {missing} of {season}.")
        # Every per-team array of the snapshot, whatever fields it grows.
        per_team = {
            f.name: getattr(full, f.name)[rows]
            for f in fields(TeamSnapshot)
            if f.name != "ordinal_by_system"
        }
        snapshot = TeamSnapshot(
            **per_team,
            ordinal_by_system={k: v[rows] for k, v in full.ordinal_by_system.items()},
        )
    return TeamState(teams, snapshot)


def package_result(dest: Path, result: WalkForwardResult, repository: ParquetRepository) -> Path:
    """Package the walk-forward's last-season forecaster into the new folder ``dest``.

    An ensemble's members are packaged inside it, each with its own teams' state and columns,
    from its own walk-forward (:attr:`WalkForwardResult.members`).
    """
    assert result.forecaster is not None
    members = {
        name: PackagedMember(
            member.forecaster,
            last_season_teams(member, repository),
            _columns(member),
        )
        for name, member in result.members.items()
        if member.forecaster is not None
    }
    return write_packaged(
        dest,
        forecaster=result.forecaster,
        league=result.league,
        season=result.seasons[-1],
        state=last_season_teams(result, repository),
        feature_columns=_columns(result),
        members=members or None,
    )


def _columns(result: WalkForwardResult) -> list[str] | None:
    return None if result.feature_set is None else list(result.feature_set.feature_columns)
