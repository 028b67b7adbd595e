"""The seed's emergency procedures: fail a stuck run, force a GitOps resync, checkpoint every site,
and plan a reset to a checkpoint (reverting is the rollout engine's)."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from edge_intent.hooks.airflow_api import AirflowApiHook
from edge_intent.hooks.edge_site import RECONCILER, EdgeSiteHook
from edge_intent.hooks.site_repo import SiteRepoHook
from edge_intent.operations.params import (
    CHECKPOINT_MAX,
    InvalidParam,
    OperationFailed,
    check_label,
    check_run_id,
    check_sites,
    check_text,
    shown,
)
from edge_intent.rollout.revert import Kind, plan
from include.airflow_rest import AirflowRestError
from include.compiler.config import load_settings
from include.lifecycle import Dag

log = logging.getLogger(__name__)

CHECKPOINT_PREFIX = "checkpoint"
# The DAGs whose stuck runs emergency_fail_run may end.
PROJECT_DAGS = tuple(str(dag) for dag in Dag if dag != Dag.FAIL_RUN)
FAIL_CONFIRMATIONS = 3
FAIL_CONFIRM_DELAY = 3.0
"""Seconds between marking a run failed and reading it back (a few scheduler loops)."""


def checkpoint_tag(name: str) -> str:
    return f"{CHECKPOINT_PREFIX}/{name}"


# -- emergency_fail_run ----------------------------------------------------------------------------


def fail_run(params: dict[str, Any], airflow_api_conn_id: str = AirflowApiHook.default_conn_name) -> dict:
    """Mark a stuck run of one of the project's DAGs failed through Airflow's REST API v2."""
    dag_id = params.get("dag_id")
    if dag_id not in PROJECT_DAGS:
        raise InvalidParam(
            f"dag_id: must be one of the project's DAGs ({', '.join(PROJECT_DAGS)}), got {shown(dag_id)}"
        )
    run_id = check_run_id(params.get("run_id"))
    reason = check_text(params.get("reason"), "reason")
    try:
        return _fail_run(AirflowApiHook(airflow_api_conn_id), dag_id, run_id, reason)
    except AirflowRestError as exc:
        raise OperationFailed(f"Airflow's API: {exc}") from None
    except ValueError as exc:  # the connection itself is refused (no login, credentials in its URL)
        raise OperationFailed(str(exc)) from None


def _fail_run(api: AirflowApiHook, dag_id: str, run_id: str, reason: str) -> dict[str, Any]:
    before = api.get_dag_run(dag_id, run_id).get("state")
    if before in ("success", "failed"):
        raise OperationFailed(f"run {run_id} of {dag_id} has already finished ({before}): nothing to fail")
    after = api.set_dag_run_state(dag_id, run_id, "failed")
    # Airflow marks the run's active tasks failed and the pending ones skipped; a scheduler loop that
    # had the run in hand can still finish it from those states (a run whose leaves all skipped ends
    # "success"). Read the run back after the scheduler has had time to act, and mark it again.
    for _ in range(FAIL_CONFIRMATIONS):
        time.sleep(FAIL_CONFIRM_DELAY)
        after = api.get_dag_run(dag_id, run_id)
        if after.get("state") == "failed":
            break
        log.warning(
            "Run %s of %s is %s after being marked failed; marking it again",
            run_id,
            dag_id,
            after.get("state"),
        )
        after = api.set_dag_run_state(dag_id, run_id, "failed")
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


def resync_restart(params: dict[str, Any], git_conn_id: str = SiteRepoHook.default_conn_name) -> dict:
    """Restart the site's Config Sync reconciler as ``kubectl rollout restart`` does, through the
    site's Kubernetes connection. Returns the wait's targets: the site and the commit ``main`` is at."""
    if not isinstance(params.get("site"), str):
        raise InvalidParam("site: name one catalogue site")
    site = check_sites([params["site"]], "site")[0]
    head = SiteRepoHook(git_conn_id).get_repo(site).head()
    restarted_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    EdgeSiteHook(site).restart_reconciler(restarted_at)
    name, namespace = RECONCILER
    log.warning(
        "Restarted %s/%s at %s (%s); waiting for commit %s", namespace, name, site, restarted_at, head
    )
    return {site: {"sha": head, "restartedAt": restarted_at}}


# -- emergency_checkpoint --------------------------------------------------------------------------


def checkpoint_plan(params: dict[str, Any], git_conn_id: str = SiteRepoHook.default_conn_name) -> dict:
    """Check the name and that no site has the tag yet (an existing checkpoint is never moved)."""
    name = check_label(params.get("name"), "name", CHECKPOINT_MAX)
    message = check_text(params.get("message"), "message")
    tag = checkpoint_tag(name)
    sites = list(load_settings().catalogue.names)
    hook = SiteRepoHook(git_conn_id)
    taken = [site for site in sites if hook.get_repo(site).tag_commit(tag)]
    if taken:
        raise OperationFailed(
            f"checkpoint {name} already exists at {', '.join(taken)}: a checkpoint is never moved; "
            "choose another name"
        )
    return {"name": name, "tag": tag, "message": message, "sites": sites}


def checkpoint_create(
    checkpoint: dict[str, Any], run_id: str, git_conn_id: str = SiteRepoHook.default_conn_name
) -> dict[str, Any]:
    """Tag ``main`` of every site repository with the annotated tag and push it (never forced)."""
    from include.gitops.repo import GitError

    hook = SiteRepoHook(git_conn_id)
    tagged, errors = {}, []
    for site in checkpoint["sites"]:
        try:
            tag = hook.get_repo(site).create_tag(
                checkpoint["tag"],
                message=f"{checkpoint['message'] or 'checkpoint'}\n\nSite: {site}\nDag-Run-Id: {run_id}\n",
            )
        except GitError as exc:
            errors.append(f"{site}: {exc}")
            continue
        tagged[site] = tag.commit
        log.info("Tagged %s at %s: %s", checkpoint["tag"], site, tag.commit)
    if errors:
        raise OperationFailed(
            f"checkpoint incomplete (tagged: {', '.join(tagged) or 'none'}): " + "; ".join(errors)
        )
    return {"name": checkpoint["name"], "tag": checkpoint["tag"], "sites": tagged}


# -- emergency_reset -------------------------------------------------------------------------------


def reset_plan(params: dict[str, Any], git_conn_id: str = SiteRepoHook.default_conn_name) -> dict[str, Any]:
    """Check that every site has the checkpoint, and list the commits after it; changes nothing."""
    from include.gitops.repo import GitError

    name = check_label(params.get("checkpoint"), "checkpoint", CHECKPOINT_MAX)
    reason = check_text(params.get("reason"), "reason")
    tag = checkpoint_tag(name)
    sites = list(load_settings().catalogue.names)
    hook = SiteRepoHook(git_conn_id)
    unknown = [site for site in sites if not hook.get_repo(site).tag_commit(tag)]
    if unknown:
        raise OperationFailed(
            f"checkpoint {name} is unknown at {', '.join(unknown)} (no tag {tag}): nothing changed"
        )
    planned, tag_commits, errors = {}, {}, []
    for site in sites:
        try:
            tagged, since = hook.get_repo(site).commits_since(tag)
        except GitError as exc:
            errors.append(f"{site}: {exc}")
            continue
        planned[site], tag_commits[site] = since, tagged
        log.info("%s: %d commit(s) after %s (%s)", site, len(since), tag, tagged)
    if errors:
        raise OperationFailed("cannot reset: " + "; ".join(errors) + "; nothing changed")
    reset = plan(
        Kind.RESET, planned, intent_id=None, trigger="emergency_reset", reason=reason, name=name, tag=tag
    )
    for site, tagged in tag_commits.items():
        reset["sites"][site]["tagCommit"] = tagged
    return reset
