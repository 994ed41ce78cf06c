"""What the feature server serves: its configuration, the team snapshot and the columns' directions.

:class:`FeatureConfig` switches each feature on or off and holds its constants;
:class:`TeamSnapshot` holds every team's values at one point of the walk
(:mod:`ncaa_eval.transform.feature_serving`, whose docstring lists the columns);
:data:`FEATURE_DIRECTIONS` says how each column moves P(team A wins).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

FloatArray = npt.NDArray[np.float64]


class FeatureConfig(BaseModel):
    """Which features to serve and their constants."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    elo: bool = Field(True, description="Serve elo_diff from the tuned Elo ratings.")
    margin_rating: bool = Field(True, description="Serve the least-squares margin rating.")
    margin_cap: float = Field(
        20.0, gt=0, le=100, description="Margins are capped at this many points (blowouts)."
    )
    margin_prior_games: float = Field(
        3.0, gt=0, le=100, description="Weight of the preseason prior, in games, per team."
    )
    margin_carry: float = Field(
        0.6, ge=0, le=1, description="Share of last season's margin rating kept as the prior."
    )
    margin_half_life_days: float | None = Field(
        None,
        gt=0,
        le=1000,
        description=(
            "Recency weighting of the margin rating: a game's weight halves every this many "
            "days before the rating day; None weighs every game of the season equally."
        ),
    )
    rating_every_days: int = Field(
        7, ge=1, le=60, description="Recompute the margin rating every this many days."
    )
    fresh_tournament_rating: bool = Field(
        # Off by default so that a config saved before this field existed loads (predict,
        # bracket) with the behaviour it was trained with; the tuned defaults turn it on.
        False,
        description=(
            "Re-solve the margin rating for the tournament snapshot from every regular-season "
            "game (conference tournaments included) instead of reusing the last periodic solve."
        ),
    )
    efficiency: bool = Field(True, description="Serve net efficiency from box scores.")
    adjusted_efficiency: bool = Field(
        # Off by default so that a config saved before this field existed loads as trained.
        False,
        description=(
            "Serve opponent- and court-adjusted offence and defence (points per 100 "
            "possessions), pace and the margin they predict, from box scores."
        ),
    )
    efficiency_prior_games: float = Field(
        3.0,
        gt=0,
        le=100,
        description="Weight, in games, of each team's prior in the adjusted-efficiency fit.",
    )
    efficiency_carry: float = Field(
        0.6,
        ge=0,
        le=1,
        description=(
            "Share of last season's adjusted offence, defence and pace (relative to the league) "
            "kept as the prior; 0 shrinks every team toward the league average."
        ),
    )
    efficiency_half_life_days: float | None = Field(
        None,
        gt=0,
        le=1000,
        description=(
            "Recency weighting of the adjusted efficiency: a game's weight halves every this "
            "many days before the rating day; None weighs every game of the season equally."
        ),
    )
    form: bool = Field(True, description="Serve recent form and season winning share.")
    form_games: int = Field(10, ge=1, le=40, description="Games in the recent-form window.")
    ordinals: bool = Field(True, description="Serve the Massey ordinal composite (men).")
    ordinal_systems: tuple[str, ...] = Field(
        ("POM", "SAG", "MOR", "WLK", "DOL", "COL"),
        min_length=1,
        description=(
            "Massey systems averaged (mean log rank) in the composite; a season ranked by none "
            "of them uses every system it has."
        ),
    )
    ordinal_system_columns: tuple[str, ...] = Field(
        (),
        description=(
            "Massey systems each served on its own as ordinal_<SYSTEM>_diff (log rank, last "
            "ranking day before the game); missing where that system did not rank."
        ),
    )
    seeds: bool = Field(True, description="Serve seed_diff for tournament games.")
    court: bool = Field(True, description="Serve court: +1 A home, -1 A away, 0 neutral.")

    def feature_columns(self) -> list[str]:
        """Columns served for this config, in a fixed order."""
        cols = []
        if self.elo:
            cols.append("elo_diff")
        if self.margin_rating:
            cols.append("margin_rating_diff")
        if self.efficiency:
            cols.append("net_eff_diff")
        if self.adjusted_efficiency:
            cols += list(ADJUSTED_EFFICIENCY_COLUMNS)
        if self.form:
            cols += ["form_margin_diff", "win_pct_diff"]
        if self.ordinals:
            cols.append("ordinal_diff")
        cols += [ordinal_column(system) for system in self.ordinal_system_columns]
        if self.seeds:
            cols.append("seed_diff")
        if self.court:
            cols.append("court")
        return cols


@dataclass
class TeamSnapshot:
    """Every team's feature values at one point in time (team-indexed arrays)."""

    elo: FloatArray
    margin_rating: FloatArray
    net_eff: FloatArray
    #: Adjusted offence and defence (points scored and allowed per 100 possessions) and tempo
    #: (half the possessions of a 40-minute game), as in
    #: :class:`~ncaa_eval.ratings.efficiency.EfficiencyRatings`; NaN before a season's first box
    #: score.
    adj_off: FloatArray
    adj_def: FloatArray
    adj_tempo: FloatArray
    form_margin: FloatArray
    win_pct: FloatArray
    ordinal: FloatArray
    #: Log rank of each system of ``FeatureConfig.ordinal_system_columns``.
    ordinal_by_system: dict[str, FloatArray] = field(default_factory=dict)


def ordinal_column(system: str) -> str:
    """The column of one Massey system's log-rank difference."""
    return f"ordinal_{system}_diff"


#: The columns of ``FeatureConfig.adjusted_efficiency``, in order.
ADJUSTED_EFFICIENCY_COLUMNS = ("adj_off_diff", "adj_def_diff", "pace_diff", "adj_margin_diff")

#: How each served column moves P(team A wins) when it grows: +1 up, -1 down (a larger log rank
#: or seed number is a weaker team, more points allowed a weaker defence), 0 neither (pace).
#: Every served column is antisymmetric: swapping A and B negates it (a difference A minus B, or
#: the court sign).
FEATURE_DIRECTIONS: dict[str, int] = {
    "elo_diff": 1,
    "margin_rating_diff": 1,
    "net_eff_diff": 1,
    "adj_off_diff": 1,
    "adj_def_diff": -1,
    "pace_diff": 0,
    "adj_margin_diff": 1,
    "form_margin_diff": 1,
    "win_pct_diff": 1,
    "ordinal_diff": -1,
    "seed_diff": -1,
    "court": 1,
}


def feature_direction(column: str) -> int | None:
    """The direction of a served column (:data:`FEATURE_DIRECTIONS`); None if not served here."""
    if column in FEATURE_DIRECTIONS:
        return FEATURE_DIRECTIONS[column]
    if column.startswith("ordinal_") and column.endswith("_diff"):
        return -1
    return None


__all__ = [
    "ADJUSTED_EFFICIENCY_COLUMNS",
    "FEATURE_DIRECTIONS",
    "FeatureConfig",
    "FloatArray",
    "TeamSnapshot",
    "feature_direction",
    "ordinal_column",
]
