"""Alerts attached to what the intent API says: when the alerts firing about an intent change, its
latest pipeline run's report is said anew with them (:mod:`include.evidence.assurance`), and the
run's note in Airflow lists them (the grid shows it; ``GET .../dagRuns/{id}`` has it as ``note``).

While an alert fires about a Succeeded intent, the intent API and the TMF921 facade say it is
``Degraded``, with the alert as the reason; once none fires, what its run's report says again. An
intent that never reached Succeeded keeps its phase: there is no report to degrade, only the run's
note and its alerts.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from edge_intent.api import records
from include import lifecycle
from include.lifecycle import Dag, Phase

log = logging.getLogger(__name__)

FULFILMENT_PHASES = set(lifecycle.PHASE_OF_FULFILMENT.values())


def _intent_dir(intent_id: str) -> Path:
    from edge_intent.rollout.evidence import evidence_dir

    return evidence_dir() / intent_id


def attach(session: Any, intent_ids: list[str]) -> int:
    """Say the reports of ``intent_ids`` anew where their firing alerts changed, and note their runs;
    how many reports were written. Idempotent: a repeated notification writes nothing."""
    written = 0
    for intent_id in intent_ids:
        found = [r for r in records.runs_of(session, intent_id) if r.dag_id == Dag.PIPELINE]
        if not found:
            log.warning("Alerts about intent %s, which has no pipeline run here", intent_id)
            continue
        written += _report(intent_id, found[-1])
        _note(session, found[-1], intent_id)
    session.commit()  # here, in the worker thread: a write lock is not held while the event loop runs
    return written


def _report(intent_id: str, latest: records.RunRecord) -> int:
    from include.compiler import ts28312
    from include.evidence import alerts, assurance

    reported, compiled = latest.xcom(lifecycle.REPORT), latest.xcom(lifecycle.COMPILE)
    if not isinstance(reported, dict) or not isinstance(compiled, dict):
        return 0  # nothing reported: the run did not reach Succeeded
    intent = ts28312.Intent.model_validate(compiled["intent"])
    base = ts28312.IntentFulfilmentReport.model_validate(  # what the verification showed
        reported.get("verifiedReport")
        or reported["intentReport"]["expression"]["expressionValue"]["intentFulfilmentReport"]
    )
    directory = _intent_dir(intent_id)
    with alerts.locked(directory):
        firing = alerts.firing(directory.parent, intent_id)
        held = current(intent_id, latest) or reported  # the run's report says those firing then
        if alerts.episodes(firing) == alerts.episodes(held.get("alerts") or []):
            return 0  # said already (a repeated notification, or a retried one)
        document, said = assurance.assured(
            intent,
            base,
            firing,
            run_id=latest.run_id,
            now=time.time(),
            number=assurance.next_number(directory, after=str(reported["intentReport"].get("id", ""))),
        )
        folder = assurance.write(directory, document, said, run_id=latest.run_id, firing=firing)
    log.warning(
        "Intent %s %s with %d alert(s) firing; report %s", intent_id, said["state"], len(firing), folder
    )
    return 1


def _note(session: Any, latest: records.RunRecord, intent_id: str) -> None:
    from airflow.models.dagrun import DagRun

    from include.evidence import alerts, assurance

    run = session.get(DagRun, latest.id)
    if run is not None:
        written = assurance.note(run.note, alerts.firing(_intent_dir(intent_id).parent, intent_id))
        if written != run.note:
            run.note = written


def current(intent_id: str, latest: records.RunRecord | None) -> dict[str, Any] | None:
    """The newest assurance record about ``latest`` (the intent's latest pipeline run), if any."""
    from include.evidence import assurance

    if latest is None or latest.dag_id != Dag.PIPELINE:
        return None
    about = [r for r in assurance.of_intent(_intent_dir(intent_id)) if r.get("runId") == latest.run_id]
    return about[-1] if about else None


def phase(found: list[records.RunRecord], latest: records.RunRecord | None, intent_id: str) -> Phase:
    """The intent's phase, as its alerts leave it: a fulfilment phase follows the newest report."""
    said = records.lifecycle_phase(found)
    held = current(intent_id, latest) if said in FULFILMENT_PHASES else None
    if held is None:
        return said
    return lifecycle.PHASE_OF_FULFILMENT.get(held["fulfilment"]["state"], said)


def reports(intent_id: str) -> list[dict[str, Any]]:
    """The intent's assurance IntentReports, oldest first."""
    from include.evidence import assurance

    return [r["intentReport"] for r in assurance.of_intent(_intent_dir(intent_id))]
