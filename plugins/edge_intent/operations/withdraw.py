"""intent_withdraw: plan the revert of every delivery commit of an intent still in effect, the
sites in reverse wave order."""

from __future__ import annotations

import logging
from typing import Any

from edge_intent.hooks.site_repo import SiteRepoHook
from edge_intent.operations.params import (
    INTENT_ID_MAX,
    OperationFailed,
    check_label,
    check_sites,
    check_text,
)
from edge_intent.rollout.revert import Kind, plan
from edge_intent.rollout.waves import reverse_waves

log = logging.getLogger(__name__)


def withdraw_plan(
    params: dict[str, Any], git_conn_id: str = SiteRepoHook.default_conn_name
) -> dict[str, Any]:
    """Which delivery commits of the intent are in effect at each site; fails when there are none."""
    intent_id = check_label(params.get("intent_id"), "intent_id", INTENT_ID_MAX)
    reason = check_text(params.get("reason"), "reason")
    asked = params.get("sites") or []
    sites = check_sites(asked)
    hook = SiteRepoHook(git_conn_id)
    found: dict[str, list[str]] = {}
    for site in sites:
        live = hook.get_repo(site).live_deliveries(intent_id)
        if live:
            found[site] = live
            log.info("Intent %s at %s: delivery commit(s) in effect %s", intent_id, site, ", ".join(live))
    if not found:
        raise OperationFailed(
            f"intent {intent_id} is deployed nowhere (checked {', '.join(sites)}): nothing to withdraw"
        )
    missing = [site for site in sites if site not in found]
    if asked and missing:
        raise OperationFailed(
            f"intent {intent_id} is not deployed at {', '.join(missing)} (it is at {', '.join(found)}); "
            "nothing was withdrawn"
        )
    return plan(
        Kind.WITHDRAW,
        found,
        intent_id=intent_id,
        trigger="withdrawn",
        reason=reason,
        order=reverse_waves(found),
    )
