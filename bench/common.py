"""Helpers shared by the benchmarks: medians, runs on a fresh local stack, and writing measured
figures into BENCHMARKS.md."""

from __future__ import annotations

import platform
import re
import statistics
import subprocess
from datetime import UTC, datetime
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "BENCHMARKS.md"


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def median_of_runs(prefix: str, runs: int, one, *, period: float) -> tuple[dict[str, float], int]:
    """Run ``one(api, stack, index)`` ``runs`` times on a fresh local stack with Airflow (sites pulling
    every ``period`` s, the admin's REST client); the median of each figure it returns, and the
    number of runs."""
    import tempfile

    from include.lifecycle import Dag
    from include.localstack import stack as localstack
    from include.localstack.airflow_api import AirflowAPI

    with tempfile.TemporaryDirectory(prefix=f"bench-{prefix}-") as root:
        stack = localstack.start(Path(root), airflow=True, period=period)
        try:
            api = AirflowAPI(stack.airflow_url, *localstack.ADMIN)
            api.wait_for_dag(Dag.PIPELINE)
            done = [one(api, stack, index) for index in range(runs)]
        finally:
            stack.stop()
    return {key: statistics.median(r[key] for r in done) for key in done[0]}, len(done)


def follow_with_fault(api, stack, text: str, site: str, fault: dict) -> tuple[dict, str, float | None]:
    """Trigger the pipeline on ``text`` (demo profile) and follow its run; once wave 1's site reports
    its ProvisioningRequest fulfilled (the change live), inject ``fault`` into the intent's namespace
    at ``site``. The finished run, its id, and when the fault went in (None: it never did)."""
    import time

    from include import lifecycle
    from include.lifecycle import Dag

    run_id = api.trigger(Dag.PIPELINE, {"intent": text, "slo_profile": "demo"})
    onset: list[float] = []

    def on_change(ti):
        wave = lifecycle.wave_of(ti["task_id"])
        if wave == (1, lifecycle.WAIT_FOR_O2IMS) and ti["state"] == "success" and not onset:
            namespace = f"intent-{api.xcom(Dag.PIPELINE, run_id, lifecycle.RENDER)['intentId']}"
            stack.control(site, "PUT", f"/control/faults/{namespace}", fault)
            onset.append(time.time())

    run = api.follow(Dag.PIPELINE, run_id, timeout=600, interval=0.2, on_change=on_change)
    return run, run_id, onset[0] if onset else None


def step_table(rows: list[tuple[str, float]]) -> str:
    """``| step | median (s) |`` with one row per ``(step, seconds)``."""
    return "\n".join(
        ["| step | median (s) |", "|---|---:|", *(f"| {name} | {value:.1f} |" for name, value in rows)]
    )


def machine() -> str:
    cores = subprocess.run(["nproc"], capture_output=True, text=True, check=False).stdout.strip()
    return f"{platform.machine()}, {cores} cores, Python {platform.python_version()}"


def update_section(name: str, body: str) -> None:
    """Replace the text between ``<!-- bench:NAME -->`` and ``<!-- /bench:NAME -->`` in BENCHMARKS.md."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    block = (
        f"<!-- bench:{name} -->\n_Measured {stamp} on {machine()}._\n\n{body.strip()}\n<!-- /bench:{name} -->"
    )
    text = BENCHMARKS.read_text(encoding="utf-8")
    pattern = re.compile(rf"<!-- bench:{name} -->.*?<!-- /bench:{name} -->", re.S)
    if not pattern.search(text):
        raise SystemExit(f"BENCHMARKS.md has no <!-- bench:{name} --> section")
    BENCHMARKS.write_text(pattern.sub(lambda _: block, text), encoding="utf-8")


def markdown_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    """A Markdown table: the first column left-aligned, the others right-aligned but the last."""
    align = ["---", *(["---:"] * (len(header) - 2)), "---"]
    lines = [header, tuple(align), *rows]
    return "\n".join("| " + " | ".join(line) + " |" for line in lines)
