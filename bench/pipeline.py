"""Benchmark: the intent pipeline on the local stack.

    python bench/pipeline.py [--runs N] [--syncs N] [--update]

Measures, on the running stack (Airflow with LocalExecutor on SQLite, the scheduler tuned for low
latency with SCHEDULER_IDLE_SLEEP_TIME=0.2, simulated sites pulling every second):

* delivery time per site: commit and push of a rendered package (the deliver task's own figure);
* commit-to-synced lag: from a push returning to the site's RootSync reporting that commit;
* Airflow's orchestration overhead per run: run wall time minus the time during which some task
  was running (sensor tasks included, so their deliberate waits are not counted as overhead; the
  sites' tasks of one wave run side by side, so their times are not added up). Runs put every site
  in one wave, use the demo SLO profile (a 30 s Verifying window), and end Succeeded.

The first run after start is reported apart: the executor starts its workers then. Floor to reach:
overhead under 6 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import markdown_table, update_section  # noqa: E402

from include import lifecycle  # noqa: E402
from include.edgesim.api import ROOTSYNC_PATH  # noqa: E402
from include.gitops.auth import GitAuth  # noqa: E402
from include.gitops.repo import SiteRepo  # noqa: E402
from include.lifecycle import Dag  # noqa: E402
from include.localstack import stack as localstack  # noqa: E402
from include.localstack.airflow_api import AirflowAPI  # noqa: E402

DAG = Dag.PIPELINE
FLOOR_S = 6.0


def _time(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def _covered(spans: list[tuple[float, float]]) -> float:
    """Seconds during which at least one task ran (a wave's site tasks run side by side)."""
    total, end = 0.0, float("-inf")
    for start, stop in sorted(spans):
        if stop > end:
            total += stop - max(start, end)
            end = stop
    return total


def run_once(api: AirflowAPI, text: str) -> dict:
    # every site in one wave: the pipeline's own overhead, apart from a progressive rollout's waves
    # (bench/rollout.py measures those)
    conf = {"intent": text, "slo_profile": "demo", "rollout_strategy": {"type": "All"}}
    run_id = api.trigger(DAG, conf)
    run = api.follow(DAG, run_id, timeout=600, interval=0.5)
    if run["state"] != "success":
        raise SystemExit(f"run {run_id} ended {run['state']}")
    tis = [
        ti
        for ti in api.task_instances(DAG, run_id)
        if ti["state"] in ("success", "failed") and ti["start_date"] and ti["end_date"]
    ]
    inside = _covered([(_time(ti["start_date"]), _time(ti["end_date"])) for ti in tis])
    wall = _time(run["end_date"]) - _time(run["start_date"])
    deliver = lifecycle.wave_task(1, lifecycle.DELIVER)
    delivered = {}
    for ti in tis:
        if ti["task_id"] == deliver:
            delivered.update(api.xcom(DAG, run_id, deliver, map_index=ti["map_index"]))
    return {
        "wall": wall,
        "inside": inside,
        "overhead": wall - inside,
        "tasks": len(tis),
        "deliver": [site["seconds"] for site in delivered.values()],
    }


def commit_to_synced(stack, site: str, count: int) -> list[float]:
    git = stack.git_users["pipeline"]
    repo = SiteRepo(
        f"{stack.git_url}/{site}-config.git",
        GitAuth("pipeline", git["token"]),
        Path(tempfile.mkdtemp(prefix="bench-cache-")),
    )
    lags = []
    for index in range(count):
        files = {
            "namespace.yaml": f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: intent-lag-{index}\n"
        }
        sha = repo.deliver(f"lag-{index}", files, message=f"lag probe {index}").sha
        pushed = time.perf_counter()
        request = urllib.request.Request(
            f"{stack.site_url(site)}{ROOTSYNC_PATH}",
            headers={"Authorization": f"Bearer {stack.site_secrets[site]['apiToken']}"},
        )
        while True:
            with urllib.request.urlopen(request, timeout=5) as reply:
                if json.load(reply)["status"]["lastSyncedCommit"] == sha:
                    break
            if time.perf_counter() - pushed > 60:
                raise SystemExit(f"{site} did not sync {sha} within 60 s")
            time.sleep(0.02)
        lags.append(time.perf_counter() - pushed)
    return lags


def delivery_with_many_intents(stack, site: str, existing: int, count: int) -> list[float]:
    """Delivery times into a repository that already holds ``existing`` intents."""
    git = stack.git_users["pipeline"]
    auth = GitAuth("pipeline", git["token"])
    repo = SiteRepo(f"{stack.git_url}/{site}-config.git", auth, Path(tempfile.mkdtemp(prefix="bench-bulk-")))
    repo.head()  # clone, then add the existing intents in one commit
    for index in range(existing):
        folder = repo.path / "intents" / f"bulk-{index:04d}"
        folder.mkdir(parents=True)
        (folder / "namespace.yaml").write_text(
            f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: intent-bulk-{index:04d}\n"
        )
    env = {
        **os.environ,
        **auth.env(),
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "bench@localhost",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "bench@localhost",
    }
    for args in (
        ["add", "-A"],
        ["commit", "-qm", f"{existing} intents"],
        ["push", "-q", "origin", "HEAD:main"],
    ):
        subprocess.run(["git", *args], cwd=repo.path, env=env, check=True, capture_output=True)
    times = []
    for index in range(count):
        files = {
            "namespace.yaml": f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: intent-new-{index}\n"
        }
        times.append(repo.deliver(f"new-{index}", files, message=f"delivery {index}").seconds)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--syncs", type=int, default=10)
    parser.add_argument("--update", action="store_true", help="write the results into BENCHMARKS.md")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-stack-") as root:
        stack = localstack.start(Path(root), airflow=True, period=1.0)
        try:
            api = AirflowAPI(stack.airflow_url, *localstack.ADMIN)
            api.wait_for_dag(DAG)
            first = run_once(api, "URLLC slice with 5 ms latency for 100 devices at all sites")
            runs = [
                run_once(api, f"URLLC slice with 5 ms latency for {200 + i} devices at all sites")
                for i in range(args.runs)
            ]
            lags = commit_to_synced(stack, "edge1", args.syncs)
            crowded = delivery_with_many_intents(stack, "edge2", 1000, args.syncs)
        finally:
            stack.stop()

    median = statistics.median
    overhead = median(r["overhead"] for r in runs)
    deliveries = [seconds for r in runs for seconds in r["deliver"]]
    rows = [
        (
            "delivery per site (commit + push)",
            f"{median(deliveries) * 1000:.0f} ms",
            f"{len(deliveries)} deliveries",
        ),
        (
            "delivery into a repo holding 1,000 intents",
            f"{median(crowded) * 1000:.0f} ms",
            f"{len(crowded)} deliveries, {median(crowded) / median(deliveries):.1f}x the above",
        ),
        (
            "commit-to-synced lag (site pulls every 1 s)",
            f"{median(lags) * 1000:.0f} ms",
            f"{len(lags)} pushes",
        ),
        (
            "run wall time, three sites in one wave",
            f"{median(r['wall'] for r in runs):.1f} s",
            f"{len(runs)} runs",
        ),
        (
            f"time some of the {runs[0]['tasks']} tasks that ran was running (SLO window 30 s)",
            f"{median(r['inside'] for r in runs):.1f} s",
            "",
        ),
        ("**orchestration overhead**", f"{overhead:.1f} s", f"max {max(r['overhead'] for r in runs):.1f} s"),
        ("first run after start: overhead", f"{first['overhead']:.1f} s", "executor starting its workers"),
    ]
    table = markdown_table(("measure", "median", "notes"), rows)
    verdict = "meets" if overhead < FLOOR_S else "MISSES"
    table += f"\n\nOrchestration overhead {overhead:.1f} s {verdict} the {FLOOR_S:.0f} s floor."
    print(table)
    if args.update:
        update_section("pipeline", "Command: `make bench` (`python bench/pipeline.py --update`)\n\n" + table)
    return 0 if overhead < FLOOR_S else 1


if __name__ == "__main__":
    sys.exit(main())
