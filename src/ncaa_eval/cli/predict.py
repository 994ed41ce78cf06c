"""``ncaa-eval predict``: a Kaggle submission for a season from tracked runs or MLflow Models."""

from __future__ import annotations

from pathlib import Path

import click

from ncaa_eval import LEAGUE_NAMES
from ncaa_eval.cli.options import (
    data_dir_option,
    experiment_option,
    model_uri_option,
    tracking_uri_option,
)

_SOURCE_HELP = "Run id (or unique prefix) or model URI for the {} forecasts."


@click.command()
@click.option("--run", "run_id", help="Run id, or a unique prefix of one.")
@model_uri_option
@click.option("--men", "men", metavar="RUN|URI", help=_SOURCE_HELP.format("men's"))
@click.option("--women", "women", metavar="RUN|URI", help=_SOURCE_HELP.format("women's"))
@click.option("--season", type=int, required=True, help="Season to forecast (e.g. 2026).")
@data_dir_option
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="CSV to write [default: submission-<league><season>-<run id>.csv, or "
    "submission-<season>-<men's run>-<women's run>.csv].",
)
@click.option(
    "--all-teams",
    is_flag=True,
    help="Every pair of the season's teams (Kaggle stage two), not just the tournament's.",
)
@tracking_uri_option
@experiment_option
def predict(
    run_id: str | None,
    model_uri: str | None,
    men: str | None,
    women: str | None,
    season: int,
    data_dir: Path,
    output: Path | None,
    all_teams: bool,
    tracking_uri: str | None,
    experiment: str,
) -> None:
    """Write a Kaggle submission (ID, Pred) for every pair of SEASON's tournament teams.

    The forecasts come from one run (--run) or MLflow Model (--model models:/NAME@ALIAS,
    models:/NAME/VERSION, runs:/ID/model), or from one of either per league (--men, --women) for
    Kaggle's single file holding both. Only data up to the season's Selection Sunday is used. A
    model answers for its own season alone; any other season refits the source run's config on
    the data store (its fitted model carries on after the run's last season). The file is
    recorded in MLflow as a run nested under each source run.
    """
    from ncaa_eval.cli.console import console
    from ncaa_eval.forecast.sources import check_league, resolve_source
    from ncaa_eval.forecast.submission import make_submission
    from ncaa_eval.ingest.schema import League

    single = [s for s in (run_id, model_uri) if s]
    given: list[tuple[League, str | None]] = [("M", men), ("W", women)]
    by_league = [(league, s) for league, s in given if s]
    if len(single) + (1 if by_league else 0) != 1:
        raise click.UsageError(
            "Give exactly one of --run, --model, or --men/--women (one or both)."
        )
    if single:
        sources = [resolve_source(single[0], tracking_uri, experiment)]
    else:
        sources = []
        for league, text in by_league:
            source = resolve_source(text, tracking_uri, experiment)
            check_league(source, league, f"--{LEAGUE_NAMES[league]}")
            sources.append(source)
    result = make_submission(sources, season, data_dir, output=output, all_teams=all_teams)
    for part in result.parts:
        note = part.digest_note()
        if note:
            console.print(f"Note: {note}")
    for part in result.parts:
        teams = len(part.forecast.team_ids)
        name = LEAGUE_NAMES[part.source.league].capitalize()
        console.print(
            f"{name}: {teams} teams from {part.source.describe()}, "
            f"{part.source.run.model_type}, by {part.how}."
        )
    if len(result.lineage_run_ids) == 1:
        recorded = f"run {result.lineage_run_ids[0][:8]} under the source run"
    else:
        recorded = "runs " + ", ".join(
            f"{run_id[:8]} ({LEAGUE_NAMES[part.source.league]})"
            for run_id, part in zip(result.lineage_run_ids, result.parts, strict=True)
        )
        recorded += " under their source runs"
    console.print(f"Wrote {result.rows:,} predictions to {result.path}; recorded as {recorded}.")
