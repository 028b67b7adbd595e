"""The edge-intent Airflow plugin: web apps served by Airflow's api-server.

* ``/api/intent`` and ``/tmf-api/intentManagement/v5``: the intent API (edge_intent.api);
* ``/edge-intent/metrics``: the pipeline's metrics for Prometheus (edge_intent.metrics).

The package ``edge_intent`` beside this file holds the code; ``.airflowignore`` keeps the plugin scan
to this module.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from edge_intent.api import FASTAPI_APPS, ROOT_MIDDLEWARES
from edge_intent.metrics import app as metrics_app


class EdgeIntentPlugin(AirflowPlugin):
    name = "edge_intent"
    fastapi_apps = [
        *FASTAPI_APPS,
        {"app": metrics_app, "url_prefix": "/edge-intent", "name": "edge-intent metrics"},
    ]
    fastapi_root_middlewares = ROOT_MIDDLEWARES
