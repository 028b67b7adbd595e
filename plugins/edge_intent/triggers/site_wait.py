"""The trigger of the deferred site waits: polls every target site until all are done, one fails, or
the deadline passes. The check is the same pure function the sensor's ``poke`` uses."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from enum import StrEnum
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

CLASSPATH = "edge_intent.triggers.site_wait.SiteWaitTrigger"


class WaitStatus(StrEnum):
    """The status of a :class:`SiteWaitTrigger` event."""

    SUCCESS = "success"
    ERROR = "error"
    TIMEOUT = "timeout"


def _check(kind: str, targets: dict[str, dict[str, Any]], done_at: dict[str, float], git_conn_id: str):
    # Imported here, in a worker thread: loading the site and Git code takes a moment that must
    # not block the triggerer's event loop.
    from edge_intent.waits import observe, split, summary

    verdicts, data = observe(kind, targets, done_at, git_conn_id)
    return verdicts, data, *split(verdicts), summary


class SiteWaitTrigger(BaseTrigger):
    """Fire once every site is done, as soon as one reports an error, or at the deadline.

    :param kind: a :class:`edge_intent.waits.WaitKind`.
    :param targets: ``{site: {...}}`` as the sensor got them.
    :param deadline: epoch seconds at which to give up.
    :param poll_interval: seconds between polls.
    :param done_at: ``{site: epoch}`` of sites the sensor already saw done (kept as their ``at``).
    :param git_conn_id: the Git server connection (to tell a later commit from an unrelated one).
    """

    def __init__(
        self,
        *,
        kind: str,
        targets: dict[str, dict[str, Any]],
        deadline: float,
        poll_interval: float = 2.0,
        done_at: dict[str, float] | None = None,
        git_conn_id: str = "gitea_default",
    ) -> None:
        super().__init__()
        self.kind = str(kind)
        self.targets = targets
        self.deadline = deadline
        self.poll_interval = poll_interval
        self.done_at = dict(done_at or {})
        self.git_conn_id = git_conn_id

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            CLASSPATH,
            {
                "kind": self.kind,
                "targets": self.targets,
                "deadline": self.deadline,
                "poll_interval": self.poll_interval,
                "done_at": self.done_at,
                "git_conn_id": self.git_conn_id,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        while True:
            # Wait first: the sensor checked just before deferring. Firing at once can also lose a race
            # in Airflow's scheduler (a stale executor event of the deferring process fails the resumed
            # task: apache/airflow#66374, #67287, #72716).
            await asyncio.sleep(self.poll_interval)
            verdicts, data, failed, pending, summary = await asyncio.to_thread(
                _check, self.kind, self.targets, self.done_at, self.git_conn_id
            )
            if failed:
                yield TriggerEvent(
                    {"status": WaitStatus.ERROR.value, "message": summary(failed), "sites": data}
                )
                return
            if not pending:
                yield TriggerEvent(
                    {"status": WaitStatus.SUCCESS.value, "message": summary(verdicts), "sites": data}
                )
                return
            if time.time() >= self.deadline:
                yield TriggerEvent(
                    {"status": WaitStatus.TIMEOUT.value, "message": summary(pending), "sites": data}
                )
                return
            self.log.info("Waiting: %s", summary(verdicts))
