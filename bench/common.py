"""Helpers shared by the benchmarks: medians, and writing measured figures into BENCHMARKS.md."""

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
