"""What tracking one run costs on a team server (PostgreSQL + ``mlflow server``) vs local SQLite.

Starts its own throw-away PostgreSQL cluster and ``mlflow server`` (with served artifacts) through
``tests/helpers/postgres.py``, the helpers the integration tests use, and a fresh local SQLite
store, then times on each, in this process and with the library's own code:

* ``log_run_s``: one run's whole record as ``train`` writes it with :class:`RunStore` (create
  the run, ``save_run`` with the run's real predictions, the overall and per-season metrics,
  end the run);
* ``save_run_s``: :meth:`RunStore.save_run` alone (params, ``config.json``, ``run.json``,
  ``predictions.parquet``, tags);
* ``train_s``: :func:`ncaa_eval.training.train` end to end (Elo on the demo league, with export),
  and ``train_tracking_s``, its part outside forecasting and charts, when the orchestrator
  reports it (``TrainResult.timings``).

Each figure is the median of ``--repeats`` runs after one warm-up run per store. Prints JSON.

Usage::

    .venv/bin/python bench/tracking_cost.py [--repeats 5] [--data-dir DIR]

Needs the PostgreSQL server binaries (Debian's ``postgresql``) and ``pip install -e '.[postgres]'``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stdout
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from tests.helpers.postgres import (  # noqa: E402
    missing_requirements,
    mlflow_server,
    postgres_server,
)

#: The training job timed: a short range of the demo league, so that tracking is a visible part.
MODEL, START, END = "elo", 2022, 2025


def median_of(repeats: int, step: Callable[[int], float]) -> dict[str, float]:
    """Run ``step`` once to warm up, then ``repeats`` times; the median and spread in seconds."""
    step(-1)
    times = [step(i) for i in range(repeats)]
    return {
        "median_s": round(statistics.median(times), 4),
        "min_s": round(min(times), 4),
        "max_s": round(max(times), 4),
    }


def measure(uri: str, data_dir: Path, scratch: Path, repeats: int) -> dict[str, Any]:
    """Time train, the whole record of a run and save_run on the store at ``uri``."""
    from ncaa_eval.tracking import RunStore
    from ncaa_eval.training import TrainRequest, train

    tracking: list[float] = []

    def train_once(i: int) -> float:
        request = TrainRequest(
            model=MODEL,
            start_year=START,
            end_year=END,
            data_dir=data_dir,
            output_dir=scratch / "exports",
            tracking_uri=uri,
            experiment="bench-train",
        )
        t0 = time.perf_counter()
        result = train(request)
        elapsed = time.perf_counter() - t0
        timings = getattr(result, "timings", None)
        if i >= 0 and isinstance(timings, dict) and "tracking" in timings:
            tracking.append(float(timings["tracking"]))
        return elapsed

    report: dict[str, Any] = {"train_s": median_of(repeats, train_once)}
    if tracking:
        report["train_tracking_s"] = round(statistics.median(tracking), 4)

    # The record, predictions and metrics of a real run, written again onto new runs.
    source = RunStore(uri, "bench-train")
    [last] = source.list_runs(max_results=1)
    predictions = source.load_predictions(last.run_id).drop(columns="run_id")
    client = source.client
    run = client.get_run(last.run_id)
    metrics = {k: v for k, v in run.data.metrics.items() if not k.startswith("season_")}
    seasons = {
        key: {m.step: m.value for m in client.get_metric_history(last.run_id, key)}
        for key in ("season_brier", "season_log_loss")
    }
    store = RunStore(uri, "bench-log")
    save_times: list[float] = []

    def log_once(i: int) -> float:
        t0 = time.perf_counter()
        with store.start_run(run_name=f"bench-{i}") as run_id:
            record = last.model_copy(update={"run_id": run_id, "run_name": f"bench-{i}"})
            s0 = time.perf_counter()
            store.save_run(record, predictions)
            if i >= 0:
                save_times.append(time.perf_counter() - s0)
            store.log_metrics(run_id, metrics)
            by_step: dict[int, dict[str, float]] = {}
            for key, history in seasons.items():
                for season, value in history.items():
                    by_step.setdefault(season, {})[key] = value
            # One batch, as train logs them, where the store has it.
            log_steps = getattr(store, "log_metric_steps", None)
            if log_steps is not None:
                log_steps(run_id, by_step)
            else:
                for season, values in by_step.items():
                    store.log_metrics(run_id, values, step=season)
        return time.perf_counter() - t0

    report["log_run_s"] = median_of(repeats, log_once)
    report["save_run_s"] = round(statistics.median(save_times), 4)
    report["prediction_count"] = last.prediction_count
    return report


@contextmanager
def environment() -> Iterator[None]:
    """No MLflow variable from the caller's shell; MLflow's defaults for everything else."""
    saved = {k: v for k, v in os.environ.items() if k.startswith("MLFLOW_")}
    for name in saved:
        del os.environ[name]
    try:
        yield
    finally:
        os.environ.update(saved)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per store (>= 1)")
    parser.add_argument("--data-dir", type=Path, help="a data store [default: a new demo league]")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    reason = missing_requirements()
    if reason is not None:
        print(json.dumps({"error": reason}))
        return 1
    # MLflow writes "View run ... at" lines to stdout for each run on a server: keep stdout JSON.
    with (
        redirect_stdout(sys.stderr),
        environment(),
        tempfile.TemporaryDirectory(prefix="ncaa-eval-bench-") as tmp,
    ):
        scratch = Path(tmp)
        data_dir = args.data_dir
        if data_dir is None:
            from ncaa_eval.ingest import build_demo_store

            data_dir = scratch / "demo"
            build_demo_store(data_dir, seed=7, n_seasons=8)
        sqlite_uri = f"sqlite:///{(scratch / 'sqlite' / 'mlflow.db').as_posix()}"
        report: dict[str, Any] = {
            "repeats": args.repeats,
            "job": f"{MODEL} {START}-{END}",
            "sqlite": measure(sqlite_uri, data_dir, scratch / "sqlite", args.repeats),
        }
        t0 = time.perf_counter()
        with postgres_server() as pg:
            backend = pg.create_database("mlflow")
            with mlflow_server(backend, scratch / "server" / "artifacts") as uri:
                report["server_start_s"] = round(time.perf_counter() - t0, 2)
                report["postgres_server"] = measure(uri, data_dir, scratch / "pg", args.repeats)
    sqlite, server = report["sqlite"], report["postgres_server"]
    report["server_minus_sqlite_s"] = {
        key: round(server[key]["median_s"] - sqlite[key]["median_s"], 4)
        for key in ("train_s", "log_run_s")
    } | {"save_run_s": round(server["save_run_s"] - sqlite["save_run_s"], 4)}
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
