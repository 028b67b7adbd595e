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
from edge_intent.rollout import delivery
from edge_intent.rollout.evidence import evidence_dir
from edge_intent.rollout.revert import Kind, plan
from include.compiler import api
from include.compiler.config import load_settings
from include.compiler.errors import IntentValidationError
from include.lifecycle import (
    COMPILE,
    DELIVER,
    RENDER,
    REPORT,
    ROLLBACK_EVIDENCE,
    ROLLBACK_GROUP,
    ROLLBACK_REVERT,
    VERIFY_SLOS,
    WAIT_FOR_O2IMS,
    WAIT_FOR_SYNC,
    Key,
)

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


def deliver(rendered: dict[str, Any], *, dry_run: bool, run_id: str | None, ti: Any | None = None):
    """Delivering: every site's package, one commit per site (see :func:`delivery.deliver`)."""
    if dry_run:
        raise AirflowSkipException(
            f"dry run: intent {rendered['intentId']} compiled and rendered, nothing delivered"
        )
    return delivery.deliver(rendered["intentId"], rendered["sites"], run_id=run_id, ti=ti)


def decide(ti: Any, run_id: str, dry_run: bool) -> str | list[str]:
    """After Verifying: ``report`` when every rollback-class SLO was met; the rollback group when
    anything after Delivering failed or an SLO broke; nothing when nothing was delivered (Git says
    what was, not only the ``delivered`` XCom that a retry erases)."""
    if dry_run:
        log.info("Dry run: nothing was delivered, nothing to report or roll back")
        return []
    if not delivery.delivered(ti, run_id):
        log.info("Nothing was delivered: nothing to report or roll back")
        return []
    verdict = ti.xcom_pull(task_ids=VERIFY_SLOS)
    if verdict and verdict.get("result") == "pass":
        log.info("Every rollback-class SLO was met: Succeeded")
        return REPORT
    reason = (
        f"SLO verdict {verdict['result']} ({verdict['trigger']})"
        if verdict
        else "a phase after Delivering failed"
    )
    log.warning("Rolling back: %s", reason)
    return ROLLBACK_GROUP


def _trigger(ti: Any) -> tuple[str, dict[str, Any] | None, dict[str, Any] | None]:
    verdict = ti.xcom_pull(task_ids=VERIFY_SLOS)
    if verdict and verdict.get("result") == "breach":
        return verdict.get("trigger") or "slo_breach", verdict, None
    for task_id, kind in ((WAIT_FOR_SYNC, "sync"), (WAIT_FOR_O2IMS, "o2ims")):
        failure = ti.xcom_pull(task_ids=task_id, key=Key.FAILURE)
        if failure:
            return f"{kind}_{'timeout' if failure['kind'] == 'timeout' else 'failed'}", verdict, failure
    if ti.xcom_pull(task_ids=DELIVER) is None:
        return "delivery_failed", verdict, None
    return "verification_failed", verdict, None


def rollback_plan(context: dict[str, Any]) -> dict[str, Any]:
    """RollingBack: revert exactly this run's commit on each site it reached."""
    ti, run_id = context["ti"], context["run_id"]
    # A delivery that made no commit (the same files were already on main) belongs to an earlier
    # run that stands behind it: this run has nothing of its own there to revert.
    delivered = {site: d for site, d in delivery.delivered(ti, run_id).items() if d.get("created", True)}
    if not delivered:
        raise AirflowFailException("this run made no delivery commit of its own: nothing to roll back")
    trigger, verdict, failure = _trigger(ti)
    return plan(
        Kind.ROLLBACK,
        {site: [d["sha"]] for site, d in delivered.items()},
        intent_id=ti.xcom_pull(task_ids=RENDER)["intentId"],
        trigger=trigger,
        verdict=verdict,
        failure=failure,
    )


def report(ti: Any, run_id: str) -> dict[str, Any]:
    """Succeeded: the TS 28.312 IntentFulfilmentReport and the TMF921 IntentReport."""
    from include.compiler import ts28312
    from include.evidence import document
    from include.evidence import report as reports

    intent = ts28312.Intent.model_validate(ti.xcom_pull(task_ids=COMPILE)["intent"])
    verdict = ti.xcom_pull(task_ids=VERIFY_SLOS)
    fulfilment = reports.fulfilment_report(intent, verdict)
    intent_report = reports.intent_report(intent, fulfilment, run_id=run_id, now=time.time())
    folder = document.run_folder(evidence_dir(), intent.id, run_id)
    path = folder / "intent-report.json"
    path.write_text(json.dumps(intent_report.to_json(), indent=2) + "\n", encoding="utf-8")
    log.info(
        "Intent %s Succeeded; fulfilment %s; report %s",
        intent.id,
        fulfilment.intentFulfilmentInfo.fulfilmentStatus,
        path,
    )
    return {"path": str(path), "intentReport": intent_report.to_json()}


def watch(ti: Any, dry_run: bool) -> str:
    """Make the run end Failed unless the intent reached Succeeded (RollingBack ends Failed too)."""
    if ti.xcom_pull(task_ids=REPORT):
        return "Succeeded"
    evidence = ti.xcom_pull(task_ids=ROLLBACK_EVIDENCE)
    if evidence or ti.xcom_pull(task_ids=ROLLBACK_REVERT, key=Key.REVERTS):
        where = (
            f"evidence {evidence['result']}: {evidence['path']}"
            if evidence
            else "no evidence could be written"
        )
        raise AirflowFailException(f"the intent was rolled back ({where})")
    if dry_run and ti.xcom_pull(task_ids=RENDER):
        return "Dry run: compiled and rendered, nothing delivered"
    delivered = ti.xcom_pull(task_ids=DELIVER, key=Key.DELIVERED)
    if delivered:
        raise AirflowFailException(
            f"delivered to {', '.join(sorted(delivered))} and NOT rolled back (see the failed task): "
            "withdraw it with intent_withdraw, or let intent_reconcile take it out"
        )
    raise AirflowFailException("the run failed before anything was delivered; see the failed task")
