#!/usr/bin/env -S python3 -IS
"""kpt function of the slice blueprint: the mutator apply_intent, then the validator validate_intent.

One process instead of two: each exec function costs kpt a process start and a round trip of the
whole ResourceList through YAML, more than the work itself. The results are those of both; an
error of either fails the render, with its message in kpt's output. When the intent cannot be
applied (setters missing), nothing is validated.

Started with ``python3 -IS`` (no site-packages): it imports only the standard library and this
project's small modules (see krmfn).
"""

from __future__ import annotations

import os
import sys

_HERE = os.path.dirname(os.path.realpath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

import apply_intent  # noqa: E402
import validate_intent  # noqa: E402
from krmfn import run  # noqa: E402


def process(items, setters):
    results = apply_intent.process(items, setters)
    if any(entry["severity"] == "error" for entry in results):
        return results
    return results + validate_intent.process(items, setters)


if __name__ == "__main__":
    run(process)
