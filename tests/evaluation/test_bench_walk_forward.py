"""bench/walk_forward.py: the benchmark runner's entry point, run as the runner runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "walk_forward.py"


def _cmd(demo_store: Path, start: int, end: int) -> list[str]:
    cmd = [sys.executable, str(SCRIPT), "--data-dir", str(demo_store), "--model", "elo"]
    return [*cmd, "--league", "M", "--start", str(start), "--end", str(end)]


def test_the_script_reports_scores_time_and_memory_as_json(demo_store: Path) -> None:
    cmd = [*_cmd(demo_store, 2021, 2024), "--history-from", "2019", "--held-out"]
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


def test_held_out_seasons_are_scored_only_when_asked(demo_store: Path, tmp_path: Path) -> None:
    # The demo league starts in 2018: every season it has is held out.
    cmd = [*_cmd(demo_store, 2021, 2023), "--json", "--predictions"]
    quiet = json.loads(
        subprocess.run(
            [*cmd, str(tmp_path / "quiet.parquet")], capture_output=True, text=True, check=True
        ).stdout
    )
    # Forecast, but neither scored nor written.
    assert quiet["windows"] == {}
    assert quiet["overall"] is None
    assert pd.read_parquet(tmp_path / "quiet.parquet").empty
    text = subprocess.run(_cmd(demo_store, 2021, 2023), capture_output=True, text=True).stdout
    assert "no scored games" in text
    loud = json.loads(
        subprocess.run(
            [*cmd, str(tmp_path / "loud.parquet"), "--held-out"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    assert list(loud["windows"]) == ["2021-2023"]
    assert loud["overall"]["n_games"] == 3 * 63
    written = pd.read_parquet(tmp_path / "loud.parquet")
    assert sorted(written["season"].unique()) == [2021, 2022, 2023]
