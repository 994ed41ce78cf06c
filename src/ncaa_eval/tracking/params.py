"""Where each fact of a :class:`ModelRun` lives on its MLflow run, and how it is read back.

Each fact is kept once:

* params (the MLflow UI's columns, and what searches filter on): ``model_type``, ``start_year``,
  ``end_year``, ``league`` and every hyperparameter under its own name (nested keys joined with
  dots, values as ``str(value)`` like MLflow, lists and dicts as JSON). ``mlflow run`` logs its
  entry-point params on the same run, so these strings must be the ones it logs (``2015``);
* tags, for what is not a param: ``git_dirty``, ``ncaa_eval_version``, ``prediction_count``,
  ``data_digest``, ``mlflow.source.git.commit`` (only when MLflow did not set it already) and
  last the record mark ``ncaa_eval_records``;
* the artifact ``config.json``: the nested hyperparameters, as ``train --config`` and
  ``mlflow run -P config=`` take them;
* MLflow's own fields: the run id, its name and its start time (the record's ``timestamp``).

:func:`record_from_run` rebuilds the :class:`ModelRun` from those. Runs saved by earlier versions
also carry ``run.json`` (read as it is) and the tags ``git_hash``, ``model_type``, ``league``,
``start_year`` and ``end_year`` (read when the params lack them).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ncaa_eval.errors import DataValidationError
from ncaa_eval.tracking.records import ModelRun

if TYPE_CHECKING:
    from mlflow.entities import Run

#: Params that describe the run itself; a hyperparameter may reuse one only with the same value.
RUN_PARAMS = ("model_type", "start_year", "end_year", "league")

#: Tag set last by save_run: the run's records are complete. Its value is the record format.
RECORDS_TAG = "ncaa_eval_records"
RECORDS_FORMAT = "2"
#: The artifact holding the nested hyperparameters.
CONFIG_FILE = "config.json"
#: The artifact holding the predictions (:data:`~ncaa_eval.tracking.predictions.PREDICTION_SCHEMA`).
PREDICTIONS_FILE = "predictions.parquet"
#: The record as JSON: the export format (and an artifact of runs saved by earlier versions).
RUN_FILE = "run.json"
#: MLflow's tag for the commit of the code that ran.
GIT_COMMIT_TAG = "mlflow.source.git.commit"


def mlflow_param_value(value: Any) -> str:
    """A param value as MLflow stores it (``str(value)``), except lists and dicts, as JSON."""
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


def flatten_params(config: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Flatten a nested config into MLflow params: ``{"a": {"b": 1}}`` -> ``{"a.b": "1"}``.

    Empty dicts are kept as ``"{}"`` so that the key still shows.

    Raises:
        DataValidationError: Two keys flatten to the same name (e.g. ``"a.b"`` and ``a: {b}``).
    """
    out: dict[str, str] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        items = (
            flatten_params(value, f"{name}.").items()
            if isinstance(value, Mapping) and value
            else [(name, mlflow_param_value(value))]
        )
        for flat, text in items:
            if flat in out:
                raise DataValidationError(
                    f"hyperparameters: two keys flatten to the param name '{flat}'; rename one"
                )
            out[flat] = text
    return out


def identity_params(
    model_type: str,
    start_year: int,
    end_year: int,
    league: str,
    hyperparameters: Mapping[str, Any],
) -> dict[str, str]:
    """The MLflow params of a run: what it is (:data:`RUN_PARAMS`) and its hyperparameters.

    Known before the run starts, so a caller may log them from the start (the MLflow UI then
    shows them for a run that fails).

    Raises:
        DataValidationError: A hyperparameter reuses a run param name with a different value,
            or two keys flatten to the same name.
    """
    params = {
        "model_type": model_type,
        "start_year": str(start_year),
        "end_year": str(end_year),
        "league": league,
    }
    for key, value in flatten_params(hyperparameters).items():
        if key in params and params[key] != value:
            raise DataValidationError(
                f"hyperparameters: '{key}' is {value!r} but the run's {key} is {params[key]!r}; "
                "rename the hyperparameter"
            )
        params[key] = value
    return params


def run_params(run: ModelRun) -> dict[str, str]:
    """The MLflow params :meth:`RunStore.save_run` logs for ``run`` (see :func:`identity_params`).

    Raises:
        DataValidationError: As :func:`identity_params`.
    """
    return identity_params(
        run.model_type, run.start_year, run.end_year, run.league, run.hyperparameters
    )


def run_tags(run: ModelRun, existing: Mapping[str, str]) -> dict[str, str]:
    """The MLflow tags :meth:`RunStore.save_run` sets for ``run``, the completion mark last.

    Args:
        run: The record.
        existing: The run's tags so far; MLflow's ``mlflow.source.git.commit`` (set by
            ``mlflow run`` or from the main script's checkout) is never overwritten.
    """
    tags = {
        "git_dirty": "unknown" if run.git_dirty is None else str(run.git_dirty).lower(),
        "ncaa_eval_version": run.ncaa_eval_version,
        "prediction_count": str(run.prediction_count),
    }
    if run.git_hash != "unknown" and not existing.get(GIT_COMMIT_TAG):
        tags[GIT_COMMIT_TAG] = run.git_hash
    if run.data_digest is not None:
        tags["data_digest"] = run.data_digest
    tags[RECORDS_TAG] = RECORDS_FORMAT
    return tags


def parse_param(text: str) -> Any:
    """Best-effort inverse of :func:`mlflow_param_value`, for runs without ``config.json``."""
    literals: dict[str, Any] = {"True": True, "False": False, "None": None}
    if text in literals:
        return literals[text]
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, int | float | list | dict) else text


def unflatten(params: Mapping[str, str]) -> dict[str, Any]:
    """Nested hyperparameters from flattened params, values parsed by :func:`parse_param`."""
    out: dict[str, Any] = {}
    for key in sorted(params):
        node = out
        *parents, leaf = key.split(".")
        for part in parents:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                # A flat key like "a" next to "a.b": keep the dotted key as it is.
                node, leaf = out, key
                break
            node = child
        node[leaf] = parse_param(params[key])
    return out


def run_fact(run: Run, name: str) -> str | None:
    """A :data:`RUN_PARAMS` fact of ``run``: its param, else (runs of earlier versions) its tag."""
    params: Mapping[str, str] = run.data.params
    tags: Mapping[str, str] = run.data.tags
    return params.get(name, tags.get(name))


def record_fields(
    run: Run, hyperparameters: dict[str, Any] | None, prediction_count: int | None
) -> dict[str, Any]:
    """The fields of the :class:`ModelRun` of ``run``, from its params, tags and info.

    Args:
        run: The MLflow run.
        hyperparameters: ``config.json``; None rebuilds them from the params.
        prediction_count: Rows of ``predictions.parquet``, when the run has no
            ``prediction_count`` tag.
    """
    tags: dict[str, str] = dict(run.data.tags)
    params: dict[str, str] = dict(run.data.params)
    if hyperparameters is None:
        hyperparameters = unflatten({k: v for k, v in params.items() if k not in RUN_PARAMS})
    dirty = tags.get("git_dirty", "unknown").lower()
    return {
        "run_id": run.info.run_id,
        "model_type": run_fact(run, "model_type"),
        "hyperparameters": hyperparameters,
        "timestamp": datetime.fromtimestamp(run.info.start_time / 1000, tz=UTC),
        "git_hash": tags.get("git_hash") or tags.get(GIT_COMMIT_TAG) or "unknown",
        "git_dirty": {"true": True, "false": False}.get(dirty),
        "start_year": run_fact(run, "start_year"),
        "end_year": run_fact(run, "end_year"),
        "prediction_count": tags.get("prediction_count", prediction_count or 0),
        "league": run_fact(run, "league"),
        "run_name": run.info.run_name,
        "ncaa_eval_version": tags.get("ncaa_eval_version", "unknown"),
        "data_digest": tags.get("data_digest"),
    }
