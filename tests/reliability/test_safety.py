"""Nothing ncaa-eval loads runs code, and no path or name reaches a shell.

* The source imports no deserializer that can run code (pickle and its relatives), calls no
  ``eval``/``exec``/``os.system`` and passes ``shell=True`` nowhere (read with ``ast``).
* ``git`` is run with an argument list, so a checkout path full of shell syntax is just a path.
* Run ids are checked before a path is built from them: ids with ``/`` or ``..`` are refused in
  one line before the store or the file system is touched (see ``test_bad_input``), and an export
  lands under ``OUTPUT_DIR/runs/`` only.
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest

import ncaa_eval
from ncaa_eval.tracking import git_info
from tests.training.tracking_checks import make_git_checkout

SOURCE = Path(ncaa_eval.__file__).resolve().parent
#: Modules that deserialize by running code, or that exist to do so.
CODE_LOADERS = {"pickle", "cPickle", "cloudpickle", "dill", "joblib", "marshal", "shelve"}
#: Calls that run a string as code or as a shell command.
CODE_RUNNERS = {"eval", "exec", "system", "popen", "read_pickle"}


def _trees() -> list[tuple[Path, ast.Module]]:
    return [(p, ast.parse(p.read_text(), str(p))) for p in sorted(SOURCE.rglob("*.py"))]


def _where(path: Path, node: ast.AST) -> str:
    return f"{path.relative_to(SOURCE.parent)}:{getattr(node, 'lineno', '?')}"


def test_the_source_is_found() -> None:
    assert len(_trees()) > 20


def test_no_module_that_loads_code_is_imported() -> None:
    found = []
    for path, tree in _trees():
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            found += [_where(path, node) for n in names if n.split(".")[0] in CODE_LOADERS]
    assert found == []


def test_nothing_runs_strings_as_code_or_through_a_shell() -> None:
    found = []
    for path, tree in _trees():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in CODE_RUNNERS:
                found.append(f"{_where(path, node)} calls {name}")
            for keyword in node.keywords:
                if keyword.arg == "shell" and not (
                    isinstance(keyword.value, ast.Constant) and keyword.value.value is False
                ):
                    found.append(f"{_where(path, node)} passes shell=")
                if keyword.arg == "allow_pickle":
                    found.append(f"{_where(path, node)} passes allow_pickle=")
    assert found == []


def test_git_is_called_with_an_argument_list() -> None:
    tree = ast.parse((SOURCE / "tracking" / "gitinfo.py").read_text())
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "subprocess"
    ]
    assert calls, "gitinfo no longer calls subprocess: update this test"
    for call in calls:
        assert call.args, "the command is given positionally"
        assert isinstance(call.args[0], ast.List), "the command must be a list, not a string"
        assert not any(k.arg == "shell" for k in call.keywords)


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_a_checkout_path_full_of_shell_syntax_is_only_a_path(tmp_path: Path) -> None:
    canary = tmp_path / "pwned"
    checkout = tmp_path / f"repo $(touch {canary}) `touch {canary}`; touch {canary} & |"
    commit = make_git_checkout(checkout)
    info = git_info(checkout)
    assert info.hash == commit
    assert info.dirty is False
    assert not canary.exists(), "a shell ran part of the path"
    # The same holds for a folder that is not a repository: unknown, and nothing run.
    plain = tmp_path / "plain; touch pwned"
    plain.mkdir()
    assert git_info(plain).hash == "unknown"
    assert not canary.exists()
    assert not (tmp_path / "pwned").exists()


def test_a_folder_that_does_not_exist_is_unknown_not_an_error(tmp_path: Path) -> None:
    assert git_info(tmp_path / "does-not-exist").hash == "unknown"
