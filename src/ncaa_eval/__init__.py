"""ncaa-eval: leakage-free NCAA tournament forecasting, tracked in MLflow."""

__version__ = "0.1.0"
