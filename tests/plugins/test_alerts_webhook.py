"""Alertmanager's webhook, in process (the boundary is Airflow's DB, see ``tmf_inprocess``): its own
bearer token, Alertmanager's payload checked field by field, each alert kept with the intent its
namespace names, and nothing written for a refused request.

And where an operator reads the intent: a notification about a Succeeded intent makes its newest
TMF921 IntentReport Degraded with the alert as the reason, its phase Degraded in both APIs, and its
run's note list the alert; a repeated notification changes nothing; once resolved, the intent is
what its run's report says again."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from airflow.api_fastapi.common.db.common import _get_session
from starlette.testclient import TestClient
from tmf_inprocess import DELIVERED, Store, app, serving

from edge_intent.api import records, routes
from edge_intent.api.alerts import TOKEN_ENV, alerts_app
from edge_intent.api.records import RunRecord
from include import lifecycle
from include.compiler import api
from include.compiler.tmf921 import BASE_PATH
from include.evidence.alerts import of_intent
from include.evidence.report import fulfilment, fulfilment_report, intent_report
from include.lifecycle import Dag, Key
from tests.include.evidence.test_report import verdict

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


class Run:
    note: str | None = None


class Session:
    """The metadata DB session's one use here: the intent's latest run, to note its alerts."""

    def __init__(self) -> None:
        self.runs: dict[int, Run] = {}
        self.commits = 0

    def get(self, _model: type, run_id: int) -> Run:
        return self.runs.setdefault(run_id, Run())

    def commit(self) -> None:  # in the worker thread, before the event loop takes the request back
        self.commits += 1


@pytest.fixture
def session() -> Session:
    return Session()


@pytest.fixture
def store(monkeypatch, session) -> Iterator[Store]:
    """Run records in memory (the boundary is Airflow's DB: see ``tmf_inprocess``)."""
    with serving(monkeypatch) as held:
        alerts_app.dependency_overrides[_get_session] = lambda: session
        try:
            yield held
        finally:
            alerts_app.dependency_overrides.pop(_get_session)


@pytest.fixture
def client(tmp_path, monkeypatch, store):
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
    assert answer.status_code == 200 and answer.json() == {"kept": 1, "dropped": 1, "reported": 0}
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
        assert answer.status_code == 200 and answer.json() == {"kept": 0, "dropped": 2, "reported": 0}
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


# -- where the alert shows ------------------------------------------------------------------------

TEXT = "URLLC slice with 8 ms latency and 99.5% reliability at edge1"
RUN_ID = 7


@pytest.fixture
def intent_id(settings, store) -> str:
    parsed = api.parse(TEXT, settings)
    intent = api.to_28312(parsed, settings)
    report = fulfilment_report(intent, verdict(intent, latency=5.0, errors=0.1, served=2_400))
    document = intent_report(intent, report, run_id="run", now=time.time() - 60).to_json()
    run = RunRecord(
        Dag.PIPELINE,
        f"{records.RUN_PREFIX}{intent.id}__000001",
        "success",
        tasks=dict(DELIVERED),
        id=RUN_ID,
        xcoms={
            (lifecycle.VALIDATE, Key.RETURN): parsed.to_json(),
            (lifecycle.COMPILE, Key.RETURN): {"intent": intent.to_json()},
            (lifecycle.REPORT, Key.RETURN): {
                "intentReport": document,
                "fulfilment": fulfilment(intent, report),
            },
        },
    )
    store.add(intent.id, run)
    return intent.id


def about(intent_id: str, status: str = "firing") -> dict:
    return {
        "version": "4",
        "status": status,
        "alerts": [
            {
                "status": status,
                "labels": {
                    "alertname": "SliceErrorRateHigh",
                    "namespace": f"intent-{intent_id}",
                    "site": "edge1",
                    "slo": "error_rate",
                },
                "annotations": {"summary": "Error rate above 1 %"},
                "startsAt": "2026-12-02T03:00:00Z",
                "endsAt": "2026-12-02T03:10:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
                "fingerprint": "0123abcd",
            }
        ],
    }


def test_an_alert_degrades_the_intent_until_it_resolves(
    client, store, session, intent_id, tmf921_validator, standards_validator
):
    tmf = TestClient(app())
    base = f"{BASE_PATH}/intent/{intent_id}"

    def said() -> tuple[str, str, list[dict]]:
        resource = tmf.get(base).json()
        carried = {c["name"]: c["value"] for c in resource.get("characteristic", [])}
        status = routes.status(intent_id, store.runs_of(None, intent_id), base="/api/intent")
        assert status["fulfilment"] == carried["fulfilment"]
        assert resource["lifecycleStatus"] == status["phase"]
        return status["phase"], carried["fulfilment"]["state"], tmf.get(f"{base}/intentReport").json()

    phase, state, reports = said()
    assert (phase, state, len(reports)) == ("Succeeded", "Fulfilled", 1)

    answer = post(client, about(intent_id))
    assert answer.status_code == 200 and answer.json() == {"kept": 1, "dropped": 0, "reported": 1}
    phase, state, reports = said()
    assert (phase, state, len(reports)) == ("Degraded", "Degraded", 2)
    newest = reports[0]
    tmf921_validator(newest, "IntentReport", nested=(("intent", ""), ("expression", "")))
    value = newest["expression"]["expressionValue"]
    standards_validator(value["intentFulfilmentReport"], "TS28312_IntentNrm.yaml", "IntentFulfilmentReport")
    [result] = value["intentFulfilmentReport"]["expectationFulfilmentResult"]
    reliability = next(t for t in result["targetFulfilmentResult"] if t["targetName"] == "reliability")
    assert reliability["targetFulfilmentInfo"]["notFullfilledState"] == "DEGRADED"
    assert (
        "alert SliceErrorRateHigh firing since 2026-12-02T03:00:00Z"
        in (reliability["targetFulfilmentInfo"]["notFulfilledReasons"][0])
    )
    assert newest["id"].endswith("-report-2") and tmf.get(newest["href"]).json() == newest
    note = session.runs[RUN_ID].note
    assert note.startswith("Alerts (Alertmanager):\n- edge1: alert SliceErrorRateHigh firing since")

    # Alertmanager repeats a notification: nothing new is said
    assert post(client, about(intent_id)).json()["reported"] == 0
    assert len(said()[2]) == 2

    session.runs[RUN_ID].note = f"Paged the on-call engineer.\n\n{note}"
    assert post(client, about(intent_id, "resolved")).json() == {
        "kept": 1,
        "dropped": 0,
        "reported": 1,
    }
    phase, state, reports = said()
    assert (phase, state, len(reports)) == ("Succeeded", "Fulfilled", 3)
    assert "no alert firing" in reports[0]["name"]
    assert session.runs[RUN_ID].note == "Paged the on-call engineer.\n\nAlerts (Alertmanager):\n- none firing"
    assert tmf.get(reports[1]["href"]).json() == reports[1]


def test_an_intent_that_never_reported_keeps_its_phase_and_gets_the_note(client, store, session):
    run = RunRecord(Dag.PIPELINE, f"{records.RUN_PREFIX}embb-edge2-0000aaaa__000001", "failed", id=9)
    store.add("embb-edge2-0000aaaa", run)
    answer = post(client, about("embb-edge2-0000aaaa"))
    assert answer.json() == {"kept": 1, "dropped": 0, "reported": 0}
    assert "SliceErrorRateHigh" in session.runs[9].note
    assert session.commits == 1
    assert (
        routes.status("embb-edge2-0000aaaa", store.runs_of(None, "embb-edge2-0000aaaa"), base="")["phase"]
        == "Failed"
    )


def test_a_run_that_reported_while_the_alert_fired_is_said_anew_only_when_it_resolves(
    client, store, session, intent_id, tmp_path
):
    """The run's report took the firing alert in (the report task reads alerts.json); the webhook's
    repeat of it writes nothing, and its resolution says the verification's own report again."""
    from include.compiler import ts28312
    from include.evidence import assurance
    from include.evidence.alerts import Payload, record

    record(tmp_path, Payload.model_validate(about(intent_id)))
    [run] = store.runs_of(None, intent_id)
    reported = run.xcoms[(lifecycle.REPORT, Key.RETURN)]
    intent = ts28312.Intent.model_validate(run.xcoms[(lifecycle.COMPILE, Key.RETURN)]["intent"])
    verified = ts28312.IntentFulfilmentReport.model_validate(
        reported["intentReport"]["expression"]["expressionValue"]["intentFulfilmentReport"]
    )
    firing = of_intent(tmp_path, intent_id)
    degraded, said = assurance.assured(
        intent, verified, firing, run_id=run.run_id, now=time.time() - 30, number=1
    )
    run.xcoms[(lifecycle.REPORT, Key.RETURN)] = {
        "intentReport": degraded.to_json(),
        "fulfilment": said,
        "alerts": firing,
        "verifiedReport": verified.to_json(),
    }
    assert routes.status(intent_id, store.runs_of(None, intent_id), base="")["phase"] == "Degraded"
    assert post(client, about(intent_id)).json()["reported"] == 0
    assert post(client, about(intent_id, "resolved")).json()["reported"] == 1
    status = routes.status(intent_id, store.runs_of(None, intent_id), base="")
    assert status["phase"] == "Succeeded" and status["fulfilment"]["state"] == "Fulfilled"
