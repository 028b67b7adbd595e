"""The report task says what Alertmanager's alerts firing about the intent say: a run that reports
while one fires is Degraded, with the alert as the reason, and its report lists the alerts it took
in (so the webhook does not say the same again). The boundary is the task instance's XComs."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from edge_intent import pipeline
from include.compiler import api
from include.evidence.alerts import Payload, record
from include.lifecycle import COMPILE

TEXT = "eMBB slice with 100 Mbps downlink at edge2"


class TaskInstance(SimpleNamespace):
    def xcom_pull(self, task_ids, key="return_value"):
        return self.xcoms.get(task_ids) if key == "return_value" else None


@pytest.fixture
def ti(settings, tmp_path, monkeypatch):
    monkeypatch.setenv("EDGE_INTENT_EVIDENCE_DIR", str(tmp_path))
    intent = api.to_28312(api.parse(TEXT, settings), settings)
    return TaskInstance(xcoms={COMPILE: {"intent": intent.to_json()}}, intent_id=intent.id)


def fire(root, intent_id: str) -> None:
    alert = {
        "status": "firing",
        "labels": {
            "alertname": "SliceMemoryHigh",
            "namespace": f"intent-{intent_id}",
            "site": "edge2",
            "slo": "memory_usage",
        },
        "annotations": {"summary": "Memory above 85 % of limits"},
        "startsAt": "2026-12-02T03:00:00Z",
        "fingerprint": "77aa",
    }
    record(root, Payload.model_validate({"version": "4", "status": "firing", "alerts": [alert]}))


def test_without_alerts_the_report_is_the_verification_s(ti):
    reported = pipeline.report(ti, "manual__1")
    assert reported["fulfilment"]["state"] != "Degraded" and reported["alerts"] == []


def test_an_alert_firing_at_report_time_degrades_the_report(ti, tmp_path):
    fire(tmp_path, ti.intent_id)
    reported = pipeline.report(ti, "manual__1")
    said = reported["fulfilment"]
    assert said["state"] == "Degraded"
    assert said["missed"] == [
        "edge2: alert SliceMemoryHigh firing since 2026-12-02T03:00:00Z: Memory above 85 % of limits"
    ]
    assert [a["fingerprint"] for a in reported["alerts"]] == ["77aa"]
    written = json.loads((tmp_path / ti.intent_id / "manual__1" / "intent-report.json").read_text())
    assert written == reported["intentReport"]
    value = written["expression"]["expressionValue"]
    assert value["fulfilment"] == "Degraded" and value["icm:intentHandlingState"] == {
        "@id": "imo:StateDegraded"
    }
    assert pipeline.outcome_of(said).startswith("Degraded")
    # what the verification showed is kept apart: once the alert resolves, that is the report again
    assert "SliceMemoryHigh" not in json.dumps(reported["verifiedReport"])
    assert "SliceMemoryHigh" in json.dumps(value["intentFulfilmentReport"])
