"""The ``ncaa-eval`` entry points: help, version, lazy sub-commands, usage errors.

Entry points run in subprocesses, as a user runs them; ``--help`` must answer without importing
the heavy libraries (pandas, MLflow, XGBoost, scikit-learn).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest

from ncaa_eval import __version__
from ncaa_eval.cli.main import cli
from tests.conftest import Invoke
from tests.helpers.cli_commands import all_commands

HEAVY = ("mlflow", "xgboost", "sklearn", "pandas")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize("module", ["ncaa_eval", "ncaa_eval.cli"])
def test_help_runs_as_a_module(module: str) -> None:
    done = _run("-m", module, "--help")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Usage: ncaa-eval [OPTIONS] COMMAND [ARGS]...")
    for command in ("bracket", "data", "models", "predict", "runs", "train"):
        assert f"  {command} " in done.stdout
    assert done.stderr == ""


@pytest.mark.parametrize("flag", ["--version", "-V"])
@pytest.mark.parametrize("module", ["ncaa_eval", "ncaa_eval.cli"])
def test_version_runs_as_a_module(module: str, flag: str) -> None:
    done = _run("-m", module, flag)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"ncaa-eval, version {__version__}"


def test_the_console_script_if_installed() -> None:
    script = Path(sys.executable).with_name("ncaa-eval")
    if not script.is_file():
        pytest.skip("the ncaa-eval console script is not installed in this environment")
    done = subprocess.run(
        [str(script), "-h"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Usage: ncaa-eval")


_PROBE = """
import json, sys
from ncaa_eval.cli.main import cli
code = cli.main(sys.argv[1:], prog_name="ncaa-eval", standalone_mode=False)
heavy = sorted(m for m in {heavy!r} if m in sys.modules)
print(json.dumps({{"code": code, "heavy": heavy}}), file=sys.stderr)
"""


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["--version"],
        ["data", "--help"],
        ["data", "import", "--help"],
        ["data", "info", "--help"],
        ["data", "fetch", "--help"],
        ["data", "demo", "--help"],
        ["models", "--help"],
        ["train", "--help"],
    ],
    ids=lambda a: " ".join(a),
)
def test_help_does_not_import_heavy_modules(args: list[str]) -> None:
    done = _run("-c", _PROBE.format(heavy=(*HEAVY, "numpy", "pyarrow")), *args)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stderr.strip().splitlines()[-1])
    assert report["code"] == 0
    heavy = set(report["heavy"])
    assert heavy.isdisjoint(HEAVY), f"`ncaa-eval {' '.join(args)}` imported {sorted(heavy)}"
    if args in (["--help"], ["--version"]):
        assert heavy == set(), heavy  # the top level needs not even numpy or pyarrow


def test_importtime_of_the_top_level_help() -> None:
    done = _run("-X", "importtime", "-m", "ncaa_eval", "--help")
    assert done.returncode == 0
    imported = {
        line.split("|")[-1].strip().split(".")[0]
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    assert "click" in imported  # the probe does see imports
    assert imported.isdisjoint(HEAVY), sorted(imported & set(HEAVY))


# --- every command documents itself -------------------------------------------------------------


def test_every_command_and_sub_command_has_help_text() -> None:
    commands = dict(all_commands())
    expected = {"ncaa-eval", "ncaa-eval data", "ncaa-eval models", "ncaa-eval train"}
    expected |= {f"ncaa-eval data {c}" for c in ("import", "info", "demo", "fetch")}
    assert expected <= set(commands)
    for path, command in commands.items():
        assert (command.help or "").strip(), f"`{path}` has no help text"
        assert command.get_short_help_str(limit=200).strip(), path
        for param in command.params:
            if isinstance(param, click.Option):
                assert (param.help or "").strip(), f"`{path} {param.opts[0]}` has no help"


def test_the_lazy_listing_matches_the_commands() -> None:
    ctx = click.Context(cli, info_name="ncaa-eval")
    assert cli.list_commands(ctx) == [
        "bracket",
        "data",
        "models",
        "predict",
        "registry",
        "runs",
        "train",
        "tune",
    ]
    assert cli.get_command(ctx, "nope") is None


@pytest.mark.parametrize("path", [p for p, _ in all_commands()])
def test_every_help_page_renders(path: str, run_cli: Invoke) -> None:
    words = path.split()[1:]
    result = run_cli(*words, "--help")
    assert result.output.startswith("Usage: ")
    assert "-h, --help" in result.output


# --- usage errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [["nope"], ["data", "nope"], ["--bogus"], ["data", "import"], ["data", "info", "--nope"]],
    ids=lambda a: " ".join(a),
)
def test_usage_errors_exit_2(args: list[str], run_cli: Invoke) -> None:
    result = run_cli(*args, expect=2)
    assert "Usage:" in result.output
    assert "Error:" in result.output


def test_an_unknown_command_in_a_subprocess_exits_2() -> None:
    done = _run("-m", "ncaa_eval", "frobnicate")
    assert done.returncode == 2
    assert "No such command 'frobnicate'" in done.stderr
    assert "Traceback" not in done.stderr
