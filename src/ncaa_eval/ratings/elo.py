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
fraction of a second.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal, NamedTuple

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
Location = Literal["H", "A", "N"]
CarryToward = Literal["conference", "league"]

_LOC_SIGN: dict[str, float] = {"H": 1.0, "A": -1.0, "N": 0.0}


@dataclass(frozen=True, slots=True)
class EloParams:
    """Every constant of the Elo system; the defaults are tuned on men's tournaments before 2015.

    A coordinate descent from the published NCAA tuning (K 47, home edge 82, a/b/c/d
    2.5/0.7/6/0.006, carry 0.64 toward the conference mean, newcomers at 985) found them,
    minimising the walk-forward Brier of the men's main draw 1990-2014; ``ncaa-eval tune --model
    elo --tune-years 1990-2014`` searches them again.
    :class:`ncaa_eval.model.elo.EloConfig` mirrors these fields with constraints and descriptions.
    """

    #: Rating of every team in the first season the engine sees.
    initial_rating: float = 1500.0
    #: Rating of a team first seen in a later season (new Division I programs start weak).
    new_team_rating: float = 985.0
    #: Update size of a regular-season game after the first ``early_days`` days.
    k: float = 40.0
    #: Update size early in a season, when carried-over ratings are least reliable.
    k_early: float = 75.0
    #: Games with ``day_num`` below this use ``k_early`` (day 60 is about New Year, when
    #: conference play starts); 0 disables the early K.
    early_days: int = 60
    #: Update size of an NCAA tournament game.
    k_tournament: float = 47.0
    #: Home-court advantage in Elo points (about 25-30 points of Elo per point of spread).
    home_edge: float = 120.0
    #: Scale updates by the margin of victory; False gives classic win/loss Elo (M = 1).
    use_margin: bool = True
    #: Margin multiplier ``(MOV + a) ** b / (c + d * dElo_w)``: offset a.
    mov_a: float = 2.5
    #: Margin multiplier exponent b (< 1: diminishing returns of running up the score).
    mov_b: float = 0.7
    #: Margin multiplier denominator constant c.
    mov_c: float = 6.0
    #: Margin multiplier autocorrelation damping d (per Elo point of the winner's edge).
    mov_d: float = 0.003
    #: Share of last season's deviation from the mean a rating keeps into the next season.
    carry_over: float = 0.64
    #: What ratings regress toward between seasons: the conference mean or the league mean.
    carry_toward: CarryToward = "conference"
    #: The league mean (also the fallback for a team whose conference is unknown).
    mean_rating: float = 1500.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.carry_over <= 1.0:
            raise ValueError(f"carry_over must be in [0, 1], got {self.carry_over}.")
        if self.carry_toward not in ("conference", "league"):
            raise ValueError(
                f"carry_toward must be 'conference' or 'league', got {self.carry_toward!r}."
            )
        for name in ("k", "k_early", "k_tournament", "mov_c"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}.")
        if self.use_margin and self.mov_c <= 0:
            raise ValueError(f"mov_c must be > 0 when use_margin is on, got {self.mov_c}.")


class WalkResult(NamedTuple):
    """Pre-game numbers of each game walked, in input order."""

    #: ``P(team A wins)`` before the game, home edge included.
    prob: FloatArray
    #: Team A's rating before the game (no home edge).
    rating_a: FloatArray
    #: Team B's rating before the game (no home edge).
    rating_b: FloatArray


def expected_score(rating_a: float, rating_b: float, home: float = 0.0) -> float:
    """``E_A`` for ratings ``rating_a``/``rating_b`` with ``home`` Elo points added to A."""
    return 1.0 / (1.0 + float(10.0 ** (-(rating_a + home - rating_b) / 400.0)))


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
        params: the Elo constants; defaults to :class:`EloParams`'s tuned values.
    """

    def __init__(self, params: EloParams | None = None) -> None:
        self.params = params if params is not None else EloParams()
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
            return self.params.initial_rating
        return self.params.new_team_rating

    def rating(self, team: int) -> float:
        """Current rating of ``team`` (its entry rating when never seen)."""
        return self._ratings.get(team, self.entry_rating())

    # ------------------------------------------------------------------ single games
    def expected(self, team_a: int, team_b: int, a_loc: Location = "N") -> float:
        """``P(team A beats team B)`` from the current ratings; ``a_loc`` is A's side."""
        home = _LOC_SIGN[a_loc] * self.params.home_edge
        return expected_score(self.rating(team_a), self.rating(team_b), home)

    def margin_multiplier(self, mov: float, winner_edge: float) -> float:
        """The margin multiplier ``M`` for a win by ``mov`` points with ``winner_edge`` Elo."""
        p = self.params
        if not p.use_margin:
            return 1.0
        # A huge upset would drive the denominator to zero or below; half of c caps the boost
        # at twice that of an even game (a 500-point underdog winning, with the default d).
        boost = float((mov + p.mov_a) ** p.mov_b)
        return boost / max(p.mov_c + p.mov_d * winner_edge, 0.5 * p.mov_c)

    def k_factor(self, day_num: int | None = None, is_tournament: bool = False) -> float:
        """The K of a game on ``day_num`` (tournament K first, then the early-season K)."""
        p = self.params
        if is_tournament:
            return p.k_tournament
        if day_num is not None and day_num < p.early_days:
            return p.k_early
        return p.k

    def process_game(
        self,
        team_a: int,
        team_b: int,
        score_a: float,
        score_b: float,
        a_loc: Location = "N",
        *,
        day_num: int | None = None,
        is_tournament: bool = False,
    ) -> float:
        """Learn from one played game and return its pre-game ``P(team A wins)``."""
        ra = self.rating(team_a)
        rb = self.rating(team_b)
        edge = ra + _LOC_SIGN[a_loc] * self.params.home_edge - rb
        e_a = expected_score(edge, 0.0)
        mov = score_a - score_b
        s_a = 1.0 if mov > 0 else (0.0 if mov < 0 else 0.5)
        winner_edge = edge if mov > 0 else (-edge if mov < 0 else 0.0)
        delta = (
            self.k_factor(day_num, is_tournament)
            * self.margin_multiplier(abs(mov), winner_edge)
            * (s_a - e_a)
        )
        self._ratings[team_a] = ra + delta
        self._ratings[team_b] = rb - delta
        self.n_games += 1
        return e_a

    # ------------------------------------------------------------------ seasons
    def carried_ratings(self, conference_of: Mapping[int, str] | None = None) -> dict[int, float]:
        """Ratings after the between-season carry-over, without changing the engine.

        Args:
            conference_of: team id -> conference in the new season. With ``carry_toward ==
                "conference"`` a listed team regresses toward the mean of the rated teams of its
                new conference; any other team toward ``mean_rating``.
        """
        p = self.params
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
            entry = self.params.new_team_rating
        else:
            ratings = self._ratings
            entry = self.entry_rating()
        ra = np.array([ratings.get(t, entry) for t in a.tolist()], dtype=np.float64)
        rb = np.array([ratings.get(t, entry) for t in b.tolist()], dtype=np.float64)
        edge = ra + home * self.params.home_edge - rb
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

        See :meth:`walk_detailed` for the arguments.
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
            with_ratings=False,
        ).prob

    def walk_detailed(
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
    ) -> WalkResult:
        """Learn from played games in time order; return pre-game probabilities and ratings.

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
            freeze_tournament: predict (and report ratings for) every tournament game of a season
                from the ratings frozen before that season's first tournament game in this call,
                as a forecast submitted before the tournament would be; ratings still learn from
                each game. Pass a season's whole tournament in one call for a true freeze.

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
            with_ratings=True,
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
        *,
        with_ratings: bool,
    ) -> WalkResult:
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
            empty = np.empty(0, dtype=np.float64)
            return WalkResult(empty, empty.copy(), empty.copy())

        # Dense team indices so the loop indexes a list instead of hashing into a dict.
        team_ids, inverse = np.unique(np.concatenate([a_arr, b_arr]), return_inverse=True)
        teams: list[int] = team_ids.tolist()
        ia: list[int] = inverse[:n].tolist()
        ib: list[int] = inverse[n:].tolist()
        seasons: list[int] = season_arr.tolist()
        days: list[int] = day_arr.tolist()
        sa: list[float] = sa_arr.tolist()
        sb: list[float] = sb_arr.tolist()
        p = self.params
        home_edge = p.home_edge
        homes: list[float] = (home_arr * home_edge).tolist()
        tour: list[bool] = tour_arr.tolist()

        k_reg, k_early, k_tour, early_days = p.k, p.k_early, p.k_tournament, p.early_days
        use_margin = p.use_margin
        ma, mb, mc, md = p.mov_a, p.mov_b, p.mov_c, p.mov_d
        min_den = 0.5 * mc

        probs = [0.0] * n
        out_a: list[float] = [0.0] * n if with_ratings else []
        out_b: list[float] = [0.0] * n if with_ratings else []
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
                    if with_ratings:
                        out_a[i] = fa
                        out_b[i] = fb
                else:
                    probs[i] = e_a
                    if with_ratings:
                        out_a[i] = ra
                        out_b[i] = rb
            else:
                k = k_early if days[i] < early_days else k_reg
                probs[i] = e_a
                if with_ratings:
                    out_a[i] = ra
                    out_b[i] = rb
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
        prob = np.array(probs, dtype=np.float64)
        if not with_ratings:
            return WalkResult(prob, prob, prob)
        return WalkResult(
            prob, np.array(out_a, dtype=np.float64), np.array(out_b, dtype=np.float64)
        )

    def _store(self, teams: list[int], dense: list[float | None]) -> None:
        ratings = self._ratings
        for team, value in zip(teams, dense, strict=True):
            if value is not None:
                ratings[team] = value

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, Any]:
        """The engine's parameters and state as JSON-ready data."""
        return {
            "params": asdict(self.params),
            "season": self.season,
            "first_season": self.first_season,
            "n_games": self.n_games,
            "ratings": {str(team): value for team, value in sorted(self._ratings.items())},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], params: EloParams | None = None) -> EloEngine:
        """Rebuild an engine from :meth:`to_dict` output (``params`` overrides the stored ones)."""
        engine = cls(params if params is not None else EloParams(**data["params"]))
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
