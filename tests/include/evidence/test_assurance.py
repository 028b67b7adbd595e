"""What firing alerts make of an intent's report: the SLO each alert names degrades the targets it
verifies at the alert's site (or the expectation, when it verifies none of them), the TMF921
IntentReport says Degraded with the alert as the reason, and every document still conforms to
TMF921 v5 and TS 28.312 Rel-18. Once none fires, the run's own fulfilment is said again."""

from __future__ import annotations

import pytest

from include.compiler import api
from include.evidence import assurance
from include.evidence.report import fulfilment, fulfilment_report
from include.lifecycle import Fulfilment
from tests.include.evidence.test_report import verdict

TEXT = "URLLC slice with 8 ms latency and 99.5% reliability at edge1 and edge2"


def alert(slo: str, site: str | None = "edge1", name: str = "SliceErrorRateHigh") -> dict:
    labels = {"alertname": name, "namespace": "intent-x", "slo": slo}
    if site:
        labels["site"] = site
    return {
        "status": "firing",
        "labels": labels,
        "annotations": {"summary": f"{slo} over its SLO"},
        "startsAt": "2026-12-02T03:00:00Z",
        "fingerprint": f"{slo}{site}".encode().hex()[:16],
    }


@pytest.fixture(scope="module")
def intent(settings):
    return api.to_28312(api.parse(TEXT, settings), settings)


@pytest.fixture(scope="module")
def base(intent):
    return fulfilment_report(intent, verdict(intent, latency=5.0, errors=0.1, served=2_400))


def info(report, site: str, target: str | None = None):
    result = next(r for r in report.expectationFulfilmentResult if r.expectaitonId.startswith(site))
    if target is None:
        return result.expectationFulfilmentInfo
    return next(t for t in result.targetFulfilmentResult if t.targetName == target).targetFulfilmentInfo


def test_the_base_is_fulfilled(intent, base):
    assert fulfilment(intent, base)["state"] == Fulfilment.FULFILLED


def test_an_error_rate_alert_degrades_the_reliability_target_at_its_site_only(intent, base):
    report, said = assurance.degrade(intent, base, [alert("error_rate")])
    degraded = info(report, "edge1", "reliability")
    assert (degraded.fulfilmentStatus, degraded.notFullfilledState) == ("NOT_FULFILLED", "DEGRADED")
    assert degraded.notFulfilledReasons == [
        "alert SliceErrorRateHigh firing since 2026-12-02T03:00:00Z: error_rate over its SLO"
    ]
    assert info(report, "edge1", "DlLatency").fulfilmentStatus == "FULFILLED"
    assert info(report, "edge2", "reliability").fulfilmentStatus == "FULFILLED"
    assert info(report, "edge1").notFullfilledState == "DEGRADED"
    assert info(report, "edge2").fulfilmentStatus == "FULFILLED"
    assert report.intentFulfilmentInfo.notFullfilledState == "DEGRADED"
    assert said["state"] == Fulfilment.DEGRADED
    assert said["missed"] == [f"reliability at edge1: {degraded.notFulfilledReasons[0]}"]


def test_an_alert_on_an_slo_no_target_shows_degrades_the_expectation(intent, base):
    report, said = assurance.degrade(intent, base, [alert("cpu_usage", "edge2", "SliceCPUHigh")])
    assert {
        t.targetFulfilmentInfo.fulfilmentStatus
        for r in report.expectationFulfilmentResult
        for t in r.targetFulfilmentResult
    } == {"FULFILLED"}
    edge2 = info(report, "edge2")
    assert edge2.notFullfilledState == "DEGRADED" and "SliceCPUHigh" in edge2.notFulfilledReasons[0]
    assert info(report, "edge1").fulfilmentStatus == "FULFILLED"
    assert said["state"] == Fulfilment.DEGRADED and said["missed"][0].startswith("edge2: alert SliceCPUHigh")


def test_an_alert_with_no_site_degrades_every_expectation(intent, base):
    report, _ = assurance.degrade(intent, base, [alert("memory_usage", None, "SliceMemoryHigh")])
    assert info(report, "edge1").notFullfilledState == info(report, "edge2").notFullfilledState == "DEGRADED"


def test_no_alert_firing_says_the_run_s_report_again(intent, base):
    report, said = assurance.degrade(intent, base, [])
    assert report == base and said == fulfilment(intent, base)


def test_the_assurance_report_conforms(intent, base, tmf921_validator, standards_validator, tmp_path):
    document, said = assurance.assured(
        intent, base, [alert("error_rate")], run_id="manual__1", now=1_800_000_000, number=2
    )
    body = document.to_json()
    tmf921_validator(body, "IntentReport", nested=(("intent", ""), ("expression", "")))
    value = body["expression"]["expressionValue"]
    standards_validator(value["intentFulfilmentReport"], "TS28312_IntentNrm.yaml", "IntentFulfilmentReport")
    assert (
        value["icm:intentHandlingState"] == {"@id": "imo:StateDegraded"} and value["fulfilment"] == "Degraded"
    )
    assert body["id"].endswith("-report-2") and "SliceErrorRateHigh firing" in body["name"]
    # kept beside the run reports, numbered with them
    intent_dir = tmp_path / intent.id
    (intent_dir / "manual__1").mkdir(parents=True)
    (intent_dir / "manual__1" / assurance.REPORT).write_text("{}")
    assert assurance.next_number(intent_dir) == 2
    assurance.write(intent_dir, document, said, run_id="manual__1", firing=[alert("error_rate")])
    assert assurance.next_number(intent_dir) == 3
    assert (
        assurance.next_number(intent_dir, after=f"{intent.id}-report-7") == 8
    )  # the run's, written elsewhere
    [held] = assurance.of_intent(intent_dir)
    assert held["runId"] == "manual__1" and held["intentReport"] == body and held["fulfilment"] == said


def test_the_run_note_keeps_what_else_it_says():
    firing = [alert("error_rate")]
    first = assurance.note("Approved by the on-call engineer.", firing)
    assert first.startswith("Approved by the on-call engineer.\n\nAlerts (Alertmanager):\n- edge1: alert")
    assert (
        assurance.note(first, [])
        == "Approved by the on-call engineer.\n\nAlerts (Alertmanager):\n- none firing"
    )
    assert assurance.note(None, firing).startswith(assurance.NOTE_MARK)
    many = [alert("error_rate", f"edge{i}") for i in range(50)]
    assert len(assurance.note(None, many)) == assurance.NOTE_LIMIT


def test_a_note_written_over_keeps_the_alerts_block():
    noted = assurance.note("old words", [alert("error_rate")])
    kept = assurance.keep_alerts("Degraded: missed reliability", noted)
    assert kept == "Degraded: missed reliability\n\n" + noted.split("\n\n", 1)[1]
    assert assurance.keep_alerts("Succeeded", None) == "Succeeded"
    assert assurance.keep_alerts("Succeeded", "a note with no alerts") == "Succeeded"
    assert len(assurance.keep_alerts("x" * 2000, noted)) == assurance.NOTE_LIMIT
