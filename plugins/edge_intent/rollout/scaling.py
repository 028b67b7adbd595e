"""Verifying's remedy for a scale-class breach: the intent's workload at the site scaled up by a
commit to the site's repository, synced, and verified again.

A verdict is remedied by scaling when every SLO it breaks is scale-class (``action: scale`` in
``config/slo.yaml``) and its policy has attempts left; any other breach (latency, readiness, no
data) stands, and rolls back. A step that cannot add a replica (the ceiling: see
:mod:`include.rollout.scale`) ends the remedy. Each scale commit carries the trailers of a delivery
by this run, so rolling the run back reverts it with the delivery (Git is the record: see
:func:`edge_intent.rollout.delivery.run_commits`), and each step is pushed to the XCom ``scaled``
as soon as its commit lands.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from edge_intent.hooks.site_repo import SiteRepoHook
from include.gitops.repo import scale_message
from include.lifecycle import Key

log = logging.getLogger(__name__)


def policy_for(verdict: dict[str, Any], attempts_made: int) -> Any | None:
    """The scale policy that remedies ``verdict``'s breaches, or None: when one breach is not
    scale-class, or the policy's attempts are used up."""
    from include.slo.definitions import load_config

    breaches = verdict.get("breaches") or []
    if verdict.get("result") == "pass" or not breaches:
        return None
    slos = load_config().slos
    policies = [slos[b["slo"]].scale if b.get("slo") in slos else None for b in breaches]
    if any(p is None for p in policies):
        return None
    policy = min(policies, key=lambda p: p.attempts)  # several scale-class SLOs: the strictest
    return policy if attempts_made < policy.attempts else None


def _measured(verdict: dict[str, Any], site: str) -> dict[str, Any]:
    """What the breached SLOs measured at ``site``: their worst and last values and thresholds."""
    slos = (verdict.get("slos") or {}).get(site) or {}
    return {
        b["slo"]: {key: (slos.get(b["slo"]) or {}).get(key) for key in ("worst", "last", "threshold", "unit")}
        for b in verdict.get("breaches") or []
        if b.get("site") == site
    }


def scale_sites(
    intent_id: str,
    verdict: dict[str, Any],
    policy: Any,
    *,
    attempt: int,
    run_id: str | None,
    ti: Any | None = None,
    steps: list[dict[str, Any]] | None = None,
    git_conn_id: str = SiteRepoHook.default_conn_name,
) -> list[dict[str, Any]]:
    """Scale the intent's workload up at every site with a breach; the new step records (one per
    site scaled). An empty list when some site is at its ceiling (no remedy: the breach stands).

    :param steps: the earlier steps; each new one is added and the whole list pushed to the XCom
        ``scaled`` as soon as its commit has landed.
    """
    from include.compiler.config import load_settings
    from include.rollout.scale import ceiling, scale_up

    steps = [] if steps is None else steps
    top = ceiling(policy.max, load_settings().compiler.workload.maxReplicas)
    hook = SiteRepoHook(git_conn_id)
    sites = sorted({b["site"] for b in verdict.get("breaches") or []})
    planned = {}
    for site in sites:  # every site can be scaled, or none is
        repo = hook.get_repo(site)
        step = scale_up(repo.package(intent_id), step=policy.step, ceiling=top)
        if not step.scaled:
            log.warning("%s runs %d replicas of %s, its ceiling: no step left", site, step.before, intent_id)
            return []
        planned[site] = (repo, step)
    new: list[dict[str, Any]] = []
    for site, (repo, step) in planned.items():
        measured = _measured(verdict, site)
        reason = "; ".join(
            f"{slo} {m['worst']:.1f} {m['unit']} against {m['threshold']:g} {m['unit']}"
            for slo, m in measured.items()
            if isinstance(m.get("worst"), int | float)
        )
        message = scale_message(intent_id, site, step.before, step.after, f"Verifying: {reason}", run_id)
        done = repo.deliver(intent_id, step.files, message=message)
        pushed_at = time.time()
        log.warning(
            "Scaled %s at %s from %d to %d replicas (ceiling %d): commit %s, for %s",
            intent_id,
            site,
            step.before,
            step.after,
            step.ceiling,
            done.sha,
            reason or "the breach",
        )
        new.append(
            {
                "attempt": attempt,
                "site": site,
                "slos": sorted(measured),
                "measured": measured,
                "replicas": {"before": step.before, "after": step.after, "ceiling": step.ceiling},
                "commit": done.sha,
                "breachDetectedAt": min(
                    (b["detectedAt"] for b in verdict.get("breaches") or [] if b.get("site") == site),
                    default=None,
                ),
                "pushedAt": pushed_at,
            }
        )
        if ti is not None:
            ti.xcom_push(key=Key.SCALED, value=[*steps, *new])
    return new


def sync_targets(steps: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """What the sync wait after a scale step waits for: each site synced to its scale commit."""
    return {step["site"]: {"sha": step["commit"]} for step in steps}


def mark_synced(steps: list[dict[str, Any]], event: dict[str, Any]) -> list[dict[str, Any]]:
    """The steps with the time the sync wait first saw each scale commit synced (``syncedAt``)."""
    seen = event.get("sites") or {}
    for step in steps:
        if "syncedAt" not in step and isinstance((seen.get(step["site"]) or {}).get("at"), int | float):
            step["syncedAt"] = seen[step["site"]]["at"]
    return steps
