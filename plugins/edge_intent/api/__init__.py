"""The intent API, served by Airflow's api-server (registered by ``plugins/edge_intent_plugin.py``).

* ``/api/intent`` (:mod:`.routes`): submit an intent (text or TMF921), follow its phase, read its
  report or evidence;
* ``/tmf-api/intentManagement/v5`` (:mod:`.tmf`): the TMF921 v5 facade, including withdrawal;
* root middlewares (:mod:`.routes`): ``POST /api/intent`` without its slash, and a TMF921 ``Error``
  for a path under either API that no route can match;
* :mod:`.limits`: authentication, rate and body limits; :mod:`.errors`: TMF921 ``Error`` bodies;
* :mod:`.runs`: reading a submission (the pipeline's own intake), starting and finding runs;
* :mod:`.records`: the one reader of runs in Airflow's metadata DB, with each run's phase.
* :mod:`.rollout_page`: ``/edge-intent/rollout``, a run's Rollout page (a tab of the run in the UI;
  it needs permission to read the DAG's runs, and the plugin registers it beside ``FASTAPI_APPS``).

Every route needs Airflow's own authentication (a JWT from ``/auth/token``, or the UI's cookie) and
permission to trigger ``intent_pipeline``. Nothing runs and nothing is committed for a refused
request. The apps are built when ``FASTAPI_APPS`` is first read; importing this package (e.g. for
:mod:`.records`) builds nothing, and no app parses DAGs or reads the DB before a request.
"""

from __future__ import annotations

from typing import Any

__all__ = ["FASTAPI_APPS", "ROOT_MIDDLEWARES"]


def __getattr__(name: str) -> Any:
    """``FASTAPI_APPS`` and ``ROOT_MIDDLEWARES``, built on first use (PEP 562)."""
    if name == "FASTAPI_APPS":
        from edge_intent.api import alerts
        from edge_intent.api.routes import PREFIX, intent_app
        from edge_intent.api.tmf import tmf_app
        from include.compiler.tmf921 import BASE_PATH

        value: Any = [
            # before the intent API: its routes need an Airflow login, Alertmanager has a token
            {"app": alerts.alerts_app, "url_prefix": alerts.PREFIX, "name": "edge-intent alerts webhook"},
            {"app": intent_app, "url_prefix": PREFIX, "name": "edge-intent intent API"},
            {"app": tmf_app, "url_prefix": BASE_PATH, "name": "edge-intent TMF921 v5"},
        ]
    elif name == "ROOT_MIDDLEWARES":
        from edge_intent.api.routes import ApiPaths, TrailingSlash

        value = [
            {"middleware": TrailingSlash, "args": [], "kwargs": {}, "name": "edge-intent trailing slash"},
            {"middleware": ApiPaths, "args": [], "kwargs": {}, "name": "edge-intent unroutable paths"},
        ]
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value
