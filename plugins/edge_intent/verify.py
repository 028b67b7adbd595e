"""Verifying: evaluate the intent's SLOs at every target site over the profile's window.

Queries go to Prometheus (connection ``prometheus_default``) through prometheus-api-client. Every
evaluation is logged and returned (query, value, threshold, time); the window ends early when a
rollback-class SLO breaks. The verdict (``pass`` or ``breach``) is the task's XCom; the branch after
it decides between Succeeded and RollingBack. The sensor evaluates in its worker (it does not
defer): each evaluation needs the previous ones to apply the consecutive-failure limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseSensorOperator
from airflow.sdk.exceptions import AirflowFailException

from edge_intent.sites import prometheus_url


class SLOVerifySensor(BaseSensorOperator):
    """:param targets: the deliver task's result (sites). :param compiled: the compile task's result.
    :param profile: a profile of ``config/slo.yaml`` (``default``: 10 min; ``demo``: 30 s)."""

    template_fields: Sequence[str] = ("targets", "compiled", "profile")
    ui_color = "#fdf2e8"

    def __init__(self, *, targets: Any, compiled: Any, profile: str = "default", **kwargs) -> None:
        kwargs.setdefault("timeout", 600)
        super().__init__(**kwargs)
        self.targets = targets
        self.compiled = compiled
        self.profile = profile

    def execute(self, context) -> dict[str, Any]:
        from include.compiler import names, ts28312
        from include.compiler.convert import target_value
        from include.slo.definitions import load_config, slos_for
        from include.slo.evaluate import verify
        from include.slo.prometheus import PrometheusQuery

        config = load_config()
        if self.profile not in config.profiles:
            raise AirflowFailException(
                f"unknown SLO profile {self.profile!r}; known: {', '.join(config.profiles)}"
            )
        profile = config.profiles[self.profile]
        intent = ts28312.Intent.model_validate(self.compiled["intent"])
        slos = []
        for site in sorted(self.targets):
            expectation = intent.expectation_for(site)
            targets = (
                {t.targetName: target_value(t) for t in expectation.expectationTargets} if expectation else {}
            )
            slos += slos_for(
                namespace=names.namespace(intent.id),
                site=site,
                targets=targets,
                config=config,
                profile=profile,
            )
        for slo in slos:
            self.log.info(
                "SLO %s at %s: %s %s %g %s (%s): %s",
                slo.name,
                slo.site,
                slo.action,
                slo.condition.replace("_", " "),
                slo.threshold,
                slo.unit,
                slo.basis,
                slo.query,
            )
        url, headers = prometheus_url()
        self.log.info("Verifying for %gs, every %gs, against %s", profile.window, profile.interval, url)

        def show(evaluation) -> None:
            value = "no data" if evaluation.value is None else f"{evaluation.value:.3f}"
            self.log.info(
                "%s %s = %s %s (threshold %g): %s",
                evaluation.site,
                evaluation.slo,
                value,
                evaluation.unit,
                evaluation.threshold,
                {True: "met", False: "FAILED", None: "skipped"}[evaluation.met],
            )

        verdict = verify(slos, profile, PrometheusQuery(url, headers), on_evaluation=show)
        for breach in verdict.breaches:
            self.log.warning(
                "SLO %s broken at %s: %d failing evaluation(s), detected %.1fs after the first",
                breach["slo"],
                breach["site"],
                sum(1 for sample in breach["samples"] if sample["met"] is False),
                breach["breachDuration"],
            )
        for alert in verdict.alerts:
            self.log.warning(
                "Alert: SLO %s at %s failed %d evaluation(s)", alert["slo"], alert["site"], alert["failures"]
            )
        self.log.info("Verdict: %s%s", verdict.result, f" ({verdict.trigger})" if verdict.trigger else "")
        return verdict.as_json()
