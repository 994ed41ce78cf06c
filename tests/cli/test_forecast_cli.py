"""``ncaa-eval predict`` and ``ncaa-eval bracket`` through the real CLI, on the real Kaggle data.

Two Elo runs are trained into one real SQLite MLflow store:

* ``played``: 2024-2025 on the full men's data, so 2025 is inside the run and is forecast by
  refitting on the games before its tournament (which must give the run's own predictions);
* ``unplayed``: 2023-2024 on a copy of the data without 2025's tournament results (seeds, slots
  and regular season kept), the situation on Selection Sunday; 2025 uses the run's saved model.

A logistic regression run on the demo league covers the stateless models and the First Four.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner, Result

from ncaa_eval.cli.main import cli
from ncaa_eval.cli.options import default_experiment
from ncaa_eval.forecast.bracket import ROUND_NAMES
from ncaa_eval.ingest.repository import ParquetRepository
from ncaa_eval.tracking import RunStore
from tests.helpers.mlflow_store import MLFLOW_ENV_VARS, assert_no_active_run
from tests.training.tracking_checks import shared_template, store_copy

ID_RE = re.compile(r"^(\d{4})_(\d{4})_(\d{4})$")
#: Teams reaching each round of a 68-team bracket: the First Four's 4 winners join 60 teams in the
#: round of 64; every later round halves.
SLOTS_PER_ROUND = [64, 32, 16, 8, 4, 2, 1]
#: Monte Carlo brackets against the exact computation: the standard error of a share estimated
#: from 20000 brackets is at most 0.0035, so 0.02 is more than 5 of them.
SIMS, MC_TOLERANCE = 20000, 0.02
#: The seasons' men's tournament results, removed to make an unplayed 2025.
RESULT_FILES = ("MNCAATourneyCompactResults.csv", "MNCAATourneyDetailedResults.csv")


@dataclass(frozen=True)
class Forecasting:
    uri: str
    root: Path
    full: Path
    unplayed: Path
    played_run: str
    unplayed_run: str

    def cli(self, *args: str, expect: int | None = 0) -> Result:
        return _invoke(*args, "--tracking-uri", self.uri, expect=expect)


def _invoke(*args: str, expect: int | None = 0) -> Result:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    if expect is not None:
        assert result.exit_code == expect, result.output
    return result


def _flat(result: Result) -> str:
    """The output with Rich's line folding undone."""
    return " ".join(result.output.split())


def _train(uri: str, data_dir: Path, model: str, start: int, end: int, out: Path) -> str:
    store = RunStore(uri, default_experiment(data_dir))
    before = {r.run_id for r in store.list_runs()}
    _invoke(
        "train",
        "--model",
        model,
        "--data-dir",
        str(data_dir),
        "--tracking-uri",
        uri,
        "--start-year",
        str(start),
        "--end-year",
        str(end),
        "--output-dir",
        str(out),
    )
    (new,) = {r.run_id for r in store.list_runs()} - before
    return new


def _unplayed_copy(kaggle_dir: Path, folder: Path) -> Path:
    """The Kaggle folder with 2025's men's tournament results removed (the rest linked)."""
    folder.mkdir()
    for source in kaggle_dir.iterdir():
        if source.name in RESULT_FILES:
            frame = pd.read_csv(source)
            frame[frame["Season"] != 2025].to_csv(folder / source.name, index=False)
        else:
            (folder / source.name).symlink_to(source)
    return folder


@pytest.fixture(scope="module")
def forecasting(
    request: pytest.FixtureRequest,
    kaggle_dir: Path,
    kaggle_store: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Forecasting]:
    from ncaa_eval.ingest import import_kaggle

    root = tmp_path_factory.mktemp("forecast")
    unplayed = root / "unplayed-store"
    import_kaggle(_unplayed_copy(kaggle_dir, root / "unplayed-csv"), unplayed)
    uri = store_copy(shared_template(request.config, tmp_path_factory), root / "mlflow.db")
    with pytest.MonkeyPatch.context() as mp:
        for name in (*MLFLOW_ENV_VARS, "NCAA_EVAL_DATA_DIR"):
            mp.delenv(name, raising=False)
        mp.chdir(root)
        played_run = _train(uri, kaggle_store, "elo", 2024, 2025, root / "out")
        unplayed_run = _train(uri, unplayed, "elo", 2023, 2024, root / "out")
        yield Forecasting(uri, root, kaggle_store, unplayed, played_run, unplayed_run)
    assert_no_active_run()


def _seeded(data_dir: Path, season: int, league: str = "M") -> list[int]:
    seeds = ParquetRepository(data_dir).seeds(league)  # type: ignore[arg-type]
    return sorted(seeds.loc[seeds["season"] == season, "team_id"].astype(int))


def check_submission(path: Path, season: int, teams: list[int]) -> pd.DataFrame:
    """Kaggle's format: a row per pair of ``teams``, ``SSSS_AAAA_BBBB`` with A < B, P in [0, 1]."""
    frame = pd.read_csv(path, dtype={"ID": str})
    assert frame.columns.tolist() == ["ID", "Pred"]
    n = len(teams)
    assert len(frame) == n * (n - 1) // 2
    assert frame["ID"].is_unique
    parts = frame["ID"].str.extract(ID_RE)
    assert parts.notna().all().all(), frame["ID"][parts.isna().any(axis=1)].head()
    s, a, b = (parts[i].astype(int) for i in range(3))
    assert (s == season).all()
    assert (a < b).all()
    assert set(a) | set(b) == set(teams)
    p = frame["Pred"]
    assert p.notna().all()
    assert p.between(0.0, 1.0).all()
    assert p.nunique() > n, "the forecasts are (nearly) constant"
    return frame.assign(team_a_id=a, team_b_id=b)


# -- predict --------------------------------------------------------------------------------------


@pytest.mark.kaggle
def test_predict_a_season_inside_the_run_refits_as_the_run_did(forecasting: Forecasting) -> None:
    out = forecasting.root / "played.csv"
    result = forecasting.cli(
        "predict",
        "--run",
        forecasting.played_run[:8],
        "--season",
        "2025",
        "--data-dir",
        str(forecasting.full),
        "--output",
        str(out),
    )

    assert "Men: 68 teams from run" in _flat(result)
    assert "Wrote 2,278 predictions to" in _flat(result)
    assert "config refit on the data store's games before the tournament" in _flat(result)
    frame = check_submission(out, 2025, _seeded(forecasting.full, 2025))
    # The refit sees exactly what the run's walk-forward saw: the run's own 2025 forecasts.
    logged = RunStore(forecasting.uri).load_predictions(forecasting.played_run)
    logged = logged[logged["season"] == 2025]
    assert len(logged) == 67
    merged = logged.merge(frame, on=["team_a_id", "team_b_id"], validate="one_to_one")
    assert len(merged) == 67
    np.testing.assert_allclose(merged["Pred"], merged["pred_win_prob"], atol=5e-7, rtol=0)


@pytest.mark.kaggle
def test_predict_all_teams_pairs_every_team_that_played(forecasting: Forecasting) -> None:
    seeded_csv, all_csv = forecasting.root / "seeded.csv", forecasting.root / "all.csv"
    common = [
        "--run",
        forecasting.played_run,
        "--season",
        "2025",
        "--data-dir",
        str(forecasting.full),
    ]
    forecasting.cli("predict", *common, "--output", str(seeded_csv))
    result = forecasting.cli("predict", *common, "--all-teams", "--output", str(all_csv))

    games = ParquetRepository(forecasting.full).games("M", [2025])
    teams = sorted(set(games["w_team_id"].astype(int)) | set(games["l_team_id"].astype(int)))
    assert len(teams) > 300
    frame = check_submission(all_csv, 2025, teams)
    n = len(teams)
    assert f"Men: {n} teams from run" in _flat(result)
    assert f"Wrote {n * (n - 1) // 2:,} predictions to" in _flat(result)
    # A pair's forecast does not depend on which other teams are paired.
    seeded = pd.read_csv(seeded_csv, dtype={"ID": str}).set_index("ID")["Pred"]
    np.testing.assert_array_equal(frame.set_index("ID").loc[seeded.index, "Pred"], seeded)


@pytest.mark.kaggle
def test_predict_a_season_whose_tournament_is_not_played(forecasting: Forecasting) -> None:
    out = forecasting.root / "unplayed.csv"
    result = forecasting.cli(
        "predict",
        "--run",
        forecasting.unplayed_run,
        "--season",
        "2025",
        "--data-dir",
        str(forecasting.unplayed),
        "--output",
        str(out),
    )

    assert "Men: 68 teams from run" in _flat(result)
    assert "Wrote 2,278 predictions to" in _flat(result)
    assert "run's fitted model carried forward" in _flat(result)
    frame = check_submission(out, 2025, _seeded(forecasting.unplayed, 2025))
    # The saved model (through 2024's tournament) walked on over 2025's regular season knows
    # what a refit on everything before 2025's tournament knows: the same forecasts.
    refit = forecasting.root / "refit.csv"
    forecasting.cli(
        "predict",
        "--run",
        forecasting.played_run,
        "--season",
        "2025",
        "--data-dir",
        str(forecasting.full),
        "--output",
        str(refit),
    )
    expected = pd.read_csv(refit, dtype={"ID": str})
    pd.testing.assert_series_equal(frame["ID"], expected["ID"])
    np.testing.assert_allclose(frame["Pred"], expected["Pred"], atol=2e-6, rtol=0)


# -- bracket --------------------------------------------------------------------------------------


def _bracket(forecasting: Forecasting, data_dir: Path, run: str, *extra: str) -> pd.DataFrame:
    result = forecasting.cli(
        "bracket", "--run", run, "--season", "2025", "--data-dir", str(data_dir), "--json", *extra
    )
    return pd.DataFrame(json.loads(result.stdout)).set_index("team_id").sort_index()


def check_bracket(table: pd.DataFrame, seeds: pd.DataFrame, rounds: list[int]) -> None:
    """Each round's chances sum to its slots; a team's chances never grow from round to round."""
    assert table.index.is_unique
    assert sorted(table.index) == sorted(seeds["team_id"].astype(int))
    assert table.columns.tolist() == ["team", "seed", *ROUND_NAMES]
    chances = table[list(ROUND_NAMES)].to_numpy(dtype=float)
    assert ((chances >= 0) & (chances <= 1 + 1e-12)).all()
    np.testing.assert_allclose(chances.sum(axis=0), rounds, rtol=0, atol=1e-9)
    assert (np.diff(chances, axis=1) <= 1e-12).all(), "a team's chance grew in a later round"
    by_seed = seeds.set_index(seeds["team_id"].astype(int))["seed"]
    assert (table["seed"] == by_seed.loc[table.index]).all()
    # First Four: the two teams of a play-in line share one place in the round of 64.
    play_in = seeds[seeds["play_in"].notna()]
    assert len(play_in) in (0, 8)
    r64 = table["Round of 64"]
    for _, line in play_in.groupby(play_in["seed"].str[:3]):
        pair = r64.loc[line["team_id"].astype(int)]
        assert pair.sum() == pytest.approx(1.0, abs=1e-12)
        assert (pair > 0).all()
        assert (pair < 1).all()
    others = r64.drop(play_in["team_id"].astype(int))
    assert (others == 1.0).all()


@pytest.mark.kaggle
@pytest.mark.parametrize("which", ["played", "unplayed"])
def test_exact_bracket(which: str, forecasting: Forecasting) -> None:
    data_dir = forecasting.full if which == "played" else forecasting.unplayed
    run = forecasting.played_run if which == "played" else forecasting.unplayed_run
    table = _bracket(forecasting, data_dir, run)

    seeds = ParquetRepository(data_dir).seeds("M")
    check_bracket(table, seeds[seeds["season"] == 2025], SLOTS_PER_ROUND)
    assert len(table) == 68
    # A 1 seed is far likelier to win it all than a 16 seed.
    champion = table.set_index("seed")["Champion"]
    assert champion.filter(regex=r"01$").min() > 10 * champion.filter(regex=r"16").max()


@pytest.mark.kaggle
def test_monte_carlo_bracket_is_reproducible_and_close_to_exact(forecasting: Forecasting) -> None:
    run, data_dir = forecasting.unplayed_run, forecasting.unplayed
    exact = _bracket(forecasting, data_dir, run)
    sampled = _bracket(forecasting, data_dir, run, "--sims", str(SIMS), "--seed", "11")
    again = _bracket(forecasting, data_dir, run, "--sims", str(SIMS), "--seed", "11")
    other = _bracket(forecasting, data_dir, run, "--sims", str(SIMS), "--seed", "12")

    pd.testing.assert_frame_equal(sampled, again)
    assert not sampled.equals(other)
    seeds = ParquetRepository(data_dir).seeds("M")
    check_bracket(sampled, seeds[seeds["season"] == 2025], SLOTS_PER_ROUND)
    rounds = list(ROUND_NAMES)
    gap = (sampled[rounds] - exact.loc[sampled.index, rounds]).abs().to_numpy()
    assert gap.max() < MC_TOLERANCE, gap.max()
    assert gap.max() > 0, "sampled brackets cannot match the exact chances to the last digit"


@pytest.mark.kaggle
def test_bracket_table_output(forecasting: Forecasting) -> None:
    result = forecasting.cli(
        "bracket",
        "--run",
        forecasting.unplayed_run,
        "--season",
        "2025",
        "--data-dir",
        str(forecasting.unplayed),
        "--top",
        "4",
    )
    out = result.output
    assert f"2025 M bracket, run {forecasting.unplayed_run[:8]} (exact)" in out
    rows = [line for line in out.splitlines() if re.search(r"│ [WXYZ]\d\d", line)]
    assert len(rows) == 4
    assert all(re.search(r"│ [WXYZ]01\s+│ 100\.0%", row) for row in rows), rows


# -- bad input ------------------------------------------------------------------------------------


def _one_error_line(result: Result, pattern: str) -> None:
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error: "), lines[0]
    assert re.search(pattern, lines[0]), lines[0]


@pytest.mark.kaggle
@pytest.mark.parametrize("command", ["predict", "bracket"])
@pytest.mark.parametrize(
    ("run", "season", "extra", "pattern"),
    [
        pytest.param(
            "0123456789abcdef0123456789abcdef",
            "2025",
            [],
            # A full run id names one run in the whole store, whatever the experiment.
            r"No run 0123456789abcdef0123456789abcdef in the MLflow store sqlite:",
            id="unknown-run",
        ),
        pytest.param("zzz", "2025", [], r"'zzz' is not a run id", id="malformed-run"),
        pytest.param(
            None,
            "2020",
            [],
            # The seeded seasons are listed with their gap, so 2020's absence is plain.
            r"Season 2020 has no tournament seeds in the M store \(seeded seasons: "
            r"1985-2019, 2021-2025\)",
            id="no-tournament-2020",
        ),
        pytest.param(
            None,
            "2026",
            [],
            r"Season 2026 has no tournament seeds in the M store",
            id="season-after-the-data",
        ),
        pytest.param(
            "prefix",
            "2025",
            ["--experiment", "elsewhere"],
            r"in experiment 'elsewhere'",
            id="other-experiment",
        ),
    ],
)
def test_bad_input_is_one_error_line_and_writes_nothing(
    command: str,
    run: str | None,
    season: str,
    extra: list[str],
    pattern: str,
    forecasting: Forecasting,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    args = [
        command,
        "--run",
        forecasting.played_run[:8] if run == "prefix" else run or forecasting.played_run,
        "--season",
        season,
        "--data-dir",
        str(forecasting.full),
        *extra,
    ]
    if command == "predict":
        args += ["--output", str(tmp_path / "sub.csv")]
    _one_error_line(forecasting.cli(*args, expect=None), pattern)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.kaggle
def test_error_messages_suggest_only_what_the_command_has(forecasting: Forecasting) -> None:
    common = [
        "--run",
        forecasting.played_run,
        "--season",
        "2026",
        "--data-dir",
        str(forecasting.full),
    ]
    bracket = forecasting.cli("bracket", *common, expect=None)
    _one_error_line(bracket, r"import data with 2026's seeds")
    assert "predict --all-teams" in bracket.output
    # --all-teams of a season with no games and no seeds does not suggest --all-teams again.
    out = forecasting.root / "never.csv"
    predict = forecasting.cli("predict", *common, "--all-teams", "--output", str(out), expect=None)
    _one_error_line(predict, r"Season 2026 has no games and no seeds in the M store")
    assert "--all-teams" not in predict.output
    assert not out.exists()


# -- stateless models and the First Four, on the demo league -------------------------------------


@pytest.fixture(scope="module")
def demo_run(
    request: pytest.FixtureRequest, demo_store: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    root = tmp_path_factory.mktemp("forecast-demo")
    uri = store_copy(shared_template(request.config, tmp_path_factory), root / "mlflow.db")
    with pytest.MonkeyPatch.context() as mp:
        for name in (*MLFLOW_ENV_VARS, "NCAA_EVAL_DATA_DIR"):
            mp.delenv(name, raising=False)
        mp.chdir(root)
        run = _train(uri, demo_store, "logistic_regression", 2022, 2023, root / "out")
        yield uri, run
    assert_no_active_run()


@pytest.mark.parametrize(("season", "how"), [(2023, "refit"), (2025, "run's fitted model")])
def test_predict_and_bracket_with_a_stateless_model(
    season: int, how: str, demo_run: tuple[str, str], demo_store: Path, tmp_path: Path
) -> None:
    uri, run = demo_run
    out = tmp_path / "sub.csv"
    result = _invoke(
        "predict",
        "--run",
        run,
        "--season",
        str(season),
        "--data-dir",
        str(demo_store),
        "--output",
        str(out),
        "--tracking-uri",
        uri,
    )
    assert how in _flat(result)
    teams = _seeded(demo_store, season)
    assert len(teams) == 68
    frame = check_submission(out, season, teams)
    if season == 2023:
        logged = RunStore(uri).load_predictions(run)
        logged = logged[logged["season"] == season]
        merged = logged.merge(frame, on=["team_a_id", "team_b_id"], validate="one_to_one")
        assert len(merged) == len(logged) == 67
        np.testing.assert_allclose(merged["Pred"], merged["pred_win_prob"], atol=5e-7, rtol=0)

    bracket = _invoke(
        "bracket",
        "--run",
        run,
        "--season",
        str(season),
        "--data-dir",
        str(demo_store),
        "--json",
        "--tracking-uri",
        uri,
    )
    table = pd.DataFrame(json.loads(bracket.stdout)).set_index("team_id")
    seeds = ParquetRepository(demo_store).seeds("M")
    check_bracket(table, seeds[seeds["season"] == season], SLOTS_PER_ROUND)


# -- the court of women's first-round pods ---------------------------------------------------------


@pytest.mark.kaggle
def test_predict_women_uses_the_walk_forwards_court(
    request: pytest.FixtureRequest, kaggle_store: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A women's host seed is at home in its pod, as the walk-forward scores the played game; the
    packaged model alone (no regions) calls the same pair neutral."""
    from ncaa_eval.forecast.court import tournament_court

    root = tmp_path_factory.mktemp("forecast-women")
    uri = store_copy(shared_template(request.config, tmp_path_factory), root / "mlflow.db")
    with pytest.MonkeyPatch.context() as mp:
        for name in (*MLFLOW_ENV_VARS, "NCAA_EVAL_DATA_DIR"):
            mp.delenv(name, raising=False)
        mp.chdir(root)
        store = RunStore(uri, default_experiment(kaggle_store))
        _invoke(
            "train", "--model", "elo", "--league", "W", "--data-dir", str(kaggle_store),
            "--tracking-uri", uri, "--start-year", "2024", "--end-year", "2024",
            "--output-dir", str(root / "out"),
        )  # fmt: skip
        (run,) = [r.run_id for r in store.list_runs()]
        common = ("--season", "2024", "--data-dir", str(kaggle_store), "--tracking-uri", uri)
        _invoke("predict", "--women", run, "--output", str(root / "court.csv"), *common)
        _invoke(
            "predict", "--women", f"runs:/{run}/model", "--output", str(root / "neutral.csv"),
            *common,
        )  # fmt: skip
    assert_no_active_run()
    teams = _seeded(kaggle_store, 2024, "W")
    court = check_submission(root / "court.csv", 2024, teams)
    neutral = check_submission(root / "neutral.csv", 2024, teams)
    both = court.merge(neutral, on=["team_a_id", "team_b_id"], suffixes=("", "_n"))
    seeds = ParquetRepository(kaggle_store).seeds("W")
    loc = tournament_court("W", 2024, seeds, both["team_a_id"], both["team_b_id"])
    home = loc != "N"
    assert home.sum() >= 16 * 2  # each host seed against at least its 16/13/14/15 and 8/5/6/7
    diff = both["Pred"] - both["Pred_n"]
    # A court moves the pair toward its home team; neutral pairs agree (to the CSV's 6 decimals).
    assert (np.sign(diff[home]) == np.where(loc[home] == "H", 1, -1)).all()
    assert diff[home].abs().median() > 0.01  # 1 v 16 moves little: it is already near certain
    np.testing.assert_allclose(diff[~home], 0.0, atol=2e-6)
    # The walk-forward's own predictions of 2024's tournament games (recorded courts) are the
    # forecast's wherever the rule reproduces the recorded court.
    from ncaa_eval.transform.matchups import orient_games

    games = ParquetRepository(kaggle_store).games("W", [2024])
    played = orient_games(games[games["is_tournament"]])[["team_a_id", "team_b_id", "team_a_loc"]]
    logged = RunStore(uri).load_predictions(run)
    logged = logged[logged["season"] == 2024].merge(played, on=["team_a_id", "team_b_id"])
    merged = logged.merge(court, on=["team_a_id", "team_b_id"], validate="one_to_one")
    assert len(merged) == len(logged) == 67
    agree = merged["team_a_loc"].to_numpy() == tournament_court(
        "W", 2024, seeds, merged["team_a_id"], merged["team_b_id"]
    )
    assert agree.sum() > 0.8 * len(merged)
    assert (merged.loc[agree, "team_a_loc"] != "N").any()
    np.testing.assert_allclose(
        merged.loc[agree, "Pred"], merged.loc[agree, "pred_win_prob"], atol=5e-7, rtol=0
    )
