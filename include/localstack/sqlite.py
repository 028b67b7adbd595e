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

PostgreSQL (the Celery stack, the compose file) needs neither.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

CONNECT_ARGS = {"timeout": 60}
"""Seconds a connection waits for another process's write to end before it fails."""

AIRFLOW_ENV = {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS": f"{__name__}.CONNECT_ARGS"}
"""What every Airflow process of the stack gets: Airflow imports the dict from its path."""


def use_wal(database: Path) -> str:
    """Switch ``database`` to write-ahead logging; the journal mode it is in after."""
    with sqlite3.connect(database, timeout=CONNECT_ARGS["timeout"]) as connection:
        return connection.execute("PRAGMA journal_mode=WAL").fetchone()[0]
