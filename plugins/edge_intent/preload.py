"""The modules the pipeline's tasks import, loaded once per Airflow process instead of once per task.

Airflow runs each task in a process forked from its worker (the LocalExecutor's workers, forked from
the scheduler; a Celery worker's pool), and the task process parses its DAG file and imports what the
task needs. For a short task that import is most of its cost: the cncf-kubernetes provider's hook
(the ``kubernetes`` and ``kubernetes_asyncio`` clients), GitPython, the task SDK's decorators and this
package (``bench/load.py`` shows the task processes' share of the stack's CPU).

The plugin calls :func:`preload` when Airflow loads it. With ``[core] lazy_load_plugins = False``
(the local stack, the compose stack) every Airflow process loads plugins at start, so the worker
processes hold these modules before they fork a task, and each task process inherits them.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil

log = logging.getLogger(__name__)

THIRD_PARTY = (
    "airflow.sdk.definitions.decorators",  # @task, @task_group: every DAG file
    "airflow.providers.cncf.kubernetes.hooks.kubernetes",  # EdgeSiteHook's KubernetesHook
    "git",  # SiteRepoHook's GitPython
)
"""Modules outside this package that the tasks import."""


def task_modules() -> list[str]:
    """:data:`THIRD_PARTY`, then every module of this package."""
    import edge_intent

    own = [
        info.name
        for info in pkgutil.walk_packages(edge_intent.__path__, prefix="edge_intent.")
        if info.name != __name__
    ]
    return [*THIRD_PARTY, *own]


def preload() -> None:
    """Import :func:`task_modules`. A module that cannot be imported is logged and left to the task
    that needs it, which then fails with its own error; the plugin still loads."""
    for name in task_modules():
        try:
            importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 - the task's own import raises it again
            log.warning("preloading %s failed: %s: %s", name, type(exc).__name__, exc)
