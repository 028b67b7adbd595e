"""Verifying: evaluate the intent's SLOs at every target site over the profile's window.

Queries go to Prometheus through :class:`PrometheusHook` (prometheus-api-client). Every
evaluation is logged and returned (query, value, threshold, time); the window ends early when a
rollback-class SLO breaks. The verdict (``pass`` or ``breach``) is the task's XCom; the branch after
it decides between Succeeded and RollingBack. It is an operator, not a sensor: it has no single
"done yet?" check to poke, but a window of evaluations, each of which needs the previous ones to
apply the consecutive-failure limit. Deferrable (the default): the window runs in the triggerer
(:class:`SLOWindowTrigger`, which keeps that state), so an intent under verification holds no
worker slot, and intents in flight are bounded by the DAG's ``max_active_runs`` and the pools, not
by the workers.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from edge_intent.hooks.prometheus import PrometheusHook
from edge_intent.triggers.slo_window import SLOWindowTrigger, WindowStatus
from include.lifecycle import Key


class SLOBreached(AirflowFailException):
    """A rollback-class SLO broke (or had no data) at the site: the verdict says which and when."""


def live_since(waits: Any) -> float | None:
    """When the change was live at every site of the waits (None: no wait says when): the latest of
    their sites' done times, each the time the wait first saw it done, or the O2IMS's own
    ``fulfilledAt`` when that came earlier."""
    seen = []
    for wait in waits or []:
        for site in (wait or {}).values() if isinstance(wait, dict) else ():
            if isinstance(site, dict) and isinstance(site.get("at"), int | float):
                fulfilled = site.get("fulfilledAt")
                seen.append(min(site["at"], fulfilled) if isinstance(fulfilled, int | float) else site["at"])
    return max(seen) if seen else None


class SLOWindowOperator(BaseOperator):
    """An SLO window at some sites: run in the triggerer (deferrable, the default) or in the worker.

    Subclasses say which intent, which targets and when (:meth:`execute`, then :meth:`verify`) and
    what the verdict becomes (:meth:`conclude`).

    :param profile: a profile of ``config/slo.yaml`` (``default``: 10 min; ``demo``: 30 s).
    :param prometheus_conn_id: the Prometheus connection.
    :param deferrable: run the window in the triggerer, holding no worker slot (the default);
        ``False`` runs it in the worker, sleeping between evaluations.
    """

    DEFERRAL_MARGIN = 300.0
    """Seconds a deferred window may run past its own length before the task gives up on it."""

    ui_color = "#fdf2e8"

    def __init__(
        self,
        *,
        profile: str = "default",
        prometheus_conn_id: str = PrometheusHook.default_conn_name,
        deferrable: bool = True,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.profile = profile
        self.prometheus_conn_id = prometheus_conn_id
        self.deferrable = deferrable

    @cached_property
    def hook(self) -> PrometheusHook:
        return PrometheusHook(self.prometheus_conn_id)

    def verify(
        self,
        context,
        intent_id: str,
        targets: dict[str, dict[str, float]],
        *,
        soak: float = 0.0,
        start: float | None = None,
    ) -> Any:
        """The window of ``intent_id``'s SLOs at ``targets`` (``{site: {targetName: value}}``) from
        ``start`` (now when None): its :meth:`conclude`, here or when the deferred window fires."""
        from edge_intent.rollout.verify import describe, open_window, verify_sites

        if not self.deferrable:
            return self.conclude(
                context, verify_sites(intent_id, targets, self.profile, self.hook, soak=soak, start=start)
            )
        # the window's start is fixed now, so that a trigger run again (a restarted triggerer)
        # evaluates the same instants
        window = open_window(intent_id, targets, self.profile, soak=soak, start=start or time.time())
        describe(intent_id, window, self.hook.url, soak)
        self.defer(
            trigger=SLOWindowTrigger(
                intent_id=intent_id,
                targets=targets,
                profile=self.profile,
                start=window.started,
                soak=soak,
                prometheus_conn_id=self.prometheus_conn_id,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=window.end - time.time() + self.DEFERRAL_MARGIN),
        )

    def execute_complete(self, context, event: dict[str, Any]) -> Any:
        """The deferred window's verdict, or its error."""
        if event.get("status") != WindowStatus.DONE:
            raise AirflowException(f"the SLO window could not run: {event.get('message')}")
        return self.conclude(context, event["verdict"])

    def conclude(self, context, verdict: dict[str, Any]) -> Any:
        """What the task returns for the window's verdict (JSON)."""
        raise NotImplementedError


class SLOVerifyOperator(SLOWindowOperator):
    """Verifying: the intent's SLOs at every target site of a wave over the profile's window.

    :param targets: the deliver task's result (sites).
    :param compiled: the compile task's result.
    :param rollout: the rollout plan: its ``minSuccessTime`` is the soak, seconds the sites stay under
        verification after the profile's window (a breach while soaking fails them too).
    :param live: the results of the waits before verification (``{site: {"at": epoch, ...}}`` each):
        the window starts when the last of them first saw its site done, the change live there, not
        when this task happens to start (the scheduler's steps in between count in the window).
    :param fail_on_breach: fail the task when the verdict is not ``pass`` (a wave's site: its failed
        phase is the red task); the verdict is in the XCom ``verdict`` either way.

    The other parameters are :class:`SLOWindowOperator`'s.
    """

    template_fields: Sequence[str] = ("targets", "compiled", "profile", "rollout", "live")

    def __init__(
        self,
        *,
        targets: Any,
        compiled: Any,
        rollout: Any = None,
        live: Any = None,
        fail_on_breach: bool = False,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.targets = targets
        self.compiled = compiled
        self.rollout = rollout
        self.live = live
        self.fail_on_breach = fail_on_breach

    @property
    def soak(self) -> float:
        return float((self.rollout or {}).get("minSuccessTime") or 0)

    def execute(self, context) -> dict[str, Any]:
        from edge_intent.rollout.verify import site_targets
        from include.compiler import ts28312

        intent = ts28312.Intent.model_validate(self.compiled["intent"])
        targets = site_targets(intent, list(self.targets))
        return self.verify(context, intent.id, targets, soak=self.soak, start=live_since(self.live))

    def conclude(self, context, verdict: dict[str, Any]) -> dict[str, Any]:
        verdict = {**verdict, "sites": sorted(self.targets), "soak": self.soak}
        context["ti"].xcom_push(key=Key.VERDICT, value=verdict)
        if self.fail_on_breach and verdict["result"] != "pass":
            why = verdict["trigger"] or verdict["result"]
            raise SLOBreached(
                f"SLOs not met at {', '.join(sorted(self.targets))}: {why}"
                + "".join(f"; {b['slo']} at {b['site']}" for b in verdict.get("breaches") or [])
            )
        return verdict


class DeployedIntentVerifyOperator(SLOWindowOperator):
    """Re-verification: an intent deployed on the sites, its SLOs over the profile's window from now.

    :param intent: as :func:`edge_intent.operations.reverify.discover` found it (``intentId``, and
        ``sites``: ``{site: {"targets": ..., ...}}``).

    The other parameters are :class:`SLOWindowOperator`'s. Returns ``{"intentId", "sites", "verdict"}``.
    """

    template_fields: Sequence[str] = ("intent", "profile")

    def __init__(self, *, intent: Any, **kwargs) -> None:
        super().__init__(**kwargs)
        self.intent = intent

    def execute(self, context) -> dict[str, Any]:
        from edge_intent.operations.reverify import checked_targets

        intent_id, targets = checked_targets(self.intent)
        return self.verify(context, intent_id, targets)

    def conclude(self, context, verdict: dict[str, Any]) -> dict[str, Any]:
        from edge_intent.operations.reverify import checked_targets

        intent_id, _ = checked_targets(self.intent)
        return {"intentId": intent_id, "sites": self.intent["sites"], "verdict": verdict}
