"""The site waits: every target site's RootSync synced, O2IMS request fulfilled, or revert restored.

``poke`` checks every site once (:func:`edge_intent.waits.observe`, the same check the trigger runs);
``BaseSensorOperator`` does the rest: ``mode="poke"`` or ``"reschedule"`` with its backoff, timeout and
soft_fail, or, with ``deferrable=True`` (the default), one poke and then a deferral to
:class:`SiteWaitTrigger` so that no worker slot is held while waiting. A site that reports an error
fails the wait at once with the site's own message; a wait that outlives ``timeout`` fails naming the
sites still pending and what they report. Either failure is also left in the XCom ``failure`` for the
rollback's evidence. Each site's verdict in the result says when the wait first saw that site done
(``at``; in reschedule mode, when the poke that saw it ran).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, ClassVar

from airflow.sdk import BaseSensorOperator, PokeReturnValue
from airflow.sdk.exceptions import AirflowFailException, AirflowSensorTimeout

from edge_intent.hooks.site_repo import SiteRepoHook
from edge_intent.triggers.site_wait import SiteWaitTrigger, WaitStatus
from edge_intent.waits import WaitKind, observe, split, summary
from include.lifecycle import Key


class SiteWaitFailed(AirflowFailException):
    """A site reported an error for what the pipeline delivered; waiting longer cannot help."""


class SiteWaitSensor(BaseSensorOperator):
    """Wait until every target site is done.

    :param targets: ``{site: {"sha": ..., "provisioningRequest": ...}}``, e.g. the deliver task's result.
    :param git_conn_id: the Git server connection (to tell a later commit from an unrelated one).
    :param deferrable: free the worker slot while waiting (the default); ``False`` for ``mode="poke"``
        or ``mode="reschedule"``.
    :param poll_interval: seconds between polls (the ``poke_interval``).
    """

    kind: ClassVar[WaitKind]
    what: ClassVar[str]
    template_fields: Sequence[str] = ("targets",)
    ui_color = "#e8f4fd"

    def __init__(
        self,
        *,
        targets: Any,
        git_conn_id: str = SiteRepoHook.default_conn_name,
        deferrable: bool = True,
        poll_interval: float = 2.0,
        **kwargs,
    ) -> None:
        kwargs.setdefault("timeout", 300)
        kwargs.setdefault("poke_interval", poll_interval)
        super().__init__(**kwargs)
        self.targets = targets
        self.git_conn_id = git_conn_id
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self._done_at: dict[str, float] = {}  # site -> when this wait first saw it done
        self._pending = ""  # what the sites still pending said at the last poke
        self._sites: dict[str, Any] = {}  # every site's verdict at the last poke
        self._by_deadline = False  # the wait's timeout is the rollout's progressDeadline

    def _record(self, context, kind: str, message: str, sites: dict[str, Any] | None) -> None:
        """Leave the failure, with every site's last verdict, in the XCom ``failure`` (for evidence)."""
        ti = (context or {}).get("ti")
        if ti is not None:
            ti.xcom_push(
                key=Key.FAILURE,
                value={
                    "task": self.task_id,
                    "kind": kind,
                    "message": message,
                    "at": time.time(),
                    "targets": sorted(self.targets or {}),
                    "sites": sites if sites is not None else self._sites,
                },
            )

    def _fail(self, context, message: str, sites: dict[str, Any] | None = None) -> SiteWaitFailed:
        self._record(context, WaitStatus.ERROR.value, message, sites)
        return SiteWaitFailed(message)

    def _timeout(self, context, message: str, sites: dict[str, Any] | None = None) -> AirflowSensorTimeout:
        if self._by_deadline:
            message = f"missed the rollout's progressDeadline: {message}"
        self._record(context, WaitStatus.TIMEOUT.value, message, sites)
        return AirflowSensorTimeout(f"{self.what} did not complete within {self.timeout:g} s: {message}")

    def _apply_deadline(self) -> None:
        """A delivery with a ``deadline`` (its rollout's progressDeadline, epoch seconds) shortens the
        wait to it: a site not synced and provisioned by then has failed."""
        deadlines = [
            t["deadline"]
            for t in (self.targets or {}).values()
            if isinstance(t, dict) and isinstance(t.get("deadline"), int | float)
        ]
        if deadlines and min(deadlines) - time.time() < self.timeout:
            self.timeout = max(1.0, min(deadlines) - time.time())
            self._by_deadline = True

    def _done(self, context, result: dict[str, Any]) -> dict[str, Any]:
        """Record when the last site was first seen done (not when the worker resumed: a deferred
        wait resumes after its trigger fired and the task was scheduled again)."""
        ti = (context or {}).get("ti")
        if ti is not None:
            seen = [
                v["at"]
                for v in result.values()
                if isinstance(v, dict) and isinstance(v.get("at"), int | float)
            ]
            ti.xcom_push(key=Key.COMPLETED_AT, value=max(seen) if seen else time.time())
        return result

    def poke(self, context) -> PokeReturnValue:
        verdicts, data = observe(self.kind, self.targets, self._done_at, self.git_conn_id)
        self._sites = data
        failed, pending = split(verdicts)
        if failed:
            raise self._fail(context, f"{self.what} failed: {summary(failed)}")
        self._pending = summary(pending)
        self.log.info("%s %s: %s", self.what, "pending" if pending else "complete", summary(verdicts))
        if pending:
            return PokeReturnValue(is_done=False)
        return PokeReturnValue(is_done=True, xcom_value=self._done(context, data))

    def execute(self, context) -> dict[str, dict[str, Any]]:
        if not self.targets:
            return {}
        self._apply_deadline()
        if not self.deferrable:
            try:
                return super().execute(context)
            except AirflowSensorTimeout:
                raise self._timeout(context, self._pending) from None
        deadline = time.time() + self.timeout
        first = self.poke(context)
        if first.is_done:
            return first.xcom_value
        self.defer(
            trigger=SiteWaitTrigger(
                kind=self.kind,
                targets=self.targets,
                deadline=deadline,
                poll_interval=self.poll_interval,
                done_at=dict(self._done_at),
                git_conn_id=self.git_conn_id,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout + 60),  # the trigger's own deadline comes first
        )

    def execute_complete(self, context, event: dict[str, Any]) -> dict[str, dict[str, Any]]:
        status = event.get("status")
        self._apply_deadline()  # a resumed task is a new instance: say again what bound the wait
        if status == WaitStatus.SUCCESS:
            self.log.info("%s complete: %s", self.what, event["message"])
            return self._done(context, event["sites"])
        if status == WaitStatus.TIMEOUT:
            raise self._timeout(context, event["message"], event.get("sites"))
        raise self._fail(context, f"{self.what} failed: {event.get('message', event)}", event.get("sites"))


class RootSyncSensor(SiteWaitSensor):
    """Reconciling: every target site's RootSync is synced to the commit delivered to it."""

    kind = WaitKind.ROOTSYNC
    what = "GitOps sync"


class ProvisioningRequestSensor(SiteWaitSensor):
    """Every target site's O2IMS ProvisioningRequest is fulfilled."""

    kind = WaitKind.PROVISIONING
    what = "O2IMS provisioning"


class RestoreSensor(SiteWaitSensor):
    """RollingBack: every site synced to its revert commit, and the intent's objects gone."""

    kind = WaitKind.RESTORE
    what = "Restore sync"
