"""The watcher's word on a run that went through: Succeeded only when every target was met, and a
Degraded or Unverified run noted where the grid shows it. The boundary is the REST hook (its
effect on a real api-server is checked in ``tests/test_progressive_api.py``)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from edge_intent import pipeline
from edge_intent.hooks.airflow_api import AirflowApiHook
from include.airflow_rest import AirflowRestError
from include.lifecycle import REPORT, ROLLOUT

MISSED = {
    "state": "Degraded",
    "missed": ["reliability at edge1: measured 99.87 %, target >= 99.999 %; 9 of 16 evaluations missed it"],
    "notVerifiable": [],
}
UNSHOWN = {"state": "Unverified", "missed": [], "notVerifiable": ["maxNumberofUEs at edge1: not verifiable"]}
MET = {"state": "Fulfilled", "missed": [], "notVerifiable": []}


class TaskInstance(SimpleNamespace):
    def xcom_pull(self, task_ids, key="return_value"):
        return self.xcoms.get(task_ids)


@pytest.fixture
def notes(monkeypatch):
    written = []

    def note(self, dag_id, run_id, text):
        if isinstance(written, list) and written[:1] == ["refuse"]:
            raise AirflowRestError(403, "forbidden")
        written.append((dag_id, run_id, text))
        return {}

    monkeypatch.setattr(AirflowApiHook, "set_dag_run_note", note)
    monkeypatch.setattr(
        AirflowApiHook, "get_dag_run", lambda self, dag_id, run_id: {"note": EXISTING.get(run_id)}
    )
    return written


EXISTING: dict[str, str] = {}
"""The runs' notes as the api-server has them (the webhook may have noted alerts first)."""


def run(fulfilment, failures=0):
    return TaskInstance(
        dag_id="intent_pipeline",
        run_id="manual__1",
        xcoms={REPORT: {"fulfilment": fulfilment}, ROLLOUT: {"failures": failures}},
    )


@pytest.mark.parametrize(
    ("fulfilment", "start", "words"),
    [
        (MISSED, "Degraded", "measured 99.87 %"),
        (UNSHOWN, "Unverified", "maxNumberofUEs at edge1: not verifiable"),
    ],
)
def test_a_run_not_plainly_succeeded_says_so_and_is_noted(notes, fulfilment, start, words):
    said = pipeline.watch(run(fulfilment), dry_run=False)
    assert said.startswith(start) and words in said and "Succeeded" not in said
    assert notes == [("intent_pipeline", "manual__1", said)]


def test_every_target_met_is_succeeded_and_needs_no_note(notes):
    assert pipeline.watch(run(MET), dry_run=False) == "Succeeded: every target of the intent met"
    said = pipeline.watch(run(MET, failures=1), dry_run=False)
    assert said.startswith("Succeeded") and "1 failed site(s) reverted alone" in said
    assert notes == []


def test_a_note_the_api_refuses_does_not_fail_the_run(notes):
    notes.append("refuse")
    assert pipeline.watch(run(MISSED), dry_run=False).startswith("Degraded")


def test_the_note_keeps_the_alerts_the_webhook_noted(notes, monkeypatch):
    block = "Alerts (Alertmanager):\n- edge1: alert SliceErrorRateHigh firing since 2026-12-02T03:00:00Z"
    monkeypatch.setitem(EXISTING, "manual__1", f"Approved.\n\n{block}")
    said = pipeline.watch(run(MISSED), dry_run=False)
    assert notes == [("intent_pipeline", "manual__1", f"{said}\n\n{block}")]
