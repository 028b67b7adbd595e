"""A wave's approval keeps the answer its earlier try was given when Airflow retries it, and asks
again after a person clears it or when Airflow's REST API cannot say. The boundary is the REST hook
(its answer shaped as ``GET .../hitlDetails`` gives it before the new try asks), which needs a
running api-server; the answered-then-retried path on a real one is ``tests/test_progressive_api.py``."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from edge_intent.hooks.airflow_api import AirflowApiHook
from edge_intent.operators.approval import WaveApprovalOperator
from include.airflow_rest import AirflowRestError

ANSWERED_AT = datetime(2026, 12, 1, 15, 54, 10, tzinfo=UTC)
RUN = "intent__x__1"


@pytest.fixture
def operator():
    return WaveApprovalOperator(task_id="approve", wave=2, plan={}, retries=3)


@pytest.fixture
def stored(monkeypatch):
    """What the api-server answers for a try; ``stored.detail`` is set by each test."""
    holder = SimpleNamespace(detail=None, asked=[])

    def read(self, dag_id, run_id, task_id, *, map_index=-1):
        holder.asked.append((dag_id, run_id, task_id, map_index))
        if isinstance(holder.detail, Exception):
            raise holder.detail
        return holder.detail

    monkeypatch.setattr(AirflowApiHook, "hitl_detail", read)
    return holder


def ti(try_number: int, max_tries: int) -> SimpleNamespace:
    return SimpleNamespace(
        dag_id="intent_pipeline",
        task_id="wave_2.approve",
        map_index=-1,
        try_number=try_number,
        max_tries=max_tries,
    )


def answered(by: dict | None, options=("Reject",)) -> dict:
    return {
        "response_received": True,
        "responded_by_user": by,
        "responded_at": ANSWERED_AT.isoformat(),
        "chosen_options": list(options),
        "params_input": {},
    }


def earlier(operator, try_number: int, max_tries: int):
    return operator._answer_given_to_earlier_try(ti(try_number, max_tries), {"run_id": RUN})


def test_a_retry_takes_the_answer_its_earlier_try_was_given(operator, stored):
    stored.detail = answered({"id": "2", "name": "admin"})
    event = earlier(operator, try_number=2, max_tries=3)
    assert event == {
        "chosen_options": ["Reject"],
        "params_input": {},
        "responded_at": ANSWERED_AT,
        "responded_by_user": {"id": "2", "name": "admin"},
        "timedout": False,
    }
    assert stored.asked == [("intent_pipeline", RUN, "wave_2.approve", -1)]


def test_a_timeout_default_stays_a_timeout(operator, stored):
    stored.detail = answered(None)
    event = earlier(operator, try_number=3, max_tries=3)
    assert event["timedout"] is True and event["responded_by_user"] is None


def test_a_retry_never_answered_asks_again(operator, stored):
    stored.detail = {"response_received": False, "responded_at": None, "chosen_options": None}
    assert earlier(operator, try_number=2, max_tries=3) is None


@pytest.mark.parametrize(
    "failure",
    [AirflowRestError(404, "not found"), ValueError("connection airflow_api: no login")],
    ids=["the try asked nothing", "no usable connection"],
)
def test_when_the_api_cannot_say_a_person_is_asked_again(operator, stored, failure):
    stored.detail = failure
    assert earlier(operator, try_number=2, max_tries=3) is None


@pytest.mark.parametrize(
    ("try_number", "max_tries"),
    [(1, 3), (2, 4), (5, 7)],
    ids=["first try", "cleared after its first try", "cleared after retries"],
)
def test_a_first_try_or_a_cleared_task_asks_again(operator, stored, try_number, max_tries):
    stored.detail = answered({"id": "2", "name": "admin"})
    assert earlier(operator, try_number, max_tries) is None
    assert stored.asked == []  # not even read
