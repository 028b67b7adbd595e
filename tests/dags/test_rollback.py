"""SLO verification and rollback through dag.test(), with the real Prometheus scraping the
simulated sites: a breach injected through the fault control, only the broken intent reverted,
evidence values that a direct query of Prometheus reproduces, and Prometheus unreachable."""

from __future__ import annotations

import itertools
import json
import os
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from include.compiler.config import load_settings
from include.compiler.nl import parse_text
from include.localstack import stack as localstack
from tests.profiles import PROFILE as SLO_PROFILE
from tests.runstates import states

TEXT_A = "URLLC slice with 8 ms latency for 200 devices at edge1"


@pytest.fixture
def dag(pipeline_dag):
    return pipeline_dag


@pytest.fixture
def stack(fresh_stack):
    return fresh_stack


def namespace_on_site(stack, site, namespace):
    request = urllib.request.Request(
        f"{stack.site_url(site)}/api/v1/namespaces/{namespace}",
        headers={"Authorization": f"Bearer {stack.site_secrets[site]['apiToken']}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5):
            return True
    except urllib.error.HTTPError as exc:
        assert exc.code == 404
        return False


def prometheus_value(stack, query, at):
    params = urllib.parse.urlencode({"query": query, "time": f"{at:.3f}"})
    with urllib.request.urlopen(f"{stack.prometheus_url}/api/v1/query?{params}", timeout=10) as reply:
        result = json.load(reply)["data"]["result"]
    return float(result[0]["value"][1]) if result else None


def test_breach_rolls_back_only_the_broken_intent(dag, stack):
    from edge_intent.hooks.site_repo import site_repo

    intent_a = parse_text(TEXT_A, load_settings()).intent_id
    namespace_a = f"intent-{intent_a}"
    events = {}

    def operator():
        deadline = time.time() + 120
        while not namespace_on_site(stack, "edge1", namespace_a):
            assert time.time() < deadline
            time.sleep(0.2)
        # another intent lands on the same site after A ...
        events["b"] = (
            site_repo("edge1")
            .deliver(
                "other-b",
                {"namespace.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: intent-other-b\n"},
                message="deliver other-b",
            )
            .sha
        )
        time.sleep(6)  # ... while A is being verified, then A's workload gets slow
        events["fault"] = time.time()
        stack.control("edge1", "PUT", f"/control/faults/{namespace_a}", {"latencyMs": 250})

    helper = threading.Thread(target=operator, daemon=True)
    helper.start()
    run = dag.test(run_conf={"intent": TEXT_A, "slo_profile": SLO_PROFILE})
    helper.join(5)
    found = states(run)
    assert found["wave_1.sites.verify_slos[edge1]"] == "failed"  # the phase that failed is the red one
    assert found["report"] == "skipped"
    states_ = found
    assert (
        states_["rollback.revert"]
        == states_["rollback.wait_for_restore"]
        == states_["rollback.evidence"]
        == "success"
    )
    assert states_["watcher"] == "failed" and run.state == "failed"

    ti = next(t for t in run.get_task_instances() if t.task_id == "rollback.evidence")
    path = Path(ti.xcom_pull(task_ids="rollback.evidence")["path"])
    evidence = json.loads(path.read_text())
    assert evidence["trigger"] == "slo_breach" and evidence["result"] == "success"
    assert evidence["intentId"] == intent_a and evidence["dagRunId"] == run.run_id
    breach = evidence["breaches"][0]
    assert breach["slo"] == "latency_p95" and breach["site"] == "edge1" and breach["threshold"] == 8
    assert breach["detectedAt"] >= events["fault"]
    # every judged sample in the evidence is what Prometheus answers for the same query at the same
    # time (an instant before verification started with no samples then is recorded, not judged)
    for sample in (s for s in breach["samples"] if s["met"] is not None):
        direct = prometheus_value(stack, sample["query"], sample["time"])
        assert direct == pytest.approx(sample["value"], rel=1e-9, abs=1e-9), sample
    assert evidence["metrics"]["latency_p95"] == breach["samples"][-1]["value"] > 8
    secrets = [*stack.site_secrets["edge1"].values(), *(u["token"] for u in stack.git_users.values())]
    assert not [secret for secret in secrets if secret in path.read_text()]

    # only A was reverted: B (delivered after A) is still on main and on the site
    revert = evidence["sites"]["edge1"]
    assert revert["commitBefore"] == events["b"]
    files = site_repo("edge1").log("--name-only", "--format=", "-1", revert["commitAfter"])
    assert f"intents/{intent_a}/deployment.yaml" in files and "intents/other-b" not in files
    assert not namespace_on_site(stack, "edge1", namespace_a)
    assert namespace_on_site(stack, "edge1", "intent-other-b")


def test_unreachable_prometheus_is_no_pass(dag, stack):
    os.environ["AIRFLOW_CONN_PROMETHEUS_DEFAULT"] = json.dumps(
        {"conn_type": "http", "host": f"http://127.0.0.1:{localstack.free_port()}"}
    )
    run = dag.test(
        run_conf={"intent": "eMBB slice with 100 Mbps downlink at edge2", "slo_profile": SLO_PROFILE}
    )
    found = states(run)
    assert found["wave_1.sites.verify_slos[edge2]"] == "failed"
    assert found["report"] == "skipped" and found["rollback.evidence"] == "success"
    assert run.state == "failed"
    ti = next(t for t in run.get_task_instances() if t.task_id == "rollback.evidence")
    evidence = json.loads(Path(ti.xcom_pull(task_ids="rollback.evidence")["path"]).read_text())
    assert evidence["trigger"] == "missing_data"
    assert evidence["metrics"]["latency_p95"] is None
    assert "could not answer" in evidence["breaches"][0]["samples"][0]["error"]
    # fail closed at the consecutive limit: each evaluation instant is one failure (no client
    # retries, no waiting on a dead server), and the breach stands at the limit's evaluation.
    # How long that takes in seconds is bench/rollback.py's figure, not a timed assertion here.
    from include.slo.definitions import load_config

    profile = load_config().profiles[SLO_PROFILE]
    for breach in evidence["breaches"]:
        instants = [sample["time"] for sample in breach["samples"]]
        assert len(instants) == profile.consecutiveLimit, breach["slo"]
        assert all(sample["met"] is False and sample["value"] is None for sample in breach["samples"])
        gaps = [later - earlier for earlier, later in itertools.pairwise(instants)]
        assert gaps == pytest.approx([profile.interval] * (len(instants) - 1), abs=0.01)
        assert breach["detectedAt"] >= instants[-1] and breach["firstFailure"] == instants[0]
