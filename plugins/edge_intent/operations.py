"""Bodies of the operations DAGs: withdraw an intent, re-verify deployed intents' SLOs, and the
emergency procedures (fail a stuck run, force a GitOps resync, checkpoint, reset to a checkpoint).

Git is the source of truth: what is deployed is what ``intents/<id>/`` holds on each site
repository's ``main``. Every change is a commit that only adds to history (``git revert`` of named
commits, an annotated tag); nothing is ever force-pushed or reset. Parameters are checked again
here (the DAG's Params already check them): a refused parameter names its field, and nothing is
changed. Credentials stay in Airflow connections; they never reach a log line, an XCom or evidence.
"""

from __future__ import annotations

import json
import logging
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from typing import Any

from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowFailException

from edge_intent.pipeline import evidence_dir
from edge_intent.sites import EdgeSite, site_repo
from include.compiler import names
from include.compiler.config import load_settings

log = logging.getLogger(__name__)

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
RUN_ID = re.compile(r"^[A-Za-z0-9_.:+-]{1,250}$")
INTENT_ID_MAX = 50
CHECKPOINT_MAX = 40
REASON_MAX = 500
CHECKPOINT_PREFIX = "checkpoint"
AIRFLOW_API_CONN_ID = "airflow_api"
# The DAGs whose stuck runs emergency_fail_run may end.
PROJECT_DAGS = (
    "intent_pipeline",
    "intent_withdraw",
    "slo_reverify",
    "emergency_resync",
    "emergency_checkpoint",
    "emergency_reset",
)
RECONCILER = ("root-reconciler", "config-management-system")
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"


class InvalidParam(AirflowFailException):
    """A parameter is refused; the message names the field. Nothing was changed."""


class OperationFailed(AirflowFailException):
    """An operation cannot go on (nothing deployed, an unknown checkpoint, a refused run); no retry."""


# -- parameters ------------------------------------------------------------------------------------


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:40]}... ({len(text)} characters)"


def check_label(value: Any, field: str, limit: int) -> str:
    """A DNS-1123 label of at most ``limit`` characters (no ``/``, no ``..``), or :class:`InvalidParam`."""
    if not isinstance(value, str) or not value or len(value) > limit or not DNS_LABEL.match(value):
        raise InvalidParam(
            f"{field}: must be a DNS-1123 label of at most {limit} characters "
            f"(lower-case letters, digits and '-'), got {_shown(value)}"
        )
    return value


def check_text(value: Any, field: str, limit: int = REASON_MAX) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > limit or any(ord(c) < 32 and c not in "\t" for c in value):
        raise InvalidParam(f"{field}: must be one line of text of at most {limit} characters")
    return value.strip()


def check_sites(value: Any, field: str = "sites") -> list[str]:
    """Catalogue sites; an empty value means every site of the catalogue."""
    catalogue = load_settings().catalogue
    if value in (None, "", []):
        return list(catalogue.names)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or len(value) > len(catalogue.names):
        raise InvalidParam(f"{field}: must be a list of catalogue sites ({', '.join(catalogue.names)})")
    for site in value:
        if not isinstance(site, str) or catalogue.get(site) is None:
            raise InvalidParam(
                f"{field}: {_shown(site)} is not in the site catalogue ({', '.join(catalogue.names)})"
            )
    return sorted(set(value))


def checkpoint_tag(name: str) -> str:
    return f"{CHECKPOINT_PREFIX}/{name}"


def _revert_record(done: Any, intent_id: str | None) -> dict[str, Any]:
    reverted = done.reverted
    return {
        "sha": done.sha,
        "reverted": list(reverted) if isinstance(reverted, tuple) else reverted,
        "previous": done.previous,
        "created": done.created,
        "removed": bool(done.removed),
        "seconds": round(done.seconds, 3),
        "pushedAt": time.time(),
        "namespace": names.namespace(intent_id) if intent_id else "",
    }


def _restore(restored: Any, completed_at: float | None, reverts: dict[str, Any]) -> dict[str, Any] | None:
    if restored is None or not completed_at:
        return None
    pushed = [r["pushedAt"] for r in reverts.values() if r.get("pushedAt")]
    return {
        "sites": restored,
        "completedAt": completed_at,
        "seconds": round(completed_at - max(pushed), 3) if pushed else None,
    }


# -- intent_withdraw -------------------------------------------------------------------------------


def withdraw_plan(params: dict[str, Any]) -> dict[str, Any]:
    """Which delivery commits of the intent are in effect at each site; fails when there are none."""
    intent_id = check_label(params.get("intent_id"), "intent_id", INTENT_ID_MAX)
    reason = check_text(params.get("reason"), "reason")
    asked = params.get("sites") or []
    sites = check_sites(asked)
    found: dict[str, dict[str, Any]] = {}
    for site in sites:
        live = site_repo(site).live_deliveries(intent_id)
        if live:
            found[site] = {"deliveries": live}
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
    return {"intentId": intent_id, "reason": reason, "sites": found}


def withdraw_revert(plan: dict[str, Any], run_id: str, ti: Any | None = None) -> dict[str, dict[str, Any]]:
    """Revert every delivery commit of the intent still in effect, in one commit per site, and push."""
    from include.gitops.repo import GitError, withdraw_message

    intent_id = plan["intentId"]
    results: dict[str, dict[str, Any]] = {}
    errors = []
    for site, found in sorted(plan["sites"].items()):
        shas = found["deliveries"]
        try:
            done = site_repo(site).revert_range(
                shas,
                message=withdraw_message(intent_id, site, shas, run_id, plan.get("reason") or ""),
                intent_id=intent_id,
                require_removed=True,
            )
        except GitError as exc:
            log.error("Cannot withdraw %s from %s: %s", intent_id, site, exc)
            results[site] = {"reverted": shas, "error": str(exc)}
            errors.append(f"{site}: {exc}")
            continue
        log.info("Withdrew %s from %s: commit %s (main was at %s)", intent_id, site, done.sha, done.previous)
        results[site] = _revert_record(done, intent_id)
    if ti is not None:
        ti.xcom_push(key="reverts", value=results)
    if errors:
        raise OperationFailed("withdrawal incomplete: " + "; ".join(errors))
    return results


def withdraw_evidence(ti: Any, dag_id: str, run_id: str) -> dict[str, Any]:
    """evidence.json of the withdrawal, and the run's summary (sites, revert commits, evidence path)."""
    from include.evidence import document

    plan = ti.xcom_pull(task_ids="plan")
    if not plan:
        raise OperationFailed(
            "the withdrawal was not planned (see the plan task): nothing was changed or written"
        )
    reverts = ti.xcom_pull(task_ids="revert", key="reverts") or {}
    restore = _restore(
        ti.xcom_pull(task_ids="wait_for_restore"),
        ti.xcom_pull(task_ids="wait_for_restore", key="completed_at"),
        reverts,
    )
    errors = [f"{site}: {r['error']}" for site, r in sorted(reverts.items()) if r.get("error")]
    if not reverts:
        errors.append("no revert was made: the revert task did not run to the end")
    elif restore is None and not errors:
        errors.append("the sites did not report the withdrawal as synced")
    evidence = document.build(
        intent_id=plan["intentId"],
        dag_id=dag_id,
        run_id=run_id,
        trigger="withdrawn",
        verdict=None,
        failure=None,
        delivered={site: {"sha": found["deliveries"][0]} for site, found in plan["sites"].items()},
        reverts=reverts,
        restore=restore,
        errors=errors,
        now=time.time(),
    )
    evidence["reason"] = plan.get("reason") or ""
    evidence["withdrawn"] = {site: found["deliveries"] for site, found in sorted(plan["sites"].items())}
    evidence["sha256"] = document.digest(evidence)
    path = document.write(evidence, evidence_dir())
    summary = {
        "intentId": plan["intentId"],
        "result": evidence["result"],
        "sites": sorted(plan["sites"]),
        "reverts": {site: r.get("sha") for site, r in sorted(reverts.items())},
        "evidence": str(path),
        "sha256": evidence["sha256"],
    }
    ti.xcom_push(key="summary", value=summary)
    log.warning("Withdrawal of %s: %s; evidence %s", plan["intentId"], evidence["result"], path)
    if evidence["result"] != "success":
        raise OperationFailed(f"the withdrawal did not complete ({'; '.join(errors)}); evidence: {path}")
    return summary


# -- slo_reverify ----------------------------------------------------------------------------------


def _targets_from_repo(repo: Any, intent_id: str, site: str) -> tuple[dict[str, float], str]:
    """The intent's TS 28.312 targets at ``site``, read from the delivered ``intent-28312`` ConfigMap."""
    import yaml

    from include.compiler import ts28312
    from include.compiler.convert import target_value

    text = repo.read(f"intents/{intent_id}/intent-configmap.yaml")
    if text is None:
        return {}, "no intent-28312 ConfigMap delivered: the seed's thresholds apply"
    try:
        configmap = yaml.safe_load(text)
        intent = ts28312.Intent.model_validate(json.loads(configmap["data"]["intent.json"]))
    except Exception as exc:  # a hand-edited file: say so, use the seed's thresholds
        return {}, f"the intent-28312 ConfigMap cannot be read ({' '.join(str(exc).split())[:200]})"
    expectation = intent.expectation_for(site)
    if expectation is None:
        return {}, f"the delivered intent has no expectation for {site}"
    return (
        {t.targetName: target_value(t) for t in expectation.expectationTargets},
        "the delivered intent-28312 ConfigMap",
    )


def reverify_discover() -> list[dict[str, Any]]:
    """Every intent deployed on some site's ``main``, with the commit that delivered it and its targets."""
    intents: dict[str, dict[str, Any]] = {}
    for site in load_settings().catalogue.names:
        repo = site_repo(site)
        for deployed in repo.deployed_intents():
            targets, source = _targets_from_repo(repo, deployed.intent_id, site)
            entry = intents.setdefault(deployed.intent_id, {"intentId": deployed.intent_id, "sites": {}})
            entry["sites"][site] = {
                "sha": deployed.commit,
                "head": deployed.head,
                "targets": {k: v for k, v in targets.items() if v is not None},
                "targetsFrom": source,
            }
    found = [intents[key] for key in sorted(intents)]
    log.info(
        "Deployed intents: %s",
        "; ".join(f"{i['intentId']} at {', '.join(i['sites'])}" for i in found) or "none",
    )
    return found


def reverify_verify(intent: dict[str, Any], profile_name: str) -> dict[str, Any]:
    """Evaluate one intent's SLOs at every site where it is deployed, as the pipeline's Verifying does."""
    from edge_intent.sites import prometheus_url
    from include.slo.definitions import load_config, slos_for
    from include.slo.evaluate import verify
    from include.slo.prometheus import PrometheusQuery

    config = load_config()
    if profile_name not in config.profiles:
        raise InvalidParam(
            f"slo_profile: unknown profile {profile_name!r}; known: {', '.join(config.profiles)}"
        )
    profile = config.profiles[profile_name]
    intent_id = check_label(intent["intentId"], "intentId", INTENT_ID_MAX)
    slos = []
    for site, deployed in sorted(intent["sites"].items()):
        slos += slos_for(
            namespace=names.namespace(intent_id),
            site=site,
            targets=deployed.get("targets") or {},
            config=config,
            profile=profile,
        )
    for slo in slos:
        log.info(
            "SLO %s at %s: %s %g %s (%s)",
            slo.name,
            slo.site,
            slo.condition,
            slo.threshold,
            slo.unit,
            slo.basis,
        )
    url, headers = prometheus_url()
    verdict = verify(slos, profile, PrometheusQuery(url, headers)).as_json()
    for breach in verdict["breaches"]:
        log.warning("Intent %s: SLO %s broken at %s", intent_id, breach["slo"], breach["site"])
    log.info(
        "Intent %s: %s%s",
        intent_id,
        verdict["result"],
        f" ({verdict['trigger']})" if verdict["trigger"] else "",
    )
    return {"intentId": intent_id, "sites": intent["sites"], "verdict": verdict}


def reverify_select(verified: list[dict[str, Any]], on_missing_data: str) -> list[dict[str, Any]]:
    """The intents to roll back: a measured breach of a rollback-class SLO (and missing data when
    ``on_missing_data`` is ``rollback``)."""
    if on_missing_data not in ("report", "rollback"):
        raise InvalidParam("on_missing_data: must be 'report' or 'rollback'")
    chosen = []
    for item in _items(verified):
        verdict = item["verdict"]
        if verdict["result"] != "breach":
            continue
        if verdict["trigger"] == "missing_data" and on_missing_data != "rollback":
            log.warning("Intent %s has no data: reported, not rolled back", item["intentId"])
            continue
        chosen.append(item)
    log.info("Rolling back: %s", ", ".join(i["intentId"] for i in chosen) or "nothing")
    return chosen


def reverify_revert(item: dict[str, Any], run_id: str, ti: Any | None = None) -> dict[str, dict[str, Any]]:
    """Revert the commit that delivered the intent on each site, as the pipeline's rollback does."""
    from include.gitops.repo import GitError, revert_message

    intent_id = item["intentId"]
    trigger = item["verdict"].get("trigger") or "slo_breach"
    results: dict[str, dict[str, Any]] = {}
    errors = []
    for site, deployed in sorted(item["sites"].items()):
        sha = deployed["sha"]
        try:
            done = site_repo(site).revert(
                intent_id,
                sha,
                message=revert_message(intent_id, site, sha, run_id, f"re-verification: {trigger}"),
            )
        except GitError as exc:
            log.error("Cannot roll back %s at %s: %s", intent_id, site, exc)
            results[site] = {"reverted": sha, "error": str(exc)}
            errors.append(f"{site}: {exc}")
            continue
        log.info("Reverted %s at %s: commit %s (main was at %s)", sha, site, done.sha, done.previous)
        results[site] = _revert_record(done, intent_id)
    if ti is not None:
        ti.xcom_push(key="reverts", value=results)
    if errors:
        raise OperationFailed("rollback incomplete: " + "; ".join(errors))
    return results


def reverify_evidence(ti: Any, item: dict[str, Any], group: str, dag_id: str, run_id: str) -> dict[str, Any]:
    """evidence.json of one re-verification rollback (the pipeline's document)."""
    from include.evidence import document

    index = ti.map_index if isinstance(ti.map_index, int) and ti.map_index >= 0 else None
    pulled = {"map_indexes": index} if index is not None else {}
    reverts = ti.xcom_pull(task_ids=f"{group}.revert", key="reverts", **pulled) or {}
    restore = _restore(
        ti.xcom_pull(task_ids=f"{group}.wait_for_restore", **pulled),
        ti.xcom_pull(task_ids=f"{group}.wait_for_restore", key="completed_at", **pulled),
        reverts,
    )
    errors = [f"{site}: {r['error']}" for site, r in sorted(reverts.items()) if r.get("error")]
    if not reverts:
        errors.append("no revert was made: the revert task did not run to the end")
    elif restore is None and not errors:
        errors.append("the sites did not report the restore as synced")
    verdict = item["verdict"]
    evidence = document.build(
        intent_id=item["intentId"],
        dag_id=dag_id,
        run_id=run_id,
        trigger=verdict.get("trigger") or "slo_breach",
        verdict=verdict,
        failure=None,
        delivered={site: {"sha": d["sha"]} for site, d in item["sites"].items()},
        reverts=reverts,
        restore=restore,
        errors=errors,
        now=time.time(),
    )
    path = document.write(evidence, evidence_dir())
    log.warning("Evidence of the rollback of %s: %s (%s)", item["intentId"], path, evidence["result"])
    return {
        "intentId": item["intentId"],
        "result": evidence["result"],
        "trigger": evidence["trigger"],
        "evidence": str(path),
        "reverts": {site: r.get("sha") for site, r in sorted(reverts.items())},
    }


def _items(value: Any) -> list[Any]:
    """The values of a mapped task's output: none, one (a single mapped instance), or several."""
    if value is None:
        return []
    if isinstance(value, dict):
        return [value]
    return list(value)


def reverify_summary(
    verified: list[dict[str, Any]] | None, rolled_back: list[Any] | None, ti: Any
) -> dict[str, Any]:
    """What every intent's re-verification found, and what was rolled back; fails the run when an
    intent could not be verified or a rollback did not complete."""
    verified = [v for v in _items(verified) if v]
    done = [r for r in _items(rolled_back) if r]
    by_id = {r["intentId"]: r for r in done}
    summary: dict[str, Any] = {"checked": len(verified), "passed": [], "rolledBack": done, "unverified": []}
    for item in verified:
        verdict = item["verdict"]
        entry = {
            "intentId": item["intentId"],
            "sites": {site: d["sha"] for site, d in sorted(item["sites"].items())},
            "result": verdict["result"],
            "trigger": verdict["trigger"],
            "slos": verdict["slos"],
        }
        if verdict["result"] == "pass":
            summary["passed"].append(entry)
        elif item["intentId"] not in by_id:
            summary["unverified"].append(entry)
    ti.xcom_push(key="summary", value=summary)
    problems = [f"{u['intentId']} not verified ({u['trigger']})" for u in summary["unverified"]]
    problems += [f"rollback of {r['intentId']} {r['result']}" for r in done if r["result"] != "success"]
    log.info(
        "Re-verified %d intent(s): %d passed, %d rolled back, %d unverified",
        len(verified),
        len(summary["passed"]),
        len(done),
        len(summary["unverified"]),
    )
    if problems:
        raise OperationFailed("; ".join(problems))
    return summary


# -- emergency_fail_run ----------------------------------------------------------------------------


def _api_call(base: str, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(  # noqa: S310 (http(s) only: checked in airflow_api)
        f"{base}{path}",
        method=method,
        headers=headers,
        data=None if body is None else json.dumps(body).encode(),
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:  # noqa: S310 (the connection's URL)
            return json.load(reply)
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")[:300]
        raise OperationFailed(
            f"Airflow's API answered HTTP {exc.code} to {method} {path}: {detail}"
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        raise OperationFailed(f"Airflow's API at {base} cannot be reached: {exc}") from None


def airflow_api(conn_id: str = AIRFLOW_API_CONN_ID) -> tuple[str, str]:
    """The api-server's base URL and a JWT from ``POST /auth/token`` with the connection's login."""
    conn = BaseHook.get_connection(conn_id)
    host = (conn.host or "").rstrip("/")
    if "://" not in host:
        host = f"{conn.schema or 'http'}://{host}{f':{conn.port}' if conn.port else ''}"
    parts = urllib.parse.urlsplit(host)
    if parts.username or parts.password or parts.scheme not in ("http", "https"):
        raise OperationFailed(f"connection {conn_id}: the host must be an http(s) URL without credentials")
    token = _api_call(host, "POST", "/auth/token", {"username": conn.login, "password": conn.password})
    return host, token["access_token"]


FAIL_CONFIRMATIONS = 3
FAIL_CONFIRM_DELAY = 3.0
"""Seconds between marking a run failed and reading it back (a few scheduler loops)."""


def fail_run(params: dict[str, Any]) -> dict[str, Any]:
    """Mark a stuck run of one of the project's DAGs failed through Airflow's REST API v2."""
    dag_id = params.get("dag_id")
    if dag_id not in PROJECT_DAGS:
        raise InvalidParam(
            f"dag_id: must be one of the project's DAGs ({', '.join(PROJECT_DAGS)}), got {_shown(dag_id)}"
        )
    run_id = params.get("run_id")
    if not isinstance(run_id, str) or not RUN_ID.match(run_id) or ".." in run_id:
        raise InvalidParam(
            f"run_id: must be a DAG run id (letters, digits, '_.:+-', at most 250), got {_shown(run_id)}"
        )
    reason = check_text(params.get("reason"), "reason")
    base, token = airflow_api()
    path = f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}"
    run = _api_call(base, "GET", path, token=token)
    before = run.get("state")
    if before in ("success", "failed"):
        raise OperationFailed(f"run {run_id} of {dag_id} has already finished ({before}): nothing to fail")
    after = _api_call(base, "PATCH", path, {"state": "failed"}, token=token)
    # Airflow marks the run's active tasks failed and the pending ones skipped; a scheduler loop that
    # had the run in hand can still finish it from those states (a run whose leaves all skipped ends
    # "success"). Read the run back after the scheduler has had time to act, and mark it again.
    for _ in range(FAIL_CONFIRMATIONS):
        time.sleep(FAIL_CONFIRM_DELAY)
        after = _api_call(base, "GET", path, token=token)
        if after.get("state") == "failed":
            break
        log.warning(
            "Run %s of %s is %s after being marked failed; marking it again",
            run_id,
            dag_id,
            after.get("state"),
        )
        after = _api_call(base, "PATCH", path, {"state": "failed"}, token=token)
    if after.get("state") != "failed":
        raise OperationFailed(f"run {run_id} of {dag_id} did not stay failed (it is {after.get('state')})")
    log.warning(
        "Marked run %s of %s failed (it was %s): %s", run_id, dag_id, before, reason or "no reason given"
    )
    return {
        "dagId": dag_id,
        "runId": run_id,
        "previousState": before,
        "state": after.get("state"),
        "reason": reason,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


# -- emergency_resync ------------------------------------------------------------------------------


def resync_restart(params: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Restart the site's Config Sync reconciler as ``kubectl rollout restart`` does (a strategic
    merge patch of ``spec.template.metadata.annotations["kubectl.kubernetes.io/restartedAt"]`` of
    ``config-management-system/root-reconciler``), through the site's Kubernetes connection.
    Returns the wait's targets: the site and the commit ``main`` points at."""
    site = check_sites([params.get("site")], "site")[0] if isinstance(params.get("site"), str) else None
    if site is None:
        raise InvalidParam("site: name one catalogue site")
    head = site_repo(site).head()
    restarted_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: restarted_at}}}}}
    name, namespace = RECONCILER
    EdgeSite(site).hook.apps_v1_client.patch_namespaced_deployment(
        name, namespace, body, _content_type="application/strategic-merge-patch+json"
    )
    log.warning(
        "Restarted %s/%s at %s (%s); waiting for commit %s", namespace, name, site, restarted_at, head
    )
    return {site: {"sha": head, "restartedAt": restarted_at}}


# -- emergency_checkpoint --------------------------------------------------------------------------


def checkpoint_plan(params: dict[str, Any]) -> dict[str, Any]:
    """Check the name and that no site has the tag yet (an existing checkpoint is never moved)."""
    name = check_label(params.get("name"), "name", CHECKPOINT_MAX)
    message = check_text(params.get("message"), "message")
    tag = checkpoint_tag(name)
    sites = list(load_settings().catalogue.names)
    taken = [site for site in sites if site_repo(site).tag_commit(tag)]
    if taken:
        raise OperationFailed(
            f"checkpoint {name} already exists at {', '.join(taken)}: a checkpoint is never moved; "
            "choose another name"
        )
    return {"name": name, "tag": tag, "message": message, "sites": sites}


def checkpoint_create(plan: dict[str, Any], run_id: str) -> dict[str, Any]:
    """Tag ``main`` of every site repository with the annotated tag and push it (never forced)."""
    from include.gitops.repo import GitError

    tagged, errors = {}, []
    for site in plan["sites"]:
        try:
            tag = site_repo(site).create_tag(
                plan["tag"],
                message=f"{plan['message'] or 'checkpoint'}\n\nSite: {site}\nDag-Run-Id: {run_id}\n",
            )
        except GitError as exc:
            errors.append(f"{site}: {exc}")
            continue
        tagged[site] = tag.commit
        log.info("Tagged %s at %s: %s", plan["tag"], site, tag.commit)
    if errors:
        raise OperationFailed(
            f"checkpoint incomplete (tagged: {', '.join(tagged) or 'none'}): " + "; ".join(errors)
        )
    return {"name": plan["name"], "tag": plan["tag"], "sites": tagged}


# -- emergency_reset -------------------------------------------------------------------------------


def reset_plan(params: dict[str, Any]) -> dict[str, Any]:
    """Check that every site has the checkpoint, and list the commits after it; changes nothing."""
    from include.gitops.repo import GitError

    name = check_label(params.get("checkpoint"), "checkpoint", CHECKPOINT_MAX)
    reason = check_text(params.get("reason"), "reason")
    tag = checkpoint_tag(name)
    sites = list(load_settings().catalogue.names)
    unknown = [site for site in sites if not site_repo(site).tag_commit(tag)]
    if unknown:
        raise OperationFailed(
            f"checkpoint {name} is unknown at {', '.join(unknown)} (no tag {tag}): nothing changed"
        )
    planned, errors = {}, []
    for site in sites:
        try:
            tagged, since = site_repo(site).commits_since(tag)
        except GitError as exc:
            errors.append(f"{site}: {exc}")
            continue
        planned[site] = {"tagCommit": tagged, "commits": since}
        log.info("%s: %d commit(s) after %s (%s)", site, len(since), tag, tagged)
    if errors:
        raise OperationFailed("cannot reset: " + "; ".join(errors) + "; nothing changed")
    return {"name": name, "tag": tag, "reason": reason, "sites": planned}


def reset_revert(plan: dict[str, Any], run_id: str, ti: Any | None = None) -> dict[str, dict[str, Any]]:
    """Revert every commit after the checkpoint on each site (newest first, one commit), and push."""
    from include.gitops.repo import GitError, reset_message

    results: dict[str, dict[str, Any]] = {}
    errors = []
    for site, planned in sorted(plan["sites"].items()):
        repo = site_repo(site)
        try:
            tagged, since = repo.commits_since(plan["tag"])  # again: main may have moved since the plan
            head = since[0] if since else tagged
            if not since or repo.same_tree(tagged, head):
                log.info("%s already holds %s exactly: nothing to revert", site, plan["tag"])
                results[site] = {
                    "sha": head,
                    "reverted": [],
                    "previous": head,
                    "created": False,
                    "removed": False,
                    "seconds": 0.0,
                    "pushedAt": None,
                    "namespace": "",
                    "tagCommit": tagged,
                }
                continue
            done = repo.revert_range(
                since,
                message=reset_message(plan["tag"], site, len(since), run_id, plan["reason"]),
                idempotent=False,
            )
        except GitError as exc:
            log.error("Cannot reset %s to %s: %s", site, plan["tag"], exc)
            results[site] = {"error": str(exc), "tagCommit": planned["tagCommit"]}
            errors.append(f"{site}: {exc}")
            continue
        log.warning("Reset %s to %s: commit %s reverts %d commit(s)", site, plan["tag"], done.sha, len(since))
        results[site] = {**_revert_record(done, None), "tagCommit": tagged}
    if ti is not None:
        ti.xcom_push(key="reverts", value=results)
    if errors:
        raise OperationFailed("reset incomplete: " + "; ".join(errors))
    return results


def reset_evidence(ti: Any, dag_id: str, run_id: str) -> dict[str, Any]:
    """evidence.json of the reset: each site's commits before and after, what was reverted, and
    whether the site's tree now equals the checkpoint's (compared by git, not assumed)."""
    from include.evidence import checkpoint

    plan = ti.xcom_pull(task_ids="plan")
    if not plan:
        raise OperationFailed("the reset was not planned (see the plan task): nothing was changed or written")
    reverts = ti.xcom_pull(task_ids="revert", key="reverts") or {}
    restore = _restore(
        ti.xcom_pull(task_ids="wait_for_restore"),
        ti.xcom_pull(task_ids="wait_for_restore", key="completed_at"),
        {s: r for s, r in reverts.items() if r.get("pushedAt")},
    )
    matches = {}
    for site, r in sorted(reverts.items()):
        if r.get("sha") and r.get("tagCommit"):
            matches[site] = site_repo(site).same_tree(r["tagCommit"], r["sha"])
    evidence = checkpoint.build_reset(
        name=plan["name"],
        tag=plan["tag"],
        dag_id=dag_id,
        run_id=run_id,
        reason=plan["reason"],
        reverts=reverts,
        restore=restore,
        matches=matches,
        now=time.time(),
    )
    path = checkpoint.write(evidence, evidence_dir())
    ti.xcom_push(
        key="summary",
        value={"checkpoint": plan["name"], "result": evidence["result"], "evidence": str(path)},
    )
    log.warning("Reset to %s: %s; evidence %s", plan["tag"], evidence["result"], path)
    if evidence["result"] != "success":
        raise OperationFailed(
            f"the reset did not complete ({'; '.join(evidence['errors'])}); evidence: {path}"
        )
    return {
        "checkpoint": plan["name"],
        "result": evidence["result"],
        "sites": {site: r.get("sha") for site, r in sorted(reverts.items())},
        "evidence": str(path),
    }
