"""The trigger of the deferred Verifying phase: the SLO window runs in the triggerer, one step per
evaluation instant, so an intent under verification holds no worker slot for its window.

The window's state (every evaluation so far, each SLO's failures in a row) lives in the trigger
while it runs. A triggerer that restarts runs the trigger again from its serialized arguments: the
window starts at the same instant (``start``), and the instants already past are evaluated again at
their own time from what Prometheus kept, so the consecutive-failure count is rebuilt, not lost.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from enum import StrEnum
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

CLASSPATH = "edge_intent.triggers.slo_window.SLOWindowTrigger"
MIN_DEFERRAL = 2.0
"""Seconds a window stays deferred at least, even when its verdict comes at once (a breach already
in Prometheus' history): firing at once can lose a race in Airflow's scheduler, where a stale
executor event of the deferring process fails the resumed task (apache/airflow#66374, #67287)."""


class WindowStatus(StrEnum):
    """The status of a :class:`SLOWindowTrigger` event."""

    DONE = "done"  # the window has its verdict (``verdict``)
    ERROR = "error"  # the window could not run (``message``)


def _open(
    intent_id: str,
    targets: dict[str, dict[str, float]],
    profile: str,
    soak: float,
    start: float,
    prometheus_conn_id: str,
):
    # In a worker thread: reading the connection and the SLO configuration blocks.
    from edge_intent.hooks.prometheus import PrometheusHook
    from edge_intent.rollout.verify import open_window

    hook = PrometheusHook(prometheus_conn_id)
    return open_window(intent_id, targets, profile, soak=soak, start=start), hook.query_client()


class SLOWindowTrigger(BaseTrigger):
    """Evaluate an intent's SLOs at its sites over the profile's window; fire with the verdict.

    :param intent_id: the intent.
    :param targets: ``{site: {targetName: value}}``, the intent's own targets at each site.
    :param profile: a profile of ``config/slo.yaml``.
    :param soak: seconds of verification after the profile's window.
    :param start: when the window starts (epoch seconds: the change went live).
    :param prometheus_conn_id: the Prometheus connection.
    """

    def __init__(
        self,
        *,
        intent_id: str,
        targets: dict[str, dict[str, float]],
        profile: str,
        start: float,
        soak: float = 0.0,
        prometheus_conn_id: str = "prometheus_default",
    ) -> None:
        super().__init__()
        self.intent_id = intent_id
        self.targets = targets
        self.profile = profile
        self.start = start
        self.soak = soak
        self.prometheus_conn_id = prometheus_conn_id

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            CLASSPATH,
            {
                "intent_id": self.intent_id,
                "targets": self.targets,
                "profile": self.profile,
                "start": self.start,
                "soak": self.soak,
                "prometheus_conn_id": self.prometheus_conn_id,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from edge_intent.rollout.verify import conclude, show

        began = time.monotonic()
        try:
            window, query = await asyncio.to_thread(
                _open,
                self.intent_id,
                self.targets,
                self.profile,
                self.soak,
                self.start,
                self.prometheus_conn_id,
            )
            while True:  # a window may start later than now (after a scale step): sleep first
                await asyncio.sleep(max(0.0, window.tick - time.time()))
                if (verdict := await asyncio.to_thread(window.step, query, time.time, show)) is not None:
                    break
            verdict_json = await asyncio.to_thread(conclude, self.intent_id, verdict)
            await asyncio.sleep(max(0.0, began + MIN_DEFERRAL - time.monotonic()))
        except Exception as exc:  # said in the task's failure, not lost in the triggerer's log
            yield TriggerEvent(
                {"status": WindowStatus.ERROR.value, "message": f"{type(exc).__name__}: {exc}"}
            )
            return
        yield TriggerEvent({"status": WindowStatus.DONE.value, "verdict": verdict_json})
