"""Verifying scales before it rolls back, through dag.test() on the real Git server, simulated sites
and Prometheus: CPU pressure that more replicas relieve is fixed by one scale commit and the run
succeeds with the step in its record; CPU use that no number of replicas lowers is scaled up to the
policy's attempts, then rolled back with every commit of the run at the site, scale commits too."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from include.compiler.config import load_settings
from include.compiler.nl import parse_text
from include.slo.definitions import load_config
from tests.profiles import PROFILE as SLO_PROFILE
from tests.runstates import states, xcom

RELIEVED = "URLLC slice with 14 ms latency at edge1"
STUCK = "URLLC slice with 16 ms latency at edge1"
VERIFY = "wave_1.sites.verify_slos"


@pytest.fixture
def dag(pipeline_dag):
    return pipeline_dag


def _fault(stack, intent_id: str, fault: dict | None) -> None:
    path = f"/control/faults/intent-{intent_id}"
    stack.control("edge1", "PUT" if fault else "DELETE", path, fault)


def _deployment(stack, namespace: str) -> dict:
    import urllib.request

    request = urllib.request.Request(
        f"{stack.site_url('edge1')}/apis/apps/v1/namespaces/{namespace}/deployments/slice-workload",
        headers={"Authorization": f"Bearer {stack.site_secrets['edge1']['apiToken']}"},
    )
    with urllib.request.urlopen(request, timeout=5) as reply:
        return json.load(reply)


def test_cpu_pressure_is_relieved_by_one_scale_commit_and_the_run_succeeds(dag, sites_stack):
    from edge_intent.hooks.site_repo import site_repo

    intent_id = parse_text(RELIEVED, load_settings()).intent_id
    # 180 requests/s offered to the 3 replicas the intent is sized for: 90 % of each pod's CPU limit
    # (the SLO is below 80 %); a fourth replica takes each to 67.5 %
    _fault(sites_stack, intent_id, {"offeredLoad": 180})
    try:
        run = dag.test(run_conf={"intent": RELIEVED, "slo_profile": SLO_PROFILE})
    finally:
        _fault(sites_stack, intent_id, None)
    found = states(run)
    assert found[f"{VERIFY}[edge1]"] == "success" and found["report"] == "success"
    assert run.state == "success"
    verdict = xcom(run, VERIFY, "verdict", site="edge1")
    assert verdict["result"] == "pass"
    (step,) = verdict["scaling"]
    assert step["site"] == "edge1" and step["slos"] == ["cpu_usage"] and step["attempt"] == 1
    # the policy's max, or the URLLC profile's maxReplicas the package carries, whichever is less
    ceiling = min(
        load_config().slos["cpu_usage"].scale.max, load_settings().compiler.sliceTypes["URLLC"].maxReplicas
    )
    assert step["replicas"] == {"before": 3, "after": 4, "ceiling": ceiling}
    assert step["measured"]["cpu_usage"]["worst"] > 80
    assert step["breachDetectedAt"] <= step["pushedAt"] <= step["syncedAt"] <= verdict["started"]
    # the window after the step starts once rate() covers only the scaled workload
    assert verdict["started"] >= step["syncedAt"] + load_config().profiles[SLO_PROFILE].rate_seconds
    assert verdict["slos"]["edge1"]["cpu_usage"]["worst"] < 80

    # the record: the step in the rollout record; the commit on main, named by the run's trailers
    record = xcom(run, "rollout")
    assert record["state"] == "Succeeded"
    assert record["waves"][0]["sites"]["edge1"]["scaling"][0]["commit"] == step["commit"]
    repo = site_repo("edge1")
    assert repo.deliveries_of_run(intent_id, run.run_id)[0] == step["commit"]
    message = repo.log("--format=%B", "-1", step["commit"])
    assert "3 to 4 replicas" in message and f"Dag-Run-Id: {run.run_id}" in message
    deployment = yaml.safe_load(repo.read(f"intents/{intent_id}/deployment.yaml"))
    assert deployment["spec"]["replicas"] == 4
    live = _deployment(sites_stack, f"intent-{intent_id}")
    assert live["spec"]["replicas"] == 4 and live["status"]["readyReplicas"] == 4


def test_cpu_that_replicas_do_not_lower_is_scaled_to_the_attempts_then_rolled_back_whole(dag, sites_stack):
    from edge_intent.hooks.site_repo import site_repo

    intent_id = parse_text(STUCK, load_settings()).intent_id
    attempts = load_config().slos["cpu_usage"].scale.attempts
    _fault(sites_stack, intent_id, {"cpu": 0.85})  # every pod busy whatever its traffic
    try:
        run = dag.test(run_conf={"intent": STUCK, "slo_profile": SLO_PROFILE})
    finally:
        _fault(sites_stack, intent_id, None)
    found = states(run)
    assert found[f"{VERIFY}[edge1]"] == "failed"  # the phase that failed is the red one
    assert found["report"] == "skipped" and found["rollback.evidence"] == "success"
    assert run.state == "failed"
    verdict = xcom(run, VERIFY, "verdict", site="edge1")
    assert verdict["result"] == "breach" and [b["slo"] for b in verdict["breaches"]] == ["cpu_usage"]
    steps = verdict["scaling"]
    assert [s["attempt"] for s in steps] == list(range(1, attempts + 1))
    assert [(s["replicas"]["before"], s["replicas"]["after"]) for s in steps] == [
        (3 + i, 4 + i) for i in range(attempts)
    ]

    # the rollback reverts the delivery and every scale commit in one commit, and nothing else
    repo = site_repo("edge1")
    commits = repo.deliveries_of_run(intent_id, run.run_id)
    assert commits[:attempts] == [s["commit"] for s in reversed(steps)] and len(commits) == attempts + 1
    evidence = json.loads(Path(xcom(run, "rollback.evidence")["path"]).read_text())
    (revert,) = [a for a in evidence["actions"] if a["action"] == "git_revert" and a["site"] == "edge1"]
    assert sorted(revert["reverts"]) == sorted(commits)
    assert repo.read(f"intents/{intent_id}/deployment.yaml") is None
    record = xcom(run, "rollout")
    assert len(record["waves"][0]["sites"]["edge1"]["scaling"]) == attempts
