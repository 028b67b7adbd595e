"""
### Reconcile orphaned intents

Finds intents present at a site's `main` that no successful pipeline run stands behind: a delivery
commit still in effect whose run (named in its `Dag-Run-Id` trailer) ended failed, is unknown to
Airflow, or that names no run at all. Git says what is deployed; Airflow's REST API (connection
`airflow_api`) says how each run ended. Runs still in flight are left alone.

| task | what | timeout |
|---|---|---|
| `find` | every orphan, by intent and site, with its commits and why | 2 min |
| `plan` | with `revert` on: a withdrawal plan per orphaned intent (those commits only) | |
| `reconcile.revert` → `reconcile.wait_for_restore` → `reconcile.evidence` | one mapped group per intent | |
| `summary` | the orphans found and what was taken out | |

By default it only reports (`revert: false`). With `{"revert": true, "reason": "..."}` each
orphaned intent's orphaned commits are reverted (never `HEAD`, never forced), the sites must sync
the revert, and `evidence.json` records it (trigger `orphan`). `slo_reverify` reports orphans on
every run too.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import Param, TriggerRule, dag, get_current_context, task

from edge_intent.dagparams import dag_settings, failed_task_watcher, reason_param
from edge_intent.rollout.group import revert_group
from include.lifecycle import PLAN, RECONCILE_GROUP, Dag


@dag(
    dag_id=Dag.RECONCILE.value,
    schedule=None,
    max_active_runs=1,
    **dag_settings(doc=__doc__, tags=["intent", "gitops", "operations"]),
    params={
        "revert": Param(
            False,
            type="boolean",
            title="Revert",
            description="Take the orphans out (revert their commits, with evidence); off: report only.",
        ),
        "reason": reason_param(),
    },
)
def intent_reconcile():
    @task(task_display_name="Find orphans", execution_timeout=timedelta(minutes=2))
    def find() -> list:
        from edge_intent.operations import reconcile

        return reconcile.find()

    @task(task_id=PLAN, task_display_name="Plan")
    def plan(orphans: list) -> list:
        from edge_intent.operations import reconcile

        return reconcile.plans(orphans, get_current_context()["params"])

    @task(task_display_name="Summary", trigger_rule=TriggerRule.ALL_DONE, multiple_outputs=False)
    def summary(orphans: list, reverted: list) -> dict:
        from edge_intent.operations import reconcile

        return reconcile.summary(orphans, reverted)

    orphans = find()
    reverted = revert_group(RECONCILE_GROUP, label="Reconciling").expand(plan=plan(orphans))
    summary(orphans, reverted) >> failed_task_watcher()


intent_reconcile()
