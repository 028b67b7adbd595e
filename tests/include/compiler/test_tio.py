"""The TM Forum intent ontology expression: Turtle and JSON-LD both read back losslessly."""

from __future__ import annotations

import json

import pytest
from rdflib import Graph

from include.compiler import api
from include.compiler.errors import IntentValidationError
from include.compiler.slice import Requirement, SliceIntent
from include.compiler.tio import E5G, ICM, from_graph, parse_turtle, to_turtle


@pytest.fixture
def slice_intent():
    return SliceIntent(
        slice_type="URLLC",
        sites=("edge1", "edge2"),
        requirements=(
            Requirement(name="DlLatency", condition="IS_LESS_THAN", value=5, unit="ms"),
            Requirement(name="DlThptPerUE", condition="IS_GREATER_THAN", value=1.5, unit="Gbit/s"),
            Requirement(name="maxNumberofUEs", condition="IS_LESS_THAN", value=100),
            Requirement(name="reliability", condition="IS_EQUAL_TO_OR_GREATER_THAN", value=99.999, unit="%"),
        ),
        defaults_applied=("priority",),
        contexts=(("customer", 'ACME "quoted" \\ name'),),
        description='text with "quotes"\nand a newline',
    )


def test_turtle_round_trip(slice_intent):
    turtle = to_turtle(slice_intent, "x1")
    assert from_graph(parse_turtle(turtle)) == slice_intent


def test_turtle_is_valid_tio(slice_intent):
    graph = parse_turtle(to_turtle(slice_intent, "x1"))
    assert len(list(graph.subjects(predicate=None, object=ICM.Intent))) == 1
    assert len(list(graph.subjects(object=ICM.Condition))) == len(slice_intent.requirements)
    assert (None, E5G.site, None) in graph


def test_turtle_is_deterministic(slice_intent):
    assert to_turtle(slice_intent, "x1") == to_turtle(slice_intent, "x1")


def test_jsonld_expression_gives_the_same_28312(settings, many_targets_intent):
    turtle_document = many_targets_intent.to_json()
    graph = Graph().parse(data=turtle_document["expression"]["expressionValue"], format="turtle")
    jsonld_document = dict(turtle_document)
    jsonld_document["expression"] = {
        "@type": "JsonLdExpression",
        "expressionValue": {"@graph": json.loads(graph.serialize(format="json-ld"))},
    }
    from_turtle = api.to_28312(turtle_document, settings).to_json()
    from_jsonld = api.to_28312(jsonld_document, settings).to_json()
    assert from_jsonld == from_turtle


def test_remote_jsonld_context_is_refused(settings, many_targets_intent):
    document = many_targets_intent.to_json()
    document["expression"] = {
        "@type": "JsonLdExpression",
        "expressionValue": {"@context": "http://tio.models.tmforum.org/context.json", "@id": "urn:x"},
    }
    with pytest.raises(IntentValidationError, match="remote @context"):
        api.to_28312(document, settings)


@pytest.mark.parametrize(
    ("name", "value", "unit", "message"),
    [
        (
            "DlLatency",
            7.5,
            "ms",
            "condition 1: DlLatency 7.5 ms: TS 28.312 carries latency in whole milliseconds",
        ),
        ("UlLatency", 0.0125, "s", "condition 1: UlLatency 0.0125 s (12.5 ms)"),
        (
            "DlLatency",
            800,
            "us",
            "DlLatency 800 us (0.8 ms): TS 28.312 carries latency in whole milliseconds; say 1 ms",
        ),
    ],
)
def test_latency_must_be_whole_milliseconds(name, value, unit, message):
    intent = SliceIntent(
        slice_type="URLLC",
        sites=("edge1",),
        requirements=(Requirement(name=name, condition="IS_LESS_THAN", value=value, unit=unit),),
    )
    with pytest.raises(IntentValidationError) as caught:
        from_graph(parse_turtle(to_turtle(intent, "x1")))
    assert caught.value.stage == "convert"
    assert message in caught.value.errors[0].reason


def test_whole_milliseconds_in_other_units_and_fractional_jitter_are_read():
    intent = SliceIntent(
        slice_type="URLLC",
        sites=("edge1",),
        requirements=(
            Requirement(name="DlLatency", condition="IS_LESS_THAN", value=2000, unit="us"),
            Requirement(name="jitter", condition="IS_LESS_THAN", value=0.5, unit="ms"),
        ),
    )
    assert from_graph(parse_turtle(to_turtle(intent, "x1"))) == intent
