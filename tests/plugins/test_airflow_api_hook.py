"""AirflowApiHook and include.airflow_rest (the official apache-airflow-client) against the real local
stack's api-server: login, trigger, runs, task instances, XComs, DAGs, marking a stuck run failed,
and the errors (a host with credentials or of another scheme, a wrong password, an unknown run)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.parse

import jwt
import pytest

from edge_intent.hooks.airflow_api import AirflowApiHook
from include.airflow_rest import AirflowRest, AirflowRestError, api_base_url
from include.compiler.config import PROJECT_ROOT
from include.lifecycle import WAIT_FOR_SYNC, wave_task
from include.localstack import stack as localstack
from tests.profiles import PROFILE as SLO_PROFILE

SYNC = wave_task(1, WAIT_FOR_SYNC)

DAG = "intent_pipeline"
CONN_ID = "airflow_api_hook_test"
WRONG = "wrong-pass-4711"
ADMIN_LOGIN = {"login": localstack.ADMIN[0], "password": localstack.ADMIN[1]}


@pytest.fixture(scope="module")
def running(airflow_stack):
    rest = AirflowRest(airflow_stack.airflow_url, *localstack.ADMIN)
    yield airflow_stack, rest
    rest.close()


def _connection(monkeypatch, **fields) -> AirflowApiHook:
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps({"conn_type": "http", **fields}))
    return AirflowApiHook(airflow_api_conn_id=CONN_ID)


def _states(rest: AirflowRest, run_id: str) -> dict[str, str | None]:
    return {ti.task_id: ti.state.value if ti.state else None for ti in rest.task_instances(DAG, run_id)}


# -- no api-server needed --------------------------------------------------------------------------


def test_the_hook_is_provider_style():
    assert AirflowApiHook.conn_name_attr == "airflow_api_conn_id"
    assert AirflowApiHook.default_conn_name == "airflow_api"
    assert AirflowApiHook.conn_type == "http"
    assert AirflowApiHook.hook_name == "Airflow REST API"
    assert AirflowApiHook().airflow_api_conn_id == "airflow_api"


@pytest.mark.parametrize(
    ("host", "scheme", "port", "url"),
    [
        ("http://127.0.0.1:8080/", None, None, "http://127.0.0.1:8080"),
        ("https://airflow.example/prefix", None, 8443, "https://airflow.example:8443/prefix"),
        ("https://airflow.example:443", None, 8443, "https://airflow.example:443"),
        ("airflow.example", "https", 8443, "https://airflow.example:8443"),
        ("airflow.example", None, None, "http://airflow.example"),
    ],
)
def test_base_url_from_a_url_or_host_scheme_and_port(host, scheme, port, url):
    assert api_base_url(host, scheme, port) == url


@pytest.mark.parametrize(
    ("fields", "said"),
    [
        ({"host": "http://admin:s3cret-pw@127.0.0.1:8080"}, "credentials"),
        ({"host": "https://admin@airflow.example"}, "credentials"),
        ({"host": "ftp://airflow.example"}, "http or https"),
        ({"host": "airflow.example", "schema": "file"}, "http or https"),
        ({"host": ""}, "no host"),
        ({"host": "http://127.0.0.1:8080", "login": ""}, "no login"),
    ],
)
def test_a_bad_connection_is_refused_naming_it(monkeypatch, fields, said):
    hook = _connection(monkeypatch, **{"login": "admin", "password": "s3cret-pw", **fields})
    with pytest.raises(ValueError, match=f"connection {CONN_ID}: .*{said}") as caught:
        hook.get_conn()
    assert "s3cret-pw" not in str(caught.value)


def test_an_unknown_state_is_refused_before_any_request():
    rest = AirflowRest("http://127.0.0.1:9", "admin", "pw")  # nothing listens on port 9
    with pytest.raises(ValueError, match="queued, success or failed"):
        rest.set_dag_run_state(DAG, "some-run", "running")


def test_an_unreachable_server_is_an_error_with_status_0():
    rest = AirflowRest(f"http://127.0.0.1:{localstack.free_port()}", "admin", "s3cret-pw", timeout=5)
    with pytest.raises(AirflowRestError, match="cannot be reached") as caught:
        rest.get_dag_run(DAG, "some-run")
    assert caught.value.status == 0 and "s3cret-pw" not in str(caught.value)


DATABASE_ERROR = '{"detail":{"reason":"Database error","statement":"hidden","orig_error":"hidden"}}'


def _answers(*answers):
    """A call that raises or returns each of ``answers`` in turn."""
    queue = list(answers)

    def call():
        answer = queue.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return call


def test_a_database_error_of_the_api_server_is_tried_again_after_a_pause(monkeypatch):
    from airflow_client.client.exceptions import ApiException

    from include import airflow_rest

    slept = []
    monkeypatch.setattr(airflow_rest.time, "sleep", slept.append)
    rest = AirflowRest(f"http://127.0.0.1:{localstack.free_port()}", "admin", "s3cret-pw")
    rest.configuration.access_token = "a token"  # logged in
    locked = ApiException(status=500, reason="Internal Server Error", body=DATABASE_ERROR)
    assert rest._call("answer", _answers(locked, locked, "answered")) == "answered"
    assert slept == [0.5, 1.0]
    # every pause spent: the last database error is the error, with the action
    slept.clear()
    with pytest.raises(AirflowRestError, match="answer: HTTP 500: .*Database error") as caught:
        rest._call("answer", _answers(*[locked] * 4, "never"))
    assert caught.value.status == 500 and slept == [0.5, 1.0, 2.0]
    # another server error is not tried again
    slept.clear()
    other = ApiException(status=500, reason="Internal Server Error", body='{"detail":"boom"}')
    with pytest.raises(AirflowRestError, match="boom"):
        rest._call("answer", _answers(other, "never"))
    assert slept == []


def test_the_library_imports_neither_airflow_core_nor_the_plugins():
    code = (
        "import sys, include.airflow_rest\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('airflow', 'edge_intent'))\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT_ROOT)
    assert done.returncode == 0, done.stdout + done.stderr


# -- against the real api-server -------------------------------------------------------------------


def test_the_library_triggers_and_reads_a_run(running):
    _, rest = running
    assert {DAG, "emergency_fail_run"} <= {dag.dag_id for dag in rest.list_dags()}
    assert rest.get_dag(DAG).dag_id == DAG
    run = rest.trigger_dag_run(DAG, {"intent": "URLLC slice at edge9"})
    assert run.logical_date is None and run.conf == {"intent": "URLLC slice at edge9"}
    deadline = time.time() + 120
    while rest.get_dag_run(DAG, run.dag_run_id).state.value not in ("success", "failed"):
        assert time.time() < deadline, "the run did not end"
        time.sleep(0.5)
    assert rest.get_dag_run(DAG, run.dag_run_id).state.value == "failed"  # an unknown site
    states = _states(rest, run.dag_run_id)
    assert states["validate"] == "failed"
    errors = rest.get_xcom_entry(DAG, run.dag_run_id, "validate", "errors").value
    assert errors["errors"][0]["field"] == "text"


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")  # the stack's own secret
def test_an_expired_token_is_renewed_once(running):
    """The api-server answers 401 "Token Expired" (an invalid token is 403): log in again, once."""
    stack, _ = running
    rest = AirflowRest(stack.airflow_url, *localstack.ADMIN)
    token = rest.access_token()
    header = jwt.get_unverified_header(token)
    claims = {**jwt.decode(token, options={"verify_signature": False}), "exp": int(time.time()) - 60}
    secret = json.loads((stack.root / "secrets" / "jwt").read_text())
    extra = {key: value for key, value in header.items() if key not in ("alg", "typ")}
    expired = jwt.encode(claims, secret, algorithm=header["alg"], headers=extra)
    rest.configuration.access_token = expired
    assert rest.get_dag(DAG).dag_id == DAG
    assert rest.access_token() != expired


def test_unknown_dag_and_run_answer_404(running, monkeypatch):
    stack, rest = running
    with pytest.raises(AirflowRestError) as caught:
        rest.get_dag("no_such_dag")
    assert caught.value.status == 404
    hook = _connection(monkeypatch, host=stack.airflow_url, **ADMIN_LOGIN)
    with pytest.raises(AirflowRestError, match="HTTP 404") as caught:
        hook.get_dag_run(DAG, "no-such-run")
    assert caught.value.status == 404 and "no-such-run" in caught.value.body
    assert localstack.ADMIN[1] not in str(caught.value)


def test_a_wrong_password_says_401_without_the_password(running, monkeypatch):
    stack, _ = running
    hook = _connection(monkeypatch, host=stack.airflow_url, login="admin", password=WRONG)
    with pytest.raises(AirflowRestError, match=r"POST /auth/token.*HTTP 401") as caught:
        hook.get_dag_run(DAG, "any-run")
    assert caught.value.status == 401
    assert WRONG not in str(caught.value) and WRONG not in caught.value.body
    assert hook.test_connection()[0] is False


def test_the_hook_marks_a_stuck_run_failed(running, monkeypatch):
    """A run stuck in Reconciling (edge1's sync paused), with a run id that needs quoting in a path.
    Its intent is its own: one another test left delivered on the shared stack would need no new
    commit, and its sync wait would pass at once."""
    stack, rest = running
    parts = urllib.parse.urlsplit(stack.airflow_url)
    # The connection as host + schema + port, the way the UI's form gives it.
    hook = _connection(monkeypatch, host=parts.hostname, schema="http", port=parts.port, **ADMIN_LOGIN)
    assert hook.test_connection() == (True, f"Logged in to {stack.airflow_url} as admin")
    run_id = "hooktest__2026-01-01T00:00:00+00:00"
    stack.control("edge1", "POST", "/control/sync", {"paused": True})
    try:
        rest.trigger_dag_run(
            DAG,
            {"intent": "URLLC slice with 29 ms latency at edge1", "slo_profile": SLO_PROFILE},
            run_id=run_id,
        )
        deadline = time.time() + 150
        while True:
            states = _states(rest, run_id)
            # deferred, not merely running: a task still running when the PATCH fails it can defer
            # afterwards, and Airflow takes that deferral over the failed state
            if states.get(SYNC) == "deferred":
                break
            assert time.time() < deadline, f"the run never reached the sync wait: {states}"
            time.sleep(0.5)
        before = hook.get_dag_run(DAG, run_id)
        assert before["state"] == "running" and before["dag_run_id"] == run_id
        assert isinstance(before["start_date"], str) and before["end_date"] is None
        after = hook.set_dag_run_state(DAG, run_id, "failed")
        assert after["state"] == "failed" and isinstance(after["end_date"], str)
        assert hook.get_dag_run(DAG, run_id)["state"] == "failed"
        # The PATCH ends the deferred site wait in the same transaction: failed, not resumed.
        # (A scheduler loop that had the run in hand may still finish it from those states, on
        # SQLite: emergency_fail_run reads the run back and marks it again; that is tested with a
        # scripted api-server in tests/dags/test_emergency_fail_run.py, not this hook's doing.)
        states = _states(rest, run_id)
        assert states[SYNC] == "failed", f"{states!r}"
    finally:
        stack.control("edge1", "POST", "/control/sync", {"paused": False})
