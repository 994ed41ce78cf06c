"""One Elo pass over every men's game in an imported store, timed in-process.

Loads and orients the games first (not timed), then times ``EloModel.update`` over all of them in
one call: the ratings walk the library runs inside ``train --model elo``. Prints one JSON line.

Usage: python bench/elo_pass.py --data-dir DIR [--league M]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from ncaa_eval.ingest import ParquetRepository
from ncaa_eval.model.base import GAME_COLUMNS
from ncaa_eval.model.elo import EloModel
from ncaa_eval.transform.matchups import conference_map, orient_games
from ncaa_eval.transform.serving import ChronologicalDataServer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--league", default="M", choices=["M", "W"])
    args = parser.parse_args()
    repo = ParquetRepository(args.data_dir)
    games = ChronologicalDataServer(repo, args.league).all_games()
    oriented = orient_games(games, conference_map(repo.conferences(args.league)))
    oriented = oriented[list(GAME_COLUMNS)]
    model = EloModel()
    started = time.perf_counter()
    model.update(oriented)
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "games": len(oriented)}))


if __name__ == "__main__":
    main()
