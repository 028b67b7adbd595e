"""Progressive rollouts on the shared running stack, through Airflow's REST API (the official client):
a wave's approval approved, rejected and timed out as people and the scheduler answer it, and two
progressive intents at once on the same sites."""

from __future__ import annotations

import json
import time

import pytest

from include.compiler.config import load_settings
from include.compiler.nl import parse_text
from include.lifecycle import APPROVE, ROLLBACK_EVIDENCE, ROLLOUT, WATCHER, Dag, wave_task
from include.localstack import stack as localstack
from include.localstack.airflow_api import AirflowAPI
from tests.profiles import PROFILE as SLO_PROFILE

PIPELINE = Dag.PIPELINE.value


@pytest.fixture(scope="module")
def apis(airflow_stack):
    return (
        airflow_stack,
        AirflowAPI(airflow_stack.airflow_url, *localstack.ADMIN),
        AirflowAPI(airflow_stack.airflow_url, *localstack.OPERATOR),
    )


def commits_of(stack, site: str, intent_id: str) -> list[str]:
    return stack.delivery_commits(site, intent_id)


def awaiting(api, run_id: str, task_id: str, timeout: float = 150) -> dict:
    """The run's required action of ``task_id`` once the task waits for it. (The request exists a
    moment before the task is parked in ``awaiting_input``; an answer given in that moment is kept
    but only acted on at the timeout, so a person, like this test, answers what the UI shows
    waiting.)"""
    deadline = time.time() + timeout
    while time.time() < deadline:
        for detail in api.required_actions(PIPELINE, run_id):
            if (
                detail["task_instance"]["task_id"] == task_id
                and detail["task_instance"]["state"] == "awaiting_input"
            ):
                return detail
        time.sleep(0.5)
    raise AssertionError(f"{task_id} of {run_id} never asked for approval")


def strategy(groups: list[str], timeout: str = "10m") -> dict:
    return {
        "type": "ProgressivePerGroup",
        "progressivePerGroup": {"mandatoryDecisionGroups": [{"groupName": "canary"}]},
        "approval": {"groups": groups, "timeout": timeout},
    }


def test_a_waves_approval_approved_rejected_and_timed_out(apis):
    stack, admin, operator = apis
    texts = {
        "approved": "URLLC slice with 21 ms latency at edge1",
        "rejected": "URLLC slice with 22 ms latency at edge1 and edge2",
        "timed out": "URLLC slice with 23 ms latency at edge3",
    }
    ids = {case: parse_text(text, load_settings()).intent_id for case, text in texts.items()}
    runs = {
        "approved": admin.trigger(
            PIPELINE,
            {
                "intent": texts["approved"],
                "slo_profile": SLO_PROFILE,
                "rollout_strategy": strategy(["canary"]),
            },
        ),
        "timed out": admin.trigger(
            PIPELINE,
            {
                "intent": texts["timed out"],
                "slo_profile": SLO_PROFILE,
                "rollout_strategy": strategy(["wave-3"], timeout="4s"),
            },
        ),
    }
    # the intent API's door: the strategy in the body, refused or planned before anything runs
    submitted = {
        "intent": texts["rejected"],
        "slo_profile": SLO_PROFILE,
        "rolloutStrategy": strategy(["wave-2"]),
    }
    status, _, body = operator.send("POST", "/api/intent", json.dumps(submitted).encode())
    assert status == 202, body
    assert [w["approval"] for w in body["rollout"]["waves"]] == [False, True]
    runs["rejected"] = body["runId"]

    asked = awaiting(admin, runs["approved"], wave_task(1, APPROVE))
    assert asked["options"] == ["Approve", "Reject"] and ids["approved"] in asked["subject"]
    assert commits_of(stack, "edge1", ids["approved"]) == []  # nothing delivered before the answer
    operator.answer(PIPELINE, runs["approved"], wave_task(1, APPROVE), "Approve")

    # the canary wave of the rejected intent runs first; its second wave waits for a person
    awaiting(admin, runs["rejected"], wave_task(2, APPROVE), timeout=240)
    assert len(commits_of(stack, "edge1", ids["rejected"])) == 1
    admin.answer(PIPELINE, runs["rejected"], wave_task(2, APPROVE), "Reject")

    ended = {case: admin.follow(PIPELINE, run, timeout=300)["state"] for case, run in runs.items()}
    assert ended == {"approved": "success", "rejected": "failed", "timed out": "failed"}

    approved = admin.xcom(PIPELINE, runs["approved"], ROLLOUT)
    assert approved["state"] == "Succeeded"
    answer = approved["waves"][0]["approval"]
    assert answer["required"] and answer["decision"] == "Approve" and answer["by"] == "operator"
    assert answer["at"] and len(commits_of(stack, "edge1", ids["approved"])) == 1

    rejected = admin.xcom(PIPELINE, runs["rejected"], ROLLOUT)
    assert rejected["state"] == "RolledBack" and rejected["untouched"] == ["edge2"]
    assert rejected["waves"][1]["state"] == "Rejected"
    assert rejected["waves"][1]["approval"]["decision"] == "Reject"
    assert rejected["waves"][1]["approval"]["by"] == "admin"
    assert commits_of(stack, "edge2", ids["rejected"]) == []  # never delivered
    evidence = admin.xcom(PIPELINE, runs["rejected"], ROLLBACK_EVIDENCE)
    assert evidence["trigger"] == "approval_rejected" and evidence["sites"] == ["edge1"]
    assert evidence["result"] == "success"

    timed_out = admin.xcom(PIPELINE, runs["timed out"], ROLLOUT)
    assert timed_out["waves"][0]["approval"]["decision"] == "TimedOut"
    assert timed_out["waves"][0]["approval"]["by"] is None
    assert timed_out["state"] == "Failed" and commits_of(stack, "edge3", ids["timed out"]) == []
    assert timed_out["stopped"] == {"wave": 1, "reason": "approval timed out"}

    status, _, state = admin.send("GET", f"/api/intent/{ids['rejected']}")
    assert status == 200 and state["phase"] == "Failed"
    assert state["rollout"]["waves"][1]["approval"]["by"] == "admin"
    assert state["sites"]["edge1"]["rollback"]["commit"]
    status, _, tmf = admin.send("GET", f"/tmf-api/intentManagement/v5/intent/{ids['rejected']}")
    assert status == 200
    carried = [c for c in tmf["characteristic"] if c["name"] == "rollout"]
    assert carried and carried[0]["@type"] == "ObjectCharacteristic"
    assert carried[0]["value"]["state"] == "RolledBack"


def test_two_progressive_intents_at_once_on_the_same_sites(apis):
    stack, admin, _ = apis
    texts = [f"eMBB slice with {mbps} Mbps downlink at edge1 and edge2" for mbps in (310, 320)]
    runs = [admin.trigger(PIPELINE, {"intent": text, "slo_profile": SLO_PROFILE}) for text in texts]
    ended = [admin.follow(PIPELINE, run, timeout=300)["state"] for run in runs]
    assert ended == ["success", "success"]
    for text, run in zip(texts, runs, strict=True):
        intent_id = parse_text(text, load_settings()).intent_id
        # no site measures throughput per UE: the run went through, Unverified, and says so
        said = admin.xcom(PIPELINE, run, WATCHER)
        assert said.startswith("Unverified") and "DlThptPerUE at edge1: not verifiable" in said
        assert admin.run(PIPELINE, run)["note"] == said  # beside the run in the grid
        status, _, state = admin.send("GET", f"/api/intent/{intent_id}")
        assert status == 200 and state["phase"] == "Unverified"
        record = admin.xcom(PIPELINE, run, ROLLOUT)
        canary, second = record["waves"][0]["sites"]["edge1"], record["waves"][1]["sites"]["edge2"]
        # each run kept its own order: its second wave after its canary's SLO window
        assert second["deliveredAt"] > canary["slo"]["ended"]
        for site in ("edge1", "edge2"):
            assert len(commits_of(stack, site, intent_id)) == 1  # exactly one commit each, no loss
