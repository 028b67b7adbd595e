"""The withdraw and emergency DAGs through dag.test(), against one real local stack (Git server,
simulated sites, Prometheus): only the target intent is withdrawn, an intent deployed nowhere or an
unknown checkpoint changes nothing, a reset brings the tagged state back by revert commits (history
only grows), a resync recovers a hung site, and hostile params are refused naming the field."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from include.compiler.config import PROJECT_ROOT, load_settings
from include.localstack import stack as localstack

NS = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: intent-{}\n"
SITES = tuple(load_settings().catalogue.names)  # edge1 (canary), edge2, edge3


@pytest.fixture(scope="module")
def stack(tmp_path_factory, airflow_db):
    """One stack for the module; the tests use their own intent ids and checkpoint names."""
    root = tmp_path_factory.mktemp("operations")
    started = localstack.start(root / "stack", prometheus=False, period=0.3)
    saved = dict(os.environ)
    os.environ.update(started.connections_env())
    os.environ["EDGE_INTENT_GIT_CACHE"] = str(root / "cache")
    os.environ["EDGE_INTENT_EVIDENCE_DIR"] = str(root / "evidence")
    yield started
    started.stop()
    os.environ.clear()
    os.environ.update(saved)


def parse(dag_id):
    """The DAG parsed afresh (dag.test() leaves a run's conf in the DAG object's params)."""
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(PROJECT_ROOT / "dags" / f"{dag_id}.py")).get_dag(dag_id)


def bare(stack, site):
    repo = load_settings().catalogue.get(site).repo
    return Path(stack.root) / "git" / f"{repo}.git"


def git(stack, site, *args, check=True):
    return subprocess.run(
        ["git", *args], cwd=bare(stack, site), capture_output=True, text=True, check=check
    ).stdout


def head(stack, site):
    return git(stack, site, "rev-parse", "main").strip()


def tree(stack, site):
    return git(stack, site, "ls-tree", "-r", "--name-only", "main").split()


def on_site(stack, site, namespace):
    request = urllib.request.Request(
        f"{stack.site_url(site)}/api/v1/namespaces/{namespace}",
        headers={"Authorization": f"Bearer {stack.site_secrets[site]['apiToken']}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5):
            return True
    except urllib.error.HTTPError as exc:
        assert exc.code == 404
        return False


def wait_until(condition, timeout=20.0):
    deadline = time.time() + timeout
    while not condition():
        assert time.time() < deadline, "timed out"
        time.sleep(0.1)


def deliver(intent_id, sites=SITES, extra=""):
    from edge_intent.hooks.site_repo import site_repo

    return {
        site: site_repo(site)
        .deliver(intent_id, {"namespace.yaml": NS.format(intent_id) + extra}, message=f"deliver {intent_id}")
        .sha
        for site in sites
    }


def states(run):
    return {ti.task_id: ti.state for ti in run.get_task_instances()}


def xcom(run, task_id, key="return_value"):
    ti = next(t for t in run.get_task_instances() if t.task_id == task_id)
    return ti.xcom_pull(task_ids=task_id, key=key)


def no_secrets(stack, text):
    secrets = [v for site in stack.sites for v in stack.site_secrets[site].values()]
    secrets += [user["token"] for user in stack.git_users.values()]
    return not [secret for secret in secrets if secret in text]


def test_withdraw_takes_out_only_the_target_intent(stack):
    deliver("keep-b")
    first = deliver("gone-a")
    second = deliver("gone-a", sites=("edge1",), extra="# v2\n")
    wait_until(
        lambda: all(on_site(stack, s, "intent-gone-a") and on_site(stack, s, "intent-keep-b") for s in SITES)
    )
    before = {site: head(stack, site) for site in SITES}

    run = parse("intent_withdraw").test(run_conf={"intent_id": "gone-a", "reason": "customer cancelled"})
    assert run.state == "success", states(run)
    summary = xcom(run, "withdraw.evidence")
    assert summary["intentId"] == "gone-a" and summary["result"] == "success"
    assert summary["sites"] == list(SITES)
    # reverse wave order: the last wave first, the canary edge1 last
    assert xcom(run, "plan")["order"] == ["edge3", "edge2", "edge1"]
    reverts = xcom(run, "withdraw.revert", "reverts")
    assert reverts["edge3"]["pushedAt"] < reverts["edge2"]["pushedAt"] < reverts["edge1"]["pushedAt"]
    for site in SITES:
        after = summary["reverts"][site]
        assert (
            head(stack, site) == after
            and git(stack, site, "merge-base", "--is-ancestor", before[site], after) == ""
        )
        assert "intents/keep-b/namespace.yaml" in tree(stack, site)
        assert not [path for path in tree(stack, site) if path.startswith("intents/gone-a/")]
        assert not on_site(stack, site, "intent-gone-a") and on_site(stack, site, "intent-keep-b")
    body = git(stack, "edge1", "log", "-1", "--format=%B", "main")
    assert f"Reverts: {second['edge1']}" in body and f"Reverts: {first['edge1']}" in body
    assert "customer cancelled" in body

    path = Path(summary["path"])
    evidence = json.loads(path.read_text())
    assert evidence["trigger"] == "withdrawn" and evidence["result"] == "success"
    assert evidence["withdrawn"]["edge1"] == [second["edge1"], first["edge1"]]
    assert evidence["sites"]["edge2"]["commitBefore"] == before["edge2"]
    assert evidence["sites"]["edge2"]["commitAfter"] == summary["reverts"]["edge2"]
    assert evidence["actions"][-1]["action"] == "sync_complete"
    assert no_secrets(stack, path.read_text())

    # withdrawn already: deployed nowhere, so the run fails and nothing is committed or written
    evidence_files = sorted(Path(os.environ["EDGE_INTENT_EVIDENCE_DIR"]).rglob("evidence.json"))
    heads = {site: head(stack, site) for site in SITES}
    again = parse("intent_withdraw").test(run_conf={"intent_id": "gone-a"})
    assert again.state == "failed" and states(again)["plan"] == "failed"
    assert states(again)["withdraw.revert"] == "upstream_failed"
    assert states(again)["withdraw.evidence"] == "failed"
    assert {site: head(stack, site) for site in SITES} == heads
    assert sorted(Path(os.environ["EDGE_INTENT_EVIDENCE_DIR"]).rglob("evidence.json")) == evidence_files


def test_checkpoint_then_reset_restores_the_tagged_state_by_reverts(stack):
    deliver("base-c")
    run = parse("emergency_checkpoint").test(run_conf={"name": "good", "message": "known good"})
    assert run.state == "success", states(run)
    tagged = xcom(run, "tag")["sites"]
    assert tagged == {site: head(stack, site) for site in SITES}
    assert git(stack, "edge1", "cat-file", "-t", "refs/tags/checkpoint/good").strip() == "tag"

    deliver("later-d")
    deliver("base-c", sites=("edge2",), extra="# changed\n")
    wait_until(lambda: on_site(stack, "edge1", "intent-later-d"))
    before = {site: head(stack, site) for site in SITES}

    # an existing checkpoint is never moved
    again = parse("emergency_checkpoint").test(run_conf={"name": "good"})
    assert again.state == "failed" and states(again)["plan"] == "failed"
    assert git(stack, "edge1", "rev-parse", "checkpoint/good^{commit}").strip() == tagged["edge1"]

    run = parse("emergency_reset").test(run_conf={"checkpoint": "good", "reason": "bad maintenance"})
    assert run.state == "success", states(run)
    result = xcom(run, "reset.evidence")
    assert result["checkpoint"] == "good" and result["sites"] == list(SITES)
    for site in SITES:
        after = head(stack, site)
        assert result["reverts"][site] == after != before[site]
        git(stack, site, "merge-base", "--is-ancestor", before[site], after)  # history only grew
        assert git(stack, site, "diff", "--stat", tagged[site], after) == ""  # the tagged files, exactly
        assert not on_site(stack, site, "intent-later-d") and on_site(stack, site, "intent-base-c")
    evidence = json.loads(Path(result["path"]).read_text())
    assert evidence["trigger"] == "emergency_reset" and evidence["result"] == "success"
    assert evidence["sites"]["edge1"]["commitBefore"] == before["edge1"]
    assert evidence["sites"]["edge1"]["tagCommit"] == tagged["edge1"]
    assert all(s["treeMatchesCheckpoint"] for s in evidence["sites"].values())
    assert len(evidence["sites"]["edge2"]["reverted"]) == 2

    # an unknown checkpoint: refused before anything changes
    heads = {site: head(stack, site) for site in SITES}
    unknown = parse("emergency_reset").test(run_conf={"checkpoint": "never-taken"})
    assert unknown.state == "failed" and states(unknown)["plan"] == "failed"
    assert states(unknown)["reset.evidence"] == "failed"
    assert {site: head(stack, site) for site in SITES} == heads


def test_resync_recovers_a_hung_site(stack):
    stack.control("edge2", "POST", "/control/sync", {"paused": True})  # the reconciler hangs
    try:
        pushed = deliver("after-hang", sites=("edge2",))["edge2"]
        time.sleep(1.0)
        assert not on_site(stack, "edge2", "intent-after-hang")
        run = parse("emergency_resync").test(run_conf={"site": "edge2"})
    finally:
        stack.control("edge2", "POST", "/control/sync", {"paused": False})
    assert run.state == "success", states(run)
    restarted = xcom(run, "restart")
    assert restarted["edge2"]["sha"] == pushed
    assert xcom(run, "wait_for_sync")["edge2"]["state"] == "done"
    assert on_site(stack, "edge2", "intent-after-hang")


@pytest.mark.parametrize(
    ("dag_id", "conf", "field"),
    [
        ("intent_withdraw", {"intent_id": "../../etc/passwd"}, "intent_id"),
        ("intent_withdraw", {"intent_id": "a/b"}, "intent_id"),
        ("intent_withdraw", {"intent_id": "ok\n"}, "intent_id"),  # Python's $ matches before a newline
        ("emergency_resync", {"site": "edge1\n"}, "site"),
        ("intent_withdraw", {"intent_id": "a" * 5000}, "intent_id"),
        ("intent_withdraw", {"intent_id": "ok", "sites": ["../edge1"]}, "sites"),
        ("emergency_checkpoint", {"name": ".."}, "name"),
        ("emergency_checkpoint", {"name": "x/../../main"}, "name"),
        ("emergency_reset", {"checkpoint": "../good"}, "checkpoint"),
        ("emergency_reset", {"checkpoint": "c" * 100_000}, "checkpoint"),
        ("emergency_resync", {"site": "edge1/../edge2"}, "site"),
        ("emergency_fail_run", {"dag_id": "some_other_dag", "run_id": "r"}, "dag_id"),
        ("emergency_fail_run", {"run_id": "../../variables"}, "run_id"),
    ],
)
def test_hostile_params_are_refused_naming_the_field(stack, dag_id, conf, field):
    from airflow.sdk.exceptions import ParamValidationError

    heads = {site: head(stack, site) for site in SITES}
    with pytest.raises(ParamValidationError, match=f"param {field}"):
        parse(dag_id).test(run_conf=conf)
    assert {site: head(stack, site) for site in SITES} == heads


@pytest.mark.parametrize(
    ("call", "params", "field"),
    [
        ("withdraw.withdraw_plan", {"intent_id": "../x"}, "intent_id"),
        ("withdraw.withdraw_plan", {"intent_id": "x" * 51}, "intent_id"),
        ("withdraw.withdraw_plan", {"intent_id": "ok\n"}, "intent_id"),
        ("withdraw.withdraw_plan", {"intent_id": "ok", "sites": ["edge9"]}, "sites"),
        ("withdraw.withdraw_plan", {"intent_id": "ok", "reason": "a\nb"}, "reason"),
        ("emergency.checkpoint_plan", {"name": "a/b"}, "name"),
        ("emergency.reset_plan", {"checkpoint": ".."}, "checkpoint"),
        ("emergency.resync_restart", {"site": "edge9"}, "site"),
        ("emergency.fail_run", {"dag_id": "intent_pipeline", "run_id": "a/../b"}, "run_id"),
        ("emergency.fail_run", {"dag_id": "intent_pipeline", "run_id": "run\n"}, "run_id"),
    ],
)
def test_the_operations_check_params_again(stack, call, params, field):
    """The task bodies refuse what the Params refuse (the REST API and the UI validate Params, but
    the bodies do not rely on it), naming the field, before any I/O."""
    import importlib

    from edge_intent.operations import InvalidParam

    module, _, function = call.partition(".")
    with pytest.raises(InvalidParam, match=f"^{field}: "):
        getattr(importlib.import_module(f"edge_intent.operations.{module}"), function)(params)
