"""Progressive rollouts through dag.test(), against a real Git server, three simulated sites and the
real Prometheus: a breach at the canary leaves the later waves untouched, a breach in wave 2 reverts
waves 2 and 1 (newest first) and leaves wave 3 untouched, a site that misses its progressDeadline is
reverted alone within maxFailures while the rollout goes on, and a bad strategy is refused before
anything runs."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from pathlib import Path

from include.compiler.config import load_settings
from include.compiler.nl import parse_text
from tests.profiles import PROFILE as SLO_PROFILE
from tests.profiles import WINDOW
from tests.runstates import rollout, states, xcom

THREE = "URLLC slice with 8 ms latency for {n} devices at edge1, edge2 and edge3"


def intent_id(text: str) -> str:
    return parse_text(text, load_settings()).intent_id


def log(stack, site: str) -> list[str]:
    """Subjects of the site's main branch, newest first."""
    bare = Path(stack.root) / "git" / f"{site}-config.git"
    done = subprocess.run(
        ["git", "log", "--format=%H %s", "main"], cwd=bare, capture_output=True, text=True, check=True
    )
    return done.stdout.splitlines()


def files(stack, site: str, intent: str) -> list[str]:
    bare = Path(stack.root) / "git" / f"{site}-config.git"
    done = subprocess.run(
        ["git", "ls-tree", "-r", "--name-only", "main"], cwd=bare, capture_output=True, text=True, check=True
    )
    return [f for f in done.stdout.split() if f.startswith(f"intents/{intent}/")]


def breach(stack, site: str, intent: str) -> None:
    """The intent's workload at ``site`` answers slowly: its latency SLO breaks."""
    stack.control(site, "PUT", f"/control/faults/intent-{intent}", {"latencyMs": 250})


def evidence_of(run) -> dict:
    return json.loads(Path(xcom(run, "rollback.evidence")["path"]).read_text())


def test_a_breach_at_the_canary_never_touches_the_later_waves(pipeline_dag, fresh_stack):
    text = THREE.format(n=101)
    intent = intent_id(text)
    breach(fresh_stack, "edge1", intent)
    before = {site: log(fresh_stack, site) for site in ("edge2", "edge3")}
    started = time.time()
    run = pipeline_dag.test(run_conf={"intent": text, "slo_profile": SLO_PROFILE})
    found = states(run)
    assert run.state == "failed"
    assert found["wave_1.sites.verify_slos[edge1]"] == "failed"  # the phase that failed is the red one
    assert found["wave_1.sites.deliver[edge1]"] == found["wave_1.gate"] == "success"
    for wave in (2, 3):
        assert found[f"wave_{wave}.approve"] == found[f"wave_{wave}.sites.deliver"] == "skipped"
    assert found["rollback.revert"] == found["rollback.wait_for_restore"] == "success"
    # edge2 and edge3 never received a commit
    assert {site: log(fresh_stack, site) for site in ("edge2", "edge3")} == before
    assert files(fresh_stack, "edge1", intent) == []  # reverted
    record = rollout(run)
    assert record["state"] == "RolledBack" and record["untouched"] == ["edge2", "edge3"]
    assert [w["state"] for w in record["waves"]] == ["Failed", "Skipped", "Skipped"]
    assert record["stopped"]["wave"] == 1 and "slo_breach" in record["stopped"]["reason"]
    assert record["reverts"]["edge1"]["commit"] and record["reverts"]["edge1"]["restoredAt"]
    evidence = evidence_of(run)
    assert evidence["trigger"] == "slo_breach" and evidence["result"] == "success"
    assert evidence["rollout"]["untouched"] == ["edge2", "edge3"] and list(evidence["sites"]) == ["edge1"]
    assert json.loads(Path(record["path"]).read_text())["state"] == "RolledBack"
    assert time.time() - started < 120  # no SLO window of a later wave was waited for


def test_a_breach_in_wave_two_reverts_waves_two_and_one_newest_first(pipeline_dag, fresh_stack):
    text = THREE.format(n=102)
    intent = intent_id(text)
    breach(fresh_stack, "edge2", intent)
    before = log(fresh_stack, "edge3")
    run = pipeline_dag.test(run_conf={"intent": text, "slo_profile": SLO_PROFILE})
    found = states(run)
    assert run.state == "failed"
    assert found["wave_1.sites.verify_slos[edge1]"] == "success"
    assert found["wave_2.sites.verify_slos[edge2]"] == "failed"
    assert found["wave_3.approve"] == "skipped" and log(fresh_stack, "edge3") == before
    record = rollout(run)
    assert [w["state"] for w in record["waves"]] == ["Succeeded", "Failed", "Skipped"]
    assert record["untouched"] == ["edge3"] and set(record["reverts"]) == {"edge1", "edge2"}
    plan = xcom(run, "rollback.plan")
    assert plan["order"] == ["edge2", "edge1"]
    reverts = xcom(run, "rollback.revert", "reverts")
    assert reverts["edge2"]["pushedAt"] < reverts["edge1"]["pushedAt"]
    for site in ("edge1", "edge2"):
        assert files(fresh_stack, site, intent) == []
    evidence = evidence_of(run)
    assert set(evidence["sites"]) == {"edge1", "edge2"} and evidence["rollout"]["stopped"]["wave"] == 2


def test_a_missed_progress_deadline_within_max_failures_is_reverted_alone(pipeline_dag, fresh_stack):
    text = THREE.format(n=103)
    intent = intent_id(text)
    strategy = {
        "type": "ProgressivePerGroup",
        "progressivePerGroup": {
            "mandatoryDecisionGroups": [{"groupName": "canary"}],
            "maxFailures": 1,
            "progressDeadline": "6s",
            "minSuccessTime": "2s",
        },
    }
    fresh_stack.control("edge2", "POST", "/control/sync", {"paused": True})
    unpaused = {}

    def resume_after_the_deadline():
        deadline = time.time() + 240
        while not files(fresh_stack, "edge2", intent) and time.time() < deadline:
            time.sleep(0.5)
        time.sleep(10)  # past edge2's deadline: its wait has failed; the revert must sync
        fresh_stack.control("edge2", "POST", "/control/sync", {"paused": False})
        unpaused["at"] = time.time()

    helper = threading.Thread(target=resume_after_the_deadline, daemon=True)
    helper.start()
    run = pipeline_dag.test(
        run_conf={"intent": text, "slo_profile": SLO_PROFILE, "rollout_strategy": strategy}
    )
    helper.join(5)
    found = states(run)
    assert found["wave_2.sites.wait_for_sync[edge2]"] == "failed"
    assert found["wave_2.gate"] == found["wave_2.restore_failed"] == "success"
    assert set(xcom(run, "wave_2.gate", "restore")) == {"edge2"}
    assert found["wave_3.sites.verify_slos[edge3]"] == "success"
    assert found["report"] == "success" and run.state == "success"  # one failure is tolerated
    record = rollout(run)
    assert record["state"] == "Succeeded" and record["failures"] == 1 and record["stopped"] is None
    edge2 = record["waves"][1]["sites"]["edge2"]
    assert edge2["state"] == "reverted" and "progress deadline" in edge2["failure"]["reason"]
    assert edge2["revert"]["commit"] and edge2["revert"]["restoredAt"]
    assert set(xcom(run, "wave_2.gate", "reverts")) == {"edge2"}
    assert files(fresh_stack, "edge2", intent) == [] and files(fresh_stack, "edge3", intent)
    # edge3's wave started only after edge2 was restored
    assert record["waves"][2]["sites"]["edge3"]["deliveredAt"] > edge2["revert"]["restoredAt"]
    # the soak: verification went on 2 s past the window
    canary = xcom(run, "wave_1.sites.verify_slos", "verdict", site="edge1")
    assert canary["soak"] == 2 and canary["ended"] - canary["started"] >= WINDOW + 2 - 2.5
    assert "1 failed site(s) reverted alone" in xcom(run, "watcher")


def test_a_bad_strategy_is_refused_before_anything_runs(pipeline_dag, sites_stack):
    before = {site: log(sites_stack, site) for site in ("edge1", "edge2", "edge3")}
    strategy = {"type": "Progressive", "progressive": {"maxFailures": 9, "minSuccessTime": "-1m"}}
    run = pipeline_dag.test(
        run_conf={"intent": THREE.format(n=104), "rollout_strategy": strategy, "slo_profile": SLO_PROFILE}
    )
    found = states(run)
    assert found["validate"] == "failed" and found["wave_1.approve"] == "upstream_failed"
    assert run.state == "failed"
    errors = {e["field"]: e["reason"] for e in xcom(run, "validate", "errors")["errors"]}
    assert errors == {
        "rolloutStrategy.progressive.minSuccessTime": "must not be negative",
        "rolloutStrategy.progressive.maxFailures": "9 is more than the intent's 3 site(s)",
    }
    assert {site: log(sites_stack, site) for site in ("edge1", "edge2", "edge3")} == before
