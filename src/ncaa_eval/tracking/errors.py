"""Errors raised by the tracking package, and the one place MLflow's own errors are translated.

All three classes are user-fixable :class:`NcaaEvalError` subclasses, so the CLI prints them as one
``Error: ...`` line. :func:`store_errors` wraps every call into MLflow whose failure is not decided
case by case (a missing run, a missing artifact, an experiment created by someone else a moment
ago: those check :func:`error_code` where they are made).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from ncaa_eval.errors import NcaaEvalError


class RunNotFoundError(NcaaEvalError):
    """A run id is malformed, unknown, deleted, or names a run without ncaa-eval records."""


class AmbiguousRunIdError(NcaaEvalError):
    """A run id prefix matches more than one run."""


class TrackingStoreError(NcaaEvalError):
    """The MLflow tracking store cannot be opened, reached or written."""


#: MLflow's error code for an entity (run, artifact) that does not exist.
RESOURCE_DOES_NOT_EXIST = "RESOURCE_DOES_NOT_EXIST"
#: MLflow's error code for an entity (experiment) that another client created first.
RESOURCE_ALREADY_EXISTS = "RESOURCE_ALREADY_EXISTS"


def one_line(exc: BaseException, limit: int = 200) -> str:
    """The first line of an exception's message, shortened to ``limit`` characters."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def error_code(exc: BaseException) -> str | None:
    """MLflow's error code of ``exc`` (e.g. ``RESOURCE_DOES_NOT_EXIST``); None for other errors."""
    code = getattr(exc, "error_code", None)
    return code if isinstance(code, str) else None


@contextmanager
def store_errors(what: str, *, limit: int = 200) -> Iterator[None]:
    """Turn a failure of the tracking store inside the block into a one-line TrackingStoreError.

    Translated: :class:`~mlflow.exceptions.MlflowException` (what MLflow raises for a rejected
    request, a store it cannot open, or a server whose retries ran out), ``urllib3``'s HTTP errors
    and :class:`OSError`, which covers ``requests``' connection errors and reading or writing
    artifacts. An :class:`NcaaEvalError` passes through unchanged, as does anything else (a bug
    keeps its traceback).

    Args:
        what: The start of the message, e.g. ``"Cannot log metrics on run <id>"``; the first line
            of the cause follows it after a colon.
        limit: Characters kept of the cause.
    """
    from mlflow.exceptions import MlflowException
    from urllib3.exceptions import HTTPError

    try:
        yield
    except NcaaEvalError:
        raise
    except (MlflowException, HTTPError, OSError) as exc:
        raise TrackingStoreError(f"{what}: {one_line(exc, limit)}") from exc
