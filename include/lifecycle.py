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
    """The phases of the operator state machine (and of a withdrawal), by the names users read."""

    PENDING = "Pending"
    COMPILING = "Compiling"
    RENDERING = "Rendering"
    DELIVERING = "Delivering"
    RECONCILING = "Reconciling"
    VERIFYING = "Verifying"
    SUCCEEDED = "Succeeded"
    ROLLING_BACK = "RollingBack"
    FAILED = "Failed"
    WITHDRAWING = "Withdrawing"
    WITHDRAWN = "Withdrawn"


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

# -- the revert → restore → evidence group every DAG that reverts uses ------------------------------

PLAN = "plan"
REVERT = "revert"
WAIT_FOR_RESTORE = "wait_for_restore"
EVIDENCE = "evidence"

ROLLBACK_GROUP = "rollback"  # intent_pipeline and slo_reverify
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

PIPELINE_PHASES: dict[str, Phase] = {
    VALIDATE: Phase.PENDING,
    COMPILE: Phase.COMPILING,
    RENDER: Phase.RENDERING,
    DELIVER: Phase.DELIVERING,
    WAIT_FOR_SYNC: Phase.RECONCILING,
    WAIT_FOR_O2IMS: Phase.RECONCILING,
    VERIFY_SLOS: Phase.VERIFYING,
    DECIDE: Phase.VERIFYING,
    REPORT: Phase.SUCCEEDED,
    ROLLBACK_PLAN: Phase.ROLLING_BACK,
    ROLLBACK_REVERT: Phase.ROLLING_BACK,
    ROLLBACK_RESTORE: Phase.ROLLING_BACK,
    ROLLBACK_EVIDENCE: Phase.ROLLING_BACK,
}
"""The pipeline's tasks in the lifecycle's order, each with the phase it stands for (the watcher,
which only sets how the run ends, stands for none)."""
