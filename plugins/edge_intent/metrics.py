"""The pipeline's Prometheus metrics, served by Airflow's api-server at ``GET /edge-intent/metrics``.

Every value is computed from Airflow's metadata DB (the finished ``intent_pipeline`` runs and the
XComs their tasks recorded, read through :mod:`edge_intent.api.records` with the names of
:mod:`include.lifecycle`), so the counts survive restarts and every api-server worker answers the
same; no other process is needed. A finished run's facts cannot change until the run is cleared,
which changes its state and end date: they are read once per run and kept, so a scrape reads one
row per finished run plus the XComs of runs it has not seen yet.

* ``intent_processed_total{result}``: finished runs by outcome: ``succeeded``, ``rolled_back``
  (every revert pushed and every site confirmed the restore), ``rollback_unconfirmed`` (reverts
  pushed, but some site never confirmed the restore), ``rollback_failed`` (a revert could not be
  pushed), ``rejected`` (invalid intent), ``failed`` (any other failure, nothing delivered or
  nothing to roll back) and ``dry_run``.
* ``gitops_sync_lag_seconds{site}``: for the latest delivery to the site (by push time) that a run
  saw synced, the seconds from the push (``deliver``'s ``pushedAt``) to the Reconciling wait first
  seeing the site's RootSync synced to it.
* ``o2ims_request_duration_seconds{site}`` (histogram): each fulfilled ProvisioningRequest a
  delivery created, from its ``creationTimestamp`` to its ``provisioningUpdateTime`` (the O2IMS's
  own times); when the site does not report them, from the push to the wait first seeing it
  fulfilled.
* ``slo_evaluations_total{slo,site}`` and ``slo_violations_total{slo,site}``: SLO evaluations made
  in Verifying and those that failed; the compliance ratio is ``1 - violations / evaluations``.

Counters only ever grow while runs are kept; deleting runs from the DB (``airflow db clean``) makes
them drop, which Prometheus reads as a counter reset. Every result, and every SLO of
``config/slo.yaml`` at every catalogue site, is exported from zero so that ``rate()`` sees the first
run too.

The endpoint serves aggregates only. When ``EDGE_INTENT_METRICS_TOKEN`` is set, a scrape must send
``Authorization: Bearer <token>`` (401 otherwise); without it the endpoint is open.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from fastapi import FastAPI, Header, HTTPException, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.utils import floatToGoString

from edge_intent.api import records
from edge_intent.api.limits import bearer_is
from include import lifecycle
from include.lifecycle import Dag, Key

log = logging.getLogger(__name__)

TOKEN_ENV = "EDGE_INTENT_METRICS_TOKEN"  # noqa: S105 (the variable that holds it, not a token)
RESULTS = (
    "succeeded",
    "degraded",
    "unverified",
    "rolled_back",
    "rollback_unconfirmed",
    "rollback_failed",
    "rejected",
    "failed",
    "dry_run",
)
O2IMS_BUCKETS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
FINISHED = ("success", "failed")
# The (task, key) XComs a run's facts are read from.
XCOMS = (
    (lifecycle.WATCHER, Key.RETURN),
    (lifecycle.VALIDATE, Key.ERRORS),
    (lifecycle.ROLLOUT, Key.RETURN),
    (lifecycle.ROLLBACK_REVERT, Key.REVERTS),
    (lifecycle.ROLLBACK_EVIDENCE, Key.RETURN),
)


@dataclass(frozen=True)
class RunFacts:
    """What one finished run contributes to the metrics.

    :param result: one of :data:`RESULTS`.
    :param sync_lags: ``{site: (pushedAt, seconds)}``.
    :param o2ims: ``{site: seconds}``.
    :param slos: ``{(slo, site): (evaluations, failures)}``.
    """

    result: str
    sync_lags: dict[str, tuple[float, float]] = field(default_factory=dict)
    o2ims: dict[str, float] = field(default_factory=dict)
    slos: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def result_of(state: str, conf: dict[str, Any] | None, xcoms: dict[tuple[str, str], Any]) -> str:
    """The outcome of a finished run, from its state and what its tasks recorded."""
    watcher = xcoms.get((lifecycle.WATCHER, Key.RETURN))
    if state == "success":
        dry = (isinstance(watcher, str) and watcher.startswith("Dry run")) or (
            watcher is None and bool((conf or {}).get("dry_run"))
        )
        if dry:
            return "dry_run"
        # the watcher says how a run that went through ended: Succeeded, Degraded or Unverified
        said = (
            watcher.split(maxsplit=1)[0].strip(":;,").lower() if isinstance(watcher, str) and watcher else ""
        )
        return (
            said
            if said in (lifecycle.Fulfilment.DEGRADED.lower(), lifecycle.Fulfilment.UNVERIFIED.lower())
            else "succeeded"
        )
    reverts = xcoms.get((lifecycle.ROLLBACK_REVERT, Key.REVERTS))
    if isinstance(reverts, dict) and reverts:
        if any(isinstance(r, dict) and r.get("error") for r in reverts.values()):
            return "rollback_failed"
        evidence = xcoms.get((lifecycle.ROLLBACK_EVIDENCE, Key.RETURN))
        confirmed = isinstance(evidence, dict) and evidence.get("result") == "success"
        return "rolled_back" if confirmed else "rollback_unconfirmed"
    if xcoms.get((lifecycle.VALIDATE, Key.ERRORS)):
        return "rejected"
    return "failed"


def facts_of(state: str, conf: dict[str, Any] | None, xcoms: dict[tuple[str, str], Any]) -> RunFacts:
    """Everything one finished run contributes, from its rollout record (pure: the DB is read
    elsewhere): each site of every wave with its push, sync, O2IMS and SLO evaluations."""
    rollout = xcoms.get((lifecycle.ROLLOUT, Key.RETURN))
    waves = rollout.get("waves") if isinstance(rollout, dict) else None
    sync_lags: dict[str, tuple[float, float]] = {}
    o2ims: dict[str, float] = {}
    slos: dict[tuple[str, str], tuple[int, int]] = {}
    for wave in waves if isinstance(waves, list) else []:
        for site, out in sorted((wave.get("sites") or {}).items() if isinstance(wave, dict) else []):
            if not isinstance(out, dict):
                continue
            # A delivery that created no commit (the content was already there) pushed nothing new.
            pushed = _number(out.get("deliveredAt")) if out.get("created") else None
            synced, provisioned = _number(out.get("syncedAt")), _number(out.get("provisionedAt"))
            if pushed is not None and synced is not None:
                sync_lags[site] = (pushed, max(0.0, synced - pushed))
            times = out.get("o2ims") if isinstance(out.get("o2ims"), dict) else {}
            created, fulfilled = _number(times.get("createdAt")), _number(times.get("fulfilledAt"))
            if pushed is not None and created is not None and fulfilled is not None and fulfilled >= created:
                o2ims[site] = fulfilled - created
            elif pushed is not None and provisioned is not None:
                o2ims[site] = max(0.0, provisioned - pushed)
            entries = out.get("slos")
            for name, entry in sorted((entries if isinstance(entries, dict) else {}).items()):
                if isinstance(entry, dict):
                    slos[(name, site)] = (int(entry.get("evaluations") or 0), int(entry.get("failures") or 0))
    return RunFacts(result_of(state, conf, xcoms), sync_lags, o2ims, slos)


@lru_cache(maxsize=1)
def _known_series() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The catalogue's sites and the SLO names: their series are exported from zero."""
    from include.compiler.config import load_settings
    from include.slo.definitions import load_config

    try:
        return tuple(load_settings().catalogue.names), tuple(load_config().slos)
    except Exception as exc:  # the metrics of the runs are still worth serving
        log.warning("Cannot read the site catalogue or the SLO configuration: %s", exc)
        return (), ()


class PipelineCollector:
    """A prometheus_client collector reading the metadata DB at every scrape (see the module doc)."""

    def __init__(self, dag_id: str = Dag.PIPELINE) -> None:
        self.dag_id = dag_id
        self._facts: dict[int, tuple[datetime | None, str, RunFacts]] = {}
        self._lock = threading.Lock()

    def runs(self) -> list[RunFacts]:
        """The facts of every finished run, reading (through the run records) only what the cache
        does not hold."""
        from airflow.utils.session import create_session

        with self._lock, create_session() as session:
            current = records.finished(session, self.dag_id, FINISHED)
            for gone in set(self._facts) - set(current):
                del self._facts[gone]
            stale = [run for run, key in current.items() if self._facts.get(run, (None, None))[:2] != key]
            for run, record in records.by_ids(session, stale, xcoms=XCOMS).items():
                end_date, state = current[run]
                self._facts[run] = (end_date, state, facts_of(state, record.conf, record.xcoms))
            return [facts for _, _, facts in self._facts.values()]

    def collect(self) -> Iterable[Any]:
        return families(self.runs(), *_known_series())


def families(runs: list[RunFacts], sites: Iterable[str] = (), slo_names: Iterable[str] = ()) -> list[Any]:
    """The metric families of ``runs``; every result, and every SLO at every site, from zero."""
    sites, slo_names = list(sites), list(slo_names)
    processed = CounterMetricFamily(
        "intent_processed", "Finished intent_pipeline runs by outcome.", labels=["result"]
    )
    results = dict.fromkeys(RESULTS, 0)
    for run in runs:
        results[run.result] = results.get(run.result, 0) + 1
    for result, count in results.items():
        processed.add_metric([result], count)

    lag = GaugeMetricFamily(
        "gitops_sync_lag_seconds",
        "Seconds from the push of the latest delivery to the site until its RootSync was seen synced to it.",
        labels=["site"],
    )
    latest: dict[str, tuple[float, float]] = {}
    for run in runs:
        for site, (pushed, seconds) in run.sync_lags.items():
            if site not in latest or pushed > latest[site][0]:
                latest[site] = (pushed, seconds)
    for site, (_, seconds) in sorted(latest.items()):
        lag.add_metric([site], round(seconds, 3))

    o2ims = HistogramMetricFamily(
        "o2ims_request_duration_seconds",
        "Seconds from an O2IMS ProvisioningRequest's creation to its fulfilment.",
        labels=["site"],
    )
    observations: dict[str, list[float]] = {site: [] for site in sites}
    for run in runs:
        for site, seconds in run.o2ims.items():
            observations.setdefault(site, []).append(seconds)
    for site, values in sorted(observations.items()):
        buckets = [(floatToGoString(bound), sum(1 for v in values if v <= bound)) for bound in O2IMS_BUCKETS]
        o2ims.add_metric([site], [*buckets, ("+Inf", len(values))], round(sum(values), 3))

    evaluations = CounterMetricFamily(
        "slo_evaluations", "SLO evaluations made while Verifying.", labels=["slo", "site"]
    )
    violations = CounterMetricFamily(
        "slo_violations",
        "SLO evaluations that failed (missed the threshold or had no data).",
        labels=["slo", "site"],
    )
    totals = {(name, site): [0, 0] for name in slo_names for site in sites}
    for run in runs:
        for key, (made, failed) in run.slos.items():
            total = totals.setdefault(key, [0, 0])
            total[0] += made
            total[1] += failed
    for (name, site), (made, failed) in sorted(totals.items()):
        evaluations.add_metric([name, site], made)
        violations.add_metric([name, site], failed)
    return [processed, lag, o2ims, evaluations, violations]


collector = PipelineCollector()
registry = CollectorRegistry(auto_describe=False)
registry.register(collector)

app = FastAPI(
    title="edge-intent metrics",
    description="The intent pipeline's Prometheus metrics, from Airflow's metadata DB.",
    docs_url=None,
    redoc_url=None,
)


def _authorize(authorization: str | None) -> None:
    expected = os.environ.get(TOKEN_ENV)
    if not expected:
        return
    if not bearer_is(authorization, expected):
        raise HTTPException(
            status_code=401, detail="a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"}
        )


@app.get("/metrics", summary="Prometheus metrics of the intent pipeline")
def metrics(authorization: str | None = Header(default=None)) -> Response:
    _authorize(authorization)
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
