"""``ncaa-eval predict``: a Kaggle submission for a season from a tracked run's model."""

from __future__ import annotations

from pathlib import Path

import click

from ncaa_eval.cli.options import (
    data_dir_option,
    experiment_option,
    run_option,
    tracking_uri_option,
)


@click.command()
@run_option
@click.option("--season", type=int, required=True, help="Season to forecast (e.g. 2026).")
@data_dir_option
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="CSV to write [default: submission-<league><season>-<run id>.csv].",
)
@click.option(
    "--all-teams",
    is_flag=True,
    help="Every pair of the season's teams (Kaggle stage two), not just the tournament's.",
)
@tracking_uri_option
@experiment_option
def predict(
    run_id: str,
    season: int,
    data_dir: Path,
    output: Path | None,
    all_teams: bool,
    tracking_uri: str | None,
    experiment: str,
) -> None:
    """Write a Kaggle submission (ID, Pred) for every pair of SEASON's tournament teams.

    Uses only data up to that season's Selection Sunday, so it works before the tournament is
    played. A season inside the run's years is forecast by refitting the run's config on the games
    before it; a later season uses the run's fitted model.
    """
    from ncaa_eval.cli.console import console
    from ncaa_eval.forecast.from_run import forecast_from_run
    from ncaa_eval.forecast.submission import submission_frame, write_submission

    result = forecast_from_run(
        run_id,
        season,
        data_dir,
        tracking_uri=tracking_uri,
        experiment=experiment,
        all_teams=all_teams,
    )
    frame = submission_frame(result.forecast.pairs())
    path = output or Path(f"submission-{result.run.league}{season}-{result.run.run_id[:8]}.csv")
    write_submission(frame, path)
    how = "refit on games before the tournament" if result.forecast.refit else "run's model"
    console.print(
        f"Wrote {len(frame):,} predictions for {len(result.forecast.team_ids)} teams to {path} "
        f"({result.run.model_type}, {how})."
    )
