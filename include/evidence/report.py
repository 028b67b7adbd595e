"""Reports for an intent that went through: a TS 28.312 IntentFulfilmentReport (spec spellings:
``expectaitonId``, ``notFullfilledState``) and a TMF921 IntentReport carrying it, and the outcome
they say (:func:`fulfilment`).

Each target is judged by its own criterion of the verification (``targets`` in ``config/slo.yaml``,
the entry of the verdict whose ``target`` names it), with the same noise tolerance as the SLOs:

* met → ``FULFILLED``, ``targetAchievedValue`` the worst value measured (``reliability``: 100 %
  minus the worst error rate);
* missed (a ``degrade`` target; a ``rollback`` one never gets here) → ``NOT_FULFILLED`` /
  ``DEGRADED``, with the measured value and how many evaluations missed it;
* not observable by the sites' metrics, no samples, or too few requests to show it (99.999 % over
  a few thousand requests) → ``NOT_FULFILLED`` / ``ACKNOWLEDGED``, "not verifiable" and why: never
  counted as met, never given an invented number.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rdflib import Namespace

from include.compiler import ts28312
from include.compiler.convert import target_value
from include.compiler.tio import E5G, ICM, TIO_VERSION, intent_iri
from include.compiler.tmf921 import BASE_PATH, IntentReport
from include.lifecycle import Fulfilment
from include.slo.definitions import SLOConfig, load_config, on_metric

FULFILLED, DEGRADED, UNVERIFIED = Fulfilment.FULFILLED, Fulfilment.DEGRADED, Fulfilment.UNVERIFIED
IMO = Namespace(f"http://tio.models.tmforum.org/tio/{TIO_VERSION}/IntentManagementOntology/")
_SYMBOL = {
    "IS_LESS_THAN": "<",
    "IS_GREATER_THAN": ">",
    "IS_EQUAL_TO_OR_LESS_THAN": "<=",
    "IS_EQUAL_TO_OR_GREATER_THAN": ">=",
}


def _criterion(name: str, slos: dict[str, Any]) -> dict[str, Any] | None:
    return next((entry for entry in slos.values() if entry.get("target") == name), None)


def _achieved(name: str, entry: dict[str, Any]) -> float | None:
    worst = entry.get("worst")
    if worst is None:
        return None
    return round(on_metric(name, worst), 6)


def _unmet(state: str, reason: str) -> ts28312.FulfilmentInfo:
    return ts28312.FulfilmentInfo(
        fulfilmentStatus="NOT_FULFILLED", notFullfilledState=state, notFulfilledReasons=[reason]
    )


def _judge(
    target: ts28312.ExpectationTarget, slos: dict[str, Any], config: SLOConfig
) -> tuple[ts28312.FulfilmentInfo, float | None]:
    """One target's fulfilment at one site, and the value achieved when one was measured."""
    name = target.targetName
    policy = config.targets.get(name)
    if policy is None or policy.notObservable:
        reason = policy.notObservable if policy else "no criterion is configured for it"
        return _unmet("ACKNOWLEDGED", f"not verifiable: {reason}"), None
    entry = _criterion(name, slos)
    if entry is None or entry["status"] == "no data":
        return _unmet("ACKNOWLEDGED", "not verifiable: no samples in the window"), None
    achieved = _achieved(name, entry)
    unit = entry["unit"]
    goal = f"target {_SYMBOL.get(target.targetCondition, '')} {target_value(target):g} {unit}"
    if entry["status"] == "unverifiable":
        volume = entry["volume"]
        needed = f"at least {volume['needed']:,.0f}" if volume["needed"] else "more than any number of"
        return _unmet(
            "ACKNOWLEDGED",
            f"not verifiable: {goal} needs {needed} requests in the window to show; "
            f"{volume['served'] or 0:,.0f} were served",
        ), achieved
    if entry["status"] in ("missed", "breached"):
        return _unmet(
            "DEGRADED",
            f"measured {achieved:g} {unit}, {goal}; {entry['failures']} of {entry['evaluations']} "
            "evaluations missed it",
        ), achieved
    return ts28312.FulfilmentInfo(fulfilmentStatus="FULFILLED"), achieved


def overall(infos: list[ts28312.FulfilmentInfo]) -> ts28312.FulfilmentInfo:
    if all(i.fulfilmentStatus == "FULFILLED" for i in infos):
        return ts28312.FulfilmentInfo(fulfilmentStatus="FULFILLED")
    degraded = any(i.notFullfilledState == "DEGRADED" for i in infos)
    return ts28312.FulfilmentInfo(
        fulfilmentStatus="NOT_FULFILLED", notFullfilledState="DEGRADED" if degraded else "ACKNOWLEDGED"
    )


def fulfilment_report(
    intent: ts28312.Intent, verdict: dict[str, Any], config: SLOConfig | None = None
) -> ts28312.IntentFulfilmentReport:
    """The IntentFulfilmentReport of ``intent`` from the (combined) verdict of its sites."""
    config = config or load_config()
    results = []
    for expectation in intent.intentExpectations:
        site = expectation.context("edgeIdentificationId")
        slos = (verdict.get("slos") or {}).get(site, {})
        targets = []
        for target in expectation.expectationTargets:
            info, achieved = _judge(target, slos, config)
            targets.append(
                ts28312.TargetFulfilmentResult(
                    targetName=target.targetName, targetFulfilmentInfo=info, targetAchievedValue=achieved
                )
            )
        results.append(
            ts28312.ExpectationFulfilmentResult(
                expectaitonId=expectation.expectationId,
                expectationFulfilmentInfo=overall([t.targetFulfilmentInfo for t in targets]),
                targetFulfilmentResult=targets,
            )
        )
    return ts28312.IntentFulfilmentReport(
        intentFulfilmentInfo=overall([r.expectationFulfilmentInfo for r in results]),
        expectationFulfilmentResult=results,
    )


def fulfilment(intent: ts28312.Intent, report: ts28312.IntentFulfilmentReport) -> dict[str, Any]:
    """What the report says of the intent, in a word and the lines behind it: ``Fulfilled`` (every
    target met), ``Degraded`` (a target measured and missed) or ``Unverified`` (none missed, one
    or more not verifiable)."""
    sites = {e.expectationId: e.context("edgeIdentificationId") for e in intent.intentExpectations}
    missed, unverifiable = [], []
    for result in report.expectationFulfilmentResult:
        for target in result.targetFulfilmentResult:
            info = target.targetFulfilmentInfo
            if info.fulfilmentStatus == "FULFILLED":
                continue
            line = f"{target.targetName} at {sites.get(result.expectaitonId)}: " + "; ".join(
                info.notFulfilledReasons or []
            )
            (missed if info.notFullfilledState == "DEGRADED" else unverifiable).append(line)
    state = DEGRADED if missed else UNVERIFIED if unverifiable else FULFILLED
    return {"state": state, "missed": missed, "notVerifiable": unverifiable}


def report_expression(
    intent_id: str, fulfilment_report: ts28312.IntentFulfilmentReport, *, state: str, number: int, now: float
) -> dict[str, Any]:
    """The IntentReport's expression in TM Forum intent ontology (TIO v3.6.0) terms, as JSON-LD with
    its context inline (no remote context is ever fetched): an ``icm:IntentReport`` ``icm:about``
    the intent's ``icm:Intent`` (the IRI its own expression gives it), with ``icm:reportNumber``,
    ``icm:reportGenerated`` and ``icm:intentHandlingState`` (``imo:StateCompliant`` only when every
    target was met; ``imo:StateDegraded`` otherwise, TIO having no state for "not shown"), and the
    TS 28.312 IntentFulfilmentReport in the project's own vocabulary (``@vocab``; the TMF921 OAS
    allows no JSON literal there)."""
    return {
        "@context": {
            "icm": str(ICM),
            "imo": str(IMO),
            "xsd": "http://www.w3.org/2001/XMLSchema#",
            "@vocab": str(E5G),
        },
        "@id": f"urn:edge-intent:intent:{intent_id}:report:{number}",
        "@type": "icm:IntentReport",
        "icm:about": {"@id": intent_iri(intent_id)},
        "icm:reportNumber": {"@value": str(number), "@type": "xsd:positiveInteger"},
        "icm:reportGenerated": {
            "@value": datetime.fromtimestamp(now, UTC).isoformat(),
            "@type": "xsd:dateTime",
        },
        "icm:intentHandlingState": {
            "@id": "imo:StateCompliant" if state == FULFILLED else "imo:StateDegraded"
        },
        "fulfilment": state,
        "intentFulfilmentReport": fulfilment_report.to_json(),
    }


def intent_report(
    intent: ts28312.Intent,
    fulfilment_report: ts28312.IntentFulfilmentReport,
    *,
    run_id: str,
    now: float,
    number: int = 1,
    state: str | None = None,
    name: str | None = None,
) -> IntentReport:
    """The TMF921 IntentReport of one run: report ``number`` of the intent (its id ends with it).

    :param state: what it says of the intent; by default what ``fulfilment_report``'s targets say.
    :param name: its name; by default the fulfilment of the run.
    """
    state = state or fulfilment(intent, fulfilment_report)["state"]
    report_id = f"{intent.id}-report-{number}"
    expression = report_expression(intent.id, fulfilment_report, state=state, number=number, now=now)
    return IntentReport.model_validate(
        {
            "@type": "IntentReport",
            "id": report_id,
            "href": f"{BASE_PATH}/intent/{intent.id}/intentReport/{report_id}",
            "name": name or f"Fulfilment of intent {intent.id}: {state} (DAG run {run_id})",
            "creationDate": datetime.fromtimestamp(now, UTC),
            "expression": {
                "@type": "JsonLdExpression",
                "iri": expression["@id"],
                "expressionValue": expression,
            },
            "intent": {
                "@type": "IntentRef",
                "id": intent.id,
                "href": f"{BASE_PATH}/intent/{intent.id}",
                "@referredType": "Intent",
            },
        }
    )
