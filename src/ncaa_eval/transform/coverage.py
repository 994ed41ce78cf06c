"""What the served features cover: the notes on seasons left missing, and the box-score check.

:func:`require_box_scores` refuses to forecast a season without box scores when the adjusted
efficiency is asked for; :func:`box_score_problem` is its one line, also used before anything
runs (:meth:`ncaa_eval.model.base.FeatureModelConfig.forecast_problem`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from ncaa_eval import LEAGUE_NAMES
from ncaa_eval.errors import NcaaEvalError
from ncaa_eval.ingest.schema import League

if TYPE_CHECKING:
    from ncaa_eval.transform.feature_serving import FeatureSet


def require_box_scores(features: FeatureSet, seasons: list[int], league: League) -> None:
    """Refuse to forecast a season without box scores when the adjusted efficiency is asked for.

    Earlier seasons without box scores may still be training rows (their values are NaN); a
    forecast season must have them, or its forecasts would rest on nothing.

    Raises:
        NcaaEvalError: ``features.adjusted_efficiency`` is on and a season of ``seasons`` has no
            regular-season box score; the message names the seasons that have them.
    """
    if not features.config.adjusted_efficiency:
        return
    missing = sorted(set(seasons) - set(features.box_score_seasons))
    if missing:
        last_read = int(features.frame["season"].max()) if len(features.frame) else None
        raise NcaaEvalError(
            box_score_problem(league, sorted(features.box_score_seasons), missing, last_read)
        )


def box_score_problem(
    league: str, have: list[int], missing: list[int], last_read: int | None
) -> str:
    """The one line refusing to forecast ``missing`` seasons without box scores, naming the
    seasons that have them (``have``) and the fix; ``last_read`` is the last season read."""
    name = LEAGUE_NAMES.get(league, league)
    if not have:
        has, fix = f"the {name}'s data has none", "import Kaggle's detailed results"
    else:
        # Contiguous up to the last season read: the store may hold later seasons with them too.
        if have == list(range(have[0], have[-1] + 1)) and have[-1] == last_read:
            has = f"the {name}'s data has them from {have[0]} on"
        else:
            has = f"the {name}'s data has them for {season_ranges(have)} only"
        before = missing[-1] < have[0]
        fix = f"start at {have[0]} or later" if before else f"forecast {season_ranges(have)} only"
    which = (
        f"seasons {season_ranges(missing)} have" if len(missing) > 1 else f"season {missing[0]} has"
    )
    return (
        f"features.adjusted_efficiency needs box scores; {has}, and {which} none: {fix}, or set "
        "adjusted_efficiency to false."
    )


def coverage_notes(frame: pd.DataFrame, columns: list[str]) -> list[str]:
    notes = []
    for col in columns:
        # Seeds exist for tournament games only.
        rows = frame[frame["is_tournament"]] if col == "seed_diff" else frame
        missing = rows.groupby("season")[col].apply(lambda s: bool(s.isna().all()))
        seasons = [int(str(s)) for s, m in missing.items() if m]
        if len(seasons) == len(missing):
            notes.append(f"{col}: cannot be computed for any served season; column dropped.")
        elif seasons:
            notes.append(
                f"{col}: not available for seasons {season_ranges(seasons)} (left missing)."
            )
    return notes


def season_ranges(values: list[int]) -> str:
    out: list[str] = []
    start = prev = values[0]
    for v in values[1:]:
        if v == prev + 1:
            prev = v
            continue
        out.append(f"{start}-{prev}" if start != prev else str(start))
        start = prev = v
    out.append(f"{start}-{prev}" if start != prev else str(start))
    return ", ".join(out)


__all__ = ["box_score_problem", "coverage_notes", "require_box_scores", "season_ranges"]
