"""What every DAG of the project shares: its ``@dag`` settings and the trigger-form Params the
operations DAGs have in common (each typed, titled and described, checked by the form and by the
API before a run starts)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import Param

DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(?!\n)$"
"""A DNS-1123 label as a JSON Schema pattern. Param validation searches with Python's ``re``, where
``$`` also matches before a trailing newline: the lookahead refuses that (valid ECMA-262 too)."""
OWNER = "edge-intent"
WAIT_TIMEOUT_ENV = "EDGE_INTENT_WAIT_TIMEOUT"
MAX_ACTIVE_RUNS_ENV = "EDGE_INTENT_MAX_ACTIVE_RUNS"


def wait_timeout() -> float:
    """Seconds a site wait (RootSync, O2IMS, restore) waits before it fails naming the sites still
    pending: ``$EDGE_INTENT_WAIT_TIMEOUT`` where the DAG files are parsed, else the seed's 300."""
    import os

    raw = os.environ.get(WAIT_TIMEOUT_ENV, "").strip()
    try:
        value = float(raw) if raw else 300.0
    except ValueError:
        raise ValueError(f"{WAIT_TIMEOUT_ENV}: not a number of seconds: {raw[:40]!r}") from None
    if not 1 <= value <= 3600:
        raise ValueError(f"{WAIT_TIMEOUT_ENV}: must be between 1 and 3600 seconds, got {value:g}")
    return value


def max_active_intents() -> int:
    """The most ``intent_pipeline`` runs in flight at once (more wait queued):
    ``$EDGE_INTENT_MAX_ACTIVE_RUNS`` where the DAG files are parsed, else 64. A run waiting on a
    site or an SLO window is deferred and holds no worker slot, so this, not the workers, bounds the
    intents in flight; what runs at once is bounded by Airflow's parallelism and pools as usual."""
    import os

    raw = os.environ.get(MAX_ACTIVE_RUNS_ENV, "").strip()
    if not raw:
        return 64
    if not raw.isdigit() or not 1 <= int(raw) <= 10_000:
        raise ValueError(f"{MAX_ACTIVE_RUNS_ENV}: must be a whole number from 1 to 10000, got {raw[:40]!r}")
    return int(raw)


def dag_settings(
    *, doc: str | None, tags: list[str], retries: int = 0, backoff: bool = False, **extra: Any
) -> dict[str, Any]:
    """The ``@dag`` keyword arguments every project DAG uses (its schedule it names itself): no
    catch-up, a small ``default_args`` (owner, retries).

    :param backoff: retry after 5, 10, 20 ... s (at most a minute apart), so that the retries of a
        task outlast a restart of Airflow's api-server or the Git server.
    """
    default_args: dict[str, Any] = {"owner": OWNER, "retries": retries, "retry_delay": timedelta(seconds=5)}
    if backoff:
        default_args |= {"retry_exponential_backoff": True, "max_retry_delay": timedelta(minutes=1)}
    return {
        "start_date": pendulum.datetime(2026, 1, 1, tz="UTC"),
        "catchup": False,
        "tags": tags,
        "doc_md": doc,
        "default_args": default_args,
        **extra,
    }


def label_param(title: str, description: str, *, max_length: int, default: Any = None) -> Param:
    """A DNS-1123 label (no ``/``, no ``..``: safe as a path segment and a Git ref part)."""
    extra = {} if default is None else {"default": default}
    return Param(
        type="string",
        minLength=1,
        maxLength=max_length,
        pattern=DNS_LABEL,
        title=title,
        description=description,
        **extra,
    )


def reason_param(description: str = "Why; written into the revert commits and the evidence.") -> Param:
    return Param("", type="string", maxLength=500, title="Reason", description=description)


def slo_profile_param() -> Param:
    return Param(
        "default",
        type="string",
        pattern="^[a-z0-9_-]{1,40}$",
        title="SLO profile",
        description="Verification profile of config/slo.yaml: default (10 min window) or demo (30 s).",
    )


def failed_task_watcher():
    """A last task that fails the run when any task before it failed (``ONE_FAILED``): a summary
    that runs ``ALL_DONE`` would otherwise leave the run green after a failed discovery or check."""
    from airflow.sdk import TriggerRule, task

    from include.lifecycle import WATCHER

    @task(task_id=WATCHER, task_display_name="Watcher", trigger_rule=TriggerRule.ONE_FAILED, retries=0)
    def watcher() -> None:
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException("a task of this run failed: see the red task")

    return watcher()
