"""Name -> model class registry: built-ins by decorator, plugins by entry point.

Built-in models register themselves with ``@register_model("elo")`` when their module is imported.
Third-party models are distributions declaring an entry point in the group ``ncaa_eval.models``::

    [project.entry-points."ncaa_eval.models"]
    my_model = "my_package.models:MyModel"

Entry points are loaded after the built-ins, the first time a name is not found or the list is
asked for, so a plugin works everywhere a built-in does (the CLI included) without any change to
ncaa-eval. A name registered twice by two different classes is an error naming both.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import TypeVar

from ncaa_eval.errors import NcaaEvalError
from ncaa_eval.model.base import Model

ENTRY_POINT_GROUP = "ncaa_eval.models"

# Imported lazily so that `ncaa-eval --help` never pays for them; each module keeps its heavy
# imports (xgboost, scikit-learn) inside the methods that need them.
_BUILTIN_MODULES = (
    "ncaa_eval.model.elo",
    "ncaa_eval.model.ensemble",
    "ncaa_eval.model.logistic_regression",
    "ncaa_eval.model.margin",
    "ncaa_eval.model.xgboost_model",
)

_registry: dict[str, type[Model]] = {}
_builtins_loaded = False
_entry_points_loaded = False

M = TypeVar("M", bound=type[Model])


class ModelNotFoundError(NcaaEvalError, KeyError):
    """No model is registered under the requested name."""

    def __init__(self, name: str, available: list[str]) -> None:
        self.name = name
        self.available = available
        super().__init__(f"Unknown model '{name}'. Available: {', '.join(available) or 'none'}.")

    def __str__(self) -> str:  # KeyError would otherwise quote the whole message
        return str(self.args[0])


class DuplicateModelError(NcaaEvalError):
    """Two different classes claim the same model name."""


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _add(name: str, cls: type[Model]) -> None:
    if not (isinstance(cls, type) and issubclass(cls, Model)):
        raise TypeError(f"Model '{name}' must be a subclass of ncaa_eval.model.base.Model.")
    existing = _registry.get(name)
    if existing is not None and existing is not cls:
        raise DuplicateModelError(
            f"Model name '{name}' is registered twice: by {_qualname(existing)} "
            f"and by {_qualname(cls)}. Rename one of them."
        )
    cls.name = name
    _registry[name] = cls


def register_model(name: str) -> Callable[[M], M]:
    """Class decorator registering a :class:`Model` subclass under ``name``."""
    if not name or not name.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"Model name '{name}' must be letters, digits, '_' or '-'.")

    def decorator(cls: M) -> M:
        _add(name, cls)
        return cls

    return decorator


def _load_builtins() -> None:
    global _builtins_loaded
    if not _builtins_loaded:
        _builtins_loaded = True
        for module in _BUILTIN_MODULES:
            importlib.import_module(module)


def _load_entry_points() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    try:
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            try:
                loaded = ep.load()
            except Exception as exc:
                raise NcaaEvalError(
                    f"Model plugin '{ep.name}' ({ep.value}) failed to load: {exc}. "
                    "Fix or uninstall the plugin distribution."
                ) from exc
            if not (isinstance(loaded, type) and issubclass(loaded, Model)):
                raise NcaaEvalError(
                    f"Model plugin '{ep.name}' ({ep.value}) is not a subclass of "
                    "ncaa_eval.model.base.Model. Fix or uninstall the plugin distribution."
                )
            _add(ep.name, loaded)
    except NcaaEvalError:
        # Not loaded: the next call reports the same error instead of silently omitting it.
        _entry_points_loaded = False
        raise


def refresh() -> None:
    """Look for entry points again (after installing a plugin in a running process)."""
    global _entry_points_loaded
    _entry_points_loaded = False
    _load_entry_points()


def get_model(name: str) -> type[Model]:
    """Return the model class registered under ``name``.

    Raises:
        ModelNotFoundError: no built-in or plugin has that name; the message lists those that do.
    """
    _load_builtins()
    if name not in _registry:
        _load_entry_points()
    if name not in _registry:
        raise ModelNotFoundError(name, list_models())
    return _registry[name]


def list_models() -> list[str]:
    """Every registered model name, built-ins and plugins, sorted."""
    _load_builtins()
    _load_entry_points()
    return sorted(_registry)
