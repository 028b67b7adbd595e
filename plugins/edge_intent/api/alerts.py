"""``POST /api/intent/alerts``: Alertmanager's webhook (payload version 4).

Alertmanager cannot log in to Airflow, so this route has a token of its own: the bearer token in
``EDGE_INTENT_ALERT_TOKEN`` (Alertmanager reads it from a file: ``credentials_file``). Without the
variable the route refuses everything (403): it writes. Each alert about an intent (its
``namespace`` label) is kept with the intent (:mod:`include.evidence.alerts`), and when the alerts
firing about an intent change, its report is said anew and its run noted
(:mod:`edge_intent.api.assurance`); ``200`` says how many alerts were kept and dropped and how many
reports were written. A body over 1 MiB is 413, one that is not Alertmanager's is 422, naming the
field. The app is mounted before the intent API's, whose routes need an Airflow login.
"""

from __future__ import annotations

import logging
import os

from airflow.api_fastapi.common.db.common import SessionDep
from fastapi import FastAPI, Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from edge_intent.api import assurance
from edge_intent.api.errors import ApiError, install_error_handlers, pydantic_error
from edge_intent.api.limits import bearer_is, decode_json, read_limited

log = logging.getLogger(__name__)

TOKEN_ENV = "EDGE_INTENT_ALERT_TOKEN"  # noqa: S105 (the variable that holds it, not a token)
MAX_BODY = 1 << 20
PREFIX = "/api/intent/alerts"

alerts_app = FastAPI(title="edge-intent: Alertmanager webhook", docs_url=None, redoc_url=None)
install_error_handlers(alerts_app)


def _authorize(authorization: str | None) -> None:
    expected = os.environ.get(TOKEN_ENV)
    if not expected:
        raise ApiError.field(403, "forbidden", "Authorization", f"no alert token is configured ({TOKEN_ENV})")
    if not bearer_is(authorization, expected):
        raise ApiError(
            401,
            "unauthorized",
            [{"field": "Authorization", "reason": "a valid bearer token is required"}],
            headers={"WWW-Authenticate": "Bearer"},
        )


@alerts_app.post("/")
async def receive(request: Request, session: SessionDep) -> dict[str, int]:
    """Keep the alerts of one Alertmanager notification."""
    from edge_intent.rollout.evidence import evidence_dir
    from include.evidence.alerts import Payload, record

    _authorize(request.headers.get("Authorization"))
    body = await read_limited(request, MAX_BODY)
    try:
        payload = Payload.model_validate(decode_json(body))
    except ApiError as exc:  # not strict JSON (empty, duplicate keys, NaN, too deep)
        raise ApiError(422, "not an Alertmanager notification", exc.errors) from None
    except ValidationError as exc:
        raise ApiError(
            422, "not an Alertmanager notification", [pydantic_error(e) for e in exc.errors()]
        ) from None
    counts = record(evidence_dir(), payload)
    reported = (
        await run_in_threadpool(assurance.attach, session, counts["intents"]) if counts["intents"] else 0
    )
    log.warning(
        "Alertmanager: %s, %d alert(s) kept with their intents, %d about no intent; %d report(s) said anew",
        payload.status,
        counts["kept"],
        counts["dropped"],
        reported,
    )
    return {"kept": counts["kept"], "dropped": counts["dropped"], "reported": reported}
