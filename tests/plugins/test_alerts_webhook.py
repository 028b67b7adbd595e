"""Alertmanager's webhook: its own bearer token, Alertmanager's payload checked field by field, each
alert kept with the intent its namespace names, and nothing written for a refused request."""

from __future__ import annotations

import json

import pytest
from starlette.testclient import TestClient

from edge_intent.api.alerts import TOKEN_ENV, alerts_app
from include.evidence.alerts import of_intent

TOKEN = "alert-token-for-the-test"  # noqa: S105


def notification(status="firing", namespace="intent-urllc-edge1-1a2b3c4d", fingerprint="ab12"):
    return {
        "version": "4",
        "status": status,
        "receiver": "edge-intent",
        "alerts": [
            {
                "status": status,
                "labels": {"alertname": "SliceErrorRateHigh", "namespace": namespace, "site": "edge1"},
                "annotations": {"summary": "Error rate above 1 %"},
                "startsAt": "2026-12-02T03:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": fingerprint,
            },
            {
                "status": status,
                "labels": {"alertname": "EdgeIntentPipelineFailing"},
                "startsAt": "2026-12-02T03:00:00Z",
                "fingerprint": "cd34",
            },
        ],
    }


@pytest.fixture
def client(tmp_path, monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    monkeypatch.setenv("EDGE_INTENT_EVIDENCE_DIR", str(tmp_path))
    return TestClient(alerts_app)


def post(client, body, token=TOKEN):
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return client.post("/", content=body if isinstance(body, bytes) else json.dumps(body), headers=headers)


def test_an_alert_is_kept_with_its_intent_and_resolved_in_place(client, tmp_path):
    answer = post(client, notification())
    assert answer.status_code == 200 and answer.json() == {"kept": 1, "dropped": 1}
    [alert] = of_intent(tmp_path, "urllc-edge1-1a2b3c4d")
    assert alert["status"] == "firing" and alert["labels"]["site"] == "edge1"
    post(client, notification(status="resolved"))
    [alert] = of_intent(tmp_path, "urllc-edge1-1a2b3c4d")
    assert alert["status"] == "resolved"


@pytest.mark.parametrize(("token", "status"), [(None, 401), ("wrong", 401)])
def test_a_request_without_the_token_is_refused_and_writes_nothing(client, tmp_path, token, status):
    answer = post(client, notification(), token=token)
    assert answer.status_code == status and answer.json()["errors"][0]["field"] == "Authorization"
    assert not list(tmp_path.iterdir())


def test_without_a_configured_token_everything_is_refused(client, tmp_path, monkeypatch):
    monkeypatch.delenv(TOKEN_ENV)
    assert post(client, notification()).status_code == 403
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"not json", "body"),
        (b"[" * 5000 + b"]" * 5000, "body"),  # nested too deep: refused, not a server error
        (b'{"version": "4", "version": "4"}', "body"),  # a duplicate key
        ({**notification(), "version": "3"}, "version"),
        ({**notification(), "alerts": "many"}, "alerts"),
        (notification(namespace="intent-../../etc"), None),  # a namespace that names no intent: dropped
    ],
)
def test_a_body_that_is_not_alertmanagers_is_422_naming_the_field(client, tmp_path, body, field):
    answer = post(client, body)
    if field is None:
        assert answer.status_code == 200 and answer.json() == {"kept": 0, "dropped": 2}
    else:
        assert answer.status_code == 422 and answer.json()["errors"][0]["field"].startswith(field)
    assert not [p for p in tmp_path.rglob("alerts.json")]


def test_a_huge_body_is_413(client, tmp_path):
    assert post(client, b"[" + b" " * (1 << 20) + b"]").status_code == 413
    assert not list(tmp_path.iterdir())


def test_no_intent_may_be_called_alerts():
    """``/api/intent/alerts`` is the webhook: an intent of that id could never be read back."""
    from include.compiler.errors import IntentValidationError
    from include.compiler.tmf921 import load_intent

    with pytest.raises(IntentValidationError, match="'alerts' is reserved"):
        load_intent({"id": "alerts", "@type": "Intent", "name": "x"})
