"""
### Withdraw an intent

Takes an intent back out of the edge sites: on every site where the intent is deployed (or the
`sites` given), `git revert` of exactly that intent's delivery commits still in effect, in one
revert commit per site, pushed to `main` (never a revert of `HEAD`, never a force push: other
intents' commits stay). Then every site must report the revert synced and the intent's namespace
gone, and `evidence.json` records it (trigger `withdrawn`).

| task | what | timeout |
|---|---|---|
| `plan` | checks the params; finds the intent's delivery commits in effect on each site's `main` | 1 min |
| `revert` | one revert commit per site, pushed | 1 min |
| `wait_for_restore` | every site synced to its revert, the intent's namespace gone | 5 min |
| `evidence` | `evidence.json`; returns the summary `{intentId, result, sites, reverts, evidence}` | |

Trigger with `{"intent_id": "urllc-edge2-1a2b3c4d", "reason": "customer cancelled"}` (TMF921
`DELETE /intent/{id}` does this). An intent deployed nowhere fails `plan` with that message, and
nothing is committed or written. The run fails if any site could not be reverted or synced; the
evidence says which.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Param, TriggerRule, dag, get_current_context, task

from edge_intent.sensors import RestoreSensor

DNS_LABEL = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"


@dag(
    dag_id="intent_withdraw",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=4,
    tags=["intent", "gitops", "operations"],
    doc_md=__doc__,
    default_args={"owner": "edge-intent", "retries": 2, "retry_delay": timedelta(seconds=5)},
    params={
        "intent_id": Param(
            type="string",
            minLength=1,
            maxLength=50,
            pattern=DNS_LABEL,
            title="Intent id",
            description="The intent to withdraw: a DNS-1123 label of at most 50 characters.",
        ),
        "sites": Param(
            [],
            type="array",
            maxItems=32,
            items={"type": "string", "maxLength": 63, "pattern": DNS_LABEL},
            title="Sites",
            description="Withdraw from these sites only (empty: every site where the intent is deployed).",
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
def intent_withdraw():
    @task(task_display_name="Plan", retries=0, execution_timeout=timedelta(minutes=1))
    def plan() -> dict:
        from edge_intent import operations

        return operations.withdraw_plan(get_current_context()["params"])

    @task(task_display_name="Revert", execution_timeout=timedelta(minutes=1))
    def revert(planned: dict) -> dict:
        from edge_intent import operations

        context = get_current_context()
        return operations.withdraw_revert(planned, context["run_id"], context["ti"])

    @task(task_display_name="Evidence", trigger_rule=TriggerRule.ALL_DONE, retries=0)
    def evidence() -> dict:
        from edge_intent import operations

        context = get_current_context()
        return operations.withdraw_evidence(context["ti"], context["dag"].dag_id, context["run_id"])

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


intent_withdraw()
