"""What the Reconciling and O2IMS waits check, for every target site at once.

Shared by the sensors (poke) and the trigger (deferred), so both say the same thing. Each site's
verdict, as plain data (:func:`observe`), also says when the wait first saw that site done (``at``,
epoch seconds) and, for a ProvisioningRequest, the O2IMS's own times (``createdAt``, and
``fulfilledAt`` from ``provisioningUpdateTime`` once fulfilled): the pipeline's sync-lag and O2IMS
metrics come from them.
"""

from __future__ import annotations

import time
from datetime import datetime
from enum import StrEnum
from typing import Any

from edge_intent.hooks.edge_site import EdgeSiteHook
from edge_intent.hooks.site_repo import SiteRepoHook
from include.gitops.checks import Check, as_json, check_provisioning, check_rootsync


class WaitKind(StrEnum):
    """What a site wait waits for."""

    ROOTSYNC = "rootsync"  # the RootSync synced to targets[site]["sha"]
    PROVISIONING = "provisioning"  # the O2IMS ProvisioningRequest targets[site]["provisioningRequest"]
    RESTORE = "restore"  # synced to the revert targets[site]["sha"], the intent's namespace gone


UNREACHABLE = "cannot read the site"


class SiteState(StrEnum):
    """A site's verdict in a wait (:class:`include.gitops.checks.Check` ``state``)."""

    DONE = "done"
    PENDING = "pending"
    ERROR = "error"


def check_sites(
    kind: str, targets: dict[str, dict[str, Any]], git_conn_id: str = SiteRepoHook.default_conn_name
) -> dict[str, Check]:
    """One verdict per site.

    :param kind: ``rootsync`` (``targets[site]["sha"]``), ``provisioning``
        (``targets[site]["provisioningRequest"]``) or ``restore`` (synced to ``sha``, the revert, and
        when ``removed`` the intent's ``namespace`` gone from the site).
    """
    return {name: verdict for name, (verdict, _) in _check_sites(kind, targets, git_conn_id).items()}


def observe(
    kind: str,
    targets: dict[str, dict[str, Any]],
    done_at: dict[str, float] | None = None,
    git_conn_id: str = SiteRepoHook.default_conn_name,
) -> tuple[dict[str, Check], dict[str, dict[str, Any]]]:
    """The verdicts of :func:`check_sites`, and the same as plain data with the times they carry.

    :param done_at: ``{site: epoch}`` of the sites already seen done by this wait; updated in place
        with the sites done now (their ``at``).
    """
    done_at = {} if done_at is None else done_at
    checked = _check_sites(kind, targets, git_conn_id)
    now = time.time()  # when these verdicts were read
    verdicts = {name: verdict for name, (verdict, _) in checked.items()}
    data: dict[str, dict[str, Any]] = as_json(verdicts)
    for name, (verdict, times) in checked.items():
        data[name].update(times)
        if verdict.state == SiteState.DONE:
            data[name]["at"] = done_at.setdefault(name, now)
    return verdicts, data


def _epoch(stamp: Any) -> float | None:
    """An RFC 3339 time of an API object as epoch seconds (None when absent or unreadable)."""
    if not isinstance(stamp, str) or not stamp:
        return None
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _provisioning_times(request: dict[str, Any] | None, verdict: Check) -> dict[str, float]:
    if request is None:
        return {}
    times = {"createdAt": _epoch((request.get("metadata") or {}).get("creationTimestamp"))}
    if verdict.state == SiteState.DONE:
        status = (request.get("status") or {}).get("provisioningStatus") or {}
        times["fulfilledAt"] = _epoch(status.get("provisioningUpdateTime"))
    return {key: value for key, value in times.items() if value is not None}


def _check_sites(
    kind: str, targets: dict[str, dict[str, Any]], git_conn_id: str
) -> dict[str, tuple[Check, dict[str, float]]]:
    verdicts: dict[str, tuple[Check, dict[str, float]]] = {}
    git = SiteRepoHook(git_conn_id)
    for name, target in sorted(targets.items()):
        try:
            site = EdgeSiteHook(name)
            if kind in (WaitKind.ROOTSYNC, WaitKind.RESTORE):
                repo = git.get_repo(name)
                check = check_rootsync(site.rootsync(), target["sha"], repo.contains)
                if kind == WaitKind.RESTORE and check.state == SiteState.DONE and target.get("removed"):
                    if site.namespace_exists(target["namespace"]):
                        check = Check(
                            "pending",
                            f"{check.message}; namespace {target['namespace']} still present",
                            check.observed,
                        )
                    else:
                        check = Check(
                            "done", f"{check.message}; namespace {target['namespace']} gone", check.observed
                        )
                verdicts[name] = (check, {})
            else:
                request = site.provisioning_request(target["provisioningRequest"])
                check = check_provisioning(request)
                verdicts[name] = (check, _provisioning_times(request, check))
        except Exception as exc:  # an unreachable site is a pending site until the timeout
            message = f"{UNREACHABLE}: {' '.join(str(exc).split())[:300]}"
            verdicts[name] = (Check(SiteState.PENDING, message), {})
    return verdicts


def split(verdicts: dict[str, Check]) -> tuple[dict[str, Check], dict[str, Check]]:
    """The sites that reported an error, and those not done yet (the sensor's and the trigger's
    one reading of a round of verdicts)."""
    failed = {name: check for name, check in verdicts.items() if check.state == SiteState.ERROR}
    pending = {name: check for name, check in verdicts.items() if check.state != SiteState.DONE}
    return failed, pending


def summary(verdicts: dict[str, Check]) -> str:
    return "; ".join(f"{name}: {check.message}" for name, check in sorted(verdicts.items()))
