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
| `reset.revert` | one revert commit per site, pushed | 2 min |
| `reset.wait_for_restore` | every site synced to it | 5 min |
| `reset.evidence` | `evidence.json` | |

An unknown checkpoint fails `plan` with that message, before anything changes. Runs of
`intent_pipeline` or `intent_withdraw` that push meanwhile are not undone by the reset (their
commits land after it): pause them first.

Trigger with `{"checkpoint": "before-maintenance", "reason": "edge2 broken since the upgrade"}`.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import dag, get_current_context, task

from edge_intent.dagparams import dag_settings, label_param, reason_param
from edge_intent.rollout.group import revert_group
from include.lifecycle import PLAN, RESET_GROUP, Dag


@dag(
    dag_id=Dag.RESET.value,
    schedule=None,
    max_active_runs=1,
    **dag_settings(doc=__doc__, tags=["emergency", "gitops", "operations"]),
    params={
        "checkpoint": label_param(
            "Checkpoint name", "The <name> of the tag checkpoint/<name> to go back to.", max_length=40
        ),
        "reason": reason_param(),
    },
)
def emergency_reset():
    @task(
        task_id=PLAN, task_display_name="Plan", execution_timeout=timedelta(minutes=1), multiple_outputs=False
    )
    def plan() -> dict:
        from edge_intent.operations.emergency import reset_plan

        return reset_plan(get_current_context()["params"])

    revert_group(RESET_GROUP, label="Reset", fail_when_incomplete=True, revert_timeout=timedelta(minutes=2))(
        plan()
    )


emergency_reset()
