"""``ncaa-eval data``: import the Kaggle download, inspect the store, build the demo league."""

from __future__ import annotations

from pathlib import Path

import click

from ncaa_eval.cli.options import data_dir_option


@click.group()
def data() -> None:
    """Import, inspect or generate the game data."""


def _print_summary(summary: object) -> None:
    from rich.table import Table

    from ncaa_eval.cli.console import console
    from ncaa_eval.ingest.kaggle import ImportSummary
    from ncaa_eval.ingest.schema import LEAGUE_NAMES

    assert isinstance(summary, ImportSummary)
    table = Table(title=f"Imported into {summary.store} in {summary.seconds:.1f} s")
    for col in ("league", "seasons", "games", "tournament games", "box scores", "ordinals"):
        table.add_column(col, justify="left" if col in ("league", "seasons") else "right")
    for league, s in summary.leagues.items():
        table.add_row(
            LEAGUE_NAMES[league],
            f"{s.first_season}-{s.last_season} ({s.seasons})",
            f"{s.games:,}",
            f"{s.tournament_games:,}",
            f"{s.box_score_games:,}",
            f"{s.ordinal_rows:,}",
        )
    console.print(table)
    for league, s in summary.leagues.items():
        if s.missing_optional:
            console.print(
                f"[yellow]{LEAGUE_NAMES[league]}: optional files not found, skipped: "
                f"{', '.join(s.missing_optional)}[/]"
            )
    if summary.demo:
        console.print("This is the synthetic demo league.")


@data.command("import")
@click.argument("source", type=click.Path(path_type=Path))
@data_dir_option
def import_(source: Path, data_dir: Path) -> None:
    """Validate the Kaggle download SOURCE (a folder or .zip) and write the data store.

    The previous store is replaced only when every file validates.
    """
    from ncaa_eval.cli.console import step_progress
    from ncaa_eval.ingest.kaggle import import_kaggle

    with step_progress("reading", total=None) as advance:
        summary = import_kaggle(source, data_dir, progress=advance)
    _print_summary(summary)


@data.command()
@data_dir_option
def info(data_dir: Path) -> None:
    """Show what the data store holds: seasons, games, tournaments, coverage, per league."""
    from rich.table import Table

    from ncaa_eval.cli.console import console
    from ncaa_eval.ingest.repository import ParquetRepository
    from ncaa_eval.ingest.schema import LEAGUE_NAMES

    repo = ParquetRepository(data_dir)
    kind = "synthetic demo league" if repo.is_demo else "Kaggle data"
    console.print(f"Store {repo.root} ({kind}, source digest {repo.digest})")
    for league in repo.leagues:
        games = repo.games(league)[["season", "is_tournament", "has_box_score"]]
        ordinal_seasons = set(repo.seasons_available(league, "ordinals"))
        per = games.groupby("season").agg(
            games=("is_tournament", "size"),
            tournament=("is_tournament", "sum"),
            box=("has_box_score", "sum"),
        )
        table = Table(title=f"{LEAGUE_NAMES[league]} ({league})")
        for col in ("season", "games", "tournament games", "box scores", "ordinals"):
            table.add_column(col, justify="right")
        for season, row in per.iterrows():
            table.add_row(
                str(season),
                f"{row['games']:,}",
                str(int(row["tournament"])),
                f"{int(row['box']):,}",
                "yes" if season in ordinal_seasons else "-",
            )
        table.add_section()
        table.add_row(
            f"{len(per)} seasons",
            f"{int(per['games'].sum()):,}",
            f"{int(per['tournament'].sum()):,}",
            f"{int(per['box'].sum()):,}",
            f"{len(ordinal_seasons)} seasons",
        )
        console.print(table)


@data.command()
@data_dir_option
@click.option("--seed", type=int, default=2025, show_default=True, help="Random seed.")
@click.option(
    "--seasons",
    type=click.IntRange(2, 60),
    default=20,
    show_default=True,
    help="How many seasons to generate (ending 2025).",
)
@click.option(
    "--if-missing",
    is_flag=True,
    help="Do nothing when DATA_DIR already holds a data store (real or demo).",
)
def demo(data_dir: Path, seed: int, seasons: int, if_missing: bool) -> None:
    """Generate the synthetic demo league in Kaggle's CSV layout and import it.

    About 350 teams in 32 conferences, 20 seasons, 68-team tournaments: enough to train every
    model without the Kaggle download.
    """
    from ncaa_eval.cli.console import console, step_progress
    from ncaa_eval.ingest.demo_store import build_demo_store
    from ncaa_eval.ingest.repository import MANIFEST, STORE_DIR

    if if_missing and (data_dir / STORE_DIR / MANIFEST).is_file():
        console.print(f"{data_dir} already holds a data store; left as it is.")
        return

    with step_progress("generating", total=None) as advance:
        summary = build_demo_store(data_dir, seed=seed, n_seasons=seasons, progress=advance)
    _print_summary(summary)


@data.command()
@click.option(
    "--competition",
    default="march-machine-learning-mania-2025",
    show_default=True,
    help="Kaggle competition slug.",
)
@data_dir_option
def fetch(competition: str, data_dir: Path) -> None:
    """Download a competition's files with the `kaggle` package, then import them.

    Needs `pip install 'ncaa-eval[kaggle]'` and Kaggle credentials (~/.kaggle/kaggle.json or
    KAGGLE_USERNAME and KAGGLE_KEY).
    """
    from ncaa_eval.cli.console import step_progress
    from ncaa_eval.ingest.fetch import fetch_competition
    from ncaa_eval.ingest.kaggle import import_kaggle

    archive = fetch_competition(competition, data_dir / "downloads")
    with step_progress("reading", total=None) as advance:
        summary = import_kaggle(archive, data_dir, progress=advance)
    _print_summary(summary)
