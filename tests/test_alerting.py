"""Alerts reach the intent through the real Alertmanager, on the shared running stack: an alert
about an intent's namespace, sent to Alertmanager, is delivered to the intent API's webhook with the
stack's token and shown by ``GET /api/intent/{id}``; and the closed loop: Prometheus fires the
project's own SLO rule on a live intent's workload, and the intent is Degraded, in its TMF921
IntentReport and on its run's note in Airflow."""

from __future__ import annotations

import json
import time
import urllib.request

import yaml

from include.airflow_rest import AirflowRest
from include.compiler.tmf921 import BASE_PATH
from include.lifecycle import Dag
from include.localstack import monitoring
from include.localstack import stack as localstack
from include.localstack.airflow_api import AirflowAPI


def _until_degraded(admin: AirflowAPI, intent_id: str, *, timeout: float) -> dict:
    """``GET /api/intent/{id}`` once it says Degraded."""
    deadline = time.time() + timeout
    while True:
        _, _, state = admin.send("GET", f"/api/intent/{intent_id}")
        if state.get("phase") == "Degraded":
            return state
        assert time.time() < deadline, f"the intent was never Degraded: {state.get('phase')}"
        time.sleep(1)


def test_an_alert_about_an_intent_reaches_it_through_alertmanager(airflow_stack):
    stack = airflow_stack
    admin = AirflowAPI(stack.airflow_url, *localstack.ADMIN)
    status, _, body = admin.send(
        "POST",
        "/api/intent",
        json.dumps({"intent": "mMTC slice for 7000 devices at edge3", "dry_run": True}).encode(),
    )
    assert status == 202, body
    assert admin.follow(Dag.PIPELINE, body["runId"], timeout=180)["state"] == "success"
    intent_id = body["intentId"]

    with urllib.request.urlopen(f"{stack.prometheus_url}/api/v1/alertmanagers", timeout=5) as reply:
        active = json.load(reply)["data"]["activeAlertmanagers"]
    assert [a["url"] for a in active][0].startswith(stack.services["alertmanager"].url)

    alert = {
        "labels": {
            "alertname": "SliceErrorRateHigh",
            "namespace": f"intent-{intent_id}",
            "site": "edge3",
            "slo": "error_rate",
            "severity": "warning",
        },
        "annotations": {"summary": "Error rate above 1 %"},
    }
    request = urllib.request.Request(
        f"{stack.services['alertmanager'].url}/api/v2/alerts",
        data=json.dumps([alert]).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    urllib.request.urlopen(request, timeout=5).close()
    deadline = time.time() + 60
    while True:
        status, _, state = admin.send("GET", f"/api/intent/{intent_id}")
        if state.get("alerts"):
            break
        assert time.time() < deadline, "the alert never reached the intent"
        time.sleep(1)
    [shown] = state["alerts"]
    assert shown["status"] == "firing" and shown["labels"]["alertname"] == "SliceErrorRateHigh"
    assert shown["labels"]["site"] == "edge3" and shown["fingerprint"]
    # without the stack's token the webhook takes nothing
    status, _, refused = admin.send("POST", "/api/intent/alerts", b"{}", token=None)
    assert status == 401 and refused["errors"][0]["field"] == "Authorization"


def test_prometheus_fires_an_slo_rule_and_the_intent_is_degraded(airflow_stack, tmf921_validator):
    """The project's SliceErrorRateHigh rule as shipped, held for 0 s instead of 5 min, evaluated by
    the stack's Prometheus on a live intent whose workload answers 20 % of its requests with 500."""
    stack = airflow_stack
    admin = AirflowAPI(stack.airflow_url, *localstack.ADMIN)
    text = "URLLC slice with 40 ms latency and 99.5% reliability at edge3"
    status, _, body = admin.send("POST", "/api/intent", json.dumps({"intent": text}).encode())
    assert status == 202, body
    intent_id, run_id = body["intentId"], body["runId"]
    assert admin.follow(Dag.PIPELINE, run_id, timeout=300)["state"] == "success"
    status, _, before = admin.send("GET", f"/api/intent/{intent_id}")
    assert before["phase"] in ("Succeeded", "Unverified") and "alerts" not in before

    shipped = yaml.safe_load(monitoring.ALERT_RULES.read_text())
    [rule] = [r for g in shipped["groups"] for r in g["rules"] if r.get("alert") == "SliceErrorRateHigh"]
    assert rule["for"] == "5m"
    monitoring.add_rules(
        stack, "held-0s", [{"name": "edge-intent-slos-held-0s", "rules": [{**rule, "for": "0s"}]}]
    )
    fault = f"/control/faults/intent-{intent_id}"
    try:
        stack.control("edge3", "PUT", fault, {"errorRate": 0.2})
        state = _until_degraded(admin, intent_id, timeout=120)
        [shown] = state["alerts"]
        assert shown["labels"]["alertname"] == "SliceErrorRateHigh" and shown["status"] == "firing"
        assert shown["labels"]["site"] == "edge3" and shown["labels"]["slo"] == "error_rate"
        with urllib.request.urlopen(f"{stack.prometheus_url}/api/v1/alerts", timeout=5) as reply:
            fired = json.load(reply)["data"]["alerts"]  # Prometheus fired it, not the test
        states = {
            (a["labels"]["alertname"], a["state"])
            for a in fired
            if a["labels"].get("namespace") == f"intent-{intent_id}"
        }
        assert ("SliceErrorRateHigh", "firing") in states  # held 0 s; the shipped rule, 5 min, is pending
        said = state["fulfilment"]
        assert said["state"] == "Degraded"
        assert any(
            line.startswith("reliability at edge3: alert SliceErrorRateHigh firing")
            for line in said["missed"]
        )

        status, _, reports = admin.send("GET", f"{BASE_PATH}/intent/{intent_id}/intentReport")
        assert status == 200 and len(reports) == 2
        tmf921_validator(reports[0], "IntentReport", nested=(("intent", ""), ("expression", "")))
        assert reports[0]["expression"]["expressionValue"]["fulfilment"] == "Degraded"
        status, _, resource = admin.send("GET", f"{BASE_PATH}/intent/{intent_id}")
        assert resource["lifecycleStatus"] == "Degraded"

        with AirflowRest(stack.airflow_url, *localstack.ADMIN) as rest:
            note = rest.get_dag_run(Dag.PIPELINE, run_id).note
        assert "Alerts (Alertmanager):\n- edge3: alert SliceErrorRateHigh firing since" in note
    finally:
        stack.control("edge3", "DELETE", fault)
        monitoring.add_rules(stack, "held-0s", None)


def test_verifying_sends_an_alert_class_failure_to_alertmanager(airflow_stack):
    """An intent whose workload answers 20 % of its requests with 500 from the start: error rate is
    an alert-class SLO, so the rollout goes on, and Verifying sends the finding to Alertmanager, from
    where it reaches the intent: Degraded, its run's note says why."""
    from include.compiler import api
    from include.compiler.config import load_settings

    stack = airflow_stack
    admin = AirflowAPI(stack.airflow_url, *localstack.ADMIN)
    text = "eMBB slice with 140 Mbps downlink at edge3"
    intent_id = api.parse(text, load_settings()).id
    fault = f"/control/faults/intent-{intent_id}"
    stack.control("edge3", "PUT", fault, {"errorRate": 0.2})
    try:
        status, _, body = admin.send("POST", "/api/intent", json.dumps({"intent": text}).encode())
        assert status == 202 and body["intentId"] == intent_id, body
        assert admin.follow(Dag.PIPELINE, body["runId"], timeout=300)["state"] == "success"
        with urllib.request.urlopen(
            f"{stack.services['alertmanager'].url}/api/v2/alerts", timeout=5
        ) as reply:
            held = [a for a in json.load(reply) if a["labels"].get("namespace") == f"intent-{intent_id}"]
        [sent] = held
        assert sent["labels"]["source"] == "verifying" and sent["labels"]["alertname"] == "SliceErrorRateHigh"
        assert sent["annotations"]["dagRunId"] == body["runId"]
        state = _until_degraded(admin, intent_id, timeout=60)
        assert [a["labels"]["source"] for a in state["alerts"]] == ["verifying"]
        assert any("alert SliceErrorRateHigh firing" in line for line in state["fulfilment"]["missed"])
        verdict = state["slo"]["sites"]["edge3"]
        assert verdict["result"] == "pass" and verdict["alerted"] == {"sent": 1}
        with AirflowRest(stack.airflow_url, *localstack.ADMIN) as rest:
            note = rest.get_dag_run(Dag.PIPELINE, body["runId"]).note
        assert "Alerts (Alertmanager):\n- edge3: alert SliceErrorRateHigh firing since" in note
    finally:
        stack.control("edge3", "DELETE", fault)
