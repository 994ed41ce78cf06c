"""A fitted forecaster packaged with everything it needs to answer for one season, no data store.

A training run packages the model exactly as it forecast its last tournament (fitted on the games
before it) together with each team's pre-tournament state, so that the run's MLflow Model can
answer ``P(team A beats team B)`` for any pair of that season's Division I teams, anywhere:

``<folder>/``
    ``forecaster.json``  model name, league, season, the feature columns the model was fitted
                         on, format version
    ``model/``           the model's own files (:meth:`Model.save`: JSON, XGBoost UBJ; no pickle)
    ``teams.parquet``    one row per team of the season: ``team_id``, ``conference``, ``seed``
                         and, for a stateless model, the team's pre-tournament feature values
    ``members/<name>/``  an ensemble's members, each a packaged folder of its own (its
                         ``model/`` holds the blend: the weights it forecast the season with)

Nothing in it has seen a game of that season's tournament: the model fitted through it (which
``predict`` carries on to later seasons) is a separate artifact of the run.

A team or season the package does not know is refused with an error naming it
(:class:`UnknownMatchupError`), never given an invented probability.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from ncaa_eval import LEAGUE_NAMES
from ncaa_eval.errors import NcaaEvalError
from ncaa_eval.model.base import GAME_COLUMNS, FeatureModelConfig, Model
from ncaa_eval.model.ensemble import MEMBERS_DIR, EnsembleModel
from ncaa_eval.model.registry import get_model
from ncaa_eval.ratings.elo import location_sign
from ncaa_eval.transform.feature_serving import FeatureConfig, FeatureSet, TeamSnapshot

FORMAT = 1
INFO_FILE = "forecaster.json"
TEAMS_FILE = "teams.parquet"
MODEL_DIR = "model"
#: Where the loader of a packaged forecaster lives, for the MLflow Model's config.
LOADER = "ncaa_eval.model.packaged:load_packaged"

#: Snapshot fields stored per team for a stateless model (besides the per-system ordinals).
_SNAPSHOT_FIELDS = (
    "elo", "margin_rating", "net_eff", "adj_off", "adj_def", "adj_tempo", "form_margin",
    "win_pct", "ordinal",
)  # fmt: skip
_ORDINAL_PREFIX = "ordinal_system_"


class UnknownMatchupError(NcaaEvalError, ValueError):
    """A request names a season, team or column the packaged forecaster cannot answer for."""


@dataclass(frozen=True)
class TeamState:
    """The teams of the packaged season, with their pre-tournament state.

    Args:
        teams: one row per team: ``team_id`` (int), ``conference`` (str or None), ``seed``
            (seed number or NaN).
        snapshot: every team's pre-tournament feature values, aligned with ``teams`` (stateless
            models only).
    """

    teams: pd.DataFrame
    snapshot: TeamSnapshot | None


@dataclass(frozen=True)
class PackagedMember:
    """What :func:`write_packaged` needs of one member of an ensemble."""

    forecaster: Model
    state: TeamState
    feature_columns: list[str] | None = None


def write_packaged(
    dest: Path,
    *,
    forecaster: Model,
    league: str,
    season: int,
    state: TeamState,
    feature_columns: list[str] | None = None,
    members: Mapping[str, PackagedMember] | None = None,
) -> Path:
    """Write a packaged forecaster into the new folder ``dest`` and return it.

    Args:
        feature_columns: for a stateless model, the columns it was fitted on, in order (the
            walk-forward drops a column no game has, e.g. ranks in the women's data).
        members: for an ensemble, each member's forecaster and teams, packaged in
            ``members/<name>/``.
    """
    names: list[str] | None = None
    if isinstance(forecaster, EnsembleModel):
        names = list(forecaster.members)
        if members is None or sorted(members) != sorted(names):
            raise ValueError(f"An ensemble is packaged with its members {names}.")
    dest.mkdir(parents=True, exist_ok=False)
    if isinstance(forecaster, EnsembleModel):
        forecaster.blend_only().save(dest / MODEL_DIR)
        for name in names or []:
            assert members is not None
            m = members[name]
            write_packaged(
                dest / MEMBERS_DIR / name,
                forecaster=m.forecaster,
                league=league,
                season=season,
                state=m.state,
                feature_columns=m.feature_columns,
            )
    else:
        forecaster.save(dest / MODEL_DIR)
    teams = state.teams[["team_id", "conference", "seed"]].copy()
    teams["team_id"] = teams["team_id"].astype("int64")
    teams["seed"] = teams["seed"].astype("float64")
    snap = state.snapshot
    if snap is not None:
        for name in _SNAPSHOT_FIELDS:
            teams[name] = np.asarray(getattr(snap, name), dtype=np.float64)
        for system, values in snap.ordinal_by_system.items():
            teams[f"{_ORDINAL_PREFIX}{system}"] = np.asarray(values, dtype=np.float64)
    teams.to_parquet(dest / TEAMS_FILE, index=False)
    info = {
        "format": FORMAT,
        "model": forecaster.name,
        "league": league,
        "season": season,
        "stateful": forecaster.stateful,
        "feature_columns": feature_columns,
    }
    if names is not None:
        info["members"] = names
    (dest / INFO_FILE).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return dest


class PackagedForecaster:
    """``P(team A beats team B)`` for pairs of one season's teams, from a packaged folder.

    Use :func:`load_packaged`. :meth:`predict` takes the input of the run's MLflow Model.
    """

    def __init__(self, folder: Path) -> None:
        info = json.loads((folder / INFO_FILE).read_text(encoding="utf-8"))
        if info.get("format") != FORMAT:
            raise NcaaEvalError(
                f"{folder}: packaged forecaster format {info.get('format')!r} is not {FORMAT}; "
                "use the ncaa-eval version that trained it."
            )
        self.folder = folder
        self.model_type: str = info["model"]
        self.league: str = info["league"]
        self.season: int = int(info["season"])
        cls = get_model(self.model_type)
        self.model = cls.load(folder / MODEL_DIR)
        teams = pd.read_parquet(folder / TEAMS_FILE)
        self.team_ids: npt.NDArray[np.int64] = teams["team_id"].to_numpy(dtype=np.int64)
        order = np.argsort(self.team_ids)
        teams = teams.iloc[order].reset_index(drop=True)
        self.team_ids = self.team_ids[order]
        self.teams = teams
        self._known = set(self.team_ids.tolist())
        conf = teams["conference"].tolist()
        self._conferences = {
            self.season: {
                int(t): str(c) for t, c in zip(self.team_ids, conf, strict=True) if pd.notna(c)
            }
        }
        seeded = teams[teams["seed"].notna()]
        self.seeds = dict(
            zip(seeded["team_id"].astype(int), seeded["seed"].astype(int), strict=True)
        )
        #: An ensemble's members, each answering for itself before the blend.
        self.members = {
            name: PackagedForecaster(folder / MEMBERS_DIR / name)
            for name in info.get("members") or []
        }
        self._features: FeatureSet | None = None
        if not cls.stateful and not cls.composite:
            config = self.model.get_config()
            features = (
                config.features if isinstance(config, FeatureModelConfig) else FeatureConfig()
            )
            systems = {
                c.removeprefix(_ORDINAL_PREFIX): teams[c].to_numpy(dtype=np.float64)
                for c in teams.columns
                if c.startswith(_ORDINAL_PREFIX)
            }
            # A folder packaged before a field existed lacks its column: NaN (not served).
            snapshot = TeamSnapshot(
                **{
                    f: teams[f].to_numpy(dtype=np.float64)
                    if f in teams.columns
                    else np.full(len(teams), np.nan)
                    for f in _SNAPSHOT_FIELDS
                },
                ordinal_by_system=systems,
            )
            self._features = FeatureSet(
                frame=pd.DataFrame(),
                feature_columns=list(info.get("feature_columns") or features.feature_columns()),
                tournament_snapshots={self.season: snapshot},
                team_ids=self.team_ids,
                seeds={self.season: self.seeds},
                conferences=self._conferences,
                config=features,
            )

    @property
    def tournament_teams(self) -> list[int]:
        """The season's seeded teams."""
        return sorted(self.seeds)

    @property
    def all_teams(self) -> list[int]:
        """Every team that played a Division I game in the season (and every seeded team)."""
        return [int(t) for t in self.team_ids]

    def predict(self, frame: pd.DataFrame) -> npt.NDArray[np.float64]:
        """``P(team A wins)`` for each row of ``frame``.

        ``frame`` holds ``season``, ``team_a_id``, ``team_b_id``, or Kaggle's submission ``ID``
        (``2025_1103_1106``); optionally ``team_a_loc`` (``H``/``A``/``N`` from team A's side,
        default ``N``, a neutral court as in the NCAA tournament). Team A may be either id.

        Raises:
            UnknownMatchupError: a missing column, another season, an unknown team, a team paired
                with itself, or a bad court.
        """
        season, team_a, team_b = _matchups(frame)
        bad_season = sorted(set(season[season != self.season].tolist()))
        if bad_season:
            raise UnknownMatchupError(
                f"This model forecasts season {self.season} ({LEAGUE_NAMES[self.league]}) only; "
                f"got season {bad_season[0]}. For another season use `ncaa-eval predict` with "
                "the source run, which refits its config on the data store."
            )
        unknown = sorted({int(t) for t in np.concatenate([team_a, team_b])} - self._known)
        if unknown:
            shown = ", ".join(str(t) for t in unknown[:5])
            raise UnknownMatchupError(
                f"Team {shown} played no Division I game in {self.season} "
                f"({LEAGUE_NAMES[self.league]}): this model knows {len(self._known)} teams of "
                "that season; check the TeamIDs and the league."
            )
        same = team_a == team_b
        if same.any():
            raise UnknownMatchupError(
                f"Row {int(np.flatnonzero(same)[0])}: team {int(team_a[same][0])} cannot play "
                "itself; give two different teams."
            )
        loc = (
            frame["team_a_loc"].fillna("N").astype(str).str.upper().to_numpy()
            if "team_a_loc" in frame.columns
            else np.full(len(frame), "N")
        )
        try:
            court = location_sign(loc)
        except ValueError as exc:
            raise UnknownMatchupError(f"team_a_loc: {exc}") from exc
        # The model answers for team A the lower id (the Kaggle convention); flip the others.
        swap = team_a > team_b
        low = np.where(swap, team_b, team_a)
        high = np.where(swap, team_a, team_b)
        court = np.where(swap, -court, court)
        p = self._predict_oriented(low, high, court)
        return np.where(swap, 1.0 - p, p)

    def _predict_oriented(
        self,
        low: npt.NDArray[np.int64],
        high: npt.NDArray[np.int64],
        court: npt.NDArray[np.float64],
    ) -> npt.NDArray[np.float64]:
        if len(low) == 0:
            return np.zeros(0)
        if self.members:
            each = {n: m._predict_oriented(low, high, court) for n, m in self.members.items()}
            return np.clip(self.model.predict_proba(pd.DataFrame(each)), 0.0, 1.0)
        conf = self._conferences[self.season]
        rows = pd.DataFrame(
            {
                "game_id": [f"{self.season}_{a}_{b}" for a, b in zip(low, high, strict=True)],
                "season": self.season,
                # Any day of the season: the state is frozen before its tournament.
                "day_num": 134,
                "team_a_id": low,
                "team_b_id": high,
                "team_a_score": np.nan,
                "team_b_score": np.nan,
                "team_a_loc": np.select([court > 0, court < 0], ["H", "A"], "N"),
                "num_ot": 0,
                "is_tournament": True,
                "team_a_conf": [conf.get(int(t)) for t in low],
                "team_b_conf": [conf.get(int(t)) for t in high],
            }
        )
        if self._features is None:
            p = self.model.predict_proba(rows[list(GAME_COLUMNS)])
        else:
            X = self._features.pair_features(self.season, rows, court.astype(np.float64))
            p = self.model.predict_proba(X[self._features.feature_columns])
        return np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0)


def load_packaged(folder: str | Path) -> PackagedForecaster:
    """Load a folder written by :func:`write_packaged`."""
    return PackagedForecaster(Path(folder))


def _matchups(
    frame: Any,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Season, team A and team B of each row, from the three columns or Kaggle's ``ID``."""
    if not isinstance(frame, pd.DataFrame):
        raise UnknownMatchupError(
            "The input must be a table with columns season, team_a_id, team_b_id (or ID)."
        )
    columns = ("season", "team_a_id", "team_b_id")
    try:
        if all(c in frame.columns for c in columns):
            values = [pd.to_numeric(frame[c], errors="raise") for c in columns]
            if any(v.isna().any() for v in values):
                raise ValueError("a value is missing")
            if any((v != np.floor(v)).any() for v in values):
                raise ValueError("a value is not a whole number")
            season, a, b = (v.to_numpy(dtype=np.int64) for v in values)
            return season, a, b
        if "ID" in frame.columns:
            parts = frame["ID"].astype(str).str.split("_", expand=True)
            if parts.shape[1] != 3:
                raise ValueError("an ID is not SSSS_AAAA_BBBB")
            ints = [np.asarray(parts[i].astype(np.int64), dtype=np.int64) for i in range(3)]
            return ints[0], ints[1], ints[2]
    except (ValueError, TypeError) as exc:
        raise UnknownMatchupError(
            f"Cannot read the matchups ({exc}): season, team_a_id and team_b_id must be whole "
            "numbers, and an ID reads like 2025_1103_1106."
        ) from exc
    have = ", ".join(str(c) for c in frame.columns) or "none"
    raise UnknownMatchupError(
        f"The input needs columns season, team_a_id, team_b_id (or Kaggle's ID); it has: {have}."
    )
