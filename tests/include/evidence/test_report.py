"""What the project emits as TMF921, validated against the official TMF921 v5.0.0 OpenAPI
(``standards/``): a parsed intent as a create body (``Intent_FVO`` with a ``TurtleExpression_FVO``,
whose ``iri`` is required) and as a resource (``Intent``), and the IntentReport (its ``intent`` an
``IntentRef``, which needs ``@type``), with its TS 28.312 IntentFulfilmentReport against Rel-18."""

from __future__ import annotations

import jsonschema
import pytest

from include.compiler import api
from include.evidence.report import fulfilment_report, intent_report

TEXT = "URLLC slice with 8 ms latency and 99.999% reliability for 300 devices at edge1 and edge2"


def verdict(latency: float, errors: float) -> dict:
    slos = {"latency_p95": {"worst": latency}, "error_rate": {"worst": errors}, "pod_ready": {"worst": 100.0}}
    return {"result": "pass", "slos": {"edge1": slos, "edge2": slos}}


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
    fulfilment = fulfilment_report(intent, verdict(latency=5.0, errors=0.2))
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
