"""One intake for both doors: the pipeline's ``validate`` task and the intent API read the same input
to the same TMF921 intent, and both use the language model of the ``edge_intent_llm`` connection
when it exists."""

from __future__ import annotations

import json
from typing import Any

import pytest

from edge_intent import intake
from edge_intent.api.errors import ApiError
from edge_intent.api.runs import read_submission
from edge_intent.hooks.llm import NO_CONNECTION, LlmHook
from include.compiler import api
from include.lifecycle import Key
from tests.fake_llm import FakeModel, Reply, answer, start, stop

ENV = "AIRFLOW_CONN_" + LlmHook.default_conn_name.upper()
TEXT = "eMBB slice with 1 Gbps download at edge1"
GOOD = answer(
    sliceType="eMBB", sites=["edge1"], targets=[{"name": "DlThptPerUE", "value": 1, "unit": "Gbit/s"}]
)


class RecordingTI:
    """Records what a task pushes to XCom (the only part of a task instance the intake uses)."""

    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


@pytest.fixture
def no_model(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)


@pytest.fixture
def model(monkeypatch):
    fake = FakeModel(reply=Reply(GOOD))
    server = start(fake)
    monkeypatch.setenv(
        ENV, json.dumps({"conn_type": "http", "host": fake.base_url, "extra": {"model": "fake-model"}})
    )
    yield fake
    stop(fake, server)


def _parser(document: dict[str, Any]) -> dict[str, Any]:
    return {c["name"]: c["value"] for c in document.get("characteristic", [])}


def test_text_reads_the_same_at_both_doors_without_a_model(no_model):
    ti = RecordingTI()
    validated = intake.validate({"intent": TEXT, "sites": []}, ti)
    submitted = read_submission(TEXT)
    assert validated == submitted.document
    assert ti.pushed == {Key.INTENT_ID: submitted.intent_id, Key.ROLLOUT: submitted.rollout}
    assert validated["id"] == submitted.intent_id
    assert submitted.parser == {"path": "deterministic", "fallbackReason": NO_CONNECTION}
    assert _parser(validated) == {"intentParser": "deterministic"}


def test_text_reads_the_same_at_both_doors_with_a_model(model):
    ti = RecordingTI()
    validated = intake.validate({"intent": TEXT}, ti)
    submitted = read_submission(TEXT)
    assert len(model.requests) == 2  # each door asked the model
    assert validated == submitted.document
    assert submitted.parser == {"path": "llm", "model": "fake-model"}
    assert _parser(validated) == {"intentParser": "llm", "intentParserModel": "fake-model"}
    assert ti.pushed == {Key.INTENT_ID: submitted.intent_id, Key.ROLLOUT: submitted.rollout}


def test_a_site_override_applies_at_both_doors(no_model):
    validated = intake.validate({"intent": "URLLC slice with 5 ms latency at edge1", "sites": ["edge2"]})
    submitted = read_submission("URLLC slice with 5 ms latency at edge1", ["edge2"])
    assert validated == submitted.document
    assert "edge2" in validated["expression"]["expressionValue"]


@pytest.mark.parametrize("as_text", [False, True], ids=["object", "json text"])
def test_a_tmf921_intent_reads_the_same_at_both_doors(settings, model, as_text):
    tmf = api.parse("URLLC slice with 5 ms latency at edge2", settings).to_json()
    tmf.pop("id")  # the id is derived, the same way at both doors
    given = json.dumps(tmf) if as_text else tmf
    ti = RecordingTI()
    validated = intake.validate({"intent": given}, ti)
    submitted = read_submission(given)
    assert validated == submitted.document
    assert submitted.parser == {"path": "tmf921"}
    assert validated["id"] == submitted.intent_id == ti.pushed[Key.INTENT_ID]
    assert model.requests == []  # no text to read


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"intent": "URLLC slice at edge9"}, "text"),
        ({"intent": {"@type": "Intent", "name": "x"}}, "expression"),
        ({"intent": '{"@type": "Intent", "name": "x", "colour": "red"}'}, "colour"),
        ({"intent": {"@type": "Intent", "name": "x"}, "sites": ["edge1"]}, "sites"),
    ],
)
def test_invalid_input_is_refused_alike_at_both_doors(no_model, params, field):
    ti = RecordingTI()
    with pytest.raises(intake.InvalidIntent) as refused:
        intake.validate(params, ti)
    errors = ti.pushed[Key.ERRORS]["errors"]
    assert field in {e["field"] for e in errors} and field in str(refused.value)
    assert Key.INTENT_ID not in ti.pushed
    with pytest.raises(ApiError) as answered:
        read_submission(params["intent"], params.get("sites"))
    assert answered.value.status == 422 and answered.value.errors == errors


def test_an_intent_that_is_neither_text_nor_an_object_is_refused(no_model):
    ti = RecordingTI()
    with pytest.raises(intake.InvalidIntent):
        intake.validate({"intent": 42}, ti)
    assert ti.pushed[Key.ERRORS]["errors"] == [
        {"field": "intent", "reason": "give natural-language text or a TMF921 Intent object"}
    ]


def test_the_api_refuses_an_unknown_slo_profile_naming_it(no_model):
    with pytest.raises(ApiError) as answered:
        read_submission(TEXT, slo_profile="nightly")
    assert answered.value.errors[0]["field"] == "slo_profile"


# -- the rollout strategy, read at both doors ---------------------------------------------------------

THREE_SITES = "URLLC slice with 5 ms latency at edge1, edge2 and edge3"


def test_the_default_strategy_makes_a_canary_first_wave_at_both_doors(no_model):
    ti = RecordingTI()
    intake.validate({"intent": THREE_SITES, "sites": []}, ti)
    plan = ti.pushed[Key.ROLLOUT]
    assert plan == read_submission(THREE_SITES).rollout
    assert plan["type"] == "ProgressivePerGroup" and plan["maxFailures"] == 0
    assert [(w["name"], w["sites"]) for w in plan["waves"]] == [
        ("canary", ["edge1"]),
        ("wave-2", ["edge2"]),
        ("wave-3", ["edge3"]),
    ]


def test_a_strategy_given_with_the_intent_or_in_its_tmf921_characteristic(no_model):
    strategy = {
        "type": "Progressive",
        "progressive": {"maxConcurrency": 2, "maxFailures": "34%", "minSuccessTime": "1m30s"},
        "approval": {"groups": ["wave-3"], "timeout": "5m"},
    }
    ti = RecordingTI()
    intake.validate({"intent": THREE_SITES, "sites": [], "rollout_strategy": strategy}, ti)
    plan = ti.pushed[Key.ROLLOUT]
    assert [(w["sites"], w["approval"]) for w in plan["waves"]] == [
        (["edge1", "edge2"], False),
        (["edge3"], True),
    ]
    assert plan["maxFailures"] == 1 and plan["minSuccessTime"] == 90 and plan["approvalTimeout"] == 300
    tmf = read_submission(THREE_SITES).document
    tmf["characteristic"] = [
        {"@type": "ObjectCharacteristic", "name": "rolloutStrategy", "valueType": "object", "value": strategy}
    ]
    tmf.pop("id")
    assert read_submission(tmf).rollout == plan


@pytest.mark.parametrize(
    ("strategy", "field", "reason"),
    [
        ({"type": "Canary"}, "rolloutStrategy.type", "must be one of"),
        (
            {
                "type": "ProgressivePerGroup",
                "progressivePerGroup": {"mandatoryDecisionGroups": [{"groupName": "x"}]},
            },
            "rolloutStrategy.progressivePerGroup.mandatoryDecisionGroups[0].groupName",
            "unknown group 'x'",
        ),
        (
            {"type": "All", "all": {"minSuccessTime": "-30s"}},
            "rolloutStrategy.all.minSuccessTime",
            "negative",
        ),
        (
            {"type": "All", "all": {"progressDeadline": "soon"}},
            "rolloutStrategy.all.progressDeadline",
            "duration",
        ),
        (
            {"type": "All", "all": {"maxFailures": 4}},
            "rolloutStrategy.all.maxFailures",
            "more than the intent's 3",
        ),
        ({"type": "All", "all": {"maxFailures": "150%"}}, "rolloutStrategy.all.maxFailures", "at most 100%"),
        ({"type": "All", "progressive": {}}, "rolloutStrategy.progressive", "does not apply to type All"),
        (
            {"type": "All", "approval": {"groups": ["../x"]}},
            "rolloutStrategy.approval.groups",
            "unknown group",
        ),
        ({"type": "All", "all": {"maxFailures": True}}, "rolloutStrategy.all.maxFailures", "whole number"),
    ],
)
def test_a_bad_strategy_is_refused_at_both_doors_naming_the_field(no_model, strategy, field, reason):
    ti = RecordingTI()
    with pytest.raises(intake.InvalidIntent):
        intake.validate({"intent": THREE_SITES, "sites": [], "rollout_strategy": strategy}, ti)
    errors = ti.pushed[Key.ERRORS]["errors"]
    assert any(e["field"] == field and reason in e["reason"] for e in errors), errors
    assert Key.INTENT_ID not in ti.pushed and Key.ROLLOUT not in ti.pushed
    with pytest.raises(ApiError) as answered:
        read_submission(THREE_SITES, strategy=strategy)
    assert answered.value.status == 422 and answered.value.errors == errors


def test_a_tmf921_intents_bad_strategy_characteristic_is_refused(no_model):
    tmf = read_submission(THREE_SITES).document
    tmf.pop("id")
    for value, field in (
        ("ProgressivePerGroup", "characteristic[rolloutStrategy].value"),
        ({"type": "All", "all": {"maxFailures": "9"}}, "rolloutStrategy.all.maxFailures"),
    ):
        tmf["characteristic"] = [{"@type": "ObjectCharacteristic", "name": "rolloutStrategy", "value": value}]
        with pytest.raises(ApiError) as answered:
            read_submission(tmf)
        assert answered.value.status == 422
        assert [e["field"] for e in answered.value.errors] == [field]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("", 64), ("1", 1), (" 200 ", 200), ("0", None), ("-3", None), ("1e3", None), ("x", None)],
)
def test_the_intents_in_flight_are_configured_and_checked(monkeypatch, raw, expected):
    from edge_intent.dagparams import MAX_ACTIVE_RUNS_ENV, max_active_intents

    monkeypatch.setenv(MAX_ACTIVE_RUNS_ENV, raw)
    if expected is None:
        with pytest.raises(
            ValueError, match=f"{MAX_ACTIVE_RUNS_ENV}: must be a whole number from 1 to 10000"
        ):
            max_active_intents()
    else:
        assert max_active_intents() == expected
