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
import shutil
import sys
import time
import urllib.request
from pathlib import Path

import yaml

from include import lifecycle
from include.compiler import api
from include.compiler.config import PROJECT_ROOT, load_settings
from include.compiler.convert import target_value
from include.compiler.errors import CompilerError
from include.compiler.targets import CANONICAL_UNIT, KINDS
from include.edgesim.api import ROOTSYNC_PATH
from include.lifecycle import Dag

DAG_ID = Dag.PIPELINE

SAMPLES = (
    "Deploy 5G eMBB service with 1Gbps download and 500Mbps upload at edge1 for video streaming",
    "Setup ultra-low latency URLLC slice with 5ms latency for autonomous vehicles at edge2",
    "Configure IoT monitoring network for smart city sensors across all edge sites",
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


BREAKING_SAMPLE = "eMBB slice with 50 ms latency and 300 Mbps downlink for video streaming at edge2"
INJECTED_LATENCY_MS = 200


def _follow(api, stack, text: str, phases: dict[str, str], break_after_sync: bool = False) -> dict:
    """Submit ``text``, print each phase as it happens, and return what the run produced."""
    print(f"\nSubmitting through Airflow's REST API: {text!r}")
    run_id = api.trigger(DAG_ID, {"intent": text, "slo_profile": "demo"})
    print(f"  DAG run {run_id}")
    submitted = time.perf_counter()
    details: dict = {"runId": run_id, "intent": text}

    def show(ti: dict) -> None:
        if ti["state"] is None:
            return
        phase = phases.get(ti["task_id"], ti["task_id"])
        print(f"  {time.perf_counter() - submitted:6.1f} s  {phase:<12} {ti['task_id']:<26} {ti['state']}")
        if ti["state"] != "success":
            return
        task = ti["task_id"]
        if task == lifecycle.DELIVER:
            details["delivered"] = api.xcom(DAG_ID, run_id, lifecycle.DELIVER)
            for site, result in sorted(details["delivered"].items()):
                print(f"{'':24}{site}: commit {result['sha'][:12]} pushed to {result['repo']}")
        elif task in (lifecycle.WAIT_FOR_SYNC, lifecycle.ROLLBACK_RESTORE):
            for site in sorted(api.xcom(DAG_ID, run_id, task)):
                print(f"{'':24}{site}: RootSync {_rootsync_line(stack, site)}")
        elif task == lifecycle.WAIT_FOR_O2IMS:
            for site, result in sorted(api.xcom(DAG_ID, run_id, task).items()):
                print(f"{'':24}{site}: ProvisioningRequest {result['message']}")
            if break_after_sync:
                namespace = f"intent-{api.xcom(DAG_ID, run_id, lifecycle.RENDER)['intentId']}"
                for site in details["delivered"]:
                    stack.control(
                        site, "PUT", f"/control/faults/{namespace}", {"latencyMs": INJECTED_LATENCY_MS}
                    )
                    print(
                        f"{'':24}{site}: fault injected: +{INJECTED_LATENCY_MS} ms per request of {namespace}"
                    )
        elif task == lifecycle.VERIFY_SLOS:
            verdict = api.xcom(DAG_ID, run_id, task)
            details["verdict"] = verdict["result"]
            for site, slos in sorted(verdict["slos"].items()):
                summary = ", ".join(
                    f"{name} {entry['status']}"
                    + (
                        f" ({entry['last']:.1f}/{entry['threshold']:g} {entry['unit']})"
                        if entry["last"] is not None
                        else ""
                    )
                    for name, entry in slos.items()
                )
                print(f"{'':24}{site}: {summary}")
            print(
                f"{'':24}verdict: {verdict['result']}"
                + (f" ({verdict['trigger']})" if verdict["trigger"] else "")
            )
        elif task == lifecycle.REPORT:
            details["report"] = api.xcom(DAG_ID, run_id, task)["path"]
            print(f"{'':24}intent report: {details['report']}")
        elif task == lifecycle.ROLLBACK_EVIDENCE:
            details["evidence"] = api.xcom(DAG_ID, run_id, task)["path"]

    run = api.follow(DAG_ID, run_id, timeout=900, on_change=show)
    details["state"] = run["state"]
    details["elapsedSeconds"] = round(time.perf_counter() - submitted, 2)
    outcome = (
        "Succeeded" if details.get("report") else "rolled back, run Failed" if details.get("evidence") else ""
    )
    print(f"  Run {run['state']} in {details['elapsedSeconds']:.1f} s{': ' + outcome if outcome else ''}.")
    return details


def run_pipeline(keep: bool) -> int:
    from include.localstack import stack as localstack
    from include.localstack.airflow_api import AirflowAPI

    if STACK_FILE.exists():
        raise SystemExit(f"a demo stack is still up ({STACK_FILE}); run 'make down' first")
    print("\nStarting the local stack (Git server, simulated sites, Prometheus, Airflow on SQLite) ...")
    started = time.perf_counter()
    # A fresh stack each time: an earlier demo's Airflow DB (its trigger rows), repositories and
    # site state would otherwise carry over into this one.
    shutil.rmtree(DEMO / "stack", ignore_errors=True)
    stack = localstack.start(DEMO / "stack", airflow=True)
    try:
        sites = ", ".join(f"{site} {stack.site_url(site)} (simulated)" for site in stack.sites)
        print(
            f"  up in {time.perf_counter() - started:.0f} s: Git {stack.git_url}; "
            f"Prometheus {stack.prometheus_url}; {sites}"
        )
        api = AirflowAPI(stack.airflow_url, *localstack.ADMIN)
        api.wait_for_dag(DAG_ID)
        healthy = _follow(api, stack, PIPELINE_SAMPLE, lifecycle.PIPELINE_PHASES)
        breaking = _follow(api, stack, BREAKING_SAMPLE, lifecycle.PIPELINE_PHASES, break_after_sync=True)
        if breaking.get("evidence"):
            evidence = json.loads(Path(breaking["evidence"]).read_text(encoding="utf-8"))
            shown = {
                key: evidence[key]
                for key in (
                    "timestamp",
                    "trigger",
                    "metrics",
                    "actions",
                    "result",
                    "restored_version",
                    "intentId",
                    "dagRunId",
                    "sha256",
                )
            }
            print(f"\nevidence.json ({breaking['evidence']}), seed fields:")
            print(json.dumps(shown, indent=2))
        summary = {"dagId": DAG_ID, "airflow": stack.airflow_url, "healthy": healthy, "breaking": breaking}
        (DEMO / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        print(
            f"\nSummary: {(DEMO / 'summary.json').relative_to(PROJECT_ROOT)} (healthy: {healthy['state']}, "
            f"breaking: {breaking['state']}, evidence: {breaking.get('evidence')})"
        )
        print(f"Airflow UI: {stack.airflow_url}  (login {localstack.ADMIN[0]} / {localstack.ADMIN[1]})")
        if keep:
            STACK_FILE.write_text(json.dumps(stack.describe(), indent=2) + "\n", encoding="utf-8")
            print(f"The stack stays up ({STACK_FILE.relative_to(PROJECT_ROOT)}); 'make down' stops it.")
            stack.services.clear()  # hand the processes over to 'make down'
        else:
            print("Stopping the stack ('make demo KEEP=1' leaves it up to explore the UI).")
        ok = healthy["state"] == "success" and breaking["state"] == "failed" and breaking.get("evidence")
        return 0 if ok else 1
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
