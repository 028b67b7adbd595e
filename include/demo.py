"""``make demo``: the intent pipeline on the local stack, end to end.

1. Compiles and renders the README's sample intents (``.demo/compile/<intent-id>/<site>/``).
2. Starts the local stack: a Git server, one simulated edge site per catalogue site, and Airflow's
   api-server, scheduler, dag-processor and triggerer on SQLite (LocalExecutor), all on free
   loopback ports; ``--executor celery`` (``make demo EXECUTOR=celery``) runs Airflow with the
   CeleryExecutor instead: PostgreSQL, Redis and two Celery workers.
3. Submits a sample intent for every site through Airflow's REST API and prints each phase as it
   happens, wave by wave (the canary first), with the commit delivered to each site, its RootSync
   state and SLO verdict; then an intent under CPU pressure at its site (the fault control offers
   its workload three times the traffic it was sized for), scaled up by one commit and verified
   again to Succeeded; then a broken intent (a fault at the canary) that breaches there, is
   reverted, and never reaches the later waves. Prints each run's rollout record.
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
# Every target of the healthy intent is one the simulated sites' metrics can show in the demo
# profile's 30 s window: 99.5 % takes 600 requests to show (99.999 % would take 300,000), and a
# device count is not measured at all, so either would end Unverified, as the report would say.
PIPELINE_SAMPLE = "Deploy URLLC slice with 5ms latency and 99.5% reliability at all sites"


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


BREAKING_SAMPLE = "eMBB slice with 50 ms latency and 300 Mbps downlink for video streaming at all sites"
INJECTED_LATENCY_MS = 200
# CPU pressure the workload's replicas can share: three times the traffic it was sized for, each
# pod at 3 x the load model's 30 % of its CPU limit (the SLO is below 80 %) until a replica is added
PRESSURED_SAMPLE = "URLLC slice with 20 ms latency for industrial robots at edge3"
PRESSURE = 3.0


def _label(ti: dict) -> str:
    index = ti.get("map_index", -1)
    label = ti.get("rendered_map_index") if index is not None and index >= 0 else None
    return f"{ti['task_id']}[{label or index}]" if index is not None and index >= 0 else ti["task_id"]


def _phase(task_id: str) -> str:
    wave = lifecycle.wave_of(task_id)
    if wave:
        return f"W{wave[0]} {lifecycle.WAVE_PHASES.get(wave[1], '')}".strip()
    return lifecycle.PIPELINE_PHASES.get(task_id, "")


def _show_site_task(api, stack, run_id: str, ti: dict, details: dict) -> None:
    """What a wave's site task produced: its commit, RootSync, O2IMS request or SLO verdict."""
    task, index, site = lifecycle.wave_of(ti["task_id"])[1], ti["map_index"], ti.get("rendered_map_index")
    if task == lifecycle.DELIVER:
        for where, result in api.xcom(DAG_ID, run_id, ti["task_id"], map_index=index).items():
            print(f"{'':30}{where}: commit {result['sha'][:12]} pushed to {result['repo']}")
    elif task == lifecycle.WAIT_FOR_SYNC:
        print(f"{'':30}{site}: RootSync {_rootsync_line(stack, site)}")
    elif task == lifecycle.WAIT_FOR_O2IMS:
        for where, result in api.xcom(DAG_ID, run_id, ti["task_id"], map_index=index).items():
            print(f"{'':30}{where}: ProvisioningRequest {result['message']}")
    elif task == lifecycle.VERIFY_SLOS:
        verdict = api.xcom(DAG_ID, run_id, ti["task_id"], lifecycle.Key.VERDICT, map_index=index)
        for where, slos in sorted(verdict["slos"].items()):
            summary = ", ".join(
                f"{name} {entry['status']}"
                + (
                    f" ({entry['last']:.1f}/{entry['threshold']:g} {entry['unit']})"
                    if entry["last"] is not None
                    else ""
                )
                for name, entry in slos.items()
            )
            print(f"{'':30}{where}: {summary}")
        print(
            f"{'':30}verdict: {verdict['result']}"
            + (f" ({verdict['trigger']})" if verdict["trigger"] else "")
        )


def offered_load(text: str, site: str) -> float:
    """Requests per second that put :data:`PRESSURE` times its sized traffic on the intent's workload
    at ``site`` (its replicas as compiled, each sized for the load model's nominal rate)."""
    from include.edgesim.loadmodel import RATE_PER_POD
    from include.rollout.scale import replicas

    settings = load_settings()
    package = api.packages(api.to_28312(api.parse(text, settings), settings), settings)[site]
    return PRESSURE * replicas(package) * RATE_PER_POD


def _follow(api, stack, text: str, fault_at: str | None = None, fault: dict | None = None) -> dict:
    """Submit ``text``, print each task as it changes state, and return what the run produced.

    :param fault_at: a site whose copy of the intent's workload gets ``fault`` (the fault control;
        by default slow: every request +:data:`INJECTED_LATENCY_MS`), so that its SLOs break there.
    """
    print(f"\nSubmitting through Airflow's REST API: {text!r}")
    if fault_at:
        namespace = f"intent-{_intent_id(text)}"
        fault = fault or {"latencyMs": INJECTED_LATENCY_MS}
        stack.control(fault_at, "PUT", f"/control/faults/{namespace}", fault)
        print(f"  fault injected at {fault_at}: {json.dumps(fault)} for {namespace}")
    run_id = api.trigger(DAG_ID, {"intent": text, "slo_profile": "demo"})
    print(f"  DAG run {run_id}")
    submitted = time.perf_counter()
    details: dict = {"runId": run_id, "intent": text}

    def show(ti: dict) -> None:
        if ti["state"] is None or (ti["state"] == "skipped" and lifecycle.wave_of(ti["task_id"])):
            return
        print(
            f"  {time.perf_counter() - submitted:6.1f} s  {_phase(ti['task_id']):<15} "
            f"{_label(ti):<34} {ti['state']}"
        )
        if ti["state"] != "success":
            return
        if lifecycle.wave_of(ti["task_id"]) and ti.get("map_index", -1) >= 0:
            _show_site_task(api, stack, run_id, ti, details)
        elif ti["task_id"] == lifecycle.ROLLBACK_RESTORE:
            for site in sorted(api.xcom(DAG_ID, run_id, ti["task_id"])):
                print(f"{'':30}{site}: RootSync {_rootsync_line(stack, site)}")
        elif ti["task_id"] == lifecycle.REPORT:
            reported = api.xcom(DAG_ID, run_id, ti["task_id"])
            details["report"], details["fulfilment"] = reported["path"], reported["fulfilment"]
            print(f"{'':30}intent report: {details['report']}")
            print(f"{'':30}fulfilment: {details['fulfilment']['state']}")
            for line in details["fulfilment"]["missed"] + details["fulfilment"]["notVerifiable"]:
                print(f"{'':32}{line}")
        elif ti["task_id"] == lifecycle.ROLLBACK_EVIDENCE:
            details["evidence"] = api.xcom(DAG_ID, run_id, ti["task_id"])["path"]
        elif ti["task_id"] == lifecycle.ROLLOUT:
            details["rollout"] = api.xcom(DAG_ID, run_id, ti["task_id"])

    run = api.follow(DAG_ID, run_id, timeout=900, on_change=show)
    details["state"] = run["state"]
    details["elapsedSeconds"] = round(time.perf_counter() - submitted, 2)
    outcome = (
        _went_through(details["fulfilment"])
        if details.get("fulfilment")
        else "rolled back, run Failed"
        if details.get("evidence")
        else ""
    )
    print(f"  Run {run['state']} in {details['elapsedSeconds']:.1f} s{': ' + outcome if outcome else ''}.")
    if details.get("rollout"):
        _print_rollout(details["rollout"])
    return details


def _went_through(fulfilment: dict) -> str:
    """The phase of a run that went through, as the intent API names it."""
    return {lifecycle.Fulfilment.FULFILLED: "Succeeded, every target met"}.get(
        fulfilment["state"], f"{fulfilment['state']}, see its report"
    )


def _intent_id(text: str) -> str:
    return api.parse(text, load_settings()).id


def _sites(text: str) -> list[str]:
    settings = load_settings()
    return list(api.to_28312(api.parse(text, settings), settings).sites)


def _print_rollout(record: dict) -> None:
    """The rollout record: each wave with its sites, commits, times and verdicts; what was reverted."""
    print(
        f"  rollout.json ({record['path']}): {record['type']}, {record['state']}, "
        f"{record['failures']} failure(s)"
    )
    for wave in record["waves"]:
        print(f"    wave {wave['index']} {wave['name']:<8} {wave['state']}")
        for site, out in wave["sites"].items():
            if out["state"] == "untouched":
                print(f"      {site}: untouched (no commit)")
                continue
            lag = (
                f", synced {out['syncedAt'] - out['deliveredAt']:.1f} s after its push"
                if out.get("syncedAt") and out.get("deliveredAt")
                else ""
            )
            verdict = (out.get("slo") or {}).get("result", "-")
            reason = f", {out['failure']['reason'][:70]}" if out.get("failure") else ""
            print(
                f"      {site}: {out['state']}, commit {str(out.get('commit'))[:12]}{lag}, "
                f"SLOs {verdict}{reason}"
            )
            for step in out.get("scaling") or []:
                measured = ", ".join(
                    f"{slo} {m['worst']:.1f} {m['unit']}"
                    for slo, m in step["measured"].items()
                    if m.get("worst") is not None
                )
                synced = (
                    f", synced {step['syncedAt'] - step['pushedAt']:.1f} s after its push"
                    if step.get("syncedAt")
                    else ", never synced"
                )
                print(
                    f"        scaled {step['replicas']['before']} -> {step['replicas']['after']} replicas "
                    f"(ceiling {step['replicas']['ceiling']}) for {measured}: commit {step['commit'][:12]}"
                    f"{synced}"
                )
    for site, revert in record.get("reverts", {}).items():
        print(f"    reverted {site}: commit {str(revert.get('commit'))[:12]}")
    if record.get("stopped"):
        print(f"    stopped at wave {record['stopped']['wave']}: {record['stopped']['reason'][:100]}")
    print(f"    never touched: {', '.join(record['untouched']) or 'none'}")


AIRFLOW_SHAPES = {
    "local": "Airflow on SQLite with the LocalExecutor",
    "celery": "Airflow on PostgreSQL with the CeleryExecutor, Redis and two Celery workers",
}


def run_pipeline(keep: bool, executor: str = "local") -> int:
    from include.localstack import stack as localstack
    from include.localstack.airflow_api import AirflowAPI

    if STACK_FILE.exists():
        raise SystemExit(f"a demo stack is still up ({STACK_FILE}); run 'make down' first")
    shape = AIRFLOW_SHAPES[executor]
    print(f"\nStarting the local stack (Git server, simulated sites, Prometheus, Alertmanager, {shape}) ...")
    started = time.perf_counter()
    # A fresh stack each time: an earlier demo's Airflow DB (its trigger rows), repositories and
    # site state would otherwise carry over into this one.
    shutil.rmtree(DEMO / "stack", ignore_errors=True)
    stack = localstack.start(DEMO / "stack", airflow=True, executor=executor)
    try:
        sites = ", ".join(f"{site} {stack.site_url(site)} (simulated)" for site in stack.sites)
        print(
            f"  up in {time.perf_counter() - started:.0f} s: Git {stack.git_url}; "
            f"Prometheus {stack.prometheus_url}; Alertmanager {stack.services['alertmanager'].url}; {sites}"
        )
        described = stack.describe()
        workers = ", ".join(described.get("workers", {}).values())
        print(
            f"  executor: {stack.executor}"
            + (f" (workers {workers}; broker {described['redis']})" if workers else "")
        )
        api = AirflowAPI(stack.airflow_url, *localstack.ADMIN)
        api.wait_for_dag(DAG_ID)
        healthy = _follow(api, stack, PIPELINE_SAMPLE)
        (pressured_at,) = _sites(PRESSURED_SAMPLE)
        pressured = _follow(
            api,
            stack,
            PRESSURED_SAMPLE,
            fault_at=pressured_at,
            fault={"offeredLoad": offered_load(PRESSURED_SAMPLE, pressured_at)},
        )
        scaled = [
            step
            for wave in (pressured.get("rollout") or {}).get("waves", [])
            for out in wave["sites"].values()
            for step in out.get("scaling") or []
        ]
        canary = load_settings().catalogue.groups["canary"][0]
        breaking = _follow(api, stack, BREAKING_SAMPLE, fault_at=canary)
        untouched = (breaking.get("rollout") or {}).get("untouched", [])
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
        summary = {
            "dagId": DAG_ID,
            "airflow": stack.airflow_url,
            "executor": stack.executor,
            "healthy": healthy,
            "pressured": pressured,
            "breaking": breaking,
        }
        (DEMO / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        print(
            f"\nSummary: {(DEMO / 'summary.json').relative_to(PROJECT_ROOT)} (healthy: {healthy['state']}, "
            f"{(healthy.get('fulfilment') or {}).get('state', 'no report')}, "
            f"under CPU pressure: {pressured['state']} after {len(scaled)} scale step(s), "
            f"breaking: {breaking['state']}, evidence: {breaking.get('evidence')}; "
            f"executor: {stack.executor})"
        )
        print(f"Airflow UI: {stack.airflow_url}  (login {localstack.ADMIN[0]} / {localstack.ADMIN[1]})")
        if keep:
            STACK_FILE.write_text(json.dumps(stack.describe(), indent=2) + "\n", encoding="utf-8")
            print(f"The stack stays up ({STACK_FILE.relative_to(PROJECT_ROOT)}); 'make down' stops it.")
            stack.services.clear()  # hand the processes over to 'make down'
        else:
            print("Stopping the stack ('make demo KEEP=1' leaves it up to explore the UI).")
        ok = (
            healthy["state"] == "success"
            and (healthy.get("fulfilment") or {}).get("state") == lifecycle.Fulfilment.FULFILLED
            and pressured["state"] == "success"
            and len(scaled) == 1
            and breaking["state"] == "failed"
            and breaking.get("evidence")
            and untouched == [s for s in stack.sites if s != canary]
        )
        return 0 if ok else 1
    finally:
        stack.stop()


def down() -> int:
    from include.localstack import stack as localstack

    if not STACK_FILE.exists():
        print("No demo stack is up.")
        return 0
    described = json.loads(STACK_FILE.read_text())
    stopped = localstack.stop_pids(described["pids"])
    for directory in described.get("scratch", {}).values():  # PostgreSQL's data, outside .demo
        shutil.rmtree(directory, ignore_errors=True)
    STACK_FILE.unlink()
    print(f"Stopped: {', '.join(stopped) or 'nothing was running'}.")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m include.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="leave the stack up and write .demo/stack.json")
    parser.add_argument("--down", action="store_true", help="stop a stack left up by --keep")
    parser.add_argument(
        "--executor",
        choices=sorted(AIRFLOW_SHAPES),
        default="local",
        help="Airflow's executor: local (LocalExecutor on SQLite, the default) or celery "
        "(CeleryExecutor on PostgreSQL and Redis, two workers)",
    )
    args = parser.parse_args(argv)
    if args.down:
        return down()
    print("Compiling the README's sample intents:")
    compile_samples()
    print(f"\nSummary of the compilations: {(OUT / 'summary.json').relative_to(PROJECT_ROOT)}")
    return run_pipeline(args.keep, args.executor)


if __name__ == "__main__":
    sys.exit(main())
