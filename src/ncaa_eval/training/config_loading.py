"""Loading and validating model hyperparameters from a ``--config`` JSON file."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from ncaa_eval.errors import NcaaEvalError
from ncaa_eval.model.base import ModelConfig


class ConfigError(NcaaEvalError):
    """A config file or a hyperparameter value is invalid."""


#: JSON names of the Python types ``json`` produces, for messages.
_JSON_TYPES = {dict: "object", list: "array", str: "string", int: "number", float: "number",
               bool: "boolean", type(None): "null"}  # fmt: skip
_EXAMPLE = 'write a JSON object such as {"k": 30}'


def read_config_file(
    path: Path, what: str = "Config file", example: str = _EXAMPLE
) -> dict[str, Any]:
    """Read a JSON object of hyperparameters from ``path``.

    ``what`` names the file in messages (``"Search-space file"``) and ``example`` is the fix
    suggested for a file that is not a JSON object.

    UTF-8 (with or without a BOM), UTF-16 and UTF-32 are accepted, as RFC 8259 allows. A key
    given twice, ``NaN`` and ``Infinity`` (or a number too large for a float) are rejected.

    Raises:
        ConfigError: the file is missing, unreadable, empty, not JSON, or not a JSON object.
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise ConfigError(f"{what} '{path}' does not exist: give a JSON file.") from exc
    except IsADirectoryError as exc:
        raise ConfigError(f"{what} '{path}' is a folder: give a JSON file.") from exc
    except OSError as exc:
        raise ConfigError(f"{what} '{path}' cannot be read ({exc.strerror}).") from exc
    if not raw.strip():
        raise ConfigError(f"{what} '{path}' is empty; {example}.")
    try:
        data = json.loads(
            raw,
            object_pairs_hook=_no_duplicate_keys,
            parse_constant=_no_constant,
            parse_float=_finite_float,
        )
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{what} '{path}' is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at "
            f"offset {exc.start}); save it as UTF-8."
        ) from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{what} '{path}' is not valid JSON (line {exc.lineno}, column {exc.colno}: "
            f"{exc.msg}); {example}."
        ) from exc
    except _JsonValueError as exc:
        raise ConfigError(f"{what} '{path}': {exc}.") from exc
    except RecursionError as exc:
        raise ConfigError(f"{what} '{path}' is nested too deeply; {example}.") from exc
    if not isinstance(data, dict):
        raise ConfigError(
            f"{what} '{path}' holds a JSON {_JSON_TYPES.get(type(data), 'value')}, not an "
            f"object; {example}."
        )
    return data


class _JsonValueError(ValueError):
    """Valid JSON syntax that a config must not hold (a repeated key, NaN, Infinity)."""


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _JsonValueError(f"the key {_shown(key)} is given twice; keep one")
        out[key] = value
    return out


def _no_constant(name: str) -> float:
    raise _JsonValueError(f"{name} is not a JSON number; give a finite number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _JsonValueError(f"{_shown(text)} is too large for a number; give a smaller one")
    return value


def _shown(value: object, width: int = 60) -> str:
    """``repr(value)`` cut to ``width`` characters, for a one-line message."""
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def _where(loc: str) -> str:
    """A field's dotted location as it is, or quoted when it holds odd characters or is long."""
    return loc if loc.isprintable() and len(loc) <= 60 else _shown(loc)


def _non_finite(value: Any, where: str = "") -> str | None:
    """The dotted location of the first NaN or infinite float in ``value``, if any."""
    if isinstance(value, float) and not math.isfinite(value):
        return where or "(config)"
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list | tuple):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        found = _non_finite(item, f"{where}.{key}" if where else str(key))
        if found is not None:
            return found
    return None


def validation_message(exc: ValidationError, model_name: str) -> str:
    """One line listing every ``field: problem`` of a pydantic ValidationError."""
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(config)"
        if err["type"] == "extra_forbidden":
            parts.append(f"unknown field {_shown(loc)}")
        else:
            parts.append(f"{_where(loc)}: {err['msg']} (got {_shown(err.get('input'))})")
    return (
        f"Invalid config for model '{model_name}': {'; '.join(parts)}. "
        f"See `ncaa-eval models` for the fields and their ranges."
    )


def _onto_nested_defaults(config_class: type[BaseModel], params: dict[str, Any]) -> dict[str, Any]:
    """A nested config given in part (``{"features": {"margin_cap": 25}}``) completed with the
    model's own default for it, not the nested class's defaults.

    ``features`` defaults to the tuned feature set of the stateless models; without this, naming
    one feature field would silently bring back every other field's class default.
    """
    out = dict(params)
    for name, value in params.items():
        info = config_class.model_fields.get(name)
        if info is None or not isinstance(value, dict):
            continue
        default = info.get_default(call_default_factory=True)
        if isinstance(default, BaseModel):
            given = _onto_nested_defaults(type(default), value)
            out[name] = {**default.model_dump(mode="json"), **given}
    return out


def validate_config(
    config_class: type[ModelConfig], params: dict[str, Any], model_name: str
) -> ModelConfig:
    """Validate ``params`` against the model's config class.

    A complete config saved before some fields existed (a run's ``config.json``, relaunched with
    ``mlflow run -P config=...``) gets those fields' old values
    (:meth:`~ncaa_eval.model.base.ModelConfig.complete_saved`), so it trains as it did.

    Raises:
        ConfigError: an unknown key or a bad value, every problem named in one line.
    """
    params = _onto_nested_defaults(config_class, config_class.complete_saved(params))
    bad = _non_finite(params)
    if bad is not None:
        raise ConfigError(
            f"Invalid config for model '{model_name}': {_where(bad)}: NaN and infinity are not "
            "allowed; give a finite number."
        )
    try:
        text = json.dumps(params)
    except (TypeError, ValueError):
        text = None  # not JSON (a Python caller's own objects): validated as given, below
    try:
        if text is not None:
            # Strict JSON validation: `"k": true` or `"k": "30"` is a mistake to report, not a
            # number to guess (lax mode would read 1.0 and 30.0); whole numbers stay accepted
            # for float fields, JSON arrays for tuples.
            return config_class.model_validate_json(text, strict=True)
        return config_class.model_validate(params)
    except ValidationError as exc:
        raise ConfigError(validation_message(exc, model_name)) from exc
