"""Verifying: an intent's SLOs at each of its sites over a profile's window, on Prometheus.

One evaluation for the pipeline's Verifying phase (:class:`SLOVerifyOperator`) and for scheduled
re-verification: the seed's SLOs, tightened by the intent's own targets at each site. Every
evaluation is logged and returned (query, value, threshold, time).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowFailException

from include.compiler import names

if TYPE_CHECKING:
    from include.slo.evaluate import Verdict, Window

log = logging.getLogger(__name__)


class UnknownProfile(AirflowFailException):
    """The SLO profile is not in ``config/slo.yaml``."""


def site_targets(intent: Any, sites: list[str]) -> dict[str, dict[str, float]]:
    """``{site: {targetName: value}}`` of a TS 28.312 intent's expectations at ``sites``."""
    from include.compiler.convert import target_value

    found: dict[str, dict[str, float]] = {}
    for site in sorted(sites):
        expectation = intent.expectation_for(site)
        targets = (
            {t.targetName: target_value(t) for t in expectation.expectationTargets} if expectation else {}
        )
        found[site] = {name: value for name, value in targets.items() if value is not None}
    return found


def show(evaluation: Any) -> None:
    value = "no data" if evaluation.value is None else f"{evaluation.value:.3f}"
    log.info(
        "%s %s = %s %s (threshold %g): %s",
        evaluation.site,
        evaluation.slo,
        value,
        evaluation.unit,
        evaluation.threshold,
        {True: "met", False: "FAILED", None: "skipped"}[evaluation.met],
    )


def open_window(
    intent_id: str,
    targets: dict[str, dict[str, float]],
    profile_name: str,
    *,
    soak: float = 0.0,
    start: float | None = None,
) -> Window:
    """The verification window of the intent's SLOs at every site of ``targets``.

    :param targets: ``{site: {targetName: value}}``, the intent's own targets at each site.
    :param profile_name: a profile of ``config/slo.yaml``.
    :param soak: seconds of verification after the profile's window (a rollout's minSuccessTime).
    :param start: when the window starts (epoch seconds: the change went live); now when None.
    """
    from include.slo.definitions import load_config, slos_for
    from include.slo.evaluate import Window

    config = load_config()
    if profile_name not in config.profiles:
        raise UnknownProfile(
            f"slo_profile: unknown profile {profile_name!r}; known: {', '.join(config.profiles)}"
        )
    profile = config.profiles[profile_name]
    if soak > 0:
        profile = profile.model_copy(update={"window": profile.window + soak})
    slos = []
    for site, at_site in sorted(targets.items()):
        slos += slos_for(
            namespace=names.namespace(intent_id), site=site, targets=at_site, config=config, profile=profile
        )
    return Window(slos, profile, now=time.time(), start=start)


def describe(intent_id: str, window: Window, url: str, soak: float = 0.0) -> None:
    """Log what the window verifies: every SLO, its length and pace, and when it started."""
    for track in window.tracks.values():
        slo = track.slo
        log.info(
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
    if soak > 0:
        log.info("Soak: %gs of verification after the profile's window", soak)
    log.info(
        "Verifying %s for %gs, every %gs, against %s",
        intent_id,
        window.profile.window,
        window.profile.interval,
        url,
    )
    if window.started < window.called:
        log.info("The window started when the change went live, %.1fs ago", window.called - window.started)


def conclude(intent_id: str, verdict: Verdict) -> dict[str, Any]:
    """Log the window's breaches, alerts and verdict; the verdict as JSON."""
    for breach in verdict.breaches:
        log.warning(
            "SLO %s broken at %s: %d failing evaluation(s), detected %.1fs after the first",
            breach["slo"],
            breach["site"],
            sum(1 for sample in breach["samples"] if sample["met"] is False),
            breach["breachDuration"],
        )
    for alert in verdict.alerts:
        log.warning(
            "Alert: SLO %s at %s failed %d evaluation(s)", alert["slo"], alert["site"], alert["failures"]
        )
    log.info(
        "Verdict of %s: %s%s", intent_id, verdict.result, f" ({verdict.trigger})" if verdict.trigger else ""
    )
    return verdict.as_json()
