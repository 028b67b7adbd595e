"""Verifying: evaluate the intent's SLOs at every target site over the profile's window.

Queries go to Prometheus through :class:`PrometheusHook` (prometheus-api-client). Every
evaluation is logged and returned (query, value, threshold, time); the window ends early when a
rollback-class SLO breaks. The verdict (``pass`` or ``breach``) is the task's XCom; the branch after
it decides between Succeeded and RollingBack. It is an operator, not a sensor: it has no single
"done yet?" check to poke, but a window of evaluations, each of which needs the previous ones to
apply the consecutive-failure limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from edge_intent.hooks.prometheus import PrometheusHook
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


class SLOVerifyOperator(BaseOperator):
    """Evaluate the intent's SLOs at every target site over the profile's window.

    :param targets: the deliver task's result (sites).
    :param compiled: the compile task's result.
    :param profile: a profile of ``config/slo.yaml`` (``default``: 10 min; ``demo``: 30 s).
    :param rollout: the rollout plan: its ``minSuccessTime`` is the soak, seconds the sites stay under
        verification after the profile's window (a breach while soaking fails them too).
    :param live: the results of the waits before verification (``{site: {"at": epoch, ...}}`` each):
        the window starts when the last of them first saw its site done, the change live there, not
        when this task happens to start (the scheduler's steps in between count in the window).
    :param fail_on_breach: fail the task when the verdict is not ``pass`` (a wave's site: its failed
        phase is the red task); the verdict is in the XCom ``verdict`` either way.
    :param prometheus_conn_id: the Prometheus connection.
    """

    template_fields: Sequence[str] = ("targets", "compiled", "profile", "rollout", "live")
    ui_color = "#fdf2e8"

    def __init__(
        self,
        *,
        targets: Any,
        compiled: Any,
        profile: str = "default",
        rollout: Any = None,
        live: Any = None,
        fail_on_breach: bool = False,
        prometheus_conn_id: str = PrometheusHook.default_conn_name,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.targets = targets
        self.compiled = compiled
        self.profile = profile
        self.rollout = rollout
        self.live = live
        self.fail_on_breach = fail_on_breach
        self.prometheus_conn_id = prometheus_conn_id

    @cached_property
    def hook(self) -> PrometheusHook:
        return PrometheusHook(self.prometheus_conn_id)

    def execute(self, context) -> dict[str, Any]:
        from edge_intent.rollout.verify import site_targets, verify_sites
        from include.compiler import ts28312

        intent = ts28312.Intent.model_validate(self.compiled["intent"])
        soak = float((self.rollout or {}).get("minSuccessTime") or 0)
        verdict = verify_sites(
            intent.id,
            site_targets(intent, list(self.targets)),
            self.profile,
            self.hook,
            soak=soak,
            start=live_since(self.live),
        )
        verdict = {**verdict, "sites": sorted(self.targets), "soak": soak}
        context["ti"].xcom_push(key=Key.VERDICT, value=verdict)
        if self.fail_on_breach and verdict["result"] != "pass":
            why = verdict["trigger"] or verdict["result"]
            raise SLOBreached(
                f"SLOs not met at {', '.join(sorted(self.targets))}: {why}"
                + "".join(f"; {b['slo']} at {b['site']}" for b in verdict.get("breaches") or [])
            )
        return verdict
