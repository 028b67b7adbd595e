"""
### Emergency: mark a stuck run failed

For a run of one of the project's DAGs that is stuck (queued or running and not moving), marks the
run failed through Airflow's REST API v2, as an operator would from the UI: `POST /auth/token`,
`GET` the run, then `PATCH /api/v2/dags/{dag_id}/dagRuns/{run_id}` with `{"state": "failed"}`.
Airflow then ends its unfinished task instances. Tasks have no access to the metadata database in
Airflow 3, hence the REST API.

It refuses a run that has already finished (`success` or `failed`) and any DAG that is not one of
the project's. Nothing in Git or on the sites changes: an intent whose run is failed this way may
have been delivered; withdraw it with `intent_withdraw` if it must go.

Connection `airflow_api` (http): host = the api-server's URL (`https://airflow.example`), login and
password of a user allowed to edit DAG runs.

Trigger with `{"dag_id": "intent_pipeline", "run_id": "manual__2026-01-01T00:00:00+00:00",
"reason": "O2IMS never answered"}`.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import Param, dag, get_current_context, task

from edge_intent.dagparams import dag_settings, reason_param
from include.lifecycle import Dag

PROJECT_DAGS = [str(dag_id) for dag_id in Dag if dag_id != Dag.FAIL_RUN]


@dag(
    dag_id=Dag.FAIL_RUN.value,
    schedule=None,
    **dag_settings(doc=__doc__, tags=["emergency", "operations"]),
    params={
        "dag_id": Param(
            str(Dag.PIPELINE),
            type="string",
            enum=PROJECT_DAGS,
            title="DAG",
            description="The DAG of the stuck run (one of the project's DAGs).",
        ),
        "run_id": Param(
            type="string",
            minLength=1,
            maxLength=250,
            pattern="^[A-Za-z0-9_.:+-]+$",
            title="Run id",
            description="The stuck run, e.g. manual__2026-01-01T00:00:00+00:00.",
        ),
        "reason": reason_param("Why the run is failed by hand; logged and returned."),
    },
)
def emergency_fail_run():
    @task(
        task_display_name="Mark the run failed",
        execution_timeout=timedelta(minutes=1),
        multiple_outputs=False,
    )
    def fail_run() -> dict:
        from edge_intent.operations.emergency import fail_run

        return fail_run(get_current_context()["params"])

    fail_run()


emergency_fail_run()
