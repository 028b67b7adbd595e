"""What the Reconciling and O2IMS waits check, for every target site at once.

Shared by the sensors (poke) and the trigger (deferred), so both say the same thing.
"""

from __future__ import annotations

from typing import Any

from edge_intent.sites import EdgeSite, site_repo
from include.gitops.checks import Check, check_provisioning, check_rootsync

KINDS = ("rootsync", "provisioning", "restore")


def check_sites(kind: str, targets: dict[str, dict[str, Any]]) -> dict[str, Check]:
    """One verdict per site.

    :param kind: ``rootsync`` (``targets[site]["sha"]``), ``provisioning``
        (``targets[site]["provisioningRequest"]``) or ``restore`` (synced to ``sha``, the revert, and
        when ``removed`` the intent's ``namespace`` gone from the site).
    """
    verdicts = {}
    for name, target in sorted(targets.items()):
        site = EdgeSite(name)
        try:
            if kind in ("rootsync", "restore"):
                repo = site_repo(name)
                check = check_rootsync(site.rootsync(), target["sha"], repo.contains)
                if kind == "restore" and check.state == "done" and target.get("removed"):
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
                verdicts[name] = check
            else:
                verdicts[name] = check_provisioning(site.provisioning_request(target["provisioningRequest"]))
        except Exception as exc:  # an unreachable site is a pending site until the timeout
            verdicts[name] = Check("pending", f"cannot read the site: {' '.join(str(exc).split())[:300]}")
    return verdicts


def summary(verdicts: dict[str, Check]) -> str:
    return "; ".join(f"{name}: {check.message}" for name, check in sorted(verdicts.items()))
