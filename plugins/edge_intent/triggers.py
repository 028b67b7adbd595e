"""The trigger of the deferred waits: polls every target site until all are done, one fails, or the
deadline passes. It lives outside the dags folder so the triggerer process can import it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from include.gitops.checks import as_json


def _check(kind: str, targets: dict[str, dict[str, Any]]):
    # Imported here, in a worker thread: loading the site and Git code takes a moment that must
    # not block the triggerer's event loop.
    from edge_intent.waits import check_sites, summary

    verdicts = check_sites(kind, targets)
    return verdicts, summary


class SiteWaitTrigger(BaseTrigger):
    """Fire once every site is done, as soon as one reports an error, or at the deadline.

    :param kind: ``rootsync`` or ``provisioning`` (see :func:`edge_intent.waits.check_sites`).
    :param targets: ``{site: {...}}`` as the sensor got them.
    :param deadline: epoch seconds at which to give up.
    :param poll_interval: seconds between polls.
    """

    def __init__(
        self, *, kind: str, targets: dict[str, dict[str, Any]], deadline: float, poll_interval: float = 2.0
    ) -> None:
        super().__init__()
        self.kind = kind
        self.targets = targets
        self.deadline = deadline
        self.poll_interval = poll_interval

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "kind": self.kind,
                "targets": self.targets,
                "deadline": self.deadline,
                "poll_interval": self.poll_interval,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        while True:
            # Wait first: the sensor checked just before deferring. Firing at once can also lose a race
            # in Airflow's scheduler (a stale executor event of the deferring process fails the resumed
            # task: apache/airflow#66374, #67287, #72716).
            await asyncio.sleep(self.poll_interval)
            verdicts, summary = await asyncio.to_thread(_check, self.kind, self.targets)
            failed = {name: check for name, check in verdicts.items() if check.state == "error"}
            if failed:
                yield TriggerEvent(
                    {"status": "error", "message": summary(failed), "sites": as_json(verdicts)}
                )
                return
            if all(check.state == "done" for check in verdicts.values()):
                yield TriggerEvent(
                    {"status": "success", "message": summary(verdicts), "sites": as_json(verdicts)}
                )
                return
            if time.time() >= self.deadline:
                pending = {n: c for n, c in verdicts.items() if c.state != "done"}
                yield TriggerEvent(
                    {"status": "timeout", "message": summary(pending), "sites": as_json(verdicts)}
                )
                return
            self.log.info("Waiting: %s", summary(verdicts))
