"""The MLflow UI as a user meets it: the experiment's note and the link to its runs table.

MLflow 3 opens an experiment on its GenAI overview (traces, tokens) unless the address asks for
the "Model training" view with ``workflowType=machine_learning``; :func:`runs_table_url` always
does. Nothing here imports MLflow.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from ncaa_eval import DEMO_EXPERIMENT
from ncaa_eval.tracking.uri import is_http_uri, sqlite_path

#: MLflow's tag for an experiment's description, shown (as Markdown) above its runs table.
EXPERIMENT_NOTE_TAG = "mlflow.note.content"

#: Where ``mlflow ui`` listens unless told otherwise.
LOCAL_UI = "http://127.0.0.1:5000"

_NOTE = """\
One run per `ncaa-eval train`: a model forecasts every NCAA tournament game of its seasons \
walk-forward, each season only from games played before it (First Four games are predicted but \
not scored). Compare runs over the same `league`, `start_year` and `end_year` (params).

Metrics (lower is better unless said):

- `brier`: mean squared error of the win probabilities, the main score (0.25 = always 50%).
- `log_loss`: like Brier, but a confident miss costs much more.
- `accuracy`: share of games the favourite won (higher is better).
- `calibration_error`: gap between forecast and observed win rates, over 10 bins.
- `season_brier`, `season_log_loss`: the same per tournament, with step = season; open a run's \
Model metrics tab for the curve (tables show the last season's value only).
- `scored_games`: how many games were scored.

Artifacts: `predictions.csv` (previewable here), `predictions.parquet` (the same, full \
precision), `learned.csv` (what the model learned: Elo's ratings, the coefficients, the gain \
importances), `plots/` (reliability diagram, Brier by season), `model/`, `config.json` (give it \
back with `ncaa-eval train --config`). From a terminal: `ncaa-eval runs list`, `runs show ID`.

A row with a `+` is a search (`ncaa-eval tune`): it expands into its trials, each scored like a \
run above on the tuning window (`brier`; `running_brier` by season), state in the tag \
`ncaa_eval.trial_state` (pruned trials end KILLED). The search's own row keeps `best_brier` by \
trial, the defaults' `default_brier`, and `best_config.json`.
"""

_DEMO_NOTE = """\
**Synthetic demo league** (`ncaa-eval data demo`): made-up teams and games for trying the tools; \
these scores say nothing about real tournaments. Real-data runs go to the experiment `ncaa-eval`.

"""


def experiment_note(experiment: str) -> str:
    """The Markdown description ncaa-eval gives an experiment it creates."""
    return (_DEMO_NOTE if experiment == DEMO_EXPERIMENT else "") + _NOTE


def runs_table_url(base: str, experiment_id: str) -> str:
    """The address of an experiment's runs table ("Model training" view) in the UI at ``base``."""
    return f"{base.rstrip('/')}/#/experiments/{experiment_id}/runs?workflowType=machine_learning"


@dataclass(frozen=True)
class UiLink:
    """How to see an experiment's runs in the MLflow UI."""

    #: The shell command that starts a UI on the store; None when a server already serves it.
    command: str | None
    url: str


def ui_link(tracking_uri: str, experiment_id: str) -> UiLink:
    """Where the runs of ``experiment_id`` in the store at ``tracking_uri`` are seen.

    A tracking server (``http(s)://``) is its own UI. Any other store needs ``mlflow ui`` started
    on it; a local SQLite store is named by its absolute path, so the command works from any
    folder.
    """
    if is_http_uri(tracking_uri):
        return UiLink(None, runs_table_url(tracking_uri, experiment_id))
    db = sqlite_path(tracking_uri)
    uri = f"sqlite:///{db.resolve().as_posix()}" if db is not None else tracking_uri
    command = f"mlflow ui --backend-store-uri {shlex.quote(uri)}"
    return UiLink(command, runs_table_url(LOCAL_UI, experiment_id))
