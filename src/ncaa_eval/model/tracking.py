"""The run records and their store, under the name the original story gave them.

Tracking is its own package, :mod:`ncaa_eval.tracking`; this module only re-exports the records
(:class:`ModelRun`, :class:`Prediction`) and :class:`RunStore` for code written against
``ncaa_eval.model.tracking``.
"""

from ncaa_eval.tracking import ModelRun, Prediction, RunStore

__all__ = ["ModelRun", "Prediction", "RunStore"]
