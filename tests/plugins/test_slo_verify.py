"""The Verifying phase: when a site's SLO window starts (the change live there, as the waits before
verification saw it), and the window deferred to the triggerer, judged against a real Prometheus."""

from __future__ import annotations

import importlib
import time

import pytest
from airflow.sdk.exceptions import AirflowException, TaskDeferred

from edge_intent.operators.slo_verify import SLOBreached, SLOVerifyOperator, live_since
from edge_intent.triggers.slo_window import MIN_DEFERRAL, SLOWindowTrigger
from tests.waiting import first_event


def test_the_window_starts_when_the_last_wait_saw_its_site_done():
    synced = {"edge1": {"state": "done", "at": 100.0}}
    provisioned = {"edge1": {"state": "done", "at": 101.5}}
    assert live_since([synced, provisioned]) == 101.5


def test_the_o2ims_own_fulfilled_time_counts_when_it_came_before_the_wait_looked():
    synced = {"edge1": {"state": "done", "at": 100.0}}
    provisioned = {"edge1": {"state": "done", "at": 101.5, "fulfilledAt": 99.2}}
    assert live_since([synced, provisioned]) == 100.0
    late = {"edge1": {"state": "done", "at": 101.5, "fulfilledAt": 200.0}}  # never after it was seen
    assert live_since([synced, late]) == 101.5


def test_no_time_said_means_the_window_starts_now():
    assert live_since(None) is None
    assert live_since([{}, {"edge1": {"state": "done"}}, "not a result"]) is None


def test_the_window_trigger_serializes_to_an_importable_class():
    trigger = SLOWindowTrigger(intent_id="a", targets={"edge1": {}}, profile="demo", start=1.0, soak=5.0)
    classpath, kwargs = trigger.serialize()
    module, name = classpath.rsplit(".", 1)
    assert getattr(importlib.import_module(module), name) is SLOWindowTrigger
    assert SLOWindowTrigger(**kwargs).serialize() == (classpath, kwargs)


def test_the_trigger_judges_a_window_from_prometheus_history(sites_stack):
    """A window that started before the trigger ran: its past instants are read from what Prometheus
    kept (an intent that never reported has no samples there, not judged), the rest as they come, where
    a rollback-class SLO with no data fails closed."""
    started = time.time() - 24  # 24 s of the demo profile's 30 s window are past
    began = time.monotonic()
    event = first_event(
        SLOWindowTrigger(intent_id="never-ran", targets={"edge1": {}}, profile="demo", start=started)
    )
    assert time.monotonic() - began >= MIN_DEFERRAL
    assert event["status"] == "done"
    verdict = event["verdict"]
    assert (verdict["result"], verdict["trigger"]) == ("breach", "missing_data")
    assert verdict["started"] == started and verdict["evaluations"]
    assert {b["slo"] for b in verdict["breaches"]} >= {"latency_p95", "pod_ready"}


def test_the_trigger_says_why_a_window_cannot_run(sites_stack):
    event = first_event(
        SLOWindowTrigger(intent_id="a", targets={"edge1": {}}, profile="nope", start=time.time())
    )
    from include.slo.definitions import load_config

    known = ", ".join(load_config().profiles)
    assert event == {
        "status": "error",
        "message": f"UnknownProfile: slo_profile: unknown profile 'nope'; known: {known}",
    }
    assert known.startswith("default, demo")


def _operator(**kwargs):
    from include.compiler import api
    from include.compiler.config import load_settings

    settings = load_settings()
    intent = api.to_28312(api.parse("Deploy URLLC slice with 5ms latency at edge1", settings), settings)
    return SLOVerifyOperator(
        task_id="verify",
        targets={"edge1": {}},
        compiled={"intent": intent.to_json()},
        profile="demo",
        **kwargs,
    )


def test_the_operator_defers_its_window_from_when_the_change_went_live(sites_stack):
    live = [{"edge1": {"state": "done", "at": time.time() - 4}}]
    with pytest.raises(TaskDeferred) as caught:
        _operator(live=live).execute({})
    trigger = caught.value.trigger
    assert isinstance(trigger, SLOWindowTrigger) and caught.value.method_name == "execute_complete"
    assert trigger.start == live[0]["edge1"]["at"] and trigger.targets["edge1"]["DlLatency"] == 5.0
    assert 30 < caught.value.timeout.total_seconds() <= 30 + SLOVerifyOperator.DEFERRAL_MARGIN


class _TI:
    """The task instance's XComs, this task's own only."""

    task_id, map_index = "wave_1.sites.verify_slos", 0

    def __init__(self):
        self.pushed = {}

    def xcom_push(self, key, value):
        self.pushed[key] = value

    def xcom_pull(self, task_ids, map_indexes, key):
        assert (task_ids, map_indexes) == (self.task_id, self.map_index)
        return self.pushed.get(key)


def test_the_resumed_operator_fails_the_wave_on_a_breach_and_keeps_the_verdict():
    ti = _TI()
    verdict = {
        "result": "breach",
        "trigger": "slo_breach",
        "breaches": [{"slo": "latency_p95", "site": "edge1"}],
    }
    with pytest.raises(SLOBreached, match="SLOs not met at edge1: slo_breach; latency_p95 at edge1"):
        _operator(fail_on_breach=True).execute_complete({"ti": ti}, {"status": "done", "verdict": verdict})
    assert ti.pushed["verdict"]["result"] == "breach" and ti.pushed["verdict"]["sites"] == ["edge1"]
    with pytest.raises(AirflowException, match="the SLO window could not run: boom"):
        _operator().execute_complete({"ti": ti}, {"status": "error", "message": "boom"})


def test_a_window_already_past_is_judged_in_the_task_not_deferred(sites_stack):
    """A task that starts when its window is (nearly) over judges it from Prometheus' history at
    once: a trigger firing at once could lose Airflow's race with the deferral's executor event."""
    from include.slo.definitions import load_config

    window = load_config().profiles["demo"].window
    live = [{"edge1": {"state": "done", "at": time.time() - window - 10}}]
    ti = _TI()
    called = time.time()
    verdict = _operator(live=live).execute({"ti": ti})  # no TaskDeferred
    assert time.time() - called < window / 2  # judged at once, not waited for
    # a window's start is at most one window ago: it ends now
    assert verdict["started"] == pytest.approx(called - window, abs=1.0)
    assert ti.pushed["verdict"]["started"] == verdict["started"]
    instants = sorted({e["time"] for e in verdict["evaluations"]})
    assert instants[0] == pytest.approx(verdict["started"]) and instants[-1] <= time.time()
    assert verdict["result"] in ("pass", "breach") and verdict["scaling"] == []


def test_a_window_that_is_not_deferred_runs_the_scale_sync_wait_here():
    """Verifying in the worker (``deferrable=False``) waits for a scale commit's sync with the same
    trigger the deferred task would defer to, run in this process: its first event."""
    import asyncio

    from airflow.triggers.base import TriggerEvent

    from edge_intent.operators.slo_verify import _first_event

    class Trigger:
        async def run(self):
            yield TriggerEvent({"status": "success", "sites": {"edge1": {"at": 5.0}}})
            raise AssertionError("read past the first event")

    assert asyncio.run(_first_event(Trigger())) == {"status": "success", "sites": {"edge1": {"at": 5.0}}}
