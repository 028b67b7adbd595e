"""The edge-intent Airflow plugin: web apps served by Airflow's api-server.

* ``/api/intent`` and ``/tmf-api/intentManagement/v5``: the intent API (edge_intent.api);
* ``/edge-intent/metrics``: the pipeline's metrics for Prometheus (edge_intent.metrics);
* ``/edge-intent/rollout``: the Rollout page of a run (edge_intent.api.rollout_page), a tab of every
  DAG run in the UI through ``external_views`` (the UI fills in the href's ``{DAG_ID}``/``{RUN_ID}``).

The package ``edge_intent`` beside this file holds the code; ``.airflowignore`` keeps the plugin scan
to this module.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from edge_intent.api import FASTAPI_APPS, ROOT_MIDDLEWARES
from edge_intent.api.rollout_page import EXTERNAL_VIEW, PREFIX, rollout_app
from edge_intent.metrics import app as metrics_app
from edge_intent.preload import preload

preload()


class EdgeIntentPlugin(AirflowPlugin):
    name = "edge_intent"
    fastapi_apps = [
        *FASTAPI_APPS,
        # before the metrics app: a mount at /edge-intent would take /edge-intent/rollout/... too
        {"app": rollout_app, "url_prefix": PREFIX, "name": "edge-intent rollout page"},
        {"app": metrics_app, "url_prefix": "/edge-intent", "name": "edge-intent metrics"},
    ]
    fastapi_root_middlewares = ROOT_MIDDLEWARES
    external_views = [EXTERNAL_VIEW]
