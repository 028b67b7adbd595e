"""Verifying's alert-class findings as Alertmanager alerts (API v2 ``postableAlerts``).

An SLO whose action is ``alert`` (error rate, memory) does not stop a rollout; when it fails
evaluations while Verifying, its finding goes to Alertmanager, which routes it to people and to the
intent API's webhook. Each alert has the name of the project's Prometheus rule for that SLO
(``monitoring/prometheus/alerts.yml``: ``error_rate`` is ``SliceErrorRateHigh``) and its labels
(``namespace``, ``site``, ``slo``, ``severity``, ``action``), plus ``source: verifying``: the
pipeline saw it, not the rule. It ends after :data:`HOLD_S` (the rule's own ``for``): by then the
rule fires on its own if the SLO still fails. Pure: no Airflow.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any

import yaml

from include.compiler.config import PROJECT_ROOT
from include.compiler.names import namespace

RULES = PROJECT_ROOT / "monitoring" / "prometheus" / "alerts.yml"
SOURCE = "verifying"
HOLD_S = 300.0
FALLBACK_NAME = "SliceSLOFailingWhileVerifying"


@cache
def rule_names() -> dict[str, str]:
    """``{slo: alert name}`` of the project's SLO rules."""
    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    return {
        rule["labels"]["slo"]: rule["alert"]
        for group in groups
        for rule in group["rules"]
        if "alert" in rule and "slo" in (rule.get("labels") or {})
    }


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def postable(
    verdict: dict[str, Any], *, intent_id: str, run_id: str, task: str, now: float, hold_s: float = HOLD_S
) -> list[dict[str, Any]]:
    """The alerts of ``verdict``'s alert-class findings (``alerts``), one per site and SLO."""
    found = []
    for entry in verdict.get("alerts") or []:
        unit, worst = entry.get("unit", ""), entry.get("worst")
        if not isinstance(worst, int | float):
            continue  # no value was measured: that is missing data (rollback-class), not this SLO's alert
        measured = f"worst {worst:g} {unit}"
        found.append(
            {
                "labels": {
                    "alertname": rule_names().get(entry["slo"], FALLBACK_NAME),
                    "namespace": namespace(intent_id),
                    "site": entry["site"],
                    "slo": entry["slo"],
                    "severity": "warning",
                    "action": "alert",
                    "source": SOURCE,
                },
                "annotations": {
                    "summary": (
                        f"SLO {entry['slo']} failed {entry['failures']} evaluation(s) while verifying "
                        f"intent {intent_id} at {entry['site']}: {measured} "
                        f"(threshold {entry['threshold']:g} {unit})"
                    ),
                    "dagRunId": run_id,
                    "task": task,
                },
                "startsAt": _iso(now),
                "endsAt": _iso(now + hold_s),
            }
        )
    return found
