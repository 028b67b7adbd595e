"""The embedded stack's SQLite metadata database, set up for several Airflow processes writing.

SQLite lets one writer in at a time, and a writer that finds the database locked waits for it only
``timeout`` seconds (Python's default is 5) before it fails with "database is locked". Under many
intents at once the scheduler's transactions, the tasks' state updates (through the api-server)
and new runs from the intent API queue for that lock, and 5 s is not enough: requests failed with
HTTP 500 and tasks with database errors. The stack therefore

* gives every Airflow process a longer wait (:data:`CONNECT_ARGS`, through Airflow's
  ``[database] sql_alchemy_connect_args``, an import path), and
* switches the database to write-ahead logging (:func:`use_wal`): readers no longer wait for a
  writer, nor a writer for readers. The mode is kept in the database file.

A long wait must not be spent on the api-server's event loop, though. Airflow's audit log is written
by an ``async`` dependency of the public API's write routes (``log_action``) through a synchronous
session, so its wait for the lock blocks the loop; the sync routes' sessions (the Execution API's
task state updates) commit in a thread the loop schedules after the route returns, still holding
the lock they took. When the audit write waits for one of those, neither can go on until the wait
times out: the whole api-server, and every task and trigger talking to it, stood still for the full
60 s in a test run. So a connection waits :data:`LOOP_TIMEOUT` seconds when it is used on a thread
that runs an event loop (:class:`Connection`, the connections' class): the audit write fails (HTTP
500, a database error, before the route did anything; clients try again) and the loop goes on.

PostgreSQL (the Celery stack, the compose file) needs neither.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

TIMEOUT = 60.0
"""Seconds a connection waits for another writer to end before it fails."""

LOOP_TIMEOUT = 5.0
"""The same, on a thread running an asyncio event loop (the api-server's ``async`` routes)."""


def _on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class Connection(sqlite3.Connection):
    """A SQLite connection that waits :data:`LOOP_TIMEOUT` for the write lock on an event loop's
    thread and :data:`TIMEOUT` anywhere else, decided for each statement (SQLAlchemy's pool hands
    one connection to any thread)."""

    _busy_ms: int | None = None

    def cursor(self, *args: Any, **kwargs: Any) -> sqlite3.Cursor:
        wanted = round(1000 * (LOOP_TIMEOUT if _on_event_loop() else TIMEOUT))
        if wanted != self._busy_ms:
            self._busy_ms = wanted
            super().cursor().execute(f"PRAGMA busy_timeout = {wanted}").close()
        return super().cursor(*args, **kwargs)

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        return self.cursor().execute(sql, parameters)  # the C shortcut would skip cursor()

    def executemany(self, sql: str, parameters: Any, /) -> sqlite3.Cursor:
        return self.cursor().executemany(sql, parameters)


CONNECT_ARGS = {"timeout": TIMEOUT, "factory": Connection}
"""What every Airflow process of the stack connects with (``sqlite3.connect``'s arguments)."""

AIRFLOW_ENV = {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS": f"{__name__}.CONNECT_ARGS"}
"""What every Airflow process of the stack gets: Airflow imports the dict from its path."""


def use_wal(database: Path) -> str:
    """Switch ``database`` to write-ahead logging; the journal mode it is in after."""
    with sqlite3.connect(database, timeout=TIMEOUT) as connection:
        return connection.execute("PRAGMA journal_mode=WAL").fetchone()[0]
