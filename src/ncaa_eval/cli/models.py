"""``ncaa-eval models``: every registered model with its config fields, defaults and ranges."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import click


def _fields(
    config: Any, search: Mapping[str, str], prefix: str = ""
) -> list[tuple[str, str, str, str, str]]:
    """(name, type, default, search, description) rows, nested configs flattened with dots.

    ``config`` is the default config (an instance), so a nested config shows the values the model
    defaults to, not its class's own defaults; ``search`` maps dotted names to declared ranges.
    """
    from pydantic import BaseModel

    rows = []
    for name, info in type(config).model_fields.items():
        default = getattr(config, name)
        if isinstance(default, BaseModel):
            rows += _fields(default, search, prefix=f"{prefix}{name}.")
            continue
        dotted = f"{prefix}{name}"
        type_name = getattr(info.annotation, "__name__", str(info.annotation))
        shown = _shown(default)
        rows.append(
            (
                dotted,
                type_name.replace("typing.", ""),
                shown,
                search.get(dotted, ""),
                info.description or "",
            )
        )
    return rows


def _shown(default: Any) -> str:
    """A default for the table; a mapping of groups (an ensemble's member configs) by its keys,
    each group being shown in its own model's table."""
    if isinstance(default, str):
        return default
    if (
        isinstance(default, Mapping)
        and default
        and all(isinstance(v, Mapping) for v in default.values())
    ):
        return "{" + ", ".join(f"{json.dumps(k)}: {{...}}" for k in default) + "}"
    return json.dumps(default)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
def models(as_json: bool) -> None:
    """List every registered model (plugins included) with its config fields and defaults.

    The search column shows the range `ncaa-eval tune` searches for a field that declares one
    ("20 - 80", "0.001 - 100 log", "conference | league"); --json gives it as each model's
    "search". Any field can be overridden with `ncaa-eval train --config FILE.json`; nested
    fields are written as nested JSON objects, e.g. {"features": {"ordinals": false}}.
    """
    from rich.table import Table

    from ncaa_eval.cli.console import console
    from ncaa_eval.model.registry import get_model, list_models
    from ncaa_eval.tuning.space import declared_space

    names = list_models()
    if as_json:
        out = {}
        for name in names:
            cls = get_model(name)
            out[name] = {
                "class": f"{cls.__module__}.{cls.__qualname__}",
                "stateful": cls.stateful,
                "composite": cls.composite,
                "config": cls.config_class().model_dump(mode="json"),
                "search": declared_space(cls.config_class, name).to_json()["search"],
            }
        click.echo(json.dumps(out, indent=2))
        return
    for name in names:
        cls = get_model(name)
        space = declared_space(cls.config_class, name)
        search = {d.name: d.describe() for d in space.dimensions}
        kind = "composite" if cls.composite else "stateful" if cls.stateful else "stateless"
        doc = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
        table = Table(title=f"{name}  ({kind}, {cls.__module__}.{cls.__qualname__})", caption=doc)
        for col in ("field", "type", "default", "search", "description"):
            # The longest range ("0.001 - 100 log") fits in 15; choices wrap at " | ", which
            # leaves the description room in 80 columns.
            table.add_column(col, overflow="fold", max_width=15 if col == "search" else None)
        for row in _fields(cls.config_class(), search):
            table.add_row(*row)
        console.print(table)
