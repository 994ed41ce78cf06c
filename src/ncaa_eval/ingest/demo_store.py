"""Build the demo store: synthetic Kaggle CSVs, imported through the real importer."""

from __future__ import annotations

import tempfile
from pathlib import Path

from ncaa_eval.ingest.demo import DemoConfig, write_demo_csvs
from ncaa_eval.ingest.kaggle import ImportSummary, ProgressFn, import_kaggle
from ncaa_eval.paths import check_writable_dir

#: The demo league's last season; it ends where the real data ends.
DEMO_LAST_SEASON = 2025


def build_demo_store(
    data_dir: Path,
    seed: int = 2025,
    n_seasons: int = 20,
    progress: ProgressFn | None = None,
) -> ImportSummary:
    """Generate the demo league (deterministic for ``seed``) and import it into ``data_dir``."""
    check_writable_dir(Path(data_dir), "--data-dir")
    say = progress or (lambda _msg: None)
    config = DemoConfig(
        seed=seed,
        first_season=DEMO_LAST_SEASON - n_seasons + 1,
        last_season=DEMO_LAST_SEASON,
    )
    with tempfile.TemporaryDirectory(prefix="ncaa-eval-demo-") as tmp:
        say("generating the demo league")
        write_demo_csvs(Path(tmp), config)
        return import_kaggle(Path(tmp), data_dir, progress=say)
