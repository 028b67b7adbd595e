"""Input limits and plausible ranges for every value the compiler accepts.

Sizes are checked before anything is parsed, so a huge payload is refused in microseconds.
Ranges are physical plausibility bounds for an edge slice, not SLO thresholds.
"""

from __future__ import annotations

import re

from .errors import IntentValidationError

MAX_TEXT_CHARS = 4_000
"""Longest natural-language intent accepted."""

MAX_JSON_BYTES = 1_000_000
"""Largest TMF921 intent document accepted (JSON)."""

MAX_EXPRESSION_CHARS = 256_000
"""Largest Turtle or JSON-LD expression accepted inside an intent."""

MAX_JSON_DEPTH = 64
"""Deepest nesting of JSON objects and arrays accepted."""

UNSAFE_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")
"""Control characters and bidirectional overrides, refused in free text (they hide what it says)."""

MAX_SITES = 64
MAX_TARGETS = 64
MAX_NAME_CHARS = 256
MAX_DESCRIPTION_CHARS = 4_000

# (low, high) bounds by target dimension, in canonical units; low is exclusive when
# LOW_EXCLUSIVE says so.
RANGES: dict[str, tuple[float, float]] = {
    "time": (0.0, 10_000.0),  # ms: above 10 s is not a latency target
    "throughput": (0.0, 100_000_000.0),  # kbit/s: 100 Gbit/s per UE is the ceiling
    "percent": (0.0, 100.0),
    "count": (1.0, 10_000_000.0),
    "priority": (1.0, 100.0),
}
LOW_EXCLUSIVE = {"time", "throughput", "percent"}


def check_size(value: str | bytes, limit: int, *, field: str, stage: str, unit: str = "characters") -> None:
    """Refuse ``value`` if it is longer than ``limit``, before it is parsed."""
    if len(value) > limit:
        raise IntentValidationError.single(
            field, f"is {len(value)} {unit} long; the limit is {limit}", stage=stage
        )


def check_range(value: float, dimension: str, *, field: str, stage: str, what: str, unit: str) -> None:
    """Refuse a value outside the plausible range of its dimension.

    :param value: the value in the dimension's canonical unit.
    :param what: the name of the value (``DlLatency``), for the message.
    :param unit: the canonical unit, for the message.
    """
    low, high = RANGES[dimension]
    too_low = value <= low if dimension in LOW_EXCLUSIVE else value < low
    if too_low or value > high:
        bound = "greater than" if dimension in LOW_EXCLUSIVE else "at least"
        raise IntentValidationError.single(
            field,
            f"{what} {_fmt(value)} {unit} is out of range: must be {bound} {_fmt(low)} and at most "
            f"{_fmt(high)} {unit}",
            stage=stage,
        )


def _fmt(number: float) -> str:
    return f"{number:g}"
