"""The import rules of ``docs/architecture.md``, checked by parsing every source file with ``ast``.

* Each package imports only the packages :data:`ALLOWED` lists (imports point down the layers),
  and a new package must be added there (and to the page) before it can import anything.
* Nothing outside ``ncaa_eval.cli`` imports the CLI, except ``python -m ncaa_eval``.
* Only ``ncaa_eval.tracking`` imports ``mlflow``; only ``ncaa_eval.cli`` imports ``click``
  and ``rich`` (the library never prints).
* The heavy libraries are imported inside the functions that use them, never when a module loads,
  so ``ncaa-eval --help`` answers at once.

Imports under ``if TYPE_CHECKING:`` count for the first three rules (they still couple the code)
but not for the last (they never run). A string that is exactly the name of one of our modules
(``"ncaa_eval.model.elo"``, for ``importlib.import_module``) counts as an import made late.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "ncaa_eval"

#: Every package (or top-level module) and the ncaa_eval packages it may import, besides
#: :data:`LEAVES`.
ALLOWED: dict[str, frozenset[str]] = {
    "ncaa_eval": frozenset(),
    "ncaa_eval.errors": frozenset(),
    "ncaa_eval.paths": frozenset(),
    "ncaa_eval.tunable": frozenset(),
    "ncaa_eval.__main__": frozenset({"ncaa_eval.cli"}),
    "ncaa_eval.ingest": frozenset(),
    "ncaa_eval.ratings": frozenset(),
    "ncaa_eval.transform": frozenset({"ncaa_eval.ingest", "ncaa_eval.ratings"}),
    "ncaa_eval.model": frozenset({"ncaa_eval.ratings", "ncaa_eval.transform"}),
    "ncaa_eval.tracking": frozenset(),
    "ncaa_eval.evaluation": frozenset(
        {"ncaa_eval.ingest", "ncaa_eval.model", "ncaa_eval.transform"}
    ),
    "ncaa_eval.forecast": frozenset(
        {
            "ncaa_eval.evaluation",
            "ncaa_eval.ingest",
            "ncaa_eval.model",
            "ncaa_eval.tracking",
            "ncaa_eval.transform",
        }
    ),
    "ncaa_eval.training": frozenset(
        {
            "ncaa_eval.evaluation",
            "ncaa_eval.ingest",
            "ncaa_eval.model",
            "ncaa_eval.tracking",
            "ncaa_eval.transform",
        }
    ),
    "ncaa_eval.tuning": frozenset(
        {
            "ncaa_eval.evaluation",
            "ncaa_eval.ingest",
            "ncaa_eval.model",
            "ncaa_eval.tracking",
            "ncaa_eval.training",
            "ncaa_eval.transform",
        }
    ),
    "ncaa_eval.cli": frozenset(
        {
            "ncaa_eval.evaluation",
            "ncaa_eval.forecast",
            "ncaa_eval.ingest",
            "ncaa_eval.model",
            "ncaa_eval.tracking",
            "ncaa_eval.ratings",
            "ncaa_eval.training",
            "ncaa_eval.transform",
            "ncaa_eval.tuning",
        }
    ),
}
#: Small top-level modules every package may import: ``__version__``, the exception classes, the
#: writable-folder check. They import nothing but each other.
LEAVES = frozenset({"ncaa_eval", "ncaa_eval.errors", "ncaa_eval.paths", "ncaa_eval.tunable"})
#: Third-party libraries that only one package may import: library -> allowed package.
EXCLUSIVE = {
    "mlflow": "ncaa_eval.tracking",
    "click": "ncaa_eval.cli",
    "rich": "ncaa_eval.cli",
    "optuna": "ncaa_eval.tuning",
}
#: Imported inside functions only (each costs from a few hundred milliseconds to a second).
LATE = frozenset({"mlflow", "xgboost", "sklearn", "scipy", "matplotlib", "optuna", "sqlalchemy"})
#: The run's MLflow Model as "models from code": MLflow runs this file when it loads a model, and
#: nothing of ours imports it (checked below), so its class may subclass MLflow's at load.
MODELS_FROM_CODE = "ncaa_eval.tracking.pyfunc_model"
MODULE_STRING = re.compile(r"ncaa_eval(\.[a-z_]+)+")


@dataclass(frozen=True)
class Import:
    """One imported module name, where it was imported, and whether it runs on module load."""

    module: str
    imported: str
    line: int
    at_load: bool
    type_checking: bool

    @property
    def where(self) -> str:
        return f"{self.module} (line {self.line}) imports {self.imported}"


def package_of(module: str) -> str:
    """The unit a module belongs to, e.g. ``ncaa_eval.tracking`` or ``ncaa_eval.cli``."""
    parts = module.split(".")
    if parts[:3] == ["ncaa_eval", "model", "tracking"]:
        return "ncaa_eval.tracking"
    return ".".join(parts[:2])


def is_our_module(text: str) -> bool:
    """Whether ``text`` is exactly the name of one of our modules, e.g. ``ncaa_eval.model.elo``."""
    if not MODULE_STRING.fullmatch(text):
        return False
    path = SRC.joinpath(*text.split("."))
    return path.with_suffix(".py").is_file() or path.is_dir()


def module_name(path: Path, src: Path = SRC) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(source: str, module: str, is_package: bool = False) -> list[Import]:
    """Every import in ``source`` (the code of ``module``), relative ones resolved."""
    found: list[Import] = []

    def visit(node: ast.AST, at_load: bool, type_checking: bool) -> None:
        if isinstance(node, ast.Import | ast.ImportFrom):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif node.level:
                base = module.split(".")[: len(module.split(".")) - node.level + is_package]
                names = [".".join([*base, node.module] if node.module else base)]
            else:
                names = [node.module or ""]
            for name in names:
                found.append(Import(module, name, node.lineno, at_load, type_checking))
            return
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if is_our_module(node.value):  # e.g. for importlib.import_module
                found.append(Import(module, node.value, node.lineno, False, type_checking))
            return
        for child in ast.iter_child_nodes(node):
            if isinstance(node, ast.If) and _is_type_checking(node.test) and child in node.body:
                visit(child, False, True)
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                visit(child, False, type_checking)
            else:
                visit(child, at_load, type_checking)

    visit(ast.parse(source), True, False)
    return found


def all_imports(src: Path = SRC) -> list[Import]:
    out = []
    for path in sorted((src / PACKAGE).rglob("*.py")):
        out += imports_of(path.read_text(), module_name(path, src), path.name == "__init__.py")
    return out


def dependency_violations(imports: list[Import]) -> list[str]:
    """Imports of ncaa_eval packages that :data:`ALLOWED` does not list, and unlisted packages."""
    problems: list[str] = []
    for imp in imports:
        source = package_of(imp.module)
        if source not in ALLOWED:
            unlisted = f"{imp.module} is in package {source}, which ALLOWED does not list"
            problems += [] if unlisted in problems else [unlisted]
            continue
        if imp.imported.split(".")[0] != PACKAGE:
            continue
        target = package_of(imp.imported)
        if target != source and target not in LEAVES and target not in ALLOWED[source]:
            problems.append(f"{imp.where}: {source} may not import {target}")
    return problems


def exclusive_violations(imports: list[Import]) -> list[str]:
    problems = []
    for imp in imports:
        top = imp.imported.split(".")[0]
        owner = EXCLUSIVE.get(top)
        if owner is not None and package_of(imp.module) != owner:
            problems.append(f"{imp.where}: only {owner} may import {top}")
    return problems


def late_import_violations(imports: list[Import]) -> list[str]:
    return [
        f"{imp.where} when the module loads; import it inside the function that uses it"
        for imp in imports
        if imp.at_load and imp.imported.split(".")[0] in LATE and imp.module != MODELS_FROM_CODE
    ]


@pytest.fixture(scope="module")
def imports() -> list[Import]:
    found = all_imports()
    assert len({i.module for i in found}) > 40, "the source tree was not found"
    return found


def test_every_package_imports_only_the_packages_below_it(imports: list[Import]) -> None:
    problems = dependency_violations(imports)
    assert not problems, "\n".join(problems)


def test_nothing_outside_the_cli_imports_the_cli(imports: list[Import]) -> None:
    problems = [
        imp.where
        for imp in imports
        if package_of(imp.imported) == "ncaa_eval.cli"
        and package_of(imp.module) not in ("ncaa_eval.cli", "ncaa_eval.__main__")
    ]
    assert not problems, "\n".join(problems)


def test_mlflow_click_and_rich_stay_in_their_packages(imports: list[Import]) -> None:
    problems = exclusive_violations(imports)
    assert not problems, "\n".join(problems)


def test_heavy_libraries_are_imported_late(imports: list[Import]) -> None:
    problems = late_import_violations(imports)
    assert not problems, "\n".join(problems)


def test_the_allowed_map_has_no_cycles() -> None:
    def visit(node: str, path: tuple[str, ...]) -> None:
        assert node not in path, " -> ".join((*path, node))
        for nxt in ALLOWED[node]:
            visit(nxt, (*path, node))

    for package in ALLOWED:
        visit(package, ())


def test_every_listed_package_exists() -> None:
    packages = {package_of(module_name(p)) for p in (SRC / PACKAGE).rglob("*.py")}
    assert set(ALLOWED) == packages


# --- the checks can fail ------------------------------------------------------------------------

BAD_MODULE = """
from __future__ import annotations
from typing import TYPE_CHECKING
import mlflow
from ncaa_eval.cli.console import console
from ..training import train
if TYPE_CHECKING:
    import xgboost
def fit() -> None:
    import sklearn
    importlib.import_module("ncaa_eval.cli.main")
"""


def test_the_checks_catch_bad_imports() -> None:
    imports = imports_of(BAD_MODULE, "ncaa_eval.ingest.bad")
    assert [i.imported for i in imports] == [
        "__future__", "typing", "mlflow", "ncaa_eval.cli.console", "ncaa_eval.training",
        "xgboost", "sklearn", "ncaa_eval.cli.main",
    ]  # fmt: skip
    assert dependency_violations(imports) == [
        "ncaa_eval.ingest.bad (line 5) imports ncaa_eval.cli.console: "
        "ncaa_eval.ingest may not import ncaa_eval.cli",
        "ncaa_eval.ingest.bad (line 6) imports ncaa_eval.training: "
        "ncaa_eval.ingest may not import ncaa_eval.training",
        "ncaa_eval.ingest.bad (line 11) imports ncaa_eval.cli.main: "
        "ncaa_eval.ingest may not import ncaa_eval.cli",
    ]
    assert exclusive_violations(imports) == [
        "ncaa_eval.ingest.bad (line 4) imports mlflow: only ncaa_eval.tracking may import mlflow"
    ]
    # xgboost (TYPE_CHECKING) and sklearn (inside a function) never run when the module loads.
    assert [v.split(" when")[0] for v in late_import_violations(imports)] == [
        "ncaa_eval.ingest.bad (line 4) imports mlflow"
    ]


def test_an_unlisted_package_is_reported() -> None:
    imports = imports_of("import os\n", "ncaa_eval.features.new")
    assert dependency_violations(imports) == [
        "ncaa_eval.features.new is in package ncaa_eval.features, which ALLOWED does not list"
    ]


def test_nothing_imports_the_models_from_code_file(imports: list[Import]) -> None:
    """MLflow alone loads it: an import of ours would pay for MLflow at start-up."""
    assert [imp.where for imp in imports if imp.imported == MODELS_FROM_CODE] == []
