"""Fixtures that start real processes: the Git server and simulated sites, and an Airflow DB."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from include.localstack import stack as localstack
from tests.profiles import PROFILE as SLO_PROFILE


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
    """A Git server and every catalogue site as real processes; connections in AIRFLOW_CONN_*."""
    stack = localstack.start(tmp_path_factory.mktemp("stack"), prometheus=True, period=0.5)
    saved = dict(os.environ)
    os.environ.update(stack.connections_env())
    yield stack
    stack.stop()
    os.environ.clear()
    os.environ.update(saved)


RUNNING_ENV = {
    "EDGE_INTENT_API_RATE": "5",
    "EDGE_INTENT_API_BURST": "60",
    "EDGE_INTENT_API_SLO_PROFILE": SLO_PROFILE,
    "EDGE_INTENT_WAIT_TIMEOUT": "30",
    "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "600",
}
"""The shared running stack's settings: an intent API burst the rate-limit test can exhaust, site
waits that give up after 30 s (a fault test waits for one to), and DAG files parsed once (they do
not change under a test; parsing every 30 s costs a fifth of a core per stack)."""


@pytest.fixture(scope="session")
def airflow_stack(tmp_path_factory):
    """One running stack for every test that needs Airflow's own processes (api-server, scheduler,
    dag-processor, triggerer on SQLite) beside the Git server, the sites and Prometheus. Its
    connections are not put into this process's environment (``sites_stack`` owns that); a test that
    needs them sets ``stack.connections_env()`` itself. The fault tests kill its processes and start
    them again."""
    from include.lifecycle import Dag
    from include.localstack.airflow_api import AirflowAPI

    stack = localstack.start(tmp_path_factory.mktemp("running"), airflow=True, airflow_env=RUNNING_ENV)
    try:
        AirflowAPI(stack.airflow_url, *localstack.ADMIN).wait_for_dag(Dag.PIPELINE.value)
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def fresh_stack(tmp_path, airflow_db):
    """A stack of its own (with Prometheus), for runs that break it; its own Git cache and evidence."""
    stack = localstack.start(tmp_path / "stack", prometheus=True, period=0.5)
    saved = dict(os.environ)
    os.environ.update(stack.connections_env())
    os.environ["EDGE_INTENT_GIT_CACHE"] = str(tmp_path / "cache")
    os.environ["EDGE_INTENT_EVIDENCE_DIR"] = str(tmp_path / "evidence")
    yield stack
    stack.stop()
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture
def pipeline_dag(airflow_db):
    """The intent_pipeline DAG, parsed afresh for every test: dag.test() runs tasks in this process, and
    a run's conf would otherwise stay in the shared DAG object's params."""
    from airflow.dag_processing.dagbag import DagBag

    from include.compiler.config import PROJECT_ROOT

    return DagBag(dag_folder=str(PROJECT_ROOT / "dags")).get_dag("intent_pipeline")
