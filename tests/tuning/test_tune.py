"""``ncaa-eval tune`` end to end: the real CLI, a real MLflow SQLite store, the real Optuna journal.

Every search is read back twice, with ``MlflowClient`` and with Optuna's own ``JournalStorage``,
and the two must tell the same story: one parent run per study, one nested run per trial with the
trial's params, its season-by-season running Brier (= Optuna's intermediate values) and its final
Brier (= Optuna's value), the run's status and state tag following the trial's state. A trial is
scored exactly as ``train`` scores a run: the defaults' trial and a ``train`` of the best config
reproduce ``train``'s Brier. Bad input ends in one ``Error:`` line with no study and no run left
RUNNING. Signals and killed workers: ``test_tune_signals.py``.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from click.testing import CliRunner, Result

from ncaa_eval.cli.main import cli
from ncaa_eval.model.elo import EloConfig
from tests.helpers.mlflow_store import MLFLOW_ENV_VARS, sqlite_uri
from tests.training.tracking_checks import client_for, flatten, shared_template, store_copy

if TYPE_CHECKING:
    import optuna
    from mlflow.entities import Run

#: Three tournaments of the 8-season demo league (2018-2025): a trial takes well under a second.
DEMO = (2019, 2021)
#: Five: the median pruner judges a trial from its fourth season on.
LONG = (2019, 2023)
#: With one worker, seed 5 over ``LONG`` prunes two of 12 trials (after their fourth season).
PRUNING_SEED = 5
ANSI = re.compile(r"\x1b\[[0-9;]*m")
STUDY_TAG = "ncaa_eval.study"
TUNE_TAG = "ncaa_eval.tune"
STATE_TAG = "ncaa_eval.trial_state"
NUMBER_TAG = "ncaa_eval.trial_number"
PARENT_TAG = "mlflow.parentRunId"


def years(window: tuple[int, int]) -> str:
    return f"{window[0]}-{window[1]}"


def demo_study(window: tuple[int, int] = DEMO) -> str:
    """The default study name of an Elo search over ``window`` of the demo league."""
    return f"elo-M-{years(window)}-demo"


# --- the folder of one test: a migrated MLflow store, the journal beside it, an output dir -----


@dataclass(frozen=True)
class Folder:
    """``root/mlflow/mlflow.db`` (a copy of the migrated template), the default journal beside
    it, and ``root/out`` for the best config files."""

    root: Path

    @property
    def db(self) -> Path:
        return self.root / "mlflow" / "mlflow.db"

    @property
    def uri(self) -> str:
        return sqlite_uri(self.db)

    @property
    def journal(self) -> Path:
        return self.db.parent / "optuna.journal"

    @property
    def out(self) -> Path:
        return self.root / "out"

    def tune(
        self, data_dir: Path, *extra: str, window: tuple[int, int] = DEMO, model: str = "elo"
    ) -> list[str]:
        return ["tune", "--model", model, "--data-dir", str(data_dir),
                "--tune-years", years(window), "--tracking-uri", self.uri,
                "--output-dir", str(self.out), *extra]  # fmt: skip

    def train(self, data_dir: Path, window: tuple[int, int], *extra: str) -> list[str]:
        return ["train", "--model", "elo", "--data-dir", str(data_dir),
                "--start-year", str(window[0]), "--end-year", str(window[1]),
                "--tracking-uri", self.uri, "--output-dir", str(self.out / "train"),
                "--json", *extra]  # fmt: skip


def make_folder(root: Path, template: Path, mp: pytest.MonkeyPatch) -> Folder:
    """A test folder, the cwd, with nothing in the environment steering MLflow or the data."""
    for name in (*MLFLOW_ENV_VARS, "NCAA_EVAL_DATA_DIR"):
        mp.delenv(name, raising=False)
    folder = Folder(root)
    store_copy(template, folder.db)
    mp.chdir(root)
    return folder


@pytest.fixture(scope="session")
def mlflow_template(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    return shared_template(request.config, tmp_path_factory)


@pytest.fixture
def folder(mlflow_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Folder:
    return make_folder(tmp_path, mlflow_template, monkeypatch)


def invoke(*args: str, expect: int | None = 0) -> Result:
    """The real Click group, in this process; stdout and stderr apart."""
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    if expect is not None:
        assert result.exit_code == expect, result.output
    return result


# --- reading both stores back -------------------------------------------------------------------


def open_journal(path: Path) -> optuna.storages.BaseStorage:
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    return JournalStorage(JournalFileBackend(str(path)))


def load_study(journal: Path, name: str) -> optuna.Study:
    import optuna

    assert journal.is_file(), f"no journal at {journal}"
    return optuna.load_study(study_name=name, storage=open_journal(journal))


def study_names(journal: Path) -> list[str]:
    import optuna

    if not journal.exists():
        return []
    return sorted(s.study_name for s in optuna.get_all_study_summaries(open_journal(journal)))


def tune_runs(uri: str) -> tuple[list[Run], list[Run]]:
    """(parent runs, trial runs) of every experiment, deleted ones included."""
    from mlflow.entities import ViewType

    client = client_for(uri)
    ids = [e.experiment_id for e in client.search_experiments(view_type=ViewType.ALL)]
    runs = client.search_runs(ids, run_view_type=ViewType.ALL, max_results=5000)
    parents = [r for r in runs if r.data.tags.get(TUNE_TAG) == "study"]
    trials = [r for r in runs if r.data.tags.get(TUNE_TAG) == "trial"]
    return parents, trials


def run_statuses(uri: str) -> dict[str, str]:
    """run id -> status of every run in the store."""
    from mlflow.entities import ViewType

    client = client_for(uri)
    ids = [e.experiment_id for e in client.search_experiments(view_type=ViewType.ALL)]
    runs = client.search_runs(ids, run_view_type=ViewType.ALL, max_results=5000)
    return {r.info.run_id: r.info.status for r in runs}


def history(uri: str, run_id: str, key: str) -> dict[int, float]:
    """A metric's values by step (each step logged once)."""
    points = client_for(uri).get_metric_history(run_id, key)
    steps = [m.step for m in points]
    assert len(steps) == len(set(steps)), f"{key} logged twice at a step: {sorted(steps)}"
    return {m.step: m.value for m in points}


def same_param(text: str, value: Any) -> bool:
    """Whether MLflow's param string holds the Optuna param ``value`` (any spelling)."""
    if isinstance(value, bool):
        return text.lower() == str(value).lower()
    if isinstance(value, int):
        return text == str(value)
    if isinstance(value, float):
        return float(text) == value
    return text == str(value)


def worker_pid(trial: optuna.trial.FrozenTrial) -> int:
    host, _, pid = str(trial.user_attrs["worker"]).rpartition(":")
    assert host, trial.user_attrs
    assert pid.isdigit(), trial.user_attrs
    return int(pid)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def check_both_stores(
    uri: str, study: optuna.Study, seasons: list[int]
) -> tuple[Run, dict[int, Run]]:
    """The MLflow side of ``study`` agrees with the Optuna side, trial by trial.

    Returns:
        The parent run and the trial runs by trial number.
    """
    from optuna.trial import TrialState

    parents, trials = tune_runs(uri)
    mine = [p for p in parents if p.data.tags.get(STUDY_TAG) == study.study_name]
    assert len(mine) == 1, [(p.info.run_name, p.info.status) for p in parents]
    parent = mine[0]
    assert study.user_attrs["mlflow_run_id"] == parent.info.run_id
    assert parent.data.params["study"] == study.study_name
    assert parent.data.params["model_type"] == "elo"
    assert parent.data.params["tune_years"] == f"{seasons[0]}-{seasons[-1]}"

    runs = [r for r in trials if r.data.tags.get(STUDY_TAG) == study.study_name]
    by_number = {int(r.data.tags[NUMBER_TAG]): r for r in runs}
    assert len(by_number) == len(runs), "two runs for one trial"
    ran = [t for t in study.trials if "mlflow_run_id" in t.user_attrs]
    assert {t.number for t in ran} <= set(by_number), "a trial's run is missing"
    assert set(by_number) <= {t.number for t in study.trials}, "a run of no trial"
    assert [t.number for t in study.trials if t.state == TrialState.RUNNING] == []
    for t in study.trials:
        if t.number not in by_number:
            continue
        run = by_number[t.number]
        where = f"trial {t.number} ({t.state.name})"
        if "mlflow_run_id" not in t.user_attrs:
            # Stopped between its run's creation and the link to it (Ctrl-C): failed in both.
            assert t.state == TrialState.FAIL, where
        else:
            assert t.user_attrs["mlflow_run_id"] == run.info.run_id, where
        assert run.data.tags[PARENT_TAG] == parent.info.run_id, where
        assert run.info.experiment_id == parent.info.experiment_id, where
        # Named after both, whichever comes first.
        assert study.study_name in run.info.run_name, where
        assert re.search(rf"\btrial-{t.number}\b", run.info.run_name), where
        # The hyperparameters: every searched one, under its dotted name, and nothing else.
        assert set(run.data.params) == set(t.params), where
        wrong = {k: v for k, v in t.params.items() if not same_param(run.data.params[k], v)}
        assert wrong == {}, f"{where}: {wrong} logged as {run.data.params}"
        # The curve, season by season, is Optuna's intermediate values.
        running = history(uri, run.info.run_id, "running_brier")
        one = history(uri, run.info.run_id, "season_brier")
        assert sorted(running) == sorted(one) == seasons[: len(t.intermediate_values)], where
        assert [running[s] for s in sorted(running)] == [
            t.intermediate_values[i] for i in range(len(running))
        ], where
        if running:
            assert one[seasons[0]] == running[seasons[0]], where
        state = run.data.tags.get(STATE_TAG)
        if t.state == TrialState.COMPLETE:
            assert (run.info.status, state) == ("FINISHED", "complete"), where
            assert len(running) == len(seasons), where
            assert history(uri, run.info.run_id, "brier") == {0: t.value}, where
            assert running[seasons[-1]] == t.value, where
        elif t.state == TrialState.PRUNED:
            assert (run.info.status, state) == ("KILLED", "pruned"), where
            assert "brier" not in run.data.metrics, where
        elif t.state == TrialState.FAIL:
            assert (run.info.status, state) in {("FAILED", "failed"), ("KILLED", "interrupted")}
            assert "brier" not in run.data.metrics, where
        else:
            raise AssertionError(f"{where} has a run but never ran")
    assert "RUNNING" not in run_statuses(uri).values()
    return parent, by_number


def check_best_history(uri: str, parent: Run, study: optuna.Study) -> None:
    """The parent's best_brier, by step (= trial number), is the best so far: it never rises,
    and it ends at the study's best value."""
    points = sorted(
        client_for(uri).get_metric_history(parent.info.run_id, "best_brier"),
        key=lambda m: (m.step, m.timestamp),
    )
    values = [m.value for m in points]
    assert values, "no best_brier logged"
    rises = [(a.step, b.step) for a, b in itertools.pairwise(points) if b.value > a.value]
    assert rises == [], f"best_brier rises by step: {[(m.step, m.value) for m in points]}"
    assert values[-1] == study.best_value


# --- 1, 2: two workers share one study; the JSON result and the best config -------------------


@dataclass(frozen=True)
class Parallel:
    folder: Folder
    payload: dict[str, Any]
    study: optuna.Study
    #: ``host:pid`` of this process, the command's own worker.
    main_worker: str


def _other_worker_ran(journal: Path, name: str, me: str) -> bool:
    import optuna

    try:
        study = optuna.load_study(study_name=name, storage=open_journal(journal))
    except KeyError:
        return False
    return any(t.user_attrs.get("worker", me) != me for t in study.get_trials(deepcopy=False))


@pytest.fixture(scope="module")
def parallel(
    mlflow_template: Path, demo_store: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Parallel]:
    """``tune --workers 2 --trials 8 --seed 0 --json`` on the demo, run once for the module.

    A demo trial takes less than a second, less than a worker process takes to start: the
    command's own worker would run every trial before the second joins. So its first trial (the
    defaults) waits until the other worker has started one; the trials are otherwise untouched.
    """
    from ncaa_eval.tuning import objective

    real = objective.score_config
    me = objective.worker_id()
    held: list[bool] = []
    with pytest.MonkeyPatch.context() as mp:
        made = make_folder(tmp_path_factory.mktemp("parallel"), mlflow_template, mp)

        def hold_first(*args: Any, **kwargs: Any) -> Any:
            if not held:
                held.append(True)
                deadline = time.monotonic() + 120
                while not _other_worker_ran(made.journal, demo_study(), me):
                    assert time.monotonic() < deadline, "the second worker never started a trial"
                    time.sleep(0.1)
            return real(*args, **kwargs)

        mp.setattr(objective, "score_config", hold_first)
        args = made.tune(demo_store, "--workers", "2", "--trials", "8", "--seed", "0", "--json")
        result = invoke(*args)
        assert held, "no trial ran in this process"
        payload = json.loads(result.stdout)
        yield Parallel(made, payload, load_study(made.journal, demo_study()), me)


def test_two_workers_share_one_study_and_both_stores_agree(parallel: Parallel) -> None:
    from optuna.trial import TrialState

    study = parallel.study
    assert study.study_name == parallel.payload["study"] == demo_study()
    states = [t.state for t in study.trials]
    finished = [s for s in states if s in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(finished) == 8, states
    assert TrialState.RUNNING not in states
    # Trial 0 runs the defaults.
    first = study.trials[0]
    assert first.user_attrs.get("defaults") is True
    defaults = EloConfig().model_dump(mode="json")
    assert first.params == {k: defaults[k] for k in first.params}
    assert set(first.params) == set(defaults) - {"initial_rating", "mean_rating"}

    # Two processes ran trials: this one, and a worker process that is gone now.
    workers = {str(t.user_attrs["worker"]) for t in study.trials}
    assert len(workers) == 2, workers
    assert parallel.main_worker in workers
    others = {worker_pid(t) for t in study.trials} - {os.getpid()}
    assert len(others) == 1
    assert not any(alive(pid) for pid in others), f"worker process {others} still running"

    parent, by_number = check_both_stores(parallel.folder.uri, study, list(range(2019, 2022)))
    assert parent.info.status == "FINISHED"
    assert parent.data.tags[TUNE_TAG] == "study"
    assert parent.data.params["seed"] == "0"
    assert parent.data.params["league"] == "M"
    assert parent.data.params["storage"] == str(parallel.folder.journal.resolve())
    assert parent.info.run_id == parallel.payload["mlflow"]["parent_run_id"]
    assert len(by_number) == len(study.trials) == 8
    # The parent's summary: both Briers and the files.
    assert parent.data.metrics["default_brier"] == first.value
    assert parent.data.metrics["best_brier"] == study.best_value
    artifacts = {a.path for a in client_for(parallel.folder.uri).list_artifacts(parent.info.run_id)}
    assert artifacts == {"best_config.json", "search_space.json"}


def test_the_parent_best_brier_never_rises_by_trial_number(parallel: Parallel) -> None:
    parent, _ = check_both_stores(parallel.folder.uri, parallel.study, list(range(2019, 2022)))
    check_best_history(parallel.folder.uri, parent, parallel.study)


@pytest.fixture(scope="module")
def trained_best(
    parallel: Parallel,
    mlflow_template: Path,
    demo_store: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[dict[str, Any], Run]]:
    """``train --config <best config file>`` over the tuning window, in a store of its own."""
    from tests.training.tracking_checks import only_run

    with pytest.MonkeyPatch.context() as mp:
        folder = make_folder(tmp_path_factory.mktemp("trained-best"), mlflow_template, mp)
        best_file = parallel.payload["best_config_file"]
        payload = json.loads(invoke(*folder.train(demo_store, DEMO, "--config", best_file)).stdout)
        yield payload, only_run(folder.uri)


def test_json_result_and_the_best_config_file_train_accepts(
    parallel: Parallel, trained_best: tuple[dict[str, Any], Run]
) -> None:
    from optuna.trial import TrialState

    payload, study = parallel.payload, parallel.study
    complete = [t for t in study.trials if t.state == TrialState.COMPLETE]
    pruned = [t for t in study.trials if t.state == TrialState.PRUNED]
    assert payload["trials"] == {
        "target": 8, "complete": len(complete), "pruned": len(pruned), "failed": 0,
    }  # fmt: skip
    best = min(complete, key=lambda t: t.value or 0.0)
    assert payload["best"]["trial"] == best.number
    assert payload["best"]["brier"] == min(t.value for t in complete if t.value is not None)
    assert payload["best"]["params"] == best.params
    assert payload["default"]["brier"] == study.trials[0].value
    assert payload["default"]["config"] == EloConfig().model_dump(mode="json")
    assert payload["tune_years"] == years(DEMO)
    assert payload["workers"] == 2
    assert payload["holdout"] is None
    assert payload["storage"] == str(parallel.folder.journal.resolve())
    assert payload["mlflow"]["tracking_uri"] == parallel.folder.uri

    path = Path(payload["best_config_file"])
    assert path == parallel.folder.out / "tune" / f"{demo_study()}.best.json"
    config = json.loads(path.read_text())
    assert config == payload["best"]["config"]
    assert config == EloConfig(**config).model_dump(mode="json")
    assert {k: config[k] for k in best.params} == best.params
    assert {k: v for k, v in config.items() if k not in best.params} == {
        "initial_rating": EloConfig().initial_rating,
        "mean_rating": EloConfig().mean_rating,
    }

    # train takes the file: its run's hyperparameters are the file's, and it scores the tuning
    # window exactly as the best trial did.
    trained, run = trained_best
    hyper = {k: v for k, v in run.data.params.items() if k in config}
    assert hyper == flatten(config)
    assert trained["metrics"]["brier"] == pytest.approx(best.value, rel=1e-12, abs=0)


def test_a_trial_run_logs_its_params_as_a_train_run_does(
    parallel: Parallel, trained_best: tuple[dict[str, Any], Run]
) -> None:
    """The best trial's run and the run of ``train --config best.json`` show the same strings
    for the same hyperparameters: the MLflow UI compares them, searches filter on them."""
    _, by_number = check_both_stores(parallel.folder.uri, parallel.study, list(range(2019, 2022)))
    trial_params = by_number[parallel.payload["best"]["trial"]].data.params
    _, run = trained_best
    assert trial_params == {k: run.data.params[k] for k in trial_params}


# --- 5: exactly train's protocol ---------------------------------------------------------------


def _defaults_against_train(folder: Folder, data_dir: Path, window: tuple[int, int]) -> None:
    """The defaults' trial scores the window exactly as ``train --model elo`` does."""
    tuned = json.loads(invoke(*folder.tune(data_dir, "--trials", "1", "--json", window=window))
                       .stdout)  # fmt: skip
    study = load_study(folder.journal, tuned["study"])
    (trial,) = study.trials
    assert trial.user_attrs.get("defaults") is True
    assert tuned["default"]["brier"] == tuned["best"]["brier"] == trial.value
    seasons = list(range(window[0], window[1] + 1))
    _, by_number = check_both_stores(folder.uri, study, seasons)

    trained = json.loads(invoke(*folder.train(data_dir, window)).stdout)
    assert trained["seasons"] == seasons
    assert trial.value == pytest.approx(trained["metrics"]["brier"], rel=1e-12, abs=0)
    by_season = history(folder.uri, by_number[0].info.run_id, "season_brier")
    assert by_season == pytest.approx(
        {row["season"]: row["brier"] for row in trained["season_metrics"]}, rel=1e-12, abs=0
    )


def test_the_default_trial_scores_exactly_as_train_on_the_demo(
    folder: Folder, demo_store: Path
) -> None:
    _defaults_against_train(folder, demo_store, DEMO)


@pytest.mark.kaggle
def test_the_default_trial_scores_exactly_as_train_on_the_real_data(
    folder: Folder, kaggle_store: Path
) -> None:
    # 2013-2014 only: the seasons from 2015 on are held out and never scored here.
    _defaults_against_train(folder, kaggle_store, (2013, 2014))


# --- 3, 4: same seed, same search; a study resumed --------------------------------------------


def _seeded(folder: Folder, data_dir: Path, seed: int, trials: int) -> tuple[Any, ...]:
    payload = json.loads(
        invoke(*folder.tune(data_dir, "--seed", str(seed), "--trials", str(trials), "--json"))
        .stdout
    )  # fmt: skip
    study = load_study(folder.journal, demo_study())
    return (
        [t.params for t in study.trials],
        [(t.state, t.value) for t in study.trials],
        Path(payload["best_config_file"]).read_text(),
    )


def test_the_same_seed_draws_the_same_trials(
    mlflow_template: Path, demo_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _seeded(make_folder(tmp_path / "a", mlflow_template, monkeypatch), demo_store, 7, 6)
    second = _seeded(make_folder(tmp_path / "b", mlflow_template, monkeypatch), demo_store, 7, 6)
    params = first[0]
    assert len(params) == 6
    assert len({json.dumps(p, sort_keys=True) for p in params}) == 6, "trials drew the same"
    assert second[0] == params
    assert second[1] == first[1]
    assert second[2] == first[2]
    # Another seed draws other trials after the defaults.
    other = _seeded(make_folder(tmp_path / "c", mlflow_template, monkeypatch), demo_store, 8, 2)
    assert other[0][0] == params[0]
    assert other[0][1] != params[1]


def test_the_same_command_resumes_the_study_under_the_same_parent_run(
    folder: Folder, demo_store: Path
) -> None:
    from optuna.trial import TrialState

    first = json.loads(invoke(*folder.tune(demo_store, "--trials", "4", "--json")).stdout)
    assert first["trials"]["complete"] + first["trials"]["pruned"] == 4
    second = json.loads(invoke(*folder.tune(demo_store, "--trials", "7", "--json")).stdout)

    study = load_study(folder.journal, demo_study())
    assert [t.number for t in study.trials] == list(range(7))
    assert {t.state for t in study.trials} <= {TrialState.COMPLETE, TrialState.PRUNED}
    assert [t.number for t in study.trials if t.user_attrs.get("defaults")] == [0]
    assert second["trials"]["complete"] + second["trials"]["pruned"] == 7
    assert second["trials"]["target"] == 7
    assert second["mlflow"]["parent_run_id"] == first["mlflow"]["parent_run_id"]
    assert second["default"]["brier"] == first["default"]["brier"] == study.trials[0].value
    assert second["best"]["brier"] == study.best_value <= first["best"]["brier"]

    parents, trials = tune_runs(folder.uri)
    assert len(parents) == 1
    parent, by_number = check_both_stores(folder.uri, study, list(range(2019, 2022)))
    assert parent.info.status == "FINISHED"
    assert len(trials) == len(by_number) == 7
    assert parent.data.metrics["best_brier"] == study.best_value
    assert study_names(folder.journal) == [demo_study()]


# --- 6: pruned trials ----------------------------------------------------------------------------


def test_pruned_trials_stop_early_and_their_runs_are_killed(
    folder: Folder, demo_store: Path
) -> None:
    from optuna.trial import TrialState

    args = folder.tune(demo_store, "--seed", str(PRUNING_SEED), "--trials", "12", "--json",
                       window=LONG)  # fmt: skip
    payload = json.loads(invoke(*args).stdout)
    study = load_study(folder.journal, demo_study(LONG))
    pruned = [t for t in study.trials if t.state == TrialState.PRUNED]
    assert pruned, f"seed {PRUNING_SEED} pruned nothing: pick another seed"
    assert payload["trials"]["pruned"] == len(pruned)
    assert payload["trials"]["complete"] + len(pruned) == 12

    seasons = list(range(LONG[0], LONG[1] + 1))
    _, by_number = check_both_stores(folder.uri, study, seasons)
    for t in pruned:
        run = by_number[t.number]
        assert run.info.status == "KILLED"
        assert run.data.tags[STATE_TAG] == "pruned"
        assert "brier" not in run.data.metrics
        running = history(folder.uri, run.info.run_id, "running_brier")
        # Judged after its fourth season at the earliest, stopped before the last.
        assert 4 <= len(running) < len(seasons), running
        assert run.data.metrics["running_brier"] == running[max(running)]
    # A pruned trial never becomes the best.
    assert payload["best"]["trial"] not in {t.number for t in pruned}


# --- 7: the holdout -------------------------------------------------------------------------------


def test_the_holdout_is_scored_once_after_the_search(folder: Folder, demo_store: Path) -> None:
    holdout = (2022, 2023)
    result = invoke(*folder.tune(demo_store, "--trials", "2", "--holdout-years", years(holdout)))
    study = load_study(folder.journal, demo_study())
    parent, _ = check_both_stores(folder.uri, study, list(range(2019, 2022)))
    metrics = parent.data.metrics
    best, default = metrics["holdout_brier_best"], metrics["holdout_brier_default"]
    assert 0.1 < best < 0.25
    assert 0.1 < default < 0.25
    client = client_for(folder.uri)
    artifacts = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert artifacts == {"best_config.json", "search_space.json", "holdout.json"}
    local = client.download_artifacts(parent.info.run_id, "holdout.json", str(folder.root))
    assert json.loads(Path(local).read_text()) == {
        "years": years(holdout), "best": best, "default": default,
    }  # fmt: skip
    # The holdout is scored as train scores those seasons.
    trained = json.loads(invoke(*folder.train(demo_store, holdout)).stdout)
    assert default == pytest.approx(trained["metrics"]["brier"], rel=1e-12, abs=0)
    if study.best_trial.number == 0:
        assert best == default

    text = ANSI.sub("", result.stdout)
    rows = [line for line in text.splitlines() if re.match(r"\W*Brier .*holdout", line)]
    assert len(rows) == 1, text
    assert f"{default:.4f}" in rows[0], rows[0]
    assert f"{best:.4f}" in rows[0], rows[0]
    assert "Brier 2022-2023 (holdout" in rows[0], rows[0]
    assert result.stderr == ""


def test_a_tracking_store_in_a_new_folder_is_created(
    demo_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As with ``train``: the MLflow store's folder, and the journal beside it, are made."""
    for name in (*MLFLOW_ENV_VARS, "NCAA_EVAL_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    folder = Folder(tmp_path / "new")
    invoke(*folder.tune(demo_store, "--trials", "1"))
    assert folder.journal.is_file()
    assert [t.state.name for t in load_study(folder.journal, demo_study()).trials] == ["COMPLETE"]
    assert len(tune_runs(folder.uri)[0]) == 1


# --- 9: bad input -------------------------------------------------------------------------------


def _fix_every_field() -> dict[str, Any]:
    from ncaa_eval.tuning.space import declared_space

    defaults = EloConfig().model_dump(mode="json")
    return {d.name: defaults[d.name] for d in declared_space(EloConfig, "elo").dimensions}


@dataclass(frozen=True)
class Bad:
    args: list[str]
    message: str
    space: str | None = None  # the text of a --space file


BAD_INPUT = {
    "unknown-model": Bad(["--model", "nope"], r"Unknown model 'nope'\. Available: elo\b"),
    "no-trials": Bad(["--trials", "0"], r"--trials: .*greater than or equal to 1 \(got 0\)"),
    "no-workers": Bad(["--workers", "0"], r"--workers: .*greater than or equal to 1 \(got 0\)"),
    "years-not-a-range": Bad(["--tune-years", "2019-20x1"],
                             r"--tune-years '2019-20x1' is not a season range"),
    "years-reversed": Bad(["--tune-years", "2021-2019"],
                          r"tune years 2021-2019 are reversed; give FIRST-LAST"),
    "years-before-the-data": Bad(["--tune-years", "2010-2012"],
                                 r"Years 2010-2012 are outside the M data \(2018-2025\)"),
    "years-after-the-data": Bad(["--tune-years", "2024-2027"],
                                r"Years 2024-2027 are outside the M data \(2018-2025\)"),
    "league-not-in-store": Bad(["--league", "W"], r"League 'W' is not in the data store"),
    "holdout-overlaps": Bad(["--holdout-years", "2021-2022"],
                            r"holdout years 2021-2022 overlap or precede the tuning window "
                            r"2019-2021"),
    "holdout-before": Bad(["--holdout-years", "2018-2018"],
                          r"holdout years 2018-2018 overlap or precede the tuning window"),
    "holdout-outside-the-data": Bad(["--holdout-years", "2024-2027"],
                                    r"--holdout-years 2024-2027 are outside the M data "
                                    r"\(2018-2025\)"),
    "space-unknown-field": Bad([], r"Search-space file '.*space\.json': unknown field 'kk' for "
                               r"model 'elo'", json.dumps({"kk": {"low": 1, "high": 2}})),
    "space-outside-bounds": Bad([], r"carry_over: high 1\.5 is outside the field's bounds",
                                json.dumps({"carry_over": {"low": 0.5, "high": 1.5}})),
    "space-broken-json": Bad([], r"Search-space file '.*space\.json' is not valid JSON \(line 1",
                             '{"k": {"low": 30,'),
    "space-fixes-everything": Bad([], r"Model 'elo' has nothing to tune: every searched field "
                                  r"is fixed by the search-space file",
                                  json.dumps(_fix_every_field())),
    "storage-sqlite": Bad(["--storage", "sqlite:///x.db"],
                          r"--storage sqlite:///x\.db: SQLite is not safe for parallel workers"),
    "storage-redis": Bad(["--storage", "redis://x"],
                         r"--storage redis://x: unsupported scheme 'redis'"),
    "storage-folder": Bad(["--storage", "a-folder"],
                          r"--storage '.*a-folder' is a folder; give a file path such as "),
    "storage-unreachable": Bad(["--storage", "postgresql://nobody@127.0.0.1:1/nodb"],
                               r"Optuna storage postgresql://nobody@127\.0\.0\.1:1/nodb cannot "
                               r"be used \(.*refused"),
}  # fmt: skip


@dataclass
class Failed:
    result: Result
    seconds: float
    #: Warnings a user would see on stderr (Python hides deprecation warnings by default).
    warnings: list[str]


def invoke_failing(*args: str) -> Failed:
    """The command, expected to fail; times it and records the warnings a terminal would show."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        started = time.monotonic()
        result = invoke(*args, expect=None)
        seconds = time.monotonic() - started
    shown = [
        f"{w.category.__name__}: {w.message}"
        for w in caught
        if not issubclass(w.category, DeprecationWarning | PendingDeprecationWarning)
    ]
    return Failed(result, seconds, shown)


def check_one_error_line(failed: Failed, message: str) -> None:
    result = failed.result
    assert result.exit_code == 1, result.output
    assert result.stdout == "", result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: "), result.stderr
    assert re.search(message, lines[0]), lines[0]
    assert "Traceback" not in result.output
    assert failed.warnings == [], f"a user would also see: {failed.warnings}"


@pytest.mark.parametrize("case", list(BAD_INPUT), ids=list(BAD_INPUT))
def test_bad_input_is_one_error_line_and_makes_no_study(
    case: str, folder: Folder, demo_store: Path
) -> None:
    bad = BAD_INPUT[case]
    args = folder.tune(demo_store, "--trials", "2")
    if bad.space is not None:
        (folder.root / "space.json").write_text(bad.space)
        args += ["--space", str(folder.root / "space.json")]
    (folder.root / "a-folder").mkdir()
    args += bad.args  # a repeated option: the last one counts

    failed = invoke_failing(*args)

    check_one_error_line(failed, bad.message)
    assert failed.seconds < 10, f"answered in {failed.seconds:.1f} s"
    assert not folder.journal.exists(), "a journal was made for a search that never ran"
    assert list((folder.root / "a-folder").iterdir()) == []
    assert not (folder.root / "x.db").exists()
    assert not folder.out.exists()
    assert "RUNNING" not in run_statuses(folder.uri).values()
    assert tune_runs(folder.uri) == ([], [])


# --- joining a study made for another search ----------------------------------------------------


@pytest.fixture(scope="module")
def two_leagues(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo store with both leagues (2019-2022): the women's files are the men's, renamed."""
    from ncaa_eval.ingest import import_kaggle
    from tests.ingest.sources import demo_source

    root = tmp_path_factory.mktemp("two-leagues")
    source = demo_source(root / "csv", first_season=2019, last_season=2022)
    for path in list(source.glob("M*.csv")):
        if path.name != "MMasseyOrdinals.csv":
            shutil.copyfile(path, source / f"W{path.name[1:]}")
    import_kaggle(source, root / "data")
    return root / "data"


@pytest.fixture(scope="module")
def made_study(
    mlflow_template: Path, two_leagues: Path, tmp_path_factory: pytest.TempPathFactory
) -> Folder:
    """Study ``same``: Elo, men, 2020-2021, one trial."""
    with pytest.MonkeyPatch.context() as mp:
        folder = make_folder(tmp_path_factory.mktemp("made"), mlflow_template, mp)
        invoke(*folder.tune(two_leagues, "--study", "same", "--trials", "1", window=(2020, 2021)))
    return folder


@pytest.mark.parametrize(
    ("extra", "window", "message"),
    [
        pytest.param(["--league", "W"], (2020, 2021), r"was made for league M, not W", id="league"),
        pytest.param(["--model", "logistic_regression"], (2020, 2021),
                     r"was made for model elo, not logistic_regression", id="model"),
        pytest.param([], (2020, 2022), r"was made for tuning window 2020-2021, not 2020-2022",
                     id="window"),
        pytest.param(["--space", "SPACE"], (2020, 2021), r"was made for search space another one",
                     id="space"),
    ],
)  # fmt: skip
def test_joining_a_study_made_for_another_search_is_refused_and_leaves_it_as_it_was(
    extra: list[str],
    window: tuple[int, int],
    message: str,
    made_study: Folder,
    two_leagues: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shutil.copytree(made_study.root / "mlflow", tmp_path / "mlflow")
    monkeypatch.chdir(tmp_path)
    folder = Folder(tmp_path)
    journal = folder.journal.read_bytes()
    before = run_statuses(folder.uri)
    assert sorted(before.values()) == ["FINISHED", "FINISHED"]
    (tmp_path / "space.json").write_text(json.dumps({"k": {"low": 30, "high": 50}}))
    extra = [str(tmp_path / "space.json") if a == "SPACE" else a for a in extra]

    failed = invoke_failing(*folder.tune(two_leagues, "--study", "same", "--trials", "2",
                                         window=window), *extra)  # fmt: skip

    check_one_error_line(failed, r"Study 'same' in .*optuna\.journal " + message)
    assert folder.journal.read_bytes() == journal, "the study was changed"
    assert run_statuses(folder.uri) == before
    assert "RUNNING" not in run_statuses(folder.uri).values()
    assert not folder.out.exists()
