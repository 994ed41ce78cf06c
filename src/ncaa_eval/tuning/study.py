"""Creating or joining one Optuna study, with its MLflow parent run, exactly once.

The first worker to reach an empty storage creates the study (Optuna lets one ``create_study``
win; the others load it), records what the study is (model, league, tuning window, search space,
data digest) and creates its MLflow parent run; later workers, on any machine, load the study,
check that they ask for the same thing, and attach to the same parent run. A creator that fails
before the study is complete deletes it again: no study is left half made.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ncaa_eval.errors import NcaaEvalError
from ncaa_eval.tracking.studies import StudyRuns
from ncaa_eval.tuning.request import PreparedTune
from ncaa_eval.tuning.space import dotted_value
from ncaa_eval.tuning.storage import StorageSpec

if TYPE_CHECKING:
    import optuna

#: Study user attribute holding :attr:`PreparedTune.identity`.
IDENTITY_ATTR = "ncaa_eval"
#: Study user attribute holding the MLflow parent run id (set last: the study is then complete).
PARENT_ATTR = "mlflow_run_id"
#: Trial user attribute marking the trial that runs the model's defaults.
DEFAULTS_ATTR = "defaults"
#: Seconds a joining worker waits for the creator to finish making the study.
JOIN_WAIT = 60.0


class StudyMismatchError(NcaaEvalError):
    """An existing study was made for another model, league, window, space or data."""


@dataclass
class OpenStudy:
    """A study ready for trials, and the MLflow run its trials nest under."""

    study: optuna.Study
    parent_run_id: str
    created: bool


def sampler_for(prepared: PreparedTune, worker: int) -> optuna.samplers.BaseSampler:
    """TPE, multivariate, with a constant liar so parallel workers spread out.

    Worker ``i`` of a seeded search uses ``seed + i``: one worker with a fixed seed draws the
    same trials every time.
    """
    import warnings

    import optuna

    seed = prepared.request.seed
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(
            seed=None if seed is None else seed + worker,
            multivariate=True,
            constant_liar=True,
            n_startup_trials=10,
        )


def pruner_for(prepared: PreparedTune) -> optuna.pruners.BasePruner:
    """Median pruning on the running Brier after each season, once 5 trials finished.

    A trial whose running Brier after season ``k`` is worse than the median of the earlier
    trials' at ``k`` stops; the first three seasons are never judged (too few games).
    """
    import optuna

    seasons = len(prepared.history.seasons)
    return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=min(3, seasons - 1))


SAMPLER_NAME = "TPESampler(multivariate, constant_liar, 10 startup)"
PRUNER_NAME = "MedianPruner(5 startup, 3 warm-up seasons)"


def open_study(
    prepared: PreparedTune,
    spec: StorageSpec,
    runs: StudyRuns,
    *,
    worker: int = 0,
    create: bool = True,
    storage: optuna.storages.BaseStorage | None = None,
) -> OpenStudy:
    """Create the study (and its parent run) or join it; raise if it is another search's.

    ``storage`` is ``spec`` opened already, if it is. A worker that may not create the study
    (``create=False``: a worker process the command started alongside itself) waits up to
    :data:`JOIN_WAIT` seconds for it to appear.

    Raises:
        StorageError: the storage cannot be opened.
        StudyMismatchError: the study exists for another model, league, window or space.
        TrackingStoreError: the MLflow store cannot be reached, or lacks the study's run.
        NcaaEvalError: ``create`` is False and there is no such study.
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    storage = storage if storage is not None else spec.open()
    name = prepared.study_name
    sampler, pruner = sampler_for(prepared, worker), pruner_for(prepared)
    study = _load(name, storage, sampler, pruner)
    deadline = time.monotonic() + JOIN_WAIT
    while study is None and not create and time.monotonic() < deadline:
        time.sleep(0.2)
        study = _load(name, storage, sampler, pruner)
    if study is None:
        if not create:
            raise NcaaEvalError(f"Study '{name}' is not in {spec.shown}; start it first.")
        # Open the tracking store before the study exists: a store that cannot be reached must
        # not leave a study behind.
        runs.experiment_id  # noqa: B018
        try:
            study = optuna.create_study(
                study_name=name, storage=storage, sampler=sampler, pruner=pruner,
                direction="minimize",
            )  # fmt: skip
        except optuna.exceptions.DuplicatedStudyError:
            study = _load(name, storage, sampler, pruner)
            assert study is not None
        else:
            return OpenStudy(study, _complete(prepared, spec, runs, study, storage), True)
    parent = _join(prepared, spec, study)
    runs.check_parent(parent, name)
    runs.set_parent_status(parent, "RUNNING")
    return OpenStudy(study, parent, False)


def _load(
    name: str,
    storage: optuna.storages.BaseStorage,
    sampler: optuna.samplers.BaseSampler,
    pruner: optuna.pruners.BasePruner,
) -> optuna.Study | None:
    import optuna

    try:
        return optuna.load_study(study_name=name, storage=storage, sampler=sampler, pruner=pruner)
    except KeyError:
        return None


def _complete(
    prepared: PreparedTune,
    spec: StorageSpec,
    runs: StudyRuns,
    study: optuna.Study,
    storage: optuna.storages.BaseStorage,
) -> str:
    """Record the new study's identity and parent run; delete the study if that fails."""
    import optuna

    parent: str | None = None
    try:
        study.set_user_attr(IDENTITY_ATTR, prepared.identity)
        parent = runs.create_parent(
            prepared.study_name, prepared.study_name, _params(prepared, spec)
        )
        _enqueue_defaults(prepared, study)
        study.set_user_attr(PARENT_ATTR, parent)
        return parent
    except BaseException:
        optuna.delete_study(study_name=prepared.study_name, storage=storage)
        if parent is not None:
            runs.set_parent_status(parent, "FAILED", quiet=True)
        raise


def _params(prepared: PreparedTune, spec: StorageSpec) -> dict[str, str]:
    r = prepared.request
    return {
        "study": prepared.study_name,
        "model_type": r.model,
        "league": r.league,
        "tune_years": f"{r.tune_years[0]}-{r.tune_years[1]}",
        "storage": spec.shown,
        "sampler": SAMPLER_NAME,
        "pruner": PRUNER_NAME,
        "seed": "none" if r.seed is None else str(r.seed),
        "objective": "main-draw Brier, walk-forward, First Four not scored",
        "search_space": json.dumps(prepared.space.to_json(), sort_keys=True)[:6000],
        "data_digest": prepared.repository.digest,
    }


def _enqueue_defaults(prepared: PreparedTune, study: optuna.Study) -> None:
    """Trial 0 runs the model's defaults, when they lie in the space: the search starts there
    and the defaults' Brier comes for free."""
    defaults = prepared.defaults.model_dump(mode="json")
    values = {d.name: dotted_value(defaults, d.name) for d in prepared.space.dimensions}
    fixed_match = all(dotted_value(defaults, k) == v for k, v in prepared.space.fixed.items())
    if fixed_match and prepared.space.contains(values):
        study.enqueue_trial(values, user_attrs={DEFAULTS_ATTR: True})


def _join(prepared: PreparedTune, spec: StorageSpec, study: optuna.Study) -> str:
    """Wait for the creator to finish the study, then check that it is the same search."""
    deadline = time.monotonic() + JOIN_WAIT
    attrs = study.user_attrs
    while PARENT_ATTR not in attrs:
        if time.monotonic() > deadline:
            raise NcaaEvalError(
                f"Study '{prepared.study_name}' in {spec.shown} was never finished by the worker "
                "that created it; delete it (`optuna delete-study --study-name "
                f"{prepared.study_name} --storage URL`) or give another --study."
            )
        time.sleep(0.5)
        attrs = study.user_attrs
    found = attrs.get(IDENTITY_ATTR, {})
    wanted = prepared.identity
    for key, label in (
        ("model", "model"),
        ("league", "league"),
        ("tune_years", "tuning window"),
        ("space", "search space"),
        ("data_digest", "data (another import)"),
    ):
        if found.get(key) != wanted[key]:
            theirs = found.get(key)
            shown = theirs if key != "space" else "another one"
            raise StudyMismatchError(
                f"Study '{prepared.study_name}' in {spec.shown} was made for {label} {shown!s}, "
                f"not {wanted[key] if key != 'space' else 'this one'}; give another --study "
                "name, or the same options as the study."
            )
    return str(attrs[PARENT_ATTR])
