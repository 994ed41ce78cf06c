"""Bare references for the commands that read runs: what one would write with MLflow alone.

``list``: the experiment's newest runs with their metrics (``MlflowClient.search_runs``);
``show``: one run's params, metrics, per-season history and artifact listing;
``predict``: load ``models:/NAME@ALIAS`` with ``mlflow.pyfunc`` and write every pair of the
season's seeded teams as a Kaggle CSV. The benchmark runner times each against the ncaa-eval
command that does the same (``runs list``, ``runs show``, ``predict --model``).

Usage: python bench/reference_reads.py list|show|predict --tracking-uri URI [--experiment E]
       [--run ID] [--model URI --season S --teams 1101,1102,... --output F]
"""

from __future__ import annotations

import argparse
import json

from mlflow.tracking import MlflowClient


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=["list", "show", "predict"])
    parser.add_argument("--tracking-uri", required=True)
    parser.add_argument("--experiment", default="ncaa-eval")
    parser.add_argument("--run")
    parser.add_argument("--model")
    parser.add_argument("--season", type=int)
    parser.add_argument("--teams")
    parser.add_argument("--output")
    args = parser.parse_args()
    client = MlflowClient(args.tracking_uri)
    if args.what == "list":
        experiment = client.get_experiment_by_name(args.experiment)
        assert experiment is not None
        runs = client.search_runs(
            [experiment.experiment_id], max_results=20, order_by=["attributes.start_time DESC"]
        )
        print(json.dumps([{"run_id": r.info.run_id, **r.data.metrics} for r in runs]))
    elif args.what == "show":
        run = client.get_run(args.run)
        history = client.get_metric_history(args.run, "season_brier")
        artifacts = [a.path for a in client.list_artifacts(args.run)]
        print(json.dumps({"params": run.data.params, "metrics": run.data.metrics,
                          "seasons": {m.step: m.value for m in history},
                          "artifacts": artifacts}))  # fmt: skip
    else:
        import mlflow
        import numpy as np
        import pandas as pd

        mlflow.set_tracking_uri(args.tracking_uri)
        model = mlflow.pyfunc.load_model(args.model)
        teams = np.array(sorted(int(t) for t in args.teams.split(",")))
        a, b = np.triu_indices(len(teams), k=1)
        p = model.predict(
            pd.DataFrame({"season": args.season, "team_a_id": teams[a], "team_b_id": teams[b]})
        )
        ids = [f"{args.season}_{x}_{y}" for x, y in zip(teams[a], teams[b], strict=True)]
        pd.DataFrame({"ID": ids, "Pred": np.asarray(p)}).to_csv(
            args.output, index=False, float_format="%.6f"
        )
        print(json.dumps({"rows": len(ids)}))


if __name__ == "__main__":
    main()
