"""Which breach Verifying remedies by scaling (every broken SLO scale-class, attempts left), and
what a rollback of an intent in effect reverts once it has scale commits."""

from __future__ import annotations

import pytest

from edge_intent.rollout.scaling import mark_synced, policy_for
from include.gitops.records import DeployedIntent
from include.slo.definitions import load_config

CPU = load_config().slos["cpu_usage"].scale


def verdict(*slos: str) -> dict:
    return {"result": "breach", "breaches": [{"slo": slo, "site": "edge1"} for slo in slos]}


@pytest.mark.parametrize(
    ("broken", "made", "remedied"),
    [
        (("cpu_usage",), 0, True),
        (("cpu_usage",), CPU.attempts - 1, True),
        (("cpu_usage",), CPU.attempts, False),  # the attempts are used up: the breach stands
        (("latency_p95",), 0, False),  # more replicas do not make a slow workload fast
        (("cpu_usage", "latency_p95"), 0, False),  # one breach scaling cannot fix: roll back
        (("pod_ready",), 0, False),
        ((), 0, False),
    ],
)
def test_only_a_breach_of_scale_class_slos_with_attempts_left_is_scaled(broken, made, remedied):
    policy = policy_for(verdict(*broken), made)
    assert (policy is not None) == remedied
    if remedied:
        assert policy == CPU


def test_a_passing_verdict_is_never_scaled():
    assert policy_for({"result": "pass", "breaches": []}, 0) is None


def test_the_sync_time_is_marked_once_per_step():
    steps = [{"site": "edge1", "commit": "a", "syncedAt": 5.0}, {"site": "edge1", "commit": "b"}]
    event = {"status": "success", "sites": {"edge1": {"state": "done", "at": 9.0}}}
    assert [s.get("syncedAt") for s in mark_synced(steps, event)] == [5.0, 9.0]


def test_a_rollback_of_the_delivery_in_effect_reverts_its_scale_commits_too():
    # newest first: a scale commit of re-verification and one of run-2's Verifying on run-2's
    # delivery, over run-1's older delivery
    deployed = DeployedIntent(
        "a",
        "s2",
        ("s2", "s1", "d2", "d1"),
        "s2",
        ("reverify-1", "run-2", "run-2", "run-1"),
        (True, True, False, False),
    )
    assert deployed.in_effect == ["s2", "s1", "d2"]
    assert DeployedIntent("a", "d1", ("d1",), "d1", (None,), (False,)).in_effect == ["d1"]
    # a directory no delivery commit holds (only its last touching commit): that commit alone
    assert DeployedIntent("a", "x", (), "x", ()).in_effect == ["x"]
