"""
### Emergency: checkpoint every site repository

Tags the commit `main` points at on every site's config repository with the annotated tag
`checkpoint/<name>`, pushed without force, so that `emergency_reset` can later bring every site back
to it. An existing checkpoint is never moved: if any site already has the tag, nothing is tagged.

| task | what |
|---|---|
| `plan` | checks the name (a DNS-1123 label of at most 40 characters) and that no site has the tag |
| `tag` | tags each site's `main` and pushes the tag; returns `{name, tag, sites: {site: commit}}` |

Trigger with `{"name": "before-maintenance", "message": "known good before the upgrade"}`.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import Param, dag, get_current_context, task

from edge_intent.dagparams import dag_settings, label_param
from include.lifecycle import PLAN, Dag


@dag(
    dag_id=Dag.CHECKPOINT.value,
    schedule=None,
    max_active_runs=1,
    **dag_settings(doc=__doc__, tags=["emergency", "gitops", "operations"]),
    params={
        "name": label_param(
            "Checkpoint name",
            "The tag is checkpoint/<name>; lower-case letters, digits and '-', at most 40.",
            max_length=40,
        ),
        "message": Param(
            "", type="string", maxLength=500, title="Message", description="The annotated tag's message."
        ),
    },
)
def emergency_checkpoint():
    @task(
        task_id=PLAN, task_display_name="Plan", execution_timeout=timedelta(minutes=1), multiple_outputs=False
    )
    def plan() -> dict:
        from edge_intent.operations.emergency import checkpoint_plan

        return checkpoint_plan(get_current_context()["params"])

    @task(task_display_name="Tag", execution_timeout=timedelta(minutes=1), multiple_outputs=False)
    def tag(planned: dict) -> dict:
        from edge_intent.operations.emergency import checkpoint_create

        return checkpoint_create(planned, get_current_context()["run_id"])

    tag(plan())


emergency_checkpoint()
