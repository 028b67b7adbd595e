"""emergency_fail_run through dag.test(), against a stand-in for Airflow's api-server.

A deliberate boundary: the stand-in speaks the REST API v2 calls the task makes (``POST
/auth/token`` answering 201 with ``access_token``; ``GET`` and ``PATCH
/api/v2/dags/{dag_id}/dagRuns/{run_id}``, bearer token required), answering runs shaped as the real
API's ``DAGRunResponse`` (the official client validates every field it requires), and records every
request, so the test checks the exact wire calls, the refusal of a finished run, and that the
password never leaves the token request. The real api-server is exercised by
tests/plugins/test_airflow_api_hook.py and tests/test_running_stack.py; starting it costs about a
minute of this suite's time budget on a 2-core machine.
"""

from __future__ import annotations

import json
import os
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from include.compiler.config import PROJECT_ROOT

PASSWORD = "s3cret-pass"
TOKEN = "jwt-for-test"
RUN_ID = "manual__2026-01-01T00:00:00+00:00"


class _APIServer(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.runs = {("intent_pipeline", RUN_ID): "running", ("intent_pipeline", "done-run"): "success"}
        self.requests: list[tuple[str, str, dict | None, str]] = []
        self.scheduler_finishes_once = False  # the race: a scheduler loop ends the run after the PATCH


def _run(dag_id: str, run_id: str, state: str) -> dict:
    """A run as Airflow 3's ``GET /api/v2/dags/{dag_id}/dagRuns/{run_id}`` answers it."""
    ended = state in ("success", "failed")
    return {
        "dag_id": dag_id,
        "dag_run_id": run_id,
        "dag_display_name": dag_id,
        "state": state,
        "run_type": "manual",
        "triggered_by": "rest_api",
        "triggering_user_name": "admin",
        "conf": {},
        "note": None,
        "logical_date": None,
        "run_after": "2026-01-01T00:00:00Z",
        "queued_at": "2026-01-01T00:00:00Z",
        "start_date": "2026-01-01T00:00:01Z",
        "end_date": "2026-01-01T00:05:00Z" if ended else None,
        "duration": 299.0 if ended else None,
        "data_interval_start": None,
        "data_interval_end": None,
        "last_scheduling_decision": "2026-01-01T00:04:59Z",
        "bundle_version": None,
        "dag_versions": [
            {
                "id": "01a23026-25dd-7c91-887a-5078894f3042",
                "version_number": 1,
                "dag_id": dag_id,
                "dag_display_name": dag_id,
                "bundle_name": "dags-folder",
                "bundle_version": None,
                "bundle_url": None,
                "created_at": "2026-01-01T00:00:00Z",
            }
        ],
    }


class _Handler(BaseHTTPRequestHandler):
    server: _APIServer

    def log_message(self, *args) -> None:
        pass

    def _reply(self, code: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        self.server.requests.append((self.command, self.path, body, self.headers.get("Authorization", "")))
        if self.path == "/auth/token" and self.command == "POST":
            if body == {"username": "admin", "password": PASSWORD}:
                self._reply(201, {"access_token": TOKEN, "token_type": "bearer"})
            else:
                self._reply(401, {"detail": "Invalid credentials"})
            return
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self._reply(401, {"detail": "Not authenticated"})
            return
        parts = self.path.split("/")
        if len(parts) != 7 or parts[1:4] != ["api", "v2", "dags"] or parts[5] != "dagRuns":
            self._reply(404, {"detail": "Not Found"})
            return
        key = (parts[4], urllib.parse.unquote(parts[6]))
        if key not in self.server.runs:
            self._reply(404, {"detail": "DAG run not found"})
            return
        if self.command == "PATCH":
            self.server.runs[key] = body["state"]
        elif self.server.scheduler_finishes_once and self.server.runs[key] == "failed":
            self.server.scheduler_finishes_once = False
            self.server.runs[key] = "success"
        self._reply(200, _run(*key, self.server.runs[key]))

    do_GET = do_POST = do_PATCH = _handle  # noqa: N815


@pytest.fixture
def api_server(airflow_db, monkeypatch):
    from edge_intent.operations import emergency as operations

    monkeypatch.setattr(operations, "FAIL_CONFIRM_DELAY", 0.05)
    server = _APIServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    saved = os.environ.get("AIRFLOW_CONN_AIRFLOW_API")
    os.environ["AIRFLOW_CONN_AIRFLOW_API"] = json.dumps(
        {
            "conn_type": "http",
            "host": f"http://127.0.0.1:{server.server_address[1]}",
            "login": "admin",
            "password": PASSWORD,
        }
    )
    yield server
    server.shutdown()
    if saved is None:
        os.environ.pop("AIRFLOW_CONN_AIRFLOW_API", None)
    else:
        os.environ["AIRFLOW_CONN_AIRFLOW_API"] = saved


def parse():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(PROJECT_ROOT / "dags" / "emergency_fail_run.py")).get_dag(
        "emergency_fail_run"
    )


def test_a_stuck_run_is_marked_failed_through_the_rest_api(api_server):
    run = parse().test(run_conf={"dag_id": "intent_pipeline", "run_id": RUN_ID, "reason": "stuck in O2IMS"})
    assert run.state == "success"
    ti = next(t for t in run.get_task_instances() if t.task_id == "fail_run")
    result = ti.xcom_pull(task_ids="fail_run")
    assert result["previousState"] == "running" and result["state"] == "failed"
    assert result["reason"] == "stuck in O2IMS"
    assert api_server.runs[("intent_pipeline", RUN_ID)] == "failed"
    quoted = urllib.parse.quote(RUN_ID, safe="")
    calls = [(method, path, body) for method, path, body, _ in api_server.requests]
    assert calls == [
        ("POST", "/auth/token", {"username": "admin", "password": PASSWORD}),
        ("GET", f"/api/v2/dags/intent_pipeline/dagRuns/{quoted}", None),
        ("PATCH", f"/api/v2/dags/intent_pipeline/dagRuns/{quoted}", {"state": "failed"}),
        ("GET", f"/api/v2/dags/intent_pipeline/dagRuns/{quoted}", None),  # it stayed failed
    ]
    assert all(auth == f"Bearer {TOKEN}" for _, path, _, auth in api_server.requests if path != "/auth/token")
    assert PASSWORD not in json.dumps(result) and TOKEN not in json.dumps(result)


def test_a_run_the_scheduler_finishes_anyway_is_marked_failed_again(api_server):
    from edge_intent.operations import emergency as operations

    api_server.scheduler_finishes_once = True
    result = operations.fail_run({"dag_id": "intent_pipeline", "run_id": RUN_ID})
    assert result["state"] == "failed" and api_server.runs[("intent_pipeline", RUN_ID)] == "failed"
    methods = [(method, (body or {}).get("state")) for method, _, body, _ in api_server.requests]
    assert methods == [
        ("POST", None),
        ("GET", None),
        ("PATCH", "failed"),
        ("GET", None),  # read back: success
        ("PATCH", "failed"),
        ("GET", None),  # failed, and it stays
    ]


def test_a_finished_run_is_refused_and_left_alone(api_server):
    run = parse().test(run_conf={"dag_id": "intent_pipeline", "run_id": "done-run"})
    assert run.state == "failed"
    assert api_server.runs[("intent_pipeline", "done-run")] == "success"
    assert [m for m, *_ in api_server.requests] == ["POST", "GET"]  # no PATCH


def test_wrong_credentials_say_so_without_the_password(api_server, caplog):
    from edge_intent.operations import emergency as operations

    os.environ["AIRFLOW_CONN_AIRFLOW_API"] = os.environ["AIRFLOW_CONN_AIRFLOW_API"].replace(PASSWORD, "wrong")
    with pytest.raises(operations.OperationFailed, match="HTTP 401") as caught:
        operations.fail_run({"dag_id": "intent_pipeline", "run_id": RUN_ID})
    assert "wrong" not in str(caught.value) and PASSWORD not in caplog.text
    assert api_server.runs[("intent_pipeline", RUN_ID)] == "running"
