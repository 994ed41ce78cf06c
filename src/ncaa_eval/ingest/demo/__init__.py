"""Deterministic synthetic NCAA men's league in Kaggle's March Machine Learning Mania layout.

The demo league lets every part of ncaa-eval (import, features, models, evaluation) run without
a Kaggle account. It is built to be *learnable* the way the real data is:

* every team has a latent strength, in points per game above an average team, that drifts from
  season to season around its conference's level (an AR(1) process), so past seasons predict
  future ones only partly;
* game margins are strength difference + home-court edge + noise, so results are informative
  about strength but noisy, and home teams win more often;
* the NCAA tournament field, seeds and bracket follow the real 68-team format, so seed-based
  baselines work, and the Massey-style ordinals are noisy views of strength, so they help
  without giving the answer away.

Nothing here is derived from real data: team and conference names are invented.

Everything is drawn from one ``numpy.random.default_rng(seed)`` stream consumed in a fixed
order, so the same :class:`DemoConfig` always produces byte-identical files.
"""

from __future__ import annotations

from ncaa_eval.ingest.demo.config import DemoConfig, DemoLeague
from ncaa_eval.ingest.demo.league import build_demo_league, write_demo_csvs
from ncaa_eval.ingest.demo_marker import DEMO_MARKER, DEMO_MARKER_FILE

__all__ = [
    "DEMO_MARKER",
    "DEMO_MARKER_FILE",
    "DemoConfig",
    "DemoLeague",
    "build_demo_league",
    "write_demo_csvs",
]
