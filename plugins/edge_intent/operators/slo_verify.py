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

import asyncio
import time
from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from edge_intent.hooks.alertmanager import AlertmanagerHook
from edge_intent.hooks.prometheus import PrometheusHook
from edge_intent.hooks.site_repo import SiteRepoHook
from edge_intent.triggers.slo_window import SLOWindowTrigger, WindowStatus
from include.lifecycle import Key


class SLOBreached(AirflowFailException):
    """A rollback-class SLO broke (or had no data) at the site: the verdict says which and when."""


async def _first_event(trigger: Any) -> dict[str, Any]:
    """The payload of a trigger's first event, the trigger run in this process."""
    async for event in trigger.run():
        return event.payload
    raise AirflowException(f"{type(trigger).__name__} ended without an event")


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
    """An SLO window at some sites: run in the triggerer (deferrable, the default) or in the worker,
    with Verifying's remedy for a scale-class breach (see :mod:`edge_intent.rollout.scaling`): a scale
    commit, the wait for its sync, and the window again, every step in the XCom ``scaled``.

    Subclasses say which intent and which targets (:meth:`window_args`), when the first window
    starts (:meth:`execute`), and what the verdict becomes (:meth:`finish`).

    :param profile: a profile of ``config/slo.yaml`` (``default``: 10 min; ``demo``: 30 s).
    :param prometheus_conn_id: the Prometheus connection.
    :param deferrable: run the window in the triggerer, holding no worker slot (the default);
        ``False`` runs it in the worker, sleeping between evaluations.
    :param scale: remedy a scale-class breach by scaling the workload up first.
    :param git_conn_id: the Git server connection (the scale commits).
    :param alertmanager_conn_id: where an alert-class SLO's failures are sent (the verdict's
        ``alerted`` says what became of them; without the connection they stay in the verdict).
    """

    DEFERRAL_MARGIN = 300.0
    """Seconds a deferred window may run past its own length before the task gives up on it."""
    INLINE_WINDOW = 5.0
    """A window that ends within this many seconds (its instants mostly past: the task started
    late) is judged here, not deferred: a trigger that fires at once can lose Airflow's race with
    the deferring process's executor event, which fails the resumed task (apache/airflow#66374)."""

    ui_color = "#fdf2e8"

    def __init__(
        self,
        *,
        profile: str = "default",
        prometheus_conn_id: str = PrometheusHook.default_conn_name,
        deferrable: bool = True,
        scale: bool = True,
        git_conn_id: str = SiteRepoHook.default_conn_name,
        alertmanager_conn_id: str = AlertmanagerHook.default_conn_name,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.profile = profile
        self.prometheus_conn_id = prometheus_conn_id
        self.deferrable = deferrable
        self.scale = scale
        self.git_conn_id = git_conn_id
        self.alertmanager_conn_id = alertmanager_conn_id

    @cached_property
    def hook(self) -> PrometheusHook:
        return PrometheusHook(self.prometheus_conn_id)

    def window_args(self) -> tuple[str, dict[str, dict[str, float]], float]:
        """The intent's id, its targets (``{site: {targetName: value}}``) and the soak."""
        raise NotImplementedError

    def start_window(self, context, start: float | None = None) -> Any:
        """The first window of this try: no scale step yet."""
        if self.scale and "ti" in context:
            context["ti"].xcom_push(key=Key.SCALED, value=[])
        intent_id, targets, soak = self.window_args()
        return self.verify(context, intent_id, targets, soak=soak, start=start)

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
        from edge_intent.rollout.verify import conclude, describe, open_window, show
        from include.slo.evaluate import run

        # the window's start is fixed now, so that a trigger run again (a restarted triggerer)
        # evaluates the same instants
        window = open_window(intent_id, targets, self.profile, soak=soak, start=start or time.time())
        describe(intent_id, window, self.hook.url, soak)
        if not self.deferrable or window.end - time.time() <= self.INLINE_WINDOW:
            verdict = run(window, self.hook.query_client(), on_evaluation=show)
            return self.conclude(context, conclude(intent_id, verdict))
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

    @staticmethod
    def _own(ti, key: str) -> Any:
        """This task instance's own XCom ``key`` (kept across deferrals)."""
        return ti.xcom_pull(task_ids=ti.task_id, map_indexes=ti.map_index, key=key)

    def _steps(self, ti) -> list[dict[str, Any]]:
        """This try's scale steps so far (the XCom ``scaled``)."""
        found = self._own(ti, Key.SCALED)
        return list(found) if isinstance(found, list) else []

    def conclude(self, context, verdict: dict[str, Any]) -> Any:
        """A window's verdict: a scale step when it remedies the breach, else :meth:`finish`."""
        from edge_intent.rollout import scaling

        ti = context["ti"]
        steps = self._steps(ti) if self.scale else []
        verdict = self.record(context, {**verdict, "scaling": steps})
        if verdict["result"] != "pass" and self.scale:
            attempt = len({step["attempt"] for step in steps}) + 1
            policy = scaling.policy_for(verdict, attempt - 1)
            if policy is not None:
                new = scaling.scale_sites(
                    self.window_args()[0],
                    verdict,
                    policy,
                    attempt=attempt,
                    run_id=context["run_id"],
                    ti=ti,
                    steps=steps,
                    git_conn_id=self.git_conn_id,
                )
                if new:
                    return self._await_scale(context, new)
        return self.finish(context, self._alert(context, verdict))

    def _alert(self, context, verdict: dict[str, Any]) -> dict[str, Any]:
        """Send the final verdict's alert-class findings to Alertmanager; the verdict, kept again
        with what became of them (``alerted``) when there were any."""
        from edge_intent.hooks.alertmanager import send

        ti = context["ti"]
        alerted = send(
            verdict,
            intent_id=self.window_args()[0],
            run_id=context.get("run_id") or getattr(ti, "run_id", ""),
            task=getattr(ti, "task_id", self.task_id),
            conn_id=self.alertmanager_conn_id,
            now=time.time(),
        )
        return self.record(context, {**verdict, "alerted": alerted}) if alerted else verdict

    def record(self, context, verdict: dict[str, Any]) -> dict[str, Any]:
        """Keep the verdict before a scale step (the breach stands if the task ends there)."""
        return verdict

    def finish(self, context, verdict: dict[str, Any]) -> Any:
        """What the task returns for the window's verdict (JSON)."""
        raise NotImplementedError

    def _await_scale(self, context, new: list[dict[str, Any]]) -> Any:
        """Wait for the scale commits to sync (deferred, or here), then :meth:`scale_synced`."""
        from edge_intent.dagparams import wait_timeout
        from edge_intent.rollout import scaling
        from edge_intent.triggers.site_wait import SiteWaitTrigger
        from edge_intent.waits import WaitKind

        deadline = time.time() + wait_timeout()
        trigger = SiteWaitTrigger(
            kind=WaitKind.ROOTSYNC,
            targets=scaling.sync_targets(new),
            deadline=deadline,
            poll_interval=1.0,
            git_conn_id=self.git_conn_id,
        )
        if not self.deferrable:  # the same wait, run here: its first event
            return self.scale_synced(context, asyncio.run(_first_event(trigger)))
        self.defer(
            trigger=trigger,
            method_name="scale_synced",
            timeout=timedelta(seconds=deadline - time.time() + self.DEFERRAL_MARGIN),
        )

    def scale_synced(self, context, event: dict[str, Any]) -> Any:
        """After a scale step's sync wait: verify again, from when the rate window holds only the
        scaled workload; or fail when the scale did not sync."""
        from edge_intent.rollout import scaling
        from edge_intent.triggers.site_wait import WaitStatus
        from include.slo.definitions import load_config

        ti = context["ti"]
        steps = scaling.mark_synced(self._steps(ti), event)
        ti.xcom_push(key=Key.SCALED, value=steps)
        if event.get("status") != WaitStatus.SUCCESS:
            ti.xcom_push(key=Key.VERDICT, value={**(self._own(ti, Key.VERDICT) or {}), "scaling": steps})
            raise SLOBreached(f"the scale step did not sync ({event.get('status')}): {event.get('message')}")
        synced = max(step["syncedAt"] for step in steps if "syncedAt" in step)
        profiles = load_config().profiles
        rate = profiles[self.profile].rate_seconds if self.profile in profiles else 0.0
        intent_id, targets, soak = self.window_args()
        return self.verify(context, intent_id, targets, soak=soak, start=synced + rate)


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

    def window_args(self) -> tuple[str, dict[str, dict[str, float]], float]:
        from edge_intent.rollout.verify import site_targets
        from include.compiler import ts28312

        intent = ts28312.Intent.model_validate(self.compiled["intent"])
        return intent.id, site_targets(intent, list(self.targets)), self.soak

    def execute(self, context) -> dict[str, Any]:
        return self.start_window(context, start=live_since(self.live))

    def record(self, context, verdict: dict[str, Any]) -> dict[str, Any]:
        verdict = {**verdict, "sites": sorted(self.targets), "soak": self.soak}
        context["ti"].xcom_push(key=Key.VERDICT, value=verdict)
        return verdict

    def finish(self, context, verdict: dict[str, Any]) -> dict[str, Any]:
        if self.fail_on_breach and verdict["result"] != "pass":
            why = verdict["trigger"] or verdict["result"]
            steps = verdict.get("scaling") or []
            raise SLOBreached(
                f"SLOs not met at {', '.join(sorted(self.targets))}: {why}"
                + "".join(f"; {b['slo']} at {b['site']}" for b in verdict.get("breaches") or [])
                + (f"; after {len(steps)} scale step(s)" if steps else "")
            )
        return verdict


class DeployedIntentVerifyOperator(SLOWindowOperator):
    """Re-verification: an intent deployed on the sites, its SLOs over the profile's window from now;
    a scale-class breach is scaled first, as in Verifying (the scale commits name this run).

    :param intent: as :func:`edge_intent.operations.reverify.discover` found it (``intentId``, and
        ``sites``: ``{site: {"targets": ..., "commits": ...}}``).

    The other parameters are :class:`SLOWindowOperator`'s. Returns ``{"intentId", "sites", "verdict"}``,
    each site's ``commits`` (what a rollback reverts) with this run's scale commits first.
    """

    template_fields: Sequence[str] = ("intent", "profile")

    def __init__(self, *, intent: Any, **kwargs) -> None:
        super().__init__(**kwargs)
        self.intent = intent

    def window_args(self) -> tuple[str, dict[str, dict[str, float]], float]:
        from edge_intent.operations.reverify import checked_targets

        intent_id, targets = checked_targets(self.intent)
        return intent_id, targets, 0.0

    def execute(self, context) -> dict[str, Any]:
        return self.start_window(context)

    def finish(self, context, verdict: dict[str, Any]) -> dict[str, Any]:
        sites = {site: dict(on) for site, on in self.intent["sites"].items()}
        for step in verdict.get("scaling") or []:
            on = sites.get(step["site"])
            if on is not None:
                on["commits"] = [step["commit"], *(on.get("commits") or [on["sha"]])]
        return {"intentId": self.window_args()[0], "sites": sites, "verdict": verdict}
