"""Revert exactly the commits a plan names, on each site, and push; then record what happened.

A plan is plain data (an XCom), made by the DAG that reverts:

``{"kind": "rollback" | "withdraw" | "reset", "intentId", "trigger", "reason", "verdict", "failure",
"sites": {site: {"commits": [sha, ...]}}}``, and for a reset also ``name`` and ``tag``; ``order``
(optional) lists the sites in the order to revert them (a progressive rollout: the newest wave first).

* ``rollback``: the commits one pipeline run delivered (or that re-verification found in effect);
* ``withdraw``: every delivery commit of the intent still in effect; the intent's directory must go
  (unless the plan says ``requireRemoved: false``: orphaned deliveries over a good one);
* ``reset``: every commit after the checkpoint tag, read again when reverting (``main`` may have
  moved since the plan); a site already equal to the checkpoint is left alone.

Never a revert of ``HEAD``, never a force push: commits not named stay.
"""

from __future__ import annotations

import logging
import time
from enum import StrEnum
from typing import Any

from airflow.sdk.exceptions import AirflowFailException

from edge_intent.hooks.site_repo import SiteRepoHook
from include.compiler import names
from include.gitops.repo import GitError, reset_message, revert_message, withdraw_message
from include.lifecycle import Key

log = logging.getLogger(__name__)


class Kind(StrEnum):
    ROLLBACK = "rollback"
    WITHDRAW = "withdraw"
    RESET = "reset"


class RevertIncomplete(AirflowFailException):
    """A revert could not be done on some site (a conflict, or the Git server refused); the other
    sites' reverts stand, and the evidence says which failed."""


def plan(
    kind: Kind,
    sites: dict[str, list[str]],
    *,
    intent_id: str | None,
    trigger: str,
    reason: str = "",
    verdict: dict[str, Any] | None = None,
    failure: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A revert plan (see the module's docstring)."""
    return {
        "kind": str(kind),
        "intentId": intent_id,
        "trigger": trigger,
        "reason": reason,
        "verdict": verdict,
        "failure": failure,
        "sites": {site: {"commits": list(commits)} for site, commits in sorted(sites.items())},
        **extra,
    }


def _record(done: Any, intent_id: str | None, kind: str) -> dict[str, Any]:
    reverted = list(done.reverted) if isinstance(done.reverted, tuple | list) else [done.reverted]
    return {
        "sha": done.sha,
        # a pipeline rollback reverts one delivery per site: named by itself, as the seed's evidence does
        "reverted": reverted[0] if kind == Kind.ROLLBACK and len(reverted) == 1 else reverted,
        "previous": done.previous,
        "created": done.created,
        "removed": bool(done.removed),
        "seconds": round(done.seconds, 3),
        "pushedAt": time.time(),
        "namespace": names.namespace(intent_id) if intent_id else "",
    }


def _revert_site(repo: Any, site: str, planned: dict[str, Any], revert_plan: dict[str, Any], run_id: str):
    kind, intent_id = revert_plan["kind"], revert_plan["intentId"]
    if kind == Kind.RESET:
        tag = revert_plan["tag"]
        tagged, since = repo.commits_since(tag)
        head = since[0] if since else tagged
        if not since or repo.same_tree(tagged, head):
            log.info("%s already holds %s exactly: nothing to revert", site, tag)
            return {
                "sha": head,
                "reverted": [],
                "previous": head,
                "created": False,
                "removed": False,
                "seconds": 0.0,
                "pushedAt": None,
                "namespace": "",
                "tagCommit": tagged,
            }
        message = reset_message(tag, site, len(since), run_id, revert_plan.get("reason") or "")
        done = repo.revert_range(since, message=message, idempotent=False)
        return {**_record(done, None, kind), "tagCommit": tagged}
    commits = planned["commits"]
    if kind == Kind.WITHDRAW:
        message = withdraw_message(intent_id, site, commits, run_id, revert_plan.get("reason") or "")
    else:
        reason = revert_plan.get("reason") or revert_plan["trigger"]
        message = revert_message(intent_id, site, commits[0], run_id, reason)
    require_removed = kind == Kind.WITHDRAW and revert_plan.get("requireRemoved", True)
    done = repo.revert_range(commits, message=message, intent_id=intent_id, require_removed=require_removed)
    return _record(done, intent_id, kind)


def revert(
    revert_plan: dict[str, Any],
    run_id: str,
    ti: Any | None = None,
    git_conn_id: str = SiteRepoHook.default_conn_name,
) -> dict[str, dict[str, Any]]:
    """Revert what the plan names on each of its sites and push; returns the restore wait's targets.

    Every site's record (or its error) is left in the XCom ``reverts`` before anything is raised, so
    the evidence has it even when some site failed.
    """
    hook = SiteRepoHook(git_conn_id)
    results: dict[str, dict[str, Any]] = {}
    errors = []
    # a plan's ``order`` reverts the newest wave first; otherwise, by site name
    order = [s for s in revert_plan.get("order") or [] if s in revert_plan["sites"]]
    for site in order + sorted(set(revert_plan["sites"]) - set(order)):
        planned = revert_plan["sites"][site]
        try:
            results[site] = _revert_site(hook.get_repo(site), site, planned, revert_plan, run_id)
        except GitError as exc:
            log.error("Cannot revert at %s (%s): %s", site, revert_plan["kind"], exc)
            results[site] = {"reverted": planned.get("commits", []), "error": str(exc)}
            if "tagCommit" in planned:
                results[site]["tagCommit"] = planned["tagCommit"]
            errors.append(f"{site}: {exc}")
            continue
        finally:  # what is done so far, kept even if a later site fails in any way
            if ti is not None:
                ti.xcom_push(key=Key.REVERTS, value=results)
        log.info(
            "%s at %s: commit %s (main was at %s)",
            revert_plan["kind"],
            site,
            results[site]["sha"],
            results[site]["previous"],
        )
    if errors:
        raise RevertIncomplete(f"{revert_plan['kind']} incomplete: " + "; ".join(errors))
    return restore_targets(results)


def restore_targets(reverts: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """What the restore wait waits for: each site synced to its revert (and the namespace gone)."""
    return {
        site: {"sha": r["sha"], "namespace": r.get("namespace", ""), "removed": bool(r.get("removed"))}
        for site, r in sorted(reverts.items())
        if r.get("sha")
    }
