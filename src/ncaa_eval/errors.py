"""Exception classes shared by the whole library.

The library raises these and never prints or exits; the CLI turns an :class:`NcaaEvalError` into a
one-line ``Error: ...`` with exit code 1 and lets anything else keep its traceback.
"""


class NcaaEvalError(Exception):
    """An expected, user-fixable failure: bad input, missing data, unknown names."""


class DataValidationError(NcaaEvalError):
    """A source file or store failed validation; the message names the file, row and column."""


class StoreNotFoundError(NcaaEvalError):
    """No imported data store exists where one was expected."""


class NotFittedError(NcaaEvalError, ValueError):
    """A model was asked to predict before it was fitted."""
