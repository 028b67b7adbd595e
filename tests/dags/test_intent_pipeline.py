"""The intent_pipeline DAG: integrity, nothing at parse time, and whole runs with dag.test()
against the real Git server and simulated sites."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from unittest import mock

import pytest

from include.compiler.config import PROJECT_ROOT

DAGS = PROJECT_ROOT / "dags"


@pytest.fixture(scope="module")
def dagbag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS))


@pytest.fixture
def dag(pipeline_dag):
    return pipeline_dag


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert "intent_pipeline" in dagbag.dag_ids


def test_phases_in_order(dag):
    assert [t.task_id for t in dag.topological_sort()] == [
        "validate",
        "compile",
        "render",
        "deliver",
        "wait_for_sync",
        "wait_for_o2ims",
        "verify_slos",
        "decide",
        "report",
        "rollback.plan",
        "rollback.revert",
        "rollback.wait_for_restore",
        "rollback.evidence",
        "watcher",
    ]
    timeouts = {t.task_id: t.execution_timeout for t in dag.tasks}
    assert timeouts["validate"].total_seconds() == 30
    assert timeouts["compile"].total_seconds() == 120
    assert timeouts["render"].total_seconds() == 180
    assert timeouts["deliver"].total_seconds() == 60
    assert dag.get_task("wait_for_sync").timeout == 300
    # infrastructure errors are retried; an invalid intent is not (InvalidIntent, a fail exception)
    assert dag.get_task("validate").retries == 3 and dag.get_task("validate").retry_exponential_backoff
    assert dag.doc_md and dag.params["dry_run"] is False


def test_no_connection_or_variable_at_parse_time(airflow_db):
    from airflow.dag_processing.dagbag import DagBag
    from airflow.sdk import BaseHook, Variable

    with (
        mock.patch.object(BaseHook, "get_connection", autospec=True) as get_connection,
        mock.patch.object(Variable, "get", autospec=True) as get_variable,
        mock.patch("subprocess.run", autospec=True) as run,
    ):
        bag = DagBag(dag_folder=str(DAGS))
    assert bag.import_errors == {}
    get_connection.assert_not_called()
    get_variable.assert_not_called()
    run.assert_not_called()


def _states(run):
    return {ti.task_id: ti.state for ti in run.get_task_instances()}


def _remote_files(stack, site):
    bare = stack.root / "git" / f"{site}-config.git"
    return subprocess.run(
        ["git", "ls-tree", "-r", "--name-only", "main"], cwd=bare, capture_output=True, text=True, check=True
    ).stdout.split()


def test_run_takes_an_intent_to_synced_on_two_sites(dag, sites_stack):
    run = dag.test(
        run_conf={
            "intent": "URLLC slice with 8 ms latency and 99.999% reliability at all sites",
            "slo_profile": "demo",
        }
    )
    assert run.state == "success", _states(run)
    states = _states(run)
    assert {states[t] for t in states if not t.startswith("rollback.")} == {"success"}
    assert {states[t] for t in states if t.startswith("rollback.")} == {"skipped"}
    ti = {t.task_id: t for t in run.get_task_instances()}
    delivered = ti["deliver"].xcom_pull(task_ids="deliver")
    synced = ti["wait_for_sync"].xcom_pull(task_ids="wait_for_sync")
    assert set(delivered) == set(synced) == {"edge1", "edge2"}
    for site in ("edge1", "edge2"):
        assert synced[site]["state"] == "done"
        assert synced[site]["observed"] == delivered[site]["sha"] or len(synced[site]["observed"]) == 40
        intent_files = [
            f for f in _remote_files(sites_stack, site) if f.startswith("intents/urllc-edge1-edge2-")
        ]
        assert any(f.endswith("/deployment.yaml") for f in intent_files)
    fulfilled = ti["wait_for_o2ims"].xcom_pull(task_ids="wait_for_o2ims")
    assert {s["state"] for s in fulfilled.values()} == {"done"}


def test_dry_run_delivers_nothing(dag, sites_stack):
    before = {site: _remote_files(sites_stack, site) for site in ("edge1", "edge2")}
    run = dag.test(run_conf={"intent": "eMBB slice with 200 Mbps downlink at edge1", "dry_run": True})
    states = _states(run)
    assert states["render"] == "success"
    assert states["deliver"] == states["wait_for_sync"] == states["wait_for_o2ims"] == "skipped"
    assert states["report"] == states["rollback.revert"] == "skipped"
    assert states["watcher"] == "success" and run.state == "success"
    assert {site: _remote_files(sites_stack, site) for site in ("edge1", "edge2")} == before


@pytest.mark.parametrize(
    ("conf", "field"),
    [
        ({"intent": "URLLC slice at edge9"}, "text"),
        ({"intent": {"@type": "Intent", "name": "x"}}, "expression"),
        (
            {
                "intent": '{"@type": "Intent", "id": "../../etc", "name": "x", "expression": '
                '{"@type": "TurtleExpression", "expressionValue": ""}}'
            },
            "id",
        ),
        ({"intent": "eMBB at edge1", "sites": ["edge1"], "dry_run": True}, None),
    ],
)
def test_invalid_input_fails_validate_without_retry(dag, sites_stack, conf, field):
    before = {site: _remote_files(sites_stack, site) for site in ("edge1", "edge2")}
    run = dag.test(run_conf=conf)
    states = _states(run)
    if field is None:  # the control case: valid input passes validation
        assert states["validate"] == "success"
        return
    assert states["validate"] == "failed"
    phases = ["compile", "render", "deliver", "wait_for_sync", "wait_for_o2ims", "verify_slos"]
    assert {states[task] for task in phases} == {"upstream_failed"}
    assert states["report"] == states["rollback.revert"] == "skipped"  # nothing delivered, nothing to undo
    assert states["watcher"] == "failed" and run.state == "failed"
    ti = next(t for t in run.get_task_instances() if t.task_id == "validate")
    assert ti.try_number == 1
    errors = ti.xcom_pull(task_ids="validate", key="errors")
    assert errors["errors"][0]["field"] == field
    assert {site: _remote_files(sites_stack, site) for site in ("edge1", "edge2")} == before


def test_unappliable_manifest_fails_the_sync_wait_fast(dag, fresh_stack):
    from edge_intent.hooks.site_repo import site_repo

    widget = {"widget.yaml": "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n"}
    site_repo("edge2").deliver("someone-else", widget, message="a manifest the site cannot apply")
    started = time.time()
    run = dag.test(run_conf={"intent": "URLLC slice with 5 ms latency at edge2"})
    states = _states(run)
    assert states["deliver"] == "success"
    assert states["wait_for_sync"] == "failed"
    assert time.time() - started < 120  # far inside the 300 s sync timeout
    # what was pushed is taken back; the site still cannot sync (someone else's manifest), and the
    # evidence says so
    assert states["rollback.revert"] == "success"
    assert states["rollback.evidence"] == "success"
    assert states["watcher"] == "failed" and run.state == "failed"
    evidence = next(t for t in run.get_task_instances() if t.task_id == "rollback.evidence")
    summary = evidence.xcom_pull(task_ids="rollback.evidence")
    assert summary["trigger"] == "sync_failed"


def test_git_server_down_fails_delivery_after_retries(dag, fresh_stack):
    fresh_stack.services["gitserver"].process.terminate()
    fresh_stack.services["gitserver"].process.wait(10)
    run = dag.test(run_conf={"intent": "URLLC slice with 5 ms latency at edge1"})
    states = _states(run)
    assert states["render"] == "success"
    assert states["deliver"] == "failed"
    ti = next(t for t in run.get_task_instances() if t.task_id == "deliver")
    assert ti.try_number == 4  # the first try and three retries
    assert not list(Path(fresh_stack.root / "git").glob("*.git/refs/heads/intent*"))
