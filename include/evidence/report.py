"""Reports for an intent that reached Succeeded: a TS 28.312 IntentFulfilmentReport (spec
spellings: ``expectaitonId``, ``notFullfilledState``) and a TMF921 IntentReport carrying it.

``targetAchievedValue`` comes from the values measured during verification: ``DlLatency`` from the
worst latency P95, ``reliability`` from 100 % minus the worst error rate, ``availability`` from the
lowest share of ready pods. A target the site's metrics cannot observe (throughput per UE, number of
UEs, uplink latency, jitter) gets no achieved value and is reported ``NOT_FULFILLED`` with
``notFullfilledState`` ``ACKNOWLEDGED`` and the reason, instead of an invented number.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from include.compiler import ts28312
from include.compiler.convert import target_value
from include.compiler.tmf921 import BASE_PATH, IntentReport

OBSERVED = {"DlLatency": "latency_p95", "reliability": "error_rate", "availability": "pod_ready"}


def _achieved(name: str, slos: dict[str, Any]) -> float | None:
    entry = slos.get(OBSERVED.get(name, ""), {})
    worst = entry.get("worst")
    if worst is None:
        return None
    return round(100 - worst, 6) if name == "reliability" else round(worst, 6)


def _met(target: ts28312.ExpectationTarget, achieved: float) -> bool:
    goal = target_value(target)
    return {
        "IS_LESS_THAN": achieved < goal,
        "IS_GREATER_THAN": achieved > goal,
        "IS_EQUAL_TO_OR_LESS_THAN": achieved <= goal,
        "IS_EQUAL_TO_OR_GREATER_THAN": achieved >= goal,
    }.get(target.targetCondition, False)


def fulfilment_report(intent: ts28312.Intent, verdict: dict[str, Any]) -> ts28312.IntentFulfilmentReport:
    results = []
    for expectation in intent.intentExpectations:
        site = expectation.context("edgeIdentificationId")
        slos = (verdict.get("slos") or {}).get(site, {})
        targets = []
        for target in expectation.expectationTargets:
            achieved = _achieved(target.targetName, slos)
            if achieved is None:
                info = ts28312.FulfilmentInfo(
                    fulfilmentStatus="NOT_FULFILLED",
                    notFullfilledState="ACKNOWLEDGED",
                    notFulfilledReasons=["not observable from the site's metrics"],
                )
            elif _met(target, achieved):
                info = ts28312.FulfilmentInfo(fulfilmentStatus="FULFILLED")
            else:
                info = ts28312.FulfilmentInfo(
                    fulfilmentStatus="NOT_FULFILLED",
                    notFullfilledState="DEGRADED",
                    notFulfilledReasons=[f"measured {achieved:g}"],
                )
            targets.append(
                ts28312.TargetFulfilmentResult(
                    targetName=target.targetName, targetFulfilmentInfo=info, targetAchievedValue=achieved
                )
            )
        fulfilled = all(t.targetFulfilmentInfo.fulfilmentStatus == "FULFILLED" for t in targets)
        results.append(
            ts28312.ExpectationFulfilmentResult(
                expectaitonId=expectation.expectationId,
                expectationFulfilmentInfo=ts28312.FulfilmentInfo(
                    fulfilmentStatus="FULFILLED" if fulfilled else "NOT_FULFILLED",
                    notFullfilledState=None if fulfilled else "ACKNOWLEDGED",
                ),
                targetFulfilmentResult=targets,
            )
        )
    fulfilled = all(r.expectationFulfilmentInfo.fulfilmentStatus == "FULFILLED" for r in results)
    return ts28312.IntentFulfilmentReport(
        intentFulfilmentInfo=ts28312.FulfilmentInfo(
            fulfilmentStatus="FULFILLED" if fulfilled else "NOT_FULFILLED",
            notFullfilledState=None if fulfilled else "ACKNOWLEDGED",
        ),
        expectationFulfilmentResult=results,
    )


def intent_report(
    intent: ts28312.Intent, fulfilment: ts28312.IntentFulfilmentReport, *, run_id: str, now: float
) -> IntentReport:
    report_id = f"{intent.id}-report"
    return IntentReport.model_validate(
        {
            "@type": "IntentReport",
            "id": report_id,
            "href": f"{BASE_PATH}/intent/{intent.id}/intentReport/{report_id}",
            "name": f"Fulfilment of intent {intent.id} (DAG run {run_id})",
            "creationDate": datetime.fromtimestamp(now, UTC),
            "expression": {
                "@type": "JsonLdExpression",
                "expressionValue": {
                    "@context": {"@vocab": "urn:edge-intent:5g:"},
                    "@type": "IntentFulfilmentReport",
                    "intentFulfilmentReport": fulfilment.to_json(),
                },
            },
            "intent": {
                "@type": "IntentRef",
                "id": intent.id,
                "href": f"{BASE_PATH}/intent/{intent.id}",
                "@referredType": "Intent",
            },
        }
    )
