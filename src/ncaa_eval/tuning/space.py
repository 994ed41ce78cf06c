"""A model's search space: the ranges its config declares, narrowed or fixed by a JSON file.

Each config field that ``ncaa-eval tune`` searches declares its range next to its default
(:func:`ncaa_eval.tunable.tunable`); nested configs (a stateless model's ``features``) are
walked too, their fields named with dots (``features.margin_cap``). A search-space file is a JSON
object shaped like a ``--config`` file where each field holds either a value (the field is fixed
at it for the search) or an object with ``low``/``high``/``log``/``step``/``choices`` (its range
for the search; keys left out keep the declared ones)::

    {"k": {"low": 30, "high": 60}, "carry_toward": "league",
     "features": {"margin_cap": {"choices": [20, 25, 30]}}}

Any field may be given a range, declared or not, as long as it lies within the field's own
bounds. Every problem is reported in one line naming the field, the value and the fix.
"""

from __future__ import annotations

import json
import math
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from ncaa_eval.errors import NcaaEvalError
from ncaa_eval.model.base import ModelConfig
from ncaa_eval.training.config_loading import ConfigError, read_config_file, validate_config
from ncaa_eval.tunable import TUNE_KEY

if TYPE_CHECKING:
    import optuna

Kind = Literal["float", "int", "categorical"]
_RANGE_KEYS = frozenset({"low", "high", "log", "step", "choices"})
_EXAMPLE = 'write a JSON object such as {"k": {"low": 30, "high": 60}, "home_edge": 80}'


class SearchSpaceError(NcaaEvalError):
    """A declared range or a search-space file is invalid."""


@dataclass(frozen=True)
class Dimension:
    """One searched field: a number range or a set of choices."""

    name: str
    kind: Kind
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple[Any, ...] | None = None

    def to_json(self) -> dict[str, Any]:
        """The range as the JSON a search-space file would give it."""
        if self.kind == "categorical":
            return {"choices": list(self.choices or ())}
        out: dict[str, Any] = {"low": self.low, "high": self.high}
        if self.log:
            out["log"] = True
        if self.step is not None:
            out["step"] = self.step
        return out

    def describe(self) -> str:
        """A short human form: ``20 - 80``, ``0.005 - 0.3 log``, ``conference | league``."""
        if self.kind == "categorical":
            return " | ".join(_plain(c) for c in self.choices or ())
        text = f"{_plain(self.low)} - {_plain(self.high)}"
        if self.step is not None and not (self.kind == "int" and self.step == 1):
            text += f" step {_plain(self.step)}"
        return text + (" log" if self.log else "")

    def suggest(self, trial: optuna.Trial) -> Any:
        """Draw this field's value for ``trial``."""
        if self.kind == "categorical":
            return trial.suggest_categorical(self.name, list(self.choices or ()))
        assert self.low is not None
        assert self.high is not None
        if self.kind == "int":
            step = int(self.step or 1)
            return trial.suggest_int(self.name, int(self.low), int(self.high), step=step,
                                     log=self.log)  # fmt: skip
        return trial.suggest_float(self.name, float(self.low), float(self.high), step=self.step,
                                   log=self.log)  # fmt: skip


@dataclass(frozen=True)
class SearchSpace:
    """The searched dimensions and the fields fixed for one search (dotted names)."""

    dimensions: tuple[Dimension, ...]
    fixed: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """``{"search": {name: range}, "fixed": {name: value}}``, the study's identity."""
        return {
            "search": {d.name: d.to_json() for d in self.dimensions},
            "fixed": dict(sorted(self.fixed.items())),
        }

    def suggest(self, trial: optuna.Trial) -> dict[str, Any]:
        """Draw every dimension; return the config overrides (nested, fixed fields included)."""
        flat = {d.name: d.suggest(trial) for d in self.dimensions}
        return self.overrides(flat)

    def overrides(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Nested config overrides from dotted ``values`` plus the fixed fields."""
        nested: dict[str, Any] = {}
        for name, value in {**self.fixed, **values}.items():
            *parents, leaf = name.split(".")
            node = nested
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = value
        return nested

    def contains(self, values: Mapping[str, Any]) -> bool:
        """Whether ``values`` (dotted) give every dimension a value inside its range."""
        for d in self.dimensions:
            if d.name not in values:
                return False
            value = values[d.name]
            if d.kind == "categorical":
                if value not in (d.choices or ()):
                    return False
            elif (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not (d.low is not None and d.high is not None and d.low <= value <= d.high)
                or (d.kind == "int" and value != int(value))
            ):
                return False
        return True


def dotted_value(values: Mapping[str, Any], name: str) -> Any:
    """The value at dotted ``name`` (``features.margin_cap``) of a nested config dump; None if
    absent."""
    node: Any = values
    for part in name.split("."):
        node = node.get(part) if isinstance(node, Mapping) else None
    return node


def declared_space(config_class: type[ModelConfig], model_name: str) -> SearchSpace:
    """The ranges ``config_class`` declares (``tunable(...)``), checked against its bounds.

    Raises:
        SearchSpaceError: a declared range is malformed or outside its field's bounds (a bug in
            the model, named as such).
    """
    dims = []
    for name, info in _fields(config_class):
        spec = _declared(info)
        if spec is not None:
            dims.append(_dimension(name, info, spec, f"Model '{model_name}' declares", model_name))
    space = SearchSpace(tuple(dims))
    _check_choices(space, config_class, model_name, f"Model '{model_name}' declares")
    return space


def load_space(config_class: type[ModelConfig], model_name: str, path: Path | None) -> SearchSpace:
    """The declared space, narrowed or fixed by the search-space file at ``path`` (if any).

    Raises:
        SearchSpaceError: the file is unreadable or not JSON, names an unknown field, or gives a
            range outside a field's bounds or a value the field refuses.
    """
    space = declared_space(config_class, model_name)
    if path is None:
        return space
    where = f"Search-space file '{path}'"
    try:
        spec = read_config_file(path, what="Search-space file", example=_EXAMPLE)
    except ConfigError as exc:
        raise SearchSpaceError(str(exc)) from exc
    return narrow(space, config_class, model_name, spec, where)


def narrow(
    space: SearchSpace,
    config_class: type[ModelConfig],
    model_name: str,
    spec: Mapping[str, Any],
    where: str,
) -> SearchSpace:
    """Apply a search-space file's ``spec`` to ``space`` (see the module docstring)."""
    dims = {d.name: d for d in space.dimensions}
    fixed = dict(space.fixed)
    fields = dict(_fields(config_class))
    for name, value in _flatten(config_class, spec, where, model_name):
        info = fields[name]
        if isinstance(value, dict):
            unknown = sorted(set(value) - _RANGE_KEYS)
            if unknown or not value:
                raise SearchSpaceError(
                    f"{where}: {name}: {', '.join(map(repr, unknown)) or 'an empty object'} is "
                    "not a range; give low/high (with log or step) or choices, or a plain value "
                    "to fix the field."
                )
            declared = _declared(info) or {}
            merged = {**declared, **value}
            if "choices" in value:
                merged = {
                    k: v for k, v in merged.items() if k not in ("low", "high", "log", "step")
                }
            elif {"low", "high"} & set(value):
                merged.pop("choices", None)
            dims[name] = _dimension(name, info, merged, where, model_name)
            fixed.pop(name, None)
        else:
            dims.pop(name, None)
            fixed[name] = value
    if fixed:
        try:
            validate_config(config_class, SearchSpace((), fixed).overrides({}), model_name)
        except ConfigError as exc:
            raise SearchSpaceError(f"{where}: {exc}") from exc
    narrowed = SearchSpace(tuple(dims[n] for n in fields if n in dims), fixed)
    _check_choices(narrowed, config_class, model_name, where)
    return narrowed


def _check_choices(
    space: SearchSpace, config_class: type[ModelConfig], model_name: str, where: str
) -> None:
    """Every choice and range end must make a valid config with the fixed fields."""
    for d in space.dimensions:
        values = d.choices if d.kind == "categorical" else (d.low, d.high)
        for value in values or ():
            try:
                validate_config(config_class, space.overrides({d.name: value}), model_name)
            except ConfigError as exc:
                raise SearchSpaceError(f"{where}: {d.name}: {_plain(value)}: {exc}") from exc


def _flatten(
    config_class: type[BaseModel], spec: Mapping[str, Any], where: str, model: str, prefix: str = ""
) -> Iterator[tuple[str, Any]]:
    for key, value in spec.items():
        info = config_class.model_fields.get(key)
        if info is None:
            known = ", ".join(config_class.model_fields)
            raise SearchSpaceError(
                f"{where}: unknown field '{prefix}{key}' for model '{model}'; fields are: {known}."
            )
        nested = _nested_config(info)
        if nested is not None:
            if not isinstance(value, dict):
                raise SearchSpaceError(
                    f"{where}: {prefix}{key} is a group of fields; give an object of its fields, "
                    f'e.g. {{"{key}": {{"{next(iter(nested.model_fields))}": ...}}}}.'
                )
            yield from _flatten(nested, value, where, model, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def _fields(config_class: type[BaseModel], prefix: str = "") -> Iterator[tuple[str, FieldInfo]]:
    """Every leaf field of a config, nested configs flattened with dots."""
    for name, info in config_class.model_fields.items():
        nested = _nested_config(info)
        if nested is not None:
            yield from _fields(nested, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", info


def _nested_config(info: FieldInfo) -> type[BaseModel] | None:
    annotation = info.annotation
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _declared(info: FieldInfo) -> dict[str, Any] | None:
    extra = info.json_schema_extra
    if isinstance(extra, dict) and TUNE_KEY in extra:
        spec = extra[TUNE_KEY]
        return dict(spec) if isinstance(spec, dict) else {}
    return None


def _base_type(annotation: Any) -> tuple[Any, bool]:
    """The annotation without ``None``, and whether ``None`` is allowed."""
    origin = get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        optional = len(args) < len(get_args(annotation))
        return (args[0] if len(args) == 1 else annotation), optional
    return annotation, False


def _dimension(
    name: str, info: FieldInfo, spec: Mapping[str, Any], where: str, model: str
) -> Dimension:
    base, _ = _base_type(info.annotation)
    choices = spec.get("choices")
    if choices is None and "low" not in spec and "high" not in spec:
        if base is bool:
            choices = [True, False]
        elif get_origin(base) is Literal:
            choices = list(get_args(base))
    if choices is not None:
        if not isinstance(choices, list) or not choices:
            raise SearchSpaceError(f"{where}: {name}: choices must be a non-empty list.")
        for choice in choices:
            if not (choice is None or isinstance(choice, bool | int | float | str)):
                raise SearchSpaceError(
                    f"{where}: {name}: choice {json.dumps(choice)} is not a number, string, "
                    "boolean or null; list plain values."
                )
            _check_value(name, info, choice, where)
        return Dimension(name, "categorical", choices=tuple(choices))
    if base not in (int, float):
        raise SearchSpaceError(
            f"{where}: {name} is not a number, so it takes choices, not a range; give "
            f'{{"choices": [...]}} or a plain value.'
        )
    kind: Kind = "int" if base is int else "float"
    low, high = spec.get("low"), spec.get("high")
    if low is None or high is None:
        missing = "low" if low is None else "high"
        raise SearchSpaceError(
            f"{where}: {name} declares no range to keep {missing} from; give both low and high."
        )
    for label, value in (("low", low), ("high", high)):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SearchSpaceError(f"{where}: {name}: {label} must be a number, got {value!r}.")
        if not math.isfinite(value):
            raise SearchSpaceError(f"{where}: {name}: {label} must be finite, got {value!r}.")
        if kind == "int" and value != int(value):
            raise SearchSpaceError(
                f"{where}: {name} is a whole number; {label} {value} is not, give an integer."
            )
    assert isinstance(low, int | float)
    assert isinstance(high, int | float)
    if low > high:
        raise SearchSpaceError(
            f"{where}: {name}: low {_plain(low)} is above high {_plain(high)}; swap them."
        )
    bounds = _bounds(info)
    for label, value in (("low", low), ("high", high)):
        if not _within(value, bounds):
            raise SearchSpaceError(
                f"{where}: {name}: {label} {_plain(value)} is outside the field's bounds "
                f"{_describe_bounds(bounds)}; give a range within them."
            )
    log = bool(spec.get("log", False))
    if log and low <= 0:
        raise SearchSpaceError(
            f"{where}: {name}: a log range needs low > 0, got {_plain(low)}; raise low or drop log."
        )
    step = spec.get("step")
    if step is not None:
        if isinstance(step, bool) or not isinstance(step, int | float) or step <= 0:
            raise SearchSpaceError(f"{where}: {name}: step must be a positive number.")
        if log:
            raise SearchSpaceError(f"{where}: {name}: give log or step, not both.")
        if kind == "int" and step != int(step):
            raise SearchSpaceError(f"{where}: {name}: step must be a whole number.")
    if kind == "int":
        return Dimension(name, kind, int(low), int(high), log, None if step is None else int(step))
    return Dimension(name, kind, float(low), float(high), log,
                     None if step is None else float(step))  # fmt: skip


Bounds = tuple[float | None, bool, float | None, bool]


def _bounds(info: FieldInfo) -> Bounds:
    """(lower, inclusive, upper, inclusive) from the field's ge/gt/le/lt constraints."""
    lower: float | None = None
    upper: float | None = None
    lower_inc = upper_inc = True
    for meta in info.metadata:
        for attr, is_lower, inclusive in (("ge", True, True), ("gt", True, False),
                                          ("le", False, True), ("lt", False, False)):  # fmt: skip
            value = getattr(meta, attr, None)
            if value is None:
                continue
            if is_lower:
                lower, lower_inc = float(value), inclusive
            else:
                upper, upper_inc = float(value), inclusive
    return lower, lower_inc, upper, upper_inc


def _within(value: float, bounds: Bounds) -> bool:
    lower, lower_inc, upper, upper_inc = bounds
    if lower is not None and (value < lower or (value == lower and not lower_inc)):
        return False
    return not (upper is not None and (value > upper or (value == upper and not upper_inc)))


def _describe_bounds(bounds: Bounds) -> str:
    lower, lower_inc, upper, upper_inc = bounds
    left = "(-inf" if lower is None else ("[" if lower_inc else "(") + _plain(lower)
    right = "inf)" if upper is None else _plain(upper) + ("]" if upper_inc else ")")
    return f"{left}, {right}"


def _check_value(name: str, info: FieldInfo, value: Any, where: str) -> None:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if number and not _within(float(value), _bounds(info)):
        raise SearchSpaceError(
            f"{where}: {name}: choice {_plain(value)} is outside the field's bounds "
            f"{_describe_bounds(_bounds(info))}; give choices within them."
        )


def _plain(value: Any) -> str:
    """A number without a trailing ``.0``; booleans and null as JSON; anything else as str."""
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, int | float):
        return f"{value:g}" if isinstance(value, float) else str(value)
    return "null" if value is None else str(value)
