"""Orphans: intents present at a site's ``main`` that no successful pipeline run stands behind.

Git says what is deployed and, in each delivery commit's ``Dag-Run-Id`` trailer, which run put it
there; Airflow's REST API says how that run ended. A delivery still in effect is an orphan when:

* its run ended ``failed`` (a run that failed after a partial delivery and could not roll it back,
  or that was failed by hand);
* its run is unknown to Airflow (deleted with ``airflow db clean``, or made by another Airflow);
* it names no run at all (a commit made by hand or by another tool).

A run still queued or running stands behind its delivery; so does one that succeeded. Orphans are
reported by ``slo_reverify`` on every run and by ``intent_reconcile``, which also takes them out
when told to (a withdrawal: revert of exactly those delivery commits, the restore sync, evidence).
"""

from __future__ import annotations

import logging
from typing import Any

from edge_intent.hooks.airflow_api import AirflowApiHook
from edge_intent.hooks.site_repo import SiteRepoHook
from edge_intent.operations.params import OperationFailed, check_text
from edge_intent.rollout.revert import Kind, plan
from include.airflow_rest import AirflowRestError
from include.compiler.config import load_settings
from include.lifecycle import Dag

log = logging.getLogger(__name__)

IN_FLIGHT = {"queued", "running"}
TRIGGER = "orphan"


class RunStates:
    """How the pipeline runs that delivery commits name ended, asked once per run."""

    def __init__(self, api: AirflowApiHook) -> None:
        self.api = api
        self._states: dict[str, str | None] = {}

    def __call__(self, run_id: str) -> str | None:
        """The run's state; None when Airflow does not know the run."""
        if run_id not in self._states:
            try:
                self._states[run_id] = self.api.get_dag_run(Dag.PIPELINE.value, run_id).get("state")
            except AirflowRestError as exc:
                if exc.status == 404:
                    self._states[run_id] = None
                elif 400 <= exc.status < 500:  # refused (login, permission): a retry cannot help
                    raise OperationFailed(f"cannot ask Airflow how run {run_id} ended: {exc}") from None
                else:  # no answer, or a server error: the task retries
                    raise RuntimeError(f"cannot ask Airflow how run {run_id} ended: {exc}") from None
        return self._states[run_id]


def why_orphan(run_id: str | None, state_of: RunStates) -> str | None:
    """Why a delivery commit that names ``run_id`` is an orphan; None when a run stands behind it."""
    if not run_id or run_id == "manual":
        return "delivered without a DAG run (no Dag-Run-Id trailer)"
    state = state_of(run_id)
    if state is None:
        return f"its run {run_id} is not known to Airflow"
    if state == "failed":
        return f"its run {run_id} ended failed"
    return None


def find(
    git_conn_id: str = SiteRepoHook.default_conn_name,
    airflow_api_conn_id: str = AirflowApiHook.default_conn_name,
) -> list[dict[str, Any]]:
    """Every orphan, by intent: ``[{intentId, sites: {site: {commits, runs, reasons}}}]``."""
    git = SiteRepoHook(git_conn_id)
    state_of = RunStates(AirflowApiHook(airflow_api_conn_id))
    found: dict[str, dict[str, Any]] = {}
    for site in load_settings().catalogue.names:
        for deployed in git.get_repo(site).deployed_intents():
            runs = deployed.runs or (None,) * len(deployed.deliveries)
            for sha, run_id in zip(deployed.deliveries, runs, strict=True):
                reason = why_orphan(run_id, state_of)
                if reason is None:
                    continue
                entry = found.setdefault(deployed.intent_id, {"intentId": deployed.intent_id, "sites": {}})
                at_site = entry["sites"].setdefault(site, {"commits": [], "runs": [], "reasons": []})
                at_site["commits"].append(sha)
                at_site["runs"].append(run_id)
                at_site["reasons"].append(reason)
                log.warning("Orphan: intent %s at %s, commit %s: %s", deployed.intent_id, site, sha, reason)
    orphans = [found[key] for key in sorted(found)]
    log.info("Orphans: %s", ", ".join(o["intentId"] for o in orphans) or "none")
    return orphans


def report(
    git_conn_id: str = SiteRepoHook.default_conn_name,
    airflow_api_conn_id: str = AirflowApiHook.default_conn_name,
) -> list[dict[str, Any]]:
    """:func:`find` for scheduled re-verification: skipped (saying why) where Airflow's REST API has
    no connection, as in a DAG test without an api-server."""
    from airflow.sdk.exceptions import AirflowNotFoundException, AirflowSkipException

    try:
        AirflowApiHook(airflow_api_conn_id).get_conn()
    except AirflowNotFoundException:
        raise AirflowSkipException(
            f"no connection {airflow_api_conn_id}: orphans cannot be checked without Airflow's REST API"
        ) from None
    return find(git_conn_id, airflow_api_conn_id)


def plans(orphans: list[dict[str, Any]] | None, params: dict[str, Any]) -> list[dict[str, Any]]:
    """The withdrawal plans of the orphans, when ``params["revert"]`` says so; otherwise none."""
    reason = check_text(params.get("reason"), "reason") or "orphaned delivery"
    if not params.get("revert"):
        log.info("Reporting only (revert is off): %d orphan(s)", len(orphans or []))
        return []
    return [
        plan(
            Kind.WITHDRAW,
            {site: found["commits"] for site, found in orphan["sites"].items()},
            intent_id=orphan["intentId"],
            trigger=TRIGGER,
            reason=reason,
            # a good delivery may lie under the orphaned ones: the directory then stays, as it was
            requireRemoved=False,
        )
        for orphan in orphans or []
    ]


def summary(orphans: Any, reverted: Any) -> dict[str, Any]:
    """The orphans found and the evidence of each one taken out; fails when a withdrawal did not
    complete."""
    from edge_intent.operations.reverify import items

    found = [o for o in items(orphans) if o]
    done = [r for r in items(reverted) if r]
    result = {"orphans": found, "reverted": done}
    incomplete = [r["intentId"] for r in done if r.get("result") != "success"]
    if incomplete:
        raise OperationFailed(f"orphans not taken out completely: {', '.join(incomplete)}")
    return result
