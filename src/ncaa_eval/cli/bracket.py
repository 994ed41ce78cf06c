"""``ncaa-eval bracket``: each team's chance of reaching each round of a season's bracket."""

from __future__ import annotations

from pathlib import Path

import click

from ncaa_eval.cli.options import (
    data_dir_option,
    experiment_option,
    model_uri_option,
    run_option,
    tracking_uri_option,
)


@click.command()
@run_option
@model_uri_option
@click.option("--season", type=int, required=True, help="Season whose bracket is simulated.")
@data_dir_option
@click.option(
    "--sims",
    type=click.IntRange(min=1),
    help="Sample this many brackets (Monte Carlo) instead of the exact computation.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the Monte Carlo.")
@click.option("--top", type=click.IntRange(min=1), default=68, show_default=True,
              help="Show this many teams, by title chance.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@tracking_uri_option
@experiment_option
def bracket(
    run_id: str | None,
    model_uri: str | None,
    season: int,
    data_dir: Path,
    sims: int | None,
    seed: int,
    top: int,
    as_json: bool,
    tracking_uri: str | None,
    experiment: str,
) -> None:
    """Simulate SEASON's bracket (First Four included) with a run's or model's probabilities.

    Exact by default (the bracket is small); --sims N samples N brackets, reproducible with
    --seed. The table is recorded in MLflow as a run nested under the source run.
    """
    from rich.table import Table

    from ncaa_eval.cli.console import console
    from ncaa_eval.forecast.bracket import ROUND_NAMES, SHORT_ROUND_NAMES
    from ncaa_eval.forecast.season_bracket import season_bracket
    from ncaa_eval.forecast.sources import resolve_source

    given = [s for s in (run_id, model_uri) if s]
    if len(given) != 1:
        raise click.UsageError("Give exactly one of --run and --model.")
    source = resolve_source(given[0], tracking_uri, experiment)
    result = season_bracket(source, season, data_dir, sims=sims, seed=seed)
    table = result.table.head(top)
    if as_json:
        click.echo(table.to_json(orient="records", indent=2))
        return
    note = result.part.digest_note()
    if note:
        console.print(f"Note: {note}")
    how = "exact" if sims is None else f"{sims:,} simulated brackets, seed {seed}"
    out = Table(
        title=f"{season} {source.league} bracket, {source.describe()} ({how})",
        caption="Chance of reaching each round: R64 round of 64 ... F4 Final Four, Champ title.",
    )
    out.add_column("team")
    out.add_column("seed")
    for name in SHORT_ROUND_NAMES:
        out.add_column(name, justify="right")
    for row in table.to_dict("records"):
        out.add_row(
            str(row["team"]),
            str(row["seed"]),
            *(f"{100 * row[n]:.1f}%" for n in ROUND_NAMES),
        )
    console.print(out)
