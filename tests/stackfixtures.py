"""Fixtures that start real processes: the Git server and simulated sites, and an Airflow DB."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from include.localstack import stack as localstack


@pytest.fixture(scope="session")
def airflow_db():
    """Migrate the session's SQLite metadata DB once."""
    airflow = str(Path(sys.executable).parent / "airflow")
    done = subprocess.run(
        [airflow, "db", "migrate"], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return os.environ["AIRFLOW_HOME"]


@pytest.fixture(scope="session")
def sites_stack(tmp_path_factory):
    """A Git server and both catalogue sites as real processes; connections in AIRFLOW_CONN_*."""
    stack = localstack.start(tmp_path_factory.mktemp("stack"), prometheus=True, period=0.5)
    saved = dict(os.environ)
    os.environ.update(stack.connections_env())
    yield stack
    stack.stop()
    os.environ.clear()
    os.environ.update(saved)
