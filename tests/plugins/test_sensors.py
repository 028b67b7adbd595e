"""The Reconciling waits: poke, defer, the trigger's events, fail-fast and timeouts, against real
simulated sites (separate processes) read through Airflow connections and the KubernetesHook."""

from __future__ import annotations

import importlib
import time
from pathlib import Path

import pytest
from airflow.sdk.exceptions import AirflowSensorTimeout, TaskDeferred

from edge_intent.hooks.site_repo import site_repo
from edge_intent.sensors.site_wait import ProvisioningRequestSensor, RootSyncSensor, SiteWaitFailed
from edge_intent.triggers.site_wait import SiteWaitTrigger
from tests.waiting import first_event

NAMESPACE = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: intent-{id}\n"


def deliver(site, intent_id, files=None):
    files = files or {"namespace.yaml": NAMESPACE.format(id=intent_id)}
    return site_repo(site).deliver(intent_id, files, message=f"test {intent_id}").sha


def test_trigger_serializes_to_an_importable_class():
    trigger = SiteWaitTrigger(
        kind="rootsync", targets={"edge1": {"sha": "a" * 40}}, deadline=1.5, poll_interval=3
    )
    classpath, kwargs = trigger.serialize()
    module, _, name = classpath.rpartition(".")
    rebuilt = getattr(importlib.import_module(module), name)(**kwargs)
    assert rebuilt.serialize() == (classpath, kwargs)
    assert classpath == "edge_intent.triggers.site_wait.SiteWaitTrigger"


def test_trigger_fires_success_when_every_site_is_synced(sites_stack):
    targets = {site: {"sha": deliver(site, "trig-ok")} for site in sites_stack.sites}
    event = first_event(
        SiteWaitTrigger(kind="rootsync", targets=targets, deadline=time.time() + 30, poll_interval=0.2)
    )
    assert event["status"] == "success"
    assert set(event["sites"]) == set(sites_stack.sites) == {"edge1", "edge2", "edge3"}


def test_trigger_fires_timeout_naming_the_site(sites_stack):
    sites_stack.control("edge2", "POST", "/control/sync", {"paused": True})
    try:
        targets = {"edge2": {"sha": deliver("edge2", "trig-late")}}
        event = first_event(
            SiteWaitTrigger(kind="rootsync", targets=targets, deadline=time.time() + 1, poll_interval=0.2)
        )
    finally:
        sites_stack.control("edge2", "POST", "/control/sync", {"paused": False})
    assert event["status"] == "timeout"
    assert event["message"].startswith("edge2: at ")


def test_sensor_defers_with_a_timeout_when_not_done(sites_stack):
    sites_stack.control("edge1", "POST", "/control/sync", {"paused": True})
    try:
        targets = {"edge1": {"sha": deliver("edge1", "defer-me")}}
        sensor = RootSyncSensor(task_id="wait", targets=targets, timeout=120)
        with pytest.raises(TaskDeferred) as caught:
            sensor.execute({})
    finally:
        sites_stack.control("edge1", "POST", "/control/sync", {"paused": False})
    assert isinstance(caught.value.trigger, SiteWaitTrigger)
    assert caught.value.timeout is not None and caught.value.timeout.total_seconds() == 180
    assert caught.value.method_name == "execute_complete"


def test_sensor_returns_at_once_when_already_synced(sites_stack):
    targets = {"edge1": {"sha": deliver("edge1", "early")}}
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            result = RootSyncSensor(task_id="wait", targets=targets, timeout=60).execute({})
            break
        except TaskDeferred:
            time.sleep(0.3)
    assert result["edge1"]["state"] == "done"


def test_poke_mode_times_out_naming_the_site(sites_stack):
    sites_stack.control("edge2", "POST", "/control/sync", {"paused": True})
    try:
        targets = {"edge2": {"sha": deliver("edge2", "never-synced")}}
        sensor = RootSyncSensor(
            task_id="wait", targets=targets, timeout=1.5, deferrable=False, poll_interval=0.3
        )
        started = time.time()
        with pytest.raises(
            AirflowSensorTimeout, match=r"GitOps sync did not complete within 1.5 s: edge2: at "
        ):
            sensor.execute({})
        assert time.time() - started < 10
    finally:
        sites_stack.control("edge2", "POST", "/control/sync", {"paused": False})


def test_site_error_fails_fast_with_the_sites_message(sites_stack):
    widget = {"widget.yaml": "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n"}
    sha = deliver("edge1", "broken-widget", widget)
    try:
        sensor = RootSyncSensor(
            task_id="wait", targets={"edge1": {"sha": sha}}, timeout=120, deferrable=False, poll_interval=0.2
        )
        started = time.time()
        with pytest.raises(SiteWaitFailed, match=r"edge1: RootSync reports 1 error\(s\).*Widget"):
            sensor.execute({})
        assert time.time() - started < 15
    finally:
        repo = site_repo("edge1")
        repo.deliver("broken-widget", {"namespace.yaml": NAMESPACE.format(id="broken-widget")}, message="fix")


def test_execute_complete(sites_stack):
    sensor = ProvisioningRequestSensor(task_id="o2ims", targets={}, timeout=10)
    assert sensor.execute_complete({}, {"status": "success", "message": "ok", "sites": {"edge1": {}}}) == {
        "edge1": {}
    }
    with pytest.raises(SiteWaitFailed, match="O2IMS provisioning failed: edge1: no capacity"):
        sensor.execute_complete({}, {"status": "error", "message": "edge1: no capacity"})
    with pytest.raises(AirflowSensorTimeout, match="did not complete within 10 s: edge2: progressing"):
        sensor.execute_complete({}, {"status": "timeout", "message": "edge2: progressing"})


class CountingRootSyncSensor(RootSyncSensor):
    """Counts how often Airflow started the sensor (each reschedule starts it again)."""

    starts = 0
    pokes = 0

    def execute(self, context):
        type(self).starts += 1
        return super().execute(context)

    def poke(self, context):
        type(self).pokes += 1
        return super().poke(context)


def _sensor_dag(dag_id, **sensor_kwargs):
    """A one-task DAG around a RootSyncSensor, written to the metadata DB as the DAG processor would,
    for ``dag.test()`` to run it as the scheduler does."""
    import pendulum
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db
    from airflow.sdk import DAG

    with DAG(dag_id, schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")) as dag:
        CountingRootSyncSensor(task_id="wait", timeout=60, **sensor_kwargs)
    bag = DagBag(dag_folder=str(Path(__file__).parent / "no-dags"))
    bag.bag_dag(dag)
    DagBundlesManager().sync_bundles_to_db()
    sync_bag_to_db(bag, "dags-folder", None)
    return dag


def _unpause_after_first_poke(sites_stack, site, seconds):
    """Let the site sync ``seconds`` after the sensor first found it pending."""
    import threading

    def unpause():
        deadline = time.time() + 120
        while CountingRootSyncSensor.pokes == 0 and time.time() < deadline:
            time.sleep(0.1)
        time.sleep(seconds)
        sites_stack.control(site, "POST", "/control/sync", {"paused": False})

    thread = threading.Thread(target=unpause, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize(
    ("mode", "deferrable"),
    [("reschedule", False), ("poke", True)],
    ids=["reschedule", "deferrable"],
)
def test_sensor_waits_for_a_late_site_in_reschedule_and_deferrable_mode(
    airflow_db, sites_stack, mode, deferrable
):
    """The sensor as Airflow runs it: in reschedule mode each poke is a try of its own (the slot is
    freed between pokes); in deferrable mode it pokes once and the trigger finishes the wait."""
    site = "edge1"
    sites_stack.control(site, "POST", "/control/sync", {"paused": True})
    timer = None
    try:
        sha = deliver(site, f"late-{mode}")
        dag = _sensor_dag(
            f"sensor_{mode}",
            targets={site: {"sha": sha}},
            mode=mode,
            deferrable=deferrable,
            poll_interval=0.5,
        )
        CountingRootSyncSensor.starts = CountingRootSyncSensor.pokes = 0
        timer = _unpause_after_first_poke(sites_stack, site, 2.0)
        run = dag.test()
    finally:
        if timer is not None:
            timer.join()
        sites_stack.control(site, "POST", "/control/sync", {"paused": False})
    [ti] = run.get_task_instances()
    assert run.state == "success" and ti.state == "success"
    result = ti.xcom_pull(task_ids="wait")
    assert result[site]["state"] == "done" and result[site]["observed"] == sha
    if mode == "reschedule":
        # it found the site pending and gave the worker slot back between pokes
        assert CountingRootSyncSensor.starts == CountingRootSyncSensor.pokes >= 2
    else:
        # one poke, then the trigger waited; the task resumed in execute_complete
        assert CountingRootSyncSensor.starts == CountingRootSyncSensor.pokes == 1
