"""What both faces of the intent API do with runs: read a submitted intent, start a run, find runs.

A submitted intent is read by :func:`edge_intent.intake.read_intent`, the same intake the
pipeline's ``validate`` task uses. Runs start through Airflow's own trigger code, with a DAG bag made
on first use (importing the API parses nothing and reads no database).

Setting (environment of the api-server): ``EDGE_INTENT_API_SLO_PROFILE``, the SLO profile of runs
whose request names none (default ``default``; TMF921 creates cannot name one).
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from fastapi import Request

from edge_intent.api import records
from edge_intent.api.errors import ApiError, invalid
from edge_intent.intake import read_intent
from include.compiler.errors import IntentValidationError
from include.compiler.tmf921 import INTENT_ID

log = logging.getLogger(__name__)

SLO_PROFILE = os.environ.get("EDGE_INTENT_API_SLO_PROFILE", "default")
_PROFILE = re.compile(r"[a-z0-9_-]{1,64}")
CONFIG_TTL = 30.0
"""Seconds the compiler settings and SLO configuration are reused before they are read again."""
_config_cache: dict[str, tuple[float, Any]] = {}


def _cached(name: str, load: Callable[[], Any]) -> Any:
    now = time.monotonic()
    held = _config_cache.get(name)
    if held is None or now - held[0] > CONFIG_TTL:
        held = _config_cache[name] = (now, load())
    return held[1]


def settings() -> Any:
    from include.compiler.config import load_settings

    return _cached("settings", load_settings)


def slo_config() -> Any:
    from include.slo.definitions import load_config

    return _cached("slo", load_config)


@dataclass(frozen=True)
class Submission:
    """A submitted intent, read and validated.

    :param document: the TMF921 intent, with its id: what the run gets as its ``intent`` param.
    :param intent_id: the intent's id.
    :param parser: how it was read (``path``, and ``fallbackReason`` and ``model`` when they apply).
    :param rollout: the rollout plan (the strategy resolved into waves over the intent's sites).
    """

    document: dict[str, Any]
    intent_id: str
    parser: dict[str, str]
    rollout: dict[str, Any] | None = None


def read_submission(
    intent: str | dict[str, Any],
    sites: list[str] | None = None,
    slo_profile: str = SLO_PROFILE,
    strategy: dict[str, Any] | None = None,
) -> Submission:
    """Read a submitted intent as the pipeline's ``validate`` does; refuse it with a 422 ApiError."""
    profiles = slo_config().profiles
    if not _PROFILE.fullmatch(slo_profile) or slo_profile not in profiles:
        known = ", ".join(sorted(profiles))
        raise ApiError.field(
            422, "invalid intent", "slo_profile", f"unknown profile; known profiles are {known}"
        )
    try:
        intake = read_intent(intent, sites, settings=settings(), strategy=strategy)
    except IntentValidationError as exc:
        raise invalid(exc) from None
    plan = intake.rollout.to_json() if intake.rollout else None
    return Submission(intake.document, intake.intent_id, intake.parser, plan)


@cache
def dag_bag() -> Any:
    """Airflow's DAG bag of the api-server (serialized DAGs from the DB), made on first use."""
    from airflow.api_fastapi.common.dagbag import create_dag_bag

    return create_dag_bag()


def start(
    dag_id: str, intent_id: str, conf: dict[str, Any], *, user: Any, session: Any, request: Request
) -> str:
    """Start a run through Airflow's own trigger code (param validation, run record, audit)."""
    from airflow.api_fastapi.core_api.datamodels.dag_run import TriggerDAGRunPostBody
    from airflow.api_fastapi.core_api.routes.public.dag_run import trigger_dag_run
    from fastapi import HTTPException

    run_id = records.run_id_for(intent_id, datetime.now(UTC))
    body = TriggerDAGRunPostBody(dag_run_id=run_id, logical_date=None, conf=conf)
    try:
        run = trigger_dag_run(
            dag_id=dag_id, body=body, dag_bag=dag_bag(), user=user, session=session, request=request
        )
    except HTTPException as exc:
        raise ApiError(
            exc.status_code, "cannot start the run", [{"field": dag_id, "reason": str(exc.detail)}]
        ) from None
    log.info("Started %s run %s for intent %s (by %s)", dag_id, run.run_id, intent_id, user.get_name())
    return run.run_id


def refuse_if_running(session: Any, intent_id: str) -> None:
    """409 when a run about the intent is queued or running."""
    refuse(records.active_run(session, intent_id))


def refuse(active: records.RunRecord | None) -> None:
    """409 naming ``active``, a queued or running run about the intent (nothing when None)."""
    if active is not None:
        raise ApiError(
            409,
            "intent already in progress",
            [{"field": "intent", "reason": f"run {active.run_id} of {active.dag_id} is {active.state}"}],
            extra={"runId": active.run_id, "phase": active.phase},
        )


def check_id(intent_id: str) -> str:
    if not INTENT_ID.fullmatch(intent_id):
        raise ApiError.field(
            422,
            "invalid intent id",
            "id",
            "must be a DNS-1123 label of 1 to 50 characters (lowercase letters, digits, '-')",
        )
    return intent_id


def runs_or_404(session: Any, intent_id: str) -> list[records.RunRecord]:
    """Every run of the intent, oldest first; 422 for a malformed id, 404 when none is recorded."""
    found = records.runs_of(session, check_id(intent_id))
    if not found:
        raise ApiError.field(404, "intent not found", "id", f"no run of intent {intent_id!r} is recorded")
    return found


def root(request: Request) -> str:
    """The path the app is mounted at."""
    return str(request.scope.get("root_path", "")).rstrip("/")
