"""The MLflow Model Registry for runs' models: register, list, and set or move aliases.

A run's MLflow Model (``runs:/<id>/model``) is registered as a new version of a named model; an
alias (``champion``) points at one version, and ``models:/NAME@champion`` follows it when it moves.
Works on any store with a registry: the local SQLite store and a team server alike.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ncaa_eval.errors import NcaaEvalError
from ncaa_eval.tracking.errors import (
    RESOURCE_ALREADY_EXISTS,
    RESOURCE_DOES_NOT_EXIST,
    RunNotFoundError,
    error_code,
    store_errors,
)
from ncaa_eval.tracking.models import run_model_id

if TYPE_CHECKING:
    from mlflow.entities.model_registry import ModelVersion
    from mlflow.tracking import MlflowClient

    from ncaa_eval.tracking.store import RunStore

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_ALIAS_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")
_VERSION_ALIAS_RE = re.compile(r"^[vV]\d+$")


class RegistryError(NcaaEvalError):
    """A registered model, version or alias is malformed or unknown."""


@dataclass(frozen=True)
class ModelVersionInfo:
    """One registered version: which run's model it is, and the aliases pointing at it."""

    name: str
    version: int
    run_id: str | None
    created: datetime
    aliases: list[str] = field(default_factory=list)

    @property
    def uri(self) -> str:
        """``models:/NAME/VERSION``."""
        return f"models:/{self.name}/{self.version}"


@dataclass(frozen=True)
class RegisteredModelInfo:
    """A registered model with its versions, newest first."""

    name: str
    versions: list[ModelVersionInfo]

    @property
    def aliases(self) -> dict[str, int]:
        """Alias -> version."""
        return {a: v.version for v in self.versions for a in v.aliases}


def check_model_name(name: str) -> str:
    """Refuse a registered-model name MLflow or a ``models:/`` URI would trip over."""
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise RegistryError(
            f"Invalid model name {name!r}: use 1-128 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit (e.g. ncaa-men)."
        )
    return name


def check_alias(alias: str) -> str:
    """Refuse an alias MLflow reserves or cannot store."""
    if not isinstance(alias, str) or not _ALIAS_RE.match(alias):
        raise RegistryError(
            f"Invalid alias {alias!r}: use 1-64 letters, digits, '_' or '-', starting with a "
            "letter or '_' (e.g. champion)."
        )
    if alias.lower() == "latest" or _VERSION_ALIAS_RE.match(alias):
        raise RegistryError(
            f"Alias {alias!r} is reserved by MLflow ('latest' and v<number> name versions); "
            "choose another, e.g. champion."
        )
    return alias


def register_run_model(
    store: RunStore, run_id: str, name: str, alias: str | None = None
) -> ModelVersionInfo:
    """Register the MLflow Model of ``run_id`` as a new version of ``name``; optionally alias it.

    Raises:
        RegistryError: a bad name or alias.
        RunNotFoundError: unknown run, or a run without a model.
        TrackingStoreError: the store has no registry or cannot be written.
    """
    check_model_name(name)
    if alias is not None:
        check_alias(alias)
    from mlflow.tracking._tracking_service.utils import _use_tracking_uri

    model_id = run_model_id(store, run_id)
    if model_id is None:
        raise RunNotFoundError(
            f"Run {run_id} has no MLflow Model: only `ncaa-eval train` runs log one (runs "
            "trained before it did have none); train it again to register its model."
        )
    client = store.client
    with store_errors(f"Cannot register run {run_id}'s model as '{name}'"):
        try:
            client.create_registered_model(
                name, description="Forecasts of `ncaa-eval train` runs (P(team A wins))."
            )
        except Exception as exc:
            if error_code(exc) != RESOURCE_ALREADY_EXISTS:
                raise
        # MLflow resolves the models:/ source against the global tracking URI, not the client's.
        with _use_tracking_uri(store.tracking_uri):
            created = client.create_model_version(
                name, source=f"models:/{model_id}", run_id=run_id, model_id=model_id
            )
        if alias is not None:
            client.set_registered_model_alias(name, alias, str(created.version))
    return _version(client, name, int(created.version))


def set_alias(
    store: RunStore, name: str, alias: str, version: int
) -> tuple[ModelVersionInfo, int | None]:
    """Point ``alias`` of ``name`` at ``version`` (moving it if it pointed elsewhere).

    Returns:
        The version now aliased, and the version the alias pointed at before (None if new).

    Raises:
        RegistryError: a bad name or alias, or no such model or version.
    """
    check_model_name(name)
    check_alias(alias)
    client = store.client
    _require_model(client, name)
    info = _info(client, name)
    found = next((v for v in info.versions if v.version == version), None)
    if found is None:
        have = ", ".join(str(v.version) for v in reversed(info.versions)) or "none"
        raise RegistryError(f"Model '{name}' has no version {version} (versions: {have}).")
    before = info.aliases.get(alias)
    with store_errors(f"Cannot set alias '{alias}' of '{name}'"):
        client.set_registered_model_alias(name, alias, str(version))
    aliases = sorted({*found.aliases, alias})
    return replace(found, aliases=aliases), before


def delete_alias(store: RunStore, name: str, alias: str) -> int:
    """Remove ``alias`` from ``name``; return the version it pointed at.

    Raises:
        RegistryError: a bad name, or an alias that does not exist.
    """
    check_model_name(name)
    check_alias(alias)
    version = alias_version(store, name, alias)
    with store_errors(f"Cannot delete alias '{alias}' of '{name}'"):
        store.client.delete_registered_model_alias(name, alias)
    return version


def alias_version(store: RunStore, name: str, alias: str) -> int:
    """The version ``alias`` points at.

    Raises:
        RegistryError: no such model, or no such alias on it.
    """
    client = store.client
    _require_model(client, name)
    with store_errors(f"Cannot read alias '{alias}' of '{name}'"):
        try:
            return int(client.get_model_version_by_alias(name, alias).version)
        except Exception as exc:
            if error_code(exc) not in (RESOURCE_DOES_NOT_EXIST, "INVALID_PARAMETER_VALUE"):
                raise
    known = ", ".join(sorted(_info(client, name).aliases)) or "none"
    raise RegistryError(
        f"Model '{name}' has no alias '{alias}' (aliases: {known}); set one with "
        f"`ncaa-eval registry alias {name} {alias} VERSION`."
    )


def list_registered(store: RunStore, name: str | None = None) -> list[RegisteredModelInfo]:
    """Every registered model (or the one named) with its versions and aliases, by name.

    Raises:
        RegistryError: ``name`` is given and not registered.
    """
    client = store.client
    if name is not None:
        check_model_name(name)
        _require_model(client, name)
        return [_info(client, name)]
    names: list[str] = []
    token: str | None = None
    with store_errors("Cannot list the registered models"):
        while True:
            page = client.search_registered_models(max_results=1000, page_token=token)
            names += [str(m.name) for m in page]
            token = page.token
            if not token:
                break
    return [_info(client, n) for n in sorted(names)]


def _info(client: MlflowClient, name: str) -> RegisteredModelInfo:
    with store_errors(f"Cannot read the versions of '{name}'"):
        found = client.search_model_versions(f"name = '{name}'")
        # Version searches leave the aliases out; the registered model has them all.
        aliases = dict(client.get_registered_model(name).aliases or {})
    by_version: dict[int, list[str]] = {}
    for alias, version in aliases.items():
        by_version.setdefault(int(version), []).append(str(alias))
    versions = [_as_info(v, by_version.get(int(v.version), [])) for v in found]
    return RegisteredModelInfo(name, sorted(versions, key=lambda v: -v.version))


def _as_info(v: ModelVersion, aliases: list[str]) -> ModelVersionInfo:
    return ModelVersionInfo(
        name=str(v.name),
        version=int(v.version),
        run_id=v.run_id or None,
        created=datetime.fromtimestamp(int(v.creation_timestamp or 0) / 1000, tz=UTC),
        aliases=sorted(aliases),
    )


def _version(client: MlflowClient, name: str, version: int) -> ModelVersionInfo:
    info = _info(client, name)
    return next(v for v in info.versions if v.version == version)


def _require_model(client: MlflowClient, name: str) -> None:
    with store_errors(f"Cannot read the registered model '{name}'"):
        try:
            client.get_registered_model(name)
            return
        except Exception as exc:
            if error_code(exc) != RESOURCE_DOES_NOT_EXIST:
                raise
    raise RegistryError(
        f"No registered model '{name}' in this store; register a run's model with "
        f"`ncaa-eval runs register RUN --name {name}` (see `ncaa-eval registry list`)."
    )
