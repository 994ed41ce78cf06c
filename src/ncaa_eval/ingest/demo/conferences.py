"""Conference membership: uneven initial conferences and off-season realignment."""

from __future__ import annotations

import numpy as np

from ncaa_eval.ingest.demo.config import (
    CONF_SIZE_SPREAD,
    MIN_CONF_SIZE,
    REALIGNMENTS_PER_SEASON,
    DemoConfig,
)
from ncaa_eval.ingest.demo.games import IntArray


def _size_bounds(config: DemoConfig) -> tuple[int, int]:
    base = config.n_teams // config.n_conferences
    return max(MIN_CONF_SIZE, base - CONF_SIZE_SPREAD), base + CONF_SIZE_SPREAD


def _initial_conferences(rng: np.random.Generator, config: DemoConfig) -> IntArray:
    """Conference index of each team: uneven sizes, members scattered over the ID range."""
    n_conf = config.n_conferences
    low, high = _size_bounds(config)
    base, extra = divmod(config.n_teams, n_conf)
    sizes = np.full(n_conf, base, dtype=np.int64)
    sizes[:extra] += 1
    for _ in range(4 * n_conf):
        give, take = (int(x) for x in rng.integers(0, n_conf, 2))
        if give != take and sizes[give] > low and sizes[take] < high:
            sizes[give] -= 1
            sizes[take] += 1
    out: IntArray = np.repeat(np.arange(n_conf, dtype=np.int64), sizes)[
        rng.permutation(config.n_teams)
    ]
    return out


def _realign(rng: np.random.Generator, conf_of: IntArray, config: DemoConfig) -> IntArray:
    """A few off-season conference moves, keeping every conference within its size bounds."""
    low, high = _size_bounds(config)
    out = conf_of.copy()
    sizes = np.bincount(out, minlength=config.n_conferences)
    for _ in range(REALIGNMENTS_PER_SEASON):
        team = int(rng.integers(config.n_teams))
        target = int(rng.integers(config.n_conferences))
        source = int(out[team])
        if target != source and sizes[source] > low and sizes[target] < high:
            out[team] = target
            sizes[source] -= 1
            sizes[target] += 1
    return out
