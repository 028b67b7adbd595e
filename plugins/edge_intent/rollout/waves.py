"""A progressive rollout's waves: which sites a wave starts, what each of its sites did, and the
gate that folds them into the rollout record (:mod:`include.rollout.record`) and decides whether the
next wave starts. The plan (the strategy resolved into waves) is the ``validate`` task's XCom
``rollout``.

A wave's sites run in a task group mapped over them; every task there returns (or leaves in an
XCom) a dict keyed by its site, so the gate reads them all at once, whichever map index ran where.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk.exceptions import AirflowSkipException, DownstreamTasksSkipped

from include.lifecycle import (
    APPROVE,
    DELIVER,
    GATE,
    RENDER,
    RESTORE_FAILED,
    VALIDATE,
    VERIFY_SLOS,
    WAIT_FOR_O2IMS,
    WAIT_FOR_SYNC,
    Key,
    wave_of,
    wave_task,
)
from include.rollout import record as records
from include.rollout.strategy import RolloutPlan

log = logging.getLogger(__name__)


def plan_of(ti: Any) -> RolloutPlan | None:
    """The run's rollout plan, or None when ``validate`` did not get that far."""
    data = ti.xcom_pull(task_ids=VALIDATE, key=Key.ROLLOUT)
    return RolloutPlan.from_json(data) if data else None


def _merged(values: Any) -> dict[str, Any]:
    """One dict of the dicts that a mapped task's instances returned (each keyed by its site)."""
    found: dict[str, Any] = {}
    for value in values or []:
        if isinstance(value, dict):
            found.update(value)
    return found


def pulled(ti: Any, index: int, task: str, key: str = Key.RETURN) -> list[Any]:
    """Every value a wave's mapped site task left under ``key`` (one per instance that left one)."""
    value = ti.xcom_pull(task_ids=wave_task(index, task), key=key)
    if value is None:
        return []
    return [value] if isinstance(value, dict) else list(value)


def started_sites(ti: Any, index: int) -> list[str]:
    """The sites wave ``index`` started (its approve task's result; none when it was skipped)."""
    found = ti.xcom_pull(task_ids=wave_task(index, APPROVE))
    return list(found) if isinstance(found, list) else []


def _failures(ti: Any, index: int, task: str) -> dict[str, dict[str, Any]]:
    """``{site: the wait's failure}`` of a mapped site wait's failed instances."""
    found = {}
    for failure in pulled(ti, index, task, Key.FAILURE):
        if isinstance(failure, dict):
            for site in failure.get("targets") or failure.get("sites") or []:
                found[site] = failure
    return found


def seen(ti: Any, index: int) -> dict[str, dict[str, Any]]:
    """``{site: what its tasks returned}`` for every site wave ``index`` started."""
    started = started_sites(ti, index)
    deliveries = _merged(pulled(ti, index, DELIVER, Key.DELIVERED))
    synced = _merged(pulled(ti, index, WAIT_FOR_SYNC))
    provisioned = _merged(pulled(ti, index, WAIT_FOR_O2IMS))
    sync_failures = _failures(ti, index, WAIT_FOR_SYNC)
    o2ims_failures = _failures(ti, index, WAIT_FOR_O2IMS)
    verdicts = {}
    for verdict in pulled(ti, index, VERIFY_SLOS, Key.VERDICT):
        for site in (verdict or {}).get("sites", []):
            verdicts[site] = verdict
    return {
        site: {
            "delivery": deliveries.get(site),
            "synced": synced.get(site),
            "provisioned": provisioned.get(site),
            "syncFailure": sync_failures.get(site),
            "o2imsFailure": o2ims_failures.get(site),
            "slo": verdicts.get(site),
        }
        for site in started
    }


def _approval(ti: Any, index: int, wave_requires: bool) -> dict[str, Any] | None:
    """The answer to the wave's approval (see :mod:`edge_intent.operators.approval`), or None."""
    if not wave_requires:
        return None
    answer = ti.xcom_pull(task_ids=wave_task(index, APPROVE), key=Key.APPROVAL)
    if not isinstance(answer, dict):
        return None  # never asked: the wave did not start
    return {k: answer.get(k) for k in ("decision", "by", "at")}


def previous(ti: Any, index: int, plan: RolloutPlan, run_id: str) -> dict[str, Any]:
    """The record as the gate before wave ``index`` left it (the first wave: nothing done yet)."""
    if index > 1:
        before = ti.xcom_pull(task_ids=wave_task(index - 1, GATE))
        if before:
            return attach_reverts(ti, before)
    intent_id = (ti.xcom_pull(task_ids=RENDER) or {}).get("intentId") or ti.xcom_pull(
        task_ids=VALIDATE, key=Key.INTENT_ID
    )
    return records.start(plan, intent_id=intent_id, run_id=run_id)


def start(ti: Any, run_id: str, index: int) -> list[str]:  # the approve task's first step
    """The sites wave ``index`` rolls out to; skipped when the plan has no such wave or the rollout
    stopped before it (its sites then never get a commit)."""
    plan = plan_of(ti)
    wave = plan.wave(index) if plan else None
    if wave is None:
        raise AirflowSkipException(f"this rollout has {len(plan.waves) if plan else 0} wave(s), not {index}")
    before = previous(ti, index, plan, run_id)
    if before["stopped"]:
        stopped = before["stopped"]
        raise AirflowSkipException(
            f"the rollout stopped at wave {stopped['wave']} ({stopped['reason']}): "
            f"wave {index} ({wave.name}: {', '.join(wave.sites)}) is not delivered"
        )
    log.info("Wave %d of %d (%s): %s", index, len(plan.waves), wave.name, ", ".join(wave.sites))
    return list(wave.sites)


def gate(ti: Any, run_id: str, index: int, dry_run: bool = False) -> dict[str, Any]:
    """Fold wave ``index`` into the rollout record: its sites' outcomes, the failures so far, whether
    the rollout stops. A failed site within maxFailures is reverted alone (this run's commit there),
    its restore wait's targets left in the XCom ``restore``. Returns the record (the next wave reads it).

    What need not run is skipped here and now, so the scheduler goes straight on: the wave's restore
    wait when nothing was reverted alone, and every later wave's tasks when the rollout stopped or
    this was its last wave (``decide`` then comes next, not a walk through empty waves)."""
    plan = plan_of(ti)
    if plan is None:
        raise AirflowSkipException("the intent was not validated: no rollout was planned")
    found, restore = _fold(ti, run_id, index, plan, dry_run)
    ti.xcom_push(key=Key.RESTORE, value=restore)  # once: a wait reads the first value of a key pushed twice
    restoring = bool(restore)
    last = bool(found["stopped"]) or dry_run or index >= len(plan.waves)
    skipped = [] if restoring else [wave_task(index, RESTORE_FAILED)]
    if last:
        found = records.skip_after(found, index)
        skipped += [t for t in ti.task.dag.task_ids if (wave_of(t) or (0, ""))[0] > index]
    if not skipped:
        return found
    ti.xcom_push(key=Key.RETURN, value=found)  # a task that skips others returns nothing itself
    log.info("Not needed, skipped: %s", ", ".join(skipped))
    raise DownstreamTasksSkipped(tasks=skipped)


def _fold(
    ti: Any, run_id: str, index: int, plan: RolloutPlan, dry_run: bool
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The record with wave ``index`` folded in, and the restore targets of its sites reverted alone."""
    wave = plan.wave(index)
    before = previous(ti, index, plan, run_id)
    if wave is None:
        return before, {}
    found = records.fold_wave(
        before,
        index,
        seen(ti, index),
        approval=_approval(ti, index, wave.approval),
        started=bool(started_sites(ti, index)),
        expected=not before["stopped"] and not dry_run,
    )
    done = found["waves"][index - 1]
    log.info("Wave %d (%s): %s", index, wave.name, done["state"])
    for site, outcome in sorted(done["sites"].items()):
        log.info("  %s: %s %s", site, outcome["state"], (outcome.get("failure") or {}).get("reason", ""))
    if found["stopped"]:
        log.warning("The rollout stops: %s", found["stopped"]["reason"])
    failed = tolerated(found, index)
    restore = _revert_alone(ti, run_id, found, index, failed) if failed else {}
    return (attach_reverts(ti, found) if failed else found), restore


def _revert_alone(ti: Any, run_id: str, found: dict[str, Any], index: int, failed: dict[str, str]):
    """Revert the wave's failed sites (within maxFailures) before the next wave; the restore targets."""
    from edge_intent.rollout.delivery import run_commits
    from edge_intent.rollout.revert import Kind, plan, revert

    wave = found["waves"][index - 1]
    reasons = {site: wave["sites"][site]["failure"]["reason"] for site in failed}
    log.warning("Reverting alone (within maxFailures %d): %s", found["maxFailures"], reasons)
    commits = run_commits(found["intentId"], run_id, list(failed))  # the delivery and its scale commits
    return revert(
        plan(
            Kind.ROLLBACK,
            {site: commits.get(site) or [sha] for site, sha in failed.items()},
            intent_id=found["intentId"],
            trigger=records.trigger_of(reasons[min(reasons)]),
            reason="; ".join(f"{site}: {reason}" for site, reason in sorted(reasons.items())),
        ),
        run_id,
        ti,
    )


def attach_reverts(ti: Any, record: dict[str, Any]) -> dict[str, Any]:
    """The record with each wave's own reverts (failed sites reverted alone) and their restores."""
    for wave in record["waves"]:
        index = wave["index"]
        reverts = ti.xcom_pull(task_ids=wave_task(index, GATE), key=Key.REVERTS) or {}
        restored = ti.xcom_pull(task_ids=wave_task(index, RESTORE_FAILED)) or {}
        for site, revert in reverts.items():
            if site in wave["sites"]:
                wave["sites"][site]["revert"] = {
                    "commit": revert.get("sha"),
                    "error": revert.get("error"),
                    "restoredAt": (restored.get(site) or {}).get("at"),
                }
                if revert.get("sha"):
                    wave["sites"][site]["state"] = records.REVERTED
    return record


def latest(ti: Any) -> dict[str, Any] | None:
    """The rollout record as the last gate that ran left it, with every wave's own reverts."""
    plan = plan_of(ti)
    if plan is None:
        return None
    for index in range(len(plan.waves), 0, -1):
        found = ti.xcom_pull(task_ids=wave_task(index, GATE))
        if found:
            return attach_reverts(ti, found)
    return None


def tolerated(record: dict[str, Any], index: int) -> dict[str, str]:
    """``{site: commit}`` of wave ``index``'s failed sites to revert alone: the rollout goes on."""
    if record["stopped"] or not 0 < index <= len(record["waves"]):
        return {}
    wave = record["waves"][index - 1]
    return {
        site: out["commit"]
        for site, out in sorted(wave["sites"].items())
        if out["state"] == records.FAILED and out.get("commit") and out.get("created")
    }


def reverse_waves(sites: dict[str, Any]) -> list[str]:
    """The sites in reverse rollout order (the default strategy's waves, newest first): a withdrawal
    takes the intent off its last wave first and off its canary last."""
    from include.compiler.config import load_settings
    from include.rollout.strategy import resolve

    waves = resolve(None, sorted(sites), load_settings().catalogue).waves
    return [site for wave in reversed(waves) for site in wave.sites]
