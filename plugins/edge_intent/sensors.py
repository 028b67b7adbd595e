"""Sensors of the Reconciling and O2IMS phases: every target site, deferrable, always with a timeout.

They poke once; if the sites are not done yet they defer to :class:`SiteWaitTrigger` (or, with
``deferrable=False``, keep poking in the worker). A site that reports an error fails the wait at
once with the site's own message; a wait that outlives ``timeout`` fails naming the sites still
pending and what they report. Each site's verdict in the result says when the wait first saw that
site done (``at``; see :func:`edge_intent.waits.observe`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, ClassVar

from airflow.sdk import BaseSensorOperator
from airflow.sdk.exceptions import AirflowFailException, AirflowSensorTimeout

from edge_intent.triggers import SiteWaitTrigger
from edge_intent.waits import observe, summary


class SiteWaitFailed(AirflowFailException):
    """A site reported an error for what the pipeline delivered; waiting longer cannot help."""


class SiteWaitSensor(BaseSensorOperator):
    """Wait until every target site is done.

    :param targets: ``{site: {"sha": ..., "provisioningRequest": ...}}``, the deliver task's result.
    :param deferrable: free the worker slot while waiting (the default).
    :param poll_interval: seconds between polls.
    """

    kind: ClassVar[str]
    what: ClassVar[str]
    template_fields: Sequence[str] = ("targets",)
    ui_color = "#e8f4fd"

    def __init__(
        self, *, targets: Any, deferrable: bool = True, poll_interval: float = 2.0, **kwargs
    ) -> None:
        kwargs.setdefault("timeout", 300)
        super().__init__(poke_interval=poll_interval, **kwargs)
        self.targets = targets
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self._done_at: dict[str, float] = {}  # site -> when this wait first saw it done

    def _record(self, context, kind: str, message: str) -> None:
        """Leave the failure in XCom (key ``failure``) for the rollback's evidence."""
        ti = (context or {}).get("ti")
        if ti is not None:
            ti.xcom_push(
                key="failure",
                value={"task": self.task_id, "kind": kind, "message": message, "at": time.time()},
            )

    def _fail(self, context, message: str) -> SiteWaitFailed:
        self._record(context, "error", message)
        return SiteWaitFailed(message)

    def _timeout(self, context, message: str) -> AirflowSensorTimeout:
        self._record(context, "timeout", message)
        return AirflowSensorTimeout(message)

    def _done(self, context, result: dict[str, Any]) -> dict[str, Any]:
        ti = (context or {}).get("ti")
        if ti is not None:
            ti.xcom_push(key="completed_at", value=time.time())
        return result

    def _observe(self, context=None):
        verdicts, data = observe(self.kind, self.targets, self._done_at)
        failed = {name: check for name, check in verdicts.items() if check.state == "error"}
        if failed:
            raise self._fail(context, f"{self.what} failed: {summary(failed)}")
        return verdicts, data

    def _verdicts(self, context=None):
        return self._observe(context)[0]

    def poke(self, context) -> bool:
        verdicts = self._verdicts(context)
        done = all(check.state == "done" for check in verdicts.values())
        self.log.info("%s %s: %s", self.what, "complete" if done else "pending", summary(verdicts))
        return done

    def execute(self, context) -> dict[str, dict[str, Any]]:
        if not self.targets:
            return {}
        deadline = time.time() + self.timeout
        verdicts, data = self._observe(context)
        if all(check.state == "done" for check in verdicts.values()):
            self.log.info("%s complete: %s", self.what, summary(verdicts))
            return self._done(context, data)
        if self.deferrable:
            self.defer(
                trigger=SiteWaitTrigger(
                    kind=self.kind,
                    targets=self.targets,
                    deadline=deadline,
                    poll_interval=self.poll_interval,
                    done_at=dict(self._done_at),
                ),
                method_name="execute_complete",
                timeout=timedelta(seconds=self.timeout + 60),  # the trigger's own deadline comes first
            )
        while True:
            self.log.info("%s pending: %s", self.what, summary(verdicts))
            if time.time() >= deadline:
                pending = {n: c for n, c in verdicts.items() if c.state != "done"}
                raise self._timeout(
                    context, f"{self.what} did not complete within {self.timeout:g} s: {summary(pending)}"
                )
            time.sleep(self.poll_interval)
            verdicts, data = self._observe(context)
            if all(check.state == "done" for check in verdicts.values()):
                self.log.info("%s complete: %s", self.what, summary(verdicts))
                return self._done(context, data)

    def execute_complete(self, context, event: dict[str, Any]) -> dict[str, dict[str, Any]]:
        status = event.get("status")
        if status == "success":
            self.log.info("%s complete: %s", self.what, event["message"])
            return self._done(context, event["sites"])
        if status == "timeout":
            raise self._timeout(
                context, f"{self.what} did not complete within {self.timeout:g} s: {event['message']}"
            )
        raise self._fail(context, f"{self.what} failed: {event.get('message', event)}")


class RootSyncSensor(SiteWaitSensor):
    """Reconciling: every target site's RootSync is synced to the commit delivered to it."""

    kind = "rootsync"
    what = "GitOps sync"


class ProvisioningRequestSensor(SiteWaitSensor):
    """Every target site's O2IMS ProvisioningRequest is fulfilled."""

    kind = "provisioning"
    what = "O2IMS provisioning"


class RestoreSensor(SiteWaitSensor):
    """RollingBack: every site synced to its revert commit, and the intent's objects gone."""

    kind = "restore"
    what = "Restore sync"
