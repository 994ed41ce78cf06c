"""A team server: ``mlflow server`` on a real PostgreSQL with served artifacts, and the real CLI.

One PostgreSQL cluster and one MLflow server per module (``tests.helpers.postgres``); every
command runs as a user would run it, ``ncaa-eval train`` as a separate process. The records are
read back through MLflow's client, ncaa-eval's ``runs`` commands, the artifact folder the server
writes to, and PostgreSQL itself. Skipped, saying why, without the PostgreSQL binaries or a driver.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from ncaa_eval.tracking import RunStore
from tests.conftest import Invoke
from tests.helpers.mlflow_store import MLFLOW_ENV_VARS
from tests.helpers.postgres import Postgres, missing_requirements, mlflow_server, postgres_server
from tests.training.tracking_checks import (
    ARTIFACTS,
    Expected,
    check_tracked_run,
    client_for,
    make_git_checkout,
)

pytestmark = pytest.mark.slow

CONSOLE_SCRIPT = Path(sys.executable).with_name("ncaa-eval")
DATABASE = "mlflow"
YEARS = (2024, 2025)
#: Processes started at once against the one server.
CONCURRENT = 8


@dataclass(frozen=True)
class TeamServer:
    uri: str
    artifacts: Path
    postgres: Postgres


@pytest.fixture(scope="module")
def team_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TeamServer]:
    reason = missing_requirements()
    if reason is not None:
        pytest.skip(reason)
    folder = tmp_path_factory.mktemp("team-server")
    artifacts = folder / "artifacts"
    with postgres_server() as pg, mlflow_server(pg.create_database(DATABASE), artifacts) as uri:
        yield TeamServer(uri, artifacts, pg)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """No variable steering MLflow or the data dir, here and in the children.

    The HTTP bounds ncaa-eval applies (only where unset) are set here, so that they are undone.
    """
    for name in (*MLFLOW_ENV_VARS, "NCAA_EVAL_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "8")
    return dict(os.environ)


def _train_command(uri: str, data_dir: Path, out: Path, experiment: str) -> list[str]:
    script = [str(CONSOLE_SCRIPT)] if CONSOLE_SCRIPT.is_file() else [
        sys.executable, "-m", "ncaa_eval.cli"
    ]  # fmt: skip
    years = ["--start-year", str(YEARS[0]), "--end-year", str(YEARS[1])]
    store = ["--tracking-uri", uri, "--experiment", experiment]
    return [*script, "train", "--model", "elo", "--data-dir", str(data_dir), *years,
            "--output-dir", str(out), *store]  # fmt: skip


def _runs_in(uri: str, experiment: str) -> list[object]:
    client = client_for(uri)
    found = client.get_experiment_by_name(experiment)
    assert found is not None, f"no experiment {experiment} on the server"
    return list(client.search_runs([found.experiment_id], max_results=100))


def _served_predictions(server: TeamServer, experiment_id: str, run_id: str) -> Path:
    """predictions.parquet where the server stored it (``--artifacts-destination``)."""
    path = server.artifacts / experiment_id / run_id / "artifacts" / "predictions.parquet"
    assert path.is_file(), f"{path} missing; the server holds {sorted(server.artifacts.rglob('*'))}"
    return path


def test_train_list_show_export_through_a_postgres_backed_server(
    team_server: TeamServer,
    demo_store: Path,
    tmp_path: Path,
    clean_env: dict[str, str],
    run_cli: Invoke,
) -> None:
    uri, experiment = team_server.uri, "team-cycle"
    checkout = tmp_path / "checkout"
    git_hash = make_git_checkout(checkout)
    out = tmp_path / "out"

    done = subprocess.run(
        _train_command(uri, demo_store, out, experiment),
        cwd=checkout,
        env=clean_env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr

    [run] = _runs_in(uri, experiment)
    from mlflow.entities import Run

    assert isinstance(run, Run)
    run_id = str(run.info.run_id)
    # Artifacts go through the server (served artifacts), not to a path on this machine.
    assert str(run.info.artifact_uri).startswith("mlflow-artifacts:")
    expected = Expected("elo", *YEARS, demo_store, out)
    # The commit of the code that ran, not of the cwd's checkout.
    assert run.data.tags.get("mlflow.source.git.commit") != git_hash
    tracked = check_tracked_run(uri, run, expected, tmp_path / "artifacts")
    count = tracked.record.prediction_count
    assert count == len(tracked.predictions) > 0

    # What the server wrote: the artifact file, and the rows in PostgreSQL.
    served = _served_predictions(team_server, str(run.info.experiment_id), run_id)
    assert pq.read_metadata(served).num_rows == count
    pg = team_server.postgres
    assert pg.query(DATABASE, f"SELECT status FROM runs WHERE run_uuid = '{run_id}'") == [
        ["FINISHED"]
    ]
    params = pg.query(DATABASE, f"SELECT key, value FROM params WHERE run_uuid = '{run_id}'")
    assert dict((k, v) for k, v in params) == expected.params()
    tags = dict(
        (k, v)
        for k, v in pg.query(DATABASE, f"SELECT key, value FROM tags WHERE run_uuid = '{run_id}'")
    )
    assert tags["ncaa_eval_records"] == "2"
    assert tags["prediction_count"] == str(count)

    # `runs list --json`
    listed = json.loads(
        run_cli("runs", "list", "--json", "--tracking-uri", uri, "--experiment", experiment).output
    )
    assert [row["run_id"] for row in listed] == [run_id]
    row = listed[0]
    assert row["status"] == "FINISHED"
    assert row["has_records"] is True
    assert row["prediction_count"] == count
    assert (row["model_type"], row["league"]) == ("elo", "M")
    assert (row["start_year"], row["end_year"]) == YEARS
    assert row["brier"] == pytest.approx(run.data.metrics["brier"], rel=1e-12)

    # `runs show` by a prefix
    store = ["--tracking-uri", uri, "--experiment", experiment]
    shown = json.loads(run_cli("runs", "show", run_id[:8], "--json", *store).output)
    assert shown["run_id"] == run_id
    assert shown["record"] == tracked.record.model_dump(mode="json")
    assert shown["metrics"]["brier"] == pytest.approx(run.data.metrics["brier"], rel=1e-12)
    assert [s["season"] for s in shown["seasons"]] == list(range(YEARS[0], YEARS[1] + 1))
    sizes = {a["path"]: a["size"] for a in shown["artifacts"]}
    assert sizes["predictions.parquet"] == served.stat().st_size

    # `runs export`
    exported = tmp_path / "exported"
    result = run_cli("runs", "export", run_id, "--output-dir", str(exported),
                     "--tracking-uri", uri, "--experiment", experiment)  # fmt: skip
    assert f"Exported run {run_id}" in result.output
    folder = exported / "runs" / run_id
    assert sorted(p.name for p in folder.iterdir()) == ["predictions.parquet", "run.json"]
    assert pq.read_table(folder / "predictions.parquet").num_rows == count
    assert pq.read_table(folder / "predictions.parquet").equals(
        pq.read_table(out / "runs" / run_id / "predictions.parquet")
    )


def test_register_alias_and_predict_from_the_registry_of_the_team_server(
    team_server: TeamServer,
    demo_store: Path,
    tmp_path: Path,
    clean_env: dict[str, str],
    run_cli: Invoke,
) -> None:
    """The Model Registry on PostgreSQL: a run's model registered, aliased, predicted from."""
    uri, experiment = team_server.uri, "team-registry"
    done = subprocess.run(
        _train_command(uri, demo_store, tmp_path / "out", experiment),
        cwd=tmp_path, env=clean_env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    [run] = _runs_in(uri, experiment)
    run_id = str(run.info.run_id)  # type: ignore[attr-defined]
    store = ["--tracking-uri", uri, "--experiment", experiment]

    said = run_cli("runs", "register", run_id[:8], "--name", "team-men", "--alias", "champion",
                   *store)  # fmt: skip
    assert "models:/team-men/1" in said.output
    run_cli("runs", "register", run_id, "--name", "team-men", *store)
    run_cli("registry", "alias", "team-men", "champion", "2", "--tracking-uri", uri)
    [listed] = json.loads(
        run_cli("registry", "list", "team-men", "--json", "--tracking-uri", uri).output
    )
    assert listed["aliases"] == {"champion": 2}
    assert {v["run_id"] for v in listed["versions"]} == {run_id}
    # What PostgreSQL holds.
    pg = team_server.postgres
    assert pg.query(
        DATABASE, "SELECT alias, version FROM registered_model_aliases WHERE name = 'team-men'"
    ) == [["champion", "2"]]

    by_alias, by_run = tmp_path / "alias.csv", tmp_path / "run.csv"
    run_cli("predict", "--model", "models:/team-men@champion", "--season", str(YEARS[1]),
            "--output", str(by_alias), "--data-dir", str(demo_store), *store)  # fmt: skip
    run_cli("predict", "--run", run_id, "--season", str(YEARS[1]),
            "--output", str(by_run), "--data-dir", str(demo_store), *store)  # fmt: skip
    assert by_alias.read_bytes() == by_run.read_bytes()
    result = run_cli("registry", "alias", "team-men", "nope", "--delete", "--tracking-uri", uri,
                     expect=1)  # fmt: skip
    assert result.output.startswith("Error: Model 'team-men' has no alias 'nope'")


def test_processes_training_at_once_against_one_server_all_finish(
    team_server: TeamServer, demo_store: Path, tmp_path: Path, clean_env: dict[str, str]
) -> None:
    uri, experiment = team_server.uri, "team-concurrent"
    out = tmp_path / "out"
    logs = [tmp_path / f"train-{i}.log" for i in range(CONCURRENT)]
    procs = []
    for log in logs:
        with log.open("w") as sink:
            procs.append(
                subprocess.Popen(
                    _train_command(uri, demo_store, out, experiment),
                    cwd=tmp_path,
                    env=clean_env,
                    stdout=sink,
                    stderr=subprocess.STDOUT,
                )
            )
    for proc, log in zip(procs, logs, strict=True):
        assert proc.wait(timeout=600) == 0, log.read_text()
        assert "Traceback" not in log.read_text(), log.read_text()

    from mlflow.entities import Run

    runs = [r for r in _runs_in(uri, experiment) if isinstance(r, Run)]
    ids = {str(r.info.run_id) for r in runs}
    assert len(runs) == len(ids) == CONCURRENT
    expected = Expected("elo", *YEARS, demo_store, out)
    client = client_for(uri)
    store = RunStore(uri, experiment)
    for run in runs:
        run_id = str(run.info.run_id)
        assert run.info.status == "FINISHED"
        assert run.data.params == expected.params()
        assert run.data.tags["ncaa_eval_records"] == "2"
        assert sorted(a.path for a in client.list_artifacts(run_id)) == ARTIFACTS
        count = int(run.data.tags["prediction_count"])
        served = _served_predictions(team_server, str(run.info.experiment_id), run_id)
        assert pq.read_metadata(served).num_rows == count > 0
        assert len(store.load_predictions(run_id)) == count
    assert {p.name for p in (out / "runs").iterdir()} == ids
    assert {r.run_id for r in store.list_runs()} == ids
    statuses = team_server.postgres.query(
        DATABASE,
        "SELECT r.status, count(*) FROM runs r JOIN experiments e "
        f"ON r.experiment_id = e.experiment_id WHERE e.name = '{experiment}' GROUP BY r.status",
    )
    assert statuses == [["FINISHED", str(CONCURRENT)]]
