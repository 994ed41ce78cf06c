"""One trial: draw a config, walk it forward over the tuning window, report season by season.

The score is exactly ``train``'s: every tournament of the window forecast from games before it
only (:func:`~ncaa_eval.evaluation.walk_forward.walk_forward`, history from the store's first
season), the Brier over main-draw games with a result (First Four not scored). After each season
the running Brier is reported to Optuna, and a trial the pruner judges hopeless stops there.
Each trial is recorded as an MLflow run nested under the study's run.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ncaa_eval.evaluation.walk_forward import walk_forward
from ncaa_eval.tracking.studies import StudyRuns
from ncaa_eval.training.config_loading import validate_config
from ncaa_eval.tuning.request import PreparedTune

if TYPE_CHECKING:
    import optuna

    from ncaa_eval.model.base import ModelConfig

#: Trial user attributes: the trial's MLflow run, and the worker (``host:pid``) running it.
RUN_ATTR = "mlflow_run_id"
WORKER_ATTR = "worker"
#: Trial user attribute of a trial dropped as one too many (see :class:`SurplusTrialError`).
SURPLUS_ATTR = "surplus"


def worker_id() -> str:
    """``host:pid`` of this process, to tell a dead local worker's trials."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Interrupted(KeyboardInterrupt):
    """SIGTERM inside a trial, carried through Optuna (which fails the trial on
    ``KeyboardInterrupt`` but leaves it RUNNING on ``SystemExit``) and re-raised as
    :attr:`exit` by the worker."""

    def __init__(self, exit: SystemExit) -> None:
        super().__init__()
        self.exit = exit


class SurplusTrialError(Exception):
    """This trial would take the study past N finished trials: another worker started an
    earlier-numbered one at the same moment. It ends FAIL (user attribute ``surplus``), which
    does not count as finished, before anything runs."""


class RunningBrier:
    """The Brier over the scored games seen so far, season by season."""

    def __init__(self) -> None:
        self.squared = 0.0
        self.games = 0
        self.seasons: dict[int, tuple[float, float]] = {}

    def add(self, season: int, predictions: pd.DataFrame) -> float:
        """Add a season's predictions; return the running Brier (NaN while no game scored)."""
        scored = predictions[~predictions["is_play_in"] & predictions["team_a_won"].notna()]
        p = scored["pred_win_prob"].to_numpy(dtype=np.float64)
        y = scored["team_a_won"].to_numpy(dtype=np.float64)
        squared = float(np.sum((p - y) ** 2))
        self.squared += squared
        self.games += len(scored)
        season_brier = squared / len(scored) if len(scored) else float("nan")
        self.seasons[season] = (season_brier, self.value)
        return self.value

    @property
    def value(self) -> float:
        return self.squared / self.games if self.games else float("nan")


def score_config(
    prepared: PreparedTune,
    config: ModelConfig,
    years: tuple[int, int] | None = None,
    on_season: Callable[[int, float], None] | None = None,
    brier: RunningBrier | None = None,
) -> RunningBrier:
    """Walk ``config`` forward over the tuning window (or ``years``) and score it.

    ``on_season(season, running_brier)`` is called after each season (it may raise to stop the
    walk); ``brier`` is filled as the walk goes, so a caller keeps the curve of a walk stopped
    early.
    """
    model_class = prepared.model_class
    brier = brier if brier is not None else RunningBrier()

    def on_predictions(season: int, frame: pd.DataFrame) -> None:
        value = brier.add(season, frame)
        if on_season is not None:
            on_season(season, value)

    if years is None:
        history = prepared.history
        first, last = history.seasons[0], history.seasons[-1]
    else:
        history, (first, last) = None, years
    walk_forward(
        lambda: model_class(config),
        prepared.repository,
        prepared.request.league,
        first,
        last,
        history=history,
        on_predictions=on_predictions,
        fit_final=False,
    )
    return brier


class Objective:
    """The function Optuna calls for each trial of this worker."""

    def __init__(
        self,
        prepared: PreparedTune,
        runs: StudyRuns,
        parent_run_id: str,
        surplus: Callable[[int], bool] | None = None,
    ) -> None:
        self.prepared = prepared
        self.runs = runs
        self.parent_run_id = parent_run_id
        #: Whether trial number N is one too many (see :class:`SurplusTrialError`).
        self.surplus = surplus
        self.seasons = prepared.history.seasons
        self.worker = worker_id()

    def __call__(self, trial: optuna.Trial) -> float:
        try:
            # Held while Optuna created the trial (see Worker.run): raised here, the trial fails.
            self.runs.raise_deferred()
            return self._run(trial)
        except SystemExit as exc:  # also one raised by a signal held during a write
            raise Interrupted(exc) from exc

    def _run(self, trial: optuna.Trial) -> float:
        import optuna

        prepared = self.prepared
        if self.surplus is not None and self.surplus(trial.number):
            with self.runs.held():
                trial.set_user_attr(SURPLUS_ATTR, True)
            raise SurplusTrialError(f"trial {trial.number} is past the study's target")
        # Optuna's own writes (the journal file's lock) are not safe to interrupt either: a
        # Ctrl-C there can come out as a FileNotFoundError. Held, it is raised right after.
        with self.runs.held():
            overrides = prepared.space.suggest(trial)
        config = validate_config(
            prepared.model_class.config_class, overrides, prepared.request.model
        )
        flat = {**prepared.space.fixed, **trial.params}
        step = {season: i for i, season in enumerate(self.seasons)}

        # The seasons Optuna has: the run's curve is those, even if a signal comes between a
        # season's score and its report.
        reported: list[int] = []

        def on_season(season: int, value: float) -> None:
            with self.runs.held():
                trial.report(value, step[season])
                reported.append(season)
                prune = trial.should_prune()
            if prune:
                raise optuna.TrialPruned(f"running Brier {value:.4f} after {season}")

        brier = RunningBrier()
        created: list[str] = []

        def end(state: str, quiet: bool = True) -> None:
            if created:
                value = brier.value if state == "complete" else None
                seasons = {season: brier.seasons[season] for season in reported}
                # A signal during the last write of a trial that ended well is raised after
                # Optuna recorded it (Worker.after_trial), so both stores agree.
                self.runs.end_trial(
                    created[0], state, seasons, value, flat, quiet=quiet, defer=not quiet
                )

        try:
            run_id = self.runs.start_trial(
                self.parent_run_id, prepared.study_name, trial.number, created.append
            )
            with self.runs.held():
                trial.set_user_attr(RUN_ATTR, run_id)
                trial.set_user_attr(WORKER_ATTR, self.worker)
            # Only the walk takes a signal at once; the writes around it hold it (Worker.run).
            with self.runs.let_through():
                score_config(prepared, config, on_season=on_season, brier=brier)
        except optuna.TrialPruned:
            end("pruned", quiet=False)
            raise
        except (SystemExit, KeyboardInterrupt):
            end("interrupted")
            raise
        except BaseException:
            end("failed")
            raise
        end("complete", quiet=False)
        return brier.value
