"""The simulator answers scaling as a cluster would: a scaled Deployment keeps its running pods and
starts only the new ones; CPU pressure from offered load is relieved by more replicas, an injected
latency is not."""

from __future__ import annotations

import pytest

from include.edgesim.faults import Fault, Faults
from include.edgesim.loadmodel import BASE_CPU_FRACTION, RATE_PER_POD, LoadModel
from include.edgesim.store import Store, Timings

READY_S = 5.0


def deployment(replicas: int, image: str = "agnhost:2.53") -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "slice", "namespace": "intent-a"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "slice"}},
            "template": {
                "metadata": {"labels": {"app": "slice"}},
                "spec": {
                    "containers": [
                        {
                            "name": "main",
                            "image": image,
                            "resources": {"limits": {"cpu": "1", "memory": "512Mi"}},
                            "env": [{"name": "SLICE_TYPE", "value": "URLLC"}],
                        }
                    ]
                },
            },
        },
    }


def pods(store: Store, now: float) -> dict[str, bool]:
    entry = next(e for e in store._entries.values() if e.obj["kind"] == "Deployment")
    return {
        pod["metadata"]["name"]: pod["status"]["conditions"][0]["status"] == "True"
        for pod in store._pods(entry, now)
    }


def status(store: Store, now: float) -> dict:
    entry = next(e for e in store._entries.values() if e.obj["kind"] == "Deployment")
    return store._deployment_status(entry, now)


def test_scaling_up_keeps_the_running_pods_and_starts_only_the_new_ones():
    store = Store("edge1", Timings(pod_ready_s=READY_S))
    store._put(deployment(2), 1000.0)
    before = pods(store, 1000.0 + READY_S)
    assert list(before.values()) == [True, True]

    store._put(deployment(3), 1010.0)
    after = pods(store, 1011.0)
    assert set(before) < set(after), "the two running pods keep their names"
    assert [after[name] for name in before] == [True, True], "and stay ready"
    (new,) = set(after) - set(before)
    assert after[new] is False, "the new pod is not ready before --pod-ready-s"
    assert status(store, 1011.0)["readyReplicas"] == 2
    assert pods(store, 1010.0 + READY_S)[new] is True
    assert status(store, 1010.0 + READY_S)["readyReplicas"] == 3


def test_scaling_down_stops_pods_and_keeps_the_rest_ready():
    store = Store("edge1", Timings(pod_ready_s=READY_S))
    store._put(deployment(3), 1000.0)
    store._put(deployment(1), 1100.0)
    assert list(pods(store, 1100.0).values()) == [True]


def test_any_other_change_replaces_every_pod():
    store = Store("edge1", Timings(pod_ready_s=READY_S))
    store._put(deployment(2), 1000.0)
    before = pods(store, 1100.0)
    store._put(deployment(2, image="agnhost:2.54"), 1100.0)
    after = pods(store, 1101.0)
    assert not set(before) & set(after)
    assert list(after.values()) == [False, False]


def cpu_and_latency(replicas: int, fault: Fault) -> tuple[float, float]:
    """Mean CPU use against the limit, and mean request latency (s), of the workload's pods over
    60 s once every pod is ready."""
    store = Store("edge1", Timings(pod_ready_s=0.0))
    store._put(deployment(replicas), 0.0)
    faults = Faults()
    faults.set("intent-a", fault)
    model = LoadModel(store, faults, seed=3)
    model._last = 100.0
    for second in range(101, 161):
        series = model.advance(float(second))
    cpu = sum(s.cpu_seconds for s in series) / (len(series) * 60 * series[0].cpu_limit)
    latency = sum(s.total_seconds for s in series) / sum(s.count for s in series)
    return cpu, latency


def test_offered_load_is_shared_by_the_replicas():
    offered = 3 * RATE_PER_POD
    one, _ = cpu_and_latency(1, Fault(offeredLoad=offered))
    three, _ = cpu_and_latency(3, Fault(offeredLoad=offered))
    assert one == pytest.approx(3 * BASE_CPU_FRACTION, rel=0.1)  # 90 %: over an 80 % SLO
    assert three == pytest.approx(BASE_CPU_FRACTION, rel=0.1)  # 30 %: one third of the work each
    nominal, _ = cpu_and_latency(1, Fault())
    assert nominal == pytest.approx(BASE_CPU_FRACTION, rel=0.1)


def test_a_saturated_pod_stays_at_its_limit_and_its_requests_queue():
    cpu, slow = cpu_and_latency(1, Fault(offeredLoad=10 * RATE_PER_POD))  # 300 % of its limit asked
    _, fast = cpu_and_latency(4, Fault(offeredLoad=10 * RATE_PER_POD))  # 75 % each
    assert cpu == pytest.approx(1.0)
    assert slow > 2.5 * fast


def test_injected_latency_and_cpu_are_not_relieved_by_replicas():
    one_cpu, one_latency = cpu_and_latency(1, Fault(latencyMs=200, cpu=0.6))
    four_cpu, four_latency = cpu_and_latency(4, Fault(latencyMs=200, cpu=0.6))
    assert one_latency > 0.2 and four_latency > 0.2
    assert four_latency == pytest.approx(one_latency, rel=0.1)
    assert four_cpu == pytest.approx(one_cpu, rel=0.1) and four_cpu > 0.8


def test_offered_load_is_checked_like_every_fault_field():
    assert Fault.from_json({"offeredLoad": 120}).offeredLoad == 120.0
    for bad in (-1, "lots", True, 1e9):
        with pytest.raises(ValueError, match="offeredLoad must be a number from 0 to 100000"):
            Fault.from_json({"offeredLoad": bad})
