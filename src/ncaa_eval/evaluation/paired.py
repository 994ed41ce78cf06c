"""Paired Brier differences between runs, with a 95% interval from a season bootstrap.

Two runs' Brier scores are compared on the games both forecast: per game, the squared error of one
minus that of the other. Games of one tournament are not independent draws (one upset moves every
model's score at once, and a tournament can favour one kind of model), so the interval comes from
a *cluster* bootstrap over seasons: draw as many seasons as there are, with replacement, take every
shared game of each drawn season, and take the mean paired difference; the 2.5th and 97.5th
percentiles of those means are the interval. With one season there is nothing to resample and the
interval is that season's difference alone.

:func:`paired_brier_difference` is the statistic on plain arrays; :func:`shared_scored_games` lines
up the predictions of several runs on the games they share and would all be scored on (main draw,
outcome known; First Four games are predicted but not scored, as in training); and
:func:`compare_to_first` puts both together for ``ncaa-eval runs compare``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

FloatArray = npt.NDArray[np.float64]

#: Bootstrap resamples by default: the interval's ends move by about 0.0005 Brier between seeds.
DEFAULT_RESAMPLES = 2000
#: Seed of the resampling, fixed so that the same runs always get the same interval.
DEFAULT_SEED = 0
#: At most this many resamples (each draws one season index per season).
MAX_RESAMPLES = 100_000
#: The columns that name a game in ``predictions.parquet``.
GAME_KEYS = ("game_id", "season", "team_a_id", "team_b_id")
#: Resamples drawn at once, to bound memory (a chunk holds chunk x seasons indices).
_CHUNK = 10_000


@dataclass(frozen=True, slots=True)
class PairedDifference:
    """Mean per-game Brier difference ``other - first`` over the shared games, and its interval.

    Negative means the other forecasts scored better (lower Brier) than the first.
    """

    difference: float
    ci_low: float
    ci_high: float
    games: int
    seasons: int
    resamples: int
    seed: int

    @property
    def within_noise(self) -> bool:
        """Whether the 95% interval contains 0: no difference the seasons can tell apart."""
        return self.ci_low <= 0.0 <= self.ci_high

    def as_dict(self) -> dict[str, Any]:
        """The numbers as plain data, ``within_noise`` included."""
        return {**asdict(self), "within_noise": self.within_noise}


def paired_brier_difference(
    p_first: npt.ArrayLike,
    p_other: npt.ArrayLike,
    outcome: npt.ArrayLike,
    season: npt.ArrayLike,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> PairedDifference:
    """Brier of ``p_other`` minus Brier of ``p_first`` on the same games, with a season bootstrap.

    Args:
        p_first: The first run's probability that team A wins, one per game.
        p_other: The other run's probability for the same games, in the same order.
        outcome: 1 (or True) where team A won, else 0.
        season: Each game's season: the cluster the bootstrap resamples.
        resamples: Bootstrap resamples (1 to :data:`MAX_RESAMPLES`).
        seed: Seed of the resampling; the same inputs and seed give the same interval.

    Returns:
        The mean of ``(p_other - y)**2 - (p_first - y)**2`` over the games, and the 2.5th and
        97.5th percentiles of that mean over ``resamples`` draws of the seasons with replacement.

    Raises:
        ValueError: The arrays are not 1-D and of one length, are empty, an outcome is not 0/1, a
            probability is outside [0, 1] or NaN, or ``resamples`` is out of range.
    """
    _check_resamples(resamples)
    first = _probabilities(p_first, "p_first")
    other = _probabilities(p_other, "p_other")
    y = np.asarray(outcome, dtype=np.float64)
    seasons = np.asarray(season)
    sizes = {"p_first": first.shape, "p_other": other.shape, "outcome": y.shape}
    sizes["season"] = seasons.shape
    if len(set(sizes.values())) != 1 or y.ndim != 1:
        shapes = ", ".join(f"{name} {shape}" for name, shape in sizes.items())
        raise ValueError(f"The inputs must be 1-D arrays of one length; got {shapes}.")
    if y.size == 0:
        raise ValueError("There are no games: nothing to compare.")
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError(f"outcome must hold only 0 and 1; got {np.unique(y)[:5].tolist()}.")

    per_game = (other - y) ** 2 - (first - y) ** 2
    _, cluster = np.unique(seasons, return_inverse=True)
    sums: FloatArray = np.bincount(cluster, weights=per_game).astype(np.float64)
    counts = np.bincount(cluster).astype(np.float64)
    means = _season_bootstrap(sums, counts, resamples, seed)
    low, high = np.quantile(means, [0.025, 0.975])
    return PairedDifference(
        difference=float(sums.sum() / counts.sum()),
        ci_low=float(low),
        ci_high=float(high),
        games=int(y.size),
        seasons=int(sums.size),
        resamples=int(resamples),
        seed=int(seed),
    )


def _check_resamples(resamples: int) -> None:
    if isinstance(resamples, bool) or not isinstance(resamples, int | np.integer):
        raise ValueError(f"resamples must be an integer; got {resamples!r}.")
    if not 1 <= resamples <= MAX_RESAMPLES:
        raise ValueError(f"resamples must be from 1 to {MAX_RESAMPLES:,}; got {resamples}.")


def _probabilities(values: npt.ArrayLike, name: str) -> FloatArray:
    p = np.asarray(values, dtype=np.float64)
    if np.isnan(p).any():
        raise ValueError(f"{name} holds {int(np.isnan(p).sum())} NaN value(s).")
    if p.size and ((p < 0.0).any() or (p > 1.0).any()):
        raise ValueError(f"{name} must lie in [0, 1]; got values from {p.min():g} to {p.max():g}.")
    return p


def _season_bootstrap(
    sums: FloatArray, counts: FloatArray, resamples: int, seed: int
) -> FloatArray:
    """The mean per-game difference of each resample of the seasons (drawn with replacement).

    A resample's mean pools its games: the drawn seasons' summed differences over their summed
    game counts, so a season drawn twice counts twice and a big season weighs more.
    """
    rng = np.random.default_rng(seed)
    n = sums.size
    out = np.empty(resamples, dtype=np.float64)
    for start in range(0, resamples, _CHUNK):
        stop = min(start + _CHUNK, resamples)
        drawn = rng.integers(0, n, size=(stop - start, n))
        out[start:stop] = sums[drawn].sum(axis=1) / counts[drawn].sum(axis=1)
    return out


# -- runs' predictions ------------------------------------------------------------------------


def shared_scored_games(predictions: Sequence[pd.DataFrame], seeds: pd.DataFrame) -> pd.DataFrame:
    """The games every run forecast and would be scored on, with each run's probability.

    A game is shared when every frame has a row with its ``game_id``, season and two teams (in
    either order: a row with team B first is turned around, its probability becoming ``1 - p``), a
    known outcome, the same in every frame. First Four games are left out, as training leaves them
    out of its scores: both teams hold the same play-in seed line in ``seeds``.

    Args:
        predictions: Each run's ``predictions.parquet`` as a DataFrame (the columns of
            :data:`GAME_KEYS`, ``pred_win_prob`` and ``team_a_won``, which may be null).
        seeds: The league's tournament seeds (``ParquetRepository.seeds``) for the seasons.

    Returns:
        Columns :data:`GAME_KEYS`, ``team_a_won`` (0.0/1.0, team A the lower id) and ``p_0``,
        ``p_1``, ... (the runs' probabilities, in order), sorted by season and game; no rows when
        the runs share no scored game.
    """
    from ncaa_eval.evaluation.walk_forward import play_in_mask

    if not predictions:
        raise ValueError("shared_scored_games needs the predictions of at least one run.")
    merged: pd.DataFrame | None = None
    for i, frame in enumerate(predictions):
        games = _oriented(frame).rename(columns={"pred_win_prob": f"p_{i}", "team_a_won": f"y_{i}"})
        merged = games if merged is None else merged.merge(games, on=list(GAME_KEYS), how="inner")
    assert merged is not None
    outcomes = merged[[f"y_{i}" for i in range(len(predictions))]].to_numpy(dtype=np.float64)
    same = (outcomes == outcomes[:, :1]).all(axis=1)
    shared = merged[same].assign(team_a_won=outcomes[same, 0])
    shared = shared[~play_in_mask(shared, seeds)] if len(shared) else shared
    columns = [*GAME_KEYS, "team_a_won", *(f"p_{i}" for i in range(len(predictions)))]
    ordered: pd.DataFrame = shared[columns].sort_values(["season", "game_id"], kind="stable")
    return ordered.reset_index(drop=True)


def _oriented(frame: pd.DataFrame) -> pd.DataFrame:
    """A run's games with a known outcome, team A the lower id; a game given twice is dropped."""
    missing = [c for c in (*GAME_KEYS, "pred_win_prob", "team_a_won") if c not in frame.columns]
    if missing:
        raise ValueError(f"The predictions lack the column(s) {', '.join(missing)}.")
    known = frame[frame["team_a_won"].notna()]
    a = known["team_a_id"].to_numpy(dtype=np.int64)
    b = known["team_b_id"].to_numpy(dtype=np.int64)
    p = known["pred_win_prob"].to_numpy(dtype=np.float64)
    won = known["team_a_won"].to_numpy(dtype=np.float64)
    swap = a > b
    games = pd.DataFrame(
        {
            "game_id": known["game_id"].astype(str).to_numpy(),
            "season": known["season"].to_numpy(dtype=np.int64),
            "team_a_id": np.where(swap, b, a),
            "team_b_id": np.where(swap, a, b),
            "pred_win_prob": np.where(swap, 1.0 - p, p),
            "team_a_won": np.where(swap, 1.0 - won, won),
        }
    )
    return games.drop_duplicates(list(GAME_KEYS), keep=False)


@dataclass(frozen=True)
class PairedComparison:
    """Each run's paired Brier difference from the first run, on the games all runs share."""

    #: One per run after the first, in order; empty when the runs share no scored game.
    differences: list[PairedDifference]
    games: int
    seasons: list[int]
    resamples: int
    seed: int
    #: Shared seasons left out because ``seeds`` has none for them (First Four games unknown).
    unseeded_seasons: list[int] = field(default_factory=list)


def compare_to_first(
    predictions: Sequence[pd.DataFrame],
    seeds: pd.DataFrame,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> PairedComparison:
    """:func:`paired_brier_difference` of every run against the first, on their shared games.

    Args:
        predictions: Two or more runs' predictions (see :func:`shared_scored_games`).
        seeds: The league's tournament seeds; shared seasons it has no seed for are left out
            (their First Four games cannot be told) and listed in ``unseeded_seasons``.
        resamples: Bootstrap resamples; every run is resampled with the same draws of seasons.
        seed: Seed of the resampling.
    """
    if len(predictions) < 2:
        raise ValueError("compare_to_first needs the predictions of at least two runs.")
    _check_resamples(resamples)
    shared = shared_scored_games(predictions, seeds)
    seeded = set(seeds["season"].astype(int)) if "season" in seeds.columns else set()
    unseeded = sorted(set(shared["season"].astype(int)) - seeded)
    shared = shared[shared["season"].isin(seeded)]
    seasons = sorted(set(shared["season"].astype(int)))
    differences = []
    if len(shared):
        y, season = shared["team_a_won"].to_numpy(), shared["season"].to_numpy()
        first = shared["p_0"].to_numpy()
        differences = [
            paired_brier_difference(first, shared[f"p_{i}"].to_numpy(), y, season, resamples, seed)
            for i in range(1, len(predictions))
        ]
    return PairedComparison(
        differences=differences,
        games=len(shared),
        seasons=seasons,
        resamples=resamples,
        seed=seed,
        unseeded_seasons=unseeded,
    )
