"""
### Intent pipeline

Turns an operator's intent into a deployment on the edge sites, one task per phase of the
operator state machine:

| task | phase | timeout |
|---|---|---|
| `validate` | Pending: read NL text or a TMF921 intent, validate it through TS 28.312 | 30 s |
| `compile` | Compiling: TMF921 → TS 28.312 → each site's KRM package | 2 min |
| `render` | Rendering: `kpt fn render` of every package | 3 min |
| `deliver` | Delivering: one commit per site under `intents/<id>/`, pushed | 1 min |
| `wait_for_sync` | Reconciling: every site's RootSync synced to its commit | 5 min |
| `wait_for_o2ims` | Reconciling: every site's O2IMS ProvisioningRequest fulfilled | 5 min |
| `verify_slos` | Verifying: the SLOs of every site over the profile's window, on Prometheus | 10 min |
| `decide` | Succeeded if every rollback-class SLO was met, else RollingBack | |
| `report` | Succeeded: TMF921 IntentReport and TS 28.312 IntentFulfilmentReport | |
| `rollback.plan` | RollingBack: the commits this run delivered (its XCom, and Git's own record) | |
| `rollback.revert` | RollingBack: `git revert` of this run's commit on each site, pushed | 1 min |
| `rollback.wait_for_restore` | RollingBack: sites synced to the revert, the intent's objects gone | 5 min |
| `rollback.evidence` | RollingBack: evidence.json | |
| `watcher` | Failed unless Succeeded: a run that rolled back ends Failed | |

Trigger it with `{"intent": "URLLC slice with 5 ms latency at edge2"}`, or a TMF921 Intent
object; `sites` overrides the sites of a text intent, `dry_run` stops after rendering,
`slo_profile` picks the verification profile. Invalid input fails `validate` at once, with the
field errors in its log and its `errors` XCom. Any failure after Delivering goes through RollingBack.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import Param, TriggerRule, dag, get_current_context, task

from edge_intent.dagparams import dag_settings, slo_profile_param, wait_timeout
from edge_intent.operators.slo_verify import SLOVerifyOperator
from edge_intent.rollout.group import WAIT_RETRIES, revert_group
from edge_intent.sensors.site_wait import ProvisioningRequestSensor, RootSyncSensor
from include.lifecycle import (
    COMPILE,
    DECIDE,
    DELIVER,
    RENDER,
    REPORT,
    ROLLBACK_GROUP,
    VALIDATE,
    VERIFY_SLOS,
    WAIT_FOR_O2IMS,
    WAIT_FOR_SYNC,
    WATCHER,
    Dag,
)

SAMPLE = "Setup ultra-low latency URLLC slice with 5ms latency for autonomous vehicles at edge2"


def _rollback_plan(context):
    from edge_intent import pipeline

    return pipeline.rollback_plan(context)


@dag(
    dag_id=Dag.PIPELINE.value,
    schedule=None,
    max_active_runs=16,
    **dag_settings(doc=__doc__, tags=["intent", "gitops", "o2ims"], retries=3, backoff=True),
    params={
        "intent": Param(
            SAMPLE,
            type=["string", "object"],
            title="Intent",
            description='Natural-language text ("URLLC slice with 5 ms latency at edge2") or a TMF921 v5 '
            "Intent object with a TurtleExpression or JsonLdExpression.",
        ),
        "sites": Param(
            [],
            type="array",
            items={"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
            title="Sites",
            description="Target sites, overriding those named in a text intent (empty: as the text says).",
        ),
        "dry_run": Param(
            False,
            type="boolean",
            title="Dry run",
            description="Compile and render only; deliver nothing.",
        ),
        "slo_profile": slo_profile_param(),
    },
)
def intent_pipeline():
    # Infrastructure errors (the execution API, the DB) are retried; an invalid intent raises
    # InvalidIntent, which is never retried.
    @task(task_id=VALIDATE, task_display_name="Pending: validate", execution_timeout=timedelta(seconds=30))
    def validate() -> dict:
        from edge_intent import intake

        context = get_current_context()
        return intake.validate(context["params"], context["ti"])

    @task(task_id=COMPILE, task_display_name="Compiling", execution_timeout=timedelta(minutes=2))
    def compile_(tmf: dict) -> dict:
        from edge_intent import pipeline

        return pipeline.compile_intent(tmf, get_current_context()["ti"])

    @task(task_id=RENDER, task_display_name="Rendering", execution_timeout=timedelta(minutes=3))
    def render(compiled: dict) -> dict:
        from edge_intent import pipeline

        return pipeline.render(compiled)

    @task(task_id=DELIVER, task_display_name="Delivering", execution_timeout=timedelta(minutes=1))
    def deliver(rendered: dict) -> dict:
        from edge_intent import pipeline

        context = get_current_context()
        return pipeline.deliver(
            rendered, dry_run=context["params"]["dry_run"], run_id=context["run_id"], ti=context["ti"]
        )

    # Retried: what was delivered is read from Git too, which may be down for a while.
    @task.branch(
        task_id=DECIDE,
        task_display_name="Verifying: decide",
        trigger_rule=TriggerRule.ALL_DONE,
        retries=3,
        retry_delay=timedelta(seconds=10),
        retry_exponential_backoff=False,
    )
    def decide():
        from edge_intent import pipeline

        context = get_current_context()
        return pipeline.decide(context["ti"], context["run_id"], context["params"]["dry_run"])

    @task(task_id=REPORT, task_display_name="Succeeded: report")
    def report() -> dict:
        from edge_intent import pipeline

        context = get_current_context()
        return pipeline.report(context["ti"], context["run_id"])

    @task(task_id=WATCHER, task_display_name="Watcher", trigger_rule=TriggerRule.ALL_DONE, retries=0)
    def watcher() -> str:
        from edge_intent import pipeline

        context = get_current_context()
        return pipeline.watch(context["ti"], context["params"]["dry_run"])

    compiled = compile_(validate())
    delivered = deliver(render(compiled))
    synced = RootSyncSensor(
        task_id=WAIT_FOR_SYNC,
        task_display_name="Reconciling: RootSync",
        targets=delivered,
        timeout=wait_timeout(),
        **WAIT_RETRIES,
    )
    fulfilled = ProvisioningRequestSensor(
        task_id=WAIT_FOR_O2IMS,
        task_display_name="Reconciling: O2IMS",
        targets=delivered,
        timeout=wait_timeout(),
        **WAIT_RETRIES,
    )
    verified = SLOVerifyOperator(
        task_id=VERIFY_SLOS,
        task_display_name="Verifying: SLOs",
        targets=delivered,
        compiled=compiled,
        profile="{{ params.slo_profile }}",
        execution_timeout=timedelta(minutes=11),
        retries=0,
    )
    decision = decide()
    succeeded = report()
    recorded = revert_group(ROLLBACK_GROUP, planner=_rollback_plan)()  # the group's evidence task
    synced >> fulfilled >> verified >> decision >> [succeeded, recorded.operator.task_group]
    [succeeded, recorded] >> watcher()  # not a direct downstream of the branch, which would skip it


intent_pipeline()
