"""Bad input, everywhere a user can give it, through the real CLI.

Every case must end with exit code 1 and ONE line ``Error: ...`` that names the value (or exit code
2 and Click's usage error, for what Click itself checks), leave the Parquet data store and the
MLflow store exactly as they were (the SQL dump of the database and every artifact file), leave no
run RUNNING and write nothing in the working folder.

The world the commands run against: a synthetic league (2018-2025, no tournament in 2020, as in
reality) imported into a data store, and an MLflow store holding one trained run and two runs
whose ids share their first 8 characters.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from ncaa_eval import DEMO_EXPERIMENT
from ncaa_eval.cli.main import cli
from ncaa_eval.ingest import import_kaggle
from ncaa_eval.tracking import RunStore
from tests.helpers.mlflow_store import MLFLOW_ENV_VARS, assert_no_active_run
from tests.ingest.sources import demo_source, insert_line, read_lines, set_field, zip_folder
from tests.reliability.checks import (
    folder_digest,
    league_without_2020_tournament,
    run_statuses,
    sqlite_digest,
    temp_leftovers,
)
from tests.training.tracking_checks import shared_template, store_copy

REGULAR = "MRegularSeasonCompactResults.csv"
TOURNEY = "MNCAATourneyCompactResults.csv"
TEAMS = "MTeams.csv"
SEASONS = "MSeasons.csv"
#: The prefix shared by the two runs made with predictable ids.
TWIN_PREFIX = "abcd1234"


@dataclass(frozen=True)
class World:
    """The stores every case runs against, and the id of the trained run."""

    root: Path
    data: Path
    db: Path
    uri: str
    run_id: str
    source: Path  # a small good source (2023-2025) that import cases copy and damage

    def digest(self) -> tuple[str, str, str]:
        """Data store files, MLflow database content, MLflow artifact files."""
        return (
            folder_digest(self.data),
            sqlite_digest(self.db),
            folder_digest(self.db.parent, skip=(self.db.name,)),
        )


def _invoke(args: list[str]) -> Result:
    return CliRunner().invoke(cli, args, catch_exceptions=False)


@pytest.fixture(scope="module")
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> World:
    root = tmp_path_factory.mktemp("world")
    data = root / "data"
    import_kaggle(league_without_2020_tournament(root / "league"), data)
    uri = store_copy(shared_template(request.config, tmp_path_factory), root / "mlflow" / "db")
    db = root / "mlflow" / "db"
    with pytest.MonkeyPatch.context() as mp:
        for name in (*MLFLOW_ENV_VARS, "NCAA_EVAL_DATA_DIR"):
            mp.delenv(name, raising=False)
        mp.chdir(root)
        trained = _invoke(["train", "--model", "elo", "--data-dir", str(data),
                           "--start-year", "2019", "--end-year", "2019",
                           "--output-dir", str(root / "exports"),
                           "--tracking-uri", uri])  # fmt: skip
        assert trained.exit_code == 0, trained.output
        counter = iter(range(1, 16))
        mp.setattr(uuid, "uuid4", lambda: uuid.UUID(f"{TWIN_PREFIX}{next(counter):x}" + "0" * 23))
        store = RunStore(uri, DEMO_EXPERIMENT)  # beside the trained run
        for name in ("twin-1", "twin-2"):
            with store.start_run(run_name=name):
                pass
    [run_id] = [r for r in run_statuses(db) if not r.startswith(TWIN_PREFIX)]
    source = demo_source(root / "small-source", first_season=2023, last_season=2025)
    return World(root, data, db, uri, run_id, source)


# --- what each case builds in its own folder before the command runs ---------------------------

Setup = Callable[[Path, World], None]


def _file(name: str, content: bytes) -> Setup:
    def setup(tmp: Path, world: World) -> None:
        (tmp / name).write_bytes(content)

    return setup


def _damaged(edit: Callable[[Path], object]) -> Setup:
    """A copy of the small good source as ``tmp/src``, damaged by ``edit(folder)``."""

    def setup(tmp: Path, world: World) -> None:
        shutil.copytree(world.source, tmp / "src")
        edit(tmp / "src")

    return setup


def _rewrite(name: str, change: Callable[[bytes], bytes]) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        (folder / name).write_bytes(change((folder / name).read_bytes()))

    return edit


def _utf16(raw: bytes) -> bytes:
    return raw.decode("utf-8").encode("utf-16")


def _drop_column(column: str) -> Callable[[bytes], bytes]:
    def change(raw: bytes) -> bytes:
        rows = [ln.split(b",") for ln in raw.split(b"\n")]
        at = rows[0].index(column.encode())
        return b"\n".join(b",".join(r[:at] + r[at + 1 :]) if r != [b""] else b"" for r in rows)

    return change


def _duplicate_row(folder: Path) -> None:
    path = folder / REGULAR
    insert_line(path, 6, read_lines(path)[5])


def _not_a_zip(tmp: Path, world: World) -> None:
    (tmp / "download.zip").write_text("<html>Kaggle: please sign in</html>\n")


def _zip_of_source(tmp: Path, world: World) -> None:
    zip_folder(world.source, tmp / "good.zip")
    raw = (tmp / "good.zip").read_bytes()
    (tmp / "cut.zip").write_bytes(raw[: len(raw) // 3])


def _file_named(name: str) -> Setup:
    return _file(name, b"not a folder\n")


def _both(first: Setup, second: Setup) -> Setup:
    def setup(tmp: Path, world: World) -> None:
        first(tmp, world)
        second(tmp, world)

    return setup


def _folder(name: str) -> Setup:
    def setup(tmp: Path, world: World) -> None:
        (tmp / name).mkdir()

    return setup


@dataclass(frozen=True)
class Case:
    id: str
    args: tuple[str, ...]  # {data} {uri} {run} {tmp} are filled in
    expect: tuple[str, ...]  # fragments of the one error line
    code: int = 1
    setup: Setup | None = None
    marks: tuple[pytest.MarkDecorator, ...] = field(default=())


TRAIN = ("train", "--model", "elo", "--data-dir", "{data}", "--output-dir", "{tmp}/out",
         "--tracking-uri", "{uri}")  # fmt: skip
TRAIN_2019 = (*TRAIN, "--start-year", "2019", "--end-year", "2019")
IMPORT = ("data", "import", "{tmp}/src", "--data-dir", "{data}")
#: The world's run is trained on the demo league, so it lives in the demo experiment.
RUNS = ("--tracking-uri", "{uri}", "--experiment", DEMO_EXPERIMENT)
ON_LINUX = (pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux /proc"),)

CASES = [
    # -- train: options --------------------------------------------------------------------
    Case("years-reversed", (*TRAIN, "--start-year", "2021", "--end-year", "2019"),
         ("start year 2021 is after end year 2019", "--start-year <= --end-year")),
    Case("years-after-the-data", (*TRAIN, "--start-year", "2024", "--end-year", "2030"),
         ("Years 2024-2030", "outside the M data (2018-2025)")),
    Case("years-before-the-data", (*TRAIN, "--start-year", "2010", "--end-year", "2019"),
         ("Years 2010-2019", "2018-2025")),
    Case("year-before-1985", (*TRAIN, "--start-year", "1900", "--end-year", "2019"),
         ("--start-year", "1900", "1985")),
    Case("season-without-tournament", (*TRAIN, "--start-year", "2020", "--end-year", "2020"),
         ("No NCAA tournament was played in 2020 (M)", "choose years")),
    Case("year-not-a-number", (*TRAIN, "--start-year", "abc"), ("'abc'", "integer"), code=2),
    Case("unknown-model", ("train", "--model", "elox", "--data-dir", "{data}",
                           "--tracking-uri", "{uri}"),
         ("Unknown model 'elox'", "Available: elo")),
    Case("empty-model-name", ("train", "--model", "", "--data-dir", "{data}"),
         ("--model", "at least 1 character")),
    Case("unknown-league", (*TRAIN_2019, "--league", "X"), ("'X'", "'m', 'w'"), code=2),
    Case("league-not-in-store", (*TRAIN_2019, "--league", "W"),
         ("League 'W' is not in the data store", "it has: M")),
    Case("empty-experiment", (*TRAIN_2019, "--experiment", ""), ("--experiment", "''")),
    Case("unknown-tracking-scheme", (*TRAIN_2019[:-6], "--tracking-uri", "foo://bar",
                                     "--start-year", "2019", "--end-year", "2019"),
         ("foo://bar", "check the URI")),
    # -- train: data and output folders ----------------------------------------------------
    Case("data-dir-missing", (*TRAIN_2019[:4], "{tmp}/nowhere", *TRAIN_2019[5:]),
         ("No data store in", "nowhere", "ncaa-eval data import")),
    Case("data-dir-empty", (*TRAIN_2019[:4], "{tmp}/empty", *TRAIN_2019[5:]),
         ("No data store in", "empty"), setup=_folder("empty")),
    Case("data-dir-is-a-file", (*TRAIN_2019[:4], "{tmp}/a-file", *TRAIN_2019[5:]),
         ("a-file", "is a file"), code=2, setup=_file_named("a-file")),
    Case("output-dir-below-a-file", (*TRAIN_2019[:6], "{tmp}/a-file/out", *TRAIN_2019[7:]),
         ("--output-dir", "a-file", "is a file, not a folder"), setup=_file_named("a-file")),
    Case("output-dir-not-writable", (*TRAIN_2019[:6], "/proc/ncaa-eval-out", *TRAIN_2019[7:]),
         ("--output-dir", "/proc/ncaa-eval-out", "cannot write"), marks=ON_LINUX),
    # -- train: config files ---------------------------------------------------------------
    Case("config-missing", (*TRAIN_2019, "--config", "{tmp}/none.json"),
         ("none.json", "does not exist")),
    Case("config-is-a-folder", (*TRAIN_2019, "--config", "{tmp}/conf"),
         ("conf", "is a directory"), code=2, setup=_folder("conf")),
    Case("config-not-json", (*TRAIN_2019, "--config", "{tmp}/c.json"),
         ("c.json", "is not valid JSON", "line 1"), setup=_file("c.json", b"k = 30\n")),
    Case("config-empty", (*TRAIN_2019, "--config", "{tmp}/c.json"),
         ("c.json", "is empty"), setup=_file("c.json", b"")),
    Case("config-a-list", (*TRAIN_2019, "--config", "{tmp}/c.json"),
         ("c.json", "JSON array, not an object"), setup=_file("c.json", b"[30]")),
    Case("config-null", (*TRAIN_2019, "--config", "{tmp}/c.json"),
         ("c.json", "JSON null, not an object"), setup=_file("c.json", b"null")),
    Case("config-unknown-key", (*TRAIN_2019, "--config", "{tmp}/c.json"),
         ("Invalid config for model 'elo'", "unknown field 'kk'"),
         setup=_file("c.json", b'{"kk": 30}')),
    Case("config-out-of-range", (*TRAIN_2019, "--config", "{tmp}/c.json"),
         ("k: Input should be less than or equal to 500", "(got 1000)"),
         setup=_file("c.json", b'{"k": 1000}')),
    Case("config-wrong-type", (*TRAIN_2019, "--config", "{tmp}/c.json"),
         ("k: Input should be a valid number", "'fast'"),
         setup=_file("c.json", b'{"k": "fast"}')),
    # Strict: a boolean or a quoted number is not read as a number.
    Case("config-bool-for-number", (*TRAIN_2019, "--config", "{tmp}/c.json"),
         ("k: Input should be a valid number", "(got True)"),
         setup=_file("c.json", b'{"k": true}')),
    Case("config-quoted-number", (*TRAIN_2019, "--config", "{tmp}/c.json"),
         ("k: Input should be a valid number", "(got '30')"),
         setup=_file("c.json", b'{"k": "30"}')),
    Case("config-nested-wrong-type", (*TRAIN_2019, "--config", "{tmp}/c.json"),
         ("carry_toward", "'planet'"), setup=_file("c.json", b'{"carry_toward": "planet"}')),
    Case("config-key-twice", (*TRAIN_2019, "--config", "{tmp}/c.json"),
         ("c.json", "the key 'k' is given twice"), setup=_file("c.json", b'{"k": 1, "k": 2}')),
    Case("config-nan", (*TRAIN_2019, "--config", "{tmp}/c.json"),
         ("c.json", "NaN is not a JSON number"), setup=_file("c.json", b'{"k": NaN}')),
    Case("config-huge-number", (*TRAIN_2019, "--config", "{tmp}/c.json"),
         ("c.json", "'1e999' is too large"), setup=_file("c.json", b'{"mean_rating": 1e999}')),
    Case("config-latin-1", (*TRAIN_2019, "--config", "{tmp}/c.json"),
         ("c.json", "is not UTF-8 text", "0xe9"),
         setup=_file("c.json", '{"carry_toward": "é"}'.encode("latin-1"))),
    # -- data import: the source -----------------------------------------------------------
    Case("source-missing", ("data", "import", "{tmp}/nowhere", "--data-dir", "{data}"),
         ("nowhere", "does not exist")),
    Case("source-empty-folder", ("data", "import", "{tmp}/empty", "--data-dir", "{data}"),
         ("empty", "holds no Kaggle results"), setup=_folder("empty")),
    Case("source-is-a-csv", ("data", "import", "{tmp}/MTeams.csv", "--data-dir", "{data}"),
         ("MTeams.csv", "neither a folder nor a zip"), setup=_file_named("MTeams.csv")),
    Case("zip-that-is-not-a-zip", ("data", "import", "{tmp}/download.zip", "--data-dir", "{data}"),
         ("download.zip", "neither a folder nor a zip"), setup=_not_a_zip),
    Case("truncated-zip", ("data", "import", "{tmp}/cut.zip", "--data-dir", "{data}"),
         ("cut.zip",), setup=_zip_of_source),
    Case("missing-required-file", IMPORT, (TOURNEY, "is missing", "required"),
         setup=_damaged(lambda src: (src / TOURNEY).unlink())),
    Case("empty-file", IMPORT, (TEAMS, "empty"),
         setup=_damaged(_rewrite(TEAMS, lambda raw: b""))),
    Case("header-only-required-file", IMPORT, (TOURNEY, "has a header but no rows"),
         setup=_damaged(_rewrite(TOURNEY, lambda raw: raw.split(b"\n", 1)[0] + b"\n"))),
    Case("missing-column", IMPORT, (REGULAR, "missing column 'WLoc'"),
         setup=_damaged(_rewrite(REGULAR, _drop_column("WLoc")))),
    Case("wrong-type", IMPORT, (f"{REGULAR} line 5", "column WScore", "'7O'"),
         setup=_damaged(lambda src: set_field(src / REGULAR, 5, "WScore", "7O"))),
    Case("fraction-in-an-integer-column", IMPORT, (f"{REGULAR} line 5", "'2023.5'"),
         setup=_damaged(lambda src: set_field(src / REGULAR, 5, "Season", "2023.5"))),
    Case("utf8-letter-in-a-number", IMPORT, (f"{REGULAR} line 5", "'9\u029d' is not a whole"),
         setup=_damaged(lambda src: set_field(src / REGULAR, 5, "WScore", "9\u029d"))),
    Case("duplicated-row", IMPORT, (f"{REGULAR} line 7", "listed twice"),
         setup=_damaged(_duplicate_row)),
    Case("utf-16-file", IMPORT, (TEAMS, "UTF-16", "save it as UTF-8"),
         setup=_damaged(_rewrite(TEAMS, _utf16))),
    Case("binary-file", IMPORT, (SEASONS, "NUL byte", "not a CSV text file"),
         setup=_damaged(_rewrite(SEASONS, lambda raw: bytes(range(256)) * 4))),
    Case("byte-neither-utf8-nor-cp1252", IMPORT, (f"{TEAMS} line 3", "0x81", "UTF-8"),
         setup=_damaged(lambda src: set_field(src / TEAMS, 3, "TeamName", b"Air\x81Force"))),
    # -- data import and demo: the data dir ------------------------------------------------
    Case("data-dir-below-a-file", ("data", "import", "{tmp}/src", "--data-dir", "{tmp}/f/d"),
         ("--data-dir", "is a file, not a folder"),
         setup=_both(_damaged(lambda src: None), _file_named("f"))),
    Case("data-dir-not-writable", ("data", "demo", "--data-dir", "/proc/ncaa-eval-data"),
         ("--data-dir", "/proc/ncaa-eval-data", "cannot write"), marks=ON_LINUX),
    Case("demo-data-dir-is-a-file", ("data", "demo", "--data-dir", "{tmp}/f"),
         ("'{tmp}/f' is a file",), code=2, setup=_file_named("f")),
    Case("demo-too-few-seasons", ("data", "demo", "--seasons", "1", "--data-dir", "{tmp}/d"),
         ("--seasons", "1"), code=2),
    Case("info-without-a-store", ("data", "info", "--data-dir", "{tmp}/empty"),
         ("No data store in", "empty"), setup=_folder("empty")),
    # -- run ids ---------------------------------------------------------------------------
    # A full run id is looked up in the whole store, a prefix in the experiment.
    Case("run-unknown", ("runs", "show", "deadbeef" * 4, *RUNS),
         ("No run deadbeefdeadbeefdeadbeefdeadbeef in the MLflow store",)),
    Case("run-unknown-prefix", ("runs", "show", "deadbeef", *RUNS),
         ("No run id starting with 'deadbeef' in experiment",)),
    Case("run-prefix-too-short", ("runs", "show", "abc", *RUNS), ("'abc' is not a run id",)),
    Case("run-ambiguous-prefix", ("runs", "show", TWIN_PREFIX, *RUNS),
         (f"'{TWIN_PREFIX}' matches 2 runs", "give more characters")),
    Case("run-id-with-dot-dot", ("runs", "export", "../../etc", "--output-dir", "{tmp}/x", *RUNS),
         ("'../../etc' is not a run id",)),
    Case("run-id-with-slash", ("runs", "export", "{run}/..", "--output-dir", "{tmp}/x", *RUNS),
         ("is not a run id",)),
    Case("run-id-dot-dot-alone", ("runs", "show", "..", *RUNS), ("'..' is not a run id",)),
    Case("compare-with-a-bad-id", ("runs", "compare", "{run}", "../x", *RUNS),
         ("'../x' is not a run id",)),
    Case("compare-one-run", ("runs", "compare", "{run}", *RUNS), ("at least two runs",), code=2),
    Case("export-below-a-file", ("runs", "export", "{run}", "--output-dir", "{tmp}/f/x", *RUNS),
         ("Cannot export run", "Not a directory"), setup=_file_named("f")),
    Case("predict-bad-run-id", ("predict", "--run", "../../etc", "--season", "2019",
                                "--data-dir", "{data}", *RUNS),
         ("'../../etc' is not a run id",)),
    Case("predict-season-without-tournament", ("predict", "--run", "{run}", "--season", "2020",
                                               "--data-dir", "{data}", *RUNS),
         ("Season 2020 has no tournament seeds",)),
    Case("bracket-season-out-of-range", ("bracket", "--run", "{run}", "--season", "2031",
                                         "--data-dir", "{data}", *RUNS),
         ("Season 2031",)),
]  # fmt: skip


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty cwd with no MLflow or data-dir variables set; must stay empty."""
    for name in (*MLFLOW_ENV_VARS, "NCAA_EVAL_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    yield cwd
    assert_no_active_run()


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=c.marks) for c in CASES])
def test_bad_input_is_one_line_and_changes_nothing(
    case: Case, world: World, workdir: Path, tmp_path: Path
) -> None:
    if case.setup is not None:
        case.setup(tmp_path, world)
    values = {"data": str(world.data), "uri": world.uri, "run": world.run_id, "tmp": str(tmp_path)}
    args = [arg.format(**values) for arg in case.args]
    before = world.digest()

    result = _invoke(args)

    assert result.exit_code == case.code, result.output
    lines = result.output.strip().splitlines()
    if case.code == 1:
        assert len(lines) == 1, result.output
        assert result.stdout == "", "the error goes to stderr"
    message = lines[-1]
    assert message.startswith("Error: "), result.output
    for fragment in case.expect:
        assert fragment.format(**values) in message, f"{fragment!r} not in {message!r}"
    assert world.digest() == before, "a store changed"
    assert "RUNNING" not in run_statuses(world.db).values()
    assert temp_leftovers(world.data) == []
    assert list(workdir.iterdir()) == []
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "x").exists()


# --- variations a user's files may have that must import fine ----------------------------------


def _crlf(raw: bytes) -> bytes:
    return raw.replace(b"\n", b"\r\n")


def _bom(raw: bytes) -> bytes:
    return b"\xef\xbb\xbf" + raw


def _extra_column(raw: bytes) -> bytes:
    rows = raw.split(b"\n")
    return b"\n".join([rows[0] + b",Attendance", *(r + b",100" if r else r for r in rows[1:])])


def _every_csv(change: Callable[[bytes], bytes]) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        for path in folder.glob("*.csv"):
            path.write_bytes(change(path.read_bytes()))

    return edit


def _extra_file(folder: Path) -> None:
    (folder / "MGameCities.csv").write_bytes(b"Season,City\n2024,1\n")


def _latin1_name(folder: Path) -> None:
    set_field(folder / TEAMS, 3, "TeamName", "Jos\xe9".encode("latin-1"))


VARIANTS: dict[str, Callable[[Path], None]] = {
    "crlf": _every_csv(_crlf),
    "bom": _every_csv(_bom),
    "extra-column": _rewrite(REGULAR, _extra_column),
    "extra-file": _extra_file,
    "latin-1-team-name": _latin1_name,
}


@pytest.fixture(scope="module")
def plain_store(world: World, tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("plain")
    import_kaggle(world.source, data)
    return data


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_harmless_variations_import_to_the_same_games(
    variant: str, world: World, plain_store: Path, workdir: Path, tmp_path: Path
) -> None:
    from tests.ingest.sources import store_tables

    source = tmp_path / "src"
    shutil.copytree(world.source, source)
    VARIANTS[variant](source)
    data = tmp_path / "data"
    result = _invoke(["data", "import", str(source), "--data-dir", str(data)])
    assert result.exit_code == 0, result.output
    got, plain = store_tables(data), store_tables(plain_store)
    assert sorted(got) == sorted(plain)
    differ = [name for name in plain if not plain[name].equals(got[name])]
    assert differ == (["M/teams.parquet"] if variant == "latin-1-team-name" else [])
    assert temp_leftovers(data) == []
