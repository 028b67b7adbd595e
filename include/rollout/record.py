"""The rollout record (``rollout.json``): each wave, its sites, commits, sync and O2IMS times, SLO
verdicts, soak, approval, failures and reverts, and the sites never touched. Pure: no Airflow.

Each wave's gate folds what its sites did into the record (:func:`fold_wave`) and decides whether
the rollout goes on; the record's ``stopped`` says why it did not. The pipeline's last task adds the
final rollback (:func:`close`) and writes it beside ``evidence.json``.
"""

from __future__ import annotations

import time
from typing import Any

from include.rollout.strategy import RolloutPlan

PASSED, FAILED, UNTOUCHED, REVERTED = "passed", "failed", "untouched", "reverted"


def start(plan: RolloutPlan, *, intent_id: str, run_id: str) -> dict[str, Any]:
    """The record before any wave: every wave pending, every site untouched."""
    return {
        "intentId": intent_id,
        "runId": run_id,
        "type": plan.type,
        "strategy": plan.strategy,
        "maxFailures": plan.maxFailures,
        "minSuccessTime": plan.minSuccessTime,
        "progressDeadline": plan.progressDeadline,
        "state": "Progressing",
        "failures": 0,
        "stopped": None,
        "waves": [
            {
                "index": w.index,
                "name": w.name,
                "groups": list(w.groups),
                "state": "Pending",
                "approval": {"required": w.approval},
                "sites": {site: {"state": UNTOUCHED} for site in w.sites},
            }
            for w in plan.waves
        ],
        "untouched": [site for w in plan.waves for site in w.sites],
        "reverts": {},
    }


def _failure_of(site: str, seen: dict[str, Any]) -> tuple[str, str] | None:
    """``(phase, reason)`` of a site's first failure, or None when it passed (see :func:`site_outcome`)."""
    if not seen.get("delivery"):
        return "Delivering", "delivery_failed: no commit reached the site"
    for phase, key, what in (
        ("Reconciling", "syncFailure", "sync"),
        ("Reconciling", "o2imsFailure", "o2ims"),
    ):
        failure = seen.get(key)
        if failure:
            verdict = (failure.get("sites") or {}).get(site) or {}
            detail = verdict.get("message") or failure.get("message") or ""
            if failure.get("kind") == "timeout":
                return phase, f"{what}_timeout: missed the progress deadline ({detail})"
            return phase, f"{what}_failed: {detail}"
    verdict = seen.get("slo")
    if not verdict:
        waits = [k for k in ("synced", "provisioned") if not seen.get(k)]
        if waits:
            return (
                "Reconciling",
                f"{'sync' if 'synced' in waits else 'o2ims'}_failed: the wait did not complete",
            )
        return "Verifying", "verification_failed: no SLO verdict"
    if verdict.get("result") != "pass":
        broken = [_breach(b) for b in verdict.get("breaches") or [] if b.get("site") in (site, None)]
        detail = "; ".join(broken) or verdict.get("result")
        return "Verifying", f"{verdict.get('trigger') or 'slo_breach'}: {detail}"
    return None


def trigger_of(reason: str) -> str:
    """The trigger a failure reason names (``slo_breach: ...`` → ``slo_breach``)."""
    return reason.split(":", 1)[0].strip().replace(" ", "_") or "rollout_stopped"


def _breach(breach: dict[str, Any]) -> str:
    """``latency_p95 242.5 (threshold 50)``: the SLO and the last value the window saw."""
    values = [s.get("value") for s in breach.get("samples") or [] if s.get("value") is not None]
    last = f" {values[-1]:g}" if values else " no data"
    return f"{breach.get('slo')}{last} (threshold {breach.get('threshold')})"


def site_outcome(site: str, seen: dict[str, Any]) -> dict[str, Any]:
    """One site's part of a wave: ``seen`` holds what its tasks returned (``delivery``, ``synced``,
    ``provisioned``, ``slo``, ``syncFailure``, ``o2imsFailure``, ``revert``, ``restored``)."""
    delivery = seen.get("delivery") or {}
    slo = seen.get("slo") or {}
    out: dict[str, Any] = {
        "commit": delivery.get("sha"),
        "created": delivery.get("created", bool(delivery)),
        "provisioningRequest": delivery.get("provisioningRequest"),
        "deliveredAt": delivery.get("pushedAt"),
        "syncedAt": (seen.get("synced") or {}).get("at"),
        "provisionedAt": (seen.get("provisioned") or {}).get("at"),
        "o2ims": {k: (seen.get("provisioned") or {}).get(k) for k in ("createdAt", "fulfilledAt")},
        # alerted: what became of its alert-class findings (sent to Alertmanager, or why not)
        "slo": {k: slo.get(k) for k in ("result", "trigger", "started", "ended", "soak", "alerted")}
        if slo
        else None,
        "slos": (slo.get("slos") or {}).get(site) if slo else None,
        # Verifying's scale steps at the site: replicas before and after, commit, measured values
        "scaling": [step for step in slo.get("scaling") or [] if step.get("site") == site] if slo else [],
    }
    failure = _failure_of(site, seen)
    out["state"] = PASSED if failure is None else FAILED
    if failure:
        out["failure"] = {"phase": failure[0], "reason": failure[1]}
    revert = seen.get("revert")
    if revert:
        out["revert"] = {
            "commit": revert.get("sha"),
            "error": revert.get("error"),
            "restoredAt": (seen.get("restored") or {}).get("at"),
        }
    return out


def fold_wave(
    record: dict[str, Any],
    index: int,
    sites: dict[str, dict[str, Any]],
    *,
    approval: dict[str, Any] | None,
    started: bool,
    expected: bool = False,
    now: float | None = None,
) -> dict[str, Any]:
    """The record with wave ``index`` done: its sites' outcomes, the failures so far, and whether the
    rollout stops (more failures than ``maxFailures``, or the wave's approval refused).

    :param sites: ``{site: seen}`` (see :func:`site_outcome`) of the sites the wave started.
    :param approval: the approval's answer, or None when none was asked.
    :param started: whether the wave's start task ran (a stopped rollout skips the later waves).
    :param expected: whether the wave should have started (nothing stopped the rollout before it and
        the run is not a dry run): a wave that then did not start stops the rollout.
    """
    wave = record["waves"][index - 1]
    if approval is not None:
        wave["approval"] = {**wave["approval"], **approval}
    rejected = approval is not None and approval.get("decision") != "Approve"
    if not started and not rejected:  # the rollout stopped before it, or a dry run
        wave["state"] = "Skipped"
        if expected and not record["stopped"]:
            wave["state"] = "Failed"
            record["stopped"] = {
                "wave": index,
                "reason": f"wave {index} did not start (see its approve task)",
            }
            record["state"] = "Stopped"
        return record
    if rejected:  # its sites never started
        wave["state"] = "Rejected"
        record["stopped"] = record["stopped"] or {
            "wave": index,
            "reason": "approval "
            + {"Reject": "rejected", "TimedOut": "timed out"}.get(approval.get("decision"), "not given")
            + (f" by {approval['by']}" if approval.get("by") else ""),
        }
    else:
        for site, seen in sites.items():
            wave["sites"][site] = site_outcome(site, seen)
        failed = [s for s, o in wave["sites"].items() if o["state"] == FAILED]
        record["failures"] += len(failed)
        wave["state"] = "Failed" if failed else "Succeeded"
        wave["failed"] = failed
        if record["failures"] > record["maxFailures"] and not record["stopped"]:
            record["stopped"] = {
                "wave": index,
                "reason": f"{record['failures']} failed site(s), more than maxFailures "
                f"{record['maxFailures']}: "
                + "; ".join(f"{s}: {wave['sites'][s]['failure']['reason']}" for s in failed),
            }
    wave["endedAt"] = now if now is not None else time.time()
    touched = {s for w in record["waves"] for s, o in w["sites"].items() if o["state"] != UNTOUCHED}
    record["untouched"] = [s for w in record["waves"] for s in w["sites"] if s not in touched]
    record["state"] = "Stopped" if record["stopped"] else "Progressing"
    return record


def skip_after(record: dict[str, Any], index: int) -> dict[str, Any]:
    """The record with every wave after ``index`` that did not start ``Skipped``: the rollout stopped,
    or wave ``index`` was its last."""
    for wave in record["waves"][index:]:
        if wave["state"] == "Pending":
            wave["state"] = "Skipped"
    return record


def delivered(record: dict[str, Any]) -> list[tuple[int, str, str]]:
    """``[(wave, site, commit)]`` this run committed and did not revert yet, newest wave first (a
    delivery that made no commit, the files being on ``main`` already, is an earlier run's)."""
    found = []
    for wave in reversed(record["waves"]):
        for site, out in sorted(wave["sites"].items()):
            if out.get("commit") and out.get("created") and not (out.get("revert") or {}).get("commit"):
                found.append((wave["index"], site, out["commit"]))
    return found


def close(
    record: dict[str, Any],
    *,
    succeeded: bool,
    reverts: dict[str, Any] | None = None,
    restored: dict[str, Any] | None = None,
    evidence: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The record at the run's end: ``Succeeded``, ``RolledBack`` (with the rollback's reverts, newest
    wave first) or ``Failed``."""
    for site, revert in (reverts or {}).items():
        record["reverts"][site] = {
            "commit": revert.get("sha"),
            "reverted": revert.get("reverted"),
            "error": revert.get("error"),
            "restoredAt": ((restored or {}).get(site) or {}).get("at"),
        }
        # a delivery whose XCom a retry of its task erased (the push landed, then the task failed):
        # the rollback found it in Git and reverted it, so the record names it too
        for wave in record["waves"]:
            out = wave["sites"].get(site)
            if out is not None and not out.get("commit") and revert.get("reverted"):
                out.update(commit=revert["reverted"], created=True, recoveredFromGit=True)
    if evidence:
        record["evidence"] = {k: evidence.get(k) for k in ("path", "sha256", "result")}
    if succeeded:
        record["state"] = "Succeeded"
    elif record["reverts"]:
        record["state"] = "RolledBack"
    else:
        record["state"] = "Failed"
    return record


def combined_verdict(verdicts: list[dict[str, Any]]) -> dict[str, Any]:
    """One verdict of several sites' verdicts (each wave's sites are verified on their own): the SLOs
    of every site, every breach, alert, missed and unverifiable criterion, the earliest start and
    latest end."""
    if not verdicts:
        return {
            "result": "pass",
            "trigger": None,
            "slos": {},
            "breaches": [],
            "alerts": [],
            "degraded": [],
            "unverified": [],
            "evaluations": [],
        }
    breached = [v for v in verdicts if v.get("result") != "pass"]
    return {
        "result": "breach" if breached else "pass",
        "trigger": breached[0].get("trigger") if breached else None,
        "started": min(v.get("started") or 0 for v in verdicts),
        "ended": max(v.get("ended") or 0 for v in verdicts),
        "slos": {site: slos for v in verdicts for site, slos in (v.get("slos") or {}).items()},
        "breaches": [b for v in verdicts for b in v.get("breaches") or []],
        "alerts": [a for v in verdicts for a in v.get("alerts") or []],
        "degraded": [d for v in verdicts for d in v.get("degraded") or []],
        "unverified": [u for v in verdicts for u in v.get("unverified") or []],
        "evaluations": [e for v in verdicts for e in v.get("evaluations") or []],
        "sites": sorted({s for v in verdicts for s in v.get("sites") or []}),
    }
