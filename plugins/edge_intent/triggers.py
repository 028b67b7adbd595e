"""The trigger of the deferred waits: polls every target site until all are done, one fails, or the
deadline passes. It lives outside the dags folder so the triggerer process can import it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent


def _check(kind: str, targets: dict[str, dict[str, Any]], done_at: dict[str, float]):
    # Imported here, in a worker thread: loading the site and Git code takes a moment that must
    # not block the triggerer's event loop.
    from edge_intent.waits import observe, summary

    verdicts, data = observe(kind, targets, done_at)
    return verdicts, data, summary


class SiteWaitTrigger(BaseTrigger):
    """Fire once every site is done, as soon as one reports an error, or at the deadline.

    :param kind: ``rootsync`` or ``provisioning`` (see :func:`edge_intent.waits.check_sites`).
    :param targets: ``{site: {...}}`` as the sensor got them.
    :param deadline: epoch seconds at which to give up.
    :param poll_interval: seconds between polls.
    :param done_at: ``{site: epoch}`` of sites the sensor already saw done (kept as their ``at``).
    """

    def __init__(
        self,
        *,
        kind: str,
        targets: dict[str, dict[str, Any]],
        deadline: float,
        poll_interval: float = 2.0,
        done_at: dict[str, float] | None = None,
    ) -> None:
        super().__init__()
        self.kind = kind
        self.targets = targets
        self.deadline = deadline
        self.poll_interval = poll_interval
        self.done_at = dict(done_at or {})

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "kind": self.kind,
                "targets": self.targets,
                "deadline": self.deadline,
                "poll_interval": self.poll_interval,
                "done_at": self.done_at,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        while True:
            # Wait first: the sensor checked just before deferring. Firing at once can also lose a race
            # in Airflow's scheduler (a stale executor event of the deferring process fails the resumed
            # task: apache/airflow#66374, #67287, #72716).
            await asyncio.sleep(self.poll_interval)
            verdicts, data, summary = await asyncio.to_thread(_check, self.kind, self.targets, self.done_at)
            failed = {name: check for name, check in verdicts.items() if check.state == "error"}
            if failed:
                yield TriggerEvent({"status": "error", "message": summary(failed), "sites": data})
                return
            if all(check.state == "done" for check in verdicts.values()):
                yield TriggerEvent({"status": "success", "message": summary(verdicts), "sites": data})
                return
            if time.time() >= self.deadline:
                pending = {n: c for n, c in verdicts.items() if c.state != "done"}
                yield TriggerEvent({"status": "timeout", "message": summary(pending), "sites": data})
                return
            self.log.info("Waiting: %s", summary(verdicts))
