"""Benchmark: natural language to rendered KRM for a two-site intent, stage by stage.

    python bench/compile.py [--runs N] [--update]

Prints the median of each stage (parse, convert, compile to KRM, kpt render of both sites) and,
as the floor, ``kpt fn render`` of an empty package. ``--update`` writes the table into
BENCHMARKS.md. The floor to reach: everything but kpt under 50 ms.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import median_ms, update_section  # noqa: E402

from include.compiler import api, render  # noqa: E402
from include.compiler.config import load_settings  # noqa: E402

TEXT = (
    "URLLC slice with 5 ms latency, 99.999% reliability, 300 Mbps downlink and 50 Mbps uplink "
    "for 1,500 devices at edge1 and edge2"
)
FLOOR_MS = 50.0


def kpt_empty_package(workdir: Path) -> float:
    package = workdir / "empty"
    package.mkdir()
    (package / "Kptfile").write_text("apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: empty\n")
    started = time.perf_counter()
    subprocess.run([render.kpt_binary(), "fn", "render", "."], cwd=package, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--update", action="store_true", help="write the results into BENCHMARKS.md")
    args = parser.parse_args()

    settings = load_settings()
    stages: dict[str, list[float]] = {"parse": [], "convert": [], "compile": [], "render": [], "floor": []}
    api.to_28312(api.parse(TEXT, settings), settings)  # warm imports and caches
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            tmf = api.parse(TEXT, settings)
            t1 = time.perf_counter()
            intent = api.to_28312(tmf.to_json(), settings)
            t2 = time.perf_counter()
            site_packages = api.packages(intent, settings)
            t3 = time.perf_counter()
            rendered = api.render_packages(site_packages, Path(tmp) / "out")
            t4 = time.perf_counter()
            if sorted(rendered) != ["edge1", "edge2"]:
                raise SystemExit(f"expected two sites, rendered {sorted(rendered)}")
            stages["parse"].append(t1 - t0)
            stages["convert"].append(t2 - t1)
            stages["compile"].append(t3 - t2)
            stages["render"].append(t4 - t3)
            stages["floor"].append(kpt_empty_package(Path(tmp)))

    medians = {name: median_ms(samples) for name, samples in stages.items()}
    without_kpt = medians["parse"] + medians["convert"] + medians["compile"]
    rows = [
        ("parse (NL → TMF921 + Turtle)", medians["parse"]),
        ("convert (TMF921 → TS 28.312)", medians["convert"]),
        ("compile (TS 28.312 → KRM, 2 sites)", medians["compile"]),
        ("**everything but kpt**", without_kpt),
        ("kpt fn render, 2 sites in parallel (2 exec functions each)", medians["render"]),
        ("floor: kpt fn render of an empty package", medians["floor"]),
    ]
    verdict = "meets" if without_kpt < FLOOR_MS else "MISSES"
    table = "\n".join(["| stage | median (ms) |", "|---|---:|", *(f"| {n} | {v:.1f} |" for n, v in rows)])
    table += (
        f"\n\n{args.runs} runs. Everything but kpt: {without_kpt:.1f} ms, {verdict} the {FLOOR_MS:.0f} ms "
        f"floor; kpt rendering is {medians['render'] / medians['floor']:.1f}x the empty-package floor."
    )
    print(table)
    if args.update:
        update_section("compile", "Command: `make bench` (`python bench/compile.py --update`)\n\n" + table)
    return 0 if without_kpt < FLOOR_MS else 1


if __name__ == "__main__":
    sys.exit(main())
