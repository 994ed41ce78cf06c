"""``ncaa-eval bracket``: each team's chance of reaching each round of a season's bracket."""

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
    run_id: str,
    season: int,
    data_dir: Path,
    sims: int | None,
    seed: int,
    top: int,
    as_json: bool,
    tracking_uri: str | None,
    experiment: str,
) -> None:
    """Simulate SEASON's bracket (First Four included) with a run's pairwise probabilities.

    Exact by default (the bracket is small); --sims N samples N brackets, reproducible with
    --seed.
    """
    from rich.table import Table

    from ncaa_eval.cli.console import console
    from ncaa_eval.forecast.bracket import (
        ROUND_NAMES,
        SHORT_ROUND_NAMES,
        exact_bracket,
        monte_carlo_bracket,
    )
    from ncaa_eval.forecast.from_run import forecast_from_run

    result = forecast_from_run(
        run_id, season, data_dir, tracking_uri=tracking_uri, experiment=experiment
    )
    repo, league = result.repository, result.run.league
    seeds_df = repo.seeds(league)
    seeds_df = seeds_df[seeds_df["season"] == season]
    seeds = dict(zip(seeds_df["seed"].astype(str), seeds_df["team_id"].astype(int), strict=True))
    slots = repo.slots(league)
    slots = slots[slots["season"] == season]
    f = result.forecast
    if sims is None:
        table = exact_bracket(slots, seeds, f.team_ids, f.prob, season)
    else:
        table = monte_carlo_bracket(slots, seeds, f.team_ids, f.prob, season, sims, seed)
    names = repo.teams(league).set_index("team_id")["team_name"]
    by_team = {v: k for k, v in seeds.items()}
    table.insert(1, "team", table["team_id"].map(names).fillna("?"))
    table.insert(2, "seed", table["team_id"].map(by_team))
    table = table.sort_values(["Champion", "Final"], ascending=False).head(top)
    if as_json:
        click.echo(table.to_json(orient="records", indent=2))
        return
    how = "exact" if sims is None else f"{sims:,} simulated brackets, seed {seed}"
    out = Table(
        title=f"{season} {league} bracket, run {result.run.run_id[:8]} ({how})",
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
