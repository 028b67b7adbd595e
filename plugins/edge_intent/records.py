"""What Airflow's metadata DB knows about an intent: its runs, their tasks and XComs, its phase.

The intent API reads these in the api-server process (which has DB access; task processes do not).
An intent's runs are found two ways: runs the intent API starts are named
``intent__<intent id>__<UTC time>``, and every pipeline run that gets past ``validate`` records the
intent's id in the XCom ``intent_id`` (so runs triggered from the CLI, the UI or REST are found too).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from edge_intent.pipeline import PHASES

PIPELINE = "intent_pipeline"
WITHDRAW = "intent_withdraw"
RUN_PREFIX = "intent__"
ACTIVE = {"running", "deferred", "up_for_reschedule", "up_for_retry", "queued", "scheduled", "restarting"}
FINISHED = {"success", "failed", "skipped", "upstream_failed", "removed"}
SCAN_LIMIT = 2_000
"""Most recent runs scanned for ids recorded in XCom or conf (API-started runs are found by name)."""


def run_id_for(intent_id: str, now: datetime) -> str:
    """The run id the intent API gives a run of ``intent_id``."""
    return f"{RUN_PREFIX}{intent_id}__{now:%Y%m%dT%H%M%S%fZ}"


def _value(raw: Any) -> Any:
    if isinstance(raw, str | bytes):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


@dataclass
class RunRecord:
    """One run of the pipeline (or of the withdraw DAG) with its task states and XComs."""

    dag_id: str
    run_id: str
    state: str
    created: datetime | None
    started: datetime | None
    ended: datetime | None
    conf: dict[str, Any]
    tasks: dict[str, str] = field(default_factory=dict)
    xcoms: dict[tuple[str, str], Any] = field(default_factory=dict)

    def xcom(self, task_id: str, key: str = "return_value") -> Any:
        return self.xcoms.get((task_id, key))

    @property
    def phase(self) -> str:
        """The phase of the operator state machine this run is in (or ended in), by name."""
        if self.dag_id == WITHDRAW:
            return {"success": "Withdrawn", "failed": "Failed"}.get(self.state, "Withdrawing")
        if self.state == "queued":
            return "Pending"
        if self.state == "success":
            return "Succeeded"
        rolling_back = any(
            task.startswith("rollback.") and state in ACTIVE | {"success", "failed", "upstream_failed"}
            for task, state in self.tasks.items()
        )
        if self.state == "failed":
            return "Failed"
        if rolling_back:
            return "RollingBack"
        active = [task for task in PHASES if self.tasks.get(task) in ACTIVE]
        done = [task for task in PHASES if self.tasks.get(task) in FINISHED]
        current = active[-1] if active else (done[-1] if done else "validate")
        phase = PHASES[current]
        if phase == "Outcome":  # the watcher is deciding how the run ends
            return "Succeeded" if self.xcom("report") else "RollingBack"
        return phase

    def summary(self) -> dict[str, Any]:
        return {
            "dagId": self.dag_id,
            "runId": self.run_id,
            "state": self.state,
            "phase": self.phase,
            "created": _iso(self.created),
            "started": _iso(self.started),
            "ended": _iso(self.ended),
        }


def _load(session: Session, runs: list[Any]) -> list[RunRecord]:
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel

    records = {
        run.id: RunRecord(
            dag_id=run.dag_id,
            run_id=run.run_id,
            state=str(run.state.value if hasattr(run.state, "value") else run.state),
            created=run.queued_at or run.run_after,
            started=run.start_date,
            ended=run.end_date,
            conf=dict(run.conf or {}),
        )
        for run in runs
    }
    if not records:
        return []
    by_key = {(r.dag_id, r.run_id): r for r in records.values()}
    run_ids = [r.run_id for r in records.values()]
    for dag_id, run_id, task_id, state in session.execute(
        select(TaskInstance.dag_id, TaskInstance.run_id, TaskInstance.task_id, TaskInstance.state).where(
            TaskInstance.run_id.in_(run_ids)
        )
    ):
        if (dag_id, run_id) in by_key:
            by_key[(dag_id, run_id)].tasks[task_id] = str(
                state.value if hasattr(state, "value") else state or ""
            )
    for dag_run_id, task_id, key, value in session.execute(
        select(XComModel.dag_run_id, XComModel.task_id, XComModel.key, XComModel.value).where(
            XComModel.dag_run_id.in_(list(records))
        )
    ):
        records[dag_run_id].xcoms[(task_id, key)] = _value(value)
    return sorted(
        records.values(), key=lambda r: r.created or datetime.min.replace(tzinfo=None), reverse=False
    )


def _candidates(session: Session, intent_id: str | None) -> list[Any]:
    """DagRun rows of ``intent_id`` (every intent when None), newest first."""
    from airflow.models.dagrun import DagRun
    from airflow.models.xcom import XComModel

    newest = DagRun.id.desc()
    found: dict[int, Any] = {}
    named = select(DagRun).where(DagRun.dag_id.in_([PIPELINE, WITHDRAW]))
    named = named.where(DagRun.run_id.like(f"{RUN_PREFIX}{intent_id}__%" if intent_id else f"{RUN_PREFIX}%"))
    for run in session.scalars(named.order_by(newest).limit(SCAN_LIMIT)):
        found[run.id] = run
    recorded = (
        select(XComModel.dag_run_id, XComModel.value)
        .where(XComModel.dag_id == PIPELINE, XComModel.task_id == "validate", XComModel.key == "intent_id")
        .order_by(XComModel.dag_run_id.desc())
        .limit(SCAN_LIMIT)
    )
    wanted = [
        dag_run_id
        for dag_run_id, value in session.execute(recorded)
        if dag_run_id not in found and (intent_id is None or _value(value) == intent_id)
    ]
    if wanted:
        for run in session.scalars(select(DagRun).where(DagRun.id.in_(wanted))):
            found[run.id] = run
    withdrawals = select(DagRun).where(DagRun.dag_id == WITHDRAW).order_by(newest).limit(SCAN_LIMIT)
    for run in session.scalars(withdrawals):
        if (
            run.id not in found
            and (run.conf or {}).get("intent_id")
            and (intent_id is None or (run.conf or {}).get("intent_id") == intent_id)
        ):
            found[run.id] = run
    return sorted(found.values(), key=lambda run: run.id, reverse=True)


def intent_of(record: RunRecord) -> str | None:
    """The intent id a run is about, from its name, its XCom or its conf."""
    if record.run_id.startswith(RUN_PREFIX):
        return record.run_id[len(RUN_PREFIX) :].split("__", 1)[0]
    recorded = record.xcom("validate", "intent_id") if record.dag_id == PIPELINE else None
    return recorded or record.conf.get("intent_id")


def runs_of(session: Session, intent_id: str) -> list[RunRecord]:
    """Every run about ``intent_id``, oldest first (empty when the intent is unknown)."""
    return _load(session, _candidates(session, intent_id))


def all_intents(session: Session) -> dict[str, list[RunRecord]]:
    """Every known intent's runs, oldest first, by intent id."""
    intents: dict[str, list[RunRecord]] = {}
    for record in _load(session, _candidates(session, None)):
        intent_id = intent_of(record)
        if intent_id:
            intents.setdefault(intent_id, []).append(record)
    return intents


def active_run(session: Session, intent_id: str) -> RunRecord | None:
    """A queued or running run about ``intent_id``, if any (cheap: only active runs are read)."""
    from airflow.models.dagrun import DagRun
    from airflow.models.xcom import XComModel

    active = DagRun.state.in_(["queued", "running"])
    named = (
        select(DagRun)
        .where(
            DagRun.dag_id.in_([PIPELINE, WITHDRAW]), DagRun.run_id.like(f"{RUN_PREFIX}{intent_id}__%"), active
        )
        .limit(1)
    )
    run = session.scalars(named).first()
    if run is None:  # a run started another way that has recorded the intent's id
        recorded = (
            select(XComModel.dag_run_id, XComModel.value)
            .join(DagRun, DagRun.id == XComModel.dag_run_id)
            .where(
                XComModel.dag_id == PIPELINE, XComModel.task_id == "validate", XComModel.key == "intent_id"
            )
            .where(active)
        )
        ids = [dag_run_id for dag_run_id, value in session.execute(recorded) if _value(value) == intent_id]
        run = session.get(DagRun, ids[0]) if ids else None
    return _load(session, [run])[0] if run is not None else None


def status(intent_id: str, records: list[RunRecord], *, base: str) -> dict[str, Any]:
    """The intent's current state: its latest pipeline run's phase, each site's commit and sync
    state, the SLO verdict, the report or evidence, and a withdrawal if one came after."""
    pipeline_runs = [r for r in records if r.dag_id == PIPELINE]
    withdrawals = [r for r in records if r.dag_id == WITHDRAW]
    latest = pipeline_runs[-1] if pipeline_runs else None
    current = records[-1]
    body: dict[str, Any] = {
        "intentId": intent_id,
        "phase": current.phase,
        "href": f"{base}/{intent_id}",
        "run": current.summary(),
        "runs": [r.summary() for r in records],
    }
    if latest is None:
        return body
    tmf = latest.xcom("validate") or (
        latest.conf.get("intent") if isinstance(latest.conf.get("intent"), dict) else None
    )
    if tmf:
        body["name"] = tmf.get("name")
    body["dryRun"] = bool(latest.conf.get("dry_run"))
    errors = latest.xcom("validate", "errors")
    if errors:
        body["errors"] = errors.get("errors", errors)
    body["sites"] = _sites(latest)
    verdict = latest.xcom("verify_slos")
    if verdict:
        body["slo"] = {
            key: verdict.get(key)
            for key in ("result", "trigger", "started", "ended", "slos", "breaches", "alerts")
        }
    evidence = latest.xcom("rollback.evidence")
    if evidence:
        body["evidence"] = {
            "href": f"{base}/{intent_id}/evidence",
            "runId": latest.run_id,
            "sha256": evidence.get("sha256"),
            "result": evidence.get("result"),
            "trigger": evidence.get("trigger"),
        }
    report = latest.xcom("report")
    if report:
        body["intentReport"] = {"href": f"{base}/{intent_id}/report", "runId": latest.run_id}
    if withdrawals and withdrawals[-1] is current:
        written = current.xcom("evidence") or {}
        body["withdrawal"] = {**current.summary(), "result": written.get("result")}
        if written.get("evidence"):
            body["evidence"] = {
                "href": f"{base}/{intent_id}/evidence",
                "runId": current.run_id,
                "sha256": written.get("sha256"),
                "result": written.get("result"),
                "trigger": "withdrawn",
            }
    return body


def _sites(record: RunRecord) -> dict[str, dict[str, Any]]:
    delivered = record.xcom("deliver", "delivered") or {}
    synced = record.xcom("wait_for_sync") or {}
    fulfilled = record.xcom("wait_for_o2ims") or {}
    reverts = record.xcom("rollback.revert", "reverts") or {}
    restored = record.xcom("rollback.wait_for_restore") or {}
    failures = {task: record.xcom(task, "failure") or {} for task in ("wait_for_sync", "wait_for_o2ims")}
    sites: dict[str, dict[str, Any]] = {}
    for site in sorted(set(delivered) | set(reverts)):
        entry: dict[str, Any] = {}
        if site in delivered:
            entry["commit"] = delivered[site].get("sha")
            entry["provisioningRequest"] = delivered[site].get("provisioningRequest")
        for name, verdicts, task in (
            ("sync", synced, "wait_for_sync"),
            ("o2ims", fulfilled, "wait_for_o2ims"),
        ):
            if site in verdicts:
                entry[name] = verdicts[site]
            elif failures[task]:
                entry[name] = {"state": failures[task].get("kind"), "message": failures[task].get("message")}
            elif record.tasks.get(task) in ACTIVE:
                entry[name] = {"state": "pending", "message": "waiting"}
        if site in reverts:
            entry["revert"] = {
                k: reverts[site].get(k) for k in ("sha", "reverted", "error") if reverts[site].get(k)
            }
            if site in restored:
                entry["restore"] = restored[site]
        sites[site] = entry
    return sites
