"""The adjusted efficiency's cost in one feature-server pass, timed in-process.

Serves every season of a league (men 1985-2025 by default) with the stateless models' default
features, then with the same features and ``adjusted_efficiency`` on, alternating the two
``--repeats`` times in one process (the store's files are read once before timing, so the disk
cache favours neither). Prints one JSON line: the seconds of each pass, both ways, and the
per-pair difference. No forecast is scored.

Usage: python bench/feature_pass.py --data-dir DIR [--league M] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from ncaa_eval.ingest import ParquetRepository
from ncaa_eval.model.base import TUNED_MODEL_FEATURES
from ncaa_eval.transform.feature_serving import FeatureConfig, StatefulFeatureServer


def timed(config: FeatureConfig, repository: ParquetRepository, league: str) -> float:
    """Seconds of one pass of the feature server over the league's whole history."""
    started = time.perf_counter()
    StatefulFeatureServer(config).serve(repository, league)  # type: ignore[arg-type]
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--league", default="M", choices=["M", "W"])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    repository = ParquetRepository(args.data_dir)
    plain = TUNED_MODEL_FEATURES
    with_efficiency = plain.model_copy(update={"adjusted_efficiency": True})
    timed(plain, repository, args.league)  # warm: the files read once, outside the timing
    without, with_ = [], []
    for _ in range(args.repeats):
        without.append(timed(plain, repository, args.league))
        with_.append(timed(with_efficiency, repository, args.league))
    added = [w - p for w, p in zip(with_, without, strict=True)]
    print(
        json.dumps(
            {
                "without": without,
                "with": with_,
                "added": added,
                "median_added": statistics.median(added),
            }
        )
    )


if __name__ == "__main__":
    main()
