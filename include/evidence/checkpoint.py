"""evidence.json of a reset to a checkpoint: what each site's ``main`` was and is, what was reverted.

Written as ``<evidence dir>/_checkpoints/<name>/<run id>/evidence.json`` (intent ids cannot start
with ``_``, so it never mixes with an intent's evidence). Like the rollback evidence
(:mod:`include.evidence.document`): every number is measured (clock readings, git's answers), what
was not measured is null, no credential is in it, and it carries a SHA-256 of itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .document import (
    iso,
    outcome,
    restore_verdict,
    revert_actions,
    revert_steps,
    run_folder,
    sealed,
    write_atomic,
)

FOLDER = "_checkpoints"


def build_reset(
    *,
    name: str,
    tag: str,
    dag_id: str,
    run_id: str,
    reason: str,
    reverts: dict[str, dict[str, Any]],
    restore: dict[str, Any] | None,
    matches: dict[str, bool],
    now: float,
    restore_error: str | None = None,
) -> dict[str, Any]:
    """The document, digest included.

    :param reverts: by site: ``sha`` (main after), ``previous`` (main before), ``reverted`` (commits,
        newest first), ``tagCommit``, ``pushedAt``, ``seconds``, or ``error``.
    :param restore: ``{"sites", "completedAt", "seconds"}``: each site's last verdict of the restore
        wait; ``completedAt`` only once every site synced. None when the wait never ran.
    :param matches: by site, whether git found the tree after the reset equal to the checkpoint's.
    :param restore_error: the restore wait's own message when it failed (it names the site).
    """
    errors = [f"{site}: {r['error']}" for site, r in sorted(reverts.items()) if r.get("error")]
    if not reverts:
        errors.append("no revert was made: the revert task did not run to the end")
    elif not (restore and restore.get("completedAt")) and not errors:
        errors.append(restore_error or "the sites did not report the reset as synced")
    errors += [
        f"{site}: the tree differs from the checkpoint's" for site, ok in sorted(matches.items()) if not ok
    ]
    actions = revert_actions(reverts, restore)
    result, confirmed = outcome(reverts, restore, errors)
    if any(not ok for ok in matches.values()):
        result = "failed"
    document: dict[str, Any] = {
        "timestamp": iso(now),
        "trigger": "emergency_reset",
        "checkpoint": {"name": name, "tag": tag},
        "reason": reason,
        "actions": actions,
        "result": result,
        "restored_version": {site: r["sha"] for site, r in sorted(reverts.items()) if site in confirmed},
        "dagId": dag_id,
        "dagRunId": run_id,
        "sites": {
            site: {
                "tagCommit": r.get("tagCommit"),
                "commitBefore": r.get("previous"),
                "commitAfter": r.get("sha"),
                "reverted": r.get("reverted", []),
                "treeMatchesCheckpoint": matches.get(site),
                "restore": restore_verdict(restore, site),
            }
            for site, r in sorted(reverts.items())
        },
        "steps": revert_steps(reverts, restore),
        "errors": errors,
    }
    return sealed(document)


def write(document: dict[str, Any], directory: Path, name: str = "evidence.json") -> Path:
    """Write ``directory/_checkpoints/<name>/<run id>/evidence.json`` atomically; return the path."""
    folder = run_folder(Path(directory) / FOLDER, document["checkpoint"]["name"], document["dagRunId"])
    return write_atomic(document, folder, name)
