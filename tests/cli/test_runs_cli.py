"""``ncaa-eval runs list|show|compare|export`` against a real MLflow SQLite store.

One module-scoped store holds real training runs made through ``ncaa-eval train`` on the demo
league: two Elo runs differing in ``k``, a logistic regression over fewer seasons, a run whose
model raises mid-way (FAILED, no records) and a women's run saved from the first run's predictions
(the demo league has men only). The tests only read it; the ones that need other runs make their
own store.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd
import pytest
from click.testing import CliRunner, Result

from ncaa_eval.cli.main import cli
from ncaa_eval.cli.runs.compare import DEFAULT_RESAMPLES, MAX_RESAMPLES
from ncaa_eval.cli.runs.format import age as _age
from ncaa_eval.cli.runs.format import size as _size
from ncaa_eval.evaluation import paired as paired_module
from ncaa_eval.model import registry
from ncaa_eval.model.base import FloatArray
from ncaa_eval.model.elo import EloModel
from ncaa_eval.tracking import (
    AmbiguousRunIdError,
    RunNotFoundError,
    RunStore,
)
from ncaa_eval.tracking.queries import best_positions
from tests.conftest import Invoke
from tests.helpers.mlflow_store import MLFLOW_ENV_VARS, migrate_template, sqlite_uri

ERROR_LINE = re.compile(r"^Error: \S.*$")


class ExplodingElo(EloModel):
    """Elo that fails after forecasting its first tournament, as a model bug would."""

    name: ClassVar[str] = "exploding_elo"
    calls = 0

    def predict_proba(self, X: pd.DataFrame) -> FloatArray:
        ExplodingElo.calls += 1
        if ExplodingElo.calls > 1:
            raise RuntimeError("boom: the model broke mid-way")
        return super().predict_proba(X)


@dataclass(frozen=True)
class Trained:
    """The shared store and its runs, oldest first."""

    uri: str
    folder: Path
    elo: str
    logistic: str
    elo_k30: str
    failed: str
    women: str
    failed_result: Result

    @property
    def newest_first(self) -> list[str]:
        return [self.women, self.failed, self.elo_k30, self.logistic, self.elo]


def _invoke(args: list[str], *, catch: bool = False) -> Result:
    return CliRunner().invoke(cli, args, catch_exceptions=catch)


def _new_run_id(store: RunStore, before: set[str]) -> str:
    from mlflow.entities import ViewType

    experiment = store.client.get_experiment_by_name(store.experiment)
    assert experiment is not None
    runs = store.client.search_runs(
        [experiment.experiment_id], run_view_type=ViewType.ALL, max_results=100
    )
    new = {r.info.run_id for r in runs} - before
    assert len(new) == 1, new
    return str(new.pop())


def _save_women_copy(store: RunStore, source: str) -> str:
    """A finished women's run holding ``source``'s predictions, record and metrics."""
    record = store.load_run(source)
    predictions = store.load_predictions(source).drop(columns=["run_id"])
    metrics = store.client.get_run(source).data.metrics
    with store.start_run(run_name="elo-women", params={"model_type": "elo", "league": "W"}) as rid:
        fields = record.model_dump()
        fields.update(run_id=rid, league="W", run_name="elo-women")
        store.save_run(type(record).model_validate(fields), predictions)
        store.log_metrics(rid, {k: v for k, v in metrics.items() if not k.startswith("season_")})
        for season in range(record.start_year, record.end_year + 1):
            store.log_metrics(rid, {"season_brier": 0.2, "season_log_loss": 0.6}, step=season)
    return rid


@pytest.fixture(scope="module")
def trained(demo_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Trained]:
    folder = tmp_path_factory.mktemp("runs-store")
    db = migrate_template(folder)
    uri = sqlite_uri(db)
    with pytest.MonkeyPatch.context() as mp, warnings.catch_warnings():
        # MLflow hints about integer columns when the dataset input is logged.
        warnings.simplefilter("ignore", UserWarning)
        for name in MLFLOW_ENV_VARS:
            mp.delenv(name, raising=False)
        mp.chdir(folder)
        mp.setitem(registry._registry, ExplodingElo.name, ExplodingElo)
        config = folder / "k30.json"
        config.write_text(json.dumps({"k": 30.0}))
        # The demo league's runs would go to ncaa-eval-demo; this module reads ncaa-eval.
        common = ["--data-dir", str(demo_store), "--tracking-uri", uri, "--experiment", "ncaa-eval"]
        common += ["--output-dir", str(folder / "exports")]
        store = RunStore(uri)
        ids: list[str] = []
        for extra in (
            ["--model", "elo", "--start-year", "2023", "--end-year", "2025"],
            ["--model", "logistic_regression", "--start-year", "2024", "--end-year", "2025"],
            ["--model", "elo", "--start-year", "2023", "--end-year", "2025",
             "--config", str(config), "--run-name", "elo-k30"],
        ):  # fmt: skip
            before = set(ids)
            result = _invoke(["train", *extra, *common])
            assert result.exit_code == 0, result.output
            ids.append(_new_run_id(store, before))
        before = set(ids)
        failed_result = _invoke(
            ["train", "--model", "exploding_elo", "--start-year", "2023", "--end-year", "2025",
             *common],
            catch=True,
        )  # fmt: skip
        failed = _new_run_id(store, before)
        women = _save_women_copy(store, ids[0])
        elo, logistic, elo_k30 = ids
        yield Trained(uri, folder, elo, logistic, elo_k30, failed, women, failed_result)


def _runs(trained: Trained, *args: str, expect: int | None = 0) -> Result:
    result = _invoke(["runs", *args, "--tracking-uri", trained.uri])
    if expect is not None:
        assert result.exit_code == expect, result.output
    return result


def _json(result: Result) -> Any:
    return json.loads(result.stdout)


def _assert_one_error_line(result: Result, *needles: str) -> None:
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert ERROR_LINE.match(lines[0]), lines[0]
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in lines[0], lines[0]


# --- help -----------------------------------------------------------------------------------------

_HELP_PROBE = """
import json, sys
from ncaa_eval.cli.main import cli
codes = []
for args in json.loads(sys.argv[1]):
    codes.append(cli.main(args, prog_name="ncaa-eval", standalone_mode=False))
heavy = sorted(m for m in ("mlflow", "pandas", "sklearn", "xgboost") if m in sys.modules)
print(json.dumps({"codes": codes, "heavy": heavy}))
"""


def test_help_of_every_runs_command_is_light_and_documented() -> None:
    pages = [["runs", "--help"]] + [
        ["runs", name, "--help"] for name in ("list", "show", "compare", "export")
    ]
    done = subprocess.run(
        [sys.executable, "-c", _HELP_PROBE, json.dumps(pages)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report == {"codes": [0] * len(pages), "heavy": []}
    for name in ("list", "show", "compare", "export"):
        assert f"  {name} " in done.stdout
    for option in ("--tracking-uri", "--experiment", "--model", "--league", "--limit", "--json"):
        assert option in done.stdout
    assert "--output-dir" in done.stdout
    assert "MLFLOW_TRACKING_URI" in done.stdout


def test_every_runs_option_has_help() -> None:
    from ncaa_eval.cli.runs import runs

    assert (runs.help or "").strip()
    for name, command in runs.commands.items():
        assert (command.help or "").strip(), name
        for param in command.params:
            if param.param_type_name == "option":
                assert (getattr(param, "help", "") or "").strip(), (name, param.name)


# --- list -----------------------------------------------------------------------------------------


def test_the_failing_train_left_a_failed_run(trained: Trained) -> None:
    result = trained.failed_result
    assert result.exit_code == 1
    assert isinstance(result.exception, RuntimeError)
    status = RunStore(trained.uri).client.get_run(trained.failed).info.status
    assert status == "FAILED"


def test_list_shows_every_run_newest_first(trained: Trained) -> None:
    out = _runs(trained, "list").stdout
    positions = [out.index(run_id[:8]) for run_id in trained.newest_first]
    assert positions == sorted(positions), out
    for text in (
        "elo-2023-2025-demo",
        "logistic_regression-2024-2025-demo",
        "elo-k30",
        "elo-women",
    ):
        assert text in out
    assert "2024-2025" in out
    assert "5 runs, newest first" in out
    assert "just now" in out or "min ago" in out
    failed_row = next(line for line in out.splitlines() if trained.failed[:8] in line)
    assert "FAILED" in failed_row
    assert "exploding_elo" in failed_row
    assert failed_row.count(" - ") >= 3, failed_row  # predictions, Brier, log loss
    for run_id in (trained.elo, trained.logistic, trained.elo_k30, trained.women):
        row = next(line for line in out.splitlines() if run_id[:8] in line)
        assert "FINISHED" in row


def test_list_fits_the_columns_it_is_given_when_piped(
    trained: Trained, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "90")
    narrow = _runs(trained, "list").stdout
    assert max(len(line.rstrip()) for line in narrow.splitlines()) <= 90, narrow
    assert "elo-k30" not in narrow  # the run name is left out below 110 columns
    monkeypatch.setenv("COLUMNS", "200")
    assert "elo-k30" in _runs(trained, "list").stdout


def test_list_json(trained: Trained) -> None:
    rows = _json(_runs(trained, "list", "--json"))
    assert [r["run_id"] for r in rows] == trained.newest_first
    expected_keys = {
        "run_id", "run_name", "model_type", "league", "start_year", "end_year",
        "prediction_count", "brier", "log_loss", "accuracy", "calibration_error", "status",
        "start_time",
    }  # fmt: skip
    starts = []
    for row in rows:
        assert expected_keys <= set(row)
        start = datetime.fromisoformat(row["start_time"])
        assert start.utcoffset() == timedelta(0)
        starts.append(start)
    assert starts == sorted(starts, reverse=True)
    by_id = {r["run_id"]: r for r in rows}
    failed = by_id[trained.failed]
    assert failed["status"] == "FAILED"
    assert failed["model_type"] == "exploding_elo"
    assert (failed["start_year"], failed["end_year"], failed["league"]) == (2023, 2025, "M")
    for key in ("brier", "log_loss", "accuracy", "calibration_error", "prediction_count"):
        assert failed[key] is None
    elo = by_id[trained.elo]
    metrics = RunStore(trained.uri).client.get_run(trained.elo).data.metrics
    assert elo["brier"] == metrics["brier"]
    assert elo["log_loss"] == metrics["log_loss"]
    assert elo["prediction_count"] == RunStore(trained.uri).load_run(trained.elo).prediction_count
    assert (elo["model_type"], elo["run_name"], elo["status"]) == (
        "elo",
        "elo-2023-2025-demo",
        "FINISHED",
    )
    assert by_id[trained.logistic]["start_year"] == 2024


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--model", "elo"], ["women", "elo_k30", "elo"]),
        (["--model", "logistic_regression"], ["logistic"]),
        (["--league", "w"], ["women"]),
        (["--league", "M"], ["failed", "elo_k30", "logistic", "elo"]),
        (["--limit", "2"], ["women", "failed"]),
        (["--model", "elo", "--league", "M", "--limit", "1"], ["elo_k30"]),
    ],
    ids=["model elo", "model lr", "league w", "league M", "limit 2", "all three"],
)
def test_list_filters(trained: Trained, args: list[str], expected: list[str]) -> None:
    rows = _json(_runs(trained, "list", *args, "--json"))
    assert [r["run_id"] for r in rows] == [getattr(trained, name) for name in expected]
    table = _runs(trained, "list", *args).stdout
    for name in expected:
        assert getattr(trained, name)[:8] in table


def test_list_limit_says_more_may_exist(trained: Trained) -> None:
    out = _runs(trained, "list", "--limit", "2").stdout
    assert "The 2 newest runs; there may be more (see --limit)." in out


def test_list_with_a_filter_matching_nothing(trained: Trained) -> None:
    result = _runs(trained, "list", "--model", "xgboost")
    assert "No runs match --model xgboost" in result.output
    assert _json(_runs(trained, "list", "--model", "xgboost", "--json")) == []


@pytest.mark.parametrize("args", [["--model", "no'quote"], ["--limit", "0"]])
def test_list_rejects_bad_filters(trained: Trained, args: list[str]) -> None:
    result = _runs(trained, "list", *args, expect=None)
    assert result.exit_code in (1, 2), result.output
    assert "Traceback" not in result.output


def test_list_of_a_store_that_does_not_exist_creates_nothing(tmp_path: Path) -> None:
    db = tmp_path / "none" / "mlflow.db"
    uri = sqlite_uri(db)
    result = _invoke(["runs", "list", "--tracking-uri", uri])
    assert result.exit_code == 0, result.output
    assert "No runs yet" in result.output
    result = _invoke(["runs", "list", "--json", "--tracking-uri", uri])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == []
    assert not db.parent.exists()


def test_list_of_an_empty_store_and_another_experiment(trained: Trained) -> None:
    result = _runs(trained, "list", "--experiment", "nothing-here")
    assert "No runs yet in experiment 'nothing-here'" in result.output
    assert _json(_runs(trained, "list", "--experiment", "nothing-here", "--json")) == []


def test_list_reads_the_tracking_uri_from_the_environment(
    trained: Trained, run_cli: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", trained.uri)
    rows = json.loads(run_cli("runs", "list", "--json").stdout)
    assert len(rows) == 5


# --- show -----------------------------------------------------------------------------------------


def test_show_with_a_full_id(trained: Trained) -> None:
    out = _runs(trained, "show", trained.elo_k30).stdout
    record = RunStore(trained.uri).load_run(trained.elo_k30)
    assert f"Run {trained.elo_k30}" in out
    expected = ["elo-k30", "FINISHED", "2023-2025", record.git_hash, record.ncaa_eval_version]
    expected += [str(record.prediction_count), "Hyperparameters", "k_tournament", "Per season"]
    expected += ["Artifacts", "predictions.parquet", "config.json", "MLflow Model: runs:/"]
    for text in expected:
        assert text in out, text
    k_row = next(line for line in out.splitlines() if re.search(r"│ k\s+│", line))
    assert "30.0" in k_row
    metrics = RunStore(trained.uri).client.get_run(trained.elo_k30).data.metrics
    assert f"{metrics['brier']:.4f}" in out
    assert f"{metrics['log_loss']:.4f}" in out
    for season in (2023, 2024, 2025):
        assert re.search(rf"│ {season}\s+│ 0\.\d{{4}} │\s+0\.\d{{4}} │", out), season


def test_show_with_a_prefix_matches_the_full_id(trained: Trained) -> None:
    full = _runs(trained, "show", trained.logistic).stdout
    short = _runs(trained, "show", trained.logistic[:6].upper()).stdout
    strip_age = re.compile(r"\(\d+ min ago\)|\(just now\)")
    assert strip_age.sub("", full) == strip_age.sub("", short)


def test_show_json(trained: Trained) -> None:
    data = _json(_runs(trained, "show", trained.elo[:8], "--json"))
    store = RunStore(trained.uri)
    assert data["run_id"] == trained.elo
    assert data["status"] == "FINISHED"
    assert data["record"] == store.load_run(trained.elo).model_dump(mode="json")
    assert data["record"]["hyperparameters"]["k"] == 40.0
    logged = store.client.get_run(trained.elo).data.metrics
    assert data["metrics"] == {k: v for k, v in logged.items() if not k.startswith("season_")}
    assert set(data["metrics"]) == {"brier", "log_loss", "accuracy", "calibration_error",
                                    "scored_games"}  # fmt: skip
    history = store.client.get_metric_history(trained.elo, "season_brier")
    assert [s["season"] for s in data["seasons"]] == [2023, 2024, 2025]
    assert {s["season"]: s["brier"] for s in data["seasons"]} == {m.step: m.value for m in history}
    paths = {a["path"]: a["size"] for a in data["artifacts"]}
    assert {"config.json", "predictions.parquet"} <= set(paths)
    assert not any(p.startswith("model/") for p in paths)  # a logged model, not an artifact
    assert data["model_uri"] == f"runs:/{trained.elo}/model"
    assert data["model_id"].startswith("m-")
    assert all(isinstance(size, int) and size > 0 for size in paths.values())


def test_show_a_failed_run(trained: Trained) -> None:
    out = _runs(trained, "show", trained.failed).stdout
    assert "FAILED" in out
    assert "no ncaa-eval records" in out
    assert "exploding_elo" in out
    data = _json(_runs(trained, "show", trained.failed, "--json"))
    assert data["record"] is None
    assert data["status"] == "FAILED"
    assert data["brier"] is None


def test_show_an_unknown_run(trained: Trained) -> None:
    used = {run_id[:4] for run_id in trained.newest_first}
    prefix = next(p for p in ("0000", "1111", "2222", "3333", "4444", "5555") if p not in used)
    _assert_one_error_line(_runs(trained, "show", prefix, expect=None), "No run id starting")
    _assert_one_error_line(_runs(trained, "show", prefix * 8, expect=None), prefix * 8)


@pytest.mark.parametrize("bad", ["../../etc", "abc", "zzzz", "", "a" * 33])
def test_malformed_ids_fail_in_one_line_and_write_nothing(
    trained: Trained, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bad: str
) -> None:
    monkeypatch.chdir(tmp_path)
    before = sorted(p for p in trained.folder.rglob("*"))
    for command in (["show", bad], ["export", bad, "--output-dir", "out"],
                    ["compare", bad, trained.elo]):  # fmt: skip
        _assert_one_error_line(_runs(trained, *command, expect=None), "not a run id")
    assert list(tmp_path.iterdir()) == []
    assert sorted(p for p in trained.folder.rglob("*")) == before


def test_an_ambiguous_prefix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two runs whose ids share their first 8 characters (MLflow's uuid4 made predictable)."""
    db = migrate_template(tmp_path)
    uri = sqlite_uri(db)
    store = RunStore(uri)
    counter = iter(range(1, 16))
    monkeypatch.setattr(uuid, "uuid4", lambda: uuid.UUID(f"abcd1234{next(counter):x}" + "0" * 23))
    ids = []
    for name in ("first", "second"):
        with store.start_run(run_name=name, params={"model_type": "elo", "league": "M"}) as run_id:
            ids.append(run_id)
    monkeypatch.undo()
    assert ids[0][:8] == ids[1][:8] == "abcd1234"
    for prefix in ("abcd", "ABCD1234"):
        result = _invoke(["runs", "show", prefix, "--tracking-uri", uri])
        _assert_one_error_line(result, "matches 2 runs", "give more characters")
    with pytest.raises(AmbiguousRunIdError):
        store.resolve_run_id("abcd")
    assert store.resolve_run_id(ids[1][:9]) == ids[1]
    # Runs without records can be shown but not compared or exported.
    result = _invoke(["runs", "show", ids[0], "--tracking-uri", uri])
    assert result.exit_code == 0, result.output
    assert "no ncaa-eval records" in result.output
    result = _invoke(["runs", "export", ids[0], "--tracking-uri", uri, "--output-dir", "x"])
    _assert_one_error_line(result, "no ncaa-eval records")
    assert not (tmp_path / "x").exists()


def test_show_in_a_store_that_does_not_exist(tmp_path: Path) -> None:
    db = tmp_path / "mlflow.db"
    result = _invoke(["runs", "show", "abcd", "--tracking-uri", sqlite_uri(db)])
    _assert_one_error_line(result, "no MLflow store")
    assert not db.exists()


# --- compare --------------------------------------------------------------------------------------


def _row(out: str, label: str) -> str:
    return next(line for line in out.splitlines() if re.match(rf"│ {re.escape(label)}\s+│", line))


def test_compare_two_elo_runs(trained: Trained) -> None:
    result = _runs(trained, "compare", trained.elo[:6], trained.elo_k30)
    out = result.stdout
    assert "warning" not in result.output
    assert "Hyperparameters that differ" in out
    k_row = _row(out, "k")
    assert re.search(r"40\.0\s+│\s+30\.0", k_row), k_row
    assert "k_tournament" not in out  # equal values are not listed
    client = RunStore(trained.uri).client
    metrics = [client.get_run(r).data.metrics for r in (trained.elo, trained.elo_k30)]
    for name, label, lower in (("brier", "Brier", True), ("log_loss", "log loss", True),
                               ("calibration_error", "calibration error", True),
                               ("accuracy", "accuracy", False)):  # fmt: skip
        row = _row(out, label)
        values = [m[name] for m in metrics]
        best = min(values) if lower else max(values)
        cells = [c.strip() for c in row.strip("│").split("│")[1:]]
        marked = [c.startswith("* ") for c in cells]
        assert marked == [v == best for v in values], (label, row)
    for season in (2023, 2024, 2025):
        row = _row(out, str(season))
        assert row.count("*") >= 1, row
    assert trained.elo[:8] in out
    assert "elo-k30" in out


def test_compare_json(trained: Trained) -> None:
    data = _json(_runs(trained, "compare", trained.elo, trained.elo_k30, "--json"))
    assert [r["run_id"] for r in data["runs"]] == [trained.elo, trained.elo_k30]
    assert data["differing_hyperparameters"] == {
        "k": {trained.elo: "40.0", trained.elo_k30: "30.0"}
    }
    store = RunStore(trained.uri)
    pair = (trained.elo, trained.elo_k30)
    briers = {r: store.client.get_run(r).data.metrics["brier"] for r in pair}
    assert data["metrics"]["brier"]["values"] == briers
    assert data["metrics"]["brier"]["best"] == [min(briers, key=briers.__getitem__)]
    assert sorted(data["season_brier"]) == ["2023", "2024", "2025"]
    assert data["warnings"] == []


def test_compare_runs_over_different_seasons_and_leagues(trained: Trained) -> None:
    result = _runs(trained, "compare", trained.elo, trained.logistic, trained.women)
    assert "different leagues (M, W)" in result.stderr
    assert "different seasons" in result.stderr
    assert "warning" not in result.stdout
    out = result.stdout
    # Logistic regression's params are absent from Elo's: counted, not listed one row each.
    assert "features.elo" not in out
    assert re.search(r"\d+ hyperparameters are set in only some of the runs", out)
    league_row = _row(out, "league")
    assert "men" in league_row
    assert "women" in league_row
    season_rows = [line for line in out.splitlines() if re.match(r"│ 20\d\d\s", line)]
    assert [line.split()[1] for line in season_rows] == ["2024", "2025"]
    data = _json(_runs(trained, "compare", trained.elo, trained.logistic, "--json"))
    assert sorted(data["season_brier"]) == ["2024", "2025"]
    assert len(data["warnings"]) == 1
    # --json keeps every difference, the model-specific ones too.
    assert data["differing_hyperparameters"]["features.elo"] == {
        trained.elo: None,
        trained.logistic: "True",
    }


def _compare(trained: Trained, data_dir: Path, *args: str) -> Result:
    """`runs compare` with the demo store's seeds; the runs are in ncaa-eval, not the demo's."""
    return _runs(
        trained, "compare", *args, "--data-dir", str(data_dir), "--experiment", "ncaa-eval"
    )


def _cells(row: str) -> list[str]:
    return [c.strip() for c in row.strip().strip("│").split("│")[1:]]


def test_compare_paired_difference_of_two_runs_over_the_same_seasons(
    trained: Trained, demo_store: Path
) -> None:
    # On the same seasons the shared games are exactly the games each run was scored on, so the
    # paired difference is the difference of the logged overall Briers (First Four left out).
    client = RunStore(trained.uri).client
    elo, k30 = (client.get_run(r).data.metrics for r in (trained.elo, trained.elo_k30))
    assert elo["scored_games"] == k30["scored_games"] == 3 * 63  # 67 games, 4 of them First Four
    data = _json(_compare(trained, demo_store, trained.elo, trained.elo_k30, "--json"))
    paired = data["paired_brier"]
    assert paired["baseline"] == trained.elo
    assert (paired["shared_games"], paired["shared_seasons"]) == (189, 3)
    assert paired["seasons"] == [2023, 2024, 2025]
    assert (paired["resamples"], paired["seed"], paired["note"]) == (2000, 0, None)
    assert list(paired["differences"]) == [trained.elo_k30]
    diff = paired["differences"][trained.elo_k30]
    assert diff["difference"] == pytest.approx(k30["brier"] - elo["brier"], abs=1e-12)
    assert diff["ci_low"] <= diff["difference"] <= diff["ci_high"]
    assert diff["ci_low"] < diff["ci_high"]
    assert diff["within_noise"] == (diff["ci_low"] <= 0 <= diff["ci_high"])
    assert data["warnings"] == []

    out = _compare(trained, demo_store, trained.elo, trained.elo_k30).stdout
    assert "Brier difference from the first run" in out
    assert _cells(_row(out, "difference")) == ["-", f"{diff['difference']:+.4f}"]
    assert _cells(_row(out, "95% interval")) == [
        "-",
        f"{diff['ci_low']:+.4f} to {diff['ci_high']:+.4f}",
    ]
    verdict = "within noise" if diff["within_noise"] else None
    if verdict is None:
        verdict = "better" if diff["difference"] < 0 else "worse"
    assert _cells(_row(out, "verdict")) == ["baseline", verdict]
    assert "On the 189 games all runs share (main draw, outcome known) in 3 seasons" in out
    assert "2,000 resamples of the seasons (seed 0)" in out


def test_compare_paired_difference_on_the_shared_seasons(
    trained: Trained, demo_store: Path
) -> None:
    # Logistic regression covers 2024-2025 only: 2 x 63 shared games, and as every season has as
    # many games, the paired difference is the mean of the two per-season Brier differences.
    # Resampling two seasons draws one of them twice in half the resamples: the interval runs
    # from the lower season's difference to the higher one's.
    args = (trained.elo, trained.logistic, trained.elo_k30, "--json")
    data = _json(_compare(trained, demo_store, *args))
    paired = data["paired_brier"]
    assert (paired["shared_games"], paired["shared_seasons"]) == (126, 2)
    assert list(paired["differences"]) == [trained.logistic, trained.elo_k30]
    by_season = data["season_brier"]
    for run_id in (trained.logistic, trained.elo_k30):
        seasons = [
            by_season[s]["values"][run_id] - by_season[s]["values"][trained.elo]
            for s in ("2024", "2025")
        ]
        diff = paired["differences"][run_id]
        assert diff["difference"] == pytest.approx(sum(seasons) / 2, abs=1e-9)
        assert diff["ci_low"] == pytest.approx(min(seasons), abs=1e-9)
        assert diff["ci_high"] == pytest.approx(max(seasons), abs=1e-9)
    # The same runs, the same numbers; --resamples is reported and leaves the difference.
    assert _json(_compare(trained, demo_store, *args))["paired_brier"] == paired
    fewer = _json(_compare(trained, demo_store, *args, "--resamples", "300"))["paired_brier"]
    assert fewer["resamples"] == 300
    for run_id, diff in fewer["differences"].items():
        assert diff["difference"] == paired["differences"][run_id]["difference"]
    result = _runs(trained, "compare", trained.elo, trained.logistic, "--resamples", "0", expect=2)
    assert "--resamples" in result.output
    # The CLI's bounds are the library's (repeated so that --help imports no numpy).
    assert (DEFAULT_RESAMPLES, MAX_RESAMPLES) == (
        paired_module.DEFAULT_RESAMPLES,
        paired_module.MAX_RESAMPLES,
    )


def test_compare_without_a_paired_difference(
    trained: Trained, demo_store: Path, tmp_path: Path
) -> None:
    # No data store: the First Four games cannot be told, said in one line.
    result = _compare(trained, tmp_path / "nothing", trained.elo, trained.elo_k30)
    notes = [line for line in result.stdout.splitlines() if "paired Brier" in line]
    assert len(notes) == 1, result.stdout
    assert "No data store" in notes[0]
    assert "Brier difference from the first run" not in result.stdout
    data = _json(_compare(trained, tmp_path / "nothing", trained.elo, trained.elo_k30, "--json"))
    assert data["paired_brier"]["shared_games"] is None
    assert (data["paired_brier"]["resamples"], data["paired_brier"]["seed"]) == (2000, 0)
    assert data["paired_brier"]["differences"] == {}
    assert "No data store" in data["paired_brier"]["note"]
    # A men's and a women's run: no pairing.
    result = _compare(trained, demo_store, trained.elo, trained.women)
    assert "No paired Brier difference: the runs cover different leagues." in result.stdout


def _copy_run(source: RunStore, run_id: str, target: RunStore, season: int) -> str:
    """A run in ``target`` holding ``run_id``'s predictions of one season only."""
    record = source.load_run(run_id)
    predictions = source.load_predictions(run_id).drop(columns=["run_id"])
    predictions = predictions[predictions["season"] == season]
    with target.start_run(run_name=f"elo-{season}", params={"league": "M"}) as rid:
        fields = record.model_dump()
        fields.update(
            run_id=rid,
            run_name=f"elo-{season}",
            start_year=season,
            end_year=season,
            prediction_count=len(predictions),
        )
        target.save_run(type(record).model_validate(fields), predictions)
    return rid


def test_compare_runs_sharing_no_scored_game(
    trained: Trained, demo_store: Path, tmp_path: Path
) -> None:
    uri = sqlite_uri(migrate_template(tmp_path))
    store = RunStore(uri)
    source = RunStore(trained.uri)
    first, second = (_copy_run(source, trained.elo, store, season) for season in (2023, 2024))
    args = ["runs", "compare", first, second, "--tracking-uri", uri, "--experiment", "ncaa-eval"]
    result = _invoke([*args, "--data-dir", str(demo_store)])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    notes = [line for line in result.stdout.splitlines() if "scored game" in line]
    assert notes == ["The runs share no scored game (main draw, outcome known): no paired Brier "
                     "difference."]  # fmt: skip
    result = _invoke([*args, "--data-dir", str(demo_store), "--json"])
    paired = json.loads(result.stdout)["paired_brier"]
    assert (paired["shared_games"], paired["shared_seasons"], paired["differences"]) == (0, 0, {})


def test_compare_needs_two_different_saved_runs(trained: Trained) -> None:
    result = _runs(trained, "compare", trained.elo, expect=2)
    assert "at least two runs" in result.output
    _assert_one_error_line(
        _runs(trained, "compare", trained.elo, trained.elo[:5], expect=None), "given twice"
    )
    _assert_one_error_line(
        _runs(trained, "compare", trained.elo, trained.failed, expect=None), "no ncaa-eval records"
    )


# --- export ---------------------------------------------------------------------------------------


def test_export(trained: Trained, tmp_path: Path) -> None:
    from ncaa_eval.tracking import read_predictions, table_to_frame

    out_dir = tmp_path / "out"
    result = _runs(trained, "export", trained.logistic[:5], "--output-dir", str(out_dir))
    folder = (out_dir / "runs" / trained.logistic).resolve()
    assert f"to {folder}" in result.stdout
    assert sorted(p.name for p in folder.iterdir()) == ["predictions.parquet", "run.json"]
    store = RunStore(trained.uri)
    exported = table_to_frame(read_predictions(folder / "predictions.parquet"))
    pd.testing.assert_frame_equal(exported, store.load_predictions(trained.logistic))
    record = json.loads((folder / "run.json").read_text())
    assert record == store.load_run(trained.logistic).model_dump(mode="json")


def test_export_of_a_failed_run_fails_in_one_line(trained: Trained, tmp_path: Path) -> None:
    result = _runs(
        trained, "export", trained.failed, "--output-dir", str(tmp_path / "o"), expect=None
    )
    _assert_one_error_line(result, "no ncaa-eval records")
    assert not (tmp_path / "o").exists()


# --- formatting helpers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (5, "just now"),
        (60, "1 min ago"),
        (5 * 60 + 30, "5 min ago"),
        (3 * 3600, "3 h ago"),
        (86400, "1 day ago"),
        (3 * 86400 + 10, "3 days ago"),
        (400 * 86400, "2024-01-26"),
    ],
)
def test_age(seconds: float, expected: str) -> None:
    now = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    assert _age(now - timedelta(seconds=seconds), now) == expected
    assert _age(None, now) == "-"


def test_size() -> None:
    assert [_size(n) for n in (None, 0, 1023, 1024, 1536, 5 * 2**20)] == [
        "-", "0 B", "1023 B", "1.0 KiB", "1.5 KiB", "5.0 MiB"
    ]  # fmt: skip


def test_best_positions() -> None:
    assert best_positions([0.3, 0.2, 0.2], lower_is_better=True) == [1, 2]
    assert best_positions([0.3, None, 0.5], lower_is_better=False) == [2]
    assert best_positions([None, None], lower_is_better=True) == []


def test_resolve_run_id_errors_are_library_errors(trained: Trained) -> None:
    store = RunStore(trained.uri)
    with pytest.raises(RunNotFoundError):
        store.resolve_run_id("../../etc")
    assert store.resolve_run_id(trained.women[:10]) == trained.women
