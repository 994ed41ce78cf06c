"""Hyperparameter search on Optuna: ``ncaa-eval tune``.

* :mod:`~ncaa_eval.tuning.space`: a model's search space, declared on its config fields and
  narrowed by a JSON file.
* :mod:`~ncaa_eval.tuning.request`: what a search asks for, checked before anything exists.
* :mod:`~ncaa_eval.tuning.storage`: the Optuna storage (journal file, PostgreSQL).
* :mod:`~ncaa_eval.tuning.study`: creating or joining a study and its MLflow parent run.
* :mod:`~ncaa_eval.tuning.objective`: one trial, scored walk-forward like ``train``.
* :mod:`~ncaa_eval.tuning.worker`: a worker's loop, stopping at N finished trials in all.
* :mod:`~ncaa_eval.tuning.search`: :func:`tune`, the whole search and its result.
"""

from __future__ import annotations

from ncaa_eval.tuning.request import TuneRequest
from ncaa_eval.tuning.search import TuneResult, tune

__all__ = ["TuneRequest", "TuneResult", "tune"]
