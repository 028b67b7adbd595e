"""slo_reverify: find every intent deployed on the sites (Git is the source of truth), verify its SLOs
as the pipeline's Verifying does, and plan the rollback of those that break."""

from __future__ import annotations

import json
import logging
from typing import Any

from edge_intent.hooks.site_repo import SiteRepoHook
from edge_intent.operations.params import INTENT_ID_MAX, InvalidParam, OperationFailed, check_label
from edge_intent.rollout.revert import Kind, plan
from edge_intent.rollout.waves import reverse_waves
from include.compiler.config import load_settings

log = logging.getLogger(__name__)


def _targets_from_repo(repo: Any, intent_id: str, site: str) -> tuple[dict[str, float], str]:
    """The intent's TS 28.312 targets at ``site``, read from the delivered ``intent-28312`` ConfigMap."""
    import yaml

    from edge_intent.rollout.verify import site_targets
    from include.compiler import ts28312

    text = repo.read(f"intents/{intent_id}/intent-configmap.yaml")
    if text is None:
        return {}, "no intent-28312 ConfigMap delivered: the seed's thresholds apply"
    try:
        configmap = yaml.safe_load(text)
        intent = ts28312.Intent.model_validate(json.loads(configmap["data"]["intent.json"]))
    except Exception as exc:  # a hand-edited file: say so, use the seed's thresholds
        return {}, f"the intent-28312 ConfigMap cannot be read ({' '.join(str(exc).split())[:200]})"
    if intent.expectation_for(site) is None:
        return {}, f"the delivered intent has no expectation for {site}"
    return site_targets(intent, [site])[site], "the delivered intent-28312 ConfigMap"


def discover(git_conn_id: str = SiteRepoHook.default_conn_name) -> list[dict[str, Any]]:
    """Every intent deployed on some site's ``main``, with the commit that delivered it and its targets."""
    hook = SiteRepoHook(git_conn_id)
    intents: dict[str, dict[str, Any]] = {}
    for site in load_settings().catalogue.names:
        repo = hook.get_repo(site)
        for deployed in repo.deployed_intents():
            targets, source = _targets_from_repo(repo, deployed.intent_id, site)
            entry = intents.setdefault(deployed.intent_id, {"intentId": deployed.intent_id, "sites": {}})
            entry["sites"][site] = {
                "sha": deployed.commit,
                "commits": deployed.in_effect,
                "head": deployed.head,
                "targets": targets,
                "targetsFrom": source,
            }
    found = [intents[key] for key in sorted(intents)]
    log.info(
        "Deployed intents: %s",
        "; ".join(f"{i['intentId']} at {', '.join(i['sites'])}" for i in found) or "none",
    )
    return found


def checked_targets(intent: dict[str, Any]) -> tuple[str, dict[str, dict[str, float]]]:
    """The intent's id, checked, and its targets at each site where it is deployed."""
    intent_id = check_label(intent["intentId"], "intentId", INTENT_ID_MAX)
    return intent_id, {site: deployed.get("targets") or {} for site, deployed in intent["sites"].items()}


def items(value: Any) -> list[Any]:
    """The values of a mapped task's output: none, one (a single mapped instance), or several."""
    if value is None:
        return []
    if isinstance(value, dict):
        return [value]
    return list(value)


def select(verified: Any, on_missing_data: str) -> list[dict[str, Any]]:
    """The rollback plans: one per intent with a measured breach of a rollback-class SLO (and with
    missing data when ``on_missing_data`` is ``rollback``)."""
    if on_missing_data not in ("report", "rollback"):
        raise InvalidParam("on_missing_data: must be 'report' or 'rollback'")
    chosen = []
    for item in items(verified):
        verdict = item["verdict"]
        if verdict["result"] != "breach":
            continue
        if verdict["trigger"] == "missing_data" and on_missing_data != "rollback":
            log.warning("Intent %s has no data: reported, not rolled back", item["intentId"])
            continue
        trigger = verdict.get("trigger") or "slo_breach"
        chosen.append(
            plan(
                Kind.ROLLBACK,
                {site: on.get("commits") or [on["sha"]] for site, on in item["sites"].items()},
                intent_id=item["intentId"],
                trigger=trigger,
                reason=f"re-verification: {trigger}",
                verdict=verdict,
                order=reverse_waves(item["sites"]),
            )
        )
    log.info("Rolling back: %s", ", ".join(p["intentId"] for p in chosen) or "nothing")
    return chosen


def summary(verified: Any, rolled_back: Any, ti: Any) -> dict[str, Any]:
    """What every intent's re-verification found, and what was rolled back; fails the run when an
    intent could not be verified or a rollback did not complete."""
    from include.lifecycle import Key

    checked = [v for v in items(verified) if v]
    done = [r for r in items(rolled_back) if r]
    by_id = {r["intentId"]: r for r in done}
    orphans = ti.xcom_pull(task_ids=Key.ORPHANS.value)
    found: dict[str, Any] = {
        "checked": len(checked),
        "passed": [],
        "rolledBack": done,
        "unverified": [],
        "orphans": orphans,  # None when they could not be checked (see the orphans task)
    }
    for item in checked:
        verdict = item["verdict"]
        entry = {
            "intentId": item["intentId"],
            "sites": {site: d["sha"] for site, d in sorted(item["sites"].items())},
            "result": verdict["result"],
            "trigger": verdict["trigger"],
            "slos": verdict["slos"],
            "scaling": verdict.get("scaling") or [],  # the scale steps that relieved it, if any
        }
        if verdict["result"] == "pass":
            found["passed"].append(entry)
        elif item["intentId"] not in by_id:
            found["unverified"].append(entry)
    ti.xcom_push(key=Key.SUMMARY, value=found)
    problems = [f"{u['intentId']} not verified ({u['trigger']})" for u in found["unverified"]]
    problems += [f"rollback of {r['intentId']} {r['result']}" for r in done if r["result"] != "success"]
    log.info(
        "Re-verified %d intent(s): %d passed, %d rolled back, %d unverified; orphans: %s",
        len(checked),
        len(found["passed"]),
        len(done),
        len(found["unverified"]),
        "not checked" if orphans is None else ", ".join(o["intentId"] for o in orphans) or "none",
    )
    if problems:
        raise OperationFailed("; ".join(problems))
    return found
