"""Orphans on the running stack: deliveries still in effect that no successful run stands behind
(made by hand, by a run Airflow does not know, by a run that ended failed) are found from Git and
Airflow's REST API, reported, and taken out by revert with evidence when asked; a run still in
flight stands behind its delivery."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from include.gitops.repo import commit_message
from include.lifecycle import RECONCILE_GROUP, WAIT_FOR_SYNC, Dag, in_group, wave_task
from include.localstack import stack as localstack
from include.localstack.airflow_api import AirflowAPI

NAMESPACE = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: intent-{id}\n"
UNKNOWN_RUN = "manual__2001-01-01T00:00:00+00:00"


@pytest.fixture
def connections(airflow_stack, monkeypatch):
    for name, value in airflow_stack.connections_env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("EDGE_INTENT_GIT_CACHE", str(airflow_stack.root / "test-git-cache"))
    return airflow_stack


def _deliver(intent_id: str, site: str, message: str) -> str:
    from edge_intent.hooks.site_repo import site_repo

    return (
        site_repo(site)
        .deliver(intent_id, {"namespace.yaml": NAMESPACE.format(id=intent_id)}, message=message)
        .sha
    )


def _orphans_by_intent() -> dict[str, dict]:
    from edge_intent.operations import reconcile

    return {o["intentId"]: o for o in reconcile.find()}


def _wait_for_state(api: AirflowAPI, run_id: str, task_id: str, state: str, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        states = {ti["task_id"]: ti["state"] for ti in api.task_instances(Dag.PIPELINE.value, run_id)}
        if states.get(task_id) == state:
            return
        time.sleep(0.5)
    raise AssertionError(f"{task_id} never reached {state}: {states}")


def test_orphans_are_found_reported_and_taken_out(connections):
    from edge_intent.operations import emergency

    stack = connections
    api = AirflowAPI(stack.airflow_url, *localstack.ADMIN)
    by_hand = _deliver("orphan-hand", "edge1", "hand-made change")
    unknown = _deliver("orphan-gone", "edge2", commit_message("orphan-gone", "edge2", UNKNOWN_RUN))

    # a run in flight (its sync held back) stands behind its delivery; once failed by hand, it does not
    stack.control("edge2", "POST", "/control/sync", {"paused": True})
    try:
        run_id = api.trigger(Dag.PIPELINE.value, {"intent": "IoT sensors for a smart city at edge2"})
        _wait_for_state(api, run_id, wave_task(1, WAIT_FOR_SYNC), "deferred")
        intent_id = api.xcom(Dag.PIPELINE.value, run_id, "validate", "intent_id")
        in_flight = _orphans_by_intent()
        # as an operator does (emergency_fail_run): a scheduler loop that had the run in hand may
        # finish it "success" from the states the PATCH left; the operation marks it failed again
        failed = emergency.fail_run({"dag_id": Dag.PIPELINE.value, "run_id": run_id, "reason": "test"})
        assert failed["state"] == "failed"
    finally:
        stack.control("edge2", "POST", "/control/sync", {"paused": False})
    assert intent_id not in in_flight
    orphans = _orphans_by_intent()
    assert orphans["orphan-hand"]["sites"] == {
        "edge1": {
            "commits": [by_hand],
            "runs": [None],
            "reasons": ["delivered without a DAG run (no Dag-Run-Id trailer)"],
        }
    }
    assert orphans["orphan-gone"]["sites"]["edge2"]["reasons"] == [
        f"its run {UNKNOWN_RUN} is not known to Airflow"
    ]
    assert orphans["orphan-gone"]["sites"]["edge2"]["commits"] == [unknown]
    assert orphans[intent_id]["sites"]["edge2"]["reasons"] == [f"its run {run_id} ended failed"]

    # report only: nothing changes
    heads = {site: _head(site) for site in stack.sites}
    report = api.trigger(Dag.RECONCILE.value, {})
    assert api.follow(Dag.RECONCILE.value, report, timeout=120)["state"] == "success"
    summary = api.xcom(Dag.RECONCILE.value, report, "summary")
    assert {"orphan-hand", "orphan-gone", intent_id} <= {o["intentId"] for o in summary["orphans"]}
    assert summary["reverted"] == [] and {site: _head(site) for site in stack.sites} == heads

    # revert: each orphaned intent's commits reverted, the sites synced, evidence written
    taken = api.trigger(Dag.RECONCILE.value, {"revert": True, "reason": "orphans after an outage"})
    assert api.follow(Dag.RECONCILE.value, taken, timeout=240)["state"] == "success"
    summary = api.xcom(Dag.RECONCILE.value, taken, "summary")
    done = {r["intentId"]: r for r in summary["reverted"]}
    assert {"orphan-hand", "orphan-gone", intent_id} <= set(done)
    assert all(r["result"] == "success" for r in done.values())
    evidence = json.loads(Path(done["orphan-hand"]["path"]).read_text())
    assert evidence["trigger"] == "orphan" and evidence["dagId"] == Dag.RECONCILE.value
    assert evidence["restored_version"] == {"edge1": done["orphan-hand"]["reverts"]["edge1"]}
    assert not {"orphan-hand", "orphan-gone", intent_id} & set(_orphans_by_intent())
    for site in stack.sites:
        assert not {"orphan-hand", "orphan-gone", intent_id} & _deployed(site)
    states = {ti["task_id"] for ti in api.task_instances(Dag.RECONCILE.value, taken)}
    assert in_group(RECONCILE_GROUP, "evidence") in states


def _head(site: str) -> str:
    from edge_intent.hooks.site_repo import site_repo

    return site_repo(site).head()


def _deployed(site: str) -> set[str]:
    from edge_intent.hooks.site_repo import site_repo

    return {d.intent_id for d in site_repo(site).deployed_intents()}
