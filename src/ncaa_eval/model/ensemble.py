"""The ensemble: a blend of other registered models' forecasts, itself fitted walk-forward.

Its config names the members (built-in or plugin models, anything but another ensemble) and,
optionally, part of each member's config. The blend works on the members' log-odds
``z_i = logit(p_i)``, with no intercept::

    P(team A wins) = sigmoid(w_1 z_1 + ... + w_k z_k)

so ``p(A, B) = 1 - p(B, A)`` holds for the blend as for every member, and the weights are kept
non-negative, so the blend moves with each member's forecast (a home court, a better rating). Two
blends:

* ``log_odds``: the weights sum to 1, a logarithmic pool of the members. One member alone is that
  member's forecast, unchanged.
* ``logistic``: the weights are free (a logistic meta-model without intercept): besides weighing
  the members it can sharpen (sum above 1) or soften (sum below 1) their pooled forecast.

The weights minimise the log loss of the blend over the members' out-of-sample forecasts of
earlier tournaments, plus ``shrink`` times the squared distance of the weights from equal weights
``1/k``. With no earlier tournament to learn from, the weights ARE equal: that is the prior the
penalty pulls toward.

The walk-forward (:func:`ncaa_eval.evaluation.walk_forward.walk_forward`) runs each member's own
walk-forward once, then for each season fits the blend on the members' forecasts of the
``blend_seasons`` tournaments before it (main draw, played) and forecasts that season: a
walk-forward inside the walk-forward. Here, ``fit(X, y)`` and ``predict_proba(X)`` take
``X`` = the members' probabilities, one column per member, named by member.

A fitted ensemble keeps the weights each forecast season used (:attr:`EnsembleModel.by_season_`)
and, when a walk-forward built it, its fitted members (:attr:`EnsembleModel.members_`), which
:meth:`~ncaa_eval.model.base.Model.save` writes in ``members/<name>/`` with their own ``save``
(JSON, UBJ; no pickle).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any, ClassVar, Literal, Self

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import Field, ValidationError, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from ncaa_eval.model.base import STATE_FILE, FloatArray, Model, ModelConfig, WalkScope
from ncaa_eval.model.inputs import numeric_matrix
from ncaa_eval.model.registry import ModelNotFoundError, get_model, list_models, register_model
from ncaa_eval.tunable import tunable

NAME = "ensemble"
#: Members a config may name: the weights are found by trying each subset of members once the
#: unconstrained fit gives one a negative weight, 2^k fits at worst.
MAX_MEMBERS = 8
#: The folder of a saved ensemble holding each fitted member's own saved folder.
MEMBERS_DIR = "members"
#: Member probabilities are kept this far from 0 and 1 before taking their log-odds.
_EPS = 1e-6


class EnsembleConfig(ModelConfig):
    """Hyperparameters of :class:`EnsembleModel`.

    ``member_configs`` is completed, member by member, with that model's defaults (a nested group
    such as ``features`` with the member's own default for it), so a saved config names every
    member setting the run used. ``blend``, ``blend_seasons`` and ``shrink`` declare the ranges
    ``ncaa-eval tune`` searches; the members' settings are tuned with the members themselves.

    The blend's defaults were chosen on men's tournaments 2003-2014 only (walk-forward Brier of
    elo + logistic_regression + xgboost): ``log_odds`` beat ``logistic`` at every setting
    (0.1802 vs 0.1804 at best), 9 tournaments beat 3, 5, 7, 12 and 15 (0.1802 to 0.1806), and a
    light pull (1e-4: 0.1802) beat 0.01 (0.1808) and equal weights (0.1810). The fitted weights
    go mostly to XGBoost (0.1801 alone): the non-negative weights drop what adds nothing.
    The members were then chosen with ``ncaa-eval tune --model ensemble --space`` fixing each set
    (``bench/spaces/ensemble-*.json``, 20 trials each, men 2003-2014): elo + logistic_regression
    + xgboost + margin, elo + xgboost + margin and logistic_regression + xgboost + margin all
    0.1802, xgboost + margin 0.1803. No set separates from the others; the default takes
    elo + xgboost + margin, the three that see the games differently (a rating walk, trees on
    the features, the point margin) for the cost of the cheapest pair.
    """

    members: tuple[str, ...] = Field(
        default=("elo", "xgboost", "margin"),
        description="Registered models blended, by name (built-ins or plugins, not an ensemble).",
    )
    member_configs: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description=(
            "Each member's config by member name; a partial one is completed with the "
            "member's defaults."
        ),
    )
    blend: Literal["log_odds", "logistic"] = Field(
        default="log_odds",
        description=(
            "log_odds: weights on the members' log-odds summing to 1 (a pool); logistic: free "
            "weights, which can also sharpen or soften the pooled forecast."
        ),
        json_schema_extra=tunable(),
    )
    blend_seasons: int = Field(
        default=9,
        ge=1,
        le=40,
        description="A season's blend is fitted on the members' forecasts of this many "
        "tournaments before it.",
        json_schema_extra=tunable(2, 15),
    )
    shrink: float = Field(
        default=1e-4,
        ge=0,
        le=100,
        description="Pull of the weights toward equal weights (ridge, added to the mean log loss).",
        json_schema_extra=tunable(1e-5, 1.0, log=True),
    )

    @field_validator("members")
    @classmethod
    def _known_members(cls, members: tuple[str, ...]) -> tuple[str, ...]:
        if not members:
            raise _error(
                'give at least one member model, e.g. ["elo", "logistic_regression", "xgboost"]'
            )
        if len(members) > MAX_MEMBERS:
            raise _error(f"{len(members)} members; give at most {MAX_MEMBERS}")
        twice = sorted({m for m in members if members.count(m) > 1})
        if twice:
            raise _error(f"'{twice[0]}' is named twice; name each member once")
        for name in members:
            if name == NAME:
                raise _error(f"an ensemble cannot blend itself; remove '{NAME}' from members")
            try:
                member = get_model(name)
            except ModelNotFoundError:
                raise _error(
                    f"unknown model '{name}'; choose among {', '.join(_blendable())}"
                ) from None
            if member.composite:
                raise _error(f"'{name}' blends other models itself; name its members instead")
        return members

    @field_validator("member_configs")
    @classmethod
    def _complete_member_configs(
        cls, configs: dict[str, dict[str, Any]], info: ValidationInfo
    ) -> dict[str, dict[str, Any]]:
        members = info.data.get("members")
        if members is None:  # members are invalid; that error is reported already
            return configs
        strangers = [name for name in configs if name not in members]
        if strangers:
            raise _error(
                f"'{strangers[0]}' is not a member (members: {', '.join(members)}); "
                "give configs for members only"
            )
        return {name: member_config(name, configs.get(name, {})) for name in members}

    def config_of(self, name: str) -> ModelConfig:
        """The validated config of member ``name``."""
        return get_model(name).config_class.model_validate(self.member_configs[name])

    def forecast_problem(self, scope: WalkScope, seasons: Sequence[int]) -> str | None:
        """Every member must forecast the seasons (the blend's earlier tournaments are only
        those every member can forecast)."""
        for name in self.members:
            problem = self.config_of(name).forecast_problem(scope, seasons)
            if problem is not None:
                return f"ensemble member {name}: {problem.removeprefix(f'{name}: ')}"
        return None


def member_config(name: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """Member ``name``'s full config (JSON) from ``values``, given in part or in full.

    A full config saved before some of the member's fields existed gets their old values
    (:meth:`~ncaa_eval.model.base.ModelConfig.complete_saved`); a part is completed with the
    member's defaults, a nested group (``features``) with the member's own default for it.

    Raises:
        PydanticCustomError: the member's config refuses a value, named in one line.
    """
    config_class = get_model(name).config_class
    given = config_class.complete_saved(dict(values))
    merged = _merged(config_class().model_dump(mode="json"), given)
    try:
        text: str | None = json.dumps(merged)
    except (TypeError, ValueError):
        text = None  # not JSON (a Python caller's own objects): validated as given
    try:
        # Strict, as a --config file is: "k": "30" is a mistake to report, not a number to guess.
        config = (
            config_class.model_validate_json(text, strict=True)
            if text is not None
            else config_class.model_validate(merged)
        )
    except ValidationError as exc:
        raise _error(f"{name}: {_problems(exc)}; see `ncaa-eval models` for its fields") from None
    return config.model_dump(mode="json")


def _merged(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        below = out.get(key)
        out[key] = (
            _merged(below, value)
            if isinstance(below, Mapping) and isinstance(value, Mapping)
            else value
        )
    return out


def _problems(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(config)"
        if err["type"] == "extra_forbidden":
            parts.append(f"unknown field '{loc}'")
        else:
            shown = repr(err.get("input"))
            shown = shown if len(shown) <= 40 else shown[:37] + "..."
            parts.append(f"{loc}: {err['msg']} (got {shown})")
    return "; ".join(parts)


def _error(message: str) -> PydanticCustomError:
    return PydanticCustomError("ensemble_config", message)


def _blendable() -> list[str]:
    return [n for n in list_models() if not get_model(n).composite]


# --- the blend ---------------------------------------------------------------------------------


def log_odds(probabilities: FloatArray) -> FloatArray:
    """``logit(p)``, with ``p`` kept within ``1e-6`` of 0 and 1."""
    q = np.clip(np.asarray(probabilities, dtype=np.float64), _EPS, 1.0 - _EPS)
    out: FloatArray = np.log(q) - np.log1p(-q)
    return out


def blend(probabilities: FloatArray, weights: FloatArray) -> FloatArray:
    """``sigmoid(sum_i w_i logit(p_i))`` per row of ``probabilities`` (one column per member).

    A single member with weight 1 is returned as it is: a pool of one forecast is that forecast.
    """
    p = np.asarray(probabilities, dtype=np.float64)
    if p.shape[1] == 1 and weights[0] == 1.0:
        out: FloatArray = np.clip(p[:, 0], 0.0, 1.0)
        return out
    return _sigmoid(log_odds(p) @ weights)


def _sigmoid(z: FloatArray) -> FloatArray:
    out: FloatArray = np.exp(-np.logaddexp(0.0, -z))
    return out


def fit_weights(z: FloatArray, y: FloatArray, *, shrink: float, pool: bool) -> FloatArray:
    """The non-negative weights minimising ``mean log loss + shrink * |w - 1/k|^2``.

    Args:
        z: the members' log-odds, one row per game, one column per member.
        y: 1 where team A won, else 0.
        shrink: the ridge pull toward equal weights.
        pool: the weights sum to 1 (``log_odds``), else they are free (``logistic``).

    With no game, the weights are the prior: equal. The problem is convex: if the fit over every
    member gives a negative weight, the best fit lies on a face where some weights are 0, and
    each face is fitted (Newton's method on its affine hull), keeping the best that is feasible.
    """
    k = z.shape[1]
    prior = np.full(k, 1.0 / k)
    if len(y) == 0:
        return prior
    problem = _Penalised(z, y, shrink, prior)
    every = _face_fit(problem, tuple(range(k)), pool)
    if (every >= 0).all():
        return every
    best, best_loss = prior if pool else np.zeros(k), np.inf
    smallest = 1 if pool else 0
    for size in range(k - 1, smallest - 1, -1):
        for face in combinations(range(k), size):
            w = _face_fit(problem, face, pool)
            if (w >= 0).all():
                loss = problem.value(w)
                if loss < best_loss:
                    best, best_loss = w, loss
    return best


@dataclass(frozen=True)
class _Penalised:
    """Mean log loss of ``sigmoid(z @ w)`` plus ``shrink * |w - prior|^2``."""

    z: FloatArray
    y: FloatArray
    shrink: float
    prior: FloatArray

    def value(self, w: FloatArray) -> float:
        s = self.z @ w
        loss = np.mean(np.logaddexp(0.0, s) - self.y * s)
        return float(loss + self.shrink * np.sum((w - self.prior) ** 2))

    def gradient_hessian(self, w: FloatArray) -> tuple[FloatArray, FloatArray]:
        n, k = self.z.shape
        p = _sigmoid(self.z @ w)
        gradient = self.z.T @ (p - self.y) / n + 2.0 * self.shrink * (w - self.prior)
        hessian = (self.z.T * (p * (1.0 - p))) @ self.z / n + 2.0 * self.shrink * np.eye(k)
        return gradient, hessian


def _face_fit(problem: _Penalised, face: tuple[int, ...], pool: bool) -> FloatArray:
    """The best weights with every member outside ``face`` at 0 (and summing to 1 if ``pool``)."""
    k = len(problem.prior)
    base = np.zeros(k)
    if pool:
        base[list(face)] = 1.0 / len(face)
        basis = np.zeros((k, len(face) - 1))
        basis[list(face), :] = _sum_zero_basis(len(face))
    else:
        basis = np.eye(k)[:, list(face)]
        base = basis @ (basis.T @ problem.prior)  # start from the prior's weights on the face
    if basis.shape[1] == 0:
        return base
    w = base
    value = problem.value(w)
    for _ in range(100):
        gradient, hessian = problem.gradient_hessian(w)
        g, h = basis.T @ gradient, basis.T @ hessian @ basis
        step = -np.linalg.lstsq(h, g, rcond=None)[0]
        decrease = float(g @ step)
        if -decrease < 1e-14:
            break
        t = 1.0
        while t > 1e-10:
            trial = w + t * (basis @ step)
            trial_value = problem.value(trial)
            if trial_value <= value + 1e-4 * t * decrease:
                break
            t /= 2.0
        else:
            break
        w, value = trial, trial_value
    return w


def _sum_zero_basis(size: int) -> FloatArray:
    """An orthonormal basis (columns) of the vectors of ``size`` numbers summing to 0."""
    basis = np.zeros((size, size - 1))
    for j in range(1, size):
        basis[:j, j - 1] = 1.0
        basis[j, j - 1] = -float(j)
        basis[:, j - 1] /= np.sqrt(j * (j + 1.0))
    return basis


# --- the model ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class BlendFit:
    """One fit of the blend: the weights, and what they were fitted on."""

    #: One weight per member, in the config's member order.
    weights: FloatArray
    #: The tournaments whose member forecasts it was fitted on (none: the equal-weight prior).
    seasons: tuple[int, ...]
    #: Scored games it was fitted on.
    games: int

    def to_json(self) -> dict[str, Any]:
        return {"weights": self.weights.tolist(), "seasons": list(self.seasons),
                "games": self.games}  # fmt: skip

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BlendFit:
        return cls(
            weights=np.array(data["weights"], dtype=np.float64),
            seasons=tuple(int(s) for s in data["seasons"]),
            games=int(data["games"]),
        )


@register_model(NAME)
class EnsembleModel(Model):
    """A blend of registered models' log-odds, weights fitted on their earlier tournaments."""

    config_class: ClassVar[type[ModelConfig]] = EnsembleConfig
    composite: ClassVar[bool] = True
    learned_title: ClassVar[str] = (
        "Member weights on the log-odds: the blend kept for later seasons, then each forecast "
        "season's (newest first)"
    )
    config: EnsembleConfig

    def __init__(self, config: EnsembleConfig | None = None) -> None:
        super().__init__(config)
        #: The blend :meth:`predict_proba` applies.
        self.blend_: BlendFit | None = None
        #: The season that blend forecast in a walk-forward (None: seasons after its tournaments).
        self.season_: int | None = None
        #: The blend each season of a walk-forward was forecast with.
        self.by_season_: dict[int, BlendFit] = {}
        #: The fitted members, when a walk-forward built the ensemble (else empty).
        self.members_: dict[str, Model] = {}

    @property
    def members(self) -> tuple[str, ...]:
        """The member names, in order (the columns :meth:`predict_proba` takes)."""
        return self.config.members

    def member_factory(self, name: str) -> Callable[[], Model]:
        """Builds a fresh, unfitted member ``name`` with its config."""
        cls, config = get_model(name), self.config.config_of(name)
        return lambda: cls(config)

    @property
    def is_fitted(self) -> bool:
        """Whether a blend has been fitted (or loaded)."""
        return self.blend_ is not None

    def fit_blend(
        self, probabilities: FloatArray, y: npt.ArrayLike, seasons: tuple[int, ...] = ()
    ) -> BlendFit:
        """The blend fitted on the members' ``probabilities`` of games with outcomes ``y``."""
        target = np.asarray(y, dtype=np.float64).ravel()
        weights = fit_weights(
            log_odds(probabilities),
            target,
            shrink=self.config.shrink,
            pool=self.config.blend == "log_odds",
        )
        return BlendFit(weights, seasons, len(target))

    def fit(self, X: pd.DataFrame, y: npt.ArrayLike) -> Self:
        """Fit the blend on the members' probabilities ``X`` (a column per member) of games won
        by team A where ``y`` is 1.

        Raises:
            ValueError: a member column is missing or not numeric, a probability is outside
                ``[0, 1]``, or ``y`` is not 0/1 of the same length.
        """
        p = self._probabilities(X, "fit")
        target = np.asarray(y, dtype=np.float64).ravel()
        if target.size != len(p) or not np.isin(target, (0.0, 1.0)).all():
            raise ValueError(f"y must hold one 0/1 label per row of X ({len(p)} rows).")
        self.blend_ = self.fit_blend(p, target)
        self.season_ = None
        return self

    def predict_proba(self, X: pd.DataFrame) -> FloatArray:
        """``P(team A wins)``: the blend of the members' probabilities ``X``, a column each.

        Raises:
            NotFittedError: no blend is fitted.
            ValueError: a member column is missing, not numeric, or outside ``[0, 1]``.
        """
        self._check_fitted()
        assert self.blend_ is not None
        return blend(self._probabilities(X, "predict_proba"), self.blend_.weights)

    def _probabilities(self, X: pd.DataFrame, method: str) -> FloatArray:
        p = numeric_matrix(X, list(self.members), method)
        bad = ~((p >= 0.0) & (p <= 1.0))
        if bad.any():
            column = self.members[int(np.flatnonzero(bad.any(axis=0))[0])]
            raise ValueError(f"{method}: column {column} holds values outside [0, 1].")
        return p

    @classmethod
    def assemble(
        cls,
        config: EnsembleConfig,
        fitted: BlendFit,
        by_season: Mapping[int, BlendFit],
        members: Mapping[str, Model],
        season: int | None = None,
    ) -> EnsembleModel:
        """An ensemble built by a walk-forward: its blend, every season's, and its members."""
        model = cls(config)
        model.blend_ = fitted
        model.season_ = season
        model.by_season_ = dict(by_season)
        model.members_ = dict(members)
        return model

    def blend_only(self) -> EnsembleModel:
        """A copy holding the blend but no member (each member is packaged on its own)."""
        twin = copy.copy(self)
        twin.members_ = {}
        return twin

    def weights_for(self, season: int, end_year: int) -> FloatArray | None:
        """The weights the walk-forward forecast ``season`` with; after ``end_year`` (the last
        tournament the blend learned from), the blend kept for later seasons. None: unknown."""
        if season > end_year:
            return None if self.blend_ is None else self.blend_.weights
        found = self.by_season_.get(season)
        return None if found is None else found.weights

    def learned(self) -> pd.DataFrame:
        """The member weights: the blend :meth:`predict_proba` applies, then each season's.

        One row per blend, newest first: ``forecast`` (the season it forecast, or ``after
        YYYY`` for the blend fitted through YYYY's tournament, kept for later seasons),
        ``tournaments`` (the seasons it was fitted on; ``none`` for the equal-weight prior),
        ``games``, then one column of weights per member.

        Raises:
            NotFittedError: no blend is fitted.
        """
        self._check_fitted()
        assert self.blend_ is not None
        rows: list[tuple[str, BlendFit]] = []
        if self.season_ is None:
            seasons = self.blend_.seasons
            rows.append((f"after {seasons[-1]}" if seasons else "fitted", self.blend_))
        rows += [(str(s), self.by_season_[s]) for s in sorted(self.by_season_, reverse=True)]
        table = pd.DataFrame(
            {
                "forecast": [label for label, _ in rows],
                "tournaments": [_span(fit.seasons) for _, fit in rows],
                "games": np.array([fit.games for _, fit in rows], dtype=np.int64),
            }
        )
        weights = np.array([fit.weights for _, fit in rows], dtype=np.float64)
        for i, name in enumerate(self.members):
            table[name] = weights[:, i]
        return table

    def _save_state(self, path: Path) -> None:
        assert self.blend_ is not None
        state = {
            "blend": self.blend_.to_json(),
            "season": self.season_,
            "by_season": {str(s): fit.to_json() for s, fit in sorted(self.by_season_.items())},
            "members": list(self.members_),
        }
        (path / STATE_FILE).write_text(json.dumps(state, indent=2))
        for name, member in self.members_.items():
            member.save(path / MEMBERS_DIR / name)

    def _load_state(self, path: Path) -> None:
        state = json.loads((path / STATE_FILE).read_text())
        self.blend_ = BlendFit.from_json(state["blend"])
        self.season_ = None if state["season"] is None else int(state["season"])
        self.by_season_ = {int(s): BlendFit.from_json(f) for s, f in state["by_season"].items()}
        self.members_ = {
            name: get_model(name).load(path / MEMBERS_DIR / name) for name in state["members"]
        }


def _span(seasons: tuple[int, ...]) -> str:
    if not seasons:
        return "none"
    return str(seasons[0]) if len(seasons) == 1 else f"{seasons[0]}-{seasons[-1]}"


__all__ = ["BlendFit", "EnsembleConfig", "EnsembleModel", "blend", "fit_weights", "log_odds"]
