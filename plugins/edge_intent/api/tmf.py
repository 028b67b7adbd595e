"""``/tmf-api/intentManagement/v5``: the TMF921 v5 facade over the intent pipeline.

``POST/GET /intent``, ``GET/DELETE /intent/{id}`` (DELETE starts an ``intent_withdraw`` run: revert
commits at every site, with evidence; it is idempotent), ``GET /intent/{id}/intentReport`` and
``GET /intent/{id}/intentReport/{reportId}``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from airflow.api_fastapi.common.db.common import SessionDep
from airflow.api_fastapi.core_api.security import GetUserDep
from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BeforeValidator

from edge_intent.api import assurance, records, rollout_view, runs
from edge_intent.api.errors import ApiError, install_error_handlers
from edge_intent.api.limits import (
    Body,
    decode_json,
    may_trigger_pipeline,
    may_trigger_withdraw,
    media_type,
    rate_limited,
)
from include import lifecycle
from include.lifecycle import Dag, Phase

ROLLOUT = "rollout"  # the characteristic that carries the run's rollout record
FULFILMENT = "fulfilment"  # the characteristic that carries what the report says of the targets
_WHOLE = re.compile(r"-?[0-9]{1,18}")


def _whole(value: object) -> object:
    """A query integer written as one (``0.0``, ``1e3`` or ``+1`` are refused, not read as numbers)."""
    if isinstance(value, str) and not _WHOLE.fullmatch(value):
        raise ValueError("must be a whole number of at most 18 digits")
    return value


Fields = Annotated[str | None, Query(max_length=512)]
Offset = Annotated[int, BeforeValidator(_whole), Query(ge=0)]
Limit = Annotated[int, BeforeValidator(_whole), Query(ge=1, le=1000)]

tmf_app = FastAPI(
    title="edge-intent: TMF921 Intent Management API v5",
    description="TMF921 v5 intents, reports and withdrawal over the intent pipeline.",
    dependencies=[Depends(may_trigger_pipeline), Depends(rate_limited)],
)
install_error_handlers(tmf_app, statuses={422: 400, 415: 400})  # TMF921 v5 documents 400 for bad input


def _resource(intent_id: str, found: list[records.RunRecord], base: str) -> dict[str, Any]:
    """The TMF921 Intent of ``intent_id`` as the latest pipeline run recorded it, with its status."""
    pipeline_runs = [r for r in found if r.dag_id == Dag.PIPELINE] or found
    latest, current = pipeline_runs[-1], found[-1]
    recorded = latest.xcom(lifecycle.VALIDATE)
    conf_intent = latest.conf.get("intent")
    document = recorded or (
        conf_intent if isinstance(conf_intent, dict) else {"name": str(conf_intent)[:256]}
    )
    changed = current.ended or current.started or current.created
    withdrawal = records.withdrawn(found)
    status_changed = (withdrawal.ended or withdrawal.started) if withdrawal else changed
    rollout = rollout_view.view(latest) if latest.dag_id == Dag.PIPELINE else None
    held = assurance.current(intent_id, latest)  # said anew with the alerts firing then
    fulfilment = held["fulfilment"] if held else (latest.xcom(lifecycle.REPORT) or {}).get("fulfilment")
    carried = {ROLLOUT: rollout, FULFILMENT: fulfilment}
    characteristic = [c for c in document.get("characteristic") or [] if c.get("name") not in carried]
    for name, value in carried.items():
        if value:  # the run's own records, as TMF921 carries any extra value: ObjectCharacteristics
            characteristic.append(
                {"@type": "ObjectCharacteristic", "name": name, "valueType": "object", "value": value}
            )
    if characteristic:
        document = {**document, "characteristic": characteristic}
    return {
        **{k: v for k, v in document.items() if k not in ("href", "lifecycleStatus")},
        "id": intent_id,
        "href": f"{base}/intent/{intent_id}",
        "lifecycleStatus": assurance.phase(found, latest, intent_id),
        "creationDate": records.iso(found[0].created),
        "lastUpdate": records.iso(changed),
        "statusChangeDate": records.iso(status_changed or changed),
        "@type": "Intent",
    }


def _fields(resource: dict[str, Any], fields: str | None) -> dict[str, Any]:
    if not fields:
        return resource
    wanted = {f.strip() for f in fields.split(",") if f.strip()} | {"id", "href", "@type"}
    return {k: v for k, v in resource.items() if k in wanted}


@tmf_app.post("/intent", status_code=201)
def create_intent(raw: Body, request: Request, user: GetUserDep, session: SessionDep) -> JSONResponse:
    """TMF921 create: validate the Intent, start its pipeline run, answer with the Intent resource."""
    if media_type(request) != "application/json":
        raise ApiError.field(415, "unsupported media type", "Content-Type", "must be application/json")
    document = decode_json(raw)
    if not isinstance(document, dict):
        raise ApiError.field(400, "malformed request", "body", "must be a TMF921 Intent object")
    submitted = runs.read_submission(document)
    runs.refuse_if_running(session, submitted.intent_id)
    conf = {"intent": submitted.document, "sites": [], "dry_run": False, "slo_profile": runs.SLO_PROFILE}
    run_id = runs.start(Dag.PIPELINE, submitted.intent_id, conf, user=user, session=session, request=request)
    href = f"{runs.root(request)}/intent/{submitted.intent_id}"
    now = datetime.now(UTC).isoformat()
    resource = {
        **submitted.document,
        "href": href,
        "lifecycleStatus": Phase.PENDING,
        "creationDate": now,
        "lastUpdate": now,
        "statusChangeDate": now,
    }
    return JSONResponse(resource, 201, headers={"Location": href, "X-Run-Id": run_id})


@tmf_app.get("/intent")
def list_intents(
    request: Request,
    session: SessionDep,
    fields: Fields = None,
    offset: Offset = 0,
    limit: Limit = 100,
) -> JSONResponse:
    """TMF921 list, newest first, with ``X-Total-Count`` and ``X-Result-Count``."""
    intents = records.all_intents(session)
    ordered = sorted(intents.items(), key=lambda item: item[1][-1].created or datetime.min, reverse=True)
    page = ordered[offset : offset + limit]
    body = [_fields(_resource(i, found, runs.root(request)), fields) for i, found in page]
    return JSONResponse(
        body, 200, headers={"X-Total-Count": str(len(ordered)), "X-Result-Count": str(len(body))}
    )


@tmf_app.get("/intent/{intent_id}")
def get_intent(
    intent_id: str,
    request: Request,
    session: SessionDep,
    fields: Fields = None,
) -> dict[str, Any]:
    """TMF921 retrieve."""
    return _fields(_resource(intent_id, runs.runs_or_404(session, intent_id), runs.root(request)), fields)


@tmf_app.delete(
    "/intent/{intent_id}",
    status_code=202,
    dependencies=[Depends(may_trigger_withdraw)],
    responses={
        204: {"description": "Already withdrawn, or never delivered anywhere: nothing to withdraw"},
        409: {"description": "A pipeline run of the intent is in progress"},
    },
)
def delete_intent(intent_id: str, request: Request, user: GetUserDep, session: SessionDep) -> Response:
    """TMF921 delete: start an ``intent_withdraw`` run that reverts the intent's commits at every site.

    Answers ``202 Accepted`` (the withdrawal is asynchronous) with the run id; the intent's
    ``lifecycleStatus`` is ``Withdrawing`` and then ``Withdrawn``. Idempotent: while a withdrawal
    runs, ``202`` with that run; once withdrawn (or when nothing was ever delivered), ``204`` and
    no run; ``409`` while a pipeline run is in progress.
    """
    found = runs.runs_or_404(session, intent_id)
    active = next((r for r in reversed(found) if r.state in records.RUN_ACTIVE), None)
    if active is None or active.dag_id != Dag.WITHDRAW:
        runs.refuse(active)
        if records.withdrawn(found) or records.never_deployed(found):
            return Response(status_code=204)
        conf = {"intent_id": intent_id, "reason": f"TMF921 DELETE by {user.get_name()}"}
        run_id = runs.start(Dag.WITHDRAW, intent_id, conf, user=user, session=session, request=request)
    else:
        run_id = active.run_id
    href = f"{runs.root(request)}/intent/{intent_id}"
    return JSONResponse(
        {
            "id": intent_id,
            "href": href,
            "lifecycleStatus": Phase.WITHDRAWING,
            "dagId": Dag.WITHDRAW,
            "runId": run_id,
        },
        202,
        headers={"Location": href},
    )


def _reports(intent_id: str, found: list[records.RunRecord], base: str) -> list[dict[str, Any]]:
    """The intent's TMF921 IntentReports, newest first: one per pipeline run that went through, and
    one each time the alerts firing about it changed (:mod:`edge_intent.api.assurance`)."""
    reports = [
        {**document, "href": f"{base}/intent/{intent_id}/intentReport/{document.get('id')}"}
        for document in assurance.reports(intent_id)
    ]
    for record in found:
        report = record.xcom(lifecycle.REPORT) if record.dag_id == Dag.PIPELINE else None
        if isinstance(report, dict) and isinstance(report.get("intentReport"), dict):
            document = report["intentReport"]
            href = f"{base}/intent/{intent_id}/intentReport/{document.get('id')}"
            rollout = record.xcom(lifecycle.ROLLOUT)
            reports.append({**document, "href": href, **({"rollout": rollout} if rollout else {})})
    return sorted(reports, key=lambda r: str(r.get("creationDate")), reverse=True)


@tmf_app.get("/intent/{intent_id}/intentReport")
def list_intent_reports(
    intent_id: str,
    request: Request,
    session: SessionDep,
    fields: Fields = None,
    offset: Offset = 0,
    limit: Limit = 100,
) -> JSONResponse:
    """TMF921 IntentReports of the intent, newest first, with ``X-Total-Count`` and ``X-Result-Count``."""
    reports = _reports(intent_id, runs.runs_or_404(session, intent_id), runs.root(request))
    body = [_fields(report, fields) for report in reports[offset : offset + limit]]
    return JSONResponse(
        body, 200, headers={"X-Total-Count": str(len(reports)), "X-Result-Count": str(len(body))}
    )


@tmf_app.get("/intent/{intent_id}/intentReport/{report_id}")
def get_intent_report(
    intent_id: str, report_id: str, request: Request, session: SessionDep, fields: Fields = None
) -> dict[str, Any]:
    """TMF921 IntentReport retrieve (the newest report of that id)."""
    reports = _reports(intent_id, runs.runs_or_404(session, intent_id), runs.root(request))
    for report in reports:
        if report.get("id") == report_id:
            return _fields(report, fields)
    raise ApiError.field(
        404, "intent report not found", "id", f"intent {intent_id!r} has no report {report_id[:100]!r}"
    )
