"""Benchmark: natural language to rendered KRM for a two-site intent, stage by stage.

    python bench/compile.py [--runs N] [--update]

Prints the median of each stage (parse, convert, compile to KRM, kpt render of both sites) and, as
the floor, ``kpt fn render`` of an empty package by kpt as installed (its Go runtime's defaults; the
compiler runs kpt with ``render.KPT_RUNTIME``, and the floor with those settings is shown too). Then
where the rendering time goes, for one site's package: kpt with the package but without its
pipeline, each exec function of the pipeline run alone on the ResourceList kpt gives it, the
interpreter those functions start, and the whole render; each as wall time and as CPU time (of all
the processes involved), and as a multiple of the floor. ``--update`` writes the tables into
BENCHMARKS.md.

The floors to reach: everything but kpt under 50 ms; kpt rendering the two sites (in parallel, as
the compiler does) at most 2x the empty-package floor.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import markdown_table, median_ms, update_section  # noqa: E402

from include.compiler import api, render  # noqa: E402
from include.compiler.config import load_settings  # noqa: E402

TEXT = (
    "URLLC slice with 5 ms latency, 99.999% reliability, 300 Mbps downlink and 50 Mbps uplink "
    "for 1,500 devices at edge1 and edge2"
)
FLOOR_MS = 50.0
RENDER_FLOOR_X = 2.0
SITE = "edge1"
CAPTURE = """#!/bin/sh
# Keeps the ResourceList kpt sends, then runs the function on it.
tee "$KPT_BENCH_CAPTURE" | "$@"
"""


def children_cpu() -> float:
    """CPU seconds (user + system) of the waited-for child processes so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(action: Callable[..., object], *args: object) -> tuple[float, float]:
    """(wall, CPU of the child processes) seconds of ``action(*args)``."""
    cpu, started = children_cpu(), time.perf_counter()
    action(*args)
    return time.perf_counter() - started, children_cpu() - cpu


def kpt_defaults_env() -> dict[str, str]:
    """The compiler's environment for kpt without its Go runtime settings (unless this environment
    has them): kpt as installed, the floor's environment."""
    env = render.kpt_env()
    for name in render.KPT_RUNTIME:
        if name not in os.environ:
            env.pop(name, None)
    return env


def kpt_render(package: Path, functions: bool = True, env: dict[str, str] | None = None) -> None:
    command = [render.kpt_binary(), "fn", "render", "."]
    if functions:
        command += ["--allow-exec", "--truncate-output=false"]
    done = subprocess.run(command, cwd=package, env=env or render.kpt_env(), capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"kpt fn render of {package.name} failed:\n{done.stderr}")


def render_into(rendered: dict[str, Path], site_packages: dict[str, dict[str, str]], out: Path) -> None:
    """The compiler's rendering (``api.render_packages``): the sites' kpt renders side by side."""
    rendered.update(api.render_packages(site_packages, out))


def pipeline_functions(kptfile: str) -> list[str]:
    """The exec paths of the package's pipeline: mutators, then validators."""
    pipeline = yaml.safe_load(kptfile).get("pipeline") or {}
    return [step["exec"] for group in ("mutators", "validators") for step in pipeline.get(group) or []]


class Workspace:
    """A directory laid out as the compiler renders: site packages beside a ``functions`` link."""

    def __init__(self, root: Path):
        self.root = root
        self.count = 0
        root.mkdir(parents=True)
        render.prepare_workspace(root)

    def package(self, files: dict[str, str]) -> Path:
        self.count += 1
        package = self.root / f"p{self.count}"
        package.mkdir()
        for name, text in files.items():
            (package / name).write_text(text, encoding="utf-8")
        return package


def capture_inputs(workspace: Workspace, files: dict[str, str]) -> dict[str, bytes]:
    """The ResourceList kpt sends to each exec function of the package's pipeline, by exec path."""
    wrapper = workspace.root / "capture.sh"
    wrapper.write_text(CAPTURE, encoding="utf-8")
    wrapper.chmod(0o755)
    inputs = {}
    pipeline = yaml.safe_load(files["Kptfile"]).get("pipeline") or {}
    for group in ("mutators", "validators"):
        for index, step in enumerate(pipeline.get(group) or []):
            kptfile = yaml.safe_load(files["Kptfile"])
            kptfile["pipeline"][group][index]["exec"] = f"../capture.sh {step['exec']}"
            captured = workspace.root / f"input-{len(inputs)}.yaml"
            package = workspace.package({**files, "Kptfile": yaml.safe_dump(kptfile, sort_keys=False)})
            kpt_render(package, env={**render.kpt_env(), "KPT_BENCH_CAPTURE": str(captured)})
            inputs[step["exec"]] = captured.read_bytes()
    return inputs


def run_function(package: Path, function: str, resource_list: bytes) -> None:
    """The exec function as kpt starts it (from the package directory), on ``resource_list``."""
    done = subprocess.run(
        [function], cwd=package, input=resource_list, env=render.kpt_env(), capture_output=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"{function} failed:\n{done.stderr.decode()}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--update", action="store_true", help="write the results into BENCHMARKS.md")
    args = parser.parse_args()

    settings = load_settings()
    stages: dict[str, list[float]] = {"parse": [], "convert": [], "compile": []}
    split: dict[str, list[tuple[float, float]]] = {}
    api.to_28312(api.parse(TEXT, settings), settings)  # warm imports and caches
    site_packages = api.packages(api.to_28312(api.parse(TEXT, settings), settings), settings)
    files = site_packages[SITE]
    functions = pipeline_functions(files["Kptfile"])
    bare = yaml.safe_load(files["Kptfile"])
    bare.pop("pipeline", None)
    without_pipeline = {**files, "Kptfile": yaml.safe_dump(bare, sort_keys=False)}
    empty = {"Kptfile": "apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: empty\n"}
    python = [shutil.which("python3", path=render.kpt_env()["PATH"]) or "python3", "-IS", "-c", "pass"]
    with tempfile.TemporaryDirectory() as tmp:
        inputs = capture_inputs(Workspace(Path(tmp) / "capture"), files)

    def measure(name: str, action: Callable[..., object], *args: object) -> None:
        split.setdefault(name, []).append(timed(action, *args))

    for run in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            tmf = api.parse(TEXT, settings)
            t1 = time.perf_counter()
            intent = api.to_28312(tmf.to_json(), settings)
            t2 = time.perf_counter()
            site_packages = api.packages(intent, settings)
            t3 = time.perf_counter()
            rendered: dict[str, Path] = {}
            measure("render", render_into, rendered, site_packages, Path(tmp) / "out")
            if sorted(rendered) != ["edge1", "edge2"]:
                raise SystemExit(f"expected two sites, rendered {sorted(rendered)}")
            stages["parse"].append(t1 - t0)
            stages["convert"].append(t2 - t1)
            stages["compile"].append(t3 - t2)

            workspace = Workspace(Path(tmp) / "split")
            order = ["floor", "floor_tuned", "bare", "functions", "python", "site"]
            for step in order[run % len(order) :] + order[: run % len(order)]:  # rotate against drift
                if step == "floor":
                    measure(step, kpt_render, workspace.package(empty), False, kpt_defaults_env())
                elif step == "floor_tuned":
                    measure(step, kpt_render, workspace.package(empty), False)
                elif step == "bare":
                    measure(step, kpt_render, workspace.package(without_pipeline))
                elif step == "functions":
                    package = workspace.package(files)
                    for function in functions:
                        measure(function, run_function, package, function, inputs[function])
                elif step == "python":
                    measure(step, subprocess.run, python)
                else:
                    measure(step, kpt_render, workspace.package(files))

    medians = {name: median_ms(samples) for name, samples in stages.items()}
    wall = {name: median_ms([w for w, _ in samples]) for name, samples in split.items()}
    cpu = {name: median_ms([c for _, c in samples]) for name, samples in split.items()}
    floor = wall["floor"]
    without_kpt = medians["parse"] + medians["convert"] + medians["compile"]
    runtime = ", ".join(f"`{k}={v}`" for k, v in render.KPT_RUNTIME.items())
    count = f"{len(functions)} exec function{'s' if len(functions) != 1 else ''}"
    rows = [
        ("parse (NL → TMF921 + Turtle)", medians["parse"]),
        ("convert (TMF921 → TS 28.312)", medians["convert"]),
        ("compile (TS 28.312 → KRM, 2 sites)", medians["compile"]),
        ("**everything but kpt**", without_kpt),
        (f"kpt fn render, 2 sites in parallel ({count} each)", wall["render"]),
        ("floor: kpt fn render of an empty package (kpt's defaults)", floor),
    ]
    split_rows = [
        ("floor: kpt fn render of an empty package (kpt's defaults)", "floor"),
        (f"the same with the compiler's Go runtime settings for kpt ({runtime})", "floor_tuned"),
        (f"kpt fn render of {SITE}'s package without its pipeline", "bare"),
        *((f"exec function `{Path(f).name}` alone, on the ResourceList kpt gives it", f) for f in functions),
        ("of which: starting its interpreter (`python3 -IS`, no work)", "python"),
        (f"kpt fn render of {SITE}'s package ({count})", "site"),
        ("**kpt fn render, 2 sites in parallel** (the stage above)", "render"),
    ]
    own = wall["site"] - wall["bare"] - sum(wall[f] for f in functions)
    ratio = wall["render"] / floor
    same_settings = wall["render"] / wall["floor_tuned"]
    table = "\n".join(["| stage | median (ms) |", "|---|---:|", *(f"| {n} | {v:.1f} |" for n, v in rows)])
    table += "\n\nWhere kpt rendering spends its time (medians; CPU: all the processes involved):\n\n"
    table += markdown_table(
        ("rendering", "wall (ms)", "CPU (ms)", "wall / floor"),
        [
            (name, f"{wall[key]:.1f}", f"{cpu[key]:.1f}", f"{wall[key] / floor:.2f}x")
            for name, key in split_rows
        ],
    )
    met = without_kpt < FLOOR_MS and ratio <= RENDER_FLOOR_X
    table += (
        f"\n\n{args.runs} runs. Everything but kpt: {without_kpt:.1f} ms, "
        f"{'meets' if without_kpt < FLOOR_MS else 'MISSES'} the {FLOOR_MS:.0f} ms floor. kpt rendering "
        f"of the two sites is {ratio:.2f}x the empty-package floor "
        f"({'meets' if ratio <= RENDER_FLOOR_X else 'MISSES'} the {RENDER_FLOOR_X:.0f}x floor), and "
        f"{same_settings:.2f}x that floor with the same Go runtime settings; for one "
        f"site, kpt's own work around its {count} (the render less the package without pipeline and "
        f"the functions alone) is {own:.1f} ms."
    )
    print(table)
    if args.update:
        update_section("compile", "Command: `make bench` (`python bench/compile.py --update`)\n\n" + table)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
