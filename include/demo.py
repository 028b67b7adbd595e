"""``make demo``: the intent pipeline on the local stack, end to end.

1. Compiles and renders the README's sample intents (``.demo/compile/<intent-id>/<site>/``).
2. Starts the local stack: a Git server, one simulated edge site per catalogue site, and Airflow's
   api-server, scheduler, dag-processor and triggerer on SQLite, all on free loopback ports.
3. Submits a sample intent through Airflow's REST API and prints each phase as it happens, with
   the commit delivered to each site and each site's RootSync state.
4. Writes ``.demo/summary.json``, prints the Airflow UI address and login, and stops everything it
   started (``--keep``, i.e. ``make demo KEEP=1``, leaves the stack up and writes
   ``.demo/stack.json``; ``make down`` stops it).

Every figure printed is measured or read back from what was made.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.request
from pathlib import Path

import yaml

from include.compiler import api
from include.compiler.config import PROJECT_ROOT, load_settings
from include.compiler.convert import target_value
from include.compiler.errors import CompilerError
from include.compiler.targets import CANONICAL_UNIT, KINDS
from include.edgesim.api import ROOTSYNC_PATH

DAG_ID = "intent_pipeline"

SAMPLES = (
    "Deploy 5G eMBB service with 1Gbps download and 500Mbps upload at edge1 for video streaming",
    "Setup ultra-low latency URLLC slice with 5ms latency for autonomous vehicles at edge2",
    "Configure IoT monitoring network for smart city sensors across both edge sites",
    "Deploy a 5G network slice with ultra-low latency for gaming services at edge site 1",
)
OUT = PROJECT_ROOT / ".demo" / "compile"


def _describe(directory: Path) -> str:
    documents = {}
    for path in sorted(directory.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if document:
                documents[document["kind"]] = document
    deployment = documents["Deployment"]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    annotations = deployment["metadata"]["annotations"]
    pr = documents["ProvisioningRequest"]
    return (
        f"namespace {deployment['metadata']['namespace']}, 5QI {annotations['edge-intent.io/5qi']}, "
        f"replicas {deployment['spec']['replicas']} x {container['resources']['limits']['cpu']} CPU / "
        f"{container['resources']['limits']['memory']}, O2IMS template "
        f"{pr['spec']['templateName']}@{pr['spec']['templateVersion']}"
    )


def _target(target) -> str:
    unit = CANONICAL_UNIT[KINDS[target.targetName].dimension]
    value = target_value(target)
    number = f"{int(value):,}" if value.is_integer() else f"{value:,}"
    return f"{target.targetName} {target.targetCondition} {number} {unit}".rstrip()


def compile_samples() -> list[dict]:
    settings = load_settings()
    summary = []
    for text in SAMPLES:
        print(f"\n» {text}")
        started = time.perf_counter()
        try:
            tmf = api.parse(text, settings)
            intent = api.to_28312(tmf, settings)
            rendered = api.render_packages(api.packages(intent, settings), OUT / intent.id)
        except CompilerError as exc:
            raise SystemExit(f"  failed: {exc}") from None
        elapsed = time.perf_counter() - started
        expectation = intent.intentExpectations[0]
        targets = ", ".join(_target(t) for t in expectation.expectationTargets) or "none"
        defaults = intent.context("defaultsApplied") or []
        print(f"  TMF921 intent {tmf.id} ({tmf.name}), priority {intent.intentPriority}")
        print(
            f"  TS 28.312: ServiceType SST {intent.context('ServiceType')}, sites {', '.join(intent.sites)}; "
            f"targets: {targets}; defaults applied: {', '.join(defaults) or 'none'}"
        )
        for site, directory in rendered.items():
            files = sorted(p.name for p in directory.iterdir())
            where = directory.relative_to(PROJECT_ROOT)
            print(f"  {site}: {where} ({len(files)} files) - {_describe(directory)}")
        print(f"  compiled and rendered in {elapsed * 1000:.0f} ms")
        summary.append(
            {
                "text": text,
                "intentId": intent.id,
                "sites": {s: str(d) for s, d in rendered.items()},
                "elapsedMs": round(elapsed * 1000, 1),
            }
        )
    (OUT / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary


# -- the pipeline on the local stack ------------------------------------------------------------

DEMO = PROJECT_ROOT / ".demo"
STACK_FILE = DEMO / "stack.json"
PIPELINE_SAMPLE = "Deploy URLLC slice with 5ms latency and 99.999% reliability for 800 devices at all sites"


def _rootsync_line(stack, site: str) -> str:

    request = urllib.request.Request(
        f"{stack.site_url(site)}{ROOTSYNC_PATH}",
        headers={"Authorization": f"Bearer {stack.site_secrets[site]['apiToken']}"},
    )
    with urllib.request.urlopen(request, timeout=5) as reply:
        status = json.load(reply)["status"]
    errors = status["sync"]["errorSummary"]["totalCount"]
    return (
        f"source {status['source']['commit'][:12]}, sync {status['sync']['commit'][:12]}, "
        f"lastSynced {status['lastSyncedCommit'][:12]}, errors {errors}"
    )


def run_pipeline(keep: bool) -> int:
    from edge_intent.pipeline import PHASES
    from include.localstack import stack as localstack
    from include.localstack.airflow_api import AirflowAPI

    if STACK_FILE.exists():
        raise SystemExit(f"a demo stack is still up ({STACK_FILE}); run 'make down' first")
    print("\nStarting the local stack (Git server, simulated sites, Airflow on SQLite) ...")
    started = time.perf_counter()
    stack = localstack.start(DEMO / "stack", airflow=True)
    try:
        print(
            f"  up in {time.perf_counter() - started:.0f} s: Git {stack.git_url}; "
            + ", ".join(f"{site} {stack.site_url(site)} (simulated)" for site in stack.sites)
        )
        api = AirflowAPI(stack.airflow_url, *localstack.ADMIN)
        api.wait_for_dag(DAG_ID)
        print(f"\nSubmitting through Airflow's REST API: {PIPELINE_SAMPLE!r}")
        run_id = api.trigger(DAG_ID, {"intent": PIPELINE_SAMPLE, "slo_profile": "demo"})
        print(f"  DAG run {run_id}")
        submitted = time.perf_counter()
        details: dict[str, object] = {}

        def show(ti: dict) -> None:
            if ti["state"] is None:
                return
            phase = PHASES.get(ti["task_id"], ti["task_id"])
            line = (
                f"  {time.perf_counter() - submitted:6.1f} s  {phase:<12} {ti['task_id']:<15} {ti['state']}"
            )
            print(line)
            if ti["state"] != "success":
                return
            if ti["task_id"] == "deliver":
                delivered = api.xcom(DAG_ID, run_id, "deliver")
                details["delivered"] = delivered
                for site, result in sorted(delivered.items()):
                    print(f"{'':24}{site}: commit {result['sha'][:12]} pushed to {result['repo']}")
            elif ti["task_id"] == "wait_for_sync":
                details["synced"] = api.xcom(DAG_ID, run_id, "wait_for_sync")
                for site in stack.sites:
                    print(f"{'':24}{site}: RootSync {_rootsync_line(stack, site)}")
            elif ti["task_id"] == "wait_for_o2ims":
                details["provisioned"] = api.xcom(DAG_ID, run_id, "wait_for_o2ims")
                for site, result in sorted(details["provisioned"].items()):
                    print(f"{'':24}{site}: ProvisioningRequest {result['message']}")

        run = api.follow(DAG_ID, run_id, timeout=600, on_change=show)
        elapsed = time.perf_counter() - submitted
        print(f"\nRun {run['state']} in {elapsed:.1f} s.")
        summary = {
            "dagId": DAG_ID,
            "runId": run_id,
            "state": run["state"],
            "intent": PIPELINE_SAMPLE,
            "elapsedSeconds": round(elapsed, 2),
            **details,
            "tasks": {
                ti["task_id"]: {"state": ti["state"], "duration": ti.get("duration")}
                for ti in api.task_instances(DAG_ID, run_id)
            },
            "airflow": stack.airflow_url,
        }
        (DEMO / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        print(f"Summary: {(DEMO / 'summary.json').relative_to(PROJECT_ROOT)}")
        print(f"Airflow UI: {stack.airflow_url}  (login {localstack.ADMIN[0]} / {localstack.ADMIN[1]})")
        if keep:
            STACK_FILE.write_text(json.dumps(stack.describe(), indent=2) + "\n", encoding="utf-8")
            print(f"The stack stays up ({STACK_FILE.relative_to(PROJECT_ROOT)}); 'make down' stops it.")
            stack.services.clear()  # hand the processes over to 'make down'
        else:
            print("Stopping the stack ('make demo KEEP=1' leaves it up to explore the UI).")
        return 0 if run["state"] == "success" else 1
    finally:
        stack.stop()


def down() -> int:
    from include.localstack import stack as localstack

    if not STACK_FILE.exists():
        print("No demo stack is up.")
        return 0
    stopped = localstack.stop_pids(json.loads(STACK_FILE.read_text())["pids"])
    STACK_FILE.unlink()
    print(f"Stopped: {', '.join(stopped) or 'nothing was running'}.")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m include.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="leave the stack up and write .demo/stack.json")
    parser.add_argument("--down", action="store_true", help="stop a stack left up by --keep")
    args = parser.parse_args(argv)
    if args.down:
        return down()
    print("Compiling the README's sample intents:")
    compile_samples()
    print(f"\nSummary of the compilations: {(OUT / 'summary.json').relative_to(PROJECT_ROOT)}")
    return run_pipeline(args.keep)


if __name__ == "__main__":
    sys.exit(main())
