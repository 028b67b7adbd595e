"""Benchmark: a progressive rollout over three sites on the local stack (demo SLO profile).

    python bench/rollout.py [--runs N] [--soak SECONDS] [--update]

* Healthy: an intent at edge1, edge2 and edge3 rolls out canary first, one wave per group, with a
  soak of ``--soak`` seconds. Its wall time is set beside its floor, the sum over the waves of what
  no orchestrator can skip: the site's sync lag (push to RootSync synced), the SLO window and the
  soak. A wave's orchestration overhead is what it adds beyond its own floor: the time from the
  previous wave's gate (or, for the first, the end of rendering) to its own gate, less its sync lag,
  window and soak. The pipeline's own phases before the first wave and after the last (validation,
  compiling, rendering; decide, report, record, watcher) are measured apart; so is the gap between a
  wave's SLO window ending and the next wave's push.
* Breach at the canary: the canary's copy of the workload is slow (the fault control); from the
  canary's push to the breach detected, to its revert restored; edge2 and edge3 must get no commit.

Every figure is read from the runs' rollout records and evidence (the sites' and the verifier's own
clocks). Floor for the overhead per wave: 0.5 s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import markdown_table, update_section  # noqa: E402

from include.compiler.config import load_settings  # noqa: E402
from include.compiler.nl import parse_text  # noqa: E402
from include.lifecycle import RENDER, ROLLBACK_EVIDENCE, ROLLOUT, Dag  # noqa: E402
from include.localstack import stack as localstack  # noqa: E402
from include.localstack.airflow_api import AirflowAPI  # noqa: E402
from include.slo.definitions import load_config  # noqa: E402

DAG = Dag.PIPELINE
SITES = ("edge1", "edge2", "edge3")
OVERHEAD_FLOOR_S = 0.5


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def healthy(api: AirflowAPI, index: int, soak: float, window: float) -> dict:
    text = f"URLLC slice with 9 ms latency for {300 + index} devices at edge1, edge2 and edge3"
    strategy = {
        "type": "ProgressivePerGroup",
        "progressivePerGroup": {
            "mandatoryDecisionGroups": [{"groupName": "canary"}],
            "minSuccessTime": f"{soak:g}s",
        },
    }
    run_id = api.trigger(DAG, {"intent": text, "slo_profile": "demo", "rollout_strategy": strategy})
    run = api.follow(DAG, run_id, timeout=900, interval=0.5)
    record = api.xcom(DAG, run_id, ROLLOUT)
    if run["state"] != "success" or record["state"] != "Succeeded" or len(record["waves"]) != 3:
        raise SystemExit(f"run {run_id} did not roll out cleanly: {run['state']}, {record['state']}")
    sites = [next(iter(w["sites"].values())) for w in record["waves"]]
    lags = [s["syncedAt"] - s["deliveredAt"] for s in sites]
    floors = [lag + window + soak for lag in lags]
    started, ended = _epoch(run["start_date"]), _epoch(run["end_date"])
    rendered = next(
        _epoch(ti["end_date"]) for ti in api.task_instances(DAG, run_id) if ti["task_id"] == RENDER
    )
    gates = [rendered] + [w["endedAt"] for w in record["waves"]]
    spans = [after - before for before, after in zip(gates, gates[1:], strict=False)]
    gaps = [
        after["deliveredAt"] - before["slo"]["ended"] for before, after in zip(sites, sites[1:], strict=False)
    ]
    return {
        "wall": ended - started,
        "floor": sum(floors),
        "overheads": [span - floor for span, floor in zip(spans, floors, strict=True)],
        "before": rendered - started,
        "after": ended - gates[-1],
        "gaps": gaps,
        "lags": lags,
    }


def breach_at_canary(api: AirflowAPI, stack, index: int) -> dict:
    text = f"eMBB slice with 50 ms latency and 300 Mbps downlink for {400 + index} devices at all sites"
    intent_id = parse_text(text, load_settings()).intent_id
    stack.control("edge1", "PUT", f"/control/faults/intent-{intent_id}", {"latencyMs": 200})
    run_id = api.trigger(DAG, {"intent": text, "slo_profile": "demo"})
    run = api.follow(DAG, run_id, timeout=600, interval=0.5)
    record = api.xcom(DAG, run_id, ROLLOUT)
    evidence = json.loads(Path(api.xcom(DAG, run_id, ROLLBACK_EVIDENCE)["path"]).read_text())
    untouched = [site for site in SITES[1:] if not stack.delivery_commits(site, intent_id)]
    if run["state"] != "failed" or record["state"] != "RolledBack" or untouched != list(SITES[1:]):
        raise SystemExit(f"run {run_id} did not stop at the canary: {record['state']}, untouched {untouched}")
    canary = record["waves"][0]["sites"]["edge1"]
    detected = evidence["breaches"][0]["detectedAt"]
    restored = record["reverts"]["edge1"]["restoredAt"]
    return {
        "detect": detected - canary["deliveredAt"],
        "restore": restored - detected,
        "total": restored - canary["deliveredAt"],
        "wall": _epoch(run["end_date"]) - _epoch(run["start_date"]),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--soak", type=float, default=5.0)
    parser.add_argument("--update", action="store_true", help="write the results into BENCHMARKS.md")
    args = parser.parse_args()
    window = load_config().profiles["demo"].window
    with tempfile.TemporaryDirectory(prefix="bench-rollout-") as root:
        stack = localstack.start(Path(root), airflow=True, period=1.0)
        try:
            api = AirflowAPI(stack.airflow_url, *localstack.ADMIN)
            api.wait_for_dag(DAG)
            healthy(api, 99, args.soak, window)  # the first run starts the executor's workers
            rollouts = [healthy(api, i, args.soak, window) for i in range(args.runs)]
            breaches = [breach_at_canary(api, stack, i) for i in range(args.runs)]
        finally:
            stack.stop()

    median = statistics.median
    overheads = [x for r in rollouts for x in r["overheads"]]
    per_wave = median(overheads)
    wall, floor = median(r["wall"] for r in rollouts), median(r["floor"] for r in rollouts)
    rows = [
        ("three-wave rollout: wall time", f"{wall:.1f} s", f"{len(rollouts)} runs"),
        (
            f"its floor: sync lag + SLO window ({window:g} s) + soak ({args.soak:g} s), per wave",
            f"{floor:.1f} s",
            f"wall / floor = {wall / floor:.2f}",
        ),
        (
            "sync lag per wave (push to RootSync synced)",
            f"{median(x for r in rollouts for x in r['lags']):.1f} s",
            "",
        ),
        (
            "**orchestration overhead per wave** (gate to gate, less the wave's floor)",
            f"{per_wave:.1f} s",
            f"floor {OVERHEAD_FLOOR_S:g} s; {len(overheads)} waves, "
            f"range {min(overheads):.1f} to {max(overheads):.1f} s",
        ),
        (
            "the pipeline's phases before the first wave (validate, compile, render)",
            f"{median(r['before'] for r in rollouts):.1f} s",
            "",
        ),
        (
            "and after the last wave's gate (decide, report, record, watcher)",
            f"{median(r['after'] for r in rollouts):.1f} s",
            "",
        ),
        (
            "gap from a wave's SLO window (and soak) ending to the next wave's push",
            f"{median(x for r in rollouts for x in r['gaps']):.1f} s",
            f"{sum(len(r['gaps']) for r in rollouts)} gaps",
        ),
        (
            "breach at the canary: push to breach detected",
            f"{median(b['detect'] for b in breaches):.1f} s",
            "",
        ),
        ("breach detected to canary restored", f"{median(b['restore'] for b in breaches):.1f} s", ""),
        (
            "**canary push to canary restored** (edge2, edge3 untouched)",
            f"{median(b['total'] for b in breaches):.1f} s",
            f"{len(breaches)} runs; run wall {median(b['wall'] for b in breaches):.1f} s",
        ),
    ]
    table = markdown_table(("measure", "median", "notes"), rows)
    verdict = "meets" if per_wave <= OVERHEAD_FLOOR_S else "is above"
    table += (
        f"\n\nOrchestration overhead per wave {per_wave:.1f} s {verdict} the {OVERHEAD_FLOOR_S:g} s floor."
    )
    print(table)
    if args.update:
        update_section("rollout", "Command: `make bench` (`python bench/rollout.py --update`)\n\n" + table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
