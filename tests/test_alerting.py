"""Alerts reach the intent through the real Alertmanager, on the shared running stack: an alert
about an intent's namespace, sent to Alertmanager, is delivered to the intent API's webhook with the
stack's token and shown by ``GET /api/intent/{id}``; Prometheus sends its own alerts there too."""

from __future__ import annotations

import json
import time
import urllib.request

from include.lifecycle import Dag
from include.localstack import stack as localstack
from include.localstack.airflow_api import AirflowAPI


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
