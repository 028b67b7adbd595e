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

Trigger it with `{"intent": "URLLC slice with 5 ms latency at edge2"}`, or a TMF921 Intent
object; `sites` overrides the sites of a text intent, `dry_run` stops after rendering. Invalid
input fails `validate` at once, with the field errors in its log and its `errors` XCom.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Param, dag, get_current_context, task

from edge_intent.sensors import ProvisioningRequestSensor, RootSyncSensor

SAMPLE = "Setup ultra-low latency URLLC slice with 5ms latency for autonomous vehicles at edge2"


@dag(
    dag_id="intent_pipeline",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=16,
    tags=["intent", "gitops", "o2ims"],
    doc_md=__doc__,
    default_args={"owner": "edge-intent", "retries": 2, "retry_delay": timedelta(seconds=5)},
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
    },
)
def intent_pipeline():
    @task(task_display_name="Pending: validate", retries=0, execution_timeout=timedelta(seconds=30))
    def validate() -> dict:
        from edge_intent import pipeline

        context = get_current_context()
        return pipeline.validate(context["params"], context["ti"])

    @task(task_display_name="Compiling", execution_timeout=timedelta(minutes=2))
    def compile(tmf: dict) -> dict:  # noqa: A001 (the phase's name)
        from edge_intent import pipeline

        return pipeline.compile_intent(tmf, get_current_context()["ti"])

    @task(task_display_name="Rendering", execution_timeout=timedelta(minutes=3))
    def render(compiled: dict) -> dict:
        from edge_intent import pipeline

        return pipeline.render(compiled)

    @task(task_display_name="Delivering", execution_timeout=timedelta(minutes=1))
    def deliver(rendered: dict) -> dict:
        from edge_intent import pipeline

        context = get_current_context()
        return pipeline.deliver(rendered, dry_run=context["params"]["dry_run"], run_id=context["run_id"])

    delivered = deliver(render(compile(validate())))
    synced = RootSyncSensor(
        task_id="wait_for_sync",
        task_display_name="Reconciling: RootSync",
        targets=delivered,
        timeout=300,
        retries=0,
    )
    fulfilled = ProvisioningRequestSensor(
        task_id="wait_for_o2ims",
        task_display_name="Reconciling: O2IMS",
        targets=delivered,
        timeout=300,
        retries=0,
    )
    synced >> fulfilled


intent_pipeline()
