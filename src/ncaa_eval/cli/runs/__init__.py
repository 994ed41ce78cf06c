"""``ncaa-eval runs``: list, show, compare and export the runs kept in MLflow.

Thin commands over :class:`~ncaa_eval.tracking.RunStore` and :mod:`ncaa_eval.tracking.queries`, one
module per command (:mod:`.list`, :mod:`.show`, :mod:`.compare`, :mod:`.export`), with the options
and table formatting they share in :mod:`.format`. Everything heavy (MLflow, pandas, Rich tables)
is imported inside the commands so that ``--help`` stays instant.
"""

from __future__ import annotations

import click

from ncaa_eval.cli.runs.compare import compare
from ncaa_eval.cli.runs.export import export
from ncaa_eval.cli.runs.list import list_runs
from ncaa_eval.cli.runs.register import register
from ncaa_eval.cli.runs.show import show


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def runs() -> None:
    """List, show, compare, export and register the training runs tracked in MLflow.

    A run is named by its id (see `runs list`) or by a unique prefix of at least 4 characters.
    """


for _command in (list_runs, show, compare, export, register):
    runs.add_command(_command)

__all__ = ["compare", "export", "list_runs", "register", "runs", "show"]
