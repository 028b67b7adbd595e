"""A seeded load model: the traffic, latency, errors, CPU and memory of every deployed workload.

Each ready pod of a Deployment serves ``RATE_PER_POD`` requests per second, at ``BASE_CPU_FRACTION``
of its CPU limit. A fault's ``offeredLoad`` (requests per second to the whole workload) is shared by
the ready pods instead: a pod's CPU use is the base fraction scaled by its share against the
nominal rate, so scaling the Deployment up relieves it. A pod asked for more than its whole limit
is saturated: its CPU use stays at the limit and its requests queue, their latency multiplied by
the excess. A request's latency is the slice type's base latency times a log-normal factor (sigma
0.25), plus any injected latency (which no number of replicas changes); it fails with the base
error rate plus any injected one. A fault's ``cpu`` is added to every pod whatever its traffic.
Memory is a steady fraction of the limit. Time advances when metrics are read, so the counters
grow with wall time, and the same seed gives the same series.
"""

from __future__ import annotations

import math
import random
import threading
import time
from dataclasses import dataclass, field

from .faults import Faults
from .store import Store

BUCKETS = (
    0.001,
    0.002,
    0.003,
    0.004,
    0.005,
    0.0075,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
RATE_PER_POD = 20.0
BASE_LATENCY_S = {"URLLC": 0.002, "eMBB": 0.02, "mMTC": 0.05}
BASE_ERROR_RATE = 0.001
BASE_CPU_FRACTION = 0.30
BASE_MEMORY_FRACTION = 0.45


def pod_cpu(rate: float) -> float:
    """The fraction of its CPU limit a pod serving ``rate`` requests per second asks for."""
    return BASE_CPU_FRACTION * rate / RATE_PER_POD


def cpu_cores(quantity: str | None) -> float:
    if not quantity:
        return 1.0
    return float(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)


def memory_bytes(quantity: str | None) -> float:
    if not quantity:
        return 512 * 2**20
    for suffix, factor in (("Ki", 2**10), ("Mi", 2**20), ("Gi", 2**30), ("Ti", 2**40)):
        if quantity.endswith(suffix):
            return float(quantity[: -len(suffix)]) * factor
    return float(quantity)


@dataclass
class PodSeries:
    """The counters of one pod."""

    namespace: str
    pod: str
    container: str
    cpu_limit: float
    memory_limit: float
    buckets: list[int] = field(default_factory=lambda: [0] * len(BUCKETS))
    count: int = 0
    total_seconds: float = 0.0
    requests_ok: int = 0
    requests_failed: int = 0
    cpu_seconds: float = 0.0
    memory: float = 0.0
    ready: bool = False


class LoadModel:
    """Traffic of every workload of one site."""

    def __init__(self, store: Store, faults: Faults, *, seed: int = 1) -> None:
        self.store = store
        self.faults = faults
        self.seed = seed
        self.series: dict[tuple[str, str], PodSeries] = {}
        self._rngs: dict[str, random.Random] = {}
        self._last = time.time()
        self._lock = threading.Lock()

    def _rng(self, namespace: str) -> random.Random:
        if namespace not in self._rngs:
            self._rngs[namespace] = random.Random(f"{self.seed}/{self.store.site}/{namespace}")  # noqa: S311
        return self._rngs[namespace]

    def advance(self, now: float | None = None) -> list[PodSeries]:
        """Move the model to ``now`` and return every pod's series."""
        now = time.time() if now is None else now
        with self._lock:
            elapsed = max(0.0, min(now - self._last, 60.0))
            self._last = now
            alive: set[tuple[str, str]] = set()
            pods = self.store.list("v1", "Pod")
            ready: dict[str, int] = {}
            for pod in pods:
                if pod["status"]["conditions"][0]["status"] == "True":
                    ready[pod["metadata"]["namespace"]] = ready.get(pod["metadata"]["namespace"], 0) + 1
            for pod in pods:
                namespace, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
                container = ((pod.get("spec") or {}).get("containers") or [{}])[0]
                limits = (container.get("resources") or {}).get("limits") or {}
                key = (namespace, name)
                alive.add(key)
                series = self.series.get(key) or PodSeries(
                    namespace,
                    name,
                    container.get("name", "main"),
                    cpu_cores(limits.get("cpu")),
                    memory_bytes(limits.get("memory")),
                )
                self.series[key] = series
                series.ready = pod["status"]["conditions"][0]["status"] == "True"
                self._serve(series, pod, elapsed, ready.get(namespace, 0))
            for key in set(self.series) - alive:
                del self.series[key]
            return [self.series[key] for key in sorted(self.series)]

    def _serve(self, series: PodSeries, pod: dict, elapsed: float, ready_pods: int) -> None:
        fault = self.faults.get(series.namespace)
        rng = self._rng(series.namespace)
        env = {
            e.get("name"): e.get("value")
            for e in (((pod.get("spec") or {}).get("containers") or [{}])[0].get("env") or [])
        }
        base = BASE_LATENCY_S.get(env.get("SLICE_TYPE", ""), 0.02)
        if not series.ready:
            series.memory = 0.0
            return
        rate = fault.offeredLoad / max(ready_pods, 1) if fault.offeredLoad else RATE_PER_POD
        demand = pod_cpu(rate)  # the fraction of its limit the pod's traffic asks for
        queueing = max(1.0, demand)  # a saturated pod's requests wait their turn
        expected = rate * elapsed
        requests = int(expected) + (1 if rng.random() < expected - int(expected) else 0)
        for _ in range(requests):
            latency = base * math.exp(rng.gauss(0.0, 0.25)) * queueing + fault.latencyMs / 1000
            series.count += 1
            series.total_seconds += latency
            for index, bound in enumerate(BUCKETS):
                if latency <= bound:
                    series.buckets[index] += 1
            if rng.random() < BASE_ERROR_RATE + fault.errorRate:
                series.requests_failed += 1
            else:
                series.requests_ok += 1
        usage = min(1.0, demand * (1 + rng.uniform(-0.1, 0.1)) + fault.cpu)
        series.cpu_seconds += usage * series.cpu_limit * elapsed
        series.memory = BASE_MEMORY_FRACTION * series.memory_limit * (1 + rng.uniform(-0.02, 0.02))
