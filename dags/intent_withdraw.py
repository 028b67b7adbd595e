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
| `withdraw.revert` | one revert commit per site, pushed | 1 min |
| `withdraw.wait_for_restore` | every site synced to its revert, the intent's namespace gone | 5 min |
| `withdraw.evidence` | `evidence.json`; returns `{intentId, result, sites, reverts, path, sha256}` | |

Trigger with `{"intent_id": "urllc-edge2-1a2b3c4d", "reason": "customer cancelled"}` (TMF921
`DELETE /intent/{id}` does this). An intent deployed nowhere fails `plan` with that message, and
nothing is committed or written. The run fails if any site could not be reverted or synced; the
evidence says which.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import Param, dag, get_current_context, task

from edge_intent.dagparams import DNS_LABEL, dag_settings, label_param, reason_param
from edge_intent.rollout.group import revert_group
from include.lifecycle import PLAN, WITHDRAW_GROUP, Dag


@dag(
    dag_id=Dag.WITHDRAW.value,
    schedule=None,
    max_active_runs=4,
    **dag_settings(doc=__doc__, tags=["intent", "gitops", "operations"], retries=2),
    params={
        "intent_id": label_param(
            "Intent id", "The intent to withdraw: a DNS-1123 label of at most 50 characters.", max_length=50
        ),
        "sites": Param(
            [],
            type="array",
            maxItems=32,
            items={"type": "string", "maxLength": 63, "pattern": DNS_LABEL},
            title="Sites",
            description="Withdraw from these sites only (empty: every site where the intent is deployed).",
        ),
        "reason": reason_param(),
    },
)
def intent_withdraw():
    @task(
        task_id=PLAN,
        task_display_name="Plan",
        retries=0,
        execution_timeout=timedelta(minutes=1),
        multiple_outputs=False,
    )
    def plan() -> dict:
        from edge_intent.operations.withdraw import withdraw_plan

        return withdraw_plan(get_current_context()["params"])

    revert_group(WITHDRAW_GROUP, label="Withdrawing", fail_when_incomplete=True)(plan())


intent_withdraw()
