"""Errors raised by the tracking package; all are user-fixable :class:`NcaaEvalError` subclasses."""

from __future__ import annotations

from ncaa_eval.errors import NcaaEvalError


class RunNotFoundError(NcaaEvalError):
    """A run id is malformed, unknown, deleted, or names a run without ncaa-eval records."""


class AmbiguousRunIdError(NcaaEvalError):
    """A run id prefix matches more than one run."""


class TrackingStoreError(NcaaEvalError):
    """The MLflow tracking store cannot be opened, reached or written."""
