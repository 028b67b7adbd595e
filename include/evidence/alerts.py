"""The alerts Alertmanager delivered about each intent, kept beside its evidence.

Alertmanager's webhook payload (version 4) carries alerts with ``labels`` (ours: ``alertname``,
``namespace``, ``site``, ``slo``, ``severity``), ``annotations``, ``status`` (``firing`` or
``resolved``), ``startsAt``, ``endsAt`` and a ``fingerprint``. An alert whose ``namespace`` is an
intent's (``intent-<id>``) is kept in ``<evidence dir>/<id>/alerts.json``, by fingerprint: a later
delivery of the same alert (resolved, or repeated) replaces the earlier one. Writes are serialised
with a lock file, so every api-server worker may receive. Alerts about anything else are counted
and dropped. Pure: no Airflow.
"""

from __future__ import annotations

import fcntl
import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

NAMESPACE = re.compile(r"^intent-([a-z0-9]([-a-z0-9]{0,48}[a-z0-9])?)$")
FILE = "alerts.json"
MAX_ALERTS = 200  # per payload; Alertmanager sends far fewer per group


class Alert(BaseModel):
    model_config = ConfigDict(extra="ignore")

    status: str = Field(pattern="^(firing|resolved)$")
    labels: dict[str, str] = Field(max_length=64)
    annotations: dict[str, str] = Field(default_factory=dict, max_length=64)
    startsAt: str = Field(max_length=64)
    endsAt: str = Field("", max_length=64)
    fingerprint: str = Field("", max_length=64, pattern="^[0-9a-f]*$")


class Payload(BaseModel):
    """Alertmanager's webhook body, the fields this store reads."""

    model_config = ConfigDict(extra="ignore")

    version: str = Field(pattern="^4$")
    status: str = Field(pattern="^(firing|resolved)$")
    alerts: list[Alert] = Field(max_length=MAX_ALERTS)


def intent_of(alert: Alert) -> str | None:
    """The intent an alert is about (its ``namespace`` label), or None."""
    found = NAMESPACE.fullmatch(alert.labels.get("namespace", ""))
    return found.group(1) if found else None


@contextmanager
def locked(directory: Path) -> Iterator[None]:
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".alerts.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def episodes(alerts: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """What makes firing alerts these ones: each one's fingerprint and when it began to fire."""
    return {(a.get("fingerprint", ""), a["startsAt"]) for a in alerts if a["status"] == "firing"}


def record(root: Path, payload: Payload, now: float | None = None) -> dict[str, Any]:
    """Keep every alert of ``payload`` about an intent; ``{"kept": n, "dropped": m, "intents": [ids]}``."""
    kept = dropped = 0
    intents: list[str] = []
    now = time.time() if now is None else now
    for alert in payload.alerts:
        intent_id = intent_of(alert)
        if intent_id is None:
            dropped += 1
            continue
        directory = root / intent_id
        with locked(directory):
            path = directory / FILE
            known = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
            key = alert.fingerprint or json.dumps(alert.labels, sort_keys=True)
            known[key] = {**alert.model_dump(), "receivedAt": now}
            if intent_id not in intents:
                intents.append(intent_id)
            staged = path.with_suffix(".tmp")
            staged.write_text(json.dumps(known, indent=2, sort_keys=True), encoding="utf-8")
            staged.replace(path)
        kept += 1
    return {"kept": kept, "dropped": dropped, "intents": intents}


def of_intent(root: Path, intent_id: str) -> list[dict[str, Any]]:
    """The intent's alerts, firing first, newest first."""
    path = root / intent_id / FILE
    if not NAMESPACE.fullmatch(f"intent-{intent_id}") or not path.exists():
        return []
    alerts = list(json.loads(path.read_text(encoding="utf-8")).values())
    return sorted(alerts, key=lambda a: (a["status"] != "firing", -a["receivedAt"]))


def firing(root: Path, intent_id: str) -> list[dict[str, Any]]:
    """The intent's alerts firing now, oldest first."""
    return sorted(
        (a for a in of_intent(root, intent_id) if a["status"] == "firing"), key=lambda a: a["startsAt"]
    )
