"""A write the metadata database refuses for now (SQLite locked by another process) is answered
503 with Retry-After, as a TMF921 Error, not 500: nothing was done, and the client may send it again."""

from __future__ import annotations

import sqlite3

from fastapi import FastAPI
from sqlalchemy.exc import OperationalError
from starlette.testclient import TestClient

from edge_intent.api.errors import RETRY_AFTER, install_error_handlers


def client(error: Exception) -> TestClient:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/intent")
    def create() -> None:
        raise error

    return TestClient(app, raise_server_exceptions=False)


def test_a_locked_database_is_503_with_retry_after():
    locked = OperationalError("INSERT INTO dag_run ...", {}, sqlite3.OperationalError("database is locked"))
    answer = client(locked).post("/intent")
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == str(RETRY_AFTER)
    body = answer.json()
    assert body["@type"] == "Error" and body["code"] == "503"
    assert body["errors"][0]["field"] == "database"
    assert "send the request again" in body["message"]
    assert "INSERT" not in answer.text  # no SQL, no parameters in the answer


def test_a_full_connection_pool_is_503_too():
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    full = PoolTimeout("QueuePool limit of size 5 overflow 10 reached, connection timed out, timeout 30.00")
    answer = client(full).post("/intent")
    assert answer.status_code == 503 and answer.headers["Retry-After"] == str(RETRY_AFTER)
    assert "QueuePool" not in answer.text


def test_any_other_database_error_is_still_a_server_error():
    broken = OperationalError("SELECT ...", {}, sqlite3.OperationalError("no such table: dag_run"))
    assert client(broken).post("/intent").status_code == 500
