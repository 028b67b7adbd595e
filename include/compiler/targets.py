"""The expectation targets the compiler knows, their units and their TS 28.312 conditions.

Target names are TS 28.312 Rel-18 EdgeService_Support names where the spec has one
(``DlThptPerUE``, ``UlThptPerUE``, ``DlLatency``, ``UlLatency``, ``maxNumberofUEs``). For what
28.312 has no target name, the compiler uses named extension targets called after the TS 28.541
ServiceProfile attributes (``jitter``, ``availability``) and ``reliability``; they travel as
generic ``ExpectationTarget`` objects, which 28.312 allows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .errors import IntentValidationError

# TM Forum intent ontology (TIO v3.6.0) quantity operators and the 28.312 conditions they mean.
QUAN_TO_CONDITION = {
    "smaller": "IS_LESS_THAN",
    "larger": "IS_GREATER_THAN",
    "atMost": "IS_EQUAL_TO_OR_LESS_THAN",
    "atLeast": "IS_EQUAL_TO_OR_GREATER_THAN",
}
CONDITION_TO_QUAN = {condition: quan for quan, condition in QUAN_TO_CONDITION.items()}

# Unit spellings accepted in intents, by dimension, with their factor to the canonical unit.
UNITS: dict[str, dict[str, float]] = {
    "time": {"ms": 1.0, "s": 1000.0, "us": 0.001},
    "throughput": {"kbit/s": 1.0, "Mbit/s": 1_000.0, "Gbit/s": 1_000_000.0},
    "percent": {"%": 1.0},
    "count": {"": 1.0},
}
CANONICAL_UNIT = {"time": "ms", "throughput": "kbit/s", "percent": "%", "count": ""}


@dataclass(frozen=True)
class TargetKind:
    """What the compiler knows about one target name.

    :param name: the TS 28.312 target name (or the extension name).
    :param dimension: ``time``, ``throughput``, ``percent`` or ``count``.
    :param condition: the condition the natural-language parser uses for it (the spec's own).
    :param standard: True when TS 28.312 defines the name for EdgeService_Support.
    """

    name: str
    dimension: str
    condition: str
    standard: bool


KINDS: dict[str, TargetKind] = {
    kind.name: kind
    for kind in (
        TargetKind("DlThptPerUE", "throughput", "IS_GREATER_THAN", True),
        TargetKind("UlThptPerUE", "throughput", "IS_GREATER_THAN", True),
        TargetKind("DlLatency", "time", "IS_LESS_THAN", True),
        TargetKind("UlLatency", "time", "IS_LESS_THAN", True),
        TargetKind("maxNumberofUEs", "count", "IS_LESS_THAN", True),
        TargetKind("jitter", "time", "IS_LESS_THAN", False),
        TargetKind("reliability", "percent", "IS_EQUAL_TO_OR_GREATER_THAN", False),
        TargetKind("availability", "percent", "IS_EQUAL_TO_OR_GREATER_THAN", False),
    )
}


def kind_of(name: str, *, field: str, stage: str) -> TargetKind:
    """Return the kind of target ``name`` or refuse it, listing the known names."""
    kind = KINDS.get(name)
    if kind is None:
        known = ", ".join(KINDS)
        raise IntentValidationError.single(
            field, f"unknown target {name!r}; known targets are {known}", stage=stage
        )
    return kind


def to_canonical(value: float, unit: str, kind: TargetKind, *, field: str, stage: str) -> float:
    """Convert ``value`` in ``unit`` to the canonical unit of ``kind``'s dimension."""
    factors = UNITS[kind.dimension]
    if unit not in factors:
        known = ", ".join(repr(u) for u in factors)
        raise IntentValidationError.single(
            field,
            f"unknown unit {unit!r} for {kind.name}; use one of {known}",
            stage=stage,
        )
    return value * factors[unit]


WHOLE_MS = frozenset({"DlLatency", "UlLatency"})
"""Targets TS 28.312 carries in whole milliseconds (``DLLatencyTarget`` and ``ULLatencyTarget``:
``targetValueRange`` of ``type: integer``)."""


def whole_ms(millis: float) -> int | None:
    """``millis`` as an int when it is a whole number of milliseconds (to within float noise), else None."""
    if not math.isfinite(millis):
        return None
    nearest = round(millis)
    return nearest if abs(millis - nearest) <= 1e-9 * max(1.0, abs(millis)) else None


def check_whole_ms(name: str, value: float, unit: str, *, field: str, stage: str, where: str = "") -> None:
    """Refuse a DlLatency or UlLatency that is not a whole number of ms once converted to ms.

    :param value: the value as given, in ``unit`` (a time unit).
    :param where: words put before the message (``condition 1: ``).
    """
    millis = value * UNITS["time"].get(unit, math.nan)
    if name not in WHOLE_MS or not math.isfinite(millis) or whole_ms(millis) is not None:
        return
    said = f"{value:g} {unit}" if unit == "ms" else f"{value:g} {unit} ({millis:g} ms)"
    lower, upper = math.floor(millis), math.ceil(millis)
    choices = f"{lower} ms or {upper} ms" if lower >= 1 else f"{upper} ms"
    raise IntentValidationError.single(
        field,
        f"{where}{name} {said}: TS 28.312 carries latency in whole milliseconds; say {choices}",
        stage=stage,
    )
