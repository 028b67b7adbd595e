"""Schema-based fuzzing of the TMF921 facade against the official TMF921 v5.0.0 OpenAPI.

Schemathesis generates requests (valid and invalid) for every operation the facade serves and checks
each answer: no server error, a documented status, a body and headers conforming to the OAS. The
facade runs in process (see ``tmf_inprocess``); a few intents are on record so that reads find
something, and a generated id is often swapped for one of theirs.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Iterator
from functools import cache
from typing import Any

import hypothesis
import pytest
import schemathesis
import yaml
from schemathesis import GenerationMode
from schemathesis.openapi.checks import AllowHeaderMismatch
from schemathesis.specs.openapi.checks import ignored_auth, positive_data_acceptance, use_after_free
from tmf_inprocess import DELIVERED, Store, app, report_of, serving

from edge_intent.api.records import RunRecord
from include import lifecycle
from include.compiler import api as compiler
from include.compiler.config import PROJECT_ROOT, load_settings
from include.lifecycle import Dag, Key

OAS = PROJECT_ROOT / "standards" / "TMF921_Intent_Management_v5.0.0.oas.yaml"
OPERATIONS = [
    "listIntent",
    "createIntent",
    "retrieveIntent",
    "patchIntent",
    "deleteIntent",
    "listIntentIntentReport",
    "retrieveIntentIntentReport",
]
KNOWN = ("embb-edge1", "urllc-edge1", "mmtc-edge2")
BUDGET = 75.0
"""Seconds all operations may take together; cases after that return at once."""

NOT_SERVED = {
    "/intent/{id}": {"PATCH"},  # answered 405 (documented): an intent changes by a new submission
    "/intent/{intentId}/intentReport/{id}": {"DELETE"},  # not among the operations served
}
"""Methods the OAS documents that the facade does not serve, so its ``Allow`` rightly leaves out."""


def _by_discriminator(node: Any) -> Any:
    """The OAS with each ``oneOf`` that picks its branch by ``discriminator`` read as ``anyOf``.

    TMF921 chooses such a branch by ``@type``, and its branches overlap (an ``IntentRef`` is also a
    valid ``Intent``), so strict ``oneOf`` refuses every valid ``IntentRefOrValue``; JSON Schema has
    no discriminator (the ``tmf921_validator`` fixture reads the OAS the same way).
    """
    if isinstance(node, dict):
        return {
            ("anyOf" if key == "oneOf" and "discriminator" in node else key): _by_discriminator(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_by_discriminator(item) for item in node]
    return node


schema = schemathesis.openapi.from_dict(_by_discriminator(yaml.safe_load(OAS.read_text()))).include(
    operation_id=OPERATIONS
)
EXCLUDED = [
    # An Intent_FVO admits any expression, name or characteristic; the facade accepts only an intent
    # it can compile, and rightly refuses the others with 400 naming the field.
    positive_data_acceptance,
    # DELETE withdraws the intent (revert commits); the intent and its history stay readable, with
    # lifecycleStatus Withdrawn, by design.
    use_after_free,
    # Authentication and permission are Airflow's, overridden here (the running-stack tests check
    # 401 and 403 on every route).
    ignored_auth,
]
_clock: dict[str, float] = {}


@schema.hook
def filter_failure(_context: Any, failure: Any, case: Any, _response: Any) -> bool:
    """Keep every failure but an ``Allow`` that leaves out only methods the facade does not serve."""
    if not isinstance(failure, AllowHeaderMismatch) or failure.undocumented_methods:
        return True
    return not set(failure.missing_methods) <= NOT_SERVED.get(case.operation.path, set())


@schema.hook
def map_path_parameters(_context: Any, path_parameters: dict[str, Any] | None) -> dict[str, Any] | None:
    """Swap a third of the generated ids for a known intent's (or its report's) id."""
    if not path_parameters:
        return path_parameters
    mapped = dict(path_parameters)
    for name, value in path_parameters.items():
        if isinstance(value, str) and zlib.crc32(value.encode()) % 3 == 0:
            known = KNOWN[zlib.crc32(value.encode()) % len(KNOWN)]
            is_report = name == "id" and "intentId" in path_parameters
            mapped[name] = f"{known}-report" if is_report else known
    return mapped


@schema.hook
def map_case(_context: Any, case: Any) -> Any:
    """Swap a third of the valid Intents generated to create for one the facade can compile (an
    invalid request is left as generated: it must be refused)."""
    meta = case.meta
    if case.method.upper() != "POST" or not isinstance(case.body, dict) or meta is None:
        return case
    if any(c.mode != GenerationMode.POSITIVE for c in meta.components.values()):
        return case
    if zlib.crc32(repr(sorted(case.body, key=str)).encode()) % 3 == 0:
        compiled = _compiled("eMBB slice with 300 Mbps downlink at edge2")
        case.body = {k: v for k, v in compiled.items() if k != "id"}
    return case


@cache
def _compiled(text: str) -> dict[str, Any]:
    return compiler.parse(text, load_settings()).to_json()


def _seed(held: Store) -> None:
    """Three intents on record: succeeded with a report, withdrawn, and refused by validate."""
    for intent_id in KNOWN:
        text = {
            "embb-edge1": "eMBB slice with 200 Mbps downlink at edge1",
            "mmtc-edge2": "mMTC slice for 5000 devices at edge2",
        }.get(intent_id, "URLLC slice with 5 ms latency at edge1")
        document = {**_compiled(text), "id": intent_id}
        xcoms = {(lifecycle.VALIDATE, Key.RETURN): document}
        tasks = dict(DELIVERED)
        state = "success"
        if intent_id == "mmtc-edge2":
            xcoms, tasks, state = {}, {lifecycle.VALIDATE: "failed"}, "failed"
        else:
            xcoms[(lifecycle.REPORT, Key.RETURN)] = report_of(intent_id)
        run = RunRecord(Dag.PIPELINE, f"manual__{intent_id}", state, tasks=tasks, xcoms=xcoms)
        run.conf = {"intent": text}
        held.add(intent_id, run)
    withdrawal = RunRecord(Dag.WITHDRAW, "manual__w", "success", conf={"intent_id": "urllc-edge1"})
    held.add("urllc-edge1", withdrawal)


@pytest.fixture
def fuzz_app(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with serving(monkeypatch) as store:
        _seed(store)
        yield app()


@schema.parametrize()
@hypothesis.settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    # the store is set up once per operation (its runs carry over between examples, as in a server)
    suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture, hypothesis.HealthCheck.too_slow],
)
def test_the_facade_conforms_to_the_tmf921_oas(case, fuzz_app):
    started = _clock.setdefault("started", time.monotonic())
    if time.monotonic() - started > BUDGET:
        return
    response = case.call_and_validate(app=fuzz_app, excluded_checks=EXCLUDED)
    assert response.status_code < 500, response.text
