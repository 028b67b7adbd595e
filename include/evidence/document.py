"""evidence.json: why a deployment was rolled back, what was done, and proof of each number.

The seed's fields (``timestamp``, ``trigger``, ``metrics`` {``latency_p95``, ``threshold``,
``breach_duration``}, ``actions`` [``git_revert``, ``sync_complete``], ``result``,
``restored_version``) plus the intent id, the DAG run, every breached SLO with its query and
every sample measured, each site's commits before and after, the duration of each step, and a
SHA-256 digest. Every number comes from a measurement (a Prometheus sample, a clock reading);
what was not measured is null. Nothing secret is ever put in it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

INTENT_ID = re.compile(r"^[a-z0-9]([-a-z0-9]{0,48}[a-z0-9])?$")
DIGEST_NOTE = "sha256 of the canonical JSON (sorted keys, no spaces) of this document without 'sha256'"


def iso(epoch: float | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")


def _latency_at_detection(verdict: dict[str, Any] | None, site: str | None) -> float | None:
    if not verdict:
        return None
    samples = [
        e
        for e in verdict.get("evaluations", [])
        if e["slo"] == "latency_p95" and e["value"] is not None and (site is None or e["site"] == site)
    ]
    return samples[-1]["value"] if samples else None


def build(
    *,
    intent_id: str,
    dag_id: str,
    run_id: str,
    trigger: str,
    verdict: dict[str, Any] | None,
    failure: dict[str, Any] | None,
    delivered: dict[str, Any],
    reverts: dict[str, Any],
    restore: dict[str, Any] | None,
    errors: list[str],
    now: float,
) -> dict[str, Any]:
    """The evidence document, digest included."""
    breaches = (verdict or {}).get("breaches", [])
    first = breaches[0] if breaches else None
    latency_threshold = None
    for site_slos in ((verdict or {}).get("slos") or {}).values():
        if "latency_p95" in site_slos:
            latency_threshold = site_slos["latency_p95"]["threshold"]
    actions = revert_actions(reverts, restore)
    result, confirmed = outcome(reverts, restore, errors)
    document: dict[str, Any] = {
        "timestamp": iso(now),
        "trigger": trigger,
        "metrics": {
            "latency_p95": _latency_at_detection(verdict, first["site"] if first else None),
            "threshold": first["threshold"] if first and first["slo"] == "latency_p95" else latency_threshold,
            "breach_duration": first["breachDuration"] if first else None,
            "unit": {"latency_p95": "ms", "threshold": "ms", "breach_duration": "s"},
        },
        "actions": actions,
        "result": result,
        "restored_version": {site: r["sha"] for site, r in sorted(reverts.items()) if site in confirmed},
        "intentId": intent_id,
        "dagId": dag_id,
        "dagRunId": run_id,
        "breaches": breaches,
        "alerts": (verdict or {}).get("alerts", []),
        "failure": failure,
        "verification": None
        if not verdict
        else {
            "result": verdict["result"],
            "started": iso(verdict["started"]),
            "ended": iso(verdict["ended"]),
            "slos": verdict["slos"],
            "evaluations": len(verdict["evaluations"]),
        },
        "sites": {
            site: {
                "delivered": d["sha"],
                "commitBefore": (reverts.get(site) or {}).get("previous"),
                "commitAfter": (reverts.get(site) or {}).get("sha"),
                "intentRemoved": (reverts.get(site) or {}).get("removed"),
                "restore": restore_verdict(restore, site),
            }
            for site, d in sorted(delivered.items())
        },
        "steps": {
            "verify": None if not verdict else {"seconds": round(verdict["ended"] - verdict["started"], 3)},
            **revert_steps(reverts, restore),
        },
        "errors": errors,
    }
    return sealed(document)


def revert_actions(reverts: dict[str, Any], restore: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The seed's ``actions``: a ``git_revert`` per revert pushed, then ``sync_complete`` once every
    site confirmed the restore."""
    actions = [
        {
            "action": "git_revert",
            "site": site,
            "commit": r["sha"],
            "reverts": r.get("reverted", []),
            "timestamp": iso(r["pushedAt"]),
        }
        for site, r in sorted(reverts.items())
        if r.get("sha") and r.get("pushedAt")
    ]
    if restore and restore.get("completedAt"):
        actions.append(
            {
                "action": "sync_complete",
                "sites": sorted(restore.get("sites", {})),
                "timestamp": iso(restore["completedAt"]),
            }
        )
    return actions


def restore_verdict(restore: dict[str, Any] | None, site: str) -> dict[str, Any] | None:
    """What the restore wait last saw at ``site`` (``state`` done, pending or error, and the site's
    own message, e.g. ``cannot read the site: ... Connection refused``); None when it never looked."""
    verdict = ((restore or {}).get("sites") or {}).get(site)
    if not isinstance(verdict, dict):
        return None
    return {key: verdict.get(key) for key in ("state", "message", "observed", "at") if key in verdict}


def outcome(
    reverts: dict[str, Any], restore: dict[str, Any] | None, errors: list[str]
) -> tuple[str, set[str]]:
    """The document's ``result`` and the sites whose restore was confirmed.

    ``success``: every revert pushed and every site confirmed the restore; ``unconfirmed``: every
    revert pushed, but some site never confirmed it (unreachable, still syncing at the timeout);
    ``failed``: a revert could not be made.
    """
    sites = (restore or {}).get("sites") or {}
    confirmed = {
        site
        for site, r in reverts.items()
        if r.get("sha") and isinstance(sites.get(site), dict) and sites[site].get("state") == "done"
    }
    pushed = bool(reverts) and all(r.get("sha") and not r.get("error") for r in reverts.values())
    if not pushed:
        return "failed", confirmed
    if restore and restore.get("completedAt") and confirmed == set(reverts) and not errors:
        return "success", confirmed
    return "unconfirmed", confirmed


def revert_steps(reverts: dict[str, Any], restore: dict[str, Any] | None) -> dict[str, Any]:
    """How long each site's revert and the restore took (as measured; null when not done)."""
    return {
        "revert": {site: {"seconds": r.get("seconds")} for site, r in sorted(reverts.items())},
        "restore": None if not restore else {"seconds": restore.get("seconds")},
    }


def sealed(document: dict[str, Any]) -> dict[str, Any]:
    """The document with its digest (and how the digest is computed)."""
    document["digestAlgorithm"] = DIGEST_NOTE
    document["sha256"] = digest(document)
    return document


def digest(document: dict[str, Any]) -> str:
    body = {key: value for key, value in document.items() if key != "sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def run_folder(directory: Path, intent_id: str, run_id: str) -> Path:
    """``directory/<intent id>/<run id>``, created; the run id made safe as a file name."""
    if not INTENT_ID.fullmatch(intent_id):
        raise ValueError("the intent id is not a DNS-1123 label")
    run = re.sub(r"[^A-Za-z0-9._-]", "_", run_id).strip(".") or "run"
    folder = Path(directory) / intent_id / run
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def write(document: dict[str, Any], directory: Path, name: str = "evidence.json") -> Path:
    """Write ``directory/<intent id>/<run id>/<name>`` atomically; return the path."""
    return write_atomic(document, run_folder(directory, document["intentId"], document["dagRunId"]), name)


def write_atomic(document: dict[str, Any], folder: Path, name: str) -> Path:
    """Write ``folder/name`` as indented JSON through a temporary file and a rename."""
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=2, sort_keys=False)
        handle.write("\n")
    target = folder / name
    os.replace(tmp, target)
    return target
