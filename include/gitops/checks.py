"""Is a site synced to a commit? Is a ProvisioningRequest fulfilled? Pure checks of API objects.

A site is synced to commit X when its RootSync (``configsync.gke.io/v1beta1``) reports
``status.source.commit == status.sync.commit == lastSyncedCommit`` equal to X, or to a later commit
that contains X (another delivery may land between two polls), with every error count at 0 and no
``Stalled`` or ``Reconciling`` condition true. Errors reported for X (or a later commit containing
it) fail the wait at once, with the site's own messages.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

State = Literal["done", "pending", "error"]


@dataclass(frozen=True)
class Check:
    """The verdict for one site.

    :param state: ``done``, ``pending`` or ``error``.
    :param message: what the site reports, in words.
    :param observed: the commit (or provisioning state) the site is at.
    """

    state: State
    message: str
    observed: str = ""


def as_json(verdicts: dict[str, Check]) -> dict[str, dict[str, str]]:
    """Verdicts by site as plain data (XCom, trigger events)."""
    return {
        name: {"state": c.state, "message": c.message, "observed": c.observed} for name, c in verdicts.items()
    }


def _errors(section: dict[str, Any]) -> tuple[int, list[str]]:
    count = int(((section.get("errorSummary") or {}).get("totalCount")) or 0)
    messages = [str(e.get("errorMessage", e)) for e in section.get("errors") or []]
    return max(count, len(messages)), messages


def check_rootsync(
    rootsync: dict[str, Any], sha: str, contains: Callable[[str, str], bool] | None = None
) -> Check:
    """Verdict for ``rootsync`` and the pushed commit ``sha``.

    :param contains: ``contains(later, sha)`` is True when commit ``later`` has ``sha`` in its history.
    """
    status = rootsync.get("status") or {}
    source = status.get("source") or {}
    sync = status.get("sync") or {}
    rendering = status.get("rendering") or {}
    source_commit, sync_commit = source.get("commit") or "", sync.get("commit") or ""
    last = status.get("lastSyncedCommit") or ""

    def covers(commit: str) -> bool:
        return bool(commit) and (commit == sha or (contains is not None and contains(commit, sha)))

    # each section's errors are about that section's commit: while a new commit is fetched
    # (source) the sync section still holds the errors of the commit it last tried to apply
    sections = [
        (source, source_commit),
        (rendering, rendering.get("commit") or source_commit),
        (sync, sync_commit),
    ]
    found = [(*_errors(part), commit) for part, commit in sections]
    total = sum(count for count, _, _ in found)
    messages = [m for _, texts, _ in found for m in texts]
    ours = [(count, texts, commit) for count, texts, commit in found if count and covers(commit)]
    conditions = {c.get("type"): c for c in status.get("conditions") or []}
    stalled = (conditions.get("Stalled") or {}).get("status") == "True"
    reconciling = (conditions.get("Reconciling") or {}).get("status") == "True"
    short = sync_commit[:12] or "no commit"

    if ours:
        count = sum(n for n, _, _ in ours)
        detail = "; ".join(m for _, texts, _ in ours for m in texts)
        detail = detail or (conditions.get("Stalled") or {}).get("message") or "errors reported"
        return Check(
            "error", f"RootSync reports {count} error(s) at commit {ours[-1][2][:12]}: {detail}", sync_commit
        )
    if (
        source_commit == sync_commit == last
        and covers(last)
        and not total
        and not stalled
        and not reconciling
    ):
        return Check("done", f"synced to {last[:12]}", last)
    if total:
        return Check(
            "pending", f"at {short}; errors not yet about {sha[:12]}: {'; '.join(messages)}", sync_commit
        )
    return Check("pending", f"at {short}, waiting for {sha[:12]}", sync_commit)


def check_provisioning(request: dict[str, Any] | None) -> Check:
    """Verdict for an O2IMS ProvisioningRequest (``None`` when it does not exist yet)."""
    if request is None:
        return Check("pending", "ProvisioningRequest not created yet")
    status = (request.get("status") or {}).get("provisioningStatus") or {}
    state = status.get("provisioningState") or "unknown"
    message = status.get("provisioningMessage") or ""
    if state == "fulfilled":
        return Check("done", f"fulfilled: {message}".rstrip(": "), state)
    if state == "failed":
        return Check("error", f"provisioning failed: {message or 'no message'}", state)
    return Check("pending", f"{state}: {message}".rstrip(": "), state)
