"""ncaa-eval: leakage-free NCAA tournament forecasting, tracked in MLflow."""

__version__ = "0.1.0"
#: The MLflow experiment every command uses unless told otherwise.
DEFAULT_EXPERIMENT = "ncaa-eval"
