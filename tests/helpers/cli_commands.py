"""Every command of the real Click group, sub-commands included, found by walking it."""

from __future__ import annotations

from collections.abc import Iterator

import click

from ncaa_eval.cli.main import cli


def _walk(command: click.Command, path: tuple[str, ...]) -> Iterator[tuple[str, click.Command]]:
    yield " ".join(path), command
    if isinstance(command, click.Group):
        ctx = click.Context(command, info_name=path[-1])
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            assert sub is not None, f"{' '.join(path)} lists {name!r} but cannot load it"
            yield from _walk(sub, (*path, name))


def all_commands() -> list[tuple[str, click.Command]]:
    """``("ncaa-eval runs list", <command>)`` for every command, the group itself first."""
    return list(_walk(cli, ("ncaa-eval",)))
