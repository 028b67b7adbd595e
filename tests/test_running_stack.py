"""Through the real running Airflow: api-server, scheduler, dag-processor and triggerer as separate
processes on SQLite, a REST trigger, and the Reconciling wait deferred to the real triggerer."""

from __future__ import annotations

import pytest

from include.lifecycle import DELIVER, ROLLOUT, WAIT_FOR_SYNC, wave_task
from include.localstack import stack as localstack
from include.localstack.airflow_api import AirflowAPI, AirflowAPIError
from tests.profiles import PROFILE as SLO_PROFILE

DAG = "intent_pipeline"


@pytest.fixture(scope="module")
def running(airflow_stack):
    yield airflow_stack, AirflowAPI(airflow_stack.airflow_url, *localstack.ADMIN)


def test_rest_trigger_takes_an_intent_wave_by_wave_through_the_triggerer(running):
    stack, api = running
    stack.control("edge2", "POST", "/control/sync", {"paused": True})  # so the sync wait has to defer
    text = "URLLC slice with 8 ms latency at edge1 and edge2"
    run_id = api.trigger(DAG, {"intent": text, "slo_profile": SLO_PROFILE})
    states: dict[str, list[str]] = {}
    edge2_sync = wave_task(2, WAIT_FOR_SYNC)

    def record(ti):
        states.setdefault(ti["task_id"], []).append(ti["state"])
        if ti["task_id"] == edge2_sync and ti["state"] == "deferred":
            stack.control("edge2", "POST", "/control/sync", {"paused": False})

    try:
        run = api.follow(DAG, run_id, timeout=240, on_change=record)
    finally:
        stack.control("edge2", "POST", "/control/sync", {"paused": False})
    assert run["state"] == "success", states
    assert "deferred" in states[edge2_sync]
    record_ = api.xcom(DAG, run_id, ROLLOUT)
    assert [(w["name"], list(w["sites"]), w["state"]) for w in record_["waves"]] == [
        ("canary", ["edge1"], "Succeeded"),
        ("wave-2", ["edge2"], "Succeeded"),
    ]
    for wave in (1, 2):
        site = ("edge1", "edge2")[wave - 1]
        delivered = api.xcom(DAG, run_id, wave_task(wave, DELIVER), map_index=0)
        synced = api.xcom(DAG, run_id, wave_task(wave, WAIT_FOR_SYNC), map_index=0)
        assert set(delivered) == set(synced) == {site}
        assert synced[site]["state"] == "done" and synced[site]["observed"] == delivered[site]["sha"]


def test_invalid_params_are_refused_before_a_run(running):
    _, api = running
    with pytest.raises(AirflowAPIError) as caught:
        api.trigger(DAG, {"intent": "URLLC at edge1", "dry_run": "yes"})
    assert caught.value.status == 400
    assert "dry_run" in caught.value.body


def test_invalid_intent_fails_validate_with_errors_in_xcom(running):
    _, api = running
    run_id = api.trigger(DAG, {"intent": "URLLC slice at edge9"})
    run = api.follow(DAG, run_id, timeout=120)
    assert run["state"] == "failed"
    states = {ti["task_id"]: ti for ti in api.task_instances(DAG, run_id)}
    assert states["validate"]["state"] == "failed" and states["validate"]["try_number"] == 1
    errors = api.xcom(DAG, run_id, "validate", key="errors")
    assert errors["errors"][0] == {
        "field": "text",
        "reason": "unknown site 'edge9'; known sites are edge1, edge2, edge3",
    }


def test_no_token_no_trigger(running):
    stack, _ = running
    anonymous = AirflowAPI(stack.airflow_url, "admin", "wrong-password")
    with pytest.raises(AirflowAPIError) as caught:
        anonymous.token()
    assert caught.value.status in (401, 403)
