"""What firing alerts make of an intent's report: the IntentFulfilmentReport of the run that delivered
it, with each alert's SLO marked ``NOT_FULFILLED`` / ``DEGRADED`` where it shows, and a new TMF921
IntentReport saying so (TS 28.312's ``notFullfilledState``; TIO's ``imo:StateDegraded``).

An alert names its SLO (label ``slo``) and its site (label ``site``). At the intent's expectation for
that site, every target the SLO verifies (``targets`` in ``config/slo.yaml``: ``error_rate`` shows
``reliability``) is degraded with the alert as its reason; an SLO that verifies none of the intent's
targets (CPU, memory) degrades the expectation itself. An alert with no site degrades every
expectation. Once no alert fires, the report is the run's own again, said anew.

The reports are written beside the intent's evidence, one folder each (``alerts-<n>/``), numbered
with the run reports (``*/intent-report.json``). Pure: no Airflow.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from include.compiler import ts28312
from include.compiler.tmf921 import IntentReport
from include.evidence import report as reports
from include.lifecycle import Fulfilment
from include.slo.definitions import SLOConfig, load_config

FOLDER = "alerts-"
RECORD = "assurance.json"
REPORT = "intent-report.json"
NOTE_MARK = "Alerts (Alertmanager):"
NOTE_LIMIT = 1000  # Airflow's dag_run_note.content
REASON_LIMIT = 300  # of an alert's summary in a report's reasons


def reason(alert: dict[str, Any]) -> str:
    labels, annotations = alert.get("labels", {}), alert.get("annotations", {})
    summary = (annotations.get("summary") or annotations.get("description") or "")[:REASON_LIMIT]
    said = f"alert {labels.get('alertname', '?')} firing since {alert.get('startsAt', '?')}"
    return f"{said}: {summary}" if summary else said


def _degraded(info: ts28312.FulfilmentInfo, why: list[str]) -> ts28312.FulfilmentInfo:
    if not why:
        return info
    kept = (info.notFulfilledReasons or []) if info.fulfilmentStatus == "NOT_FULFILLED" else []
    return ts28312.FulfilmentInfo(
        fulfilmentStatus="NOT_FULFILLED", notFullfilledState="DEGRADED", notFulfilledReasons=[*kept, *why]
    )


def degrade(
    intent: ts28312.Intent,
    base: ts28312.IntentFulfilmentReport,
    firing: list[dict[str, Any]],
    config: SLOConfig | None = None,
) -> tuple[ts28312.IntentFulfilmentReport, dict[str, Any]]:
    """``base`` with every firing alert's SLO degraded where it shows, and what it says of the intent
    (:func:`include.evidence.report.fulfilment`'s shape; ``Degraded`` while any alert fires)."""
    config = config or load_config()
    sites = {e.expectationId: e.context("edgeIdentificationId") for e in intent.intentExpectations}
    shown = {name: policy.slo for name, policy in config.targets.items() if policy.slo}
    results, lines = [], []
    for result in base.expectationFulfilmentResult:
        site = sites.get(result.expectaitonId)
        here = [a for a in firing if a.get("labels", {}).get("site") in (None, site)]
        targets, unplaced = [], []
        for alert in here:
            slo = alert.get("labels", {}).get("slo")
            if not any(shown.get(t.targetName) == slo for t in result.targetFulfilmentResult):
                unplaced.append(reason(alert))
        for target in result.targetFulfilmentResult:
            why = [reason(a) for a in here if a.get("labels", {}).get("slo") == shown.get(target.targetName)]
            targets.append(
                target.model_copy(
                    update={"targetFulfilmentInfo": _degraded(target.targetFulfilmentInfo, why)}
                )
            )
            lines += [f"{target.targetName} at {site}: {w}" for w in why]
        lines += [f"{site}: {w}" for w in unplaced]
        overall = reports.overall([t.targetFulfilmentInfo for t in targets])
        results.append(
            result.model_copy(
                update={
                    "targetFulfilmentResult": targets,
                    "expectationFulfilmentInfo": _degraded(overall, unplaced),
                }
            )
        )
    placed = set(sites.values())
    elsewhere = [reason(a) for a in firing if a.get("labels", {}).get("site") not in (None, *placed)]
    degraded = ts28312.IntentFulfilmentReport(
        intentFulfilmentInfo=_degraded(
            reports.overall([r.expectationFulfilmentInfo for r in results]), elsewhere
        ),
        expectationFulfilmentResult=results,
    )
    said = reports.fulfilment(intent, degraded)
    if firing:
        target_lines = set(said["missed"])
        said["missed"] += [line for line in lines + elsewhere if line not in target_lines]
        said["state"] = Fulfilment.DEGRADED
    return degraded, said


def assured(
    intent: ts28312.Intent,
    base: ts28312.IntentFulfilmentReport,
    firing: list[dict[str, Any]],
    *,
    run_id: str,
    now: float,
    number: int,
    config: SLOConfig | None = None,
) -> tuple[IntentReport, dict[str, Any]]:
    """The TMF921 IntentReport that the firing alerts (none: all resolved) make of run ``run_id``'s."""
    degraded, said = degrade(intent, base, firing, config)
    names = sorted({a.get("labels", {}).get("alertname", "?") for a in firing})
    why = f"alert(s) {', '.join(names)} firing" if firing else "no alert firing"
    document = reports.intent_report(
        intent,
        degraded,
        run_id=run_id,
        now=now,
        number=number,
        state=said["state"],
        name=f"Assurance of intent {intent.id}: {said['state']} ({why}; DAG run {run_id})",
    )
    return document, said


def write(
    intent_dir: Path, document: IntentReport, said: dict[str, Any], *, run_id: str, firing: list
) -> Path:
    """Keep an assurance report in its own folder beside the run reports; its path."""
    number = document.id.rsplit("-", 1)[-1]
    folder = intent_dir / f"{FOLDER}{number}"
    folder.mkdir(parents=True, exist_ok=False)
    (folder / REPORT).write_text(json.dumps(document.to_json(), indent=2) + "\n", encoding="utf-8")
    record = {"runId": run_id, "fulfilment": said, "alerts": firing, "intentReport": document.to_json()}
    (folder / RECORD).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return folder


def next_number(intent_dir: Path, after: str = "") -> int:
    """The number of the intent's next report: run reports and assurance reports count alike, and it
    comes after report ``after`` (an id ending ``-report-<n>``: the run's, wherever it was written)."""
    tail = after.rsplit("-", 1)[-1]
    taken = [int(tail)] if tail.isdigit() else []
    taken += [
        int(p.name[len(FOLDER) :]) for p in intent_dir.glob(f"{FOLDER}*") if p.name[len(FOLDER) :].isdigit()
    ]
    return 1 + max([sum(1 for _ in intent_dir.glob(f"*/{REPORT}")), *taken])


def of_intent(intent_dir: Path) -> list[dict[str, Any]]:
    """The intent's assurance records (``runId``, ``fulfilment``, ``alerts``, ``intentReport``), oldest
    first."""
    found = []
    for path in intent_dir.glob(f"{FOLDER}*/{RECORD}"):
        try:
            found.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue  # being written
    return sorted(found, key=lambda r: r["intentReport"]["creationDate"])


def note(existing: str | None, firing: list[dict[str, Any]]) -> str:
    """A run's note with its alerts block (after :data:`NOTE_MARK`) said anew; what else it says is kept."""
    kept = (existing or "").split(NOTE_MARK, 1)[0].rstrip()
    lines = [f"- {a['labels'].get('site', 'all sites')}: {reason(a)}" for a in firing] or ["- none firing"]
    block = "\n".join([NOTE_MARK, *lines])
    text = f"{kept}\n\n{block}" if kept else block
    return text if len(text) <= NOTE_LIMIT else text[: NOTE_LIMIT - 1] + "…"


def keep_alerts(text: str, existing: str | None) -> str:
    """``text`` as a run's note, with the alerts block ``existing`` has (see :func:`note`) kept."""
    held = (existing or "").partition(NOTE_MARK)
    said = f"{text}\n\n{NOTE_MARK}{held[2]}" if held[1] else text
    return said if len(said) <= NOTE_LIMIT else said[: NOTE_LIMIT - 1] + "…"
