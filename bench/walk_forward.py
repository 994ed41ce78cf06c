"""Time and score one walk-forward evaluation, in the process that runs this script.

Runs :func:`ncaa_eval.evaluation.walk_forward.walk_forward` (the library's own function, not a
re-implementation) for one model with its default config and prints the main-draw scores of the
choosing window 2003-2014 (the part inside the range), the wall time of the walk-forward and the
peak resident memory of the process. Run it in a fresh process so the peak RSS is this
evaluation's own.

The held-out seasons (2015 on: the test window 2015-2024 and 2025) are forecast when the range
holds them but **never scored or written** unless ``--held-out`` is given: a benchmark that times a
walk must not show them while defaults are being chosen. Only ``bench/run.py --only quality``
passes ``--held-out``, once, at the end. ``--predictions FILE`` writes the scored games'
forecasts (the same gate: without ``--held-out``, seasons up to 2014 only) for paired comparisons.

Usage::

    .venv/bin/python bench/walk_forward.py --data-dir DIR --model xgboost --league M \
        --start 2003 --end 2014 [--history-from 1985] [--json] [--held-out] [--predictions F]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

from ncaa_eval.evaluation.metrics import compute_metrics
from ncaa_eval.evaluation.walk_forward import walk_forward
from ncaa_eval.ingest import ParquetRepository
from ncaa_eval.model.registry import get_model

#: The window defaults are chosen on.
CHOOSING = (2003, 2014)
#: The held-out windows, scored only with ``--held-out``: the test window and the newest season.
HELD_OUT = ((2015, 2024), (2025, 2025))
#: First held-out season: nothing from it on is scored without ``--held-out``.
FIRST_HELD_OUT = HELD_OUT[0][0]


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MB (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 / 1024 if sys.platform == "darwin" else peak / 1024


def scores(frame: Any) -> dict[str, float | int] | None:
    """Brier, log loss, accuracy, calibration error and n of scored rows; None when empty."""
    if frame.empty:
        return None
    m = compute_metrics(frame["team_a_won"].astype(float), frame["pred_win_prob"])
    return {
        "brier": round(m.brier, 6),
        "log_loss": round(m.log_loss, 6),
        "accuracy": round(m.accuracy, 6),
        "calibration_error": round(m.calibration_error, 6),
        "n_games": m.n,
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the walk-forward and collect the report."""
    repo = ParquetRepository(args.data_dir)
    model_class = get_model(args.model)
    t0 = time.perf_counter()
    result = walk_forward(
        model_class, repo, args.league, args.start, args.end, history_from=args.history_from
    )
    wall = time.perf_counter() - t0
    scored = result.scored
    windows = [CHOOSING, *HELD_OUT] if args.held_out else [CHOOSING]
    if not args.held_out:
        scored = scored[scored["season"] < FIRST_HELD_OUT]
    if args.predictions is not None:
        scored.to_parquet(args.predictions, index=False)
    report: dict[str, Any] = {
        "model": args.model,
        "league": args.league,
        "start": args.start,
        "end": args.end,
        "history_from": args.history_from,
        "held_out": bool(args.held_out),
        "overall": scores(scored),
        # Each window cut to the range and named by what it covers (2021-2024, not 2015-2024).
        "windows": {
            f"{max(a, args.start)}-{min(b, args.end)}": scores(
                scored[
                    (scored["season"] >= max(a, args.start))
                    & (scored["season"] <= min(b, args.end))
                ]
            )
            for a, b in windows
            if a <= args.end and b >= args.start
        },
        "wall_time_s": round(wall, 3),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }
    return report


def print_text(report: dict[str, Any]) -> None:
    """A short human-readable report."""
    print(
        f"{report['model']} {report['league']} {report['start']}-{report['end']} "
        f"(history from {report['history_from'] or 'first season'})"
    )
    last = report["end"] if report["held_out"] else min(report["end"], FIRST_HELD_OUT - 1)
    rows = [(f"{report['start']}-{last}", report["overall"])]
    rows += list(report["windows"].items())
    for name, s in rows:
        if s is None:
            print(f"  {name:10s} no scored games")
            continue
        print(
            f"  {name:10s} Brier {s['brier']:.4f}  log loss {s['log_loss']:.4f}  "
            f"accuracy {s['accuracy']:.4f}  n {s['n_games']}"
        )
    print(f"  wall time {report['wall_time_s']:.1f} s, peak RSS {report['peak_rss_mb']:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="imported ncaa-eval store")
    parser.add_argument("--model", default="xgboost", help="registered model name")
    parser.add_argument("--league", choices=("M", "W"), default="M")
    parser.add_argument("--start", type=int, default=2003)
    parser.add_argument("--end", type=int, default=2024)
    parser.add_argument(
        "--history-from",
        type=int,
        default=None,
        help="first season of history walked (default: the store's first season)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--held-out",
        action="store_true",
        help=f"also score the held-out seasons ({FIRST_HELD_OUT} on); only the final quality "
        "report passes it",
    )
    parser.add_argument(
        "--predictions", type=Path, help="write the scored games' forecasts to this Parquet file"
    )
    args = parser.parse_args()
    report = run(args)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_text(report)


if __name__ == "__main__":
    main()
