"""A third-party model, installed as a distribution with an entry point, works like a built-in.

Each test writes a tiny plugin distribution into ``tmp_path`` (a module plus a ``.dist-info``
folder declaring the ``ncaa_eval.models`` entry point), puts it on ``sys.path`` and lets the
registry discover it; the plugin then trains through the real CLI into a real MLflow store,
in-process and in a fresh interpreter.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from ncaa_eval import DEMO_EXPERIMENT
from ncaa_eval.errors import NcaaEvalError
from ncaa_eval.model import registry
from ncaa_eval.model.elo import EloModel
from ncaa_eval.model.registry import DuplicateModelError, get_model, list_models
from tests.conftest import REPO_ROOT, Invoke
from tests.helpers.mlflow_store import (
    MLFLOW_ENV_VARS,
    load_model_without_pickle,
    migrate_template,
    scratch_dir,
    sqlite_uri,
    use_store_copy,
)

PLUGIN_MODULE = "my_plugin_models"
BROKEN_MODULE = "broken_plugin_models"
#: The entry point of the working plugin: name -> "module:attribute".
MY_PLUGIN = {"my_plugin": f"{PLUGIN_MODULE}:SeedRuleModel"}

#: A stateless seed-rule model with its own config; it learns the base rate of team A wins.
PLUGIN_SOURCE = '''
"""A third-party ncaa-eval model: the Kaggle seed rule around a learned base rate."""

from __future__ import annotations

import json
from typing import ClassVar

import numpy as np
from pydantic import Field

from ncaa_eval.model.base import STATE_FILE, FeatureModelConfig, Model, ModelConfig


class SeedRuleConfig(FeatureModelConfig):
    """Settings of the seed rule."""

    slope: float = Field(default=0.03, ge=0, le=0.0625, description="Probability per seed line.")
    floor: float = Field(default=0.02, ge=0, le=0.5, description="Least probability given.")


class SeedRuleModel(Model):
    """P(A wins) = base rate - slope * (seed A - seed B), clipped; the base rate off the bracket."""

    config_class: ClassVar[type[ModelConfig]] = SeedRuleConfig

    def __init__(self, config=None):
        super().__init__(config)
        self.base_rate_ = None

    @property
    def is_fitted(self):
        return self.base_rate_ is not None

    def fit(self, X, y):
        self.base_rate_ = float(np.mean(np.asarray(y, dtype=float)))
        return self

    def predict_proba(self, X):
        self._check_fitted()
        seed_diff = X["seed_diff"].to_numpy(dtype=float, na_value=np.nan)
        p = self.base_rate_ - self.config.slope * np.nan_to_num(seed_diff)
        return np.clip(p, self.config.floor, 1.0 - self.config.floor)

    def _save_state(self, path):
        (path / STATE_FILE).write_text(json.dumps({"base_rate": self.base_rate_}))

    def _load_state(self, path):
        self.base_rate_ = json.loads((path / STATE_FILE).read_text())["base_rate"]


def not_a_model():
    return None
'''


def write_plugin(
    root: Path,
    entry_points: dict[str, str],
    *,
    module: str = PLUGIN_MODULE,
    source: str = PLUGIN_SOURCE,
) -> Path:
    """Write an installed-looking distribution ``module`` into ``root``; return ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    (root / f"{module}.py").write_text(textwrap.dedent(source))
    dist_info = root / f"{module}-0.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {module.replace('_', '-')}\nVersion: 0.1\n"
    )
    lines = [f"{name} = {target}" for name, target in entry_points.items()]
    (dist_info / "entry_points.txt").write_text("[ncaa_eval.models]\n" + "\n".join(lines) + "\n")
    return root


@pytest.fixture(scope="module", autouse=True)
def _single_threaded_blas() -> Iterator[None]:
    """The feature server solves many small systems; threaded BLAS only slows those down."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture(autouse=True)
def isolated_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Plugins loaded by a test vanish afterwards: registry, load flag and module alike."""
    list_models()
    monkeypatch.setattr(registry, "_registry", dict(registry._registry))
    monkeypatch.setattr(registry, "_entry_points_loaded", registry._entry_points_loaded)
    yield
    for module in (PLUGIN_MODULE, BROKEN_MODULE):
        sys.modules.pop(module, None)


def install(monkeypatch: pytest.MonkeyPatch, root: Path) -> None:
    """Make the distribution in ``root`` importable and discoverable, as pip would."""
    monkeypatch.syspath_prepend(str(root))


@pytest.fixture(scope="module")
def mlflow_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with scratch_dir(tmp_path_factory.mktemp("mlflow-template")) as directory:
        yield migrate_template(directory)


@pytest.fixture
def tracking_uri(mlflow_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh MLflow SQLite store in ``tmp_path`` (also the cwd), empty of runs."""
    (tmp_path / "work").mkdir()
    return use_store_copy(mlflow_template, tmp_path / "work", monkeypatch)


def check_finished_run(uri: str, *, load_model: bool = True) -> None:
    """The store holds exactly one FINISHED run of the plugin, with its params and model.

    ``load_model``: load the run's MLflow Model here (the plugin must be importable here).
    """
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    # The plugin trains on the demo league, whose runs have an experiment of their own.
    experiment = client.get_experiment_by_name(DEMO_EXPERIMENT)
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 1
    run = runs[0]
    assert run.info.status == "FINISHED"
    assert run.data.params["model_type"] == "my_plugin"
    assert run.data.params["slope"] == "0.03"
    assert run.data.params["features.seeds"] == "True"
    assert run.data.metrics["scored_games"] == 3 * 63
    assert run.data.metrics["brier"] < 0.25  # the seed rule knows something
    assert run.outputs is not None
    assert len(run.outputs.model_outputs) == 1
    if load_model:
        check_run_model(uri, run.info.run_id)


def check_run_model(uri: str, run_id: str) -> None:
    """The plugin run's MLflow Model loads without pickle and gives the run's last forecasts."""
    from ncaa_eval.tracking import RunStore

    preds = RunStore(uri).load_predictions(run_id)
    last = preds[preds["season"] == preds["season"].max()]
    model = load_model_without_pickle(uri, f"runs:/{run_id}/model")
    got = model.predict(last[["season", "team_a_id", "team_b_id"]])
    assert list(got) == pytest.approx(list(last["pred_win_prob"]), abs=1e-9)
    assert type(model.unwrap_python_model().forecaster.model).__module__ == PLUGIN_MODULE


def check_nothing_learned_shown(run_cli: Invoke, uri: str) -> None:
    """The plugin does not implement learned(): its run has no learned.csv, and shows fine."""
    from ncaa_eval.tracking import RunStore

    store = RunStore(uri, DEMO_EXPERIMENT)
    [run] = store.find_runs("", 1)
    run_id = str(run.info.run_id)
    assert "learned.csv" not in {a.path for a in store.client.list_artifacts(run_id)}
    args = ("runs", "show", run_id, "--tracking-uri", uri, "--experiment", DEMO_EXPERIMENT)
    out = run_cli(*args).output
    assert "Per season" in out
    assert "What the model learned" not in out
    assert json.loads(run_cli(*args, "--json").output)["learned"] is None


def test_an_entry_point_registers_the_plugin(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    install(monkeypatch, write_plugin(tmp_path, MY_PLUGIN))
    assert "my_plugin" not in registry._registry
    registry.refresh()
    assert "my_plugin" in list_models()
    cls = get_model("my_plugin")
    assert cls.__module__ == PLUGIN_MODULE
    assert cls.__name__ == "SeedRuleModel"
    assert cls.name == "my_plugin"
    assert not cls.stateful
    # Refreshing again finds the same class: not a duplicate.
    registry.refresh()
    assert get_model("my_plugin") is cls


def test_a_plugin_is_found_lazily_by_name(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """get_model of an unknown name looks at the entry points before giving up."""
    install(monkeypatch, write_plugin(tmp_path, MY_PLUGIN))
    monkeypatch.setattr(registry, "_entry_points_loaded", False)
    assert get_model("my_plugin").__name__ == "SeedRuleModel"


@pytest.mark.filterwarnings("ignore::UserWarning:mlflow.types.utils")
def test_the_cli_lists_and_trains_a_plugin(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    run_cli: Invoke,
    demo_store: Path,
    tracking_uri: str,
) -> None:
    install(monkeypatch, write_plugin(tmp_path / "plugin", MY_PLUGIN))
    registry.refresh()

    listed = json.loads(run_cli("models", "--json").output)
    assert listed["my_plugin"]["class"] == f"{PLUGIN_MODULE}.SeedRuleModel"
    assert listed["my_plugin"]["stateful"] is False
    assert listed["my_plugin"]["config"]["slope"] == 0.03
    table = run_cli("models").output
    assert "my_plugin" in table
    assert "slope" in table

    out = tmp_path / "out"
    result = run_cli(
        "train", "--model", "my_plugin", "--data-dir", str(demo_store),
        "--start-year", "2023", "--end-year", "2025",
        "--tracking-uri", tracking_uri, "--output-dir", str(out),
    )  # fmt: skip
    assert "my_plugin" in result.output
    check_finished_run(tracking_uri)
    check_nothing_learned_shown(run_cli, tracking_uri)
    exported = list((out / "runs").iterdir())
    assert len(exported) == 1
    assert (exported[0] / "predictions.parquet").is_file()


@pytest.mark.filterwarnings("ignore::UserWarning:mlflow.types.utils")
def test_a_plugin_can_be_a_member_of_an_ensemble(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    run_cli: Invoke,
    demo_store: Path,
    tracking_uri: str,
) -> None:
    """The ensemble blends a plugin like a built-in, its config completed by the plugin's class,
    and the run's MLflow Model carries it."""
    from mlflow.tracking import MlflowClient

    from ncaa_eval.tracking import RunStore

    install(monkeypatch, write_plugin(tmp_path / "plugin", MY_PLUGIN))
    registry.refresh()
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {"members": ["elo", "my_plugin"], "member_configs": {"my_plugin": {"slope": 0.04}}}
        )
    )
    run_cli(
        "train", "--model", "ensemble", "--data-dir", str(demo_store), "--config", str(config),
        "--start-year", "2024", "--end-year", "2025", "--tracking-uri", tracking_uri,
        "--output-dir", str(tmp_path / "out"),
    )  # fmt: skip
    client = MlflowClient(tracking_uri=tracking_uri)
    experiment = client.get_experiment_by_name(DEMO_EXPERIMENT)
    assert experiment is not None
    [run] = client.search_runs([experiment.experiment_id])
    assert run.info.status == "FINISHED"
    assert run.data.params["member_configs.my_plugin.slope"] == "0.04"
    assert run.data.params["member_configs.my_plugin.floor"] == "0.02"  # the plugin's default
    run_id = run.info.run_id
    preds = RunStore(tracking_uri).load_predictions(run_id)
    last = preds[preds["season"] == 2025]
    model = load_model_without_pickle(tracking_uri, f"runs:/{run_id}/model")
    got = model.predict(last[["season", "team_a_id", "team_b_id"]])
    assert list(got) == pytest.approx(list(last["pred_win_prob"]), abs=1e-9)
    members = model.unwrap_python_model().forecaster.members
    assert type(members["my_plugin"].model).__module__ == PLUGIN_MODULE


def test_a_plugin_config_is_validated_by_the_cli(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, run_cli: Invoke, demo_store: Path
) -> None:
    install(monkeypatch, write_plugin(tmp_path / "plugin", MY_PLUGIN))
    registry.refresh()
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"slope": 0.5}))
    result = run_cli(
        "train", "--model", "my_plugin", "--data-dir", str(demo_store),
        "--config", str(config), "--tracking-uri", sqlite_uri(tmp_path / "never.db"),
        expect=1,
    )  # fmt: skip
    assert result.output.startswith("Error: ")
    assert "slope" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "never.db").exists()


def test_a_fresh_process_discovers_and_trains_the_plugin(
    tmp_path: Path, demo_store: Path, mlflow_template: Path
) -> None:
    """No refresh(), no import by the test: a new interpreter finds the entry point alone."""
    plugin = write_plugin(tmp_path / "plugin", MY_PLUGIN)
    work = tmp_path / "work"
    work.mkdir()
    db = work / "mlflow.db"
    db.write_bytes(mlflow_template.read_bytes())
    uri = sqlite_uri(db)
    env = {k: v for k, v in os.environ.items() if k not in MLFLOW_ENV_VARS}
    env["PYTHONPATH"] = os.pathsep.join(
        [str(plugin), str(REPO_ROOT / "src"), *filter(None, [env.get("PYTHONPATH")])]
    )
    # One BLAS thread: the feature server's many small solves only slow down with more.
    env["OPENBLAS_NUM_THREADS"] = "1"
    command = [
        sys.executable, "-m", "ncaa_eval.cli", "train", "--model", "my_plugin",
        "--data-dir", str(demo_store), "--start-year", "2023", "--end-year", "2025",
        "--tracking-uri", uri, "--output-dir", str(work / "out"),
    ]  # fmt: skip
    done = subprocess.run(
        command, cwd=work, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    check_finished_run(uri, load_model=False)
    assert PLUGIN_MODULE not in sys.modules  # the discovery happened over there, not here


def test_a_plugin_that_fails_to_import_is_named_in_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, run_cli: Invoke
) -> None:
    source = "import ncaa_eval_no_such_dependency  # noqa\n"
    target = f"{BROKEN_MODULE}:BrokenModel"
    install(monkeypatch, write_plugin(tmp_path, {"broken": target}, module=BROKEN_MODULE,
                                      source=source))  # fmt: skip
    monkeypatch.setattr(registry, "_entry_points_loaded", False)
    result = run_cli("models", expect=1)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("Error: Model plugin 'broken'")
    assert target in lines[0]
    assert "ncaa_eval_no_such_dependency" in lines[0]
    # Asked again, the same error: a failed load is not remembered as a success.
    with pytest.raises(NcaaEvalError, match="Model plugin 'broken'"):
        list_models()
    with pytest.raises(NcaaEvalError, match="Model plugin 'broken'"):
        get_model("broken")
    # The built-ins still work by name.
    assert get_model("elo") is EloModel


def test_a_plugin_that_is_not_a_model_is_named_in_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, run_cli: Invoke
) -> None:
    target = f"{PLUGIN_MODULE}:not_a_model"
    install(monkeypatch, write_plugin(tmp_path, {"odd": target}))
    monkeypatch.setattr(registry, "_entry_points_loaded", False)
    result = run_cli("models", expect=1)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("Error: Model plugin 'odd'")
    assert target in lines[0]


def test_a_plugin_taking_a_builtin_name_names_both_classes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, run_cli: Invoke
) -> None:
    install(monkeypatch, write_plugin(tmp_path, {"elo": f"{PLUGIN_MODULE}:SeedRuleModel"}))
    with pytest.raises(DuplicateModelError) as info:
        registry.refresh()
    message = str(info.value)
    assert "ncaa_eval.model.elo.EloModel" in message
    assert f"{PLUGIN_MODULE}.SeedRuleModel" in message
    assert get_model("elo") is EloModel
    monkeypatch.setattr(registry, "_entry_points_loaded", False)
    lines = run_cli("models", expect=1).output.strip().splitlines()
    assert len(lines) == 1
    assert "registered twice" in lines[0]
