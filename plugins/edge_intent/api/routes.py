"""``/api/intent``: the intent API in this project's own shape.

* ``POST /api/intent``: natural-language text or a TMF921 intent; validated before anything runs;
  starts an ``intent_pipeline`` run; ``202`` with the intent id, the run id and a status URL;
* ``GET /api/intent/{id}``: the intent's phase by name, each site's commit and sync state, the SLO
  verdict, links to the intent report or the rollback evidence;
* ``GET /api/intent/{id}/evidence`` and ``GET /api/intent/{id}/report``.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from airflow.api_fastapi.common.db.common import SessionDep
from airflow.api_fastapi.core_api.security import GetUserDep
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from edge_intent.api import assurance, records, rollout_view, runs
from edge_intent.api.errors import ApiError, error_body, install_error_handlers, pydantic_error
from edge_intent.api.limits import Body, decode_json, may_trigger_pipeline, media_type, rate_limited
from include import lifecycle
from include.compiler.limits import MAX_SITES
from include.compiler.tmf921 import BASE_PATH
from include.lifecycle import Dag, Key, Phase

PREFIX = "/api/intent"
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class IntentRequest(BaseModel):
    """The body of ``POST /api/intent``; the same names as the pipeline DAG's params."""

    model_config = ConfigDict(extra="forbid", strict=True)

    intent: str | dict[str, Any]
    sites: list[str] = Field(default_factory=list, max_length=MAX_SITES)
    dry_run: bool = False
    slo_profile: str = runs.SLO_PROFILE
    rolloutStrategy: dict[str, Any] | None = None


intent_app = FastAPI(
    title="edge-intent: intent API",
    description=__doc__,
    dependencies=[Depends(may_trigger_pipeline), Depends(rate_limited)],
)
install_error_handlers(intent_app)


@intent_app.post("/", status_code=202)
def submit_intent(raw: Body, request: Request, user: GetUserDep, session: SessionDep) -> JSONResponse:
    """Validate an intent (NL text or TMF921) and start a pipeline run for it."""
    media = media_type(request)
    if media == "text/plain":
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ApiError.field(400, "malformed request", "body", "is not UTF-8 text") from None
        document: Any = {"intent": text}
    elif media == "application/json":
        document = decode_json(raw)
    else:
        raise ApiError.field(
            415, "unsupported media type", "Content-Type", "must be application/json or text/plain"
        )
    try:
        wanted = IntentRequest.model_validate(document)
    except ValidationError as exc:
        raise ApiError(422, "invalid request", [pydantic_error(e) for e in exc.errors()]) from None
    started = time.perf_counter()
    submitted = runs.read_submission(wanted.intent, wanted.sites, wanted.slo_profile, wanted.rolloutStrategy)
    validated = time.perf_counter()
    runs.refuse_if_running(session, submitted.intent_id)
    checked = time.perf_counter()
    conf = {
        "intent": submitted.document,
        "sites": [],
        "dry_run": wanted.dry_run,
        "slo_profile": wanted.slo_profile,
        "rollout_strategy": wanted.rolloutStrategy,
    }
    run_id = runs.start(Dag.PIPELINE, submitted.intent_id, conf, user=user, session=session, request=request)
    status_url = f"{runs.root(request)}/{submitted.intent_id}"
    timing = (
        f"validate;dur={(validated - started) * 1000:.1f}, active;dur={(checked - validated) * 1000:.1f}, "
        f"trigger;dur={(time.perf_counter() - checked) * 1000:.1f}"
    )
    return JSONResponse(
        {
            "intentId": submitted.intent_id,
            "name": submitted.document.get("name"),
            "dagId": Dag.PIPELINE,
            "runId": run_id,
            "phase": Phase.PENDING,
            "status": status_url,
            "parser": submitted.parser,
            "dryRun": wanted.dry_run,
            "sloProfile": wanted.slo_profile,
            "rollout": submitted.rollout,
        },
        202,
        headers={"Location": status_url, "Server-Timing": timing},
    )


@intent_app.get("/{intent_id}")
def intent_status(intent_id: str, request: Request, session: SessionDep) -> dict[str, Any]:
    """The intent's phase, sites, SLO verdict and evidence."""
    return status(intent_id, runs.runs_or_404(session, intent_id), base=runs.root(request))


@intent_app.get("/{intent_id}/evidence")
def intent_evidence(intent_id: str, session: SessionDep) -> dict[str, Any]:
    """The evidence.json of the intent's latest rollback or withdrawal."""
    for record in reversed(runs.runs_or_404(session, intent_id)):
        written = _evidence(record)
        if written:
            path = Path(written.get("path") or written.get("evidence") or "")
            break
    else:
        raise ApiError.field(404, "no evidence", "id", f"intent {intent_id!r} has not been rolled back")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise ApiError.field(
            404,
            "evidence not readable here",
            "evidence",
            f"run {record.run_id} wrote it on its worker; this api-server cannot read it",
        ) from None


@intent_app.get("/{intent_id}/report")
def intent_report(intent_id: str, session: SessionDep) -> dict[str, Any]:
    """The TMF921 IntentReport of the intent's latest Succeeded run, or the newest its alerts made of it."""
    for record in reversed(runs.runs_or_404(session, intent_id)):
        if record.dag_id == Dag.PIPELINE and record.xcom(lifecycle.REPORT):
            held = assurance.current(intent_id, record)
            return held["intentReport"] if held else record.xcom(lifecycle.REPORT)["intentReport"]
    raise ApiError.field(404, "no report", "id", f"intent {intent_id!r} has not reached Succeeded")


# -- the status body ------------------------------------------------------------------------------


def _evidence(record: records.RunRecord) -> dict[str, Any] | None:
    """What the run's evidence task recorded (a withdrawal's summary even when it failed)."""
    if record.dag_id == Dag.PIPELINE:
        return record.xcom(lifecycle.ROLLBACK_EVIDENCE)
    return record.xcom(lifecycle.WITHDRAW_EVIDENCE) or record.xcom(lifecycle.WITHDRAW_EVIDENCE, Key.SUMMARY)


def status(intent_id: str, found: list[records.RunRecord], *, base: str) -> dict[str, Any]:
    """The intent's current state: its latest pipeline run's phase, each site's commit and sync
    state, the SLO verdict, the report or evidence, and a withdrawal if one came after."""
    pipeline_runs = [r for r in found if r.dag_id == Dag.PIPELINE]
    latest = pipeline_runs[-1] if pipeline_runs else None
    current = found[-1]
    body: dict[str, Any] = {
        "intentId": intent_id,
        "phase": assurance.phase(found, latest, intent_id),
        "href": f"{base}/{intent_id}",
        "run": current.summary(),
        "runs": [r.summary() for r in found],
    }
    if latest is None:
        return body
    conf_intent = latest.conf.get("intent")
    tmf = latest.xcom(lifecycle.VALIDATE) or (conf_intent if isinstance(conf_intent, dict) else None)
    if tmf:
        body["name"] = tmf.get("name")
    body["dryRun"] = bool(latest.conf.get("dry_run"))
    errors = latest.xcom(lifecycle.VALIDATE, Key.ERRORS)
    if errors:
        body["errors"] = errors.get("errors", errors)
    rollout = rollout_view.view(latest)
    body["sites"] = rollout_view.sites(rollout)
    verdicts = {site: o["slo"] for site, o in body["sites"].items() if o.get("slo")}
    if verdicts:
        failed = {site: v for site, v in verdicts.items() if v.get("result") != "pass"}
        body["slo"] = {
            "result": "breach" if failed else "pass",
            "trigger": next((v.get("trigger") for v in failed.values()), None),
            "sites": verdicts,
            "slos": {site: o["slos"] for site, o in body["sites"].items() if o.get("slos")},
        }
    if rollout:
        body["rollout"] = rollout
    evidence = _evidence(latest)
    if evidence:
        body["evidence"] = {
            "href": f"{base}/{intent_id}/evidence",
            "runId": latest.run_id,
            "sha256": evidence.get("sha256"),
            "result": evidence.get("result"),
            "trigger": evidence.get("trigger"),
        }
    alerts = _alerts(intent_id)
    if alerts:  # what Alertmanager delivered about it (POST /api/intent/alerts), firing first
        body["alerts"] = alerts
    reported = latest.xcom(lifecycle.REPORT)
    if reported:
        body["intentReport"] = {"href": f"{base}/{intent_id}/report", "runId": latest.run_id}
        if reported.get("fulfilment"):  # Fulfilled, Degraded or Unverified, and the lines behind it
            body["fulfilment"] = reported["fulfilment"]
        held = assurance.current(intent_id, latest)
        if held:  # said anew since, with the alerts firing then
            body["fulfilment"] = held["fulfilment"]
    # the withdrawal that withdrew the intent, else the latest run when it is a withdrawal
    withdrawal = records.withdrawn(found) or (current if current.dag_id == Dag.WITHDRAW else None)
    if withdrawal is not None:
        written = _evidence(withdrawal) or {}
        body["withdrawal"] = {**withdrawal.summary(), "result": written.get("result")}
        if written.get("path") or written.get("evidence"):
            body["evidence"] = {
                "href": f"{base}/{intent_id}/evidence",
                "runId": withdrawal.run_id,
                "sha256": written.get("sha256"),
                "result": written.get("result"),
                "trigger": written.get("trigger") or "withdrawn",
            }
    return body


def _alerts(intent_id: str) -> list[dict[str, Any]]:
    from edge_intent.rollout.evidence import evidence_dir
    from include.evidence.alerts import of_intent

    return of_intent(evidence_dir(), intent_id)


# -- mounting -------------------------------------------------------------------------------------


class TrailingSlash:
    """Root middleware: ``POST /api/intent`` reaches the app mounted at ``/api/intent``, and
    ``POST /api/intent/alerts`` the webhook's (a mount only matches the paths under it: the intent
    API's own routes, or the UI's catch-all, would answer 405).

    :param app: the ASGI app it wraps.
    """

    MOUNTS = (PREFIX, f"{PREFIX}/alerts")

    def __init__(self, app: Callable[..., Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") == "http":
            root = str(scope.get("root_path", "")).rstrip("/")
            if scope.get("path") in (*self.MOUNTS, *(f"{root}{m}" for m in self.MOUNTS)):
                scope = {**scope, "path": scope["path"] + "/", "raw_path": (scope["path"] + "/").encode()}
        await self.app(scope, receive, send)


class ApiPaths:
    """Root middleware: a path under ``/api/intent`` or the TMF921 base path that no route can match
    gets a TMF921 ``Error`` (404) rather than the server's own 404 shape or its UI page.

    Such paths contain a control character (routing does not match them whole: its ``.`` and ``$``
    stop at a newline) or are the TMF921 base path itself, with no resource after it.

    :param app: the ASGI app it wraps.
    """

    def __init__(self, app: Callable[..., Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        why = unroutable(scope) if scope.get("type") == "http" else None
        if why is None:
            await self.app(scope, receive, send)
            return
        body = error_body(404, "not found", [{"field": "path", "reason": why}])
        await JSONResponse(body, 404)(scope, receive, send)


def unroutable(scope: dict[str, Any]) -> str | None:
    """Why the request's path, under one of the APIs, matches no route (None when it may)."""
    path = str(scope.get("path", ""))
    root = str(scope.get("root_path", "")).rstrip("/")
    if root and (path == root or path.startswith(f"{root}/")):
        path = path[len(root) :]
    if not any(_under(path, base) for base in (PREFIX, BASE_PATH)):
        return None
    if CONTROL.search(path):
        return "contains a control character"
    if path == BASE_PATH:
        return f"names no resource: the TMF921 resources are under {BASE_PATH}/"
    return None


def _under(path: str, base: str) -> bool:
    rest = path[len(base) :] if path.startswith(base) else None
    return rest is not None and (not rest or rest[0] == "/" or bool(CONTROL.match(rest[0])))
