"""Benchmark: what survives what, and how fast it recovers, on the local stack (the test suite's SLO
profile: tests/profiles.py).

    python bench/faults.py [--runs N] [--update]

Runs the fault scenarios of tests/test_faults.py (each asserts its own outcome) N times on one
local stack and prints the median of each recovery time, all taken from clocks:

* the Git server killed between two sites' pushes, down through every retry of deliver: seconds from
  its restart to the partial delivery reverted, restored and recorded;
* the api-server killed with three runs in flight and started 10 s later, then the scheduler killed
  during Verifying and started 5 s later: seconds from the kill to the api-server healthy, and from
  the scheduler's restart to every run Succeeded;
* the triggerer killed during a deferred sync wait: seconds from the kill to the wait done;
* a site lost before the rollback's revert reaches it: seconds from the loss to the run's end (the
  restore wait's timeout, ``EDGE_INTENT_WAIT_TIMEOUT``, decides it).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "bench"), str(ROOT)]

from common import update_section  # noqa: E402

from include.lifecycle import Dag  # noqa: E402
from include.localstack import stack as localstack  # noqa: E402
from include.localstack.airflow_api import AirflowAPI  # noqa: E402
from tests import test_faults as faults  # noqa: E402
from tests.profiles import write_config  # noqa: E402
from tests.stackfixtures import RUNNING_ENV  # noqa: E402

SCENARIOS = (
    (
        "Git server killed between two sites' pushes",
        faults.git_server_killed_mid_delivery,
        "recovered",
        "restart → partial delivery reverted, restored, recorded",
    ),
    (
        "api-server killed, 3 runs in flight, back after 10 s",
        faults.api_server_and_scheduler_killed,
        "api_back",
        "kill → api-server healthy",
    ),
    ("scheduler killed during Verifying, back after 5 s", None, "finished", "restart → every run Succeeded"),
    (
        "triggerer killed during a deferred sync wait",
        faults.triggerer_killed_during_a_wait,
        "resumed",
        "kill → wait done through the new triggerer",
    ),
    (
        "a site lost before the revert reaches it",
        faults.site_lost_during_rollback,
        "ended",
        "loss → run ended, evidence 'unconfirmed' naming the site",
    ),
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--update", action="store_true", help="write the figures into BENCHMARKS.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-faults-") as tmp:
        slo_config = {"EDGE_INTENT_SLO_CONFIG": str(write_config(Path(tmp) / "slo.yaml"))}
        stack = localstack.start(Path(tmp), airflow=True, airflow_env={**RUNNING_ENV, **slo_config})
        try:
            api = AirflowAPI(stack.airflow_url, *localstack.ADMIN)
            api.wait_for_dag(Dag.PIPELINE.value)
            figures: dict[str, list[float]] = {}
            for run in range(args.runs):
                measured: dict[str, float] = {}
                for title, scenario, _, _ in SCENARIOS:
                    if scenario is not None:
                        measured |= scenario(stack, api, offset=100 * (run + 1))
                        print(f"run {run + 1}: {title}: {measured}", flush=True)
                for _, _, key, _ in SCENARIOS:
                    figures.setdefault(key, []).append(measured[key])
        finally:
            stack.stop()
    rows = [
        f"| {title} | {what} | {statistics.median(figures[key]):.1f} s |" for title, _, key, what in SCENARIOS
    ]
    table = "\n".join(
        [
            f"Median of {args.runs} runs of each scenario (every run also asserts its outcome); site "
            f"waits time out after {RUNNING_ENV['EDGE_INTENT_WAIT_TIMEOUT']} s (`EDGE_INTENT_WAIT_TIMEOUT`).",
            "",
            "| fault | measured | median |",
            "|---|---|---|",
            *rows,
        ]
    )
    print(table)
    if args.update:
        update_section("faults", "Command: `make bench` (`python bench/faults.py --update`)\n\n" + table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
