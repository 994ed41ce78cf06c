"""What one training run must leave behind, read back with ``MlflowClient`` and plain files.

The checks recompute what they can (params from the model's config class, metrics from
``predictions.parquet``, the games from the data store, First Four games from the seeds) instead of
trusting ncaa-eval's tracking code, and then compare ``RunStore``'s read-back with the raw files.
Shared by the CLI, orchestrator and MLproject tests.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow.parquet as pq
import pytest

from ncaa_eval import __version__
from ncaa_eval.ingest.repository import ParquetRepository
from ncaa_eval.model.base import GAME_COLUMNS, Model, StatefulModel
from ncaa_eval.model.registry import get_model
from ncaa_eval.tracking import PREDICTION_DTYPES, ModelRun, RunStore
from ncaa_eval.transform.matchups import conference_map, orient_games
from tests.helpers.mlflow_store import (
    load_model_without_pickle,
    migrate_template,
    scratch_dir,
    sqlite_uri,
)

if TYPE_CHECKING:
    from mlflow.entities import Run
    from mlflow.tracking import MlflowClient

#: The files ``--output-dir/runs/<run id>/`` holds, and nothing else.
EXPORT_FILES = ["predictions.parquet", "run.json"]
#: The run's top-level artifacts (a built-in model's: a plugin may tell nothing it learned).
ARTIFACTS = [
    "config.json",
    "fitted_model",
    "learned.csv",
    "learned.json",
    "plots",
    "predictions.csv",
    "predictions.parquet",
]
#: The run's charts, under ``plots/``.
PLOTS = ["plots/reliability.png", "plots/season_brier.png"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]

_TEMPLATE = pytest.StashKey[Path]()


def shared_template(config: pytest.Config, factory: pytest.TempPathFactory) -> Path:
    """One migrated MLflow SQLite database for the whole session, whichever test asks first.

    Each test copies it (``store_copy``) instead of paying for MLflow's migrations.
    """
    if _TEMPLATE not in config.stash:
        stack = contextlib.ExitStack()
        config.add_cleanup(stack.close)
        directory = stack.enter_context(scratch_dir(factory.mktemp("mlflow-template")))
        config.stash[_TEMPLATE] = migrate_template(directory)
    return config.stash[_TEMPLATE]


def store_copy(template: Path, db: Path) -> str:
    """Copy the migrated template to ``db`` and return its tracking URI."""
    db.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, db)
    return sqlite_uri(db)


def make_git_checkout(path: Path) -> str:
    """A git repository at ``path`` with one commit; its hash, or "unknown" without git."""
    path.mkdir(parents=True, exist_ok=True)
    if shutil.which("git") is None:
        return "unknown"
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-c", "commit.gpgsign=false", *args],
            cwd=path,
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
        return done.stdout.strip()

    git("init", "-q")
    (path / "notes.txt").write_text("a training workspace\n")
    git("add", "notes.txt")
    git("commit", "-q", "-m", "init")
    return git("rev-parse", "HEAD")


def client_for(uri: str) -> MlflowClient:
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def all_runs(uri: str) -> list[Run]:
    """Every run in the store, in every experiment, deleted ones included."""
    from mlflow.entities import ViewType

    client = client_for(uri)
    ids = [e.experiment_id for e in client.search_experiments(view_type=ViewType.ALL)]
    return list(client.search_runs(ids, run_view_type=ViewType.ALL, max_results=1000))


def only_run(uri: str) -> Run:
    runs = all_runs(uri)
    assert len(runs) == 1, [(r.info.run_name, r.info.status) for r in runs]
    return runs[0]


def flatten(config: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """MLflow params of a nested config: dotted keys, ``str(value)``, lists as JSON."""
    out: dict[str, str] = {}
    for key, value in config.items():
        if isinstance(value, dict) and value:
            out.update(flatten(value, f"{prefix}{key}."))
        elif isinstance(value, list | dict):
            out[f"{prefix}{key}"] = json.dumps(value)
        else:
            out[f"{prefix}{key}"] = str(value)
    return out


@dataclass(frozen=True)
class Expected:
    """The run a ``train`` command should produce."""

    model: str
    start: int
    end: int
    data_dir: Path
    output_dir: Path | None
    league: str = "M"
    overrides: dict[str, Any] = field(default_factory=dict)
    #: The git commit to expect; None for the commit of the code that runs (see ``code_commit``).
    git_hash: str | None = None
    #: Params logged by someone else on the same run (``mlflow run``'s entry-point params).
    extra_params: dict[str, str] = field(default_factory=dict)
    #: ``--run-name``; None for the default ``<model>-<start>-<end>``.
    name: str | None = None

    @property
    def run_name(self) -> str:
        demo = "-demo" if ParquetRepository(self.data_dir).is_demo else ""
        return self.name or f"{self.model}-{self.start}-{self.end}{demo}"

    @property
    def hyperparameters(self) -> dict[str, Any]:
        # A nested config given in part keeps the model's own default for the rest (a
        # stateless model's tuned features), not the nested class's defaults.
        config_class = get_model(self.model).config_class
        merged = _merged(config_class().model_dump(mode="json"), self.overrides)
        dumped: dict[str, Any] = config_class.model_validate(merged).model_dump(mode="json")
        return dumped

    def params(self) -> dict[str, str]:
        own = {
            "model_type": self.model,
            "start_year": str(self.start),
            "end_year": str(self.end),
            "league": self.league,
            **flatten(self.hyperparameters),
        }
        for key, value in self.extra_params.items():
            assert own.get(key, value) == value, f"param {key} would be logged twice"
        return {**self.extra_params, **own}


@dataclass
class Tracked:
    """A checked run: the MLflow run, its record, predictions and reloaded model."""

    run: Run
    record: ModelRun
    predictions: pd.DataFrame
    model: Model
    artifacts: Path


def first_four(predictions: pd.DataFrame, seeds: pd.DataFrame) -> BoolArray:
    """First Four games: both teams hold the same play-in seed line (e.g. W16a and W16b)."""
    lines = seeds[seeds["play_in"].notna()]
    lines = pd.DataFrame(
        {
            "season": lines["season"].astype("int64"),
            "team_id": lines["team_id"].astype("int64"),
            "line": lines["region"].astype(str) + lines["seed_number"].astype(int).astype(str),
        }
    )
    keys = predictions[["season", "team_a_id", "team_b_id"]].astype("int64")
    a = keys.merge(
        lines.rename(columns={"team_id": "team_a_id", "line": "line_a"}),
        on=["season", "team_a_id"],
        how="left",
    )
    both = a.merge(
        lines.rename(columns={"team_id": "team_b_id", "line": "line_b"}),
        on=["season", "team_b_id"],
        how="left",
    )
    assert len(both) == len(predictions)
    mask: BoolArray = (both["line_a"].notna() & (both["line_a"] == both["line_b"])).to_numpy()
    return mask


def scores(p: FloatArray, y: FloatArray) -> dict[str, float]:
    """Brier, log loss and accuracy of forecasts ``p`` of outcomes ``y`` (0/1)."""
    clipped = np.clip(p, 1e-15, 1 - 1e-15)
    hits = np.where(p == 0.5, 0.5, ((p > 0.5) == (y == 1.0)).astype(float))
    return {
        "brier": float(np.mean((p - y) ** 2)),
        "log_loss": float(-np.mean(y * np.log(clipped) + (1 - y) * np.log1p(-clipped))),
        "accuracy": float(np.mean(hits)),
    }


def tournament_games(repo: ParquetRepository, league: str, start: int, end: int) -> pd.DataFrame:
    games = repo.games(league)  # type: ignore[arg-type]
    keep = games["is_tournament"].astype(bool) & games["season"].between(start, end)
    return games[keep]


def check_clean_exports(output_dir: Path) -> None:
    """Every exported run folder is complete, and no temporary file is left anywhere."""
    if not output_dir.exists():
        return
    for path in output_dir.rglob("*"):
        assert not path.name.startswith("."), f"temporary file left behind: {path}"
        assert not path.name.endswith(".tmp"), f"temporary file left behind: {path}"
    runs = output_dir / "runs"
    if runs.exists():
        for folder in runs.iterdir():
            assert sorted(p.name for p in folder.iterdir()) == EXPORT_FILES, folder


def check_tracked_run(uri: str, run: Run, expected: Expected, scratch: Path) -> Tracked:
    """Check everything a finished training run records, exports and reloads."""
    client = client_for(uri)
    run_id = str(run.info.run_id)
    repo = ParquetRepository(expected.data_dir)

    # The run itself.
    assert run.info.status == "FINISHED"
    assert run.info.end_time is not None
    assert run.info.run_name == expected.run_name
    tags = run.data.tags
    assert tags["mlflow.runName"] == expected.run_name
    assert run.data.params == expected.params()

    # Tags: provenance only; what the run is lives in its params, once.
    for key, value in {
        "ncaa_eval_version": __version__,
        "data_digest": repo.digest,
        "ncaa_eval_records": "2",
    }.items():
        assert tags.get(key) == value, (key, tags.get(key))
    for key in ("model_type", "league", "start_year", "end_year", "git_hash"):
        assert key not in tags, f"{key} is kept twice"
    git_hash = tags.get("mlflow.source.git.commit", "unknown")
    assert git_hash == (expected.git_hash or code_commit())
    if git_hash == "unknown":
        assert tags["git_dirty"] == "unknown"
    else:
        assert len(git_hash) == 40
        assert tags["git_dirty"] in ("true", "false")

    # Artifacts, downloaded whole.
    assert sorted(a.path for a in client.list_artifacts(run_id)) == ARTIFACTS
    artifacts = Path(client.download_artifacts(run_id, "", str(scratch)))
    record = RunStore(uri).load_run(run_id)
    table = pq.read_table(artifacts / "predictions.parquet")
    predictions = table.to_pandas().astype(PREDICTION_DTYPES)
    # The CSV the MLflow UI previews: the same games, probabilities to 4 decimals, no run id.
    preview = pd.read_csv(artifacts / "predictions.csv")
    assert list(preview.columns) == [c for c in predictions.columns if c != "run_id"]
    assert preview["game_id"].tolist() == predictions["game_id"].tolist()
    np.testing.assert_allclose(preview["pred_win_prob"], predictions["pred_win_prob"], atol=5e-5)
    assert preview["team_a_won"].tolist() == predictions["team_a_won"].astype(int).tolist()
    hyperparameters = expected.hyperparameters
    assert json.loads((artifacts / "config.json").read_text()) == hyperparameters
    assert sorted(a.path for a in client.list_artifacts(run_id, "plots")) == PLOTS
    for name in PLOTS:
        assert (artifacts / name).read_bytes()[:8] == PNG_SIGNATURE, name

    # The record.
    assert record.run_id == run_id
    assert record.model_type == expected.model
    assert record.hyperparameters == hyperparameters
    assert (record.start_year, record.end_year, record.league) == (
        expected.start,
        expected.end,
        expected.league,
    )
    assert record.run_name == expected.run_name
    assert record.prediction_count == len(predictions) == int(tags["prediction_count"])
    assert record.data_digest == repo.digest
    assert record.git_hash == git_hash
    assert {True: "true", False: "false", None: "unknown"}[record.git_dirty] == tags["git_dirty"]
    assert record.ncaa_eval_version == __version__
    assert record.timestamp == datetime.fromtimestamp(run.info.start_time / 1000, tz=UTC)

    # RunStore reads back exactly what was written.
    store = RunStore(uri)
    pd.testing.assert_frame_equal(store.load_predictions(run_id), predictions)

    # The predictions: every tournament game of the range, once, from team A's side.
    games = tournament_games(repo, expected.league, expected.start, expected.end)
    assert (predictions["run_id"] == run_id).all()
    assert predictions["game_id"].is_unique
    assert set(predictions["game_id"]) == set(games["game_id"])
    truth = games.set_index("game_id").loc[predictions["game_id"]]
    w, lo = truth["w_team_id"].to_numpy(), truth["l_team_id"].to_numpy()
    np.testing.assert_array_equal(predictions["team_a_id"], np.minimum(w, lo))
    np.testing.assert_array_equal(predictions["team_b_id"], np.maximum(w, lo))
    np.testing.assert_array_equal(predictions["team_a_won"].to_numpy(dtype=bool), w < lo)
    np.testing.assert_array_equal(predictions["season"], truth["season"])
    p = predictions["pred_win_prob"].to_numpy()
    assert ((p >= 0) & (p <= 1)).all()

    # Metrics, recomputed over the main draw (First Four predicted but not scored).
    main = predictions[~first_four(predictions, repo.seeds(expected.league))]  # type: ignore[arg-type]
    y = main["team_a_won"].to_numpy(dtype=float)
    overall = scores(main["pred_win_prob"].to_numpy(), y)
    metrics = run.data.metrics
    for key, score in overall.items():
        assert metrics[key] == pytest.approx(score, rel=1e-9, abs=1e-12), key
    assert 0 <= metrics["calibration_error"] <= 1
    assert metrics["scored_games"] == len(main)
    seasons = sorted(set(predictions["season"].tolist()))
    for name in ("brier", "log_loss"):
        history = sorted(client.get_metric_history(run_id, f"season_{name}"), key=lambda m: m.step)
        assert [m.step for m in history] == seasons
        for metric in history:
            part = main[main["season"] == metric.step]
            want = scores(part["pred_win_prob"].to_numpy(), part["team_a_won"].to_numpy(float))
            assert metric.value == pytest.approx(want[name], rel=1e-9, abs=1e-12)

    # The dataset inputs: the games the model learned from, and the games it was scored on.
    assert run.inputs is not None
    by_context = {
        tag.value: i.dataset
        for i in run.inputs.dataset_inputs
        for tag in i.tags
        if tag.key == "mlflow.data.context"
    }
    assert sorted(by_context) == ["evaluation", "training"]
    assert len(run.inputs.dataset_inputs) == 2
    for dataset in by_context.values():
        assert dataset.digest == repo.digest
        assert dataset.source_type == "local"
        assert json.loads(dataset.source)["uri"] == str((expected.data_dir / "store").resolve())
        assert json.loads(str(dataset.schema))["mlflow_colspec"]
    scored = by_context["evaluation"]
    demo = "-demo" if repo.is_demo else ""
    assert scored.name == f"{expected.league}-tournaments-{expected.start}-{expected.end}{demo}"
    assert json.loads(str(scored.profile)) == {
        "num_rows": len(main),
        "first_season": int(main["season"].min()),
        "last_season": int(main["season"].max()),
    }
    learned = json.loads(str(by_context["training"].profile))
    played = repo.games(expected.league)  # type: ignore[arg-type]
    played = played[played["season"] <= expected.end]
    assert learned["last_season"] == expected.end
    assert learned["first_season"] == int(played["season"].min())
    assert 0 < learned["num_rows"] <= len(played)
    if issubclass(get_model(expected.model), StatefulModel):
        assert learned["num_rows"] == len(played)  # Elo learns every game

    # The MLflow Model (a logged model, not a run artifact): the model's own files, never pickle;
    # it answers for the last season exactly as the walk-forward did.
    from mlflow.artifacts import download_artifacts
    from mlflow.tracking._tracking_service.utils import _use_tracking_uri

    # MLflow resolves the logged model behind runs:/ with the global tracking URI.
    with _use_tracking_uri(uri):
        mlflow_model = Path(
            download_artifacts(f"runs:/{run_id}/model", dst_path=str(scratch / "mlflow-model"))
        )
    assert (mlflow_model / "MLmodel").is_file()
    assert not [p for p in mlflow_model.rglob("*") if p.suffix in (".pkl", ".pickle", ".joblib")]
    check_model_answers(uri, run_id, predictions, repo, expected.league)
    # The model fitted through the last tournament, which `predict` carries to later seasons: a
    # run artifact of its own, not part of the MLflow Model (which must not know that tournament).
    assert sorted(p.name for p in (mlflow_model / "artifacts" / "forecaster").iterdir()) == [
        "forecaster.json", "model", "teams.parquet"
    ]  # fmt: skip
    model_dir = artifacts / "fitted_model"
    saved = json.loads((model_dir / "config.json").read_text())
    assert saved == {"model": expected.model, "config": hyperparameters}
    model = get_model(expected.model).load(model_dir)
    assert model.is_fitted
    assert model.get_config().model_dump(mode="json") == hyperparameters
    rows = model_inputs(model, repo, expected.league, expected.end)
    reloaded = model.predict_proba(rows)
    assert reloaded.shape == (len(rows),)
    assert ((reloaded >= 0) & (reloaded <= 1)).all()
    assert len(np.unique(reloaded)) > 1, "the reloaded model predicts a constant"

    # The export.
    if expected.output_dir is not None:
        folder = expected.output_dir / "runs" / run_id
        assert sorted(p.name for p in folder.iterdir()) == EXPORT_FILES
        assert ModelRun.model_validate_json((folder / "run.json").read_bytes()) == record
        assert pq.read_table(folder / "predictions.parquet").equals(table)
        check_clean_exports(expected.output_dir)
    return Tracked(run, record, predictions, model, artifacts)


def tournament_courts(repo: ParquetRepository, league: str, rows: pd.DataFrame) -> list[str]:
    """Team A's side (H/A/N) of each tournament game in ``rows`` (one season's predictions).

    Early rounds of the women's tournament are often on a home court.
    """
    games = repo.games(league, sorted(set(rows["season"].astype(int))))  # type: ignore[arg-type]
    played = games[games["is_tournament"]]
    out: dict[tuple[int, int], str] = {}
    for w, lose, w_loc in zip(
        played["w_team_id"], played["l_team_id"], played["w_loc"], strict=True
    ):
        a, b = sorted((int(w), int(lose)))
        side = str(w_loc)
        out[(a, b)] = side if int(w) == a else {"H": "A", "A": "H", "N": "N"}[side]
    return [
        out[(int(a), int(b))] for a, b in zip(rows["team_a_id"], rows["team_b_id"], strict=True)
    ]


def check_model_answers(
    uri: str, run_id: str, predictions: pd.DataFrame, repo: ParquetRepository, league: str
) -> None:
    """``runs:/<id>/model``, loaded by MLflow with pickle refused, gives the last season's
    predictions to 1e-9 (told each game's court, as the walk-forward was)."""
    last = predictions[predictions["season"] == predictions["season"].max()]
    model = load_model_without_pickle(uri, f"runs:/{run_id}/model")
    rows = last[["season", "team_a_id", "team_b_id"]].assign(
        team_a_loc=tournament_courts(repo, league, last)
    )
    got = np.asarray(model.predict(rows), dtype=float)
    np.testing.assert_allclose(got, last["pred_win_prob"].to_numpy(), rtol=0, atol=1e-9)


def code_commit() -> str:
    """The commit of the checkout holding the imported ``ncaa_eval`` (what a run records)."""
    from ncaa_eval.tracking import code_git_info

    return code_git_info().hash


def model_inputs(model: Model, repo: ParquetRepository, league: str, season: int) -> pd.DataFrame:
    """Rows a reloaded model can predict: ``season``'s tournament games for a stateful model,
    a small synthetic feature matrix (every column its config serves) for a stateless one."""
    if isinstance(model, StatefulModel):
        games = tournament_games(repo, league, season, season)
        oriented = orient_games(games, conference_map(repo.conferences(league)))  # type: ignore[arg-type]
        return oriented[list(GAME_COLUMNS)]
    features = getattr(model.get_config(), "features")  # noqa: B009
    columns: list[str] = features.feature_columns()
    rng = np.random.default_rng(0)
    values = rng.normal(0.0, 5.0, size=(16, len(columns)))
    values[0] = 0.0
    return pd.DataFrame(values, columns=columns)


def _merged(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """``overrides`` laid over ``base``, nested objects merged key by key."""
    out = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            out[key] = _merged(base[key], value)
        else:
            out[key] = value
    return out
