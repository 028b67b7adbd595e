"""Evaluate SLOs over a window: every evaluation recorded, limits applied, one verdict.

Every ``interval`` seconds each SLO of each site is queried at that instant. An evaluation fails
when its value misses the threshold, or when there is no value and the profile's ``missingData``
is ``fail`` (the default: unreachable Prometheus or no samples never pass). A rollback-class or
scale-class SLO breaks when it fails ``failureLimit`` evaluations in the window or
``consecutiveLimit`` in a row; the window then ends at once, and its breaches say each SLO's
``action`` (Verifying scales the workload up for a scale-class breach before it rolls back).
Alert-class failures are recorded and reported but never roll back. A ``degrade`` criterion (an
intent target whose policy keeps the intent) that fails as often as would break a rollback-class
SLO is ``missed``: listed in ``degraded``, the window goes on. A criterion that needs a volume of
requests (``SLO.min_volume``) and saw fewer in the window is ``unverifiable``: neither met nor
missed, listed in ``unverified`` with the counts.

The window may start before the call (``start``: when the change went live at the sites, which the
waits before verification saw first): instants already past are evaluated at once, at their own
time (Prometheus keeps their samples), and the rest as they come. It may also start later (after a
scale step, once the rate window covers only the scaled workload): nothing is evaluated before.
An instant before the call for which Prometheus has no samples is not judged (the workload may not
have reported yet); from the call on, missing data is judged as the profile says, and an
unreachable Prometheus always.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from .definitions import SLO, Profile


class PrometheusUnavailable(Exception):
    """Prometheus could not be queried (unreachable, refused, or an error answer)."""


@dataclass(frozen=True)
class Evaluation:
    site: str
    slo: str
    time: float
    query: str
    value: float | None
    threshold: float
    unit: str
    met: bool | None
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Track:
    slo: SLO
    evaluations: int = 0
    failures: int = 0
    consecutive: int = 0
    longest: int = 0
    first_failure: float | None = None
    breached_at: float | None = None
    missed: bool = False
    served: float | None = None  # requests served in the window, for a criterion that needs a volume

    def limit(self, profile: Profile) -> int:
        return profile.consecutiveLimit

    def beyond_limits(self, profile: Profile) -> bool:
        return self.failures >= profile.failureLimit or self.consecutive >= self.limit(profile)

    @property
    def unverifiable(self) -> bool:
        return not self.missed and self.served is not None and self.served < (self.slo.min_volume or 0)


@dataclass
class Verdict:
    """The outcome of a verification window.

    :param result: ``pass`` or ``breach``.
    :param trigger: why it did not pass (``slo_breach``, ``missing_data``), or None.
    """

    result: str
    trigger: str | None
    started: float
    ended: float
    evaluations: list[Evaluation]
    slos: dict[str, dict[str, dict[str, Any]]]
    breaches: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    degraded: list[dict[str, Any]] = field(default_factory=list)
    unverified: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "result": self.result,
            "trigger": self.trigger,
            "started": self.started,
            "ended": self.ended,
            "evaluations": [e.as_json() for e in self.evaluations],
            "slos": self.slos,
            "breaches": self.breaches,
            "alerts": self.alerts,
            "degraded": self.degraded,
            "unverified": self.unverified,
        }


def _value(raw: float | None) -> float | None:
    return None if raw is None or math.isnan(raw) or math.isinf(raw) else raw


class Window:
    """A verification window evaluated step by step: each :meth:`step` evaluates every SLO at the
    next due instant and says the verdict once there is one. Its state (the evaluations, each SLO's
    failures in a row) is this object's, so the window can be driven by a loop that sleeps
    (:func:`verify`) or by a trigger that awaits between steps without holding a worker.

    :param start: when the window starts (epoch seconds; not more than a window ago); ``now`` when
        None. Drive the window by sleeping until :attr:`tick` before each step.
    """

    def __init__(self, slos: list[SLO], profile: Profile, *, now: float, start: float | None = None):
        self.profile = profile
        self.tracks = {(s.site, s.name): _Track(s) for s in slos}
        self.evaluations: list[Evaluation] = []
        self.called = now
        self.started = now if start is None else max(start, now - profile.window)
        self.end = self.started + profile.window
        self.tick = self.started  # the next instant to evaluate

    def step(
        self,
        query: Callable[[str, float], float | None],
        clock: Callable[[], float] = time.time,
        on_evaluation: Callable[[Evaluation], None] | None = None,
    ) -> Verdict | None:
        """Evaluate every SLO at the due instant (or now, if that is earlier); the verdict, or None
        while the window goes on (the next instant is :attr:`tick`)."""
        profile = self.profile
        at = min(self.tick, clock())  # an instant already past is read at its own time
        for track in self.tracks.values():
            evaluation = self._evaluate(track, query, at)
            self.evaluations.append(evaluation)
            if on_evaluation:
                on_evaluation(evaluation)
            if evaluation.met is None:
                continue
            track.evaluations += 1
            if evaluation.met:
                track.consecutive = 0
                continue
            track.failures += 1
            track.consecutive += 1
            track.longest = max(track.longest, track.consecutive)
            track.first_failure = track.first_failure if track.first_failure is not None else at
            if track.beyond_limits(profile):
                if track.slo.rolls_back and track.breached_at is None:
                    track.breached_at = clock()  # when it was known (``at`` may be a past instant)
                elif track.slo.action == "degrade":
                    track.missed = True
        breached = [t for t in self.tracks.values() if t.breached_at is not None]
        if breached:
            return self._verdict("breach", _trigger(breached, self.evaluations), at)
        if at >= self.end:
            unobserved = [t for t in self.tracks.values() if t.slo.rolls_back and t.evaluations == 0]
            if unobserved:
                for track in unobserved:
                    track.breached_at = clock()
                return self._verdict("breach", "missing_data", at)
            _count_volume(self.tracks.values(), query, at)
            return self._verdict("pass", None, at)
        self.tick = min(self.tick + profile.interval, self.end)  # the last evaluation is at the end
        return None

    def _evaluate(self, track: _Track, query: Callable[[str, float], float | None], at: float) -> Evaluation:
        slo = track.slo
        error = None
        try:
            value = _value(query(slo.query, at))
        except PrometheusUnavailable as exc:
            value, error = None, str(exc)
        if value is None and (
            self.profile.missingData == "ignore"
            or (at < self.called and error is None)
            or slo.action == "degrade"
        ):
            # an instant before the call that Prometheus answered with no samples: the workload
            # had not reported yet (an unreachable Prometheus is judged all the same); a target
            # that only degrades is shown or not, never missed, by data that is not there
            met = None
        else:
            met = value is not None and slo.met_by(value)
        return Evaluation(
            slo.site,
            slo.name,
            at,
            slo.query,
            value,
            slo.threshold,
            slo.unit,
            met,
            error or (None if value is not None else "no samples"),
        )

    def _verdict(self, result: str, trigger: str | None, ended: float) -> Verdict:
        return _verdict(result, trigger, self.started, ended, self.evaluations, self.tracks, self.profile)


def verify(
    slos: list[SLO],
    profile: Profile,
    query: Callable[[str, float], float | None],
    *,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    on_evaluation: Callable[[Evaluation], None] | None = None,
    start: float | None = None,
) -> Verdict:
    """Run the verification window in this thread, sleeping between its steps; see the module
    docstring and :class:`Window`.

    :param query: ``query(promql, at)`` returns the instant value at ``at`` (None: no samples) or
        raises :class:`PrometheusUnavailable`.
    """
    return run(Window(slos, profile, now=clock(), start=start), query, clock, sleep, on_evaluation)


def run(
    window: Window,
    query: Callable[[str, float], float | None],
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    on_evaluation: Callable[[Evaluation], None] | None = None,
) -> Verdict:
    """Step ``window`` to its verdict, sleeping in this thread until each next instant."""
    while True:
        sleep(max(0.0, window.tick - clock()))
        if (verdict := window.step(query, clock, on_evaluation)) is not None:
            return verdict


def _count_volume(tracks: Any, query: Callable[[str, float], float | None], at: float) -> None:
    """The requests each criterion that needs a volume saw in the window (0 when unknown)."""
    for track in tracks:
        if track.slo.volume is None or track.missed:
            continue
        try:
            track.served = _value(query(track.slo.volume, at)) or 0.0
        except PrometheusUnavailable:
            track.served = 0.0


def _trigger(breached: list[_Track], evaluations: list[Evaluation]) -> str:
    keys = {(t.slo.site, t.slo.name) for t in breached}
    failed = [e for e in evaluations if (e.site, e.slo) in keys and e.met is False]
    return "slo_breach" if any(e.value is not None for e in failed) else "missing_data"


def _verdict(
    result: str,
    trigger: str | None,
    started: float,
    ended: float,
    evaluations: list[Evaluation],
    tracks: dict,
    profile: Profile,
) -> Verdict:
    slos: dict[str, dict[str, dict[str, Any]]] = {}
    breaches, alerts, degraded, unverified = [], [], [], []
    for (site, name), track in tracks.items():
        slo = track.slo
        values = [e.value for e in evaluations if (e.site, e.slo) == (site, name) and e.value is not None]
        status = (
            "breached"
            if track.breached_at is not None
            else "missed"
            if track.missed
            else "no data"
            if not track.evaluations
            else "unverifiable"
            if track.unverifiable
            else "failing"
            if track.failures
            else "met"
        )
        entry = {
            "description": slo.description,
            "query": slo.query,
            "threshold": slo.threshold,
            "unit": slo.unit,
            "condition": slo.condition,
            "basis": slo.basis,
            "action": slo.action,
            "status": status,
            "evaluations": track.evaluations,
            "failures": track.failures,
            "longestFailureRun": track.longest,
            "last": values[-1] if values else None,
            "worst": (min(values) if slo.condition == "at_least" else max(values)) if values else None,
            "target": slo.target,
        }
        if slo.min_volume is not None:
            entry["volume"] = {"served": track.served, "needed": _finite(slo.min_volume)}
        slos.setdefault(site, {})[name] = entry
        brief = {k: entry[k] for k in ("target", "threshold", "unit", "condition", "worst", "failures")}
        if status == "missed":
            degraded.append({"site": site, "slo": name, **brief, "evaluations": track.evaluations})
        elif status == "unverifiable":
            unverified.append({"site": site, "slo": name, **brief, "volume": entry["volume"]})
        samples = [e.as_json() for e in evaluations if (e.site, e.slo) == (site, name)]
        if track.breached_at is not None:
            breaches.append(
                {
                    "site": site,
                    "slo": name,
                    "query": slo.query,
                    "threshold": slo.threshold,
                    "unit": slo.unit,
                    "firstFailure": track.first_failure,
                    "detectedAt": track.breached_at,
                    "breachDuration": round(
                        track.breached_at - (track.first_failure or track.breached_at), 3
                    ),
                    "limits": {
                        "failureLimit": profile.failureLimit,
                        "consecutiveLimit": track.limit(profile),
                    },
                    "samples": samples,
                }
            )
        elif slo.action == "alert" and track.failures:
            alerts.append(
                {
                    "site": site,
                    "slo": name,
                    "failures": track.failures,
                    "threshold": slo.threshold,
                    "unit": slo.unit,
                    "worst": entry["worst"],
                }
            )
    return Verdict(result, trigger, started, ended, evaluations, slos, breaches, alerts, degraded, unverified)


def _finite(number: float) -> float | None:
    """JSON has no infinity: a volume no number of requests reaches is None."""
    return None if math.isinf(number) else number
