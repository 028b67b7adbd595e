"""Bodies of the intent pipeline's own tasks (Compiling, Rendering, the decision, Succeeded, the
watcher); the DAG file only wires them. Intake is :mod:`edge_intent.intake`; delivering, waiting,
verifying, reverting and evidence are the rollout engine's (:mod:`edge_intent.rollout`).

Each returns what the next phase needs, small enough for XCom: the TS 28.312 intent and each site's
files, the commits delivered.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from edge_intent.intake import refuse
from edge_intent.rollout import delivery, waves
from edge_intent.rollout.evidence import evidence_dir
from edge_intent.rollout.revert import Kind, plan
from include.compiler import api
from include.compiler.config import load_settings
from include.compiler.errors import IntentValidationError
from include.lifecycle import (
    COMPILE,
    RENDER,
    REPORT,
    ROLLBACK_EVIDENCE,
    ROLLBACK_GROUP,
    ROLLBACK_RESTORE,
    ROLLBACK_REVERT,
    ROLLOUT,
    VERIFY_SLOS,
    Fulfilment,
    Key,
    Phase,
)
from include.rollout import record as records
from include.rollout.record import PASSED, combined_verdict
from include.rollout.strategy import RolloutPlan

log = logging.getLogger(__name__)


def compile_intent(tmf: dict[str, Any], ti: Any | None = None) -> dict[str, Any]:
    """Compiling: TMF921 to TS 28.312 to each site's unrendered package."""
    settings = load_settings()
    try:
        intent = api.to_28312(tmf, settings)
        packages = api.packages(intent, settings)
    except IntentValidationError as exc:
        raise refuse(exc, ti) from None
    log.info("Compiled intent %s for %s", intent.id, ", ".join(packages))
    return {"intent": intent.to_json(), "packages": packages}


def render(compiled: dict[str, Any]) -> dict[str, Any]:
    """Rendering: the real ``kpt fn render`` of every site's package."""
    with tempfile.TemporaryDirectory(prefix="render-") as tmp:
        placed = api.render_packages(compiled["packages"], Path(tmp) / "out")
        sites = {
            site: {p.name: p.read_text(encoding="utf-8") for p in sorted(directory.iterdir())}
            for site, directory in placed.items()
        }
    intent_id = compiled["intent"]["id"]
    log.info(
        "Rendered intent %s: %s",
        intent_id,
        ", ".join(f"{site} ({len(files)} files)" for site, files in sites.items()),
    )
    return {"intentId": intent_id, "sites": sites}


def deliver(rendered: dict[str, Any], site: str, *, plan: dict[str, Any], run_id: str | None, ti: Any = None):
    """Delivering, one site of a wave (see :func:`delivery.deliver`); the rollout's progressDeadline
    rides on the delivery for the waits."""
    return delivery.deliver(
        rendered["intentId"],
        {site: rendered["sites"][site]},
        run_id=run_id,
        ti=ti,
        progress_deadline=RolloutPlan.from_json(plan).progressDeadline,
    )


def start_wave(ti: Any, run_id: str, index: int, dry_run: bool) -> list[str]:
    """A wave's sites (see :func:`waves.start`), read by its approve task; a dry run starts none."""
    if dry_run:
        raise AirflowSkipException("dry run: compiled and rendered, nothing delivered")
    return waves.start(ti, run_id, index)


def decide(ti: Any, run_id: str, dry_run: bool) -> str | list[str]:
    """After the last wave: ``report`` when the rollout went through (every failure within
    maxFailures, reverted alone) and some site passed; the rollback group when it stopped or
    anything delivered is not accounted for; nothing when nothing is left delivered (Git says
    what was, not only the ``delivered`` XComs that a retry erases)."""
    if dry_run:
        log.info("Dry run: nothing was delivered, nothing to report or roll back")
        return []
    delivered = delivery.delivered(ti, run_id)
    if not delivered:
        log.info("Nothing was delivered: nothing to report or roll back")
        return []
    found = waves.latest(ti)
    remaining = _remaining(found, delivered)
    passed = [
        s for w in (found or {}).get("waves", []) for s, o in w["sites"].items() if o["state"] == PASSED
    ]
    if found and not found["stopped"] and passed:
        log.info(
            "The rollout went through: %s passed (%d failure(s) tolerated)",
            ", ".join(passed),
            found["failures"],
        )
        return REPORT
    if not remaining:
        log.warning("Every delivered site failed and was reverted alone: nothing left to roll back")
        return []
    reason = found["stopped"]["reason"] if found and found["stopped"] else "a wave did not complete"
    log.warning("Rolling back %s: %s", ", ".join(remaining), reason)
    return ROLLBACK_GROUP


def _remaining(found: dict[str, Any] | None, delivered: dict[str, dict[str, Any]]) -> list[str]:
    """Sites with a commit of this run's own still in effect (not reverted alone)."""
    reverted = {
        site
        for w in (found or {}).get("waves", [])
        for site, o in w["sites"].items()
        if (o.get("revert") or {}).get("commit")
    }
    return sorted(site for site, d in delivered.items() if d.get("created", True) and site not in reverted)


def _trigger(
    ti: Any, found: dict[str, Any] | None
) -> tuple[str, dict[str, Any] | None, dict[str, Any] | None]:
    """Why the rollout stopped, and the failed site's SLO verdict or wait failure (for evidence)."""
    stopped = (found or {}).get("stopped")
    if not stopped:
        return "verification_failed", None, None
    index = stopped["wave"]
    wave = found["waves"][index - 1]
    if wave["state"] == "Rejected":
        decision = (wave["approval"].get("decision") or "Reject").lower()
        return ("approval_timeout" if decision == "timedout" else "approval_rejected"), None, None
    failed = wave.get("failed") or []
    if not failed:
        return "rollout_stopped", None, None
    # the site that failed earliest in the lifecycle names the trigger (a failed delivery is the cause
    # of what the other sites' waits then saw)
    order = list(Phase)
    site = min(failed, key=lambda s: (order.index(Phase(wave["sites"][s]["failure"]["phase"])), s))
    seen = waves.seen(ti, index).get(site, {})
    trigger = records.trigger_of(wave["sites"][site]["failure"]["reason"])
    return trigger, seen.get("slo"), seen.get("syncFailure") or seen.get("o2imsFailure")


def rollback_plan(context: dict[str, Any]) -> dict[str, Any]:
    """RollingBack: revert exactly this run's commits on each site it reached and did not revert yet
    (its delivery, and the scale commits its Verifying added), the newest wave first."""
    ti, run_id = context["ti"], context["run_id"]
    # A delivery that made no commit (the same files were already on main) belongs to an earlier
    # run that stands behind it: this run has nothing of its own there to revert.
    delivered = delivery.delivered(ti, run_id)
    found = waves.latest(ti)
    remaining = _remaining(found, delivered)
    if not remaining:
        raise AirflowFailException(
            "this run has no delivery commit of its own in effect: nothing to roll back"
        )
    rollout_plan = waves.plan_of(ti)
    wave_of = {s: w.index for w in rollout_plan.waves for s in w.sites} if rollout_plan else {}
    order = sorted(remaining, key=lambda s: (-wave_of.get(s, 0), s))
    trigger, verdict, failure = _trigger(ti, found)
    intent_id = ti.xcom_pull(task_ids=RENDER)["intentId"]
    commits = delivery.run_commits(intent_id, run_id, remaining)  # the delivery and its scale commits
    return plan(
        Kind.ROLLBACK,
        {site: commits.get(site) or [delivered[site]["sha"]] for site in remaining},
        intent_id=intent_id,
        trigger=trigger,
        reason=(found or {}).get("stopped", {}).get("reason", "") if found else "",
        verdict=verdict,
        failure=failure,
        order=order,
        rollout=found,
    )


def report(ti: Any, run_id: str) -> dict[str, Any]:
    """The report: the TS 28.312 IntentFulfilmentReport and the TMF921 IntentReport, and what they say
    of the intent (``fulfilment``: Fulfilled, Degraded or Unverified; see :mod:`include.evidence.report`)."""
    from include.compiler import ts28312
    from include.evidence import alerts, assurance, document
    from include.evidence import report as reports

    intent = ts28312.Intent.model_validate(ti.xcom_pull(task_ids=COMPILE)["intent"])
    found = waves.latest(ti) or {}
    verdict = combined_verdict(
        [
            v
            for w in found.get("waves", [])
            for v in waves.pulled(ti, w["index"], VERIFY_SLOS, Key.VERDICT)
            if isinstance(v, dict) and v.get("result") == "pass"
        ]
    )
    fulfilment_report = reports.fulfilment_report(intent, verdict)
    fulfilment = reports.fulfilment(intent, fulfilment_report)
    verified = fulfilment_report  # what the verification showed, before any alert
    firing = alerts.firing(evidence_dir(), intent.id)
    if firing:  # Alertmanager's alerts about the intent fire now: the report says so
        fulfilment_report, fulfilment = assurance.degrade(intent, fulfilment_report, firing)
    folder = document.run_folder(evidence_dir(), intent.id, run_id)
    # the intent's reports are numbered in the order their runs wrote them (a retry keeps its own)
    number = 1 + sum(1 for p in folder.parent.glob("*/intent-report.json") if p.parent != folder)
    intent_report = reports.intent_report(
        intent, fulfilment_report, run_id=run_id, now=time.time(), number=number, state=fulfilment["state"]
    )
    path = folder / "intent-report.json"
    path.write_text(json.dumps(intent_report.to_json(), indent=2) + "\n", encoding="utf-8")
    log.info("Intent %s %s; report %s", intent.id, fulfilment["state"], path)
    for line in fulfilment["missed"]:
        log.warning("Missed: %s", line)
    for line in fulfilment["notVerifiable"]:
        log.warning("Not verifiable: %s", line)
    return {
        "path": str(path),
        "intentReport": intent_report.to_json(),
        "fulfilment": fulfilment,
        "alerts": firing,
        "verifiedReport": verified.to_json(),
    }


def close_rollout(ti: Any, run_id: str) -> dict[str, Any]:
    """The run's rollout record, closed (Succeeded, RolledBack or Failed, with the rollback's reverts
    and evidence), written as ``rollout.json`` beside ``evidence.json``."""
    from include.evidence import document

    found = waves.latest(ti)
    if found is None:
        raise AirflowSkipException("no rollout was planned (the intent was not validated)")
    closed = records.close(
        found,
        succeeded=bool(ti.xcom_pull(task_ids=REPORT)),
        reverts=ti.xcom_pull(task_ids=ROLLBACK_REVERT, key=Key.REVERTS),
        restored=ti.xcom_pull(task_ids=ROLLBACK_RESTORE),
        evidence=ti.xcom_pull(task_ids=ROLLBACK_EVIDENCE),
    )
    folder = document.run_folder(evidence_dir(), found["intentId"], run_id)
    path = document.write_atomic(closed, folder, "rollout.json")
    log.info("Rollout %s: %s, %d failure(s); record %s", run_id, closed["state"], closed["failures"], path)
    return {**closed, "path": str(path)}


def outcome_of(fulfilment: dict[str, Any]) -> str:
    """The outcome of a run that went through, in words: Succeeded only when every target was met."""
    state = fulfilment.get("state")
    if state == Fulfilment.DEGRADED:
        return "Degraded (the intent stays deployed): missed " + "; ".join(fulfilment["missed"])
    if state == Fulfilment.UNVERIFIED:
        return "Unverified (nothing missed; not every target could be shown): " + "; ".join(
            fulfilment["notVerifiable"]
        )
    return "Succeeded: every target of the intent met"


def note_run(ti: Any, note: str, airflow_api_conn_id: str = "airflow_api") -> None:
    """Put ``note`` on the run, where the grid shows it: a run that went through Degraded or
    Unverified ends ``success`` in Airflow (its intent stays), and the note says it is not plainly
    Succeeded. Without Airflow's REST API (a DAG test) the watcher's XCom and log say it alone."""
    from edge_intent.hooks.airflow_api import AirflowApiHook
    from include.evidence.assurance import keep_alerts

    try:
        hook = AirflowApiHook(airflow_api_conn_id)
        existing = hook.get_dag_run(ti.dag_id, ti.run_id).get("note")
        hook.set_dag_run_note(ti.dag_id, ti.run_id, keep_alerts(note, existing))
    except Exception as exc:  # no connection or no api-server: the outcome is in the XCom and log
        log.warning("The run's note could not be set (%s); the outcome: %s", exc, note)
        return
    log.info("Run note: %s", note)


def watch(ti: Any, dry_run: bool) -> str:
    """Make the run end Failed unless the intent went through (RollingBack ends Failed too); say
    whether it went through Succeeded, Degraded or Unverified."""
    found = ti.xcom_pull(task_ids=ROLLOUT) or {}
    reported = ti.xcom_pull(task_ids=REPORT)
    if reported:
        outcome = outcome_of(reported.get("fulfilment") or {})
        if found.get("failures"):
            outcome += f"; {found['failures']} failed site(s) reverted alone, within maxFailures"
        if (reported.get("fulfilment") or {}).get("state") in (Fulfilment.DEGRADED, Fulfilment.UNVERIFIED):
            note_run(ti, outcome)
        return outcome
    evidence = ti.xcom_pull(task_ids=ROLLBACK_EVIDENCE)
    if evidence or ti.xcom_pull(task_ids=ROLLBACK_REVERT, key=Key.REVERTS):
        where = (
            f"evidence {evidence['result']}: {evidence['path']}"
            if evidence
            else "no evidence could be written"
        )
        stopped = (found.get("stopped") or {}).get("reason")
        raise AirflowFailException(f"the intent was rolled back{f' ({stopped})' if stopped else ''}; {where}")
    if dry_run and ti.xcom_pull(task_ids=RENDER):
        return "Dry run: compiled and rendered, nothing delivered"
    delivered = delivery.in_xcom(ti, waves.plan_of(ti))
    remaining = _remaining(found or waves.latest(ti), delivered)
    if remaining:
        raise AirflowFailException(
            f"delivered to {', '.join(remaining)} and NOT rolled back (see the failed task): "
            "withdraw it with intent_withdraw, or let intent_reconcile take it out"
        )
    if delivered:
        raise AirflowFailException(
            f"every delivered site ({', '.join(sorted(delivered))}) failed and was reverted alone; "
            "nothing of the intent stands"
        )
    stopped = (found.get("stopped") or {}).get("reason")
    if stopped:
        raise AirflowFailException(f"the rollout stopped before anything was delivered: {stopped}")
    raise AirflowFailException("the run failed before anything was delivered; see the failed task")
