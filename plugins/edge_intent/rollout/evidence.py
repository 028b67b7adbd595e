"""evidence.json of any revert the engine made: a pipeline rollback, a re-verification rollback, a
withdrawal (trigger ``withdrawn``) or a reset to a checkpoint, from the plan and what its group's
tasks recorded (the revert's ``reverts``, the restore wait's verdicts, time and failure)."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

from edge_intent.hooks.site_repo import SiteRepoHook
from edge_intent.rollout.revert import Kind
from include.lifecycle import REVERT, WAIT_FOR_RESTORE, Key, in_group

log = logging.getLogger(__name__)


def evidence_dir() -> Path:
    default = Path(os.environ.get("AIRFLOW_HOME", Path.home() / "airflow")) / "edge-intent" / "evidence"
    return Path(os.environ.get("EDGE_INTENT_EVIDENCE_DIR", default))


def _pull(ti: Any, task_id: str, key: str = Key.RETURN) -> Any:
    index = getattr(ti, "map_index", -1)
    mapped = {"map_indexes": index} if isinstance(index, int) and index >= 0 else {}
    return ti.xcom_pull(task_ids=task_id, key=key, **mapped)


def restore_of(ti: Any, group: str, reverts: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    """The restore as evidence has it, and the restore wait's own failure message when it failed.

    ``{"sites": {site: verdict}, "completedAt", "seconds"}``: every site's last verdict (from the
    wait's result, or from its failure when it failed: the sites it did see done are confirmed, the
    others are named with what they said); ``completedAt`` only when every site confirmed it. None
    when the wait never ran.
    """
    wait = in_group(group, WAIT_FOR_RESTORE)
    restored = _pull(ti, wait)
    completed_at = _pull(ti, wait, Key.COMPLETED_AT)
    failure = _pull(ti, wait, Key.FAILURE)
    failure = failure if isinstance(failure, dict) else {}
    message = failure.get("message")
    if restored is None or not completed_at:
        if not failure.get("sites"):
            return None, message
        return {"sites": failure["sites"], "completedAt": None, "seconds": None}, message
    pushed = [r["pushedAt"] for r in reverts.values() if r.get("pushedAt")]
    return {
        "sites": restored,
        "completedAt": completed_at,
        "seconds": round(completed_at - max(pushed), 3) if pushed else None,
    }, message


def _errors(reverts: dict[str, Any], restore: dict[str, Any] | None, restore_failure: str | None, what: str):
    errors = [f"{site}: {r['error']}" for site, r in sorted(reverts.items()) if r.get("error")]
    if not reverts:
        errors.append("no revert was made: the revert task did not run to the end")
    elif not (restore and restore.get("completedAt")) and not errors:
        errors.append(restore_failure or f"the sites did not report the {what} as synced")
    return errors


def _reset_document(revert_plan, reverts, restore, restore_failure, dag_id, run_id, git_conn_id):
    from include.evidence import checkpoint

    hook = SiteRepoHook(git_conn_id)
    matches = {
        site: hook.get_repo(site).same_tree(r["tagCommit"], r["sha"])
        for site, r in sorted(reverts.items())
        if r.get("sha") and r.get("tagCommit")
    }
    document = checkpoint.build_reset(
        name=revert_plan["name"],
        tag=revert_plan["tag"],
        dag_id=dag_id,
        run_id=run_id,
        reason=revert_plan.get("reason") or "",
        reverts=reverts,
        restore=restore,
        matches=matches,
        now=time.time(),
        restore_error=restore_failure,
    )
    return document, checkpoint.write(document, evidence_dir())


def _intent_document(revert_plan, reverts, restore, restore_failure, dag_id, run_id):
    from include.evidence import document as documents

    withdraw = revert_plan["kind"] == Kind.WITHDRAW
    sites = revert_plan["sites"]
    document = documents.build(
        intent_id=revert_plan["intentId"],
        dag_id=dag_id,
        run_id=run_id,
        trigger=revert_plan["trigger"],
        verdict=revert_plan.get("verdict"),
        failure=revert_plan.get("failure"),
        delivered={site: {"sha": planned["commits"][0]} for site, planned in sites.items()},
        reverts=reverts,
        restore=restore,
        errors=_errors(reverts, restore, restore_failure, "withdrawal" if withdraw else "restore"),
        now=time.time(),
    )
    if withdraw:
        document["reason"] = revert_plan.get("reason") or ""
        document["withdrawn"] = {site: planned["commits"] for site, planned in sorted(sites.items())}
    if revert_plan.get("rollout"):  # a progressive rollout rolled back: its waves, as the gate saw them
        document["rollout"] = revert_plan["rollout"]
    if withdraw or revert_plan.get("rollout"):
        document["sha256"] = documents.digest(document)
    return document, documents.write(document, evidence_dir())


def record(
    revert_plan: dict[str, Any],
    ti: Any,
    *,
    group: str,
    dag_id: str,
    run_id: str,
    git_conn_id: str = SiteRepoHook.default_conn_name,
) -> dict[str, Any]:
    """Write evidence.json of the revert made by the task group ``group``; return its summary."""
    reverts = _pull(ti, in_group(group, REVERT), Key.REVERTS) or {}
    restore, restore_failure = restore_of(ti, group, reverts)
    if revert_plan["kind"] == Kind.RESET:
        document, path = _reset_document(
            revert_plan, reverts, restore, restore_failure, dag_id, run_id, git_conn_id
        )
    else:
        document, path = _intent_document(revert_plan, reverts, restore, restore_failure, dag_id, run_id)
    log.warning(
        "Evidence of the %s (%s, result %s): %s",
        revert_plan["kind"],
        revert_plan.get("trigger"),
        document["result"],
        path,
    )
    summary = {
        "kind": revert_plan["kind"],
        "intentId": revert_plan.get("intentId"),
        "result": document["result"],
        "trigger": revert_plan.get("trigger"),
        "path": str(path),
        "sha256": document["sha256"],
        "sites": sorted(revert_plan["sites"]),
        "reverts": {site: r.get("sha") for site, r in sorted(reverts.items())},
        "errors": document.get("errors", []),
    }
    if revert_plan["kind"] == Kind.RESET:
        summary["checkpoint"] = revert_plan["name"]
    ti.xcom_push(key=Key.SUMMARY, value=summary)
    return summary
