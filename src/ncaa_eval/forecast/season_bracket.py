"""A season's bracket from a run or model, with team names and seeds, recorded in MLflow."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ncaa_eval.forecast.bracket import exact_bracket, monte_carlo_bracket
from ncaa_eval.forecast.sources import ForecastSource, SourceForecast, forecast_source
from ncaa_eval.forecast.submission import record_forecasts
from ncaa_eval.ingest.repository import ParquetRepository


@dataclass
class SeasonBracket:
    """Each team's chance of reaching each round, sorted by title chance, and its provenance."""

    table: pd.DataFrame
    part: SourceForecast
    lineage_run_id: str


def season_bracket(
    source: ForecastSource,
    season: int,
    data_dir: Path,
    *,
    sims: int | None = None,
    seed: int = 0,
) -> SeasonBracket:
    """Simulate ``season``'s bracket (slots and seeds from the data store) with ``source``.

    Exact unless ``sims`` is given. The table is recorded as ``bracket-<season>.csv`` on a run
    nested under the source run.

    Raises:
        NcaaEvalError: the season has no slots or seeds, or any forecasting error.
    """
    repo = ParquetRepository(data_dir)
    part = forecast_source(source, season, data_dir, repository=repo)
    league = source.league
    seeds_df = repo.seeds(league)
    seeds_df = seeds_df[seeds_df["season"] == season]
    seeds = dict(zip(seeds_df["seed"].astype(str), seeds_df["team_id"].astype(int), strict=True))
    slots = repo.slots(league)
    slots = slots[slots["season"] == season]
    f = part.forecast
    if sims is None:
        table = exact_bracket(slots, seeds, f.team_ids, f.prob, season)
    else:
        table = monte_carlo_bracket(slots, seeds, f.team_ids, f.prob, season, sims, seed)
    names = repo.teams(league).set_index("team_id")["team_name"]
    by_team = {v: k for k, v in seeds.items()}
    table.insert(1, "team", table["team_id"].map(names).fillna("?"))
    table.insert(2, "seed", table["team_id"].map(by_team))
    table = table.sort_values(["Champion", "Final"], ascending=False, ignore_index=True)
    with tempfile.TemporaryDirectory(prefix="ncaa-eval-bracket-") as tmp:
        path = Path(tmp) / f"bracket-{league}{season}.csv"
        table.to_csv(path, index=False, float_format="%.6f")
        method = "exact" if sims is None else f"monte_carlo:{sims}:{seed}"
        [run_id] = record_forecasts([part], "bracket", season, path, {"method": method})
    return SeasonBracket(table, part, run_id)
