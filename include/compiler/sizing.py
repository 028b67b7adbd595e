"""Workload sizing: replicas and per-replica resources from the slice type and its targets.

The table lives in ``config/compiler.yaml`` (``sliceTypes.*`` and ``workload``):

* replicas = max(profile ``replicas``, ceil(maxNumberofUEs / ``uesPerReplica``)), capped at
  ``workload.maxReplicas``;
* the ceiling scaling may reach (``max_replicas``) = the least of ``workload.maxReplicas``, the
  profile's ``maxReplicas`` and, for an intent with maxNumberofUEs, ceil(maxNumberofUEs /
  ``minUesPerReplica``): more replicas than its UEs could keep busy are not the remedy. Never below
  ``replicas``;
* CPU request and memory request/limit come from the profile; the CPU limit is the profile's plus
  ``workload.cpuPerGbps`` for each started Gbit/s of guaranteed per-UE throughput (DL + UL),
  capped at ``workload.maxCpuLimit`` (and never below the request).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .config import CompilerSettings, SliceType


@dataclass(frozen=True)
class Size:
    replicas: int
    cpu_request: str
    cpu_limit: str
    memory_request: str
    memory_limit: str
    max_replicas: int = 0
    """The most replicas scaling may reach (the package's ``max-replicas`` annotation)."""


def millicores(quantity: str) -> int:
    """Kubernetes CPU quantity (``500m``, ``2``, ``1.5``) to millicores."""
    if quantity.endswith("m"):
        return int(quantity[:-1])
    return int(round(float(quantity) * 1000))


def mebibytes(quantity: str) -> int:
    """Kubernetes memory quantity (``512Mi``, ``1Gi``, bytes) to MiB, rounded up."""
    units = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024}
    for suffix, factor in units.items():
        if quantity.endswith(suffix):
            return math.ceil(float(quantity[:-2]) * factor)
    return math.ceil(float(quantity) / 1024 / 1024)


def cpu_quantity(millis: int) -> str:
    """Millicores to a Kubernetes CPU quantity (``2``, ``1500m``)."""
    return f"{millis // 1000}" if millis % 1000 == 0 else f"{millis}m"


def size(
    slice_type: SliceType, *, ues: float | None, throughput_kbps: float, settings: CompilerSettings
) -> Size:
    """Size the slice workload of one site.

    :param ues: the maxNumberofUEs target, if any.
    :param throughput_kbps: guaranteed per-UE throughput, DL plus UL, in kbit/s.
    """
    profile = settings.sliceTypes[slice_type]
    workload = settings.workload
    replicas = profile.replicas
    if ues:
        replicas = max(replicas, math.ceil(ues / profile.uesPerReplica))
    replicas = min(replicas, workload.maxReplicas)
    bounds = [workload.maxReplicas, profile.maxReplicas or workload.maxReplicas]
    if ues and profile.minUesPerReplica:
        bounds.append(math.ceil(ues / profile.minUesPerReplica))
    ceiling = max(replicas, min(bounds))
    started_gbps = math.ceil(throughput_kbps / 1_000_000) if throughput_kbps > 0 else 0
    limit = millicores(profile.cpuLimit) + started_gbps * millicores(workload.cpuPerGbps)
    limit = max(min(limit, millicores(workload.maxCpuLimit)), millicores(profile.cpuRequest))
    return Size(
        replicas=replicas,
        cpu_request=profile.cpuRequest,
        cpu_limit=cpu_quantity(limit),
        memory_request=profile.memoryRequest,
        memory_limit=profile.memoryLimit,
        max_replicas=ceiling,
    )
