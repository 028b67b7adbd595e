"""The intent API, served by Airflow's api-server (registered by ``plugins/edge_intent_plugin.py``).

``/api/intent`` (this project's own shape):

* ``POST /api/intent``: natural-language text or a TMF921 intent; validated before anything runs;
  starts an ``intent_pipeline`` run; ``202`` with the intent id, the run id and a status URL;
* ``GET /api/intent/{id}``: the intent's phase by name, each site's commit and sync state, the SLO
  verdict, links to the intent report or the rollback evidence;
* ``GET /api/intent/{id}/evidence`` and ``GET /api/intent/{id}/report``.

``/tmf-api/intentManagement/v5`` (TMF921 v5): ``POST/GET /intent``, ``GET/DELETE /intent/{id}``
(DELETE starts an ``intent_withdraw`` run: revert commits at every site, with evidence),
``GET /intent/{id}/intentReport``.

Every route needs Airflow's own authentication (a JWT from ``/auth/token``, or the UI's cookie) and
permission to trigger ``intent_pipeline`` (a viewer gets 403); bodies are capped in size before they
are read; each user is rate-limited by a token bucket. Errors are TMF921 ``Error`` objects with the
field errors in ``errors``: nothing runs and nothing is committed for a refused request.

Settings (environment of the api-server): ``EDGE_INTENT_API_MAX_BODY`` (bytes, default 262144),
``EDGE_INTENT_API_RATE`` (requests per second per user, default 20) and ``EDGE_INTENT_API_BURST``
(default 40), per api-server worker process; ``EDGE_INTENT_API_SLO_PROFILE``, the SLO profile of
runs whose request names none (default ``default``; TMF921 creates cannot name one).
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
from airflow.api_fastapi.common.dagbag import create_dag_bag
from airflow.api_fastapi.common.db.common import SessionDep
from airflow.api_fastapi.core_api.security import GetUserDep, requires_access_dag
from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from edge_intent import records
from include.compiler.errors import IntentValidationError
from include.compiler.limits import MAX_SITES
from include.compiler.tmf921 import BASE_PATH, INTENT_ID

log = logging.getLogger(__name__)

PREFIX = "/api/intent"
MAX_BODY = int(os.environ.get("EDGE_INTENT_API_MAX_BODY", 262_144))
RATE = float(os.environ.get("EDGE_INTENT_API_RATE", 20))
BURST = int(os.environ.get("EDGE_INTENT_API_BURST", 40))
SLO_PROFILE = os.environ.get("EDGE_INTENT_API_SLO_PROFILE", "default")
_PROFILE = re.compile(r"^[a-z0-9_-]{1,64}$")


# -- errors ---------------------------------------------------------------------------------------


class ApiError(Exception):
    """A refused request: ``status``, a short ``reason`` and the field errors."""

    def __init__(
        self,
        status: int,
        reason: str,
        errors: list[dict[str, str]] | None = None,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(reason)
        self.status, self.reason, self.errors = status, reason, errors or []
        self.headers, self.extra = headers, extra or {}

    @classmethod
    def field(cls, status: int, reason: str, field: str, why: str) -> ApiError:
        return cls(status, reason, [{"field": field, "reason": why}])


def _error_body(status: int, reason: str, errors: list[dict[str, str]], **extra: Any) -> dict[str, Any]:
    message = "; ".join(f"{e['field']}: {e['reason']}" for e in errors) or reason
    return {
        "@type": "Error",
        "code": str(status),
        "reason": reason,
        "message": message,
        "status": str(status),
        "errors": errors,
        **extra,
    }


def _install_error_handlers(app: FastAPI) -> None:
    async def api_error(_request: Request, exc: Exception) -> JSONResponse:
        if not isinstance(exc, ApiError):  # pragma: no cover (registered for ApiError only)
            raise exc
        return JSONResponse(
            _error_body(exc.status, exc.reason, exc.errors, **exc.extra), exc.status, headers=exc.headers
        )

    async def http_error(_request: Request, exc: Exception) -> JSONResponse:
        if not isinstance(exc, StarletteHTTPException):  # pragma: no cover
            raise exc
        reason = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
        return JSONResponse(_error_body(exc.status_code, reason, []), exc.status_code, headers=exc.headers)

    async def request_error(_request: Request, exc: Exception) -> JSONResponse:
        if not isinstance(exc, RequestValidationError):  # pragma: no cover
            raise exc
        errors = [_pydantic_error(error, skip=1) for error in exc.errors()]
        return JSONResponse(_error_body(422, "invalid request", errors), 422)

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, request_error)


def _pydantic_error(error: Any, *, skip: int = 0) -> dict[str, str]:
    location = ".".join(str(part) for part in list(error.get("loc", ()))[skip:]) or "body"
    reason = "is not a known field" if error.get("type") == "extra_forbidden" else error.get("msg", "invalid")
    if error.get("type") == "missing":
        reason = "is required"
    return {"field": location, "reason": reason}


def _invalid(exc: IntentValidationError) -> ApiError:
    return ApiError(422, "invalid intent", [e.as_dict() for e in exc.errors], extra={"stage": exc.stage})


# -- authentication, rate and size limits ---------------------------------------------------------


class RateLimiter:
    """A token bucket per key: ``rate`` requests per second, bursts of up to ``burst``."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self.clock = rate, burst, clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """Spend one token of ``key``; 0 when allowed, else the seconds until one is available."""
        with self._lock:
            now = self.clock()
            tokens, last = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / self.rate if self.rate > 0 else 60.0


LIMITER = RateLimiter(RATE, BURST)

_may_trigger_pipeline = requires_access_dag("POST", DagAccessEntity.RUN, param_dag_id=records.PIPELINE)
_may_trigger_withdraw = requires_access_dag("POST", DagAccessEntity.RUN, param_dag_id=records.WITHDRAW)


def _rate_limited(user: GetUserDep) -> None:
    wait = LIMITER.take(user.get_name())
    if wait:
        raise ApiError(
            429,
            "rate limit exceeded",
            [{"field": "user", "reason": f"more than {RATE:g} requests per second (bursts of {BURST})"}],
            headers={"Retry-After": str(max(1, round(wait + 0.5)))},
        )


async def _body(request: Request) -> bytes:
    """The request body, refused with 413 as soon as it is known to exceed the limit."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise ApiError.field(400, "malformed request", "Content-Length", "is not a number")
        if int(declared) > MAX_BODY:
            raise ApiError.field(
                413, "payload too large", "body", f"is {int(declared)} bytes; the limit is {MAX_BODY}"
            )
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise ApiError.field(413, "payload too large", "body", f"exceeds the limit of {MAX_BODY} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


Body = Annotated[bytes, Depends(_body)]


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def _json(raw: bytes, field: str = "body") -> Any:
    from include.compiler.tmf921 import decode_json

    if not raw.strip():
        raise ApiError.field(400, "malformed request", field, "is empty")
    try:
        return decode_json(raw, field=field, stage="request")
    except IntentValidationError as exc:
        raise ApiError(400, "malformed request", [e.as_dict() for e in exc.errors]) from None


def _check_id(intent_id: str) -> str:
    if not INTENT_ID.match(intent_id):
        raise ApiError.field(
            422,
            "invalid intent id",
            "id",
            "must be a DNS-1123 label of 1 to 50 characters (lowercase letters, digits, '-')",
        )
    return intent_id


# -- starting runs --------------------------------------------------------------------------------


class IntentRequest(BaseModel):
    """The body of ``POST /api/intent``; the same names as the pipeline DAG's params."""

    model_config = ConfigDict(extra="forbid", strict=True)

    intent: str | dict[str, Any]
    sites: list[str] = Field(default_factory=list, max_length=MAX_SITES)
    dry_run: bool = False
    slo_profile: str = SLO_PROFILE


CONFIG_TTL = 30.0
"""Seconds the compiler settings and SLO configuration are reused before they are read again."""
_config_cache: dict[str, tuple[float, Any]] = {}


def _cached(name: str, load: Callable[[], Any]) -> Any:
    now = time.monotonic()
    held = _config_cache.get(name)
    if held is None or now - held[0] > CONFIG_TTL:
        held = _config_cache[name] = (now, load())
    return held[1]


def _settings():
    from include.compiler.config import load_settings

    return _cached("settings", load_settings)


def _slo_config():
    from include.slo.definitions import load_config

    return _cached("slo", load_config)


def _validated(request: IntentRequest) -> tuple[dict[str, Any], str, dict[str, Any]]:
    """The TMF921 intent (with its id), the intent id and how it was produced; raises ApiError."""
    from include.compiler import api

    settings = _settings()
    profiles = _slo_config().profiles
    if not _PROFILE.match(request.slo_profile) or request.slo_profile not in profiles:
        known = ", ".join(sorted(profiles))
        raise ApiError.field(
            422, "invalid intent", "slo_profile", f"unknown profile; known profiles are {known}"
        )
    try:
        if isinstance(request.intent, dict):
            if request.sites:
                raise IntentValidationError.single(
                    "sites",
                    "the site override applies to natural-language intents; a TMF921 intent names its "
                    "sites in its expression",
                    stage="parse",
                )
            tmf = api.load_intent(request.intent)
            parser = {"path": "tmf921"}
        else:
            from edge_intent.llm import parse_text

            outcome = parse_text(request.intent, settings, sites=request.sites or None)
            tmf = outcome.intent
            parser = {"path": outcome.path, "fallbackReason": outcome.fallback_reason, "model": outcome.model}
        intent = api.to_28312(tmf, settings)
    except IntentValidationError as exc:
        raise _invalid(exc) from None
    document = {**tmf.to_json(), "id": intent.id}
    return document, intent.id, {k: v for k, v in parser.items() if v is not None}


def _start(
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
            dag_id=dag_id, body=body, dag_bag=DAG_BAG, user=user, session=session, request=request
        )
    except HTTPException as exc:
        raise ApiError(
            exc.status_code, "cannot start the run", [{"field": dag_id, "reason": str(exc.detail)}]
        ) from None
    log.info("Started %s run %s for intent %s (by %s)", dag_id, run.run_id, intent_id, user.get_name())
    return run.run_id


def _refuse_if_running(session: Any, intent_id: str) -> None:
    active = records.active_run(session, intent_id)
    if active is not None:
        raise ApiError(
            409,
            "intent already in progress",
            [{"field": "intent", "reason": f"run {active.run_id} of {active.dag_id} is {active.state}"}],
            extra={"runId": active.run_id, "phase": active.phase},
        )


def _runs_or_404(session: Any, intent_id: str) -> list[records.RunRecord]:
    found = records.runs_of(session, _check_id(intent_id))
    if not found:
        raise ApiError.field(404, "intent not found", "id", f"no run of intent {intent_id!r} is recorded")
    return found


def _root(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")


# -- /api/intent ----------------------------------------------------------------------------------

DAG_BAG = create_dag_bag()

intent_app = FastAPI(
    title="edge-intent: intent API",
    description=__doc__,
    dependencies=[Depends(_may_trigger_pipeline), Depends(_rate_limited)],
)
_install_error_handlers(intent_app)


@intent_app.post("/", status_code=202)
def submit_intent(raw: Body, request: Request, user: GetUserDep, session: SessionDep) -> JSONResponse:
    """Validate an intent (NL text or TMF921) and start a pipeline run for it."""
    media = _media_type(request)
    if media == "text/plain":
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ApiError.field(400, "malformed request", "body", "is not UTF-8 text") from None
        document: Any = {"intent": text}
    elif media == "application/json":
        document = _json(raw)
    else:
        raise ApiError.field(
            415, "unsupported media type", "Content-Type", "must be application/json or text/plain"
        )
    try:
        wanted = IntentRequest.model_validate(document)
    except ValidationError as exc:
        raise ApiError(422, "invalid request", [_pydantic_error(e) for e in exc.errors()]) from None
    started = time.perf_counter()
    tmf, intent_id, parser = _validated(wanted)
    validated = time.perf_counter()
    _refuse_if_running(session, intent_id)
    checked = time.perf_counter()
    conf = {"intent": tmf, "sites": [], "dry_run": wanted.dry_run, "slo_profile": wanted.slo_profile}
    run_id = _start(records.PIPELINE, intent_id, conf, user=user, session=session, request=request)
    status_url = f"{_root(request)}/{intent_id}"
    timing = (
        f"validate;dur={(validated - started) * 1000:.1f}, active;dur={(checked - validated) * 1000:.1f}, "
        f"trigger;dur={(time.perf_counter() - checked) * 1000:.1f}"
    )
    return JSONResponse(
        {
            "intentId": intent_id,
            "name": tmf.get("name"),
            "dagId": records.PIPELINE,
            "runId": run_id,
            "phase": "Pending",
            "status": status_url,
            "parser": parser,
            "dryRun": wanted.dry_run,
            "sloProfile": wanted.slo_profile,
        },
        202,
        headers={"Location": status_url, "Server-Timing": timing},
    )


@intent_app.get("/{intent_id}")
def intent_status(intent_id: str, request: Request, session: SessionDep) -> dict[str, Any]:
    """The intent's phase, sites, SLO verdict and evidence."""
    found = _runs_or_404(session, intent_id)
    return records.status(intent_id, found, base=_root(request))


def _latest_with(found: list[records.RunRecord], task_id: str) -> records.RunRecord | None:
    for record in reversed(found):
        if record.dag_id == records.PIPELINE and record.xcom(task_id):
            return record
    return None


@intent_app.get("/{intent_id}/evidence")
def intent_evidence(intent_id: str, session: SessionDep) -> dict[str, Any]:
    """The evidence.json of the intent's latest rollback or withdrawal."""
    found = _runs_or_404(session, intent_id)
    for record in reversed(found):
        written = record.xcom("rollback.evidence" if record.dag_id == records.PIPELINE else "evidence")
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
    """The TMF921 IntentReport of the intent's latest Succeeded run."""
    found = _runs_or_404(session, intent_id)
    record = _latest_with(found, "report")
    if record is None:
        raise ApiError.field(404, "no report", "id", f"intent {intent_id!r} has not reached Succeeded")
    return record.xcom("report")["intentReport"]


# -- TMF921 v5 ------------------------------------------------------------------------------------

tmf_app = FastAPI(
    title="edge-intent: TMF921 Intent Management API v5",
    description="TMF921 v5 intents, reports and withdrawal over the intent pipeline.",
    dependencies=[Depends(_may_trigger_pipeline), Depends(_rate_limited)],
)
_install_error_handlers(tmf_app)


def _resource(intent_id: str, found: list[records.RunRecord], base: str) -> dict[str, Any]:
    """The TMF921 Intent of ``intent_id`` as the latest pipeline run recorded it, with its status."""
    pipeline_runs = [r for r in found if r.dag_id == records.PIPELINE] or found
    latest, current = pipeline_runs[-1], found[-1]
    recorded = latest.xcom("validate")
    conf_intent = latest.conf.get("intent")
    document = recorded or (
        conf_intent if isinstance(conf_intent, dict) else {"name": str(conf_intent)[:256]}
    )
    changed = current.ended or current.started or current.created
    return {
        **{k: v for k, v in document.items() if k not in ("href", "lifecycleStatus")},
        "id": intent_id,
        "href": f"{base}/intent/{intent_id}",
        "lifecycleStatus": current.phase,
        "creationDate": records._iso(found[0].created),
        "lastUpdate": records._iso(changed),
        "statusChangeDate": records._iso(changed),
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
    if _media_type(request) != "application/json":
        raise ApiError.field(415, "unsupported media type", "Content-Type", "must be application/json")
    document = _json(raw)
    if not isinstance(document, dict):
        raise ApiError.field(400, "malformed request", "body", "must be a TMF921 Intent object")
    tmf, intent_id, _ = _validated(IntentRequest(intent=document))
    _refuse_if_running(session, intent_id)
    conf = {"intent": tmf, "sites": [], "dry_run": False, "slo_profile": SLO_PROFILE}
    run_id = _start(records.PIPELINE, intent_id, conf, user=user, session=session, request=request)
    href = f"{_root(request)}/intent/{intent_id}"
    now = datetime.now(UTC).isoformat()
    resource = {
        **tmf,
        "href": href,
        "lifecycleStatus": "Pending",
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
    body = [_fields(_resource(i, found, _root(request)), fields) for i, found in page]
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
    return _fields(_resource(intent_id, _runs_or_404(session, intent_id), _root(request)), fields)


@tmf_app.delete("/intent/{intent_id}", status_code=202, dependencies=[Depends(_may_trigger_withdraw)])
def delete_intent(intent_id: str, request: Request, user: GetUserDep, session: SessionDep) -> JSONResponse:
    """TMF921 delete: start an ``intent_withdraw`` run that reverts the intent's commits at every site.

    Answers ``202 Accepted`` (the withdrawal is asynchronous) with the run id; the intent's
    ``lifecycleStatus`` is ``Withdrawing`` and then ``Withdrawn``.
    """
    _runs_or_404(session, intent_id)
    _refuse_if_running(session, intent_id)
    conf = {"intent_id": intent_id, "reason": f"TMF921 DELETE by {user.get_name()}"}
    run_id = _start(records.WITHDRAW, intent_id, conf, user=user, session=session, request=request)
    href = f"{_root(request)}/intent/{intent_id}"
    return JSONResponse(
        {
            "id": intent_id,
            "href": href,
            "lifecycleStatus": "Withdrawing",
            "dagId": records.WITHDRAW,
            "runId": run_id,
        },
        202,
        headers={"Location": href},
    )


@tmf_app.get("/intent/{intent_id}/intentReport")
def list_intent_reports(intent_id: str, request: Request, session: SessionDep) -> list[dict[str, Any]]:
    """TMF921 IntentReports of the intent, newest first (one per run that reached Succeeded)."""
    found = _runs_or_404(session, intent_id)
    reports = []
    for record in reversed(found):
        report = record.xcom("report") if record.dag_id == records.PIPELINE else None
        if report:
            document = report["intentReport"]
            href = f"{_root(request)}/intent/{intent_id}/intentReport/{document.get('id')}"
            reports.append({**document, "href": href})
    return reports


# -- mounting -------------------------------------------------------------------------------------


class TrailingSlash:
    """Root middleware: ``POST /api/intent`` reaches the app mounted at ``/api/intent`` (a mount only
    matches ``/api/intent/...``, and the UI's catch-all route would answer 405)."""

    def __init__(self, app: Callable[..., Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") == "http":
            root = str(scope.get("root_path", "")).rstrip("/")
            if scope.get("path") in (PREFIX, f"{root}{PREFIX}"):
                scope = {**scope, "path": scope["path"] + "/", "raw_path": (scope["path"] + "/").encode()}
        await self.app(scope, receive, send)


FASTAPI_APPS = [
    {"app": intent_app, "url_prefix": PREFIX, "name": "edge-intent intent API"},
    {"app": tmf_app, "url_prefix": BASE_PATH, "name": "edge-intent TMF921 v5"},
]
ROOT_MIDDLEWARES = [
    {"middleware": TrailingSlash, "args": [], "kwargs": {}, "name": "edge-intent trailing slash"}
]
