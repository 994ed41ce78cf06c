"""A bare reference for `ncaa-eval train --model elo`: what one would write by hand.

Reads the Kaggle CSVs with pandas, runs one Elo pass over every game in date order (the
tournament of each season predicted from ratings frozen before it), and logs one MLflow run with
params, metrics and ``predictions.parquet``. No validation, no store, no export, no plots: the
benchmark runner times it against the real command to see what ncaa-eval's extra work costs.

Usage: python bench/reference_train.py --kaggle-dir DIR --tracking-uri URI [--league M]
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd

K = 40.0  # update size
HOME = 100.0  # home edge, Elo points
CARRY = 0.64  # share of last season's rating kept


def elo_pass(games: pd.DataFrame) -> np.ndarray:
    """Pre-game P(lower id wins) per game; tournaments predicted from frozen ratings."""
    ratings: dict[int, float] = {}
    prob = np.empty(len(games))
    season_now = -1
    frozen: dict[int, float] | None = None
    rows = zip(
        games["Season"].tolist(),
        games["WTeamID"].tolist(),
        games["LTeamID"].tolist(),
        games["WScore"].tolist(),
        games["LScore"].tolist(),
        games["WLoc"].tolist(),
        games["tourney"].tolist(),
        strict=True,
    )
    for i, (season, w, lo, ws, ls, loc, tourney) in enumerate(rows):
        if season != season_now:
            mean = sum(ratings.values()) / len(ratings) if ratings else 1500.0
            ratings = {t: CARRY * r + (1 - CARRY) * mean for t, r in ratings.items()}
            season_now, frozen = season, None
        if tourney and frozen is None:
            frozen = dict(ratings)
        source = frozen if tourney and frozen is not None else ratings
        home = HOME if loc == "H" else -HOME if loc == "A" else 0.0
        rw, rl = source.get(w, 1500.0), source.get(lo, 1500.0)
        p_w = 1.0 / (1.0 + 10.0 ** (-(rw + home - rl) / 400.0))
        prob[i] = p_w if w < lo else 1.0 - p_w
        rw, rl = ratings.get(w, 1500.0), ratings.get(lo, 1500.0)
        e_w = 1.0 / (1.0 + 10.0 ** (-(rw + home - rl) / 400.0))
        mult = math.log(ws - ls + 1.0) * 2.2 / ((rw + home - rl) * 0.001 + 2.2)
        delta = K * mult * (1.0 - e_w)
        ratings[w], ratings[lo] = rw + delta, rl - delta
    return prob


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kaggle-dir", type=Path, required=True)
    parser.add_argument("--tracking-uri", required=True)
    parser.add_argument("--league", default="M", choices=["M", "W"])
    args = parser.parse_args()
    started = time.perf_counter()
    folder, league = args.kaggle_dir, args.league
    regular = pd.read_csv(folder / f"{league}RegularSeasonCompactResults.csv")
    tourney = pd.read_csv(folder / f"{league}NCAATourneyCompactResults.csv")
    games = pd.concat([regular.assign(tourney=False), tourney.assign(tourney=True)])
    games = games.sort_values(["Season", "DayNum"], kind="stable").reset_index(drop=True)
    prob = elo_pass(games)
    mask = games["tourney"].to_numpy()
    t = games[mask]
    predictions = pd.DataFrame(
        {
            "season": t["Season"].to_numpy(),
            "team_a": np.minimum(t["WTeamID"], t["LTeamID"]).to_numpy(),
            "team_b": np.maximum(t["WTeamID"], t["LTeamID"]).to_numpy(),
            "pred_win_prob": prob[mask],
            "team_a_won": (t["WTeamID"] < t["LTeamID"]).to_numpy().astype(int),
        }
    )
    y, p = predictions["team_a_won"].to_numpy(), predictions["pred_win_prob"].to_numpy()
    computed = time.perf_counter()
    mlflow.set_tracking_uri(args.tracking_uri)
    mlflow.set_experiment("reference")
    with mlflow.start_run(run_name="reference-elo"):
        mlflow.log_params({"k": K, "home": HOME, "carry": CARRY, "league": league})
        mlflow.log_metrics(
            {
                "brier": float(np.mean((p - y) ** 2)),
                "log_loss": float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))),
            }
        )
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "predictions.parquet"
            predictions.to_parquet(path, index=False)
            mlflow.log_artifact(str(path))
    done = time.perf_counter()
    print(json.dumps({"compute_seconds": computed - started, "mlflow_seconds": done - computed}))


if __name__ == "__main__":
    main()
