"""Who may call the intent API, how often, and how large and what kind of body it may send.

Every route needs Airflow's own authentication and permission to trigger ``intent_pipeline`` (a
viewer gets 403); each user is rate-limited by a token bucket; bodies are capped in size before
they are read, and must be strict JSON (or UTF-8 text where text is accepted).

Settings (environment of the api-server): ``EDGE_INTENT_API_MAX_BODY`` (bytes, default 262144),
``EDGE_INTENT_API_RATE`` (requests per second per user, default 20) and ``EDGE_INTENT_API_BURST``
(default 40), per api-server worker process.
"""

from __future__ import annotations

import hmac
import os
import threading
import time
from collections.abc import Callable
from typing import Annotated, Any

from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
from airflow.api_fastapi.core_api.security import GetUserDep, requires_access_dag
from fastapi import Depends, Request
from starlette.requests import ClientDisconnect

from edge_intent.api.errors import ApiError
from include.compiler.errors import IntentValidationError
from include.lifecycle import Dag

MAX_BODY = int(os.environ.get("EDGE_INTENT_API_MAX_BODY", 262_144))
RATE = float(os.environ.get("EDGE_INTENT_API_RATE", 20))
BURST = int(os.environ.get("EDGE_INTENT_API_BURST", 40))


class RateLimiter:
    """A token bucket per key.

    :param rate: tokens added per second.
    :param burst: most tokens held.
    :param clock: seconds, monotonic.
    """

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

may_trigger_pipeline = requires_access_dag("POST", DagAccessEntity.RUN, param_dag_id=Dag.PIPELINE)
may_trigger_withdraw = requires_access_dag("POST", DagAccessEntity.RUN, param_dag_id=Dag.WITHDRAW)


def rate_limited(user: GetUserDep) -> None:
    """Refuse with 429 and ``Retry-After`` when the user's bucket is empty."""
    wait = LIMITER.take(user.get_name())
    if wait:
        raise ApiError(
            429,
            "rate limit exceeded",
            [{"field": "user", "reason": f"more than {RATE:g} requests per second (bursts of {BURST})"}],
            headers={"Retry-After": str(max(1, round(wait + 0.5)))},
        )


async def read_body(request: Request) -> bytes:
    """The request body, refused with 413 as soon as it is known to exceed the limit."""
    return await read_limited(request, MAX_BODY)


async def read_limited(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it is known to exceed ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise ApiError.field(400, "malformed request", "Content-Length", "is not a number")
        if int(declared) > limit:
            raise ApiError.field(
                413, "payload too large", "body", f"is {int(declared)} bytes; the limit is {limit}"
            )
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise ApiError.field(413, "payload too large", "body", f"exceeds the limit of {limit} bytes")
            chunks.append(chunk)
    except ClientDisconnect:  # the client went away mid-body: nothing was read, nothing starts
        raise ApiError.field(
            400, "malformed request", "body", "the client disconnected before sending it"
        ) from None
    return b"".join(chunks)


Body = Annotated[bytes, Depends(read_body)]


def bearer_is(authorization: str | None, expected: str) -> bool:
    """Whether an ``Authorization`` header carries the bearer token ``expected`` (compared in
    constant time): the machine endpoints' check (metrics, Alertmanager's webhook)."""
    scheme, _, given = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), expected.encode())


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def decode_json(raw: bytes, field: str = "body") -> Any:
    """Strict JSON (no duplicate keys, NaN or deep nesting); refused with 400 naming ``field``."""
    from include.compiler.tmf921 import decode_json as strict

    if not raw.strip():
        raise ApiError.field(400, "malformed request", field, "is empty")
    try:
        return strict(raw, field=field, stage="request")
    except IntentValidationError as exc:
        raise ApiError(400, "malformed request", [e.as_dict() for e in exc.errors]) from None
