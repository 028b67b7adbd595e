"""A run's rollout as users see it, live: the rollout record (closed, else the last gate's, else the
plan's skeleton before the first gate) with each site's task states of the waves still running and
the rollback's reverts. The intent API's status body, the TMF921 report and the Rollout page read it.
"""

from __future__ import annotations

from typing import Any

from edge_intent.api.records import ACTIVE, RunRecord
from include import lifecycle
from include.lifecycle import Key
from include.rollout import record as records
from include.rollout.strategy import RolloutPlan

SITE_TASKS = lifecycle.SITE_TASKS


def view(run: RunRecord) -> dict[str, Any] | None:
    """The run's rollout record with ``tasks`` (each site's task states) and ``live`` per site, or
    None when the run planned no rollout (it did not get past ``validate``)."""
    found = run.rollout
    if found is None:
        plan = run.xcom(lifecycle.VALIDATE, Key.ROLLOUT)
        if not plan:
            return None
        intent_id = run.xcom(lifecycle.VALIDATE, Key.INTENT_ID) or ""
        found = records.start(RolloutPlan.from_json(plan), intent_id=intent_id, run_id=run.run_id)
    found = {**found, "waves": [dict(w, sites=dict(w["sites"])) for w in found["waves"]]}
    for wave in found["waves"]:
        index = wave["index"]
        for site, outcome in wave["sites"].items():
            tasks = {
                task: run.mapped.get(lifecycle.wave_task(index, task), {}).get(site)
                for task in SITE_TASKS
                if run.mapped.get(lifecycle.wave_task(index, task), {}).get(site)
            }
            entry = {**outcome, "tasks": tasks}
            if outcome["state"] == records.UNTOUCHED and tasks:
                entry["state"] = "in_progress" if set(tasks.values()) & ACTIVE else outcome["state"]
            wave["sites"][site] = entry
        approve = run.tasks.get(lifecycle.wave_task(index, lifecycle.APPROVE))
        if approve == "awaiting_input":
            wave["state"] = "AwaitingApproval"
        elif wave["state"] == "Pending" and any(
            s in ACTIVE
            for t in SITE_TASKS
            for s in run.mapped.get(lifecycle.wave_task(index, t), {}).values()
        ):
            wave["state"] = "Progressing"
    reverts = run.xcom(lifecycle.ROLLBACK_REVERT, Key.REVERTS) or {}
    restored = run.xcom(lifecycle.ROLLBACK_RESTORE) or {}
    if reverts and not found.get("reverts"):
        found["reverts"] = {
            site: {
                "commit": r.get("sha"),
                "error": r.get("error"),
                "restoredAt": (restored.get(site) or {}).get("at"),
            }
            for site, r in reverts.items()
        }
    return found


def sites(found: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """``{site: its wave, state, commit, times, SLO verdict, failure and reverts}`` of a view."""
    out: dict[str, dict[str, Any]] = {}
    for wave in (found or {}).get("waves", []):
        for site, outcome in wave["sites"].items():
            out[site] = {"wave": wave["index"], "waveName": wave["name"], **outcome}
    for site, revert in ((found or {}).get("reverts") or {}).items():
        out.setdefault(site, {})["rollback"] = revert
    return out
