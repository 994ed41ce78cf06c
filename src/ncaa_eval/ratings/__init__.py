"""Rating systems: pure math shared by the rating models and the feature server."""

from ncaa_eval.ratings.elo import EloConfig, EloEngine, location_sign
from ncaa_eval.ratings.margin import ridge_margin_rating

__all__ = ["EloConfig", "EloEngine", "location_sign", "ridge_margin_rating"]
