"""ncaa-eval: leakage-free NCAA tournament forecasting, tracked in MLflow."""

__version__ = "0.1.0"
#: The MLflow experiment every command uses unless told otherwise.
DEFAULT_EXPERIMENT = "ncaa-eval"
#: The experiment of runs on the synthetic demo league (``ncaa-eval data demo``), kept apart so
#: that its made-up scores never sit next to real ones.
DEMO_EXPERIMENT = "ncaa-eval-demo"
#: Kaggle's league letters, as people say them.
LEAGUE_NAMES: dict[str, str] = {"M": "men", "W": "women"}
