"""``/tmf-api/intentManagement/v5``: the TMF921 v5 facade over the intent pipeline.

``POST/GET /intent``, ``GET/DELETE /intent/{id}`` (DELETE starts an ``intent_withdraw`` run: revert
commits at every site, with evidence), ``GET /intent/{id}/intentReport``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from airflow.api_fastapi.common.db.common import SessionDep
from airflow.api_fastapi.core_api.security import GetUserDep
from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse

from edge_intent.api import records, rollout_view, runs
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
    rollout = rollout_view.view(latest) if latest.dag_id == Dag.PIPELINE else None
    characteristic = [c for c in document.get("characteristic") or [] if c.get("name") != ROLLOUT]
    if rollout:  # the run's rollout record, as TMF921 carries any extra value: an ObjectCharacteristic
        characteristic.append(
            {"@type": "ObjectCharacteristic", "name": ROLLOUT, "valueType": "object", "value": rollout}
        )
    if characteristic:
        document = {**document, "characteristic": characteristic}
    return {
        **{k: v for k, v in document.items() if k not in ("href", "lifecycleStatus")},
        "id": intent_id,
        "href": f"{base}/intent/{intent_id}",
        "lifecycleStatus": current.phase,
        "creationDate": records.iso(found[0].created),
        "lastUpdate": records.iso(changed),
        "statusChangeDate": records.iso(changed),
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
    fields: Annotated[str | None, Query(max_length=512)] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
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
    fields: Annotated[str | None, Query(max_length=512)] = None,
) -> dict[str, Any]:
    """TMF921 retrieve."""
    return _fields(_resource(intent_id, runs.runs_or_404(session, intent_id), runs.root(request)), fields)


@tmf_app.delete("/intent/{intent_id}", status_code=202, dependencies=[Depends(may_trigger_withdraw)])
def delete_intent(intent_id: str, request: Request, user: GetUserDep, session: SessionDep) -> JSONResponse:
    """TMF921 delete: start an ``intent_withdraw`` run that reverts the intent's commits at every site.

    Answers ``202 Accepted`` (the withdrawal is asynchronous) with the run id; the intent's
    ``lifecycleStatus`` is ``Withdrawing`` and then ``Withdrawn``.
    """
    runs.runs_or_404(session, intent_id)
    runs.refuse_if_running(session, intent_id)
    conf = {"intent_id": intent_id, "reason": f"TMF921 DELETE by {user.get_name()}"}
    run_id = runs.start(Dag.WITHDRAW, intent_id, conf, user=user, session=session, request=request)
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


@tmf_app.get("/intent/{intent_id}/intentReport")
def list_intent_reports(intent_id: str, request: Request, session: SessionDep) -> list[dict[str, Any]]:
    """TMF921 IntentReports of the intent, newest first (one per run that reached Succeeded)."""
    reports = []
    for record in reversed(runs.runs_or_404(session, intent_id)):
        report = record.xcom(lifecycle.REPORT) if record.dag_id == Dag.PIPELINE else None
        if report:
            document = report["intentReport"]
            href = f"{runs.root(request)}/intent/{intent_id}/intentReport/{document.get('id')}"
            rollout = record.xcom(lifecycle.ROLLOUT)
            reports.append({**document, "href": href, **({"rollout": rollout} if rollout else {})})
    return reports
