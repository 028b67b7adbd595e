"""The contract between the DAGs, the intent API, the metrics exporter and the demo, named once.

DAG ids, task ids, XCom keys and the phases of the operator state machine. Every reader (the run
records of the intent API and the metrics, the demo, the benchmarks) takes its names from here, so
renaming a task here is the only edit needed for all of them to follow. Pure: no Airflow import.
"""

from __future__ import annotations

from enum import StrEnum


class Dag(StrEnum):
    """The project's DAG ids."""

    PIPELINE = "intent_pipeline"
    WITHDRAW = "intent_withdraw"
    REVERIFY = "slo_reverify"
    FAIL_RUN = "emergency_fail_run"
    RESYNC = "emergency_resync"
    CHECKPOINT = "emergency_checkpoint"
    RESET = "emergency_reset"
    RECONCILE = "intent_reconcile"


class Phase(StrEnum):
    """The phases of the operator state machine (and of a withdrawal), by the names users read.

    A run that went through ends ``Succeeded`` only when its report says every target of the intent
    was met; ``Degraded`` when a target was measured and missed (its policy kept the intent);
    ``Unverified`` when none was missed but some could not be shown.
    """

    PENDING = "Pending"
    COMPILING = "Compiling"
    RENDERING = "Rendering"
    DELIVERING = "Delivering"
    RECONCILING = "Reconciling"
    VERIFYING = "Verifying"
    SUCCEEDED = "Succeeded"
    DEGRADED = "Degraded"
    UNVERIFIED = "Unverified"
    ROLLING_BACK = "RollingBack"
    FAILED = "Failed"
    WITHDRAWING = "Withdrawing"
    WITHDRAWN = "Withdrawn"


class Fulfilment(StrEnum):
    """What a run's report says of the intent's own targets (the report XCom's ``fulfilment``)."""

    FULFILLED = "Fulfilled"  # every target met: the run is Succeeded
    DEGRADED = "Degraded"  # a target measured and missed, its policy keeping the intent
    UNVERIFIED = "Unverified"  # none missed, but not every target could be shown


PHASE_OF_FULFILMENT = {
    Fulfilment.FULFILLED: Phase.SUCCEEDED,
    Fulfilment.DEGRADED: Phase.DEGRADED,
    Fulfilment.UNVERIFIED: Phase.UNVERIFIED,
}


class Key(StrEnum):
    """XCom keys."""

    RETURN = "return_value"
    INTENT_ID = "intent_id"  # validate: the index by which the intent API finds a run's intent
    ERRORS = "errors"  # validate/compile: the field errors of an invalid intent
    DELIVERED = "delivered"  # deliver: {site: delivery}, pushed after each site's push lands
    FAILURE = "failure"  # a site wait: {task, kind error|timeout, message, at}
    COMPLETED_AT = "completed_at"  # a site wait: when every site was done (epoch seconds)
    REVERTS = "reverts"  # revert: {site: revert record or {error}}
    SUMMARY = "summary"  # the operations DAGs' summaries
    ORPHANS = "orphans"  # slo_reverify: intents at a site's HEAD that no successful run delivered
    ROLLOUT = "rollout"  # validate: the rollout plan (the strategy resolved into waves)
    VERDICT = "verdict"  # verify_slos: the SLO verdict, also when the task failed on a breach
    SCALED = "scaled"  # verify_slos: {site: [scale commit, ...]} newest first, pushed after each push
    RESTORE = "restore"  # a wave's gate: the restore wait's targets of the sites it reverted alone
    APPROVAL = "approval"  # a wave's approve: {required, decision Approve|Reject|TimedOut, by, at}


# -- the pipeline's tasks --------------------------------------------------------------------------

VALIDATE = "validate"
COMPILE = "compile"
RENDER = "render"
DELIVER = "deliver"
WAIT_FOR_SYNC = "wait_for_sync"
WAIT_FOR_O2IMS = "wait_for_o2ims"
VERIFY_SLOS = "verify_slos"
DECIDE = "decide"
REPORT = "report"
WATCHER = "watcher"

# -- the waves of a rollout ---------------------------------------------------------------------------
# Each wave is a task group ``wave_<n>``: ``approve`` (the wave's sites, after a person's approval when
# the strategy asks; skipped when the plan has no wave n or the rollout stopped) → ``sites`` (a task
# group mapped over the wave's sites: deliver → wait_for_sync → wait_for_o2ims → verify_slos) →
# ``gate`` (the rollout record so far: go on or stop; a failed site within maxFailures is reverted
# alone) → ``restore_failed`` (that revert synced) → the next wave.

APPROVE = "approve"
SITES = "sites"
RESTORE_FAILED = "restore_failed"
GATE = "gate"
ROLLOUT = "rollout"  # after the rollback or the report: rollout.json, the run's rollout record
SITE_TASKS = (DELIVER, WAIT_FOR_SYNC, WAIT_FOR_O2IMS, VERIFY_SLOS)


def wave_group(index: int) -> str:
    """The task group id of the wave of 1-based ``index``."""
    return f"wave_{index}"


def wave_task(index: int, task: str) -> str:
    """The task id of ``task`` in wave ``index`` (a site task is in the wave's mapped ``sites`` group)."""
    inner = f"{SITES}.{task}" if task in SITE_TASKS else task
    return f"{wave_group(index)}.{inner}"


def wave_of(task_id: str) -> tuple[int, str] | None:
    """``(wave index, task)`` of a wave's task id, or None for any other task."""
    head, _, rest = task_id.partition(".")
    if not head.startswith("wave_") or not head[5:].isdigit() or not rest:
        return None
    return int(head[5:]), rest.removeprefix(f"{SITES}.")


# -- the revert → restore → evidence group every DAG that reverts uses ------------------------------

PLAN = "plan"
REVERT = "revert"
WAIT_FOR_RESTORE = "wait_for_restore"
EVIDENCE = "evidence"

ROLLBACK_GROUP = "rollback"  # intent_pipeline and slo_reverify
REVERIFY_VERIFY = "verify"  # slo_reverify: one mapped SLO window per deployed intent
WITHDRAW_GROUP = "withdraw"  # intent_withdraw
RESET_GROUP = "reset"  # emergency_reset
RECONCILE_GROUP = "reconcile"  # intent_reconcile


def in_group(group: str, task: str) -> str:
    """The task id of ``task`` inside the task group ``group``."""
    return f"{group}.{task}"


ROLLBACK_PLAN = in_group(ROLLBACK_GROUP, PLAN)
ROLLBACK_REVERT = in_group(ROLLBACK_GROUP, REVERT)
ROLLBACK_RESTORE = in_group(ROLLBACK_GROUP, WAIT_FOR_RESTORE)
ROLLBACK_EVIDENCE = in_group(ROLLBACK_GROUP, EVIDENCE)
WITHDRAW_REVERT = in_group(WITHDRAW_GROUP, REVERT)
WITHDRAW_EVIDENCE = in_group(WITHDRAW_GROUP, EVIDENCE)

WAVE_PHASES: dict[str, Phase] = {
    APPROVE: Phase.DELIVERING,
    DELIVER: Phase.DELIVERING,
    WAIT_FOR_SYNC: Phase.RECONCILING,
    WAIT_FOR_O2IMS: Phase.RECONCILING,
    VERIFY_SLOS: Phase.VERIFYING,
}
"""A wave's tasks that stand for a phase, in order (the gate and the restore of a site reverted alone
stand for none)."""

PIPELINE_PHASES: dict[str, Phase] = {
    VALIDATE: Phase.PENDING,
    COMPILE: Phase.COMPILING,
    RENDER: Phase.RENDERING,
    # every wave's tasks of WAVE_PHASES come here, wave by wave (see pipeline_phases)
    DECIDE: Phase.VERIFYING,
    REPORT: Phase.SUCCEEDED,
    ROLLBACK_PLAN: Phase.ROLLING_BACK,
    ROLLBACK_REVERT: Phase.ROLLING_BACK,
    ROLLBACK_RESTORE: Phase.ROLLING_BACK,
    ROLLBACK_EVIDENCE: Phase.ROLLING_BACK,
}
"""The pipeline's tasks in the lifecycle's order, each with the phase it stands for (the watcher,
which only sets how the run ends, stands for none), without the waves' tasks."""


def pipeline_phases(waves: int) -> dict[str, Phase]:
    """:data:`PIPELINE_PHASES` with the tasks of ``waves`` waves in their place, in order."""
    ordered = list(PIPELINE_PHASES.items())
    at = [task for task, _ in ordered].index(DECIDE)
    in_waves = [
        (wave_task(n, task), phase) for n in range(1, waves + 1) for task, phase in WAVE_PHASES.items()
    ]
    return dict(ordered[:at] + in_waves + ordered[at:])
