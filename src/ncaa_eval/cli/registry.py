"""``ncaa-eval registry``: registered models, their versions, and aliases such as ``champion``.

A run's model enters the registry with ``ncaa-eval runs register`` (it acts on a run, like the
other ``runs`` commands); this group is about the registered models themselves.
"""

from __future__ import annotations

import json

import click

from ncaa_eval.cli.options import tracking_uri_option


@click.group()
def registry() -> None:
    """List registered models and set or move their aliases (MLflow Model Registry)."""


@registry.command("list")
@click.argument("name", required=False)
@tracking_uri_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_models(name: str | None, tracking_uri: str | None, as_json: bool) -> None:
    """List every registered model (or NAME) with its versions, source runs and aliases."""
    from rich.table import Table

    from ncaa_eval.cli.console import console
    from ncaa_eval.tracking import RunStore
    from ncaa_eval.tracking.lookup import require_store
    from ncaa_eval.tracking.registry import list_registered

    store = RunStore(tracking_uri)
    require_store(store)
    models = list_registered(store, name)
    if as_json:
        payload = [
            {
                "name": m.name,
                "aliases": m.aliases,
                "versions": [
                    {
                        "version": v.version,
                        "uri": v.uri,
                        "run_id": v.run_id,
                        "aliases": v.aliases,
                        "created": v.created.isoformat(),
                    }
                    for v in m.versions
                ],
            }
            for m in models
        ]
        click.echo(json.dumps(payload, indent=2))
        return
    if not models:
        console.print(
            "No registered models; register a run's model with "
            "`ncaa-eval runs register RUN --name NAME --alias champion`."
        )
        return
    table = Table(title="Registered models")
    for column in ("name", "version", "aliases", "run", "created", "URI"):
        # The URI is what gets copied: never folded.
        table.add_column(column, overflow="fold", no_wrap=column in ("URI", "created"))
    for m in models:
        for v in m.versions:
            table.add_row(
                m.name,
                str(v.version),
                ", ".join(v.aliases),
                (v.run_id or "")[:8],
                v.created.strftime("%Y-%m-%d"),
                v.uri,
            )
    console.print(table)


@registry.command("alias")
@click.argument("name")
@click.argument("alias")
@click.argument("version", type=click.IntRange(min=1), required=False)
@click.option("--delete", is_flag=True, help="Remove the alias instead of setting it.")
@tracking_uri_option
def alias(
    name: str, alias: str, version: int | None, delete: bool, tracking_uri: str | None
) -> None:
    """Point ALIAS of registered model NAME at VERSION (moving it), or --delete it.

    `models:/NAME@ALIAS` then resolves to that version, for `predict`, `bracket` and
    `mlflow models serve`.
    """
    from ncaa_eval.cli.console import console
    from ncaa_eval.tracking import RunStore
    from ncaa_eval.tracking.lookup import require_store
    from ncaa_eval.tracking.registry import delete_alias, set_alias

    store = RunStore(tracking_uri)
    require_store(store)
    if delete:
        if version is not None:
            raise click.UsageError("--delete takes no VERSION.")
        was = delete_alias(store, name, alias)
        console.print(f"Removed alias '{alias}' of {name} (it pointed at version {was}).")
        return
    if version is None:
        raise click.UsageError("Give the VERSION the alias points at (or --delete).")
    info, before = set_alias(store, name, alias, version)
    moved = "" if before is None or before == info.version else f", moved from version {before}"
    console.print(
        f"models:/{name}@{alias} -> version {info.version} (run {(info.run_id or '?')[:8]}{moved})."
    )
