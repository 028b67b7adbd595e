"""Fault injection: make one namespace's workload slow, failing, busy or crash-looping on purpose."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Any

LIMITS = {
    "latencyMs": (0.0, 60_000.0),
    "errorRate": (0.0, 1.0),
    "cpu": (0.0, 1.0),
    "offeredLoad": (0.0, 100_000.0),
}


@dataclass(frozen=True)
class Fault:
    """What to inject.

    :param latencyMs: added to every request's latency.
    :param errorRate: fraction of requests that fail (HTTP 500), 0 to 1.
    :param cpu: added CPU use of every pod, as a fraction of its limit, 0 to 1 (work each pod does
        whatever the traffic: more replicas do not lower it).
    :param offeredLoad: requests per second offered to the workload, shared by its ready pods (CPU
        pressure that more replicas relieve); 0: each pod serves its nominal rate.
    :param crashLoop: the namespace's pods crash and never become ready.
    """

    latencyMs: float = 0.0
    errorRate: float = 0.0
    cpu: float = 0.0
    offeredLoad: float = 0.0
    crashLoop: bool = False

    @classmethod
    def from_json(cls, document: Any) -> Fault:
        if not isinstance(document, dict):
            raise ValueError("the fault must be a JSON object")
        unknown = set(document) - {*LIMITS, "crashLoop"}
        if unknown:
            raise ValueError(
                f"unknown fault field {sorted(unknown)[0]!r}; use {', '.join(LIMITS)}, crashLoop"
            )
        values: dict[str, Any] = {}
        for name, (low, high) in LIMITS.items():
            if name in document:
                value = document[name]
                if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
                    raise ValueError(f"{name} must be a number from {low:g} to {high:g}")
                values[name] = float(value)
        if "crashLoop" in document:
            if not isinstance(document["crashLoop"], bool):
                raise ValueError("crashLoop must be true or false")
            values["crashLoop"] = document["crashLoop"]
        return cls(**values)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


class Faults:
    """The faults in force, by namespace."""

    def __init__(self) -> None:
        self._faults: dict[str, Fault] = {}
        self._lock = threading.Lock()

    def set(self, namespace: str, fault: Fault) -> None:
        with self._lock:
            self._faults[namespace] = fault

    def clear(self, namespace: str) -> bool:
        with self._lock:
            return self._faults.pop(namespace, None) is not None

    def get(self, namespace: str) -> Fault:
        with self._lock:
            return self._faults.get(namespace, Fault())

    def crash_looping(self) -> set[str]:
        with self._lock:
            return {ns for ns, fault in self._faults.items() if fault.crashLoop}

    def as_json(self) -> dict[str, Any]:
        with self._lock:
            return {ns: fault.as_json() for ns, fault in sorted(self._faults.items())}
