"""What one ``ncaa-eval tune`` asks for, and every check made before a study or run exists."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ncaa_eval import DEFAULT_EXPERIMENT, DEMO_EXPERIMENT
from ncaa_eval.errors import NcaaEvalError
from ncaa_eval.evaluation.walk_forward import WalkHistory, prepare_history
from ncaa_eval.ingest.repository import ParquetRepository
from ncaa_eval.model.base import Model, ModelConfig
from ncaa_eval.model.registry import get_model
from ncaa_eval.training.orchestrator import TrainRequest
from ncaa_eval.training.orchestrator import prepare as prepare_training
from ncaa_eval.tuning.space import SearchSpace, load_space
from ncaa_eval.tuning.storage import HEARTBEAT_SECONDS

#: The tuning window when none is given: every default was chosen on it.
DEFAULT_TUNE_YEARS = (2003, 2014)


class TuneRequest(BaseModel):
    """Everything one search needs; the CLI builds it from its options."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(min_length=1)
    league: Literal["M", "W"] = "M"
    tune_years: tuple[int, int] = DEFAULT_TUNE_YEARS
    holdout_years: tuple[int, int] | None = None
    trials: int = Field(default=50, ge=1, le=100_000)
    timeout: float | None = Field(default=None, gt=0)
    study: str | None = Field(default=None, min_length=1, max_length=200)
    storage: str | None = None
    workers: int = Field(default=1, ge=1, le=64)
    seed: int | None = Field(default=None, ge=0, le=2**31 - 1)
    data_dir: Path = Path("data")
    tracking_uri: str | None = None
    experiment: str | None = Field(default=None, min_length=1)
    space_file: Path | None = None
    output_dir: Path = Path("data")
    heartbeat: int = Field(default=HEARTBEAT_SECONDS, ge=1, le=3600)

    @model_validator(mode="after")
    def _windows_in_order(self) -> TuneRequest:
        first, last = self.tune_years
        if first > last:
            raise ValueError(f"tune years {first}-{last} are reversed; give FIRST-LAST")
        if self.holdout_years is not None:
            h_first, h_last = self.holdout_years
            if h_first > h_last:
                raise ValueError(f"holdout years {h_first}-{h_last} are reversed; give FIRST-LAST")
            if h_first <= last:
                raise ValueError(
                    f"holdout years {h_first}-{h_last} overlap or precede the tuning window "
                    f"{first}-{last}; the holdout must start after {last}"
                )
        return self


@dataclass(frozen=True)
class PreparedTune:
    """A request checked against the data and the model, ready to search."""

    request: TuneRequest
    model_class: type[Model]
    space: SearchSpace
    #: The model's defaults with the search-space file's fixed fields: what the best trial is
    #: compared with (trial 0 when it lies in the space).
    defaults: ModelConfig
    repository: ParquetRepository
    history: WalkHistory
    holdout: tuple[int, int] | None
    study_name: str
    experiment: str

    @property
    def identity(self) -> dict[str, Any]:
        """What a study is: workers joining it must agree on all of it."""
        r = self.request
        return {
            "model": r.model,
            "league": r.league,
            "tune_years": f"{r.tune_years[0]}-{r.tune_years[1]}",
            "space": self.space.to_json(),
            "data_digest": self.repository.digest,
        }


def prepare(request: TuneRequest) -> PreparedTune:
    """Check the model, the search space, the data and both windows; touch no store.

    Raises:
        NcaaEvalError: unknown model, nothing to tune, a bad search-space file, a league or a
            window outside the data, an unwritable output folder.
    """
    first, last = request.tune_years
    model_class = get_model(request.model)
    space = load_space(model_class.config_class, request.model, request.space_file)
    # Checked as `train` checks a run, with the space's fixed fields (a fixed ensemble's
    # members, say): the defaults with them must forecast the window (trial 0); a trial
    # drawing a config that cannot fails on its own.
    checked = prepare_training(
        TrainRequest(
            model=request.model,
            start_year=first,
            end_year=last,
            league=request.league,
            data_dir=request.data_dir,
            output_dir=request.output_dir,
            hyperparameters=space.overrides({}),
        )
    )
    if not space.dimensions:
        hint = (
            "every searched field is fixed by the search-space file; open a range in it"
            if request.space_file is not None
            else "its config declares no search ranges; give --space FILE.json with ranges"
        )
        raise NcaaEvalError(f"Model '{request.model}' has nothing to tune: {hint}.")
    repository = checked.repository
    history = prepare_history(repository, request.league, first, last)
    holdout = request.holdout_years
    if holdout is not None:
        _check_holdout(repository, request, holdout)
    demo = repository.is_demo
    name = request.study or (
        f"{request.model}-{request.league}-{first}-{last}" + ("-demo" if demo else "")
    )
    return PreparedTune(
        request=request,
        model_class=model_class,
        space=space,
        defaults=checked.config,
        repository=repository,
        history=history,
        holdout=holdout,
        study_name=name,
        experiment=request.experiment or (DEMO_EXPERIMENT if demo else DEFAULT_EXPERIMENT),
    )


def _check_holdout(
    repository: ParquetRepository, request: TuneRequest, holdout: tuple[int, int]
) -> None:
    available = repository.seasons_available(request.league)
    first, last = holdout
    if not available or not available[0] <= first <= last <= available[-1]:
        have = f"{available[0]}-{available[-1]}" if available else "none"
        raise NcaaEvalError(
            f"--holdout-years {first}-{last} are outside the {request.league} data ({have}): "
            f"choose years within {have}, after the tuning window."
        )
    # Raises if the window holds no played tournament.
    prepare_history(repository, request.league, first, last)


def parse_years(text: str, option: str) -> tuple[int, int]:
    """``2003-2014`` or ``2014`` as (first, last).

    Raises:
        NcaaEvalError: anything else, in one line naming the option.
    """
    parts = text.strip().split("-")
    try:
        years = [int(p) for p in parts]
    except ValueError:
        years = []
    if len(years) not in (1, 2) or not all(1985 <= y <= 2100 for y in years):
        raise NcaaEvalError(
            f"{option} {text!r} is not a season range; give FIRST-LAST such as 2003-2014, or "
            "one season."
        )
    return years[0], years[-1]
