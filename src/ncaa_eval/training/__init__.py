"""Training jobs: a validated request in, a tracked MLflow run out (no Click here)."""

from ncaa_eval.training.orchestrator import TrainRequest, TrainResult, train

__all__ = ["TrainRequest", "TrainResult", "train"]
