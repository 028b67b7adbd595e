"""The one task-group factory for revert → restore sync → evidence, used by every DAG that reverts
(the pipeline's rollback, intent_withdraw, slo_reverify's rollbacks, emergency_reset).

The group takes a revert plan (see :mod:`edge_intent.rollout.revert`) as an XCom argument, or makes
it with its own first task ``plan`` from a ``planner(context)`` when the DAG branches into the group
(the pipeline). It can be mapped (``.expand(plan=...)``): each mapped group reads its own XComs.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from airflow.sdk import TriggerRule, get_current_context, task, task_group

from edge_intent.dagparams import wait_timeout
from edge_intent.sensors.site_wait import RestoreSensor
from include.lifecycle import EVIDENCE, PLAN, REVERT, WAIT_FOR_RESTORE

# The restore wait fails without retry on its own errors and timeouts; one retry covers a task failed
# from outside, such as Airflow's race between a quickly fired trigger and the deferring process's
# executor event (apache/airflow#66374).
WAIT_RETRIES = {"retries": 1, "retry_delay": timedelta(seconds=2)}

RESTORE_POLL_S = 1.0
"""Seconds between the restore wait's polls: a site is down until its revert syncs, so the wait
looks twice as often as the rollout's waits (2 s)."""


def revert_group(
    group_id: str,
    *,
    planner: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    label: str = "RollingBack",
    fail_when_incomplete: bool = False,
    revert_timeout: timedelta = timedelta(minutes=1),
    restore_timeout: float | None = None,
    git_conn_id: str = "gitea_default",
):
    """A ``@task_group`` function ``group(plan=None)``: ``[plan →] revert → wait_for_restore → evidence``.

    :param group_id: the group's id (a name of :mod:`include.lifecycle`).
    :param planner: makes the plan from the task context, in the group's own ``plan`` task.
    :param label: the phase shown before each task's name in the grid.
    :param fail_when_incomplete: the evidence task fails the run when the revert or the restore did
        not complete (the operations DAGs); the pipeline leaves that to its watcher.
    """

    def _evidence(revert_plan: dict[str, Any] | None) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowFailException

        from edge_intent.rollout.evidence import record

        context = get_current_context()
        if not revert_plan:
            raise AirflowFailException("nothing was planned (see the plan task): nothing changed or written")
        summary = record(
            revert_plan,
            context["ti"],
            group=group_id,
            dag_id=context["dag"].dag_id,
            run_id=context["run_id"],
            git_conn_id=git_conn_id,
        )
        if fail_when_incomplete and summary["result"] != "success":
            raise AirflowFailException(
                f"the {revert_plan['kind']} did not complete ({'; '.join(summary['errors'])}); "
                f"evidence: {summary['path']}"
            )
        return summary

    @task_group(group_id=group_id)
    def group(plan: Any = None):
        if planner is not None:

            @task(
                task_id=PLAN,
                task_display_name=f"{label}: plan",
                retry_delay=timedelta(seconds=10),
                multiple_outputs=False,
            )
            def make_plan() -> dict[str, Any] | None:
                return planner(get_current_context())

            plan = make_plan()

        @task(
            task_id=REVERT,
            task_display_name=f"{label}: revert",
            execution_timeout=revert_timeout,
            multiple_outputs=False,
        )
        def revert(revert_plan: dict[str, Any]) -> dict[str, Any]:
            from edge_intent.rollout.revert import revert as revert_sites

            context = get_current_context()
            return revert_sites(revert_plan, context["run_id"], context["ti"], git_conn_id)

        @task(
            task_id=EVIDENCE,
            task_display_name=f"{label}: evidence",
            trigger_rule=TriggerRule.NONE_SKIPPED,
            retries=0,
            multiple_outputs=False,
        )
        def evidence(revert_plan: dict[str, Any] | None) -> dict[str, Any]:
            return _evidence(revert_plan)

        reverted = revert(plan)
        restored = RestoreSensor(
            task_id=WAIT_FOR_RESTORE,
            task_display_name=f"{label}: restore sync",
            targets=reverted,
            git_conn_id=git_conn_id,
            poll_interval=RESTORE_POLL_S,
            timeout=wait_timeout() if restore_timeout is None else restore_timeout,
            **WAIT_RETRIES,
        )
        recorded = evidence(plan)
        reverted >> restored >> recorded
        return recorded

    return group
