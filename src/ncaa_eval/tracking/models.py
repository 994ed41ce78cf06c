"""A run's MLflow Model (pyfunc flavour, models from code) and reading it back.

Every training run logs one MLflow Model named ``model``: ``runs:/<run id>/model`` loads with
``mlflow.pyfunc.load_model``, ``mlflow models predict`` and ``mlflow models serve``, and can be
registered. Its input is a table of ``season``, ``team_a_id``, ``team_b_id`` (or Kaggle's ``ID``,
``2025_1103_1106``) with an optional ``team_a_loc``; its output, ``P(team A wins)``.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ncaa_eval.tracking.errors import TrackingStoreError, one_line, store_errors

if TYPE_CHECKING:
    from mlflow.entities import Run
    from mlflow.models.signature import ModelSignature

    from ncaa_eval.tracking.store import RunStore

#: The name of every run's MLflow Model: ``runs:/<run id>/model``.
MODEL_NAME = "model"
#: The artifact (folder) of the MLflow Model holding the model's own files.
FORECASTER_ARTIFACT = "forecaster"
#: The artifact naming the function that reads that folder (``{"loader": "module:function"}``).
LOADER_ARTIFACT = "loader"
LOADER_FILE = "loader.json"
_CODE_FILE = Path(__file__).with_name("pyfunc_model.py")
#: The distributions every run's model needs, pinned to the versions that logged it; ncaa-eval
#: brings numpy, pandas, pyarrow and pydantic. (Each pin costs MLflow ~0.07 s of checks while
#: logging, so the list stays short; the model's own library is added by the caller.)
BASE_REQUIREMENTS = ("ncaa-eval", "mlflow")


def model_signature() -> ModelSignature:
    """Inputs: season, team_a_id, team_b_id or ID, optional team_a_loc; output: a probability.

    Every input column is optional in the schema, since either the three columns or ``ID`` is
    given; the model itself says which are missing.
    """
    from mlflow.models.signature import ModelSignature
    from mlflow.types.schema import ColSpec, Schema

    inputs = Schema(
        [
            ColSpec("long", "season", required=False),
            ColSpec("long", "team_a_id", required=False),
            ColSpec("long", "team_b_id", required=False),
            ColSpec("string", "ID", required=False),
            ColSpec("string", "team_a_loc", required=False),
        ]
    )
    return ModelSignature(inputs=inputs, outputs=Schema([ColSpec("double")]))


def pinned_requirements(distributions: Iterable[str]) -> list[str]:
    """``name==version`` for each installed distribution (the others are left out).

    ncaa-eval's and MLflow's versions come from the modules already imported: looking a
    distribution up in the installed metadata costs about 0.1 s each.
    """
    import mlflow

    from ncaa_eval import __version__

    known = {"ncaa-eval": __version__, "mlflow": mlflow.__version__}
    out = []
    for name in dict.fromkeys(distributions):
        try:
            version = known.get(name) or importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        out.append(f"{name}=={version}")
    return out


def log_run_model(
    store: RunStore,
    run_id: str,
    folder: Path,
    *,
    loader: str,
    input_example: pd.DataFrame,
    requirements: Iterable[str],
) -> str:
    """Log ``folder`` (a packaged forecaster) as the run's MLflow Model; return its model id.

    Args:
        store: the run's store.
        run_id: the run (RUNNING).
        folder: the files the loader reads, logged as the artifact ``forecaster``.
        loader: ``module:function`` that turns that folder into an object with ``predict``.
        input_example: a few input rows (validated by running the model once).
        requirements: pip requirements, explicit so that logging does not infer them.

    Raises:
        TrackingStoreError: MLflow refused the model or the store is down.
    """
    import mlflow.pyfunc
    from mlflow.models import Model
    from mlflow.tracking._tracking_service.utils import _use_tracking_uri

    client = store.client
    with store_errors(f"Cannot log the MLflow Model of run {run_id}"):
        experiment_id = client.get_run(run_id).info.experiment_id
        with (
            tempfile.TemporaryDirectory(prefix="ncaa-eval-loader-") as tmp,
            _use_tracking_uri(store.tracking_uri),
            _without_info("mlflow.pyfunc"),
            store.uninterrupted(),
        ):
            # The loader travels as a file, not as the model config, which MLflow would also
            # log as a param of the run.
            loader_file = Path(tmp) / LOADER_FILE
            loader_file.write_text(json.dumps({"loader": loader}) + "\n", encoding="utf-8")
            # Created here so that it lands in the run's experiment: MLflow would otherwise put
            # a model logged without an active run into the default experiment. From here on
            # MLflow marks it READY, or FAILED if logging fails.
            logged = client.create_logged_model(
                experiment_id, name=MODEL_NAME, source_run_id=run_id
            )
            Model.log(
                artifact_path=None,
                name=MODEL_NAME,
                flavor=mlflow.pyfunc,
                run_id=run_id,
                model_id=logged.model_id,
                python_model=str(_CODE_FILE),
                artifacts={FORECASTER_ARTIFACT: str(folder), LOADER_ARTIFACT: str(loader_file)},
                signature=model_signature(),
                input_example=input_example,
                pip_requirements=list(requirements),
            )
    return str(logged.model_id)


@dataclass(frozen=True)
class LoadedModel:
    """An MLflow Model of ncaa-eval loaded from a URI, with where it came from."""

    uri: str
    #: The run that logged it.
    run_id: str
    #: The object the model's loader returned (a packaged forecaster).
    forecaster: Any
    #: ``NAME/VERSION`` when the URI named a registered model, else None.
    registered: str | None


def load_run_model(uri: str, tracking_uri: str) -> LoadedModel:
    """Load ``runs:/ID/model``, ``models:/NAME@ALIAS``, ``models:/NAME/VERSION`` or ``models:/m-…``.

    Raises:
        TrackingStoreError: the URI names nothing in the store, or not an ncaa-eval model.
    """
    import mlflow.pyfunc
    from mlflow.exceptions import MlflowException
    from mlflow.tracking._tracking_service.utils import _use_tracking_uri

    try:
        with _use_tracking_uri(tracking_uri):
            registered = _registered_version(uri, tracking_uri)
            # An alias is resolved once: the version recorded is the version loaded.
            model = mlflow.pyfunc.load_model(f"models:/{registered}" if registered else uri)
    except (MlflowException, OSError) as exc:
        cause = one_line(exc).rstrip(".")
        raise TrackingStoreError(
            f"Cannot load model {uri} from {tracking_uri}: {cause}; check the URI "
            "(runs:/<run id>/model, models:/<name>@<alias>, models:/<name>/<version>) and "
            "--tracking-uri."
        ) from exc
    try:
        python_model = model.unwrap_python_model()
    except MlflowException:  # another flavour than a Python model
        python_model = None
    forecaster = getattr(python_model, "forecaster", None)
    run_id = model.metadata.run_id
    if forecaster is None or run_id is None:
        raise TrackingStoreError(f"{uri} is not a model logged by `ncaa-eval train`.")
    return LoadedModel(uri=uri, run_id=str(run_id), forecaster=forecaster, registered=registered)


def _registered_version(uri: str, tracking_uri: str) -> str | None:
    """``NAME/VERSION`` for a ``models:/NAME@ALIAS`` or ``models:/NAME/VERSION`` URI."""
    from mlflow.tracking import MlflowClient

    if not uri.startswith("models:/") or uri.startswith("models:/m-"):
        return None
    rest = uri.removeprefix("models:/")
    client = MlflowClient(tracking_uri=tracking_uri)
    if "@" in rest:
        name, alias = rest.split("@", 1)
        version = client.get_model_version_by_alias(name, alias)
        return f"{name}/{version.version}"
    name, _, version_text = rest.partition("/")
    return f"{name}/{version_text}"


def model_id_of(run: Run) -> str | None:
    """The id of the MLflow Model ``run`` logged (the last one); None if it logged none."""
    outputs = run.outputs.model_outputs if run.outputs is not None else []
    return str(outputs[-1].model_id) if outputs else None


def run_model_id(store: RunStore, run_id: str) -> str | None:
    """The id of the MLflow Model ``run_id`` logged; None for a run that logged none."""
    return model_id_of(store.get_run(run_id))


def download_model_files(store: RunStore, run_id: str, dest: Path) -> Path | None:
    """Download the model's own files (the ``forecaster`` artifact) of a run's MLflow Model.

    Returns:
        The folder, or None for a run that logged no MLflow Model (trained before there was one).

    Raises:
        TrackingStoreError: the store cannot be read.
    """
    from mlflow.artifacts import download_artifacts

    model_id = run_model_id(store, run_id)
    if model_id is None:
        return None
    with store_errors(f"Cannot read the model of run {run_id}"):
        location = str(store.client.get_logged_model(model_id).artifact_location).rstrip("/")
        return Path(
            download_artifacts(
                artifact_uri=f"{location}/artifacts/{FORECASTER_ARTIFACT}",
                dst_path=str(dest),
                tracking_uri=store.tracking_uri,
            )
        )


@contextmanager
def _without_info(logger_name: str) -> Iterator[None]:
    """Drop the INFO lines of one MLflow logger for the block (its level is left alone).

    ``log_model`` announces "Validating input example against model signature" on every run;
    in ``train`` it would interrupt the progress bar and the ``--json`` output.
    """
    logger = logging.getLogger(logger_name)

    def keep(record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING

    logger.addFilter(keep)
    try:
        yield
    finally:
        logger.removeFilter(keep)
