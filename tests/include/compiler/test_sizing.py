"""The workload sizing table."""

from __future__ import annotations

import pytest

from include.compiler import sizing


@pytest.mark.parametrize(
    ("slice_type", "ues", "kbps", "replicas", "cpu_limit"),
    [
        ("eMBB", None, 0, 2, "1"),  # profile minimum
        ("eMBB", 1_600, 0, 4, "1"),  # ceil(1600 / 500)
        ("eMBB", None, 1_500_000, 2, "2"),  # 1.5 Gbit/s started: +2 x 500m
        ("URLLC", 100, 5_000, 3, "1500m"),  # any throughput starts one Gbit/s step
        ("mMTC", 10_000_000, 0, 20, "500m"),  # capped at maxReplicas
        ("eMBB", None, 90_000_000, 2, "4"),  # capped at maxCpuLimit
    ],
)
def test_size(settings, slice_type, ues, kbps, replicas, cpu_limit):
    result = sizing.size(slice_type, ues=ues, throughput_kbps=kbps, settings=settings.compiler)
    assert result.replicas == replicas
    assert result.cpu_limit == cpu_limit
    profile = settings.compiler.sliceTypes[slice_type]
    assert result.memory_limit == profile.memoryLimit
    assert sizing.millicores(result.cpu_limit) >= sizing.millicores(result.cpu_request)


@pytest.mark.parametrize(
    ("slice_type", "ues", "replicas", "ceiling"),
    [
        ("URLLC", None, 3, 8),  # the profile's maxReplicas
        ("URLLC", 220, 3, 5),  # ceil(220 / 50 minUesPerReplica)
        ("URLLC", 100, 3, 3),  # fewer UEs than its sizing would keep busy: never below the sizing
        ("URLLC", 1_800, 9, 9),  # sized past the profile's ceiling: scaling adds nothing
        ("eMBB", 5_000, 10, 12),
        ("mMTC", 10_000_000, 20, 20),  # workload.maxReplicas
    ],
)
def test_the_ceiling_scaling_may_reach(settings, slice_type, ues, replicas, ceiling):
    result = sizing.size(slice_type, ues=ues, throughput_kbps=0, settings=settings.compiler)
    assert (result.replicas, result.max_replicas) == (replicas, ceiling)


@pytest.mark.parametrize(("quantity", "millis"), [("500m", 500), ("2", 2000), ("1.5", 1500)])
def test_millicores(quantity, millis):
    assert sizing.millicores(quantity) == millis
    assert sizing.millicores(sizing.cpu_quantity(millis)) == millis
