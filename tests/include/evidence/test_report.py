"""What the project emits as TMF921, validated against the official TMF921 v5.0.0 OpenAPI
(``standards/``): a parsed intent as a create body (``Intent_FVO`` with a ``TurtleExpression_FVO``,
whose ``iri`` is required) and as a resource (``Intent``), and the IntentReport (its ``intent`` an
``IntentRef``, which needs ``@type``), with its TS 28.312 IntentFulfilmentReport against Rel-18."""

from __future__ import annotations

import jsonschema
import pytest

from edge_intent.rollout.verify import site_targets
from include.compiler import api
from include.evidence.report import fulfilment, fulfilment_report, intent_report
from include.rollout.record import combined_verdict
from include.slo.definitions import Profile, load_config, slos_for
from include.slo.evaluate import verify
from tests.clock import Clock

TEXT = "URLLC slice with 8 ms latency and 99.999% reliability for 300 devices at edge1 and edge2"
PROFILE = Profile(
    window=6, interval=2, rateWindow="10s", missingData="fail", failureLimit=2, consecutiveLimit=2
)


def verdict(intent, latency: float = 5.0, errors: float = 0.0, served: float = 10**7) -> dict:
    """The combined verdict of real verification windows over constant series at every site."""
    config = load_config()
    values = {
        "latency_p95": latency,
        "error_rate": errors,
        "cpu_usage": 30.0,
        "memory_usage": 45.0,
        "pod_ready": 100.0,
    }
    verdicts = []
    for site, targets in site_targets(intent, intent.sites).items():
        slos = slos_for(namespace="intent-a", site=site, targets=targets, config=config, profile=PROFILE)
        by_query = {s.query: s.name for s in reversed(slos)}  # a criterion reads its seed SLO's series

        def query(promql, at, by_query=by_query, slos=slos):
            if any(s.volume == promql for s in slos):
                return served
            return values[by_query[promql]]

        clock = Clock()
        verdicts.append(verify(slos, PROFILE, query, clock=clock, sleep=clock.sleep).as_json())
    return combined_verdict(verdicts)


def states(fulfilment) -> dict:
    return {
        (r.expectaitonId[-5:], t.targetName): (
            t.targetFulfilmentInfo.fulfilmentStatus,
            t.targetFulfilmentInfo.notFullfilledState,
        )
        for r in fulfilment.expectationFulfilmentResult
        for t in r.targetFulfilmentResult
    }


@pytest.fixture(scope="module")
def parsed(settings):
    return api.parse(TEXT, settings)


def test_a_parsed_intent_can_be_posted_to_a_tmf921_v5_server_as_it_is(parsed, tmf921_validator):
    document = parsed.to_json()
    tmf921_validator(document, "Intent_FVO", nested=(("expression", "_FVO"),))
    tmf921_validator(document, "Intent", nested=(("expression", ""),))
    assert document["expression"]["iri"].startswith("urn:edge-intent:intent:")


def test_the_intent_report_conforms_to_tmf921_and_its_fulfilment_report_to_ts28312(
    parsed, settings, tmf921_validator, standards_validator
):
    intent = api.to_28312(parsed, settings)
    fulfilment = fulfilment_report(intent, verdict(intent, latency=5.0, errors=0.2))
    report = intent_report(intent, fulfilment, run_id="manual__1", now=1_800_000_000).to_json()
    tmf921_validator(report, "IntentReport", nested=(("intent", ""), ("expression", "")))
    assert report["intent"]["@type"] == "IntentRef" and report["intent"]["id"] == intent.id
    standards_validator(fulfilment.to_json(), "TS28312_IntentNrm.yaml", "IntentFulfilmentReport")


def test_the_check_can_fail(parsed, tmf921_validator):
    document = parsed.to_json()
    reference = {"id": document["id"], "href": "/x"}  # no @type: not an IntentRef
    with pytest.raises(jsonschema.ValidationError, match="@type"):
        tmf921_validator(reference, "IntentRef")
    without_iri = {**document, "expression": {k: v for k, v in document["expression"].items() if k != "iri"}}
    with pytest.raises(jsonschema.ValidationError, match="iri"):
        tmf921_validator(without_iri, "Intent_FVO", nested=(("expression", "_FVO"),))


@pytest.fixture(scope="module")
def intent(parsed, settings):
    return api.to_28312(parsed, settings)


def test_every_target_met_is_fulfilled_and_a_target_no_metric_shows_is_not(intent):
    report = fulfilment_report(intent, verdict(intent, latency=5.0, errors=0.0))
    found = {name: state for (_, name), state in states(report).items()}
    assert found == {
        "DlLatency": ("FULFILLED", None),
        "reliability": ("FULFILLED", None),
        "maxNumberofUEs": ("NOT_FULFILLED", "ACKNOWLEDGED"),  # no UE count is exported
    }
    said = fulfilment(intent, report)
    assert said["state"] == "Unverified" and said["missed"] == []
    assert len(said["notVerifiable"]) == 2 and "no count of UEs" in said["notVerifiable"][0]
    assert report.intentFulfilmentInfo.notFullfilledState == "ACKNOWLEDGED"


def test_a_measured_target_missed_is_degraded_and_says_what_was_measured(intent):
    report = fulfilment_report(intent, verdict(intent, latency=5.0, errors=0.13))
    results = [t for r in report.expectationFulfilmentResult for t in r.targetFulfilmentResult]
    reliability = [t for t in results if t.targetName == "reliability"]
    assert {t.targetFulfilmentInfo.notFullfilledState for t in reliability} == {"DEGRADED"}
    assert reliability[0].targetAchievedValue == pytest.approx(99.87)
    reason = reliability[0].targetFulfilmentInfo.notFulfilledReasons[0]
    assert "measured 99.87 %" in reason and ">= 99.999 %" in reason and "4 of 4 evaluations" in reason
    said = fulfilment(intent, report)
    assert said["state"] == "Degraded" and len(said["missed"]) == 2  # edge1 and edge2
    assert report.intentFulfilmentInfo.model_dump(exclude_none=True) == {
        "fulfilmentStatus": "NOT_FULFILLED",
        "notFullfilledState": "DEGRADED",
    }


def test_a_target_too_few_requests_can_show_is_not_verifiable_never_met(intent):
    report = fulfilment_report(intent, verdict(intent, errors=0.0, served=2_400))
    reliability = [
        t
        for r in report.expectationFulfilmentResult
        for t in r.targetFulfilmentResult
        if t.targetName == "reliability"
    ][0]
    info = reliability.targetFulfilmentInfo
    assert (info.fulfilmentStatus, info.notFullfilledState) == ("NOT_FULFILLED", "ACKNOWLEDGED")
    assert (
        "at least 300,000 requests" in info.notFulfilledReasons[0]
        and "2,400 were served" in info.notFulfilledReasons[0]
    )


def test_an_intent_with_only_observable_targets_met_is_fulfilled(settings):
    intent = api.to_28312(
        api.parse("URLLC slice with 8 ms latency and 99.5% reliability at edge1", settings), settings
    )
    report = fulfilment_report(intent, verdict(intent, latency=5.0, errors=0.1, served=2_400))
    assert fulfilment(intent, report) == {"state": "Fulfilled", "missed": [], "notVerifiable": []}
    assert report.intentFulfilmentInfo.model_dump(exclude_none=True) == {"fulfilmentStatus": "FULFILLED"}


# The TIO v3.6.0 terms the report expression uses (IntentCommonModel, IntentManagementOntology); the
# official TTL files are not vendored here, so the kept list is what is checked against.
TIO_TERMS = {
    "http://tio.models.tmforum.org/tio/v3.6.0/IntentCommonModel/" + term
    for term in ("IntentReport", "about", "reportNumber", "reportGenerated", "intentHandlingState")
} | {
    "http://tio.models.tmforum.org/tio/v3.6.0/IntentManagementOntology/" + state
    for state in ("StateCompliant", "StateDegraded")
}


@pytest.mark.parametrize(
    ("latency", "errors", "state"), [(5.0, 0.0, "StateCompliant"), (5.0, 0.8, "StateDegraded")]
)
def test_the_report_expression_speaks_tio(parsed, settings, latency, errors, state):
    import json

    from rdflib import RDF, Graph, URIRef

    from include.compiler.tio import ICM, intent_iri

    intent = api.to_28312(
        api.parse("URLLC slice with 8 ms latency and 99.5% reliability at edge1", settings), settings
    )
    fulfilled = fulfilment_report(intent, verdict(intent, latency=latency, errors=errors))
    report = intent_report(intent, fulfilled, run_id="manual__1", now=1_800_000_000, number=3).to_json()
    assert report["id"] == f"{intent.id}-report-3" and report["href"].endswith(report["id"])
    expression = report["expression"]
    graph = Graph().parse(data=json.dumps(expression["expressionValue"]), format="json-ld")
    node = URIRef(expression["iri"])
    assert (node, RDF.type, ICM.IntentReport) in graph
    assert graph.value(node, ICM.about) == URIRef(intent_iri(intent.id))
    assert graph.value(node, ICM.reportNumber).toPython() == 3
    assert str(graph.value(node, ICM.intentHandlingState)).endswith("/IntentManagementOntology/" + state)
    used = {str(t) for triple in graph for t in triple if str(t).startswith("http://tio.models.tmforum.org/")}
    assert used and used <= TIO_TERMS, used - TIO_TERMS
