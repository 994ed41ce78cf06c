"""The documentation keeps up with the code.

* Every command and sub-command of the real Click group (walked through its lazy loader) is
  named in the README or in ``docs/``.
* The README's commands that CI runs are the ones ``.ci/run`` runs, word for word.
* ``docs/architecture.md`` names every package that ``tests/test_architecture.py`` knows, and the
  ``path::name`` places it points to exist.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers.cli_commands import all_commands
from tests.test_architecture import ALLOWED

REPO_ROOT = Path(__file__).resolve().parents[1]
README = REPO_ROOT / "README.md"
DOCS = REPO_ROOT / "docs"
ARCHITECTURE = DOCS / "architecture.md"


COMMANDS = [path for path, _ in all_commands()]


def _documentation() -> str:
    pages = [README, *sorted(DOCS.glob("*.md"))]
    # One space between words, so that a command broken across lines still counts.
    return " ".join(" ".join(page.read_text().split()) for page in pages)


def test_the_walk_sees_sub_commands() -> None:
    assert {"ncaa-eval data import", "ncaa-eval runs compare", "ncaa-eval bracket"} <= set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_is_documented(command: str) -> None:
    assert re.search(rf"{re.escape(command)}(?![\w-])", _documentation()), (
        f"`{command}` is named neither in README.md nor in docs/*.md; document it with an "
        "example (docs/commands.md has one section per command group)."
    )


def _readme_blocks() -> list[str]:
    return re.findall(r"```bash\n(.*?)```", README.read_text(), flags=re.DOTALL)


def test_the_readme_commands_are_the_ones_ci_runs() -> None:
    install_and_train, install_and_test = (block.strip() for block in _readme_blocks()[:2])
    ci_commands = [
        line.strip()
        for line in (REPO_ROOT / ".ci" / "run").read_text().splitlines()
        if line.startswith("python3 -m venv")
    ]
    assert install_and_test in ci_commands, ".ci/run no longer runs the README's test command"
    assert set(ci_commands) <= {install_and_train, install_and_test}, ci_commands


def test_architecture_names_every_package() -> None:
    text = ARCHITECTURE.read_text()
    missing = [package for package in ALLOWED if f"`{package}`" not in text]
    assert not missing, f"docs/architecture.md does not name {missing}"
    assert text.count("```mermaid") == 1, "docs/architecture.md should hold exactly one picture"


#: Files the docs name that a command writes (kept out of git), not files of the checkout.
GENERATED = ("bench/results/",)


def _references() -> list[tuple[str, str]]:
    text = " ".join(page.read_text() for page in [README, *DOCS.glob("*.md")])
    found = re.findall(r"`((?:src|tests|bench|docs)/[\w/.-]+\.\w+)(?:::([\w.]+))?`", text)
    return sorted({(path, name) for path, name in found if not path.startswith(GENERATED)})


@pytest.mark.parametrize(("path", "name"), _references(), ids=lambda v: v or "-")
def test_every_referenced_file_and_name_exists(path: str, name: str) -> None:
    file = REPO_ROOT / path
    assert file.is_file(), f"the docs name {path}, which does not exist"
    source = file.read_text()
    for part in filter(None, name.split(".")):
        defined = rf"^\s*(?:def|class)\s+{part}\b|^\s*{part}\s*(?::[^=\n]+)?="
        assert re.search(defined, source, flags=re.MULTILINE), f"{path} defines no {part!r}"
