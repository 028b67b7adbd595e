"""Bodies of the intent pipeline's tasks; the DAG file only wires them.

Each returns what the next phase needs, small enough for XCom: the TMF921 intent, the TS 28.312
intent and each site's files, the commits delivered. Invalid input raises
:class:`InvalidIntent` (no retry), with the field errors in the log and in the XCom ``errors``.
"""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path
from typing import Any

from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from edge_intent.sites import site_repo
from include.compiler import api, names
from include.compiler.config import load_settings
from include.compiler.errors import IntentValidationError
from include.gitops.repo import commit_message

log = logging.getLogger(__name__)

PHASES = {
    "validate": "Pending",
    "compile": "Compiling",
    "render": "Rendering",
    "deliver": "Delivering",
    "wait_for_sync": "Reconciling",
    "wait_for_o2ims": "Reconciling",
}


class InvalidIntent(AirflowFailException):
    """The intent is invalid; the message lists every field and reason."""


def _refuse(exc: IntentValidationError, ti: Any | None) -> InvalidIntent:
    for error in exc.errors:
        log.error("Invalid intent: %s: %s", error.field, error.reason)
    if ti is not None:
        ti.xcom_push(key="errors", value=exc.as_dict())
    return InvalidIntent(str(exc))


def validate(params: dict[str, Any], ti: Any | None = None) -> dict[str, Any]:
    """Pending: read the intent (text or TMF921) and validate it through TS 28.312."""
    settings = load_settings()
    raw = params.get("intent")
    sites = list(params.get("sites") or []) or None
    try:
        if isinstance(raw, dict) or (isinstance(raw, str) and raw.lstrip().startswith("{")):
            if sites:
                raise IntentValidationError.single(
                    "sites",
                    "the site override applies to natural-language intents; a TMF921 intent names "
                    "its sites in its expression",
                    stage="parse",
                )
            tmf = api.load_intent(json.dumps(raw) if isinstance(raw, dict) else raw)
        elif isinstance(raw, str):
            tmf = api.parse(raw, settings, sites=sites)
        else:
            raise IntentValidationError.single(
                "intent", "give natural-language text or a TMF921 Intent object", stage="parse"
            )
        intent = api.to_28312(tmf, settings)
    except IntentValidationError as exc:
        raise _refuse(exc, ti) from None
    log.info("Intent %s (%s) is valid: sites %s", intent.id, intent.userLabel, ", ".join(intent.sites))
    return tmf.to_json()


def compile_intent(tmf: dict[str, Any], ti: Any | None = None) -> dict[str, Any]:
    """Compiling: TMF921 to TS 28.312 to each site's unrendered package."""
    settings = load_settings()
    try:
        intent = api.to_28312(tmf, settings)
        packages = api.packages(intent, settings)
    except IntentValidationError as exc:
        raise _refuse(exc, ti) from None
    log.info("Compiled intent %s for %s", intent.id, ", ".join(packages))
    return {"intent": intent.to_json(), "packages": packages}


def render(compiled: dict[str, Any]) -> dict[str, Any]:
    """Rendering: the real ``kpt fn render`` of every site's package."""
    with tempfile.TemporaryDirectory(prefix="render-") as tmp:
        placed = api.render_packages(compiled["packages"], Path(tmp) / "out")
        sites = {
            site: {p.name: p.read_text(encoding="utf-8") for p in sorted(directory.iterdir())}
            for site, directory in placed.items()
        }
    intent_id = compiled["intent"]["id"]
    log.info(
        "Rendered intent %s: %s",
        intent_id,
        ", ".join(f"{site} ({len(files)} files)" for site, files in sites.items()),
    )
    return {"intentId": intent_id, "sites": sites}


def deliver(rendered: dict[str, Any], *, dry_run: bool, run_id: str | None) -> dict[str, dict[str, Any]]:
    """Delivering: commit each site's package under ``intents/<id>/`` and push; one commit per site."""
    intent_id = rendered["intentId"]
    if dry_run:
        raise AirflowSkipException(f"dry run: intent {intent_id} compiled and rendered, nothing delivered")
    delivered = {}
    for site, files in sorted(rendered["sites"].items()):
        repo = site_repo(site)
        result = repo.deliver(intent_id, files, message=commit_message(intent_id, site, run_id))
        log.info(
            "Delivered intent %s to %s: commit %s (%s, %d push attempt(s), %.2f s)",
            intent_id,
            site,
            result.sha,
            "new" if result.created else "already there",
            result.attempts,
            result.seconds,
        )
        delivered[site] = {
            "sha": result.sha,
            "created": result.created,
            "repo": repo.url,
            "provisioningRequest": names.provisioning_request(intent_id, site),
            "seconds": round(result.seconds, 3),
        }
    return delivered
