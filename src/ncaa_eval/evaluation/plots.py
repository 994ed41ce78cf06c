"""Charts of a run's forecasts: a reliability diagram and Brier per season, as PNG files.

The numbers come from :mod:`ncaa_eval.evaluation.metrics` (:func:`reliability_table`,
:func:`metrics_by_season`), so a chart shows exactly what the run logged. Matplotlib is imported
inside the functions (it costs a few hundred milliseconds) and used through its object API with the
Agg canvas, never ``pyplot``: no global state, no display needed.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ncaa_eval.evaluation.metrics import reliability_table

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: File names of the charts, inside the run's ``plots/`` artifact folder.
RELIABILITY_FILE = "reliability.png"
SEASON_BRIER_FILE = "season_brier.png"
#: Equal-width probability bins of the reliability diagram (the 10 of the logged calibration error).
RELIABILITY_BINS = 10
#: Brier score of always forecasting 0.5: the line a forecaster must beat.
COIN_FLIP_BRIER = 0.25
_DPI = 110


def _figure(width: float, height: float) -> Figure:
    """A figure on the Agg canvas with fixed margins.

    No layout engine: "constrained" or "tight" layout doubles the drawing time (about 0.3 s a
    chart), paid by every training run, for margins that fixed values get right here.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=_DPI)
    FigureCanvasAgg(figure)
    return figure


def reliability_figure(y: pd.Series, p: pd.Series, title: str) -> Figure:
    """Observed win rate against mean forecast per bin, the diagonal, and the games per bin.

    Empty bins are left out of the curve and show a zero count.
    """
    table = reliability_table(y.to_numpy(dtype=float), p.to_numpy(dtype=float), RELIABILITY_BINS)
    figure = _figure(6.4, 7.6)
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    figure.subplots_adjust(left=0.12, right=0.97, top=0.91, bottom=0.08, hspace=0.08)
    top.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
    used = table[table["count"] > 0]
    top.plot(
        used["mean_pred"], used["observed_rate"], marker="o", color="tab:blue", label="forecasts"
    )
    points = zip(
        used["count"].tolist(), used["mean_pred"].tolist(), used["observed_rate"].tolist(),
        strict=True,
    )  # fmt: skip
    for count, x, y_rate in points:
        top.annotate(
            f"n={count}",
            (x, y_rate),
            textcoords="offset points",
            # Left of the point near the right edge, so that the label stays inside.
            xytext=(6, -12) if x < 0.85 else (-30, -12),
            fontsize=8,
            color="tab:blue",
        )
    # A little margin so that a bin observed at 0 or 1 is not cut in half by the frame.
    top.set(xlim=(0, 1), ylim=(-0.04, 1.04), ylabel="observed frequency (team A won)")
    top.grid(alpha=0.3)
    top.legend(loc="upper left")
    top.set_title(f"{title}\n{int(table['count'].sum())} scored games, {RELIABILITY_BINS} bins")
    centres = (table["lower"] + table["upper"]) / 2
    bottom.bar(centres, table["count"], width=1 / RELIABILITY_BINS * 0.9, color="tab:blue")
    for centre, count in zip(centres, table["count"], strict=True):
        bottom.annotate(
            str(count), (centre, count), textcoords="offset points", xytext=(0, 2), ha="center",
            fontsize=8,
        )  # fmt: skip
    bottom.set(xlabel="predicted probability (team A wins)", ylabel="games per bin")
    bottom.set_ylim(0, max(1, int(table["count"].max())) * 1.25)
    bottom.set_xticks(np.linspace(0, 1, RELIABILITY_BINS + 1))
    return figure


def season_brier_figure(season_metrics: pd.DataFrame, overall_brier: float, title: str) -> Figure:
    """One bar per season (from :func:`metrics_by_season`), the overall Brier and 0.25 as lines."""
    seasons = season_metrics["season"].astype(int).to_numpy()
    briers = season_metrics["brier"].to_numpy(dtype=float)
    width = max(6.4, 0.35 * len(seasons) + 2)
    figure = _figure(width, 4.8)
    axes = figure.subplots()
    rotated = len(seasons) > 12
    # Margins in inches (0.75 left, 0.15 right), whatever the width.
    figure.subplots_adjust(
        left=0.75 / width, right=1 - 0.15 / width, top=0.92, bottom=0.2 if rotated else 0.12
    )
    positions = np.arange(len(seasons))
    axes.bar(positions, briers, color="tab:blue", width=0.7, label="season Brier")
    axes.axhline(overall_brier, color="tab:red", label=f"overall Brier {overall_brier:.4f}")
    axes.axhline(COIN_FLIP_BRIER, color="grey", linestyle="--", label="always 0.5 (0.25)")
    axes.set_xticks(positions, [str(s) for s in seasons], rotation=60 if rotated else 0)
    axes.set_xlim(-0.7, len(seasons) - 0.3)
    # Head room above the tallest bar for the legend.
    axes.set_ylim(0, max(COIN_FLIP_BRIER, float(briers.max()), overall_brier) * 1.3)
    axes.set(xlabel="season (tournament)", ylabel="Brier score (lower is better)", title=title)
    axes.grid(axis="y", alpha=0.3)
    axes.legend(loc="upper right", fontsize=8)
    return figure


def write_run_plots(
    scored: pd.DataFrame,
    season_metrics: pd.DataFrame,
    overall_brier: float,
    title: str,
    folder: Path,
) -> list[Path]:
    """Write :data:`RELIABILITY_FILE` and :data:`SEASON_BRIER_FILE` into ``folder``.

    Args:
        scored: the scored predictions (``team_a_won``, ``pred_win_prob``).
        season_metrics: :func:`metrics_by_season` of the same predictions.
        overall_brier: the run's Brier score over ``scored``.
        title: names the run (model, league, years); each chart adds what it shows.
        folder: created if missing.

    Returns:
        The two PNG paths.
    """
    folder.mkdir(parents=True, exist_ok=True)
    figures = {
        RELIABILITY_FILE: reliability_figure(
            scored["team_a_won"], scored["pred_win_prob"], f"Reliability: {title}"
        ),
        SEASON_BRIER_FILE: season_brier_figure(
            season_metrics, overall_brier, f"Brier by season: {title}"
        ),
    }
    paths = []
    for name, figure in figures.items():
        path = folder / name
        figure.savefig(path, format="png")
        paths.append(path)
    return paths
