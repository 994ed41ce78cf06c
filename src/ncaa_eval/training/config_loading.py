"""Loading and validating model hyperparameters from a ``--config`` JSON file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ncaa_eval.errors import NcaaEvalError
from ncaa_eval.model.base import ModelConfig


class ConfigError(NcaaEvalError):
    """A config file or a hyperparameter value is invalid."""


def read_config_file(path: Path) -> dict[str, Any]:
    """Read a JSON object of hyperparameters from ``path``.

    Raises:
        ConfigError: the file is missing, not JSON, or not a JSON object.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise ConfigError(f"Config file '{path}' does not exist: give a JSON file.") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Config file '{path}' cannot be read: {exc}.") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"Config file '{path}' is not valid JSON (line {exc.lineno}, column {exc.colno}: "
            f'{exc.msg}); write a JSON object such as {{"k": 30}}.'
        ) from exc
    if not isinstance(data, dict):
        raise ConfigError(
            f"Config file '{path}' holds a JSON {type(data).__name__}, not an object; write a "
            'JSON object such as {"k": 30}.'
        )
    return data


def validation_message(exc: ValidationError, model_name: str) -> str:
    """One line listing every ``field: problem`` of a pydantic ValidationError."""
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(config)"
        if err["type"] == "extra_forbidden":
            parts.append(f"unknown field '{loc}'")
        else:
            parts.append(f"{loc}: {err['msg']} (got {err.get('input')!r})")
    return (
        f"Invalid config for model '{model_name}': {'; '.join(parts)}. "
        f"See `ncaa-eval models` for the fields and their ranges."
    )


def validate_config(
    config_class: type[ModelConfig], params: dict[str, Any], model_name: str
) -> ModelConfig:
    """Validate ``params`` against the model's config class.

    Raises:
        ConfigError: an unknown key or a bad value, every problem named in one line.
    """
    try:
        return config_class.model_validate(params)
    except ValidationError as exc:
        raise ConfigError(validation_message(exc, model_name)) from exc
