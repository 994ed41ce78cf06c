"""Declaring a config field's search range for ``ncaa-eval tune``, next to its default.

A model's config declares which of its fields ``tune`` searches, and over what, in the field
itself::

    from pydantic import Field
    from ncaa_eval.tunable import tunable

    class MyConfig(ModelConfig):
        k: float = Field(38.0, ge=0, le=500, description="...",
                         json_schema_extra=tunable(20, 80))
        depth: int = Field(4, ge=1, le=12, description="...",
                           json_schema_extra=tunable(2, 8))
        rate: float = Field(0.05, gt=0, le=1, description="...",
                            json_schema_extra=tunable(0.005, 0.3, log=True))
        toward: Literal["a", "b"] = Field("a", description="...",
                                          json_schema_extra=tunable())

A plugin model declares its own the same way and is tunable with no change to ncaa-eval. The range
must lie within the field's own bounds (``ge``/``le``...): ``ncaa-eval tune`` checks it, and
``ncaa-eval models`` shows it. This module imports nothing, so any config can use it.
"""

from __future__ import annotations

from typing import Any

#: The key of a field's ``json_schema_extra`` that holds its search range.
TUNE_KEY = "tune"


def tunable(
    low: float | None = None,
    high: float | None = None,
    *,
    log: bool = False,
    step: float | None = None,
    choices: list[Any] | None = None,
) -> dict[str, Any]:
    """The ``json_schema_extra`` of a field ``ncaa-eval tune`` searches.

    Args:
        low: Smallest value tried (numbers).
        high: Largest value tried (numbers).
        log: Sample on a log scale (``low`` > 0).
        step: Grid step (numbers); integers default to 1.
        choices: The values tried, for a field with no order (a flag, a name). A ``bool`` or
            ``Literal`` field declared with no arguments tries every value it can take.
    """
    spec: dict[str, Any] = {}
    if low is not None:
        spec["low"] = low
    if high is not None:
        spec["high"] = high
    if log:
        spec["log"] = True
    if step is not None:
        spec["step"] = step
    if choices is not None:
        spec["choices"] = list(choices)
    return {TUNE_KEY: spec}
