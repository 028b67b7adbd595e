"""The local stack scaled out: Airflow's CeleryExecutor on a real PostgreSQL and a real Redis, with
two Celery workers. An intent goes through end to end while one worker is killed (SIGKILL, its task
processes too, as when its machine dies) in the middle of a delivery: the scheduler finds the task
without a heartbeat, the other worker runs it again, the run succeeds, and every site holds exactly
one delivery commit of the intent."""

from __future__ import annotations

import os
import time
import urllib.parse
from pathlib import Path

import psutil
import pytest

from include.compiler.config import load_settings
from include.compiler.nl import parse_text
from include.lifecycle import DELIVER, ROLLOUT, Dag, wave_task
from include.localstack import celery
from include.localstack import stack as localstack
from include.localstack.airflow_api import AirflowAPI
from tests.profiles import PROFILE as SLO_PROFILE
from tests.stackfixtures import RUNNING_ENV
from tests.waiting import wait_until

PIPELINE = Dag.PIPELINE.value
SITES = ("edge1", "edge2")
TEXT = "URLLC slice with 7 ms latency at edge1 and edge2"
ALL_AT_ONCE = {"type": "All"}
"""One wave of both sites: one SLO window, and both deliveries in flight at once."""


@pytest.fixture(scope="module")
def celery_stack(tmp_path_factory):
    """A stack of its own (Prometheus included) on the CeleryExecutor, with the shared running
    stack's settings (the suite's SLO profile, 30 s site waits)."""
    started = time.perf_counter()
    stack = localstack.start(
        tmp_path_factory.mktemp("celery"), airflow=True, executor="celery", airflow_env=RUNNING_ENV
    )
    try:
        api = AirflowAPI(stack.airflow_url, *localstack.ADMIN)
        api.wait_for_dag(PIPELINE)
        print(f"\nCelery stack up in {time.perf_counter() - started:.1f} s")
        yield stack, api
    finally:
        stack.stop()


def hold_pushes(stack, sites, held: Path, release: Path) -> list[Path]:
    """A pre-receive hook in each site's repository on the Git server: it marks ``held/<site>`` and
    holds the push until ``release`` exists (at most 90 s)."""
    held.mkdir()
    hooks = []
    for site in sites:
        hook = (
            stack.root / "git" / f"{load_settings().catalogue.get(site).repo}.git" / "hooks" / "pre-receive"
        )
        hook.write_text(
            "#!/bin/sh\n"
            f"touch '{held / site}'\n"
            "i=0\n"
            f"while [ ! -e '{release}' ] && [ $i -lt 900 ]; do sleep 0.1; i=$((i+1)); done\n"
        )
        hook.chmod(0o755)
        hooks.append(hook)
    return hooks


def mapped(api, run_id: str, task_id: str) -> dict[int, dict]:
    """``{map index: task instance}`` of a wave's site task (its site is ``rendered_map_index``
    once it has run)."""
    return {
        ti["map_index"]: ti
        for ti in api.task_instances(PIPELINE, run_id)
        if ti["task_id"] == task_id and ti.get("map_index", -1) >= 0
    }


def tries(api, run_id: str, ti: dict) -> list[dict]:
    path = f"/api/v2/dags/{PIPELINE}/dagRuns/{urllib.parse.quote(run_id)}/taskInstances/{ti['task_id']}"
    status, _, body = api.send("GET", f"{path}/{ti['map_index']}/tries")
    assert status == 200, body
    return sorted(body["task_instances"], key=lambda t: t["try_number"])


def alive(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def group_of(process: psutil.Process) -> int | None:
    try:
        return os.getpgid(process.pid)
    except ProcessLookupError:
        return None


def worker_of(hostname: str | None) -> str:
    """The stack's worker that a task instance's hostname (its Celery node name) names."""
    assert hostname in {celery.node_name(w) for w in celery.WORKERS}, hostname
    return hostname.split("@")[0]


def test_a_worker_killed_mid_delivery_the_other_finishes_the_run(celery_stack, tmp_path):
    stack, api = celery_stack
    assert stack.describe()["executor"] == "CeleryExecutor"
    assert celery.ping(stack.celery_backends.broker_url) == set(celery.WORKERS)
    intent_id = parse_text(TEXT, load_settings()).intent_id
    deliver = wave_task(1, DELIVER)
    held, release = tmp_path / "held", tmp_path / "release"
    hooks = hold_pushes(stack, SITES, held, release)
    try:
        submitted = time.time()
        run_id = api.trigger(
            PIPELINE, {"intent": TEXT, "slo_profile": SLO_PROFILE, "rollout_strategy": ALL_AT_ONCE}
        )
        wait_until(lambda: all((held / s).exists() for s in SITES), 150, "both sites' pushes")
        in_push = time.time()
        # both deliveries are inside their pushes: their task instances run on the workers
        running = mapped(api, run_id, deliver)
        assert [ti["state"] for ti in running.values()] == ["running"] * len(SITES)
        victim = worker_of(running[0]["hostname"])
        survivor = next(w for w in celery.WORKERS if w != victim)
        worker = stack.services[victim].process.pid
        doomed = psutil.Process(worker).children(recursive=True)
        # its pool, and the task processes Airflow's supervisor put in process groups of their own
        assert any(group_of(p) not in (worker, None) for p in doomed)
        stack.kill(victim, tree=True)
        killed = time.time()
        wait_until(lambda: not any(alive(p) for p in doomed), 5, f"the end of {victim}'s processes", 0.05)
        assert stack.services[survivor].process.poll() is None
        assert celery.ping(stack.celery_backends.broker_url) == {survivor}
    finally:
        release.touch()
        for hook in hooks:
            hook.unlink()

    retried: dict[int, float] = {}  # map index: when its retry was seen running

    def record(ti: dict) -> None:
        if ti["task_id"] == deliver and ti["try_number"] > 1 and ti["state"] in ("running", "success"):
            retried.setdefault(ti["map_index"], time.time())

    run = api.follow(PIPELINE, run_id, timeout=240, interval=0.5, on_change=record)
    ended = time.time()
    assert run["state"] == "success"
    assert api.xcom(PIPELINE, run_id, ROLLOUT)["state"] == "Succeeded"

    # the delivery was killed with its worker, found without a heartbeat and run again on the
    # other worker: 10 s without a heartbeat, found within 2 s, retried 5 s later, plus the
    # scheduling (~30 s in all on a busy machine)
    done = mapped(api, run_id, deliver)
    history = tries(api, run_id, done[0])
    assert worker_of(history[0]["hostname"]) == victim and history[0]["state"] == "failed"
    assert worker_of(history[-1]["hostname"]) == survivor and history[-1]["state"] == "success"
    assert retried[0] - killed < 45, retried[0] - killed
    # every task that ran, ran on one of the Celery workers: the task instances name them
    ran = [ti for ti in api.task_instances(PIPELINE, run_id) if ti["hostname"]]
    assert len(ran) > 10 and all(worker_of(ti["hostname"]) for ti in ran)
    # exactly one delivery commit of the intent at each site, whatever the killed push left behind
    for site in SITES:
        assert len(stack.delivery_commits(site, intent_id)) == 1, site
    # the killed push had reached the Git server: it landed there, or the retry pushed it again
    created = any(d["created"] for d in api.xcom(PIPELINE, run_id, deliver, map_index=0).values())
    print(
        f"\nboth pushes held {in_push - submitted:.1f} s after the trigger; {victim} killed; "
        f"{done[0]['rendered_map_index']}'s delivery retried on {survivor} {retried[0] - killed:.1f} s "
        f"later ({'a new commit' if created else 'its commit was already on main'}); "
        f"run succeeded {ended - killed:.1f} s after the kill"
    )
