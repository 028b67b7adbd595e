"""Waiting in tests: for a condition to hold, and for a trigger's first event."""

from __future__ import annotations

import asyncio
import time
from typing import Any


def wait_until(condition, timeout: float, what: str, interval: float = 0.2) -> Any:
    """``condition()``'s first truthy value, polled every ``interval`` s; fails naming ``what``."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(interval)
    raise AssertionError(f"{what} did not happen within {timeout:g} s")


def first_event(trigger) -> Any:
    """The payload of the first event ``trigger.run()`` yields."""

    async def one():
        generator = trigger.run()
        try:
            return (await generator.__anext__()).payload
        finally:
            await generator.aclose()

    return asyncio.run(one())
