"""Rating systems: pure math shared by the rating models and the feature server."""

from ncaa_eval.ratings.elo import (
    EloEngine,
    EloParams,
    WalkResult,
    expected_score,
    location_sign,
)

__all__ = ["EloEngine", "EloParams", "WalkResult", "expected_score", "location_sign"]
