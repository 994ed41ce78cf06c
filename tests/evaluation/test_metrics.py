"""Tests of the forecast scores against values worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

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

Y = [1, 0, 1, 0]
P = [0.8, 0.4, 0.5, 0.1]


class TestGoldenValues:
    def test_brier(self) -> None:
        # (0.2^2 + 0.4^2 + 0.5^2 + 0.1^2) / 4 = (0.04 + 0.16 + 0.25 + 0.01) / 4
        assert brier_score(Y, P) == pytest.approx(0.115)

    def test_log_loss(self) -> None:
        # -(ln 0.8 + ln 0.6 + ln 0.5 + ln 0.9) / 4 = (0.22314 + 0.51083 + 0.69315 + 0.10536) / 4
        assert log_loss(Y, P) == pytest.approx(0.3831192178)

    def test_accuracy_counts_a_coin_flip_as_half(self) -> None:
        # Hits at 0.8, 0.4 and 0.1; p == 0.5 scores half: 3.5 / 4.
        assert accuracy(Y, P) == pytest.approx(0.875)

    def test_ece_one_game_per_bin(self) -> None:
        # Each game is alone in its bin: (0.2 + 0.4 + 0.5 + 0.1) / 4.
        assert expected_calibration_error(Y, P) == pytest.approx(0.3)

    def test_ece_two_bins(self) -> None:
        # [0, .5): p .2, .3 -> mean .25, observed .5, gap .25, 2 games.
        # [.5, 1]: p .9, .7, .6 -> mean .7333, observed .6667, gap .0667, 3 games.
        # (2 * .25 + 3 * .0667) / 5 = 0.14
        y = [1, 1, 0, 0, 1]
        p = [0.9, 0.7, 0.6, 0.2, 0.3]
        assert expected_calibration_error(y, p, n_bins=2) == pytest.approx(0.14)

    def test_always_half(self) -> None:
        y = [1, 0, 1, 1]
        p = [0.5] * 4
        assert brier_score(y, p) == 0.25
        assert log_loss(y, p) == pytest.approx(math.log(2))
        assert accuracy(y, p) == 0.5
        assert expected_calibration_error(y, p) == pytest.approx(0.25)

    def test_perfect_forecast(self) -> None:
        assert brier_score([1, 0], [1.0, 0.0]) == 0.0
        assert accuracy([1, 0], [1.0, 0.0]) == 1.0
        assert expected_calibration_error([1, 0], [1.0, 0.0]) == 0.0

    def test_log_loss_clips_confident_misses(self) -> None:
        assert log_loss([1], [0.0]) == pytest.approx(-math.log(1e-15))
        assert log_loss([0], [1.0], eps=1e-3) == pytest.approx(-math.log(1e-3))
        assert log_loss([1], [1.0]) == pytest.approx(0.0, abs=1e-14)


class TestReliabilityTable:
    def test_columns_and_counts(self) -> None:
        # [0, .5): p .4 and .1, both lost; [.5, 1]: p .8 and .5, both won.
        table = reliability_table(Y, P, n_bins=2)
        assert list(table.columns) == [
            "bin",
            "lower",
            "upper",
            "count",
            "mean_pred",
            "observed_rate",
        ]
        assert table["bin"].tolist() == [0, 1]
        assert table["lower"].tolist() == [0.0, 0.5]
        assert table["upper"].tolist() == [0.5, 1.0]
        assert table["count"].tolist() == [2, 2]
        assert table["mean_pred"].tolist() == pytest.approx([0.25, 0.65])
        assert table["observed_rate"].tolist() == [0.0, 1.0]

    def test_edges(self) -> None:
        # p == 1 belongs to the last bin, p == 0 to the first; empty bins have NaN means.
        table = reliability_table([1, 0], [1.0, 0.0], n_bins=10)
        assert table.loc[9, "count"] == 1
        assert table.loc[0, "count"] == 1
        assert table.loc[5, "count"] == 0
        assert table["mean_pred"].isna().tolist() == [False] + [True] * 8 + [False]

    def test_rates(self) -> None:
        y = [1, 1, 0, 0, 1]
        p = [0.9, 0.7, 0.6, 0.2, 0.3]
        table = reliability_table(y, p, n_bins=2)
        assert table["mean_pred"].tolist() == pytest.approx([0.25, 2.2 / 3])
        assert table["observed_rate"].tolist() == pytest.approx([0.5, 2 / 3])

    def test_bad_bins(self) -> None:
        with pytest.raises(ValueError, match="n_bins"):
            reliability_table(Y, P, n_bins=0)


class TestValidation:
    @pytest.mark.parametrize(
        ("y", "p", "message"),
        [
            ([1, 0], [0.5], "same length"),
            ([], [], "empty"),
            ([1, 0], [0.5, 1.2], r"\[0, 1\]"),
            ([1, 0], [-0.1, 0.5], r"\[0, 1\]"),
            ([1, 0], [0.5, float("nan")], "NaN"),
            ([1, 2], [0.5, 0.5], "only 0 and 1"),
            ([[1, 0]], [[0.5, 0.5]], "1-D"),
        ],
    )
    def test_rejected(self, y: list[float], p: list[float], message: str) -> None:
        for metric in (brier_score, log_loss, accuracy, expected_calibration_error):
            with pytest.raises(ValueError, match=message):
                metric(y, p)

    def test_bad_eps(self) -> None:
        with pytest.raises(ValueError, match="eps"):
            log_loss(Y, P, eps=0.0)


def test_compute_metrics() -> None:
    scores = compute_metrics(np.array(Y), np.array(P))
    assert isinstance(scores, MetricSet)
    assert scores.brier == pytest.approx(0.115)
    assert scores.log_loss == pytest.approx(0.3831192178)
    assert scores.accuracy == 0.875
    assert scores.calibration_error == pytest.approx(0.3)
    assert scores.n == 4
    assert set(scores.as_dict()) == {"brier", "log_loss", "accuracy", "calibration_error", "n"}


def test_metrics_by_season() -> None:
    frame = pd.DataFrame(
        {
            "season": [2002, 2001, 2001, 2002, 2001, 2002],
            "team_a_won": [1, 1, 0, 0, 1, 1],
            "pred_win_prob": [0.5, 0.9, 0.2, 0.5, 0.6, 0.5],
        }
    )
    table = metrics_by_season(frame)
    assert table["season"].tolist() == [2001, 2002]
    assert table["n"].tolist() == [3, 3]
    # 2001: (0.01 + 0.04 + 0.16) / 3 = 0.07; 2002: always 0.5.
    assert table["brier"].tolist() == pytest.approx([0.07, 0.25])
    assert table["accuracy"].tolist() == pytest.approx([1.0, 0.5])


def test_metrics_by_season_names_missing_columns() -> None:
    with pytest.raises(ValueError, match="missing: pred_win_prob"):
        metrics_by_season(pd.DataFrame({"season": [1], "team_a_won": [1]}))
