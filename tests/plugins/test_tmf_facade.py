"""The TMF921 facade in process (see ``tmf_inprocess``): TMF ``Error`` bodies on every path under its
base path, idempotent DELETE, and the IntentReport routes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient
from tmf_inprocess import DELIVERED, Store, app, report_of, serving

from edge_intent.api.records import RunRecord
from include import lifecycle
from include.compiler import api as compiler
from include.compiler.config import load_settings
from include.compiler.tmf921 import BASE_PATH
from include.lifecycle import Dag, Key


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    with serving(monkeypatch) as held:
        yield held


@pytest.fixture
def client(store: Store) -> TestClient:
    return TestClient(app())


@pytest.fixture(scope="module")
def tmf() -> dict:
    document = compiler.parse("eMBB slice with 200 Mbps downlink at edge1", load_settings()).to_json()
    document.pop("id")
    return document


def _error(answer, status: int, tmf921_validator) -> dict:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    tmf921_validator(body, "Error")
    assert body["@type"] == "Error" and body["code"] == str(status) and body["message"]
    return body


@pytest.mark.parametrize(
    ("method", "path", "field"),
    [
        pytest.param("GET", "/intent%0a", "path", id="newline after a route"),
        pytest.param("GET", "/intent/x%0ay/intentReport", "path", id="newline inside"),
        pytest.param("DELETE", "/intent/abc%0A", "path", id="delete, trailing newline"),
        pytest.param("GET", "/intent/a%00b", "path", id="NUL"),
        pytest.param("GET", "/intent/a%7Fb", "path", id="DEL"),
        pytest.param("GET", "/intent/a%09b/intentReport/r", "path", id="tab"),
        pytest.param("GET", "%0a", "path", id="newline after the base path"),
        pytest.param("GET", "", "path", id="the base path itself"),
        pytest.param("GET", "/nope", None, id="unknown resource"),
        pytest.param("GET", "/", None, id="the base path with a slash"),
        pytest.param("POST", "/intent/x/intentReport/y/z", None, id="too deep"),
    ],
)
def test_a_path_no_route_matches_gets_a_tmf_error(client, tmf921_validator, method, path, field):
    body = _error(client.request(method, BASE_PATH + path), 404, tmf921_validator)
    assert [e["field"] for e in body["errors"]] == ([field] if field else [])
    assert "\n" not in body["message"]


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        pytest.param("PUT", "/intent", "GET, POST", id="intents"),
        pytest.param("PATCH", "/intent/abc", "DELETE, GET", id="an intent"),
        pytest.param("DELETE", "/intent/abc/intentReport/r", "GET", id="a report"),
    ],
)
def test_a_method_no_route_serves_gets_a_tmf_error_naming_every_method_served(
    client, tmf921_validator, method, path, allowed
):
    answer = client.request(method, BASE_PATH + path, json={})
    _error(answer, 405, tmf921_validator)
    assert answer.headers["allow"] == allowed  # every route at the path, not the first one found


def test_paths_outside_the_apis_are_left_alone(client):
    assert client.get("/elsewhere%0a").status_code == 404
    assert client.get("/elsewhere%0a").text == "Not Found"  # the server's own answer, not ours


def _withdrawal(state: str, run_id: str = "manual__w") -> RunRecord:
    return RunRecord(Dag.WITHDRAW, run_id, state, conf={"intent_id": "embb-edge1"})


def _succeeded(tmf: dict) -> RunRecord:
    xcoms = {(lifecycle.VALIDATE, Key.RETURN): {**tmf, "id": "embb-edge1"}}
    return RunRecord(Dag.PIPELINE, "manual__p", "success", tasks=dict(DELIVERED), xcoms=xcoms)


def test_delete_is_idempotent(client, store, tmf, tmf921_validator):
    answer = client.post(f"{BASE_PATH}/intent", json=tmf)
    assert answer.status_code == 201, answer.text
    intent_id = answer.json()["id"]
    store.finish = False
    accepted = client.delete(f"{BASE_PATH}/intent/{intent_id}")
    assert accepted.status_code == 202 and accepted.json()["dagId"] == Dag.WITHDRAW
    run_id = accepted.json()["runId"]
    again = client.delete(f"{BASE_PATH}/intent/{intent_id}")  # the withdrawal is in progress
    assert again.status_code == 202 and again.json()["runId"] == run_id
    assert len(store.started) == 2
    assert client.get(f"{BASE_PATH}/intent/{intent_id}").json()["lifecycleStatus"] == "Withdrawing"

    store.runs[intent_id][-1].state = "success"
    done = client.delete(f"{BASE_PATH}/intent/{intent_id}")
    assert done.status_code == 204 and done.content == b""
    assert len(store.started) == 2  # no run
    resource = client.get(f"{BASE_PATH}/intent/{intent_id}").json()
    tmf921_validator(resource, "Intent")
    assert resource["lifecycleStatus"] == "Withdrawn"
    # a later withdrawal that failed (found nothing to revert) does not take it back
    store.add(intent_id, _withdrawal("failed"))
    assert client.get(f"{BASE_PATH}/intent/{intent_id}").json()["lifecycleStatus"] == "Withdrawn"
    assert client.delete(f"{BASE_PATH}/intent/{intent_id}").status_code == 204
    # a new submission deploys it again: DELETE withdraws again
    store.finish = True
    assert client.post(f"{BASE_PATH}/intent", json=tmf).status_code == 201
    assert client.get(f"{BASE_PATH}/intent/{intent_id}").json()["lifecycleStatus"] == "Succeeded"
    assert client.delete(f"{BASE_PATH}/intent/{intent_id}").status_code == 202
    assert [dag for dag, _, _ in store.started] == [Dag.PIPELINE, Dag.WITHDRAW] * 2


def test_delete_while_the_pipeline_runs_is_refused(client, store, tmf, tmf921_validator):
    store.add("embb-edge1", RunRecord(Dag.PIPELINE, "manual__p", "running", tasks={"validate": "running"}))
    body = _error(client.delete(f"{BASE_PATH}/intent/embb-edge1"), 409, tmf921_validator)
    assert body["runId"] == "manual__p" and not store.started


@pytest.mark.parametrize(
    "tasks",
    [
        pytest.param({lifecycle.VALIDATE: "failed"}, id="refused by validate"),
        pytest.param(
            {lifecycle.VALIDATE: "success", lifecycle.wave_task(1, lifecycle.DELIVER): "upstream_failed"},
            id="failed before delivering",
        ),
    ],
)
def test_delete_of_an_intent_never_deployed_starts_nothing(client, store, tasks):
    store.add("embb-edge1", RunRecord(Dag.PIPELINE, "manual__p", "failed", tasks=tasks))
    answer = client.delete(f"{BASE_PATH}/intent/embb-edge1")
    assert answer.status_code == 204 and not store.started
    assert client.get(f"{BASE_PATH}/intent/embb-edge1").json()["lifecycleStatus"] == "Failed"


def test_delete_after_a_delivery_that_failed_withdraws(client, store):
    tasks = {lifecycle.VALIDATE: "success", lifecycle.wave_task(1, lifecycle.DELIVER): "failed"}
    store.add("embb-edge1", RunRecord(Dag.PIPELINE, "manual__p", "failed", tasks=tasks))
    assert client.delete(f"{BASE_PATH}/intent/embb-edge1").status_code == 202  # it may have pushed
    assert [dag for dag, _, _ in store.started] == [Dag.WITHDRAW]


def test_delete_of_an_unknown_or_malformed_id(client, store, tmf921_validator):
    _error(client.delete(f"{BASE_PATH}/intent/no-such-intent"), 404, tmf921_validator)
    body = _error(client.delete(f"{BASE_PATH}/intent/UPPER"), 400, tmf921_validator)
    assert body["errors"][0]["field"] == "id" and not store.started


def test_intent_reports_list_and_retrieve(client, store, tmf, tmf921_validator):
    first = _succeeded(tmf)
    first.xcoms[(lifecycle.REPORT, Key.RETURN)] = report_of("embb-edge1")
    store.add("embb-edge1", first)
    store.add("embb-edge1", _withdrawal("success"))
    base = f"{BASE_PATH}/intent/embb-edge1/intentReport"
    listed = client.get(base)
    assert listed.status_code == 200
    assert listed.headers["x-total-count"] == listed.headers["x-result-count"] == "1"
    (report,) = listed.json()
    tmf921_validator(report, "IntentReport")
    assert report["href"] == f"{base}/embb-edge1-report"
    got = client.get(report["href"])
    assert got.status_code == 200 and got.json() == report
    assert client.get(report["href"], params={"fields": "name"}).json() == {
        key: report[key] for key in ("@type", "id", "href", "name")
    }
    page = client.get(base, params={"offset": 1, "limit": 5})
    assert page.json() == [] and page.headers["x-total-count"] == "1"
    assert page.headers["x-result-count"] == "0"
    body = _error(client.get(f"{base}/other-report"), 404, tmf921_validator)
    assert body["errors"][0]["field"] == "id"
    _error(client.get(f"{base}?limit=0"), 400, tmf921_validator)
    _error(client.get(f"{BASE_PATH}/intent/no-such-intent/intentReport/x"), 404, tmf921_validator)


@pytest.mark.parametrize(
    "query", ["offset=0.0", "limit=1e2", "limit=%2B5", "offset=%205", "offset=1_0", "limit="]
)
def test_offset_and_limit_are_whole_numbers(client, tmf921_validator, query):
    body = _error(client.get(f"{BASE_PATH}/intent?{query}"), 400, tmf921_validator)
    assert body["errors"][0]["field"] == query.split("=")[0]


def test_offset_and_limit_page_the_intents(client, store):
    for intent_id in ("a1", "a2", "a3"):
        store.add(intent_id, RunRecord(Dag.PIPELINE, f"manual__{intent_id}", "failed", conf={"intent": "x"}))
    answer = client.get(f"{BASE_PATH}/intent", params={"offset": "1", "limit": "1", "fields": "id"})
    assert answer.status_code == 200 and [i["id"] for i in answer.json()] == ["a2"]
    assert answer.headers["x-total-count"] == "3" and answer.headers["x-result-count"] == "1"
