"""Choose the stateless models' default features on men's tournaments 2003-2014 only.

Walk-forward logistic regression (the same training mask as ncaa-eval's walk-forward) over
feature-config variants; prints the main-draw Brier of 2003-2014 for each. 2015-2024 is never
looked at here. Usage: python bench/tune_features.py DATA_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from ncaa_eval.evaluation.metrics import brier_score
from ncaa_eval.evaluation.walk_forward import play_in_mask, training_mask
from ncaa_eval.ingest import ParquetRepository
from ncaa_eval.model.logistic_regression import LogisticRegressionModel
from ncaa_eval.transform.feature_serving import FeatureConfig, StatefulFeatureServer

TUNING_SEASONS = range(2003, 2015)


def evaluate(repo: ParquetRepository, config: FeatureConfig, min_day: int = 100) -> float:
    history = [s for s in repo.seasons_available("M") if s < 2015]
    fs = StatefulFeatureServer(config).serve(repo, "M", history)
    frame, cols = fs.frame, fs.feature_columns
    parts = []
    for season in TUNING_SEASONS:
        train = frame[training_mask(frame, season, min_day)]
        test = frame[(frame["season"] == season) & frame["is_tournament"]]
        model = LogisticRegressionModel().fit(train[cols], train["team_a_won"].to_numpy())
        parts.append(test.assign(p=model.predict_proba(test[cols])))
    scored = pd.concat(parts)
    scored = scored[~play_in_mask(scored, repo.seeds("M"))]
    return brier_score(scored["team_a_won"].to_numpy(dtype=np.float64), scored["p"].to_numpy())


def main() -> None:
    repo = ParquetRepository(Path(sys.argv[1] if len(sys.argv) > 1 else "data"))
    base = FeatureConfig()
    variants = {
        "all features": base,
        "no efficiency, no form": base.model_copy(update={"efficiency": False, "form": False}),
        "no efficiency, no form, cap 30": base.model_copy(
            update={"efficiency": False, "form": False, "margin_cap": 30.0}
        ),
        "margin cap 12": base.model_copy(update={"margin_cap": 12.0}),
        "form over 5 games": base.model_copy(update={"form_games": 5}),
    }
    for name, config in variants.items():
        print(f"{name:35s} Brier 2003-2014 {evaluate(repo, config):.4f}", flush=True)


if __name__ == "__main__":
    main()
