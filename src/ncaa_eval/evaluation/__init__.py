"""Forecast scoring: Brier, log loss, accuracy and calibration, overall and per season."""

from ncaa_eval.evaluation.metrics import (
    MetricSet,
    accuracy,
    brier_score,
    compute_metrics,
    expected_calibration_error,
    log_loss,
    metrics_by_season,
    reliability_table,
)

__all__ = [
    "MetricSet",
    "accuracy",
    "brier_score",
    "compute_metrics",
    "expected_calibration_error",
    "log_loss",
    "metrics_by_season",
    "reliability_table",
]
