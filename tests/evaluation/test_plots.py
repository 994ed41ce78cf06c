"""The run charts: real PNG files that show something, for one season and with empty bins."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest

from ncaa_eval.evaluation.metrics import brier_score, metrics_by_season, reliability_table
from ncaa_eval.evaluation.plots import (
    RELIABILITY_FILE,
    SEASON_BRIER_FILE,
    reliability_figure,
    season_brier_figure,
    write_run_plots,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
FloatArray = npt.NDArray[np.float64]


def read_png(path: Path) -> npt.NDArray[np.float32]:
    """The image as an (height, width, channels) float array, after checking the signature."""
    from matplotlib.image import imread

    assert path.read_bytes()[:8] == PNG_SIGNATURE, f"{path} is not a PNG file"
    image: npt.NDArray[np.float32] = imread(path)
    return image


def check_png(path: Path, min_width: int = 400, min_height: int = 300) -> None:
    """A PNG of a reasonable size that is not one flat colour."""
    image = read_png(path)
    height, width = image.shape[:2]
    assert width >= min_width, (width, height)
    assert height >= min_height, (width, height)
    rgb = image[..., :3]
    assert float(rgb.std()) > 0.05, "the image is (nearly) blank"
    # Most of a chart is white background; a blank or all-dark image is not a chart.
    white = float((rgb.min(axis=-1) > 0.95).mean())
    assert 0.3 < white < 0.99, white


def _frame(seasons: list[int], p: FloatArray) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    y = (rng.random(len(p)) < p).astype(float)
    return pd.DataFrame(
        {
            "season": np.resize(np.array(seasons), len(p)),
            "pred_win_prob": p,
            "team_a_won": y,
        }
    )


@pytest.mark.parametrize(
    ("seasons", "p"),
    [
        pytest.param([2024], np.linspace(0.05, 0.95, 67), id="one-season"),
        # Only the outer bins hold forecasts: bins 0.2-0.8 are empty.
        pytest.param(
            [2019, 2021, 2022],
            np.r_[np.full(30, 0.1), np.full(30, 0.9), np.full(7, 1.0)],
            id="empty-bins",
        ),
        pytest.param(list(range(1985, 2026)), np.linspace(0.0, 1.0, 400), id="41-seasons"),
    ],
)
def test_write_run_plots(seasons: list[int], p: FloatArray, tmp_path: Path) -> None:
    scored = _frame(seasons, p)
    season_metrics = metrics_by_season(scored)
    overall = brier_score(scored["team_a_won"], scored["pred_win_prob"])

    paths = write_run_plots(scored, season_metrics, overall, "elo, men, 2024-2024", tmp_path / "x")

    assert [p.name for p in paths] == [RELIABILITY_FILE, SEASON_BRIER_FILE]
    assert sorted(q.name for q in (tmp_path / "x").iterdir()) == sorted(q.name for q in paths)
    for path in paths:
        check_png(path)


def _data(values: object) -> FloatArray:
    return np.asarray(values, dtype=np.float64)


def _heights(axes: Axes) -> list[float]:
    from matplotlib.patches import Rectangle

    return [bar.get_height() for bar in axes.patches if isinstance(bar, Rectangle)]


def _texts(figure: Figure) -> list[str]:
    from matplotlib.text import Text

    return [t.get_text() for t in figure.findobj(Text) if isinstance(t, Text)]


def test_reliability_figure_shows_the_table_of_metrics() -> None:
    p = pd.Series(np.r_[np.full(30, 0.12), np.full(10, 0.55), np.full(20, 0.91)])
    y = pd.Series(np.r_[np.zeros(27), np.ones(3), np.ones(6), np.zeros(4), np.ones(18), [0, 0]])
    table = reliability_table(y, p)

    figure = reliability_figure(y, p, "a title")

    top, bottom = figure.axes
    curve = top.get_lines()[1]
    used = table[table["count"] > 0]
    np.testing.assert_allclose(_data(curve.get_xdata()), used["mean_pred"])
    np.testing.assert_allclose(_data(curve.get_ydata()), used["observed_rate"])
    diagonal = top.get_lines()[0]
    np.testing.assert_allclose(_data(diagonal.get_xdata()), [0, 1])
    np.testing.assert_allclose(_data(diagonal.get_ydata()), [0, 1])
    heights = _heights(bottom)
    assert heights == table["count"].tolist() == [0, 30, 0, 0, 0, 10, 0, 0, 0, 20]
    texts = _texts(figure)
    assert {"n=30", "n=10", "n=20"} <= set(texts)
    assert top.get_title() == "a title\n60 scored games, 10 bins"
    assert top.get_ylabel()
    assert bottom.get_xlabel()
    assert bottom.get_ylabel()


def test_season_brier_figure_has_a_bar_per_season_and_the_overall_line() -> None:
    scored = _frame([2022, 2023, 2024], np.linspace(0.1, 0.9, 90))
    season_metrics = metrics_by_season(scored)
    overall = brier_score(scored["team_a_won"], scored["pred_win_prob"])

    figure = season_brier_figure(season_metrics, overall, "t")

    (axes,) = figure.axes
    heights = _heights(axes)
    np.testing.assert_allclose(heights, season_metrics["brier"])
    assert [t.get_text() for t in axes.get_xticklabels()] == ["2022", "2023", "2024"]
    levels = sorted(float(_data(line.get_ydata())[0]) for line in axes.get_lines())
    assert levels == pytest.approx(sorted([overall, 0.25]))
    assert f"overall Brier {overall:.4f}" in _texts(figure)
    assert axes.get_title() == "t"
    assert axes.get_xlabel()
    assert axes.get_ylabel()
