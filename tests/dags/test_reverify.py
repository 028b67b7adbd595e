"""slo_reverify through dag.test() against a real stack with the real Prometheus: two intents
delivered, one slowed down through the simulator's fault control; only that one is rolled back
(revert, restore sync, evidence), the healthy one stays and is reported with its verdict."""

from __future__ import annotations

import json
import os
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import yaml

from include.compiler import api
from include.compiler.config import PROJECT_ROOT, load_settings
from include.slo.definitions import DEFAULT_FILE

HEALTHY = "eMBB slice with 100 Mbps downlink at edge1"
BROKEN = "URLLC slice with 8 ms latency for 200 devices at edge1"


def parse(dag_id):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(PROJECT_ROOT / "dags" / f"{dag_id}.py")).get_dag(dag_id)


def ready_in_prometheus(stack, namespace):
    query = f'sum(kube_pod_status_ready{{namespace="{namespace}",condition="true"}})'
    params = urllib.parse.urlencode({"query": query})
    with urllib.request.urlopen(f"{stack.prometheus_url}/api/v1/query?{params}", timeout=5) as reply:
        result = json.load(reply)["data"]["result"]
    return bool(result) and float(result[0]["value"][1]) > 0


def deliver_ready(stack, repo, texts, tmp_path) -> dict[str, str]:
    """``{intent id: delivery commit}`` of each text compiled and delivered to edge1 by hand (no
    pipeline run), once every workload is ready in Prometheus."""
    settings = load_settings()
    delivered = {}
    for text in texts:
        tmf = api.parse(text, settings)
        rendered = api.compile_to_dir(tmf.to_json(), tmp_path / tmf.id, settings)
        files = {p.name: p.read_text() for p in sorted(rendered.sites["edge1"].iterdir())}
        delivered[tmf.id] = repo.deliver(tmf.id, files, message=f"deliver {tmf.id}").sha
    deadline = time.time() + 60
    while not all(ready_in_prometheus(stack, f"intent-{i}") for i in delivered):
        assert time.time() < deadline, "the workloads never became ready in Prometheus"
        time.sleep(0.5)
    return delivered


@pytest.fixture
def quick_profile(tmp_path):
    """config/slo.yaml with a short profile of its own, so that a healthy intent passes in seconds."""
    config = yaml.safe_load(DEFAULT_FILE.read_text())
    config["profiles"]["quick"] = {
        "window": 6,
        "interval": 1,
        "rateWindow": "5s",
        "missingData": "fail",
        "failureLimit": 3,
        "consecutiveLimit": 2,
    }
    path = tmp_path / "slo.yaml"
    path.write_text(yaml.safe_dump(config))
    os.environ["EDGE_INTENT_SLO_CONFIG"] = str(path)  # fresh_stack restores the environment
    return "quick"


def test_reverify_rolls_back_the_broken_intent_and_keeps_the_healthy_one(
    fresh_stack, quick_profile, tmp_path
):
    from edge_intent.hooks.site_repo import site_repo

    stack = fresh_stack
    repo = site_repo("edge1")
    delivered = deliver_ready(stack, repo, (HEALTHY, BROKEN), tmp_path)
    healthy, broken = list(delivered)
    stack.control("edge1", "PUT", f"/control/faults/intent-{broken}", {"latencyMs": 250})
    time.sleep(6)  # the rate window sees only slow requests by now
    before = repo.head()

    run = parse("slo_reverify").test(run_conf={"slo_profile": quick_profile})
    states = {(ti.task_id, ti.map_index): ti.state for ti in run.get_task_instances()}
    assert run.state == "success", states
    assert states[("verify", 0)] == states[("verify", 1)] == "success"
    assert {s for (task, _), s in states.items() if task.startswith("rollback.")} == {"success"}
    summary = next(t for t in run.get_task_instances() if t.task_id == "summary").xcom_pull(
        task_ids="summary"
    )

    assert summary["checked"] == 2 and summary["unverified"] == []
    [passed] = summary["passed"]
    assert passed["intentId"] == healthy and passed["result"] == "pass"
    assert passed["sites"] == {"edge1": delivered[healthy]}
    assert passed["slos"]["edge1"]["latency_p95"]["status"] == "met"
    [rolled] = summary["rolledBack"]
    assert (
        rolled["intentId"] == broken and rolled["result"] == "success" and rolled["trigger"] == "slo_breach"
    )

    evidence = json.loads(Path(rolled["path"]).read_text())
    assert evidence["dagId"] == "slo_reverify" and evidence["intentId"] == broken
    breach = evidence["breaches"][0]
    assert breach["slo"] == "latency_p95" and breach["threshold"] == 8 and breach["site"] == "edge1"
    assert evidence["metrics"]["latency_p95"] > 8
    restored = evidence["sites"]["edge1"].pop("restore")
    assert evidence["sites"]["edge1"] == {
        "delivered": delivered[broken],
        "commitBefore": before,
        "commitAfter": rolled["reverts"]["edge1"],
        "intentRemoved": True,
    }
    assert restored["state"] == "done" and restored["observed"] == rolled["reverts"]["edge1"]
    assert evidence["restored_version"] == {"edge1": rolled["reverts"]["edge1"]}
    # only the broken intent's commit was reverted; the healthy one stays on main and on the site
    files = repo.log("--name-only", "--format=", "-1", rolled["reverts"]["edge1"])
    assert f"intents/{broken}/deployment.yaml" in files and healthy not in files
    assert repo.read(f"intents/{healthy}/deployment.yaml") is not None
    assert repo.read(f"intents/{broken}/deployment.yaml") is None
    assert ready_in_prometheus(stack, f"intent-{healthy}")


RELIEVED = "URLLC slice with 40 ms latency at edge1"
STUCK = "URLLC slice with 45 ms latency at edge1"


def test_reverify_scales_cpu_pressure_away_and_rolls_back_what_scaling_cannot_fix_whole(
    fresh_stack, quick_profile, tmp_path
):
    from edge_intent.hooks.site_repo import site_repo
    from include.slo.definitions import load_config

    stack = fresh_stack
    repo = site_repo("edge1")
    delivered = deliver_ready(stack, repo, (RELIEVED, STUCK), tmp_path)
    relieved, stuck = list(delivered)
    # three times the traffic the 3 replicas were sized for (90 % CPU each; a fourth takes them to
    # 67.5 %), and CPU that no number of replicas lowers
    stack.control("edge1", "PUT", f"/control/faults/intent-{relieved}", {"offeredLoad": 180})
    stack.control("edge1", "PUT", f"/control/faults/intent-{stuck}", {"cpu": 0.85})
    time.sleep(6)  # the rate window sees only the pressure by now

    run = parse("slo_reverify").test(run_conf={"slo_profile": quick_profile})
    assert run.state == "success"
    summary = next(t for t in run.get_task_instances() if t.task_id == "summary").xcom_pull(
        task_ids="summary"
    )
    [passed] = summary["passed"]
    assert passed["intentId"] == relieved and passed["slos"]["edge1"]["cpu_usage"]["status"] == "met"
    [step] = passed["scaling"]
    assert step["replicas"]["before"] == 3 and step["replicas"]["after"] == 4
    message = repo.log("--format=%B", "-1", step["commit"])
    assert f"Dag-Run-Id: {run.run_id}" in message and "Change: scale" in message
    assert yaml.safe_load(repo.read(f"intents/{relieved}/deployment.yaml"))["spec"]["replicas"] == 4

    # the stuck intent: scaled up to the policy's attempts, then its delivery and every scale
    # commit reverted in one commit, and nothing of the relieved intent
    attempts = load_config().slos["cpu_usage"].scale.attempts
    [rolled] = summary["rolledBack"]
    assert rolled["intentId"] == stuck and rolled["result"] == "success"
    evidence = json.loads(Path(rolled["path"]).read_text())
    (revert,) = [a for a in evidence["actions"] if a["action"] == "git_revert"]
    assert len(revert["reverts"]) == attempts + 1 and delivered[stuck] in revert["reverts"]
    assert repo.read(f"intents/{stuck}/deployment.yaml") is None
    files = repo.log("--name-only", "--format=", "-1", revert["commit"])
    assert relieved not in files
