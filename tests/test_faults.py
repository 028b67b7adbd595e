"""Faults injected into the shared running stack, as an operator's worst day would go: processes
killed with SIGKILL and started again the same way, on the same ports, so that the stack is whole
again after each test. Each test is bounded in time and prints what it measured (``pytest -s``
shows it; ``bench/faults.py`` records it)."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from include.compiler.config import load_settings
from include.lifecycle import (
    DELIVER,
    ROLLBACK_EVIDENCE,
    ROLLBACK_REVERT,
    VERIFY_SLOS,
    WAIT_FOR_O2IMS,
    WAIT_FOR_SYNC,
    Dag,
    wave_task,
)
from include.localstack import stack as localstack
from include.localstack.airflow_api import AirflowAPI
from tests.profiles import INTERVAL, WINDOW
from tests.profiles import PROFILE as SLO_PROFILE
from tests.waiting import wait_until

PIPELINE = Dag.PIPELINE.value
ALL_AT_ONCE = {"type": "All"}
"""One wave of every site: the faults below hit several sites' tasks at the same time."""


def site_task(task: str, site: str) -> str:
    """The key of the one wave's ``task`` at ``site`` in :func:`states`."""
    return f"{wave_task(1, task)}[{site}]"


@pytest.fixture(scope="module")
def faulty(airflow_stack):
    return airflow_stack, AirflowAPI(airflow_stack.airflow_url, *localstack.ADMIN)


def bare(stack, site: str) -> Path:
    return stack.root / "git" / f"{load_settings().catalogue.get(site).repo}.git"


def main_of(stack, site: str) -> str:
    return subprocess.run(
        ["git", "--git-dir", str(bare(stack, site)), "rev-parse", "main"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def states(api, run_id: str) -> dict[str, str | None]:
    """``{task id: state}``, a wave's site task as ``task id[site]``."""
    found = {}
    for ti in api.task_instances(PIPELINE, run_id):
        index = ti.get("map_index", -1)
        name = (
            f"{ti['task_id']}[{ti.get('rendered_map_index')}]"
            if index is not None and index >= 0
            else ti["task_id"]
        )
        found[name] = ti["state"]
    return found


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as reply:
            return reply.status == 200
    except OSError:
        return False


def listening(url: str) -> bool:
    host, port = urllib.parse.urlsplit(url).hostname, urllib.parse.urlsplit(url).port
    try:
        socket.create_connection((host, port), timeout=1).close()
    except OSError:
        return False
    return True


def test_git_server_killed_between_two_sites_pushes_the_partial_delivery_is_reverted(faulty):
    figures = git_server_killed_mid_delivery(*faulty)
    print(
        f"\nGit server down {figures['down']:.1f} s mid-delivery; rolled back and recorded "
        f"{figures['recovered']:.1f} s after it came back"
    )


def git_server_killed_mid_delivery(stack, api, offset: int = 0) -> dict[str, float]:
    """The first site's push lands; the Git server dies while the second is being received, and
    stays down through every retry of deliver. Git itself (the commit's trailers) then tells the
    rollback what was delivered: the first site is reverted and recorded, the second got nothing."""
    hook = bare(stack, "edge2") / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\nsleep 5\n")  # holds edge2's push open long enough to die inside it
    hook.chmod(0o755)
    before = {site: main_of(stack, site) for site in stack.sites}
    try:
        text = f"IoT sensors for {1000 + offset} devices for a smart city at edge1 and edge2"
        conf = {"intent": text, "slo_profile": SLO_PROFILE, "rollout_strategy": ALL_AT_ONCE}
        run_id = api.trigger(PIPELINE, conf)
        wait_until(lambda: main_of(stack, "edge1") != before["edge1"], 120, "edge1's push", 0.02)
        stack.kill("gitserver")
        killed = time.time()
    finally:
        hook.unlink()
    delivered = main_of(stack, "edge1")
    wait_until(
        lambda: states(api, run_id).get(site_task(DELIVER, "edge2")) == "failed",
        120,
        "edge2's deliver failing",
        interval=0.5,
    )
    stack.restart("gitserver")
    restarted = time.time()
    wait_until(lambda: listening(stack.git_url), 30, "the Git server", 0.2)
    run = api.follow(PIPELINE, run_id, timeout=240)
    recovered = time.time()

    assert run["state"] == "failed"
    assert main_of(stack, "edge2") == before["edge2"]  # never delivered, never reverted
    reverts = api.xcom(PIPELINE, run_id, ROLLBACK_REVERT, "reverts")
    assert set(reverts) == {"edge1"} and reverts["edge1"]["reverted"] == delivered
    assert main_of(stack, "edge1") == reverts["edge1"]["sha"]
    summary = api.xcom(PIPELINE, run_id, ROLLBACK_EVIDENCE)
    evidence = json.loads(Path(summary["path"]).read_text())
    assert evidence["result"] == "success" and evidence["trigger"] == "delivery_failed"
    assert evidence["sites"]["edge1"]["delivered"] == delivered and set(evidence["sites"]) == {"edge1"}
    assert evidence["restored_version"] == {"edge1": reverts["edge1"]["sha"]}

    intent_id = api.xcom(PIPELINE, run_id, "render")["intentId"]
    status, _, body = api.send("GET", f"/api/intent/{intent_id}")
    assert status == 200 and body["phase"] == "Failed"
    assert body["sites"]["edge1"]["commit"] == delivered and body["sites"]["edge2"]["state"] == "failed"
    assert body["sites"]["edge2"]["failure"]["reason"].startswith("delivery_failed")
    assert body["sites"]["edge1"]["rollback"]["commit"] == reverts["edge1"]["sha"]
    return {"down": restarted - killed, "recovered": recovered - restarted}


def test_api_server_and_scheduler_killed_with_runs_in_flight_lose_no_intent(faulty):
    figures = api_server_and_scheduler_killed(*faulty)
    print(
        f"\napi-server down 10 s, healthy {figures['api_back']:.1f} s after the kill; scheduler down 5 s; "
        f"all runs Succeeded {figures['finished']:.1f} s after the scheduler came back"
    )


def api_server_and_scheduler_killed(stack, api, offset: int = 0) -> dict[str, float]:
    """Three intents accepted; the api-server is killed at once and started again 10 s later; the
    scheduler is killed during Verifying and started again. Every accepted intent still reaches
    Succeeded, and each site got exactly one delivery commit of each (nothing delivered twice)."""
    texts = [f"URLLC slice with {ms + offset} ms latency at all sites" for ms in (11, 12, 13)]
    runs = [
        api.trigger(PIPELINE, {"intent": text, "slo_profile": SLO_PROFILE, "rollout_strategy": ALL_AT_ONCE})
        for text in texts
    ]
    started = time.time()
    stack.kill("api-server")
    time.sleep(10)
    stack.restart("api-server")
    wait_until(lambda: healthy(f"{stack.airflow_url}/api/v2/monitor/health"), 60, "the api-server", 0.5)
    api_back = time.time()

    wait_until(
        lambda: any(
            state in ("running", "deferred")  # the window runs deferred in the triggerer
            for run in runs
            for task, state in states(api, run).items()
            if task.startswith(wave_task(1, VERIFY_SLOS))
        ),
        240,
        "Verifying",
        0.5,
    )
    stack.kill("scheduler", group=False)  # the scheduler crashes; the task processes it started run on
    time.sleep(5)
    stack.restart("scheduler")
    scheduler_back = time.time()

    ended = {run: api.follow(PIPELINE, run, timeout=300) for run in runs}
    finished = time.time()
    assert {run: r["state"] for run, r in ended.items()} == dict.fromkeys(runs, "success")
    for run in runs:
        intent_id = api.xcom(PIPELINE, run, "render")["intentId"]
        for site in stack.sites:
            log = stack.delivery_commits(site, intent_id)
            assert len(log) == 1, (intent_id, site, log)
    return {"api_back": api_back - started, "finished": finished - scheduler_back}


def test_triggerer_killed_during_a_deferred_wait_the_run_goes_on(faulty):
    figures = triggerer_killed_during_a_wait(*faulty)
    print(f"\ntriggerer killed during a deferred wait; the wait completed {figures['resumed']:.1f} s later")


def triggerer_killed_during_a_wait(stack, api, offset: int = 0) -> dict[str, float]:
    """The sync wait is deferred (edge2 holds its sync back); the triggerer is killed, edge2 syncs,
    and the triggerer starts again: the wait completes through the new triggerer, the run Succeeds."""
    stack.control("edge2", "POST", "/control/sync", {"paused": True})
    text = f"URLLC slice with {14 + offset} ms latency at all sites"  # a new intent: a commit to wait for
    try:
        run_id = api.trigger(
            PIPELINE, {"intent": text, "slo_profile": SLO_PROFILE, "rollout_strategy": ALL_AT_ONCE}
        )
        wait_until(
            lambda: states(api, run_id).get(site_task(WAIT_FOR_SYNC, "edge2")) == "deferred",
            120,
            "the deferred wait",
            0.3,
        )
        stack.kill("triggerer")
        killed = time.time()
    finally:
        stack.control("edge2", "POST", "/control/sync", {"paused": False})
    time.sleep(3)
    stack.restart("triggerer")
    wait_until(
        lambda: states(api, run_id).get(site_task(WAIT_FOR_SYNC, "edge2")) == "success", 120, "the wait", 0.3
    )
    resumed = time.time()
    assert api.follow(PIPELINE, run_id, timeout=180)["state"] == "success"
    return {"resumed": resumed - killed}


def test_triggerer_killed_during_the_slo_window_the_window_is_judged_whole(faulty):
    """The SLO window runs deferred in the triggerer. Killed mid-window and started again 3 s later,
    the new triggerer opens the same window from the same start: the instants it missed are read
    at their own time from Prometheus, so the verdict has every instant of the window, none lost
    to the outage, and no worker slot was held meanwhile."""
    stack, api = faulty
    text = "URLLC slice with 19 ms latency at edge1"
    run_id = api.trigger(
        PIPELINE, {"intent": text, "slo_profile": SLO_PROFILE, "rollout_strategy": ALL_AT_ONCE}
    )
    verify = site_task(VERIFY_SLOS, "edge1")
    wait_until(lambda: states(api, run_id).get(verify) == "deferred", 180, "the deferred SLO window", 0.3)
    time.sleep(WINDOW / 3)  # the first triggerer evaluates a few instants
    stack.kill("triggerer")
    time.sleep(3)
    stack.restart("triggerer")
    assert api.follow(PIPELINE, run_id, timeout=240)["state"] == "success"
    verdict = api.xcom(PIPELINE, run_id, wave_task(1, VERIFY_SLOS), key="verdict", map_index=0)
    instants = sorted({evaluation["time"] for evaluation in verdict["evaluations"]})
    assert verdict["result"] == "pass" and instants[0] == verdict["started"]
    assert instants[-1] == pytest.approx(verdict["started"] + WINDOW, abs=0.5)  # the window, whole
    assert max(b - a for a, b in zip(instants, instants[1:], strict=False)) <= INTERVAL + 1e-6


def test_a_site_lost_during_the_rollback_is_named_and_not_counted_restored(faulty):
    figures = site_lost_during_rollback(*faulty)
    print(f"\nedge2 lost during the rollback; the run ended {figures['ended']:.1f} s after the loss")


def site_lost_during_rollback(stack, api, offset: int = 0) -> dict[str, float]:
    """edge1 breaks the SLO; edge2 dies before the revert reaches it. The revert is pushed to both,
    edge1 confirms the restore, edge2 never does: the evidence says 'unconfirmed', lists only edge1 as
    restored, keeps edge2's own message, and the run is not counted as rolled back."""
    text = f"URLLC slice with {15 + offset} ms latency at all sites"
    run_id = api.trigger(
        PIPELINE, {"intent": text, "slo_profile": SLO_PROFILE, "rollout_strategy": ALL_AT_ONCE}
    )
    wait_until(
        lambda: all(states(api, run_id).get(site_task(WAIT_FOR_O2IMS, s)) == "success" for s in stack.sites),
        120,
        "Reconciling",
        0.3,
    )
    namespace = f"intent-{api.xcom(PIPELINE, run_id, 'render')['intentId']}"
    stack.control("edge1", "PUT", f"/control/faults/{namespace}", {"latencyMs": 250})
    stack.kill("edge2")
    lost = time.time()
    try:
        run = api.follow(PIPELINE, run_id, timeout=240)
        ended = time.time()
    finally:
        stack.restart("edge2")
        wait_until(lambda: listening(stack.site_url("edge2")), 30, "edge2", 0.2)
        stack.control("edge1", "DELETE", f"/control/faults/{namespace}")
    assert run["state"] == "failed"
    summary = api.xcom(PIPELINE, run_id, ROLLBACK_EVIDENCE)
    evidence = json.loads(Path(summary["path"]).read_text())
    assert summary["result"] == evidence["result"] == "unconfirmed"
    assert set(evidence["restored_version"]) == {"edge1", "edge3"}  # every site but the lost one
    edge2 = evidence["sites"]["edge2"]["restore"]
    assert edge2["state"] == "pending" and "cannot read the site" in edge2["message"]
    assert any("edge2" in error and "cannot read the site" in error for error in evidence["errors"])
    status, _, metrics = api.send(
        "GET", "/edge-intent/metrics", content_type=None, token=stack.metrics_token()
    )
    assert status == 200 and 'intent_processed_total{result="rollback_unconfirmed"}' in metrics
    return {"ended": ended - lost}
