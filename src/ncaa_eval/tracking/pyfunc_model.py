"""The MLflow Model of a run, as "models from code": MLflow loads this file, nothing of ours does.

The model's own files travel as the artifact ``forecaster`` and are read by a loader named in the
artifact ``loader`` (``{"loader": "module:function"}``), which returns an object with
``predict(frame) -> probabilities``. So the tracking package knows nothing of the models, and no
pickle is involved: the model loads with ``MLFLOW_ALLOW_PICKLE_DESERIALIZATION=false``.
"""

from __future__ import annotations

import importlib
import json
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE
from mlflow.pyfunc.model import PythonModel, PythonModelContext

from ncaa_eval.errors import NcaaEvalError


class ForecasterModel(PythonModel):
    """P(team A beats team B) for pairs of the season the run's model was fitted for."""

    def load_context(self, context: PythonModelContext) -> None:
        with open(context.artifacts["loader"], encoding="utf-8") as handle:
            module, _, name = str(json.load(handle)["loader"]).partition(":")
        loader = getattr(importlib.import_module(module), name)
        self.forecaster = loader(context.artifacts["forecaster"])

    def predict(
        self,
        context: PythonModelContext,
        model_input: pd.DataFrame,
        params: dict[str, Any] | None = None,
    ) -> np.ndarray[Any, np.dtype[np.float64]]:
        try:
            result: np.ndarray[Any, np.dtype[np.float64]] = self.forecaster.predict(model_input)
        except NcaaEvalError as exc:
            # A bad request, not a broken model: the server answers 400 with this message.
            raise MlflowException(str(exc), error_code=INVALID_PARAMETER_VALUE) from exc
        return result


mlflow.models.set_model(ForecasterModel())
