"""Benchmark: many intents at once, against one intent alone.

    python bench/load.py [--counts 20 100] [--executor local|celery] [--update]

Starts the local stack (``make demo``'s, or its CeleryExecutor variant), posts one two-site intent
through ``POST /api/intent`` and waits for its run (the baseline), then for each count N posts N
distinct two-site intents at once (20 requests in flight at a time) and waits for every run. Each
run must succeed with its rollout ``Succeeded``, and every delivery commit a run reports must be on
its site repository's ``main`` (an ancestor of HEAD, read from the Git server's own repositories): a
commit that is not there was lost by a concurrent push. Wall time is from the first request to the
last run's end; its ratio to the baseline is the figure. For each batch it also reads the CPU time
every process of the stack spent (the scheduler's own loop, its task supervisors and task processes
apart), per intent: on a machine whose cores are busy, that is what the wall time is made of.
Floors: N = 20 within 1.5x one intent, N = 100 within 3x, no failed run, no lost commit.

The demo SLO profile (30 s windows) and the default rollout strategy (canary, then the rest), so
one intent takes two windows. The intent API's rate limit is lifted for the benchmark's account;
the pipeline DAG's ``max_active_runs`` and Airflow's ``parallelism`` are the stack's own.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import urllib.error
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import markdown_table, update_section  # noqa: E402

from include.compiler.config import load_settings  # noqa: E402
from include.lifecycle import ROLLOUT, Dag  # noqa: E402
from include.localstack import stack as localstack  # noqa: E402
from include.localstack.airflow_api import AirflowAPI  # noqa: E402

DAG = Dag.PIPELINE.value
SITES = ("edge1", "edge2")
FLOORS = {20: 1.5, 100: 3.0}
SETTINGS = {
    "EDGE_INTENT_API_SLO_PROFILE": "demo",
    "EDGE_INTENT_API_RATE": "1000",
    "EDGE_INTENT_API_BURST": "1000",
}


def text(index: int) -> str:
    """A distinct two-site intent (its latency target tells it apart: 10 ms and up, met by the sites)."""
    return f"URLLC slice with {10 + index} ms latency at edge1 and edge2"


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def post(api: AirflowAPI, body: str) -> dict | None:
    """The intent API's answer; None when it did not accept the intent: no answer within the
    client's 30 s (a run may or may not have been created), or an answer other than 202."""
    try:
        status, _, answer = api.send("POST", "/api/intent", json.dumps({"intent": body}).encode())
    except (TimeoutError, urllib.error.URLError) as exc:
        print(f"  POST /api/intent for {body!r} got no answer: {exc}")
        return None
    if status != 202:
        print(f"  POST /api/intent for {body!r} answered {status}: {answer}")
        return None
    return answer


def on_main(stack, site: str, sha: str) -> bool:
    """Whether ``sha`` is in the history of the site repository's ``main`` on the Git server."""
    bare = stack.root / "git" / f"{load_settings().catalogue.get(site).repo}.git"
    done = subprocess.run(
        ["git", "--git-dir", str(bare), "merge-base", "--is-ancestor", sha, "main"],
        capture_output=True,
        check=False,
    )
    return done.returncode == 0


def _cpu(process: psutil.Process, children: bool = True) -> float:
    """CPU seconds of ``process`` and its reaped children (and, with ``children``, of the live ones)."""
    try:
        times = process.cpu_times()
        total = times.user + times.system + times.children_user + times.children_system
        if children:
            for child in process.children(recursive=True):
                times = child.cpu_times()
                total += times.user + times.system + times.children_user + times.children_system
        return total
    except psutil.Error:
        return 0.0


def cpu_by_component(stack) -> dict[str, float]:
    """CPU seconds so far of each service of the stack, the scheduler's split into its own loop,
    its executor's workers (the task supervisors) and the task processes they forked."""
    spent: dict[str, float] = {}
    for name, service in stack.services.items():
        try:
            process = psutil.Process(service.process.pid)
        except psutil.Error:
            continue
        if name != "scheduler":
            spent[name] = _cpu(process)
            continue
        times = process.cpu_times()
        spent["scheduler: its loop"] = times.user + times.system
        spent["scheduler: task supervisors"] = spent["scheduler: task processes"] = 0.0
        for worker in process.children():
            try:
                times = worker.cpu_times()
            except psutil.Error:
                continue
            spent["scheduler: task supervisors"] += times.user + times.system
            spent["scheduler: task processes"] += (
                times.children_user
                + times.children_system
                + sum(_cpu(task, children=False) for task in worker.children(recursive=True))
            )
    return spent


def batch(stack, api: AirflowAPI, first: int, count: int) -> dict:
    """Post ``count`` intents at once; wait for every run; check outcomes and commits; the CPU each
    component spent per intent meanwhile."""
    before = cpu_by_component(stack)
    begin = time.time()
    with ThreadPoolExecutor(max_workers=min(count, 20)) as pool:  # 20 requests in flight at a time
        answers = list(pool.map(lambda i: post(api, text(i)), range(first, first + count)))
    posted = time.time() - begin
    refused = sum(answer is None for answer in answers)
    failed, lost, ends, phases = [], [], [], {}
    for answer in filter(None, answers):
        run = api.follow(DAG, answer["runId"], timeout=3600, interval=2)
        ends.append(_epoch(run["end_date"]))
        record = api.xcom(DAG, answer["runId"], ROLLOUT) if run["state"] == "success" else {}
        phases[record.get("state", run["state"])] = phases.get(record.get("state", run["state"]), 0) + 1
        if run["state"] != "success" or record.get("state") != "Succeeded":
            red = [
                f"{ti['task_id']}[{ti.get('rendered_map_index')}] try {ti['try_number']}"
                for ti in api.task_instances(DAG, answer["runId"])
                if ti["state"] in ("failed", "upstream_failed")
            ]
            print(f"  {answer['intentId']}: run {run['state']}, rollout {record.get('state')}; failed: {red}")
            failed.append(answer["intentId"])
            continue
        for wave in record["waves"]:
            for site, delivered in wave["sites"].items():
                if not on_main(stack, site, delivered["commit"]):
                    lost.append(f"{answer['intentId']}@{site}")
    after = cpu_by_component(stack)
    spent = {name: (after[name] - before.get(name, 0.0)) / count for name in after}
    return {
        "cpu": spent,
        # no schedule can beat the CPU the batch needs spread over every core
        "cpu_bound": count * sum(spent.values()) / (psutil.cpu_count() or 1),
        "count": count,
        "wall": max(ends) - begin,
        "posted": posted,
        "failed": failed,
        "lost": lost,
        "refused": refused,
        "phases": phases,
    }


def print_cpu(result: dict) -> None:
    spent = result["cpu"]
    print(
        f"  CPU per intent: {sum(spent.values()):.1f} s ("
        + ", ".join(f"{name} {seconds:.1f}" for name, seconds in sorted(spent.items(), key=lambda i: -i[1]))
        + ")"
    )


def cpu_table(one: dict, results: list[dict]) -> str:
    """CPU seconds per intent of each component, alone and at each count."""
    batches = [("alone", one), *((f"{r['count']} at once", r) for r in results)]
    names = sorted(one["cpu"], key=lambda name: -one["cpu"][name])
    rows = [(name, *(f"{b['cpu'].get(name, 0.0):.1f}" for _, b in batches)) for name in names]
    rows.append(("**all**", *(f"{sum(b['cpu'].values()):.1f}" for _, b in batches)))
    return markdown_table(("CPU seconds per intent", *(label for label, _ in batches)), rows)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--counts", type=int, nargs="+", default=[20, 100])
    parser.add_argument("--executor", choices=["local", "celery"], default="local")
    parser.add_argument("--update", action="store_true", help="write the figures into BENCHMARKS.md")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        stack = localstack.start(Path(tmp), airflow=True, airflow_env=SETTINGS, executor=args.executor)
        try:
            api = AirflowAPI(stack.airflow_url, *localstack.OPERATOR)
            AirflowAPI(stack.airflow_url, *localstack.ADMIN).wait_for_dag(DAG)
            post(api, "URLLC slice with 9 ms latency at edge3")  # warm-up: imports, caches, the DAG
            time.sleep(1)
            one = batch(stack, api, 0, 1)
            print(f"one intent alone: {one['wall']:.1f} s ({one['phases']})")
            print_cpu(one)
            results, first = [], 1
            for count in args.counts:
                result = batch(stack, api, first, count)
                first += count
                result["ratio"] = result["wall"] / one["wall"]
                floor = FLOORS.get(count)
                result["met"] = (
                    not result["failed"]
                    and not result["lost"]
                    and not result["refused"]
                    and (floor is None or result["ratio"] <= floor)
                )
                results.append(result)
                print(
                    f"{count} at once: {result['wall']:.1f} s = {result['ratio']:.2f}x one intent "
                    f"(floor {floor or '-'}x); posted in {result['posted']:.1f} s; "
                    f"outcomes {result['phases']}; "
                    f"failed {len(result['failed'])}, lost commits {len(result['lost'])}, "
                    f"requests not accepted {result['refused']}: "
                    f"{'met' if result['met'] else 'NOT met'}"
                )
                print_cpu(result)
                print(
                    f"  the CPU alone needs {result['cpu_bound']:.1f} s on {psutil.cpu_count()} cores "
                    f"= {result['cpu_bound'] / one['wall']:.2f}x one intent"
                )
        finally:
            stack.stop()
    if args.update:
        rows = [
            (
                f"{r['count']} at once",
                f"{r['wall']:.1f}",
                f"{r['ratio']:.2f}x",
                f"{FLOORS.get(r['count'], '-')}x",
                f"{len(r['failed'])}",
                f"{len(r['lost'])}",
                f"{r['refused']}",
                "met" if r["met"] else "NOT met",
            )
            for r in results
        ]
        update_section(
            f"load-{args.executor}",
            f"Command: `python bench/load.py --counts {' '.join(map(str, args.counts))} "
            f"--executor {args.executor} --update`\n\n"
            f"One two-site intent alone: {one['wall']:.1f} s (demo profile, canary then edge2).\n\n"
            + markdown_table(
                (
                    "intents posted at once",
                    "wall (s)",
                    "ratio to one",
                    "floor",
                    "failed runs",
                    "lost commits",
                    "requests not accepted",
                    "",
                ),
                rows,
            )
            + "\n\nWhere the CPU goes (every process of the stack; the machine has "
            + f"{psutil.cpu_count()} cores):\n\n"
            + cpu_table(one, results)
            + "\n\n"
            + " ".join(
                f"At {r['count']} at once the CPU alone needs {r['cpu_bound']:.1f} s of the "
                f"{psutil.cpu_count()} cores, {r['cpu_bound'] / one['wall']:.2f}x one intent's wall time."
                for r in results
            ),
        )
    return 0 if all(r["met"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
