"""``ncaa-eval models``: every registered model with its config fields and defaults."""

from __future__ import annotations

import json
from typing import Any

import click


def _fields(config_class: Any, prefix: str = "") -> list[tuple[str, str, str, str]]:
    """(name, type, default, description) rows, nested configs flattened with dots."""
    from pydantic import BaseModel

    rows = []
    for name, info in config_class.model_fields.items():
        annotation = info.annotation
        default = info.get_default(call_default_factory=True)
        if isinstance(default, BaseModel):
            rows += _fields(type(default), prefix=f"{prefix}{name}.")
            continue
        type_name = getattr(annotation, "__name__", str(annotation)).replace("typing.", "")
        shown = json.dumps(default) if not isinstance(default, str) else default
        rows.append((f"{prefix}{name}", type_name, shown, info.description or ""))
    return rows


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
def models(as_json: bool) -> None:
    """List every registered model (plugins included) with its config fields and defaults.

    Any field can be overridden with `ncaa-eval train --config FILE.json`; nested fields are
    written as nested JSON objects, e.g. {"features": {"ordinals": false}}.
    """
    from rich.table import Table

    from ncaa_eval.cli.console import console
    from ncaa_eval.model.registry import get_model, list_models

    names = list_models()
    if as_json:
        out = {}
        for name in names:
            cls = get_model(name)
            out[name] = {
                "class": f"{cls.__module__}.{cls.__qualname__}",
                "stateful": cls.stateful,
                "config": cls.config_class().model_dump(mode="json"),
            }
        click.echo(json.dumps(out, indent=2))
        return
    for name in names:
        cls = get_model(name)
        kind = "stateful" if cls.stateful else "stateless"
        doc = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
        table = Table(title=f"{name}  ({kind}, {cls.__module__}.{cls.__qualname__})", caption=doc)
        for col in ("field", "type", "default", "description"):
            table.add_column(col, overflow="fold")
        for row in _fields(cls.config_class):
            table.add_row(*row)
        console.print(table)
