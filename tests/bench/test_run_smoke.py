"""The benchmark runner runs: a smoke test, never a timing assertion.

``bench/run.py`` is run as a user runs it, in a fresh process, on a small subset; the test checks
that it finishes, prints the table and writes the Markdown and JSON results, with a measured value
and a verdict for each row. Whether a target is met is the benchmark's business, not the suite's.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO_ROOT

RUNNER = REPO_ROOT / "bench" / "run.py"


def _run(tmp_path: Path, *args: str) -> dict[str, Any]:
    results = tmp_path / "results"
    proc = subprocess.run(
        [sys.executable, str(RUNNER), *args, "--results-dir", str(results)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "| benchmark | measured | target | verdict | how |" in proc.stdout
    assert (results / "latest.md").read_text().startswith("# ncaa-eval benchmarks")
    payload = json.loads((results / "latest.json").read_text())
    assert isinstance(payload, dict)
    return payload


def test_cli_help_benchmark_runs_and_writes_results(tmp_path: Path) -> None:
    payload = _run(tmp_path, "--only", "cli_help", "--repeats", "2")
    ours = payload["rows"][0]
    assert ours["benchmark"] == "`ncaa-eval --help` wall time"
    assert ours["verdict"] in {"pass", "MISS"}
    assert len(ours["values"]["seconds"]) == 2
    assert all(s > 0 for s in ours["values"]["seconds"])


def test_unknown_benchmark_is_a_usage_error(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(RUNNER), "--only", "nope", "--results-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "unknown benchmark 'nope'" in proc.stderr
    assert not (tmp_path / "latest.json").exists()


@pytest.mark.usefixtures("kaggle_dir")
def test_elo_pass_on_the_real_data(tmp_path: Path) -> None:
    payload = _run(tmp_path, "--only", "elo_pass", "--repeats", "1")
    (row,) = payload["rows"]
    assert row["values"]["games"] > 190_000
    assert row["verdict"] in {"pass", "MISS"}


def test_the_feature_pass_script_times_both_ways(demo_store: Path) -> None:
    script = REPO_ROOT / "bench" / "feature_pass.py"
    proc = subprocess.run(
        [sys.executable, str(script), "--data-dir", str(demo_store), "--repeats", "2"],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    out = json.loads(proc.stdout)
    assert len(out["without"]) == len(out["with"]) == len(out["added"]) == 2
    assert all(s > 0 for s in out["without"] + out["with"])
    assert out["added"] == [w - p for w, p in zip(out["with"], out["without"], strict=True)]
