"""What an ``ncaa-eval tune`` trial costs, against the same walk-forward without tracking.

Reads a finished study from its Optuna journal and, for each COMPLETE trial, its span inside the
command (``datetime_start`` to ``datetime_complete``: drawing the config, the trial's MLflow run,
the walk-forward, Optuna's season-by-season reports, ending the run) and its cycle (from its
start to the next trial's start: also the after-trial callback, the sampler and the stop check).
Then, in this process, it walks each of those configs again with the library's own
:func:`~ncaa_eval.evaluation.walk_forward.walk_forward` on a prepared history
(:func:`~ncaa_eval.evaluation.walk_forward.prepare_history`, ``fit_final=False``, the running
Brier computed per season): exactly what the trial did, minus MLflow and Optuna. The one-off work
of a process's first walk (the games oriented, or the features served) is timed apart and left
out, as is the first trial read (``--first``: trial 0, or the first of a resumed command), which
did it; ``--defaults-only`` times just that work and one walk of the defaults (the breakdown of a
first trial).

Prints one JSON line: per-trial seconds, no score. Usage::

    .venv/bin/python bench/tune_cost.py --data-dir STORE --journal optuna.journal \
        --study elo-M-2003-2014 --model elo --tune-years 2003-2014 [--walks 3] \
        [--first 4 --stop 8]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ncaa_eval.evaluation.walk_forward import prepare_history, walk_forward
from ncaa_eval.ingest import ParquetRepository
from ncaa_eval.model.registry import get_model
from ncaa_eval.training.config_loading import validate_config
from ncaa_eval.tuning.space import load_space


def study_trials(
    journal: Path, study: str, first: int = 0, stop: int | None = None
) -> list[dict[str, Any]]:
    """Trials ``first`` to ``stop - 1`` of the study: number, state, params, span and cycle.

    A trial's cycle needs the next trial in the range (one process ran both: a resumed study's
    next command starts a new process, whose start-up is no trial's cost).
    """
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    storage = JournalStorage(JournalFileBackend(str(journal)))
    trials = [
        t
        for t in optuna.load_study(study_name=study, storage=storage).get_trials(deepcopy=False)
        if t.number >= first and (stop is None or t.number < stop)
        and t.datetime_start is not None and t.datetime_complete is not None
    ]  # fmt: skip
    trials.sort(key=lambda t: t.datetime_start)
    out = []
    for i, t in enumerate(trials):
        assert t.datetime_start is not None
        assert t.datetime_complete is not None
        nxt = trials[i + 1].datetime_start if i + 1 < len(trials) else None
        out.append(
            {
                "number": t.number,
                "state": t.state.name,
                "params": dict(t.params),
                "span_s": (t.datetime_complete - t.datetime_start).total_seconds(),
                "cycle_s": None if nxt is None else (nxt - t.datetime_start).total_seconds(),
                "seasons_walked": len(t.intermediate_values),
            }
        )
    return out


def time_walks(
    data_dir: Path, model: str, league: str, years: tuple[int, int], trials: list[dict[str, Any]],
    walks: int,
) -> dict[str, Any]:  # fmt: skip
    """Walk each trial's config ``walks`` times without tracking; seconds per walk."""
    repository = ParquetRepository(data_dir)
    model_class = get_model(model)
    space = load_space(model_class.config_class, model, None)
    started = time.perf_counter()
    history = prepare_history(repository, league, *years)
    prepare_s = time.perf_counter() - started

    def walk(config: Any) -> float:
        squared, games = 0.0, 0

        def on_predictions(season: int, frame: pd.DataFrame) -> None:
            nonlocal squared, games
            scored = frame[~frame["is_play_in"] & frame["team_a_won"].notna()]
            p = scored["pred_win_prob"].to_numpy(dtype=np.float64)
            y = scored["team_a_won"].to_numpy(dtype=np.float64)
            squared += float(np.sum((p - y) ** 2))
            games += len(scored)

        t0 = time.perf_counter()
        walk_forward(
            lambda: model_class(config), repository, league, *years, history=history,
            on_predictions=on_predictions, fit_final=False,
        )  # fmt: skip
        return time.perf_counter() - t0

    defaults = model_class.config_class()
    # What a command's first trial did once for all: orient the games or serve the features.
    t0 = time.perf_counter()
    features = getattr(defaults, "features", None)
    if features is not None:
        history.features(features)
    else:
        history.oriented_games()
    cache_s = time.perf_counter() - t0
    defaults_s = walk(defaults)
    timed = {}
    for trial in trials:
        config = validate_config(model_class.config_class, space.overrides(trial["params"]), model)
        timed[trial["number"]] = [walk(config) for _ in range(walks)]
    return {"prepare_s": prepare_s, "cache_s": cache_s, "defaults_walk_s": defaults_s,
            "walks": timed}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--journal", type=Path, required=True)
    parser.add_argument("--study", required=True)
    parser.add_argument("--model", default="elo")
    parser.add_argument("--league", default="M", choices=["M", "W"])
    parser.add_argument("--tune-years", default="2003-2014")
    parser.add_argument("--walks", type=int, default=3, help="untracked walks per config")
    parser.add_argument("--first", type=int, default=0, help="first trial number read")
    parser.add_argument("--stop", type=int, help="trial number to stop before")
    parser.add_argument("--no-walks", action="store_true", help="only read the study's trials")
    parser.add_argument(
        "--defaults-only", action="store_true", help="walk only the defaults (a breakdown)"
    )
    args = parser.parse_args()
    first, _, last = args.tune_years.partition("-")
    years = (int(first), int(last or first))
    trials = study_trials(args.journal, args.study, args.first, args.stop)
    report: dict[str, Any] = {"trials": trials}
    if not args.no_walks:
        # The command's first trial oriented the games or served the features: left out.
        compared = [t for t in trials if t["state"] == "COMPLETE" and t["number"] != args.first]
        if args.defaults_only:
            compared = []
        walked = time_walks(args.data_dir, args.model, args.league, years, compared, args.walks)
        for key in ("prepare_s", "cache_s", "defaults_walk_s"):
            report[key] = walked[key]
        for t in trials:
            seconds = walked["walks"].get(t["number"])
            t["walk_s"] = statistics.median(seconds) if seconds else None
    for t in trials:
        del t["params"]
    print(json.dumps(report))


if __name__ == "__main__":
    main()
