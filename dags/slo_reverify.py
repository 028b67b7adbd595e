"""
### SLO re-verification

On a schedule, re-checks the SLOs of every intent deployed on the edge sites and rolls back the
ones that now break a rollback-class SLO.

- `discover`: every `intents/<id>/` directory on each site repository's `main` (Git is the source
  of truth), the delivery commit in effect, and the intent's targets, read from its delivered
  `intent-28312` ConfigMap.
- `verify` (one mapped task per intent): its SLOs at each of its sites over the `slo_profile`
  window, on Prometheus, as the pipeline's Verifying phase does (`DlLatency` tightens `latency_p95`);
  the window runs deferred in the triggerer, so re-verifying many intents holds no worker slots.
- `select`: a rollback plan for each intent with a measured breach of a rollback-class SLO.
- `rollback` (one mapped group per such intent, the same group as the pipeline's rollback):
  `revert` of the commit that delivered it on each site (other intents' commits stay), pushed;
  `wait_for_restore` until every site synced it; `evidence` writes `evidence.json`.
- `orphans`: intents at a site's `main` that no successful pipeline run stands behind (see
  `intent_reconcile`, which can take them out); skipped without an `airflow_api` connection.
- `summary`: the return value, `passed` (with verdicts), `rolledBack` (with evidence), `unverified`,
  `orphans`.
  A rollback is this DAG doing its job: the run still succeeds; it fails when an intent could not be
  verified or a rollback did not complete.

Params: `slo_profile` (`default`: 10 min window; `demo`: 30 s), `on_missing_data` (`report`: an
intent without data is reported and fails the run, never rolled back, so an unreachable Prometheus
does not roll back every intent; `rollback`: treat it as a breach, as the pipeline's gate does).

Schedule: `EDGE_INTENT_REVERIFY_SCHEDULE`, read when the DAG file is parsed: a cron expression
(default `*/15 * * * *`, every 15 minutes), or `none` for manual runs only. No catch-up, one run at
a time.
"""

from __future__ import annotations

import os
from datetime import timedelta

from airflow.sdk import Param, TriggerRule, dag, get_current_context, task

from edge_intent.dagparams import dag_settings, failed_task_watcher, slo_profile_param
from edge_intent.operators.slo_verify import DeployedIntentVerifyOperator
from edge_intent.rollout.group import WAIT_RETRIES, revert_group
from include.lifecycle import REVERIFY_VERIFY, ROLLBACK_GROUP, Dag, Key

ORPHANS = Key.ORPHANS.value

DEFAULT_SCHEDULE = "*/15 * * * *"
_schedule = os.environ.get("EDGE_INTENT_REVERIFY_SCHEDULE", DEFAULT_SCHEDULE).strip() or DEFAULT_SCHEDULE
SCHEDULE = None if _schedule.lower() == "none" else _schedule


@dag(
    dag_id=Dag.REVERIFY.value,
    schedule=SCHEDULE,
    max_active_runs=1,
    **dag_settings(doc=__doc__, tags=["slo", "gitops", "operations"], retries=1),
    params={
        "slo_profile": slo_profile_param(),
        "on_missing_data": Param(
            "report",
            type="string",
            enum=["report", "rollback"],
            title="On missing data",
            description="report: an intent without metrics is reported (the run fails), not rolled back; "
            "rollback: treat it as a breach.",
        ),
    },
)
def slo_reverify():
    @task(task_display_name="Discover deployed intents", execution_timeout=timedelta(minutes=2))
    def discover() -> list:
        from edge_intent.operations import reverify

        return reverify.discover()

    @task(task_display_name="Select breached intents", retries=0, trigger_rule=TriggerRule.ALL_DONE)
    def select(verified: list) -> list:
        from edge_intent.operations import reverify

        return reverify.select(verified, get_current_context()["params"]["on_missing_data"])

    @task(task_id=ORPHANS, task_display_name="Find orphans", execution_timeout=timedelta(minutes=2))
    def orphans() -> list:
        from edge_intent.operations import reconcile

        return reconcile.report()

    @task(task_display_name="Summary", trigger_rule=TriggerRule.ALL_DONE, retries=0, multiple_outputs=False)
    def summary(verified: list, rolled_back: list) -> dict:
        from edge_intent.operations import reverify

        return reverify.summary(verified, rolled_back, get_current_context()["ti"])

    verified = (
        DeployedIntentVerifyOperator.partial(
            task_id=REVERIFY_VERIFY,
            task_display_name="Verify SLOs",
            profile="{{ params.slo_profile }}",
            **WAIT_RETRIES,  # a task failed from outside (apache/airflow#66374) verifies again
            execution_timeout=timedelta(minutes=12),
            map_index_template="{{ task.intent['intentId'] }}",
        )
        .expand(intent=discover())
        .output
    )
    rolled_back = revert_group(ROLLBACK_GROUP).expand(plan=select(verified))
    summarised = summary(verified, rolled_back)
    orphans() >> summarised >> failed_task_watcher()


slo_reverify()
