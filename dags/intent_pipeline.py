"""
### Intent pipeline

Turns an operator's intent into a deployment on the edge sites, wave by wave, one task per phase of
the operator state machine:

| task | phase | timeout |
|---|---|---|
| `validate` | Pending: read and validate the intent (TS 28.312); its strategy into waves | 30 s |
| `compile` | Compiling: TMF921 → TS 28.312 → each site's KRM package | 2 min |
| `render` | Rendering: `kpt fn render` of every package | 3 min |
| `wave_<n>.approve` | the wave's sites, after a person's approval if the strategy asks | approvalTimeout |
| `wave_<n>.sites.deliver` | Delivering, per site: one commit under `intents/<id>/`, pushed | 1 min |
| `wave_<n>.sites.wait_for_sync` | Reconciling: the site's RootSync synced to its commit | progressDeadline |
| `wave_<n>.sites.wait_for_o2ims` | Reconciling: the site's O2IMS request fulfilled | progressDeadline |
| `wave_<n>.sites.verify_slos` | Verifying: the site's SLOs over the window, then the soak | 11 min |
| `wave_<n>.gate` | the rollout record: more than `maxFailures` failed sites stop the rollout | |
| `wave_<n>.restore_failed` | a failed site within `maxFailures`, reverted alone by the gate, synced | |
| `decide` | the report if the rollout went through, else RollingBack | |
| `report` | Succeeded, Degraded or Unverified by the intent's targets; the reports | |
| `rollback.*` | RollingBack: revert this run's commits, newest wave first; restore sync; evidence.json | |
| `rollout` | rollout.json: every wave, site, commit, time, verdict, approval and revert | |
| `watcher` | Failed unless the intent went through (a rollback ends Failed); its outcome in words | |

Trigger it with `{"intent": "URLLC slice with 5 ms latency at edge2"}`, or a TMF921 Intent
object; `sites` overrides the sites of a text intent, `dry_run` stops after rendering,
`slo_profile` picks the verification profile, `rollout_strategy` overrides the default strategy of
`config/rollout.yaml` (Open Cluster Management's `RolloutStrategy`: `All`, `Progressive`,
`ProgressivePerGroup`). Invalid input fails `validate` at once, with the field errors in its log and
its `errors` XCom. A wave's sites that never started never get a commit.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import Param, TriggerRule, XComArg, dag, get_current_context, task

from edge_intent.dagparams import dag_settings, max_active_intents, slo_profile_param
from edge_intent.rollout.group import revert_group
from edge_intent.rollout.wave_group import wave
from include.compiler.config import load_settings
from include.lifecycle import (
    COMPILE,
    DECIDE,
    RENDER,
    REPORT,
    ROLLBACK_GROUP,
    ROLLOUT,
    VALIDATE,
    WATCHER,
    Dag,
    Key,
)
from include.rollout.strategy import max_waves

SAMPLE = "Setup ultra-low latency URLLC slice with 5ms latency for autonomous vehicles at edge2"


def _rollback_plan(context):
    from edge_intent import pipeline

    return pipeline.rollback_plan(context)


@dag(
    dag_id=Dag.PIPELINE.value,
    schedule=None,
    max_active_runs=max_active_intents(),
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
        "rollout_strategy": Param(
            None,
            type=["null", "object"],
            title="Rollout strategy",
            description='Open Cluster Management\'s RolloutStrategy, e.g. {"type": "Progressive", '
            '"progressive": {"maxConcurrency": 1, "maxFailures": 0, "minSuccessTime": "30s"}}; '
            "empty: config/rollout.yaml's default.",
        ),
    },
)
def intent_pipeline():
    # Infrastructure errors (the execution API, the DB) are retried; an invalid intent raises
    # InvalidIntent, which is never retried.
    @task(
        task_id=VALIDATE,
        task_display_name="Pending: validate",
        execution_timeout=timedelta(seconds=30),
        multiple_outputs=False,
    )
    def validate() -> dict:
        from edge_intent import intake

        context = get_current_context()
        return intake.validate(context["params"], context["ti"])

    @task(
        task_id=COMPILE,
        task_display_name="Compiling",
        execution_timeout=timedelta(minutes=2),
        multiple_outputs=False,
    )
    def compile_(tmf: dict) -> dict:
        from edge_intent import pipeline

        return pipeline.compile_intent(tmf, get_current_context()["ti"])

    @task(
        task_id=RENDER,
        task_display_name="Rendering",
        execution_timeout=timedelta(minutes=3),
        multiple_outputs=False,
    )
    def render(compiled: dict) -> dict:
        from edge_intent import pipeline

        return pipeline.render(compiled)

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

    @task(task_id=REPORT, task_display_name="Report: fulfilment", multiple_outputs=False)
    def report() -> dict:
        from edge_intent import pipeline

        context = get_current_context()
        return pipeline.report(context["ti"], context["run_id"])

    @task(task_id=WATCHER, task_display_name="Watcher", trigger_rule=TriggerRule.ALL_DONE, retries=0)
    def watcher() -> str:
        from edge_intent import pipeline

        context = get_current_context()
        return pipeline.watch(context["ti"], context["params"]["dry_run"])

    @task(
        task_id=ROLLOUT,
        task_display_name="Rollout record",
        trigger_rule=TriggerRule.ALL_DONE,
        retries=1,
        multiple_outputs=False,
    )
    def rollout() -> dict:
        from edge_intent import pipeline

        context = get_current_context()
        return pipeline.close_rollout(context["ti"], context["run_id"])

    validated = validate()
    compiled = compile_(validated)
    rendered = render(compiled)
    plan = XComArg(validated.operator, key=Key.ROLLOUT)
    previous, waves = rendered, []
    for index in range(1, max_waves(load_settings().catalogue) + 1):
        profile = "{{ params.slo_profile }}"
        group = wave(index, rendered=rendered, compiled=compiled, plan=plan, profile=profile)
        previous >> group
        previous = group
        waves.append(group)
    decision = decide()
    succeeded = report()
    recorded = revert_group(ROLLBACK_GROUP, planner=_rollback_plan)()  # the group's evidence task
    # any wave may be the last: its gate skips the later ones, and decide waits for every wave's end
    waves >> decision >> [succeeded, recorded.operator.task_group]
    closed = rollout()
    [succeeded, recorded] >> closed >> watcher()  # not a direct downstream of the branch, which would skip it


intent_pipeline()
