"""The intent API and every trigger surface, through the real running Airflow (api-server, scheduler,
dag-processor and triggerer as separate processes), the real Git server, simulated sites and the
real Prometheus."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from include import lifecycle
from include.compiler import api as compiler
from include.compiler.config import load_settings
from include.lifecycle import Dag, Key
from include.localstack import stack as localstack
from include.localstack.airflow_api import AirflowAPI
from tests.profiles import PROFILE as SLO_PROFILE
from tests.stackfixtures import RUNNING_ENV

DAG = Dag.PIPELINE
TMF = "/tmf-api/intentManagement/v5"
RATE_BURST = int(RUNNING_ENV["EDGE_INTENT_API_BURST"])


@pytest.fixture(scope="module")
def running(airflow_stack):
    """The shared running stack (its intent API allows a burst of RATE_BURST requests per user)."""
    yield airflow_stack, AirflowAPI(airflow_stack.airflow_url, *localstack.ADMIN)


def test_importing_the_api_parses_and_reads_nothing():
    """The apps are built, but the DAG bag is made only when a run is started."""
    code = """
import airflow.api_fastapi.common.dagbag as dagbag

def refuse():
    raise SystemExit("create_dag_bag called while importing the API")

dagbag.create_dag_bag = refuse
from edge_intent.api import FASTAPI_APPS, ROOT_MIDDLEWARES
from edge_intent.api import runs
assert len(FASTAPI_APPS) == 3 and ROOT_MIDDLEWARES
assert runs.dag_bag.cache_info().currsize == 0
print("imported")
"""
    env = {**os.environ, "AIRFLOW__API_AUTH__JWT_SECRET": "test-secret-of-32-characters-xx"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0 and done.stdout.strip().endswith("imported"), done.stdout + done.stderr


def test_the_dag_bag_is_made_once_on_first_use(monkeypatch):
    import airflow.api_fastapi.common.dagbag as dagbag

    from edge_intent.api import runs

    made = []
    monkeypatch.setattr(dagbag, "create_dag_bag", lambda: made.append(object()) or made[-1])
    runs.dag_bag.cache_clear()
    try:
        assert runs.dag_bag() is runs.dag_bag() is made[0] and len(made) == 1
    finally:
        runs.dag_bag.cache_clear()


def _heads(stack) -> dict[str, str]:
    """Every site repo's main commit, read from the Git server's own bare repositories."""
    heads = {}
    for site in stack.sites:
        repo = stack.root / "git" / f"{load_settings().catalogue.get(site).repo}.git"
        heads[site] = subprocess.run(
            ["git", "--git-dir", str(repo), "rev-parse", "main"], capture_output=True, text=True, check=True
        ).stdout.strip()
    return heads


def _files_at_head(stack, site: str) -> list[str]:
    repo = stack.root / "git" / f"{load_settings().catalogue.get(site).repo}.git"
    return subprocess.run(
        ["git", "--git-dir", str(repo), "ls-tree", "-r", "--name-only", "main"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()


def _runs(admin: AirflowAPI, dag_id: str = DAG) -> set[str]:
    status, _, body = admin.send("GET", f"/api/v2/dags/{dag_id}/dagRuns?limit=1000")
    assert status == 200, body
    return {run["dag_run_id"] for run in body["dag_runs"]}


def _post(admin: AirflowAPI, body: dict, path: str = "/api/intent", **kwargs):
    return admin.send("POST", path, json.dumps(body).encode(), **kwargs)


def test_post_api_intent_runs_to_succeeded_and_reports_every_site(running):
    stack, admin = running
    operator = AirflowAPI(stack.airflow_url, *localstack.OPERATOR)
    status, headers, body = _post(
        operator,
        {
            "intent": "URLLC slice with 6 ms latency at all sites",
            "slo_profile": SLO_PROFILE,
            "rolloutStrategy": {"type": "All", "all": {"progressDeadline": "2m"}},
        },
    )
    assert status == 202, body
    intent_id, run_id = body["intentId"], body["runId"]
    assert headers["location"] == body["status"] == f"/api/intent/{intent_id}"
    assert body["parser"] == {"path": "deterministic", "fallbackReason": "no LLM connection configured"}
    assert run_id.startswith(f"intent__{intent_id}__")
    assert body["rollout"]["type"] == "All" and body["rollout"]["progressDeadline"] == 120
    assert body["rollout"]["waves"][0]["sites"] == ["edge1", "edge2", "edge3"]

    # A second submission of the same intent while it runs is refused, and starts nothing.
    before = _runs(admin)
    again, _, refused = _post(operator, {"intent": "URLLC slice with 6 ms latency at all sites"})
    assert again == 409 and refused["runId"] == run_id
    assert _runs(admin) == before

    run = admin.follow(DAG, run_id, timeout=240)
    assert run["state"] == "success"
    assert run["triggered_by"] == "rest_api"
    assert run["triggering_user_name"] == "operator"

    status, _, state = admin.send("GET", f"/api/intent/{intent_id}")
    assert status == 200, state
    assert state["phase"] == "Succeeded" and state["run"]["runId"] == run_id
    heads = _heads(stack)
    assert set(state["sites"]) == {"edge1", "edge2", "edge3"}
    for site, entry in state["sites"].items():
        assert entry["commit"] == heads[site]  # nothing else was delivered since
        assert entry["state"] == "passed" and entry["wave"] == 1
        assert entry["deliveredAt"] <= entry["syncedAt"] <= entry["provisionedAt"]
        assert entry["provisioningRequest"] == f"{intent_id}-{site}"
        assert entry["tasks"] == dict.fromkeys(
            [lifecycle.DELIVER, lifecycle.WAIT_FOR_SYNC, lifecycle.WAIT_FOR_O2IMS, lifecycle.VERIFY_SLOS],
            "success",
        )
    assert state["slo"]["result"] == "pass"
    assert set(state["slo"]["slos"]) == {"edge1", "edge2", "edge3"}
    assert state["rollout"]["state"] == "Succeeded" and state["rollout"]["path"].endswith("rollout.json")
    assert state["intentReport"]["href"] == f"/api/intent/{intent_id}/report"
    assert state["fulfilment"] == {"state": "Fulfilled", "missed": [], "notVerifiable": []}
    assert "evidence" not in state

    status, _, report = admin.send("GET", f"/api/intent/{intent_id}/report")
    assert status == 200 and report["@type"] == "IntentReport"
    assert report["intent"]["id"] == intent_id
    status, _, _ = admin.send("GET", f"/api/intent/{intent_id}/evidence")
    assert status == 404

    # The TMF921 facade sees the same intent.
    status, _, resource = admin.send("GET", f"{TMF}/intent/{intent_id}")
    assert status == 200
    assert resource["lifecycleStatus"] == "Succeeded" and resource["@type"] == "Intent"
    carried = {c["name"]: c for c in resource["characteristic"]}
    assert carried["fulfilment"]["@type"] == "ObjectCharacteristic"
    assert carried["fulfilment"]["value"]["state"] == "Fulfilled"
    assert resource["href"] == f"{TMF}/intent/{intent_id}"
    assert resource["expression"]["@type"] in ("TurtleExpression", "JsonLdExpression")
    status, headers, listed = admin.send("GET", f"{TMF}/intent?fields=name,lifecycleStatus")
    assert status == 200 and intent_id in {item["id"] for item in listed}
    assert int(headers["x-total-count"]) >= int(headers["x-result-count"]) == len(listed)
    assert all(set(item) <= {"id", "href", "@type", "name", "lifecycleStatus"} for item in listed)
    status, headers, reports = admin.send("GET", f"{TMF}/intent/{intent_id}/intentReport")
    assert status == 200 and [r["intent"]["id"] for r in reports] == [intent_id]
    assert headers["x-total-count"] == headers["x-result-count"] == "1"
    status, _, report = admin.send("GET", reports[0]["href"])  # the report's href is served
    assert status == 200 and report == reports[0]


def test_tmf921_create_then_delete_withdraws_by_revert_commits(running):
    stack, admin = running
    tmf = compiler.parse("eMBB slice with 200 Mbps downlink at edge1", load_settings()).to_json()
    tmf.pop("id")
    before = _heads(stack)
    status, headers, resource = _post(admin, tmf, f"{TMF}/intent")
    assert status == 201, resource
    intent_id = resource["id"]
    assert headers["location"] == resource["href"] == f"{TMF}/intent/{intent_id}"
    assert resource["lifecycleStatus"] == "Pending" and resource["name"] == tmf["name"]
    run = admin.follow(DAG, headers["x-run-id"], timeout=240)
    assert run["state"] == "success"
    delivered = _heads(stack)["edge1"]
    assert delivered != before["edge1"]
    assert any(path.startswith(f"intents/{intent_id}/") for path in _files_at_head(stack, "edge1"))

    viewer = AirflowAPI(stack.airflow_url, *localstack.VIEWER)
    assert viewer.send("DELETE", f"{TMF}/intent/{intent_id}")[0] == 403
    status, _, accepted = admin.send("DELETE", f"{TMF}/intent/{intent_id}")
    assert status == 202, accepted
    assert accepted["lifecycleStatus"] == "Withdrawing" and accepted["dagId"] == Dag.WITHDRAW
    again, _, in_progress = admin.send("DELETE", f"{TMF}/intent/{intent_id}")
    assert again == 202 and in_progress["runId"] == accepted["runId"]  # the same withdrawal run
    withdrawn = admin.follow(Dag.WITHDRAW, accepted["runId"], timeout=180)
    assert withdrawn["state"] == "success"
    assert not any(path.startswith(f"intents/{intent_id}/") for path in _files_at_head(stack, "edge1"))
    repo = stack.root / "git" / f"{load_settings().catalogue.get('edge1').repo}.git"
    merged = subprocess.run(["git", "--git-dir", str(repo), "merge-base", "--is-ancestor", delivered, "main"])
    assert merged.returncode == 0  # history only grew: the delivery is still there, reverted
    status, _, state = admin.send("GET", f"/api/intent/{intent_id}")
    assert status == 200 and state["phase"] == "Withdrawn"
    assert state["withdrawal"]["runId"] == accepted["runId"]
    status, _, evidence = admin.send("GET", state["evidence"]["href"])
    assert status == 200 and evidence["intentId"] == intent_id and evidence["trigger"] == "withdrawn"
    assert evidence["sha256"] == state["evidence"]["sha256"]
    assert admin.send("GET", f"{TMF}/intent/{intent_id}")[2]["lifecycleStatus"] == "Withdrawn"

    # DELETE is idempotent: once withdrawn, 204 with no body, no new run, and it stays Withdrawn.
    withdrawals = _runs(admin, Dag.WITHDRAW)
    status, _, body = admin.send("DELETE", f"{TMF}/intent/{intent_id}")
    assert status == 204 and not body
    assert _runs(admin, Dag.WITHDRAW) == withdrawals
    assert admin.send("GET", f"{TMF}/intent/{intent_id}")[2]["lifecycleStatus"] == "Withdrawn"
    assert admin.send("GET", f"/api/intent/{intent_id}")[2]["phase"] == "Withdrawn"


def test_dry_run_through_the_api_commits_nothing(running):
    stack, admin = running
    before = _heads(stack)
    status, _, body = _post(
        admin, {"intent": "mMTC slice for 5000 devices at edge2", "dry_run": True, "sites": ["edge1"]}
    )
    assert status == 202, body
    run = admin.follow(DAG, body["runId"], timeout=180)
    assert run["state"] == "success"
    status, _, state = admin.send("GET", f"/api/intent/{body['intentId']}")
    assert state["phase"] == "Succeeded" and state["dryRun"] is True
    # planned, never touched: the site's wave is shown, with no commit and no task run
    assert {site: (s["state"], s.get("commit")) for site, s in state["sites"].items()} == {
        "edge1": ("untouched", None)
    }
    assert state["rollout"]["waves"][0]["state"] == "Skipped"
    assert _heads(stack) == before


# -- bad input: each refused with the right status and a message naming the field; no run, no commit


def _hostile_cases(tmf: dict) -> list[tuple[str, str, bytes, str | None, int, str]]:
    """(method, path, body, content type, expected status, a field or word the answer must name)."""
    big = json.dumps({"intent": "URLLC at edge1 " + "x" * 300_000}).encode()
    deep = ("[" * 5000 + "]" * 5000).encode()
    with_unknown = {**tmf, "colour": "red"}
    traversal_id = {**tmf, "id": "../../etc/passwd"}
    return [
        ("POST", "/api/intent", b"{not json", "application/json", 400, "body"),
        ("POST", "/api/intent", b"", "application/json", 400, "body"),
        (
            "POST",
            "/api/intent",
            b'{"intent": "URLLC at edge1", "intent": "x"}',
            "application/json",
            400,
            "duplicate",
        ),
        ("POST", "/api/intent", b'{"intent": NaN}', "application/json", 400, "NaN"),
        (
            "POST",
            "/api/intent",
            b'{"intent": "URLLC at edge1", "x": 1e999}',
            "application/json",
            400,
            "1e999",
        ),
        ("POST", "/api/intent", deep, "application/json", 400, "body"),
        ("POST", "/api/intent", b"\xff\xfe", "text/plain", 400, "UTF-8"),
        ("POST", "/api/intent", b"intent=URLLC", "application/x-www-form-urlencoded", 415, "Content-Type"),
        ("POST", "/api/intent", b"<intent/>", "application/xml", 415, "Content-Type"),
        ("POST", "/api/intent", b'{"intent": "URLLC at edge1"}', None, 415, "Content-Type"),
        ("POST", "/api/intent", big, "application/json", 413, "body"),
        ("POST", "/api/intent", b'["URLLC at edge1"]', "application/json", 422, "body"),
        ("POST", "/api/intent", b'{"text": "URLLC at edge1"}', "application/json", 422, "text"),
        ("POST", "/api/intent", b'{"intent": 42}', "application/json", 422, "intent"),
        (
            "POST",
            "/api/intent",
            b'{"intent": "URLLC at edge1", "dry_run": "yes"}',
            "application/json",
            422,
            "dry_run",
        ),
        ("POST", "/api/intent", b'{"intent": "URLLC slice at edge9"}', "application/json", 422, "edge9"),
        (
            "POST",
            "/api/intent",
            b'{"intent": "URLLC at edge1", "sites": ["edge1; rm -rf /"]}',
            "application/json",
            422,
            "sites",
        ),
        (
            "POST",
            "/api/intent",
            b'{"intent": "URLLC at edge1", "slo_profile": "../../etc"}',
            "application/json",
            422,
            "slo_profile",
        ),
        (
            "POST",
            "/api/intent",
            b'{"intent": "URLLC at edge1", "slo_profile": "nightly"}',
            "application/json",
            422,
            "slo_profile",
        ),
        ("POST", "/api/intent", b'{"intent": "make me a sandwich"}', "application/json", 422, "text"),
        (
            "POST",
            "/api/intent",
            b'{"intent": "URLLC slice with -5 ms latency at edge1"}',
            "application/json",
            422,
            "latency",
        ),
        ("POST", "/api/intent", "URLLC slice at edge1 \u202e\u0000".encode(), "text/plain", 422, "text"),
        (
            "POST",
            "/api/intent",
            json.dumps({"intent": with_unknown}).encode(),
            "application/json",
            422,
            "colour",
        ),
        (
            "POST",
            "/api/intent",
            json.dumps({"intent": tmf, "sites": ["edge2"]}).encode(),
            "application/json",
            422,
            "sites",
        ),
        # the TMF921 v5 API documents 400 for any bad input (the intent API says 422 and 415)
        ("POST", f"{TMF}/intent", json.dumps(with_unknown).encode(), "application/json", 400, "colour"),
        ("POST", f"{TMF}/intent", json.dumps(traversal_id).encode(), "application/json", 400, "id"),
        (
            "POST",
            f"{TMF}/intent",
            json.dumps({k: v for k, v in tmf.items() if k != "expression"}).encode(),
            "application/json",
            400,
            "expression",
        ),
        (
            "POST",
            f"{TMF}/intent",
            json.dumps({**tmf, "@type": "Product"}).encode(),
            "application/json",
            400,
            "@type",
        ),
        (
            "POST",
            f"{TMF}/intent",
            json.dumps({**tmf, "name": "<script>alert(1)</script>\u0007"}).encode(),
            "application/json",
            400,
            "name",
        ),
        ("POST", f"{TMF}/intent", b'"just a string"', "application/json", 400, "body"),
        ("POST", f"{TMF}/intent", json.dumps(tmf).encode(), "text/plain", 400, "Content-Type"),
        ("GET", "/api/intent/..%2F..%2Fetc%2Fpasswd", b"", None, 404, "not found"),
        ("GET", "/api/intent/UPPER_case", b"", None, 422, "id"),
        ("GET", "/api/intent/" + "a" * 60, b"", None, 422, "id"),
        ("GET", "/api/intent/no-such-intent", b"", None, 404, "id"),
        ("GET", f"{TMF}/intent/no-such-intent/intentReport", b"", None, 404, "id"),
        ("GET", f"{TMF}/intent?limit=0", b"", None, 400, "limit"),
        ("GET", f"{TMF}/intent?offset=-1", b"", None, 400, "offset"),
        ("DELETE", f"{TMF}/intent/no-such-intent", b"", None, 404, "id"),
        ("DELETE", f"{TMF}/intent/'%3B%20DROP%20TABLE%20dag_run%3B--", b"", None, 400, "id"),
        ("GET", f"{TMF}/intent/urllc-edge1%0A", b"", None, 404, "Not Found"),  # no route: a TMF Error
        ("GET", f"{TMF}/intent/x%0Ay/intentReport", b"", None, 404, "path"),
        ("DELETE", f"{TMF}/intent%0A", b"", None, 404, "path"),
        ("GET", TMF, b"", None, 404, "path"),
        ("GET", f"{TMF}/nope", b"", None, 404, "Not Found"),
        ("GET", f"{TMF}/intent/no-such-intent/intentReport/x", b"", None, 404, "id"),
    ]


def test_hostile_requests_are_refused_and_change_nothing(running):
    stack, admin = running
    tmf = compiler.parse("URLLC slice with 5 ms latency at edge1", load_settings()).to_json()
    cases = _hostile_cases(tmf)
    assert len(cases) >= 30
    runs_before = _runs(admin) | _runs(admin, Dag.WITHDRAW)
    heads_before = _heads(stack)
    failures = []
    for method, path, body, content_type, expected, named in cases:
        status, _, answer = admin.send(method, path, body or None, content_type=content_type)
        text = json.dumps(answer)
        if status != expected or named.lower() not in text.lower() or not isinstance(answer, dict):
            failures.append(f"{method} {path} [{content_type}] {body[:60]!r}: {status} {text[:300]}")
        elif expected >= 400:
            assert answer["@type"] == "Error" and answer["code"] == str(expected), answer
            assert answer["message"], answer
    assert not failures, "\n".join(failures)
    assert _runs(admin) | _runs(admin, Dag.WITHDRAW) == runs_before
    assert _heads(stack) == heads_before


def test_every_route_needs_a_token_and_trigger_permission(running):
    stack, admin = running
    viewer = AirflowAPI(stack.airflow_url, *localstack.VIEWER)
    routes = [
        ("POST", "/api/intent", json.dumps({"intent": "URLLC at edge1"}).encode()),
        ("POST", "/api/intent/", json.dumps({"intent": "URLLC at edge1"}).encode()),
        ("GET", "/api/intent/some-intent", None),
        ("GET", "/api/intent/some-intent/evidence", None),
        ("GET", "/api/intent/some-intent/report", None),
        ("POST", f"{TMF}/intent", b"{}"),
        ("GET", f"{TMF}/intent", None),
        ("GET", f"{TMF}/intent/some-intent", None),
        ("DELETE", f"{TMF}/intent/some-intent", None),
        ("GET", f"{TMF}/intent/some-intent/intentReport", None),
        ("GET", f"{TMF}/intent/some-intent/intentReport/some-report", None),
    ]
    runs_before = _runs(admin)
    for method, path, body in routes:
        status, _, answer = admin.send(method, path, body, token=None)
        assert status == 401, (method, path, status, answer)
        status, _, answer = admin.send(method, path, body, token="not-a-jwt")
        assert status in (401, 403), (method, path, status, answer)
        status, _, answer = viewer.send(method, path, body)
        assert status == 403, (method, path, status, answer)
        assert answer["@type"] == "Error" and answer["code"] == "403"
    assert _runs(admin) == runs_before


def test_rate_limit_answers_429_with_retry_after(running):
    stack, _ = running
    operator = AirflowAPI(stack.airflow_url, *localstack.OPERATOR)
    operator.token()

    def probe(_):
        return operator.send("GET", "/api/intent/rate-probe")

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(probe, range(RATE_BURST + 40)))
    statuses = [status for status, _, _ in answers]
    assert set(statuses) <= {404, 429}
    limited = [(headers, body) for status, headers, body in answers if status == 429]
    assert limited, statuses
    headers, body = limited[0]
    assert int(headers["retry-after"]) >= 1
    assert body["errors"][0]["field"] == "user"
    # The admin's bucket is its own.
    admin = AirflowAPI(stack.airflow_url, *localstack.ADMIN)
    assert admin.send("GET", "/api/intent/rate-probe")[0] == 404


# -- the other trigger surfaces ---------------------------------------------------------------------


def test_cli_trigger_with_conf(running):
    stack, admin = running
    env = {**os.environ, **stack.airflow_env(int(stack.airflow_url.rsplit(":", 1)[1]))}
    conf = {"intent": "eMBB slice with 50 Mbps downlink at edge2", "dry_run": True}
    airflow = str(Path(sys.executable).parent / "airflow")
    done = subprocess.run(
        [airflow, "dags", "trigger", DAG, "--conf", json.dumps(conf), "--output", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    printed = [line for line in done.stdout.splitlines() if line.startswith("[{")]
    assert printed, done.stdout[-2000:]
    run_id = json.loads(printed[-1])[0]["dag_run_id"]
    run = admin.follow(DAG, run_id, timeout=180)
    assert run["state"] == "success" and run["triggered_by"] == "cli"
    intent_id = admin.xcom(DAG, run_id, lifecycle.VALIDATE, key=Key.INTENT_ID)
    status, _, state = admin.send("GET", f"/api/intent/{intent_id}")  # found through its XCom
    assert status == 200 and run_id in {r["runId"] for r in state["runs"]}


def test_ui_trigger_form_params_and_a_form_submission(running):
    _, admin = running
    status, _, dag = admin.send("GET", f"/api/v2/dags/{DAG}/details")
    assert status == 200
    params = dag["params"]
    assert set(params) == {"intent", "sites", "dry_run", "slo_profile", "rollout_strategy"}
    for name, param in params.items():
        assert param["schema"].get("title") and param.get("description"), (name, param)
    assert params["intent"]["schema"]["type"] == ["string", "object"]
    # What the form posts (the UI sends a Referer): a TMF921 object as the intent param.
    tmf = compiler.parse("URLLC slice with 9 ms latency at edge1", load_settings()).to_json()
    status, _, run = admin.send(
        "POST",
        f"/api/v2/dags/{DAG}/dagRuns",
        json.dumps({"logical_date": None, "conf": {"intent": tmf, "dry_run": True}}).encode(),
        headers={"Referer": f"{admin.url}/dags/{DAG}/trigger"},
    )
    assert status == 200, run
    assert run["triggered_by"] == "ui"
    assert admin.follow(DAG, run["dag_run_id"], timeout=180)["state"] == "success"
    assert admin.xcom(DAG, run["dag_run_id"], lifecycle.VALIDATE, key=Key.INTENT_ID) == tmf["id"]


def test_emergency_fail_run_marks_a_stuck_run_failed_through_the_real_api(running):
    """The emergency DAG against the real api-server: a run stuck in Reconciling (the site's sync
    paused) is marked failed through REST API v2 with the stack's ``airflow_api`` connection."""
    stack, admin = running
    stack.control("edge1", "POST", "/control/sync", {"paused": True})
    try:
        status, _, body = _post(admin, {"intent": "URLLC slice with 7 ms latency at edge1"})
        assert status == 202, body
        run_id = body["runId"]
        deadline = time.time() + 120
        while time.time() < deadline:
            states = {ti["task_id"]: ti["state"] for ti in admin.task_instances(DAG, run_id)}
            if states.get(lifecycle.wave_task(1, lifecycle.WAIT_FOR_SYNC)) in (
                "deferred",
                "running",
                "up_for_reschedule",
            ):
                break
            time.sleep(0.5)
        else:
            pytest.fail(f"the run never reached the sync wait: {states}")
        fail_id = admin.trigger(
            Dag.FAIL_RUN, {"dag_id": DAG, "run_id": run_id, "reason": "stuck in Reconciling"}
        )
        assert admin.follow(Dag.FAIL_RUN, fail_id, timeout=120)["state"] == "success"
        final = {ti["task_id"]: (ti["state"], ti["try_number"]) for ti in admin.task_instances(DAG, run_id)}
        assert admin.run(DAG, run_id)["state"] == "failed", final
        status, _, state = admin.send("GET", f"/api/intent/{body['intentId']}")
        assert status == 200 and state["phase"] == "Failed"
        # A finished run is refused: the second request fails and changes nothing.
        again = admin.trigger(Dag.FAIL_RUN, {"dag_id": DAG, "run_id": run_id})
        assert admin.follow(Dag.FAIL_RUN, again, timeout=120)["state"] == "failed"
    finally:
        stack.control("edge1", "POST", "/control/sync", {"paused": False})
