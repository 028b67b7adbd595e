"""
### Emergency: reset every site to a checkpoint

Brings every site back to a checkpoint taken by `emergency_checkpoint`, without rewriting history:
on each site repository, every commit after the tag `checkpoint/<name>` on `main` is reverted,
newest first, in one revert commit (with a `Reverts:` trailer per commit), and pushed without
force. The old `main` stays an ancestor of the new one. Then every site must report the reset
synced, and `evidence.json` (under `_checkpoints/<name>/<run id>/`) lists each site's commits
before and after, what was reverted, and whether git finds the new tree equal to the checkpoint's.

| task | what | timeout |
|---|---|---|
| `plan` | checkpoint on every site's `main`, no merge after it; the commits to revert | 1 min |
| `revert` | one revert commit per site, pushed | 2 min |
| `wait_for_restore` | every site synced to it | 5 min |
| `evidence` | `evidence.json` | |

An unknown checkpoint fails `plan` with that message, before anything changes. Runs of
`intent_pipeline` or `intent_withdraw` that push meanwhile are not undone by the reset (their
commits land after it): pause them first.

Trigger with `{"checkpoint": "before-maintenance", "reason": "edge2 broken since the upgrade"}`.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Param, TriggerRule, dag, get_current_context, task

from edge_intent.sensors import RestoreSensor


@dag(
    dag_id="emergency_reset",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["emergency", "gitops", "operations"],
    doc_md=__doc__,
    default_args={"owner": "edge-intent", "retries": 0},
    params={
        "checkpoint": Param(
            type="string",
            minLength=1,
            maxLength=40,
            pattern="^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
            title="Checkpoint name",
            description="The <name> of the tag checkpoint/<name> to go back to.",
        ),
        "reason": Param(
            "",
            type="string",
            maxLength=500,
            title="Reason",
            description="Why; written into the revert commits and the evidence.",
        ),
    },
)
def emergency_reset():
    @task(task_display_name="Plan", execution_timeout=timedelta(minutes=1))
    def plan() -> dict:
        from edge_intent import operations

        return operations.reset_plan(get_current_context()["params"])

    @task(task_display_name="Revert", execution_timeout=timedelta(minutes=2))
    def revert(planned: dict) -> dict:
        from edge_intent import operations

        context = get_current_context()
        return operations.reset_revert(planned, context["run_id"], context["ti"])

    @task(task_display_name="Evidence", trigger_rule=TriggerRule.ALL_DONE)
    def evidence() -> dict:
        from edge_intent import operations

        context = get_current_context()
        return operations.reset_evidence(context["ti"], context["dag"].dag_id, context["run_id"])

    reverted = revert(plan())
    restored = RestoreSensor(
        task_id="wait_for_restore",
        task_display_name="Restore sync",
        targets=reverted,
        timeout=300,
        retries=1,
        retry_delay=timedelta(seconds=2),
    )
    reverted >> restored >> evidence()


emergency_reset()
