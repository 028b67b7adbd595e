"""What the Reconciling and O2IMS waits check, for every target site at once.

Shared by the sensors (poke) and the trigger (deferred), so both say the same thing.
"""

from __future__ import annotations

from typing import Any

from edge_intent.sites import EdgeSite, site_repo
from include.gitops.checks import Check, check_provisioning, check_rootsync

KINDS = ("rootsync", "provisioning")


def check_sites(kind: str, targets: dict[str, dict[str, Any]]) -> dict[str, Check]:
    """One verdict per site.

    :param kind: ``rootsync`` (``targets[site]["sha"]``) or ``provisioning``
        (``targets[site]["provisioningRequest"]``).
    """
    verdicts = {}
    for name, target in sorted(targets.items()):
        site = EdgeSite(name)
        try:
            if kind == "rootsync":
                repo = site_repo(name)
                verdicts[name] = check_rootsync(site.rootsync(), target["sha"], repo.contains)
            else:
                verdicts[name] = check_provisioning(site.provisioning_request(target["provisioningRequest"]))
        except Exception as exc:  # an unreachable site is a pending site until the timeout
            verdicts[name] = Check("pending", f"cannot read the site: {' '.join(str(exc).split())[:300]}")
    return verdicts


def summary(verdicts: dict[str, Check]) -> str:
    return "; ".join(f"{name}: {check.message}" for name, check in sorted(verdicts.items()))
