"""The SLO profile the test suite verifies with: config/slo.yaml's ``demo`` profile with a shorter
window, so that each pipeline run of the suite waits 16 s per wave instead of 30. Everything else
(the SLOs, the targets, the other profiles) is config/slo.yaml's own: the file is derived from it at
the session's start and given to every process through ``EDGE_INTENT_SLO_CONFIG``."""

from __future__ import annotations

from pathlib import Path

import yaml

from include.slo.definitions import DEFAULT_FILE

PROFILE = "suite"
WINDOW = 16
"""Seconds: eight evaluations at the demo profile's 2 s interval."""
INTERVAL = 2


def write_config(path: Path) -> Path:
    """config/slo.yaml with the :data:`PROFILE` profile added; returns ``path``."""
    config = yaml.safe_load(DEFAULT_FILE.read_text(encoding="utf-8"))
    demo = config["profiles"]["demo"]
    assert demo["interval"] == INTERVAL, "the suite's profile keeps the demo profile's interval"
    config["profiles"][PROFILE] = {**demo, "window": WINDOW}
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path
