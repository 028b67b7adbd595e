"""The TMF921 facade served in process, with no Airflow server.

The boundary is Airflow itself: its authentication, permission and rate-limit dependencies, its
user and DB session, starting a run and reading run records are replaced by an in-memory
:class:`Store` of :class:`~edge_intent.api.records.RunRecord`. Everything else (routing, the
``ApiPaths`` middleware, reading a submitted intent, phases, resources, reports and errors) is the
facade's own code.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from airflow.api_fastapi.common.db.common import _get_session
from airflow.api_fastapi.core_api.security import get_user
from starlette.applications import Starlette
from starlette.routing import Mount

from edge_intent.api import limits, records, runs
from edge_intent.api.records import RunRecord
from edge_intent.api.routes import ApiPaths
from edge_intent.api.tmf import tmf_app
from include import lifecycle
from include.compiler.tmf921 import BASE_PATH
from include.lifecycle import Dag, Key

DELIVERED = {
    lifecycle.VALIDATE: "success",
    lifecycle.wave_task(1, lifecycle.DELIVER): "success",
    lifecycle.REPORT: "success",
}
EPOCH = datetime(2026, 12, 1, tzinfo=UTC)


class User:
    def get_name(self) -> str:
        return "tester"


def report_of(intent_id: str) -> dict[str, Any]:
    """What a pipeline run's report task pushes: a TMF921 IntentReport, as the report task makes it."""
    report_id = f"{intent_id}-report"
    return {
        "path": "/reports/report.json",
        "intentReport": {
            "@type": "IntentReport",
            "id": report_id,
            "href": f"{BASE_PATH}/intent/{intent_id}/intentReport/{report_id}",
            "name": f"Fulfilment of intent {intent_id}",
            "creationDate": EPOCH.isoformat(),
            "intent": {
                "@type": "IntentRef",
                "id": intent_id,
                "href": f"{BASE_PATH}/intent/{intent_id}",
                "@referredType": "Intent",
            },
        },
    }


@dataclass
class Store:
    """Run records by intent id, oldest first; runs it starts finish at once unless ``finish`` is off.

    :param started: ``(dag id, intent id, conf)`` of every run started.
    """

    runs: dict[str, list[RunRecord]] = field(default_factory=dict)
    started: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    finish: bool = True

    def add(self, intent_id: str, record: RunRecord) -> RunRecord:
        found = self.runs.setdefault(intent_id, [])
        record.created = record.created or EPOCH + timedelta(minutes=len(self.started) + len(found))
        found.append(record)
        return record

    def start(self, dag_id: str, intent_id: str, conf: dict[str, Any], **_: Any) -> str:
        self.started.append((dag_id, intent_id, conf))
        run_id = f"{records.RUN_PREFIX}{intent_id}__{len(self.started):06d}"
        record = RunRecord(dag_id, run_id, "success" if self.finish else "queued", conf=conf)
        if dag_id == Dag.PIPELINE and self.finish:
            record.tasks = dict(DELIVERED)
            record.xcoms = {
                (lifecycle.VALIDATE, Key.RETURN): conf["intent"],
                (lifecycle.REPORT, Key.RETURN): report_of(intent_id),
            }
        self.add(intent_id, record)
        return run_id

    def runs_of(self, _session: Any, intent_id: str) -> list[RunRecord]:
        return list(self.runs.get(intent_id, []))

    def all_intents(self, _session: Any) -> dict[str, list[RunRecord]]:
        return {intent_id: list(found) for intent_id, found in self.runs.items()}

    def active_run(self, _session: Any, intent_id: str) -> RunRecord | None:
        active = [r for r in self.runs.get(intent_id, []) if r.state in records.RUN_ACTIVE]
        return active[-1] if active else None


def _no_session() -> Iterator[None]:
    yield None


OVERRIDES = {
    limits.may_trigger_pipeline: lambda: None,
    limits.may_trigger_withdraw: lambda: None,
    limits.rate_limited: lambda: None,
    get_user: User,
    _get_session: _no_session,
}


def app() -> ApiPaths:
    """The TMF921 app mounted at its base path behind the root middleware, as the api-server has it."""
    return ApiPaths(Starlette(routes=[Mount(BASE_PATH, tmf_app)]))


@contextmanager
def serving(monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    """An empty store the facade reads and starts runs in, with Airflow's dependencies overridden."""
    held = Store()
    monkeypatch.setattr(runs, "start", held.start)
    monkeypatch.setattr(records, "runs_of", held.runs_of)
    monkeypatch.setattr(records, "all_intents", held.all_intents)
    monkeypatch.setattr(records, "active_run", held.active_run)
    before = dict(tmf_app.dependency_overrides)
    tmf_app.dependency_overrides.update(OVERRIDES)
    try:
        yield held
    finally:
        tmf_app.dependency_overrides.clear()
        tmf_app.dependency_overrides.update(before)
