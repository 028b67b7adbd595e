"""Verifying's alert-class findings as Alertmanager alerts: named after the project's Prometheus rule
for the SLO, labelled as the rule labels them plus ``source: verifying``, ending when the rule would
take over; a finding with no measured value (missing data) is not this SLO's alert; an alert that
cannot be sent is said, never raised. The real Alertmanager takes them in
``tests/include/localstack/test_alertmanager.py``."""

from __future__ import annotations

import json

import pytest
import yaml

from edge_intent.hooks.alertmanager import AlertmanagerHook, send
from include.localstack.processes import free_port
from include.slo.alerting import HOLD_S, RULES, postable, rule_names

FINDING = {"site": "edge2", "slo": "error_rate", "failures": 2, "threshold": 1.0, "unit": "%", "worst": 3.25}


def test_each_finding_is_the_rule_s_alert_from_verifying():
    [alert] = postable(
        {"alerts": [FINDING, {**FINDING, "slo": "memory_usage", "worst": None}]},
        intent_id="embb-edge2-1a2b3c4d",
        run_id="manual__1",
        task="wave_1.sites.verify_slos",
        now=1_800_000_000,
    )
    [rule] = [
        r
        for g in yaml.safe_load(RULES.read_text())["groups"]
        for r in g["rules"]
        if r.get("labels", {}).get("slo") == "error_rate"
    ]
    assert alert["labels"] == {
        **{k: rule["labels"][k] for k in ("severity", "slo", "action")},
        "alertname": rule["alert"],
        "namespace": "intent-embb-edge2-1a2b3c4d",
        "site": "edge2",
        "source": "verifying",
    }
    assert alert["annotations"]["summary"] == (
        "SLO error_rate failed 2 evaluation(s) while verifying intent embb-edge2-1a2b3c4d at edge2: "
        "worst 3.25 % (threshold 1 %)"
    )
    assert alert["annotations"]["dagRunId"] == "manual__1"
    assert (alert["startsAt"], alert["endsAt"]) == ("2027-01-15T08:00:00Z", "2027-01-15T08:05:00Z")
    assert HOLD_S == 300 and set(rule_names()) == {
        "latency_p95",
        "error_rate",
        "cpu_usage",
        "memory_usage",
        "pod_ready",
    }


def test_no_finding_sends_nothing():
    assert send({"alerts": []}, intent_id="a", run_id="r", task="t", conn_id="nowhere", now=0) == {}


def test_without_the_connection_the_alerts_stay_in_the_verdict():
    said = send({"alerts": [FINDING]}, intent_id="a", run_id="r", task="t", conn_id="no_such_conn", now=0)
    assert said == {"sent": 0, "error": "no connection no_such_conn"}


def test_an_unreachable_alertmanager_is_said_not_raised(monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_ALERTMANAGER_GONE",
        json.dumps(
            {
                "conn_type": "http",
                "host": f"http://127.0.0.1:{free_port()}",
                "login": "am",
                "password": "s3cret-pw",
            }
        ),
    )
    said = send(
        {"alerts": [FINDING]}, intent_id="a", run_id="r", task="t", conn_id="alertmanager_gone", now=0
    )
    assert said["sent"] == 0 and "no answer" in said["error"] and "s3cret-pw" not in said["error"]
    assert AlertmanagerHook("alertmanager_gone").test_connection()[0] is False


@pytest.mark.parametrize("host", ["http://user:pw@127.0.0.1:9093", "file:///etc/passwd"])
def test_a_host_with_credentials_or_another_scheme_is_refused(monkeypatch, host):
    monkeypatch.setenv("AIRFLOW_CONN_ALERTMANAGER_BAD", json.dumps({"conn_type": "http", "host": host}))
    said = send({"alerts": [FINDING]}, intent_id="a", run_id="r", task="t", conn_id="alertmanager_bad", now=0)
    assert said["sent"] == 0 and "connection alertmanager_bad" in said["error"] and "pw@" not in said["error"]
