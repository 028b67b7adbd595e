"""Rejected input: each case gets a message naming the field and the reason, at the right stage."""

from __future__ import annotations

import json
import time

import pytest

from include.compiler import api
from include.compiler.errors import IntentValidationError

BASE_TEXT = "URLLC slice with 5 ms latency at edge1"


@pytest.mark.parametrize(
    ("text", "field", "message"),
    [
        ("", "text", "is empty"),
        ("   \n\t ", "text", "is empty"),
        ("hello world, how are you", "text", "no recognisable request"),
        ("URLLC slice with -5 ms latency at edge1", "text", "DlLatency -5 ms is out of range"),
        ("URLLC with 200% reliability at edge1", "text", "reliability 200 % is out of range"),
        ("eMBB with 10^12 Mbps download at edge1", "text", "DlThptPerUE 1e+15 kbit/s is out of range"),
        ("URLLC with 5 ms latency for 0 devices at edge1", "text", "maxNumberofUEs 0 UEs is out of range"),
        ("URLLC slice at edge7", "text", "unknown site 'edge7'; known sites are edge1, edge2, edge3"),
        ("URLLC slice at edge1\x00", "text", "contains control characters"),
        ("URLLC slice at edge1 \u202e2egde", "text", "bidirectional overrides"),
        ("URLLC slice at edge site 9", "text", "unknown site 'edge site 9'"),
        ("eMBB with 5 Xbps download at edge1", "text", "unknown throughput unit"),
        ("URLLC with latency of 5 parsecs at edge1", "text", "unknown latency unit 'parsecs'"),
        ("URLLC with 5 latency at edge1", "text", "latency 5 has no unit"),
        ("eMBB and URLLC slice at edge1", "text", "names more than one slice type (eMBB, URLLC)"),
        ("eMBB at edge1 with 1 Gbps download and 2 Gbps download", "text", "gives DlThptPerUE twice"),
        ("URLLC at edge1 with priority 500", "text", "priority 500 must be a whole number from 1 to 100"),
        ("URLLC with 99.999 reliability at edge1", "text", "needs a % sign"),
        ("URLLC slice with 5 ms latency", "text", "names no target site; name one of edge1, edge2, edge3"),
        (
            "eMBB at edge1 with 3 GB storage",
            "text",
            "'3 GB storage' is not a target the compiler reads "
            "(latency, jitter, throughput, reliability, availability, number of UEs)",
        ),
        ("eMBB at edge1 for 2 hours", "text", "'2 hours' is not a target the compiler reads"),
        (
            "mMTC at edge1 for 500 widgets",
            "text",
            "'500 widgets': unknown counted noun 'widgets'; count UEs as devices, users, sensors",
        ),
        ("mMTC at edge1 for 500 smart widgets", "text", "unknown counted noun 'smart widgets'"),
        (
            "URLLC at edge1 with 7.5 ms latency",
            "text",
            "DlLatency 7.5 ms: TS 28.312 carries latency in whole milliseconds; say 7 ms or 8 ms",
        ),
        (
            "URLLC at edge1, 800 us latency",
            "text",
            "DlLatency 800 us (0.8 ms): TS 28.312 carries latency in whole milliseconds; say 1 ms",
        ),
        ("URLLC at edge1 with uplink latency of 0.0125 s", "text", "UlLatency 0.0125 s (12.5 ms)"),
        ("slice 7 at edge1", "text", "the number 7 in 'slice 7 at' is not attached to any target"),
        ("URLLC at edge1 with 5 ms", "text", "'5 ms' is not attached to any target; say for example"),
        ("eMBB at edge1 with 99.9%", "text", "'99.9%' is not attached to any target"),
        ("URLLC at edge1 with 1e999 ms latency", "text", "DlLatency inf ms is out of range"),
        ("URLLC at edge1 with packet loss of 0.01", "text", "packet loss 0.01 needs a % sign"),
        ("URLLC at edge1 with packet loss of 150%", "text", "packet loss 150 % is out of range"),
        ("URLLC at edge1 with 5 minutes delay", "text", "unknown latency unit 'minutes'"),
        ("eMBB at edge1 with 2 TB/s download", "text", "unknown throughput unit 'TB/s'"),
    ],
)
def test_parse_rejects(settings, text, field, message):
    with pytest.raises(IntentValidationError) as caught:
        api.parse(text, settings)
    error = caught.value
    assert error.stage == "parse"
    assert error.errors[0].field == field
    assert message in error.errors[0].reason


def test_every_leftover_is_named_at_once(settings):
    with pytest.raises(IntentValidationError) as caught:
        api.parse("URLLC with 5 ms latency at edge1 with 3 GB storage for 2 hours and 500 widgets", settings)
    reasons = [error.reason for error in caught.value.errors]
    assert [error.field for error in caught.value.errors] == ["text"] * 3
    assert "'3 GB storage'" in reasons[0]
    assert "'2 hours'" in reasons[1]
    assert "'500 widgets'" in reasons[2]


def test_an_unread_number_refuses_the_whole_text(settings):
    with pytest.raises(IntentValidationError) as caught:
        api.parse("URLLC slice with 5 ms latency for 300 cameras at edge1 in zone 4", settings)
    assert [str(error) for error in caught.value.errors] == [
        "text: the number 4 in 'zone 4' is not attached to any target"
    ]


def test_parse_rejects_unknown_override_site(settings):
    with pytest.raises(
        IntentValidationError, match="site: unknown site 'edge9'; known sites are edge1, edge2, edge3"
    ):
        api.parse(BASE_TEXT, settings, sites=["edge9"])


def test_both_sites_is_ambiguous_with_three(three_sites):
    with pytest.raises(IntentValidationError, match="'both sites' is ambiguous: the catalogue has 3 sites"):
        api.parse("eMBB at both sites", three_sites)


def test_huge_text_is_refused_quickly(settings):
    huge = "URLLC " * 900_000  # 5.4 MB
    started = time.perf_counter()
    with pytest.raises(IntentValidationError, match="characters long; the limit is 4000"):
        api.parse(huge, settings)
    assert time.perf_counter() - started < 0.5


def _base(settings) -> dict:
    return api.parse(BASE_TEXT, settings).to_json()


def _with(settings, **changes) -> dict:
    document = _base(settings)
    for key, value in changes.items():
        key = key.replace("AT_", "@")
        if value is None:
            document.pop(key, None)
        else:
            document[key] = value
    return document


def _turtle(settings, old: str, new: str) -> dict:
    document = _base(settings)
    turtle = document["expression"]["expressionValue"]
    assert old in turtle
    document["expression"] = {"@type": "TurtleExpression", "expressionValue": turtle.replace(old, new)}
    return document


BAD_DOCUMENTS = [
    ("malformed JSON", lambda s: b'{"name": "x", ', "intent", "is not valid JSON"),
    ("not an object", lambda s: b'["an", "array"]', "intent", "must be a JSON object"),
    ("duplicate keys", lambda s: b'{"name": "a", "name": "b"}', "intent", "duplicate key 'name'"),
    ("NaN", lambda s: b'{"name": NaN}', "intent", "NaN is not valid JSON"),
    ("a number too large for a float", lambda s: b'{"priority": 1e999}', "intent", "1e999 is out of range"),
    ("its negative", lambda s: b'{"priority": -1e999}', "intent", "-1e999 is out of range"),
    (
        "too large",
        lambda s: b'{"name": "' + b"x" * 1_100_000 + b'"}',
        "intent",
        "bytes long; the limit is 1000000",
    ),
    ("too deep", lambda s: ("[" * 5000 + "]" * 5000).encode(), "intent", "nests"),
    (
        "deep object",
        lambda s: json.dumps(_with(s, characteristic=[json.loads("[" * 80 + "]" * 80)])),
        "intent",
        "nests deeper than 64 levels",
    ),
    ("missing name", lambda s: _with(s, name=None), "name", "is required"),
    ("missing expression", lambda s: _with(s, expression=None), "expression", "is required"),
    ("missing @type", lambda s: _with(s, AT_type=None), "@type", "is required"),
    ("wrong @type", lambda s: _with(s, AT_type="Service"), "@type", "Input should be 'Intent'"),
    ("wrong type", lambda s: _with(s, isBundle="yes please"), "isBundle", "valid boolean"),
    ("name not a string", lambda s: _with(s, name=42), "name", "valid string"),
    ("empty name", lambda s: _with(s, name=""), "name", "at least 1 character"),
    ("control characters", lambda s: _with(s, name="evil\x1b[31mname"), "name", "control characters"),
    ("unknown field", lambda s: _with(s, payload="x"), "payload", "is not a TMF921 Intent field"),
    (
        "unknown expression type",
        lambda s: _with(s, expression={"@type": "XmlExpression", "expressionValue": "<a/>"}),
        "expression",
        "@type must be TurtleExpression or JsonLdExpression",
    ),
    ("path traversal id", lambda s: _with(s, id="../../etc"), "id", "must be a DNS-1123 label"),
    ("id with a trailing newline", lambda s: _with(s, id="urllc-edge1\n"), "id", "must be a DNS-1123 label"),
    ("id not DNS safe", lambda s: _with(s, id="Intent_One"), "id", "must be a DNS-1123 label"),
    ("id too long", lambda s: _with(s, id="a" * 51), "id", "1 to 50 characters"),
    ("priority out of range", lambda s: _with(s, priority="0"), "priority", "whole number from 1 to 100"),
    ("priority not a number", lambda s: _with(s, priority="high; DROP TABLE"), "priority", "whole number"),
    (
        "turtle does not parse",
        lambda s: _turtle(s, "ei:I a icm:Intent ;", "ei:I a icm:Intent ;; <<<"),
        "expression.expressionValue",
        "turtle does not parse",
    ),
    (
        "unknown site in turtle",
        lambda s: _turtle(s, 'e5g:site "edge1"', 'e5g:site "../../etc"'),
        "expression.expressionValue",
        "unknown site '../../etc'",
    ),
    (
        "unknown unit in turtle",
        lambda s: _turtle(s, 'quan:unit "ms"', 'quan:unit "furlongs"'),
        "expression.expressionValue",
        "unknown unit 'furlongs' for DlLatency",
    ),
    (
        "unknown target in turtle",
        lambda s: _turtle(s, "e5g:DlLatency", "e5g:WarpFactor"),
        "expression.expressionValue",
        "unknown target 'WarpFactor'",
    ),
    (
        "unsupported operator",
        lambda s: _turtle(s, "quan:smaller", "quan:inRange"),
        "expression.expressionValue",
        "operator",
    ),
    (
        "value not a number",
        lambda s: _turtle(s, '"5"^^xsd:decimal', '"five"'),
        "expression.expressionValue",
        "is not a number",
    ),
    (
        "negative value in turtle",
        lambda s: _turtle(s, '"5"^^xsd:decimal', '"-5"^^xsd:decimal'),
        "expression.expressionValue",
        "DlLatency -5 ms is out of range",
    ),
    (
        "fractional latency in turtle",
        lambda s: _turtle(s, '"5"^^xsd:decimal', '"7.5"^^xsd:decimal'),
        "expression.expressionValue",
        "condition 1: DlLatency 7.5 ms: TS 28.312 carries latency in whole milliseconds; say 7 ms or 8 ms",
    ),
    (
        "sub-millisecond latency in turtle",
        lambda s: _turtle(s, '"5"^^xsd:decimal ; quan:unit "ms"', '"800"^^xsd:decimal ; quan:unit "us"'),
        "expression.expressionValue",
        "DlLatency 800 us (0.8 ms): TS 28.312 carries latency in whole milliseconds; say 1 ms",
    ),
    (
        "no slice type",
        lambda s: _turtle(s, 'e5g:sliceType "URLLC" ;', ""),
        "expression.expressionValue",
        "exactly one e5g:sliceType, found 0",
    ),
    (
        "unknown slice type",
        lambda s: _turtle(s, 'e5g:sliceType "URLLC"', 'e5g:sliceType "6G"'),
        "expression.expressionValue",
        "'6G' is not one of eMBB, URLLC, mMTC",
    ),
    (
        "no intent",
        lambda s: _turtle(s, "ei:I a icm:Intent", "ei:I a icm:Thing"),
        "expression.expressionValue",
        "exactly one icm:Intent, found 0",
    ),
    (
        "JSON-LD not an object",
        lambda s: _with(s, expression={"@type": "JsonLdExpression", "expressionValue": "x"}),
        "expression.expressionValue",
        "valid dictionary",
    ),
]


@pytest.mark.parametrize(
    ("make", "field", "message"),
    [case[1:] for case in BAD_DOCUMENTS],
    ids=[case[0] for case in BAD_DOCUMENTS],
)
def test_convert_rejects(settings, make, field, message):
    with pytest.raises(IntentValidationError) as caught:
        api.to_28312(make(settings), settings)
    error = caught.value
    assert error.stage == "convert"
    assert any(e.field == field and message in e.reason for e in error.errors), error.errors


def test_compile_rejects_latency_no_5qi_can_meet(settings):
    intent = api.to_28312(api.parse("URLLC slice with 1 ms latency at edge1", settings), settings)
    with pytest.raises(IntentValidationError) as caught:
        api.packages(intent, settings)
    assert caught.value.stage == "compile"
    assert "no standardized 5QI" in caught.value.errors[0].reason


def test_every_error_names_field_and_reason(settings):
    count = 0
    for _, make, _, _ in BAD_DOCUMENTS:
        with pytest.raises(IntentValidationError) as caught:
            api.to_28312(make(settings), settings)
        for error in caught.value.errors:
            assert error.field and error.reason
            assert str(error) == f"{error.field}: {error.reason}"
            count += 1
    assert count >= len(BAD_DOCUMENTS)
