"""Elo rating math for college basketball, apart from any model wrapper.

:class:`EloEngine` holds one rating per team and walks games in time order. The same engine backs
:class:`ncaa_eval.model.elo.EloModel` and the Elo features of the feature server, so both see the
same numbers.

Formulas (ratings in Elo points, ``H`` the home edge, signed from team A's side, 0 on a neutral
court)::

    E_A = 1 / (1 + 10 ** (-(R_A + H - R_B) / 400))
    R_A += K * M * (S_A - E_A);  R_B -= the same amount       (zero-sum)
    M   = (MOV + a) ** b / (c + d * dElo_w)                    (538-style margin multiplier)
    R   = carry * R_end + (1 - carry) * mean                   (between seasons)

``dElo_w`` is the winner's pre-game edge including home; the larger it is, the less a big win
says, which damps the autocorrelation a plain margin multiplier builds up. ``mean`` is the team's
conference mean (over rated teams of that conference in the new season) or the league mean.

The hot loop of :meth:`EloEngine.walk` runs on plain Python floats in lists (numpy scalar access
per row is several times slower): one pass over the ~195,000 men's games of 1985-2025 takes a
fraction of a second. The tests check it against a plain game-by-game reference
(``tests/helpers/elo_reference.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from ncaa_eval.tunable import tunable

FloatArray = npt.NDArray[np.float64]
CarryToward = Literal["conference", "league"]


class EloConfig(BaseModel):
    """Every constant of the Elo system, validated; the defaults are tuned on men's tournaments.

    A coordinate descent from the published NCAA tuning (K 47, home edge 82, a/b/c/d
    2.5/0.7/6/0.006, carry 0.64 toward the conference mean, newcomers at 985) found them,
    minimising the walk-forward Brier of the men's main draw 1990-2014; ``ncaa-eval tune --model
    elo --tune-years 1990-2014`` searches them again, over the range each field declares
    (:func:`~ncaa_eval.tunable.tunable`; every field but the rating scale ``initial_rating`` and
    ``mean_rating``). :class:`ncaa_eval.model.elo.EloConfig` is this class as a model config.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    initial_rating: float = Field(
        default=1500.0,
        gt=0,
        description="Rating of every team in the first season walked.",
    )
    new_team_rating: float = Field(
        default=985.0,
        gt=0,
        description="Rating of a team first seen in a later season (new Division I programs).",
        json_schema_extra=tunable(850, 1400),
    )
    k: float = Field(
        default=40.0,
        ge=0,
        le=500,
        description="Update size (Elo points) of a regular-season game after early_days.",
        json_schema_extra=tunable(20, 80),
    )
    k_early: float = Field(
        default=75.0,
        ge=0,
        le=500,
        description="Update size before day early_days, when carried-over ratings are stalest.",
        json_schema_extra=tunable(20, 150),
    )
    early_days: int = Field(
        default=60,
        ge=0,
        le=200,
        description="Regular-season games with day_num below this use k_early; 0 disables it.",
        json_schema_extra=tunable(0, 80),
    )
    k_tournament: float = Field(
        default=47.0,
        ge=0,
        le=500,
        description="Update size of an NCAA tournament game (learned after it is predicted).",
        json_schema_extra=tunable(10, 100),
    )
    home_edge: float = Field(
        default=120.0,
        ge=0,
        le=400,
        description="Home-court advantage in Elo points (about 25-30 per point of spread).",
        json_schema_extra=tunable(40, 150),
    )
    use_margin: bool = Field(
        default=True,
        description="Scale updates by the damped margin multiplier; off gives win/loss Elo.",
        json_schema_extra=tunable(),
    )
    mov_a: float = Field(
        default=2.5,
        ge=0,
        le=50,
        description="Margin multiplier (MOV + a)^b / (c + d * winner edge): offset a.",
        json_schema_extra=tunable(0.5, 6),
    )
    mov_b: float = Field(
        default=0.7,
        gt=0,
        le=2,
        description="Margin multiplier exponent b (< 1: blowouts count less than linearly).",
        json_schema_extra=tunable(0.4, 1.0),
    )
    mov_c: float = Field(
        default=6.0,
        gt=0,
        le=100,
        description="Margin multiplier denominator constant c.",
        json_schema_extra=tunable(2, 15),
    )
    mov_d: float = Field(
        default=0.003,
        ge=0,
        le=0.1,
        description="Margin multiplier damping d per Elo point of the winner's pre-game edge.",
        json_schema_extra=tunable(0, 0.012),
    )
    carry_over: float = Field(
        default=0.64,
        ge=0,
        le=1,
        description="Share of a rating's deviation from the mean kept into the next season.",
        json_schema_extra=tunable(0.4, 0.9),
    )
    carry_toward: CarryToward = Field(
        default="conference",
        description="Regress between seasons toward the conference mean or the league mean.",
        json_schema_extra=tunable(),
    )
    mean_rating: float = Field(
        default=1500.0,
        gt=0,
        description="League mean; also the target of teams whose conference is unknown.",
    )


def location_sign(a_loc: Sequence[str] | npt.ArrayLike) -> FloatArray:
    """Map ``H``/``A``/``N`` (team A's side) to +1/-1/0.

    Raises:
        ValueError: a value is not one of ``H``, ``A``, ``N``.
    """
    loc = np.asarray(a_loc).astype(str)
    valid = np.isin(loc, ("H", "A", "N"))
    if not valid.all():
        bad = sorted(set(loc[~valid].tolist()))[:5]
        raise ValueError(f"team_a_loc must be 'H', 'A' or 'N'; got {bad}.")
    sign: FloatArray = (loc == "H").astype(np.float64) - (loc == "A").astype(np.float64)
    return sign


class EloEngine:
    """Ratings of every team seen, updated game by game.

    Seasons are announced with :meth:`new_season` (or implicitly by :meth:`walk`), which applies
    the carry-over. Ratings are keyed by integer team id.

    Args:
        config: the Elo constants; defaults to :class:`EloConfig`'s tuned values.
    """

    def __init__(self, config: EloConfig | None = None) -> None:
        self.config = config if config is not None else EloConfig()
        self._ratings: dict[int, float] = {}
        #: Season currently being played; None until the first season is announced.
        self.season: int | None = None
        #: The first season the engine saw: its newcomers get ``initial_rating``.
        self.first_season: int | None = None
        #: Number of games learned from.
        self.n_games = 0

    # ------------------------------------------------------------------ state access
    @property
    def ratings(self) -> dict[int, float]:
        """A copy of the current ratings of every team seen."""
        return dict(self._ratings)

    def entry_rating(self) -> float:
        """Rating an unseen team would start with now."""
        if self.season is None or self.season == self.first_season:
            return self.config.initial_rating
        return self.config.new_team_rating

    # ------------------------------------------------------------------ seasons
    def carried_ratings(self, conference_of: Mapping[int, str] | None = None) -> dict[int, float]:
        """Ratings after the between-season carry-over, without changing the engine.

        Args:
            conference_of: team id -> conference in the new season. With ``carry_toward ==
                "conference"`` a listed team regresses toward the mean of the rated teams of its
                new conference; any other team toward ``mean_rating``.
        """
        p = self.config
        targets: dict[int, float] = {}
        if p.carry_toward == "conference" and conference_of:
            sums: dict[str, float] = {}
            counts: dict[str, int] = {}
            # Summing in team order makes the means bit-identical whatever order the mapping
            # was built in (a frame split differently must not change a single prediction).
            for team, conf in sorted(conference_of.items()):
                r = self._ratings.get(team)
                if r is not None:
                    sums[conf] = sums.get(conf, 0.0) + r
                    counts[conf] = counts.get(conf, 0) + 1
            for team, conf in conference_of.items():
                if conf in counts:
                    targets[team] = sums[conf] / counts[conf]
        carry = p.carry_over
        mean = p.mean_rating
        return {
            team: carry * r + (1.0 - carry) * targets.get(team, mean)
            for team, r in self._ratings.items()
        }

    def new_season(self, season: int, conference_of: Mapping[int, str] | None = None) -> None:
        """Start ``season``: apply the carry-over (none for the first season or the same one).

        Raises:
            ValueError: ``season`` is earlier than the current one.
        """
        if self.season is None:
            self.season = self.first_season = season
            return
        if season < self.season:
            raise ValueError(
                f"Season {season} comes before the current season {self.season}: "
                "games must be walked in time order."
            )
        if season > self.season:
            self._ratings = self.carried_ratings(conference_of)
            self.season = season

    # ------------------------------------------------------------------ batches
    def predict(
        self,
        team_a: npt.ArrayLike,
        team_b: npt.ArrayLike,
        a_loc: Sequence[str] | npt.ArrayLike,
        *,
        season: int | None = None,
        conference_of: Mapping[int, str] | None = None,
    ) -> FloatArray:
        """``P(team A wins)`` for many games from the current ratings, changing nothing.

        When ``season`` is later than the current season, the ratings are first carried over (as
        :meth:`new_season` would, with ``conference_of``) in a copy.
        """
        a = np.asarray(team_a, dtype=np.int64)
        b = np.asarray(team_b, dtype=np.int64)
        if a.shape != b.shape:
            raise ValueError(f"team_a and team_b differ in length: {a.size} vs {b.size}.")
        home = location_sign(a_loc)
        if home.shape != a.shape:
            raise ValueError(f"a_loc has {home.size} values for {a.size} games.")
        if season is not None and self.season is not None and season > self.season:
            ratings = self.carried_ratings(conference_of)
            entry = self.config.new_team_rating
        else:
            ratings = self._ratings
            entry = self.entry_rating()
        ra = np.array([ratings.get(t, entry) for t in a.tolist()], dtype=np.float64)
        rb = np.array([ratings.get(t, entry) for t in b.tolist()], dtype=np.float64)
        edge = ra + home * self.config.home_edge - rb
        prob: FloatArray = 1.0 / (1.0 + np.power(10.0, -edge / 400.0))
        return prob

    def walk(
        self,
        seasons: npt.ArrayLike,
        day_nums: npt.ArrayLike,
        team_a: npt.ArrayLike,
        team_b: npt.ArrayLike,
        score_a: npt.ArrayLike,
        score_b: npt.ArrayLike,
        a_loc: Sequence[str] | npt.ArrayLike,
        is_tournament: npt.ArrayLike | None = None,
        *,
        conferences: Mapping[int, Mapping[int, str]] | None = None,
        freeze_tournament: bool = False,
    ) -> FloatArray:
        """Learn from played games in time order; return each one's pre-game ``P(A wins)``.

        Args:
            seasons: season of each game, non-decreasing and not before the current season. A
                change of season applies the carry-over with ``conferences[season]``.
            day_nums: day of the season (Kaggle ``DayNum``), non-decreasing within a season.
            team_a: team A's id per game.
            team_b: team B's id per game.
            score_a: team A's points (no NaN: only played games can be learned from).
            score_b: team B's points.
            a_loc: ``H``/``A``/``N`` from team A's side.
            is_tournament: True for NCAA tournament games (``k_tournament``); default all False.
            conferences: season -> (team id -> conference), for the carry-over.
            freeze_tournament: predict every tournament game of a season from the ratings frozen
                before that season's first tournament game in this call, as a forecast submitted
                before the tournament would be; ratings still learn from each game. Pass a
                season's whole tournament in one call for a true freeze.

        Raises:
            ValueError: lengths differ, scores are missing, a location is invalid or the games
                are not in time order.
        """
        return self._walk(
            seasons,
            day_nums,
            team_a,
            team_b,
            score_a,
            score_b,
            a_loc,
            is_tournament,
            conferences,
            freeze_tournament,
        )

    def _walk(
        self,
        seasons_in: npt.ArrayLike,
        day_nums_in: npt.ArrayLike,
        team_a_in: npt.ArrayLike,
        team_b_in: npt.ArrayLike,
        score_a_in: npt.ArrayLike,
        score_b_in: npt.ArrayLike,
        a_loc: Sequence[str] | npt.ArrayLike,
        is_tournament_in: npt.ArrayLike | None,
        conferences: Mapping[int, Mapping[int, str]] | None,
        freeze_tournament: bool,
    ) -> FloatArray:
        season_arr = np.asarray(seasons_in, dtype=np.int64)
        n = season_arr.size
        day_arr = np.asarray(day_nums_in, dtype=np.int64)
        a_arr = np.asarray(team_a_in, dtype=np.int64)
        b_arr = np.asarray(team_b_in, dtype=np.int64)
        sa_arr = np.asarray(score_a_in, dtype=np.float64)
        sb_arr = np.asarray(score_b_in, dtype=np.float64)
        home_arr = location_sign(a_loc)
        tour_arr = (
            np.zeros(n, dtype=bool)
            if is_tournament_in is None
            else np.asarray(is_tournament_in, dtype=bool)
        )
        _check_walk_inputs(
            self.season, season_arr, day_arr, a_arr, b_arr, sa_arr, sb_arr, home_arr, tour_arr
        )
        if n == 0:
            return np.empty(0, dtype=np.float64)

        # Dense team indices so the loop indexes a list instead of hashing into a dict.
        team_ids, inverse = np.unique(np.concatenate([a_arr, b_arr]), return_inverse=True)
        teams: list[int] = team_ids.tolist()
        ia: list[int] = inverse[:n].tolist()
        ib: list[int] = inverse[n:].tolist()
        seasons: list[int] = season_arr.tolist()
        days: list[int] = day_arr.tolist()
        sa: list[float] = sa_arr.tolist()
        sb: list[float] = sb_arr.tolist()
        p = self.config
        home_edge = p.home_edge
        homes: list[float] = (home_arr * home_edge).tolist()
        tour: list[bool] = tour_arr.tolist()

        k_reg, k_early, k_tour, early_days = p.k, p.k_early, p.k_tournament, p.early_days
        use_margin = p.use_margin
        ma, mb, mc, md = p.mov_a, p.mov_b, p.mov_c, p.mov_d
        # A huge upset would drive the denominator to zero or below; half of c caps the boost at
        # twice that of an even game (a 500-point underdog winning, with the default d).
        min_den = 0.5 * mc

        probs = [0.0] * n
        r: list[float | None] = [self._ratings.get(t) for t in teams]
        entry = self.entry_rating()
        current = self.season
        frozen: list[float | None] | None = None
        frozen_season: int | None = None

        for i in range(n):
            s = seasons[i]
            if s != current:
                self._store(teams, r)
                self.new_season(s, conferences.get(s) if conferences else None)
                r = [self._ratings.get(t) for t in teams]
                entry = self.entry_rating()
                current = s
            x = ia[i]
            y = ib[i]
            ra = r[x]
            if ra is None:
                ra = entry
            rb = r[y]
            if rb is None:
                rb = entry
            edge = ra + homes[i] - rb
            e_a = 1.0 / (1.0 + 10.0 ** (-edge / 400.0))
            is_tour = tour[i]
            if is_tour:
                k = k_tour
                if freeze_tournament:
                    if frozen_season != s:
                        frozen = list(r)
                        frozen_season = s
                    assert frozen is not None
                    fa = frozen[x]
                    fb = frozen[y]
                    fa = entry if fa is None else fa
                    fb = entry if fb is None else fb
                    probs[i] = 1.0 / (1.0 + 10.0 ** (-(fa + homes[i] - fb) / 400.0))
                else:
                    probs[i] = e_a
            else:
                k = k_early if days[i] < early_days else k_reg
                probs[i] = e_a
            mov = sa[i] - sb[i]
            if mov > 0.0:
                delta = 1.0 - e_a
                if use_margin:
                    den = mc + md * edge
                    delta *= (mov + ma) ** mb / (den if den > min_den else min_den)
            elif mov < 0.0:
                delta = -e_a
                if use_margin:
                    den = mc - md * edge
                    delta *= (ma - mov) ** mb / (den if den > min_den else min_den)
            else:
                delta = 0.5 - e_a
                if use_margin:
                    delta *= ma**mb / mc
            delta *= k
            r[x] = ra + delta
            r[y] = rb - delta

        self._store(teams, r)
        self.n_games += n
        return np.array(probs, dtype=np.float64)

    def _store(self, teams: list[int], dense: list[float | None]) -> None:
        ratings = self._ratings
        for team, value in zip(teams, dense, strict=True):
            if value is not None:
                ratings[team] = value

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, Any]:
        """The engine's parameters and state as JSON-ready data."""
        return {
            "config": self.config.model_dump(mode="json"),
            "season": self.season,
            "first_season": self.first_season,
            "n_games": self.n_games,
            "ratings": {str(team): value for team, value in sorted(self._ratings.items())},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], config: EloConfig | None = None) -> EloEngine:
        """Rebuild an engine from :meth:`to_dict` output (``config`` overrides the stored one)."""
        engine = cls(config if config is not None else EloConfig.model_validate(data["config"]))
        engine.season = None if data["season"] is None else int(data["season"])
        engine.first_season = None if data["first_season"] is None else int(data["first_season"])
        engine.n_games = int(data["n_games"])
        engine._ratings = {int(team): float(value) for team, value in data["ratings"].items()}
        return engine


def _check_walk_inputs(
    current_season: int | None,
    seasons: npt.NDArray[np.int64],
    days: npt.NDArray[np.int64],
    team_a: npt.NDArray[np.int64],
    team_b: npt.NDArray[np.int64],
    score_a: FloatArray,
    score_b: FloatArray,
    home: FloatArray,
    tournament: npt.NDArray[np.bool_],
) -> None:
    n = seasons.size
    arrays = {
        "day_nums": days,
        "team_a": team_a,
        "team_b": team_b,
        "score_a": score_a,
        "score_b": score_b,
        "a_loc": home,
        "is_tournament": tournament,
    }
    for name, values in arrays.items():
        if values.shape != (n,):
            raise ValueError(f"{name} has shape {values.shape}; expected ({n},) like seasons.")
    if n == 0:
        return
    if np.isnan(score_a).any() or np.isnan(score_b).any():
        raise ValueError("Scores must not be missing: only played games can be learned from.")
    if current_season is not None and seasons[0] < current_season:
        raise ValueError(
            f"Games of season {int(seasons[0])} come after season {current_season} was played: "
            "games must be walked in time order."
        )
    season_step = np.diff(seasons)
    if (season_step < 0).any():
        i = int(np.argmax(season_step < 0))
        raise ValueError(
            f"Games are not in time order: season {int(seasons[i + 1])} follows "
            f"season {int(seasons[i])} at row {i + 1}."
        )
    day_back = (np.diff(days) < 0) & (season_step == 0)
    if day_back.any():
        i = int(np.argmax(day_back))
        raise ValueError(
            f"Games are not in time order: day {int(days[i + 1])} follows day {int(days[i])} "
            f"of season {int(seasons[i])} at row {i + 1}."
        )
