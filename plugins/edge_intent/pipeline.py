"""Bodies of the intent pipeline's tasks; the DAG file only wires them.

Each returns what the next phase needs, small enough for XCom: the TMF921 intent, the TS 28.312
intent and each site's files, the commits delivered. Invalid input raises
:class:`InvalidIntent` (no retry), with the field errors in the log and in the XCom ``errors``.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from edge_intent.sites import site_repo
from include.compiler import api, names
from include.compiler.config import load_settings
from include.compiler.errors import IntentValidationError
from include.gitops.repo import commit_message

log = logging.getLogger(__name__)

PHASES = {
    "validate": "Pending",
    "compile": "Compiling",
    "render": "Rendering",
    "deliver": "Delivering",
    "wait_for_sync": "Reconciling",
    "wait_for_o2ims": "Reconciling",
    "verify_slos": "Verifying",
    "decide": "Verifying",
    "report": "Succeeded",
    "rollback.revert": "RollingBack",
    "rollback.wait_for_restore": "RollingBack",
    "rollback.evidence": "RollingBack",
    "watcher": "Outcome",
}


class InvalidIntent(AirflowFailException):
    """The intent is invalid; the message lists every field and reason."""


def _refuse(exc: IntentValidationError, ti: Any | None) -> InvalidIntent:
    for error in exc.errors:
        log.error("Invalid intent: %s: %s", error.field, error.reason)
    if ti is not None:
        ti.xcom_push(key="errors", value=exc.as_dict())
    return InvalidIntent(str(exc))


def validate(params: dict[str, Any], ti: Any | None = None) -> dict[str, Any]:
    """Pending: read the intent (text or TMF921) and validate it through TS 28.312."""
    settings = load_settings()
    raw = params.get("intent")
    sites = list(params.get("sites") or []) or None
    try:
        if isinstance(raw, dict) or (isinstance(raw, str) and raw.lstrip().startswith("{")):
            if sites:
                raise IntentValidationError.single(
                    "sites",
                    "the site override applies to natural-language intents; a TMF921 intent names "
                    "its sites in its expression",
                    stage="parse",
                )
            tmf = api.load_intent(json.dumps(raw) if isinstance(raw, dict) else raw)
        elif isinstance(raw, str):
            tmf = api.parse(raw, settings, sites=sites)
        else:
            raise IntentValidationError.single(
                "intent", "give natural-language text or a TMF921 Intent object", stage="parse"
            )
        intent = api.to_28312(tmf, settings)
    except IntentValidationError as exc:
        raise _refuse(exc, ti) from None
    log.info("Intent %s (%s) is valid: sites %s", intent.id, intent.userLabel, ", ".join(intent.sites))
    if ti is not None:  # the index by which the intent API finds every run of an intent
        ti.xcom_push(key="intent_id", value=intent.id)
    return tmf.to_json()


def compile_intent(tmf: dict[str, Any], ti: Any | None = None) -> dict[str, Any]:
    """Compiling: TMF921 to TS 28.312 to each site's unrendered package."""
    settings = load_settings()
    try:
        intent = api.to_28312(tmf, settings)
        packages = api.packages(intent, settings)
    except IntentValidationError as exc:
        raise _refuse(exc, ti) from None
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


def deliver(
    rendered: dict[str, Any], *, dry_run: bool, run_id: str | None, ti: Any | None = None
) -> dict[str, dict[str, Any]]:
    """Delivering: commit each site's package under ``intents/<id>/`` and push; one commit per site."""
    intent_id = rendered["intentId"]
    if dry_run:
        raise AirflowSkipException(f"dry run: intent {intent_id} compiled and rendered, nothing delivered")
    delivered = {}
    for site, files in sorted(rendered["sites"].items()):
        repo = site_repo(site)
        result = repo.deliver(intent_id, files, message=commit_message(intent_id, site, run_id))
        log.info(
            "Delivered intent %s to %s: commit %s (%s, %d push attempt(s), %.2f s)",
            intent_id,
            site,
            result.sha,
            "new" if result.created else "already there",
            result.attempts,
            result.seconds,
        )
        delivered[site] = {
            "sha": result.sha,
            "created": result.created,
            "repo": repo.url,
            "provisioningRequest": names.provisioning_request(intent_id, site),
            "seconds": round(result.seconds, 3),
            "pushedAt": time.time(),  # the push has just landed (or was already there)
        }
        if ti is not None:  # what has been pushed so far, kept even if a later site fails
            ti.xcom_push(key="delivered", value=delivered)
    return delivered


# -- Verifying, Succeeded, RollingBack -----------------------------------------------------------


class RollbackFailed(AirflowFailException):
    """A revert could not be done (a conflict, or the Git server refused); recorded in the evidence."""


def evidence_dir() -> Path:
    import os

    default = Path(os.environ.get("AIRFLOW_HOME", Path.home() / "airflow")) / "edge-intent" / "evidence"
    return Path(os.environ.get("EDGE_INTENT_EVIDENCE_DIR", default))


def decide(ti: Any, dry_run: bool) -> str | list[str]:
    """After Verifying: ``report`` when every rollback-class SLO was met; the ``rollback`` group when
    anything after Delivering failed or an SLO broke; nothing when nothing was delivered."""
    delivered = ti.xcom_pull(task_ids="deliver", key="delivered") or {}
    if not delivered:
        log.info("Nothing was delivered%s: nothing to report or roll back", " (dry run)" if dry_run else "")
        return []
    verdict = ti.xcom_pull(task_ids="verify_slos")
    if verdict and verdict.get("result") == "pass":
        log.info("Every rollback-class SLO was met: Succeeded")
        return "report"
    reason = (
        f"SLO verdict {verdict['result']} ({verdict['trigger']})"
        if verdict
        else "a phase after Delivering failed"
    )
    log.warning("Rolling back: %s", reason)
    return "rollback"


def _trigger(ti: Any) -> tuple[str, dict[str, Any] | None, dict[str, Any] | None]:
    verdict = ti.xcom_pull(task_ids="verify_slos")
    if verdict and verdict.get("result") == "breach":
        return verdict.get("trigger") or "slo_breach", verdict, None
    for task_id, kind in (("wait_for_sync", "sync"), ("wait_for_o2ims", "o2ims")):
        failure = ti.xcom_pull(task_ids=task_id, key="failure")
        if failure:
            return f"{kind}_{'timeout' if failure['kind'] == 'timeout' else 'failed'}", verdict, failure
    if ti.xcom_pull(task_ids="deliver") is None:
        return "delivery_failed", verdict, None
    return "verification_failed", verdict, None


def revert(ti: Any, run_id: str) -> dict[str, dict[str, Any]]:
    """RollingBack: revert exactly this run's commit on each site it reached, and push."""
    import time

    from include.gitops.repo import GitError, revert_message

    delivered = ti.xcom_pull(task_ids="deliver", key="delivered") or {}
    intent_id = ti.xcom_pull(task_ids="render")["intentId"]
    trigger, _, _ = _trigger(ti)
    results: dict[str, dict[str, Any]] = {}
    errors = []
    for site, delivery in sorted(delivered.items()):
        try:
            done = site_repo(site).revert(
                intent_id,
                delivery["sha"],
                message=revert_message(intent_id, site, delivery["sha"], run_id, trigger),
            )
        except GitError as exc:
            log.error("Cannot roll back %s at %s: %s", intent_id, site, exc)
            results[site] = {"reverted": delivery["sha"], "error": str(exc)}
            errors.append(f"{site}: {exc}")
            continue
        log.info(
            "Reverted %s at %s: commit %s (main was at %s)", delivery["sha"], site, done.sha, done.previous
        )
        results[site] = {
            "sha": done.sha,
            "reverted": done.reverted,
            "previous": done.previous,
            "created": done.created,
            "removed": done.removed,
            "seconds": round(done.seconds, 3),
            "pushedAt": time.time(),
            "namespace": names.namespace(intent_id),
        }
    ti.xcom_push(key="reverts", value=results)
    if errors:
        raise RollbackFailed("rollback incomplete: " + "; ".join(errors))
    return {
        site: {"sha": r["sha"], "namespace": r["namespace"], "removed": r["removed"]}
        for site, r in results.items()
    }


def write_evidence(ti: Any, dag_id: str, run_id: str) -> dict[str, Any]:
    """RollingBack: evidence.json from what the run measured and did."""
    import time

    from include.evidence import document

    trigger, verdict, failure = _trigger(ti)
    delivered = ti.xcom_pull(task_ids="deliver", key="delivered") or {}
    reverts = ti.xcom_pull(task_ids="rollback.revert", key="reverts") or {}
    restored = ti.xcom_pull(task_ids="rollback.wait_for_restore")
    completed_at = ti.xcom_pull(task_ids="rollback.wait_for_restore", key="completed_at")
    pushed = [r["pushedAt"] for r in reverts.values() if r.get("pushedAt")]
    restore = None
    if restored is not None and completed_at:
        restore = {
            "sites": restored,
            "completedAt": completed_at,
            "seconds": round(completed_at - max(pushed), 3) if pushed else None,
        }
    errors = [f"{site}: {r['error']}" for site, r in sorted(reverts.items()) if r.get("error")]
    if not reverts:
        errors.append("no revert was made: the revert task did not run to the end")
    elif restore is None and not errors:
        errors.append("the sites did not report the restore as synced")
    intent_id = ti.xcom_pull(task_ids="render")["intentId"]
    evidence = document.build(
        intent_id=intent_id,
        dag_id=dag_id,
        run_id=run_id,
        trigger=trigger,
        verdict=verdict,
        failure=failure,
        delivered=delivered,
        reverts=reverts,
        restore=restore,
        errors=errors,
        now=time.time(),
    )
    path = document.write(evidence, evidence_dir())
    log.warning(
        "Evidence of the rollback of %s (%s, result %s): %s", intent_id, trigger, evidence["result"], path
    )
    return {"path": str(path), "sha256": evidence["sha256"], "result": evidence["result"], "trigger": trigger}


def report(ti: Any, run_id: str) -> dict[str, Any]:
    """Succeeded: the TS 28.312 IntentFulfilmentReport and the TMF921 IntentReport."""
    import json
    import time

    from include.compiler import ts28312
    from include.evidence import document
    from include.evidence import report as reports

    intent = ts28312.Intent.model_validate(ti.xcom_pull(task_ids="compile")["intent"])
    verdict = ti.xcom_pull(task_ids="verify_slos")
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
    if ti.xcom_pull(task_ids="report"):
        return "Succeeded"
    evidence = ti.xcom_pull(task_ids="rollback.evidence")
    if evidence or ti.xcom_pull(task_ids="rollback.revert", key="reverts"):
        where = f"evidence: {evidence['path']}" if evidence else "no evidence could be written"
        raise AirflowFailException(f"the intent was rolled back ({where})")
    if dry_run and ti.xcom_pull(task_ids="render"):
        return "Dry run: compiled and rendered, nothing delivered"
    raise AirflowFailException("the run failed before anything was delivered; see the failed task")
