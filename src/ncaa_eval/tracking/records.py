"""The records ncaa-eval keeps for every run: one :class:`ModelRun`, many :class:`Prediction`.

Both are frozen Pydantic models with ``extra="forbid"``. A :class:`ModelRun` is stored as the
``run.json`` artifact of its MLflow run (and mirrored into params and tags for the MLflow UI);
predictions are stored as ``predictions.parquet`` with the explicit schema in
:mod:`ncaa_eval.tracking.predictions`, which validates whole DataFrames without building one
:class:`Prediction` per row.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    field_validator,
    model_validator,
)

from ncaa_eval import __version__

#: An MLflow run id: ``uuid4().hex``, 32 lowercase hexadecimal characters.
RUN_ID_PATTERN = r"^[0-9a-f]{32}$"
_RUN_ID_RE = re.compile(RUN_ID_PATTERN)

#: Model type names end up inside MLflow filter strings, so quotes and spaces are kept out.
MODEL_TYPE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"
_MODEL_TYPE_RE = re.compile(MODEL_TYPE_PATTERN)

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1

RunId = Annotated[str, Field(pattern=RUN_ID_PATTERN, description="MLflow run id (32 hex chars).")]
Int32 = Annotated[int, Field(ge=INT32_MIN, le=INT32_MAX)]


def is_run_id(value: object) -> bool:
    """Tell whether ``value`` is a well-formed MLflow run id (32 lowercase hex characters)."""
    return isinstance(value, str) and _RUN_ID_RE.match(value) is not None


def is_model_type(value: object) -> bool:
    """Tell whether ``value`` is a valid model type name (letters, digits, ``_``, ``.``, ``-``)."""
    return isinstance(value, str) and _MODEL_TYPE_RE.match(value) is not None


def normalise_json(value: Any, path: str = "hyperparameters") -> Any:
    """Return ``value`` as plain JSON data (dict/list/str/int/float/bool/None), or raise.

    Tuples become lists and ``str``/``int``/``float`` subclasses (enums) become the base type, so a
    value read back from ``run.json`` compares equal to the one written.

    Args:
        value: The value to check.
        path: Where ``value`` sits, for the error message.

    Raises:
        ValueError: ``value`` holds a non-string key, NaN or infinity, or a non-JSON type.
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        # str.__str__ gives the underlying text; str() of a str-Enum member gives "Kind.FAST".
        return str.__str__(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{path} is {value!r}; JSON has no NaN or infinity")
        return float(value)
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{path} has the non-string key {key!r}")
            out[str(key)] = normalise_json(item, f"{path}.{key}")
        return out
    if isinstance(value, list | tuple):
        return [normalise_json(item, f"{path}[{i}]") for i, item in enumerate(value)]
    raise ValueError(
        f"{path} is a {type(value).__name__}, which is not JSON-serializable; "
        "pass plain JSON values (e.g. config.model_dump(mode='json'))"
    )


class ModelRun(BaseModel):
    """What ncaa-eval records about one run: the model, its full config, provenance and scope."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    run_id: RunId
    model_type: str = Field(
        pattern=MODEL_TYPE_PATTERN,
        max_length=250,
        description="Registered model name, e.g. 'elo'.",
    )
    hyperparameters: dict[str, Any] = Field(
        description="The full resolved model config as JSON data."
    )
    timestamp: AwareDatetime = Field(description="When the run started, normalised to UTC.")
    git_hash: str = Field(
        pattern=r"^(unknown|[0-9a-f]{40}|[0-9a-f]{64})$",
        description="Commit of the code that ran, or 'unknown' outside a git checkout.",
    )
    git_dirty: StrictBool | None = Field(
        description="Whether tracked files had uncommitted changes; None when unknown."
    )
    start_year: int = Field(ge=1900, le=2100, description="First season the run covers.")
    end_year: int = Field(ge=1900, le=2100, description="Last season the run covers.")
    prediction_count: int = Field(ge=0, description="Rows in predictions.parquet.")
    league: Literal["M", "W"]
    run_name: str | None = None
    ncaa_eval_version: str = Field(default=__version__, min_length=1)
    data_digest: str | None = Field(
        default=None, description="Digest of the input data, when the caller computed one."
    )

    @field_validator("hyperparameters")
    @classmethod
    def _json_only(cls, value: dict[str, Any]) -> dict[str, Any]:
        normalised: dict[str, Any] = normalise_json(value)
        return normalised

    @field_validator("timestamp")
    @classmethod
    def _to_utc(cls, value: AwareDatetime) -> AwareDatetime:
        return value.astimezone(UTC)

    @model_validator(mode="after")
    def _years_in_order(self) -> ModelRun:
        if self.start_year > self.end_year:
            raise ValueError(
                f"start_year {self.start_year} is after end_year {self.end_year}; "
                "start_year must be <= end_year"
            )
        return self


class Prediction(BaseModel):
    """One forecast: ``P(team A wins)`` for one game, team A being the lower TeamID."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    run_id: RunId
    game_id: str = Field(min_length=1)
    season: Int32
    team_a_id: Int32
    team_b_id: Int32
    pred_win_prob: float = Field(ge=0.0, le=1.0, allow_inf_nan=False)
    team_a_won: StrictBool | None = Field(
        default=None, description="The result, or None for a game not played (yet)."
    )

    @model_validator(mode="after")
    def _team_order(self) -> Prediction:
        if self.team_a_id >= self.team_b_id:
            raise ValueError(
                f"team_a_id {self.team_a_id} must be lower than team_b_id {self.team_b_id} "
                "(team A is the lower TeamID)"
            )
        return self
