"""Massey-style weekly ordinal rankings: noisy views of team strength."""

from __future__ import annotations

import numpy as np

from ncaa_eval.ingest.demo.games import FloatArray, IntArray

# --- Massey-style ordinals ----------------------------------------------------------------------
#: Weekly ranking days, like the real file (first ranking ~day 9, final ranking day 133).
MASSEY_DAYS = (*range(9, 129, 7), 133)
#: (system name, noise sd at the first ranking, noise sd at the last ranking): rankings sharpen
#: as the season produces evidence; SYN is the noisier system.
MASSEY_SYSTEMS = (("DEM", 6.0, 2.5), ("SYN", 7.5, 4.0))
#: Early-season rankings lean on last season (preseason polls); this is the weight on the
#: current strength at the first ranking day, rising linearly to 1 at the last.
MASSEY_PRESEASON_WEIGHT = 0.5
#: Share of a system's noise that persists all season (its own bias about a team).
MASSEY_PERSISTENT_SHARE = 0.6


def _massey(
    rng: np.random.Generator, strength: FloatArray, previous: FloatArray
) -> tuple[IntArray, IntArray, IntArray, IntArray]:
    """Weekly ordinal rankings of noisy strength estimates, sorted like Kaggle's file.

    Returns:
        ranking day, index into :data:`MASSEY_SYSTEMS`, team index and rank, one per row.
    """
    n = strength.size
    days = np.array(MASSEY_DAYS, dtype=np.int64)
    frac = ((days - days[0]) / (days[-1] - days[0]))[:, None]
    weight = MASSEY_PRESEASON_WEIGHT + (1.0 - MASSEY_PRESEASON_WEIGHT) * frac
    belief = weight * strength[None, :] + (1.0 - weight) * previous[None, :]
    persistent_sd = np.sqrt(MASSEY_PERSISTENT_SHARE)
    weekly_sd = np.sqrt(1.0 - MASSEY_PERSISTENT_SHARE)
    teams: list[IntArray] = []
    for _name, sd_first, sd_last in MASSEY_SYSTEMS:
        sd = sd_first + (sd_last - sd_first) * frac
        noise = persistent_sd * rng.normal(size=(1, n)) + weekly_sd * rng.normal(
            size=(days.size, n)
        )
        teams.append(np.argsort(-(belief + sd * noise), axis=1, kind="stable"))
    # Kaggle sorts by day, then system, then rank: stack as (day, system, rank).
    team = np.stack(teams, axis=1).reshape(-1)
    n_systems = len(MASSEY_SYSTEMS)
    day = np.repeat(days, n_systems * n)
    system = np.tile(np.repeat(np.arange(n_systems, dtype=np.int64), n), days.size)
    rank = np.tile(np.arange(1, n + 1, dtype=np.int64), days.size * n_systems)
    return day, system, team, rank
