"""The MLflow UI as a user meets it: the link `train` prints opens the run in a real browser.

The README's first command (`ncaa-eval data demo`, then `train`) runs through the real CLI on a
SQLite store in a temporary folder; the real `mlflow ui` then serves that store, and Debian's
`chromium`, driven by Playwright, opens the address `train` printed and must find the run and its
Brier in the experiment's runs table ("Model training" view, not MLflow's GenAI overview).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from ncaa_eval import DEMO_EXPERIMENT
from tests.conftest import Invoke
from tests.helpers.mlflow_store import MLFLOW_ENV_VARS

if TYPE_CHECKING:
    from playwright.sync_api import Page

VENV_BIN = Path(sys.executable).parent
CHROMIUM = shutil.which("chromium")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None, reason="no `chromium` executable (apt-get install chromium)"
    ),
    pytest.mark.skipif(
        not (VENV_BIN / "mlflow").is_file(), reason=f"no mlflow command in {VENV_BIN}"
    ),
]

#: What `train` prints under its summary table for a local store.
UI_COMMAND = re.compile(r"^Compare runs in the MLflow UI: (mlflow ui .+)$", re.MULTILINE)
UI_URL = re.compile(r"^and open (http://127\.0\.0\.1:5000/\S+)$", re.MULTILINE)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty folder as the current directory, with no MLflow or data settings inherited."""
    for name in (*MLFLOW_ENV_VARS, "NCAA_EVAL_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@contextmanager
def _serve(command: str, port: int, cwd: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Start the printed `mlflow ui` command on ``port``; stop it (its whole group) at the end."""
    args = shlex.split(command)
    assert args[:2] == ["mlflow", "ui"], command
    args[0] = str(VENV_BIN / "mlflow")
    env = {k: v for k, v in os.environ.items() if k not in MLFLOW_ENV_VARS}
    log = cwd / "mlflow-ui.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [*args, "--host", "127.0.0.1", "--port", str(port)],
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, log.read_text()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"mlflow ui did not answer within 120 s:\n{log.read_text()}")
                time.sleep(0.5)
        yield server
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(timeout=20)


@pytest.mark.timeout(600)
def test_the_printed_link_opens_the_runs_table_with_the_run_and_its_brier(
    workspace: Path, run_cli: Invoke
) -> None:
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="no playwright package (pip install -e '.[dev]')"
    )
    run_cli("data", "demo")
    result = run_cli("train", "--model", "elo", "--start-year", "2024", "--end-year", "2025")
    output = result.output
    run_name = "elo-2024-2025-demo"
    assert run_name in output
    brier = float(re.search(r"│ Brier\s+│ ([0-9.]+)", output).group(1))  # type: ignore[union-attr]
    command = UI_COMMAND.search(output)
    url = UI_URL.search(output)
    assert command is not None, output
    assert url is not None, output
    db = (workspace / "mlflow.db").resolve()
    assert command.group(1) == f"mlflow ui --backend-store-uri sqlite:///{db.as_posix()}"
    assert re.fullmatch(
        r"http://127\.0\.0\.1:5000/#/experiments/\d+/runs\?workflowType=machine_learning",
        url.group(1),
    )
    port = _free_port()
    link = url.group(1).replace(":5000/", f":{port}/", 1)

    with _serve(command.group(1), port, workspace), sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1900, "height": 900})
            page.goto(link)
            page.get_by_role("link", name=run_name).first.wait_for(timeout=60_000)
            # The runs table of the demo experiment, with its note, not the GenAI overview.
            page.get_by_text(DEMO_EXPERIMENT).first.wait_for(timeout=30_000)
            page.get_by_text("Synthetic demo league").first.wait_for(timeout=30_000)
            # The table shows no metric until one is chosen: sort by Brier, as a user would,
            # which adds its column.
            page.get_by_text("Sort: Created").first.click()
            page.get_by_test_id("sort-select-brier").first.click()
            page.keyboard.press("Escape")
            shown = _brier_cell(page, brier)
            assistant = page.get_by_role("button", name="Close")
            if assistant.count():
                assistant.first.click()
            # The UI polls the server, so the network never goes idle: let the re-sort settle.
            page.wait_for_timeout(2_000)
            page.get_by_text(run_name).first.wait_for(timeout=30_000)
            page.screenshot(path=str(workspace / "mlflow-ui.png"))
        finally:
            browser.close()
    # The table shows the full value; charts and the compare view show 3 significant digits.
    assert f"{float(shown):.3g}" == f"{brier:.3g}", (shown, brier)


def _brier_cell(page: Page, brier: float) -> str:
    """The number on the page that is ``brier`` (which `train` printed to 4 decimals)."""
    deadline = time.monotonic() + 30
    while True:
        body = page.inner_text("body")
        for text in re.findall(r"\b0\.\d{3,}\b", body):
            if round(float(text), 4) == brier:
                return str(text)
        if time.monotonic() > deadline:
            pytest.fail(f"the page shows no Brier {brier}:\n{body}")
        time.sleep(0.5)
