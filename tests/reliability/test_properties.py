"""Property-based tests: whatever the files hold, a clean result or one of our one-line errors.

* The importer, on a small valid league whose CSVs Hypothesis damages (a cell replaced by random
  text or bytes, a column dropped, a line duplicated or cut, the file truncated or replaced by
  random bytes, a file removed): the import either succeeds and leaves a complete store, or raises
  :class:`NcaaEvalError` with a one-line message and leaves the previous store byte for byte, and
  never leaves a temporary folder.
* Config loading: any bytes as a ``--config`` file, and any JSON value as hyperparameters of every
  registered model, give a valid config or a one-line :class:`ConfigError`.

Runs are deterministic (``derandomize``, no example database) so that CI sees the same examples.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ncaa_eval.errors import NcaaEvalError
from ncaa_eval.ingest import DemoConfig, ParquetRepository, import_kaggle, write_demo_csvs
from ncaa_eval.model.registry import get_model, list_models
from ncaa_eval.training.config_loading import ConfigError, read_config_file, validate_config
from tests.ingest.sources import snapshot
from tests.reliability.checks import temp_leftovers

DETERMINISTIC = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _one_line(exc: BaseException) -> str:
    message = str(exc)
    assert message, f"{type(exc).__name__} without a message"
    assert "\n" not in message, message
    assert "\r" not in message, message
    return message


# --- the importer -------------------------------------------------------------------------------


@dataclass(frozen=True)
class League:
    source: Path  # the valid small league
    store: Path  # a data dir holding it, imported
    files: tuple[str, ...]


@pytest.fixture(scope="module")
def league(tmp_path_factory: pytest.TempPathFactory) -> League:
    root = tmp_path_factory.mktemp("small-league")
    source = root / "source"
    config = DemoConfig(seed=3, first_season=2024, last_season=2025, n_teams=80, n_conferences=8)
    write_demo_csvs(source, config)
    (source / "MMasseyOrdinals.csv").unlink()  # the largest file; the rest keeps it fast
    import_kaggle(source, root / "store")
    files = tuple(sorted(p.name for p in source.glob("M*.csv")))
    return League(source, root / "store", files)


#: Cell contents that test the parser's edges, besides random text and bytes.
_NASTY = ["", " ", '"', '""', ",", "\r", "\n", "-1", "1e3", "0x10", "NaN", "99999999999", "\x00"]
_cell = st.one_of(
    st.sampled_from(_NASTY),
    st.text(max_size=8),
    st.binary(max_size=8),
    st.integers(-(2**40), 2**40).map(str),
)


def _as_bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")


@st.composite
def _damage(draw: st.DrawFn, files: tuple[str, ...]) -> tuple[str, str, Any]:
    """(file, kind, argument): one change to one file."""
    name = draw(st.sampled_from(files))
    kind = draw(
        st.sampled_from(["cell", "cell", "cell", "drop-column", "duplicate-line", "cut",
                         "random-bytes", "insert-bytes", "remove-file", "header-case"])
    )  # fmt: skip
    if kind == "cell":
        arg: Any = (draw(st.integers(0, 60)), draw(st.integers(0, 40)), draw(_cell))
    elif kind in ("random-bytes", "insert-bytes"):
        arg = (draw(st.integers(0, 10_000)), draw(st.binary(max_size=64)))
    else:
        arg = draw(st.integers(0, 10_000))
    return name, kind, arg


def _apply(folder: Path, name: str, kind: str, arg: Any) -> None:
    path = folder / name
    if not path.exists():
        return
    if kind == "remove-file":
        path.unlink()
        return
    raw = path.read_bytes()
    lines = raw.split(b"\n")
    if kind == "cell":
        line, column, value = arg
        row = lines[line % len(lines)].split(b",")
        row[column % len(row)] = _as_bytes(value)
        lines[line % len(lines)] = b",".join(row)
    elif kind == "drop-column":
        header = lines[0].split(b",")
        at = arg % len(header)
        lines = [b",".join(r[:at] + r[at + 1 :]) for r in (ln.split(b",") for ln in lines)]
    elif kind == "duplicate-line":
        at = arg % len(lines)
        lines.insert(at, lines[at])
    elif kind == "header-case":
        lines[0] = lines[0].lower() if arg % 2 else lines[0].upper()
    elif kind == "cut":
        path.write_bytes(raw[: arg % (len(raw) + 1)])
        return
    elif kind == "random-bytes":
        path.write_bytes(arg[1])
        return
    elif kind == "insert-bytes":
        at = arg[0] % (len(raw) + 1)
        path.write_bytes(raw[:at] + arg[1] + raw[at:])
        return
    path.write_bytes(b"\n".join(lines))


@pytest.mark.slow
@settings(DETERMINISTIC, max_examples=60)
@given(data=st.data())
def test_damaged_files_import_cleanly_or_fail_in_one_line(
    league: League, data: st.DataObject
) -> None:
    damages = data.draw(st.lists(_damage(league.files), min_size=1, max_size=3), label="damage")
    with tempfile.TemporaryDirectory(prefix="ncaa-eval-prop-") as tmp:
        source, store = Path(tmp) / "source", Path(tmp) / "data"
        shutil.copytree(league.source, source)
        shutil.copytree(league.store, store)
        before = snapshot(store)
        for name, kind, arg in damages:
            _apply(source, name, kind, arg)
        try:
            summary = import_kaggle(source, store)
        except NcaaEvalError as exc:
            _one_line(exc)
            assert snapshot(store) == before, "a failed import changed the store"
        else:
            repo = ParquetRepository(store)
            assert repo.leagues == ["M"]
            assert len(repo.games("M")) == summary.leagues["M"].games
            assert len(repo.teams("M")) > 0
        assert temp_leftovers(store) == []


# --- config loading -----------------------------------------------------------------------------

_MODELS = sorted(list_models())
_FIELDS = sorted(
    {name for model in _MODELS for name in get_model(model).config_class.model_fields}
    | {"features", "ordinals", "ordinal_systems", "form_games"}
)
_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(_FIELDS) | st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)
#: Objects whose keys are mostly real field names, so that values reach the field validators.
_params = st.dictionaries(st.sampled_from(_FIELDS) | st.text(max_size=6), _json, max_size=5)


@settings(DETERMINISTIC, max_examples=100)
@given(model=st.sampled_from(_MODELS), params=_params)
def test_any_hyperparameters_give_a_config_or_one_config_error(
    model: str, params: dict[str, Any]
) -> None:
    config_class = get_model(model).config_class
    try:
        config = validate_config(config_class, params, model)
    except ConfigError as exc:
        error: ConfigError | None = exc
    else:
        error = None
    if error is not None:
        assert f"model '{model}'" in _one_line(error)
        return
    assert isinstance(config, config_class)
    # A valid config survives its own JSON round trip (it is logged that way).
    dumped = config.model_dump(mode="json")
    assert config_class.model_validate(dumped) == config


@settings(DETERMINISTIC, max_examples=100)
@given(
    content=st.one_of(
        st.binary(max_size=64),
        _json.map(lambda v: json.dumps(v).encode()),
        _params.map(lambda v: json.dumps(v).encode()),
        _params.map(lambda v: json.dumps(v).encode("utf-16")),
    )
)
def test_any_config_file_gives_an_object_or_one_config_error(content: bytes) -> None:
    with tempfile.TemporaryDirectory(prefix="ncaa-eval-prop-") as tmp:
        path = Path(tmp) / "config.json"
        path.write_bytes(content)
        try:
            loaded: dict[str, Any] | ConfigError = read_config_file(path)
        except ConfigError as exc:
            loaded = exc
        if isinstance(loaded, ConfigError):
            assert str(path) in _one_line(loaded)
        else:
            assert isinstance(loaded, dict)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param(b'{"k": 30}', {"k": 30}, id="utf-8"),
        pytest.param(b'\xef\xbb\xbf{"k": 30}', {"k": 30}, id="utf-8-bom"),
        pytest.param('{"k": 30}'.encode("utf-16"), {"k": 30}, id="utf-16-bom"),
        pytest.param('{"k": 30}'.encode("utf-16-le"), {"k": 30}, id="utf-16-le"),
        pytest.param(b'{\r\n  "k": 30\r\n}\r\n', {"k": 30}, id="crlf"),
    ],
)
def test_config_encodings_json_allows_are_read(
    content: bytes, expected: dict[str, Any], tmp_path: Path
) -> None:
    path = tmp_path / "config.json"
    path.write_bytes(content)
    assert read_config_file(path) == expected
