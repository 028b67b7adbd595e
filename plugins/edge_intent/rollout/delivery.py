"""Delivering: one commit per site under ``intents/<id>/`` of the site's config repository, pushed.

Git is the record of what was delivered: every delivery commit carries trailers naming its intent
and DAG run (``Intent-Id``, ``Dag-Run-Id``). The ``delivered`` XCom says what has landed so far, but a
retried task loses its XComs (Airflow clears them), so :func:`delivered` also asks each site's
repository for the run's own commits: a partial delivery is a delivery, reverted and recorded.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from edge_intent.hooks.site_repo import SiteRepoHook
from include.compiler import names
from include.gitops.repo import commit_message
from include.lifecycle import DELIVER, RENDER, Key

log = logging.getLogger(__name__)


def _record(repo: Any, intent_id: str, site: str, sha: str, **extra: Any) -> dict[str, Any]:
    return {
        "sha": sha,
        "repo": repo.url,
        "provisioningRequest": names.provisioning_request(intent_id, site),
        **extra,
    }


def deliver(
    intent_id: str,
    sites: dict[str, dict[str, str]],
    *,
    run_id: str | None,
    ti: Any | None = None,
    git_conn_id: str = SiteRepoHook.default_conn_name,
    progress_deadline: float | None = None,
) -> dict[str, dict[str, Any]]:
    """Commit each site's files under ``intents/<intent_id>/`` and push; ``{site: delivery}``.

    What has landed is pushed to the XCom ``delivered`` after each site, so a later site's failure
    leaves the record of the earlier ones.

    :param progress_deadline: seconds a site has, from its push, to be synced and provisioned (the
        rollout's ``progressDeadline``): each delivery then carries its ``deadline`` for the waits.
    """
    hook = SiteRepoHook(git_conn_id)
    done: dict[str, dict[str, Any]] = {}
    for site, files in sorted(sites.items()):
        repo = hook.get_repo(site)
        result = repo.deliver(intent_id, files, message=commit_message(intent_id, site, run_id))
        log.info(
            "Delivered intent %s to %s: commit %s (%s, %d push attempt(s), %.2f s)",
            intent_id,
            site,
            result.sha,
            "new" if result.created else "already there",
            result.attempts,
            result.seconds,
        )
        pushed_at = time.time()  # the push has just landed (or was already there)
        done[site] = _record(
            repo,
            intent_id,
            site,
            result.sha,
            created=result.created,
            seconds=round(result.seconds, 3),
            pushedAt=pushed_at,
        )
        if progress_deadline is not None:
            done[site]["deadline"] = pushed_at + progress_deadline
        if ti is not None:
            ti.xcom_push(key=Key.DELIVERED, value=done)
    return done


class DeliveryUnknown(RuntimeError):
    """A site's repository cannot be read, so what this run delivered there is not known. Not a
    fail exception: the task retries, since concluding "nothing delivered" could leave a partial
    delivery running unreverted."""


def in_xcom(ti: Any, plan: Any) -> dict[str, dict[str, Any]]:
    """``{site: delivery}`` the ``delivered`` XComs of every wave's deliver tasks hold (no Git read)."""
    from edge_intent.rollout import waves

    found: dict[str, dict[str, Any]] = {}
    for wave in plan.waves if plan else ():
        for value in waves.pulled(ti, wave.index, DELIVER, Key.DELIVERED):
            found.update(value or {})
    return found


def run_commits(
    intent_id: str, run_id: str, sites: list[str], git_conn_id: str = SiteRepoHook.default_conn_name
) -> dict[str, list[str]]:
    """``{site: this run's commits there, newest first}``: its delivery and the scale commits its
    Verifying added, read from each site's repository (a retried task's XComs are gone; Git is the
    record). What a rollback of the run reverts there.

    :raises DeliveryUnknown: a site's repository cannot be read.
    """
    hook = SiteRepoHook(git_conn_id)
    found = {}
    for site in sorted(sites):
        try:
            found[site] = hook.get_repo(site).deliveries_of_run(intent_id, run_id)
        except Exception as exc:  # the Git server is down: ask again on the task's retry
            raise DeliveryUnknown(f"cannot read {site}'s repository for {run_id}'s commits: {exc}") from exc
    return found


def delivered(
    ti: Any, run_id: str, git_conn_id: str = SiteRepoHook.default_conn_name
) -> dict[str, dict[str, Any]]:
    """What this run delivered, over every wave: the ``delivered`` XComs of the waves' deliver tasks,
    and every site a wave started whose repository holds a delivery commit of this intent made by
    this run that the XCom lost (``recoveredFromGit``).

    :raises DeliveryUnknown: a started site the XComs do not cover cannot be read.
    """
    from edge_intent.rollout import waves

    plan = waves.plan_of(ti)
    rendered = ti.xcom_pull(task_ids=RENDER)
    if plan is None or not rendered:
        return {}
    found = in_xcom(ti, plan)
    started = [site for wave in plan.waves for site in waves.started_sites(ti, wave.index)]
    intent_id = rendered["intentId"]
    hook = SiteRepoHook(git_conn_id)
    for site in sorted(set(started) - set(found)):
        try:
            repo = hook.get_repo(site)
            commits = repo.deliveries_of_run(intent_id, run_id)
        except Exception as exc:  # the Git server is down: ask again on the task's retry
            raise DeliveryUnknown(
                f"cannot read {site}'s repository for what run {run_id} delivered there: {exc}"
            ) from exc
        if commits:
            log.warning("Delivery of %s to %s found in Git only: commit %s", intent_id, site, commits[0])
            found[site] = _record(repo, intent_id, site, commits[0], recoveredFromGit=True)
    return found
