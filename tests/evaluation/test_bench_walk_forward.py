"""bench/walk_forward.py: the benchmark runner's entry point, run as the runner runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "walk_forward.py"


def test_the_script_reports_scores_time_and_memory_as_json(demo_store: Path) -> None:
    cmd = [sys.executable, str(SCRIPT), "--data-dir", str(demo_store), "--model", "elo"]
    cmd += ["--league", "M", "--start", "2021", "--end", "2024", "--history-from", "2019"]
    done = subprocess.run([*cmd, "--json"], capture_output=True, text=True, check=True)
    report = json.loads(done.stdout)
    assert report["model"] == "elo"
    assert report["history_from"] == 2019
    overall = report["overall"]
    assert set(overall) == {"brier", "log_loss", "accuracy", "calibration_error", "n_games"}
    assert 0.0 < overall["brier"] < 0.25
    # Only the held-out window overlaps 2021-2024: reported as the part it covers.
    assert list(report["windows"]) == ["2021-2024"]
    assert report["windows"]["2021-2024"]["n_games"] == overall["n_games"] == 4 * 63
    assert report["wall_time_s"] > 0
    assert 10 < report["peak_rss_mb"] < 4096
    text = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    assert "Brier" in text
    assert "peak RSS" in text
