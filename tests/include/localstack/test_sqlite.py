"""The embedded stack's SQLite metadata database: write-ahead logging, and a longer wait for the
write lock in every Airflow process; neither on the PostgreSQL (Celery) stack."""

from __future__ import annotations

import importlib
import sqlite3
import threading
import time
from types import SimpleNamespace

from include.localstack import sqlite
from include.localstack.stack import Stack


def test_the_database_is_switched_to_write_ahead_logging(tmp_path):
    database = tmp_path / "airflow.db"
    sqlite3.connect(database).close()
    assert sqlite.use_wal(database) == "wal"
    with sqlite3.connect(database) as again:  # kept in the file
        assert again.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def _locked(tmp_path):
    """A WAL database with a table, and a connection holding its write lock."""
    database = tmp_path / "airflow.db"
    with sqlite3.connect(database) as setup:
        setup.execute("CREATE TABLE runs (id INTEGER)")
    sqlite.use_wal(database)
    writer = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
    writer.execute("BEGIN IMMEDIATE")
    return database, writer


def test_a_reader_does_not_wait_for_a_writer_in_wal(tmp_path):
    database, writer = _locked(tmp_path)
    writer.execute("INSERT INTO runs VALUES (1)")
    reader = sqlite3.connect(database, timeout=0.1)
    assert reader.execute("SELECT count(*) FROM runs").fetchone()[0] == 0  # no "database is locked"
    writer.execute("COMMIT")
    assert reader.execute("SELECT count(*) FROM runs").fetchone()[0] == 1


def test_a_writer_waits_for_the_lock_as_long_as_the_connect_args_say(tmp_path):
    database, holder = _locked(tmp_path)
    threading.Timer(1.5, lambda: holder.execute("COMMIT")).start()  # longer than nothing, well under
    started = time.monotonic()
    with sqlite3.connect(database, **sqlite.CONNECT_ARGS) as waiting:
        waiting.execute("INSERT INTO runs VALUES (2)")
    assert 1.0 < time.monotonic() - started < sqlite.CONNECT_ARGS["timeout"]


def test_every_airflow_process_gets_the_connect_args_on_sqlite_only(tmp_path):
    stack = Stack(tmp_path, sites=[], git_users={"pipeline": {"token": "t"}})
    env = stack.airflow_env(port=8793)
    module, _, name = env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS"].rpartition(".")
    assert getattr(importlib.import_module(module), name) == sqlite.CONNECT_ARGS  # what Airflow imports
    postgres = {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "postgresql+psycopg2://airflow@127.0.0.1/airflow"}
    stack.celery_backends = SimpleNamespace(airflow_env=lambda: postgres)  # the Celery stack's backends
    assert "AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS" not in stack.airflow_env(port=8793)


def test_on_an_event_loop_a_connection_waits_briefly_and_elsewhere_long(tmp_path, monkeypatch):
    """The api-server's loop must not stand still waiting for a lock that a thread it schedules
    holds: on the loop's thread the wait is LOOP_TIMEOUT, the same connection waits TIMEOUT off it."""
    import asyncio

    monkeypatch.setattr(sqlite, "LOOP_TIMEOUT", 0.3)
    database, holder = _locked(tmp_path)
    connection = sqlite3.connect(database, check_same_thread=False, **sqlite.CONNECT_ARGS)

    async def audit_write():  # what Airflow's async log_action does: a synchronous write
        connection.execute("INSERT INTO runs VALUES (3)")

    started = time.monotonic()
    try:
        asyncio.run(audit_write())
    except sqlite3.OperationalError as exc:
        assert "database is locked" in str(exc)
    else:
        raise AssertionError("the write on the event loop did not fail while the lock was held")
    waited = time.monotonic() - started
    assert 0.2 < waited < 3

    threading.Timer(1.0, lambda: holder.execute("COMMIT")).start()
    started = time.monotonic()
    connection.execute("INSERT INTO runs VALUES (4)")  # off the loop: waits for the holder
    connection.commit()
    assert 0.7 < time.monotonic() - started < sqlite.TIMEOUT
    assert connection.execute("SELECT id FROM runs").fetchall() == [(4,)]
