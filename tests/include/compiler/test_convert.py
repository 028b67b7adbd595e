"""TMF921 to TS 28.312: every target and context survives, and the result follows the spec's schema."""

from __future__ import annotations

import pytest

from include.compiler import api
from include.compiler.convert import target_value
from include.compiler.errors import IntentValidationError
from include.compiler.targets import KINDS

SPECIFIC_TARGET_SCHEMAS = {
    "DlThptPerUE": "DLThptPerUETarget",
    "UlThptPerUE": "ULThptPerUETarget",
    "DlLatency": "DLLatencyTarget",
    "UlLatency": "ULLatencyTarget",
    "maxNumberofUEs": "MaxNumberofUEsTarget",
}


@pytest.fixture(scope="module")
def converted(settings, many_targets_intent):
    return api.to_28312(many_targets_intent, settings)


def test_every_target_survives(converted):
    expected = {
        "DlLatency": 5,
        "jitter": 2,
        "reliability": 99.999,
        "availability": 99.99,
        "DlThptPerUE": 300_000,
        "UlThptPerUE": 50_000,
        "UlLatency": 10,
        "maxNumberofUEs": 1_500,
    }
    assert set(expected) == set(KINDS)  # the sample exercises every known target
    assert converted.sites == ["edge1", "edge2", "edge3"]
    for expectation in converted.intentExpectations:
        found = {t.targetName: target_value(t) for t in expectation.expectationTargets}
        assert found == pytest.approx(expected)
        assert expectation.expectationVerb == "DELIVER"
        assert expectation.expectationObject.objectType == "EdgeService_Support"


def test_conditions_follow_the_spec(converted):
    conditions = {t.targetName: t.targetCondition for t in converted.intentExpectations[0].expectationTargets}
    assert conditions["DlLatency"] == "IS_LESS_THAN"
    assert conditions["DlThptPerUE"] == "IS_GREATER_THAN"
    assert conditions["maxNumberofUEs"] == "IS_LESS_THAN"
    assert conditions["reliability"] == "IS_EQUAL_TO_OR_GREATER_THAN"


def test_extension_targets_say_their_unit(converted):
    targets = {t.targetName: t for t in converted.intentExpectations[0].expectationTargets}
    assert targets["jitter"].targetContexts[0].contextValueRange == "ms"
    assert targets["reliability"].targetContexts[0].contextValueRange == "%"
    assert targets["DlLatency"].targetContexts == []


def test_intent_level_fields(converted, many_targets_intent):
    assert converted.id == many_targets_intent.id
    assert converted.userLabel == many_targets_intent.name
    assert converted.intentPriority == 80
    assert converted.intentAdminState == "ACTIVATED"
    assert converted.context("ServiceType") == 2
    assert converted.context("defaultsApplied") == ["observationPeriod"]


def test_intent_validates_against_ts28312_schema(converted, standards_validator):
    document = converted.to_json()
    standards_validator(document, "TS28312_IntentNrm.yaml", "Intent-Single")
    for expectation in document["intentExpectations"]:
        standards_validator(expectation, "TS28312_IntentExpectations.yaml", "EdgeServiceSupportExpectation")
        standards_validator(
            expectation["expectationObject"],
            "TS28312_IntentExpectations.yaml",
            "ServiceSupportExpectationObject",
        )
        standards_validator(
            expectation["expectationObject"]["objectContexts"][0],
            "TS28312_IntentExpectations.yaml",
            "EdgeIdenfiticationIdContext",
        )
        for target in expectation["expectationTargets"]:
            standards_validator(target, "TS28312_IntentNrm.yaml", "ExpectationTarget")
            specific = SPECIFIC_TARGET_SCHEMAS.get(target["targetName"])
            if specific:
                standards_validator(target, "TS28312_IntentExpectations.yaml", specific)


def test_schema_check_can_fail(standards_validator):
    from jsonschema import ValidationError

    with pytest.raises(ValidationError):
        standards_validator(
            {"targetName": "DlLatency", "targetCondition": "IS_GREATER_THAN", "targetValueRange": 5},
            "TS28312_IntentExpectations.yaml",
            "DLLatencyTarget",
        )


def test_contexts_survive(settings, many_targets_intent):
    document = many_targets_intent.to_json()
    turtle = document["expression"]["expressionValue"].replace(
        'e5g:sliceType "URLLC" ;',
        'e5g:sliceType "URLLC" ;\n    e5g:customer "ACME" ;\n    e5g:region "north" ;',
    )
    document["expression"] = {"@type": "TurtleExpression", "expressionValue": turtle}
    document["validFor"] = {"startDateTime": "2026-12-01T00:00:00Z", "endDateTime": "2027-01-01T00:00:00Z"}
    intent = api.to_28312(document, settings)
    assert intent.context("customer") == "ACME"
    assert intent.context("region") == "north"
    contexts = {
        c.contextAttribute: c.contextValueRange for c in intent.intentExpectations[0].expectationContexts
    }
    assert contexts == {
        "ServiceStartTime": "2026-12-01T00:00:00+00:00",
        "ServiceEndTime": "2027-01-01T00:00:00+00:00",
    }


def test_missing_priority_and_id_are_filled_and_recorded(settings, many_targets_intent):
    document = many_targets_intent.to_json()
    del document["priority"], document["id"]
    intent = api.to_28312(document, settings)
    assert intent.intentPriority == settings.compiler.defaults.priority
    assert "priority" in intent.context("defaultsApplied")
    assert intent.id.startswith("intent-")
    assert api.to_28312(document, settings).id == intent.id


def test_convert_is_deterministic(settings, many_targets_intent):
    first = api.to_28312(many_targets_intent.to_json(), settings).to_json()
    assert api.to_28312(many_targets_intent.to_json(), settings).to_json() == first


def test_integer_ms_rule_refuses_fractional_latency_in_text(settings):
    with pytest.raises(IntentValidationError) as caught:
        api.parse("URLLC slice with 7.5 ms latency at edge1", settings)
    assert caught.value.stage == "parse"
    assert "DlLatency 7.5 ms" in caught.value.errors[0].reason
    assert "say 7 ms or 8 ms" in caught.value.errors[0].reason


def test_integer_ms_rule_refuses_fractional_latency_in_turtle(settings):
    document = api.parse("URLLC slice with 5 ms latency at edge1", settings).to_json()
    turtle = document["expression"]["expressionValue"].replace('"5"^^xsd:decimal', '"7.5"^^xsd:decimal')
    document["expression"] = {"@type": "TurtleExpression", "expressionValue": turtle}
    with pytest.raises(IntentValidationError) as caught:
        api.to_28312(document, settings)
    assert caught.value.stage == "convert"
    assert "DlLatency 7.5 ms: TS 28.312 carries latency in whole milliseconds" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "name", "expected"),
    [
        ("URLLC at edge1, 2000 us latency", "DlLatency", 2),
        ("URLLC at edge1, uplink latency below 0.007 s", "UlLatency", 7),
        ("URLLC at edge1 with 5 ms latency", "DlLatency", 5),
    ],
)
def test_latency_targets_are_integers(settings, standards_validator, text, name, expected):
    intent = api.to_28312(api.parse(text, settings), settings)
    (target,) = intent.intentExpectations[0].expectationTargets
    assert target.targetName == name
    assert target.targetValueRange == expected
    assert type(target.targetValueRange) is int
    standards_validator(target.to_json(), "TS28312_IntentExpectations.yaml", SPECIFIC_TARGET_SCHEMAS[name])


def test_latency_schema_refuses_a_fraction(standards_validator):
    from jsonschema import ValidationError

    with pytest.raises(ValidationError):
        standards_validator(
            {"targetName": "DlLatency", "targetCondition": "IS_LESS_THAN", "targetValueRange": 7.5},
            "TS28312_IntentExpectations.yaml",
            "DLLatencyTarget",
        )
