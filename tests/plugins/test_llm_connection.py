"""The ``edge_intent_llm`` connection: read through Airflow's connection lookup, optional, and never a
way for the API key to reach a URL, a reason or a log record."""

from __future__ import annotations

import json
import logging
from unittest import mock

import pytest

from edge_intent.hooks.llm import NO_CONNECTION, LlmHook
from include.compiler import api
from tests.fake_llm import FakeModel, Reply, answer, start, stop

KEY = "sk-conn-fedcba9876543210"
TEXT = "eMBB slice with 1 Gbps download at edge1"
GOOD = answer(
    sliceType="eMBB", sites=["edge1"], targets=[{"name": "DlThptPerUE", "value": 1, "unit": "Gbit/s"}]
)
LLM_CONN_ID = LlmHook.default_conn_name
ENV = "AIRFLOW_CONN_" + LLM_CONN_ID.upper()


def parse_text(text, settings):
    return LlmHook().parse_text(text, settings)


@pytest.fixture
def model():
    fake = FakeModel(reply=Reply(GOOD))
    server = start(fake)
    yield fake
    stop(fake, server)


def connect(monkeypatch, **fields) -> None:
    monkeypatch.setenv(ENV, json.dumps({"conn_type": "http", **fields}))


def test_no_connection_means_the_parser(settings, monkeypatch, caplog):
    monkeypatch.delenv(ENV, raising=False)
    with caplog.at_level(logging.WARNING):
        outcome = parse_text(TEXT, settings)
    assert (outcome.path, outcome.fallback_reason, outcome.model) == ("deterministic", NO_CONNECTION, None)
    assert outcome.fallback_reason == "no LLM connection configured"
    assert [r for r in caplog.records if "edge_intent" in r.name] == []  # silently


def test_connection_gives_the_model_path(settings, model, monkeypatch, caplog):
    connect(monkeypatch, host=model.base_url, password=KEY, extra={"model": "conn-model", "timeout": 5})
    with caplog.at_level(logging.DEBUG):
        outcome = parse_text(TEXT, settings)
    assert (outcome.path, outcome.fallback_reason, outcome.model) == ("llm", None, "conn-model")
    (request,) = model.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["Authorization"] == f"Bearer {KEY}"
    assert request["body"]["model"] == "conn-model"
    document = outcome.intent.to_json()
    document.pop("characteristic")
    assert document == api.parse(TEXT, settings).to_json()
    assert all(KEY not in record.getMessage() for record in caplog.records)


def test_connection_settings_are_read(model, monkeypatch):
    connect(
        monkeypatch,
        host=model.base_url + "/",
        password=KEY,
        extra={"model": "m", "timeout": 2.5, "max_response_bytes": 4096, "json_mode": False},
    )
    config = LlmHook().get_conn()
    assert (config.base_url, config.model, config.api_key) == (model.base_url, "m", KEY)
    assert (config.timeout, config.max_response_bytes, config.json_mode) == (2.5, 4096, False)
    assert KEY not in repr(config)


def test_host_without_scheme_takes_schema_and_port(settings, model, monkeypatch):
    connect(monkeypatch, host="127.0.0.1", port=model.port, schema="http", extra={"model": "m"})
    outcome = parse_text(TEXT, settings)
    assert outcome.path == "llm"
    (request,) = model.requests
    assert request["path"] == "/chat/completions"
    assert "Authorization" not in request["headers"]


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"host": "http://127.0.0.1:9/v1", "password": KEY, "extra": {}}, "names no model"),
        ({"password": KEY, "extra": {"model": "m"}}, "has no host"),
        (
            {"host": "http://127.0.0.1:9/v1", "password": KEY, "extra": {"model": "m", "timeout": 0}},
            "timeout",
        ),
    ],
)
def test_unusable_connection_falls_back_naming_the_problem(settings, monkeypatch, caplog, fields, reason):
    connect(monkeypatch, **fields)
    with caplog.at_level(logging.DEBUG):
        outcome = parse_text(TEXT, settings)
    assert outcome.path == "deterministic"
    assert reason in outcome.fallback_reason and LLM_CONN_ID in outcome.fallback_reason
    assert KEY not in outcome.fallback_reason
    assert all(KEY not in record.getMessage() for record in caplog.records)


def test_the_hook_names_its_connection_and_only_stores_it(monkeypatch):
    assert LLM_CONN_ID == "edge_intent_llm"
    assert (LlmHook.conn_name_attr, LlmHook.conn_type) == ("llm_conn_id", "http")
    assert LlmHook.hook_name
    monkeypatch.delenv(ENV, raising=False)
    with mock.patch.object(LlmHook, "get_connection", wraps=LlmHook.get_connection) as lookup:
        hook = LlmHook("another_llm")
        assert hook.llm_conn_id == "another_llm"
        lookup.assert_not_called()
        assert hook.get_conn() is None  # read only when asked; absent means no model
        lookup.assert_called_once_with("another_llm")


def test_failing_model_falls_back_without_showing_the_key(settings, model, monkeypatch, caplog):
    model.reply = Reply(b'{"error": "unauthorized"}', status=401)
    connect(monkeypatch, host=model.base_url, password=KEY, extra={"model": "m", "timeout": 2})
    with caplog.at_level(logging.DEBUG):
        outcome = parse_text(TEXT, settings)
    assert outcome.path == "deterministic" and "HTTP 401" in outcome.fallback_reason
    assert any("HTTP 401" in record.getMessage() for record in caplog.records)
    assert all(KEY not in record.getMessage() for record in caplog.records)
