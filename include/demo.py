"""``make demo``: compile and render the README's sample intents, and show what was made.

For each sample: the natural-language text goes through the parser (TMF921 v5), the converter
(TS 28.312) and the compiler (KRM), and kpt renders one package per target site under
``.demo/compile/<intent-id>/<site>/``. Every figure printed is read back from the rendered files.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import yaml

from include.compiler import api
from include.compiler.config import PROJECT_ROOT, load_settings
from include.compiler.convert import target_value
from include.compiler.errors import CompilerError
from include.compiler.targets import CANONICAL_UNIT, KINDS

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


def main() -> int:
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
            print(f"  failed: {exc}", file=sys.stderr)
            return 1
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
    print(f"\nSummary: {OUT.relative_to(PROJECT_ROOT)}/summary.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
