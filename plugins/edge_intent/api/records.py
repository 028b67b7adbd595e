"""What Airflow's metadata DB knows about an intent's runs: THE one reader of runs, tasks and XComs.

The intent API and the metrics exporter read runs here, in the api-server process (which has DB
access; task processes do not). Every DAG id, task id, XCom key and phase comes from
:mod:`include.lifecycle`, read when it is used, so a task renamed there is followed here.

An intent's runs are found two ways: runs the intent API starts are named
``intent__<intent id>__<UTC time>``, and every pipeline run that gets past ``validate`` records the
intent's id in the XCom ``intent_id`` (so runs triggered from the CLI, the UI or REST are found too).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from include import lifecycle
from include.lifecycle import Dag, Key, Phase

RUN_PREFIX = "intent__"
RUN_ACTIVE = ("queued", "running")
ACTIVE = frozenset(
    {"running", "deferred", "up_for_reschedule", "up_for_retry", "queued", "scheduled", "restarting"}
)
"""Task states of a task that is waiting to run or running."""
STARTED = frozenset(
    {"running", "deferred", "up_for_reschedule", "up_for_retry", "restarting", "awaiting_input"}
    | {"success", "failed"}
)
"""Task states of a task that has actually started (skipped, queued, scheduled or none have not)."""
SCAN_LIMIT = 2_000
"""Most recent runs scanned for ids recorded in XCom or conf (API-started runs are found by name)."""
CHUNK = 500
"""Most runs read in one query."""


def run_id_for(intent_id: str, now: datetime) -> str:
    """The run id the intent API gives a run of ``intent_id``."""
    return f"{RUN_PREFIX}{intent_id}__{now:%Y%m%dT%H%M%S%fZ}"


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _state(value: Any) -> str:
    return str(getattr(value, "value", value) or "")


@dataclass
class RunRecord:
    """One run of the pipeline (or of the withdraw DAG) with its task states and XComs.

    :param tasks: ``{task id: state}``.
    :param xcoms: ``{(task id, key): value}``.
    :param id: the run's row id in the metadata DB.
    """

    dag_id: str
    run_id: str
    state: str
    created: datetime | None = None
    started: datetime | None = None
    ended: datetime | None = None
    conf: dict[str, Any] = field(default_factory=dict)
    tasks: dict[str, str] = field(default_factory=dict)
    xcoms: dict[tuple[str, str], Any] = field(default_factory=dict)
    id: int | None = None
    mapped: dict[str, dict[str, str]] = field(default_factory=dict)
    """``{task id: {instance label (a wave's site): state}}`` of mapped tasks; ``tasks`` has one
    state of them all (see :func:`_together`)."""

    def xcom(self, task_id: str, key: str = Key.RETURN) -> Any:
        return self.xcoms.get((task_id, key))

    @property
    def waves(self) -> int:
        """How many wave task groups the run's DAG has (from its task instances)."""
        return max((w[0] for w in map(lifecycle.wave_of, self.tasks) if w), default=0)

    @property
    def rollout(self) -> dict[str, Any] | None:
        """The rollout record: the closed one (``rollout``), else the last gate's (a live run)."""
        closed = self.xcom(lifecycle.ROLLOUT)
        if closed:
            return closed
        for index in range(self.waves, 0, -1):
            found = self.xcom(lifecycle.wave_task(index, lifecycle.GATE))
            if found:
                return found
        return None

    @property
    def delivered(self) -> bool:
        """Whether anything reached a site: a wave's deliver succeeded, or the record has a commit."""
        if any(
            state == "success" and (lifecycle.wave_of(task) or (0, ""))[1] == lifecycle.DELIVER
            for task, state in self.tasks.items()
        ):
            return True
        found = self.rollout or {}
        return any(o.get("commit") for w in found.get("waves", []) for o in w.get("sites", {}).values())

    @property
    def phase(self) -> Phase:
        """The phase this run is in (or ended in), from the tasks that actually ran.

        Pipeline runs walk :data:`include.lifecycle.PIPELINE_PHASES` in order and take the phase of
        the last task reached: a task is reached once it started (skipped, queued or unstarted
        tasks are not); a ``Succeeded`` task only once it succeeded; a ``RollingBack`` task only
        when something was delivered. A failed run is ``Failed``, a queued one ``Pending``; a run
        that succeeded without delivering anything (a dry run) is ``Succeeded``. A run whose report
        says a target was missed is ``Degraded``, one with a target not verifiable ``Unverified``.
        """
        if self.dag_id == Dag.WITHDRAW:
            return {"success": Phase.WITHDRAWN, "failed": Phase.FAILED}.get(self.state, Phase.WITHDRAWING)
        if self.state == "failed":
            return Phase.FAILED
        if self.state == "queued":
            return Phase.PENDING
        delivered = self.delivered
        reached = Phase.PENDING
        for task, phase in lifecycle.pipeline_phases(self.waves).items():
            state = self.tasks.get(task)
            if phase == Phase.SUCCEEDED:
                counts = state == "success"
            elif phase == Phase.ROLLING_BACK:
                counts = delivered and state in STARTED
            else:
                counts = state in STARTED
            if counts:
                reached = Phase(phase)
        if self.state == "success" and not delivered and reached != Phase.SUCCEEDED:
            return Phase.SUCCEEDED  # the watcher lets a run succeed without a report only when dry
        if reached == Phase.SUCCEEDED:
            return self.fulfilment_phase
        return reached

    @property
    def fulfilment_phase(self) -> Phase:
        """Succeeded, Degraded or Unverified, as the run's report says of the intent's targets."""
        state = ((self.xcom(lifecycle.REPORT) or {}).get("fulfilment") or {}).get("state")
        return lifecycle.PHASE_OF_FULFILMENT.get(state, Phase.SUCCEEDED)

    def summary(self) -> dict[str, Any]:
        return {
            "dagId": self.dag_id,
            "runId": self.run_id,
            "state": self.state,
            "phase": self.phase,
            "created": iso(self.created),
            "started": iso(self.started),
            "ended": iso(self.ended),
        }


# -- reading --------------------------------------------------------------------------------------


def load(
    session: Session,
    runs: Iterable[Any],
    *,
    xcoms: Collection[tuple[str, str]] | None = None,
    tasks: bool = True,
) -> list[RunRecord]:
    """The records of ``runs`` (DagRun rows), oldest first.

    :param xcoms: only these ``(task id, key)`` XComs (None: every XCom of the runs).
    :param tasks: whether to read the task states too.
    """
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel

    records = {
        run.id: RunRecord(
            dag_id=run.dag_id,
            run_id=run.run_id,
            state=_state(run.state),
            created=run.queued_at or run.run_after,
            started=run.start_date,
            ended=run.end_date,
            conf=dict(run.conf or {}),
            id=run.id,
        )
        for run in runs
    }
    ids = list(records)
    for start in range(0, len(ids), CHUNK):
        chunk = [records[i] for i in ids[start : start + CHUNK]]
        if tasks:
            by_key = {(r.dag_id, r.run_id): r for r in chunk}
            found = select(
                TaskInstance.dag_id,
                TaskInstance.run_id,
                TaskInstance.task_id,
                TaskInstance.state,
                TaskInstance.map_index,
                TaskInstance.rendered_map_index,
            )
            rows = list(session.execute(found.where(TaskInstance.run_id.in_([r.run_id for r in chunk]))))
            # an instance that never ran has no label of its own: its group's instance of the same
            # map index that ran (a wave's deliver) names its site
            labels = {
                (dag_id, run_id, task_id.rsplit(".", 1)[0], index): label
                for dag_id, run_id, task_id, _, index, label in rows
                if index is not None and index >= 0 and label not in (None, str(index))
            }
            for dag_id, run_id, task_id, state, index, _ in rows:
                record = by_key.get((dag_id, run_id))
                if record is None:
                    continue
                if index is not None and index >= 0:
                    label = labels.get((dag_id, run_id, task_id.rsplit(".", 1)[0], index), str(index))
                    record.mapped.setdefault(task_id, {})[label] = _state(state)
                    record.tasks[task_id] = _together(record.mapped[task_id].values())
                else:
                    record.tasks[task_id] = _state(state)
        wanted = select(XComModel.dag_run_id, XComModel.task_id, XComModel.key, XComModel.value).where(
            XComModel.dag_run_id.in_([r.id for r in chunk]), XComModel.map_index == -1
        )
        if xcoms is not None:
            wanted = wanted.where(tuple_(XComModel.task_id, XComModel.key).in_([tuple(x) for x in xcoms]))
        for row in session.execute(wanted):
            records[row.dag_run_id].xcoms[(row.task_id, row.key)] = _decoded(row)
    return sorted(
        records.values(), key=lambda r: (r.created is not None, r.created or datetime.min, r.id or 0)
    )


def _together(states: Iterable[str]) -> str:
    """One state of a mapped task's instances: active while any is, else failed if any failed, else
    success if any succeeded, else what they all are (skipped, upstream_failed, none)."""
    states = list(states)
    for wanted in (ACTIVE, {"awaiting_input"}, {"failed"}, {"success"}):
        found = [s for s in states if s in wanted]
        if found:
            return found[0]
    return states[0] if states else ""


def finished(
    session: Session, dag_id: str, states: Collection[str]
) -> dict[int, tuple[datetime | None, str]]:
    """``{run row id: (end date, state)}`` of every run of ``dag_id`` in one of ``states`` (cheap)."""
    from airflow.models.dagrun import DagRun

    rows = session.execute(
        select(DagRun.id, DagRun.state, DagRun.end_date).where(
            DagRun.dag_id == dag_id, DagRun.state.in_(list(states))
        )
    )
    return {row.id: (row.end_date, _state(row.state)) for row in rows}


def by_ids(
    session: Session, ids: Collection[int], *, xcoms: Collection[tuple[str, str]] | None = None
) -> dict[int, RunRecord]:
    """The records of the runs with these row ids, with only ``xcoms`` and no task states."""
    from airflow.models.dagrun import DagRun

    found: dict[int, RunRecord] = {}
    ordered = list(ids)
    for start in range(0, len(ordered), CHUNK):
        runs = session.scalars(select(DagRun).where(DagRun.id.in_(ordered[start : start + CHUNK])))
        found.update({r.id: r for r in load(session, runs, xcoms=xcoms, tasks=False) if r.id is not None})
    return found


def _recorded_ids():
    """The XComs in which pipeline runs record their intent's id."""
    from airflow.models.xcom import XComModel

    return select(XComModel.dag_run_id, XComModel.value).where(
        XComModel.dag_id == Dag.PIPELINE,
        XComModel.task_id == lifecycle.VALIDATE,
        XComModel.key == Key.INTENT_ID,
    )


def _decoded(row: Any) -> Any:
    from airflow.models.xcom import XComModel

    return XComModel.deserialize_value(row)


def _candidates(session: Session, intent_id: str | None) -> list[Any]:
    """DagRun rows of ``intent_id`` (every intent when None), newest first."""
    from airflow.models.dagrun import DagRun
    from airflow.models.xcom import XComModel

    newest = DagRun.id.desc()
    found: dict[int, Any] = {}
    named = select(DagRun).where(DagRun.dag_id.in_([Dag.PIPELINE, Dag.WITHDRAW]))
    named = named.where(DagRun.run_id.like(f"{RUN_PREFIX}{intent_id}__%" if intent_id else f"{RUN_PREFIX}%"))
    for run in session.scalars(named.order_by(newest).limit(SCAN_LIMIT)):
        found[run.id] = run
    recorded = _recorded_ids().order_by(XComModel.dag_run_id.desc()).limit(SCAN_LIMIT)
    wanted = [
        row.dag_run_id
        for row in session.execute(recorded)
        if row.dag_run_id not in found and (intent_id is None or _decoded(row) == intent_id)
    ]
    if wanted:
        for run in session.scalars(select(DagRun).where(DagRun.id.in_(wanted))):
            found[run.id] = run
    withdrawals = select(DagRun).where(DagRun.dag_id == Dag.WITHDRAW).order_by(newest).limit(SCAN_LIMIT)
    for run in session.scalars(withdrawals):
        asked = (run.conf or {}).get("intent_id")
        if run.id not in found and asked and (intent_id is None or asked == intent_id):
            found[run.id] = run
    return sorted(found.values(), key=lambda run: run.id, reverse=True)


def intent_of(record: RunRecord) -> str | None:
    """The intent id a run is about, from its name, its XCom or its conf."""
    if record.run_id.startswith(RUN_PREFIX):
        return record.run_id[len(RUN_PREFIX) :].split("__", 1)[0]
    recorded = record.xcom(lifecycle.VALIDATE, Key.INTENT_ID) if record.dag_id == Dag.PIPELINE else None
    return recorded or record.conf.get("intent_id")


# -- what an intent's runs say together ------------------------------------------------------------


def withdrawn(found: list[RunRecord]) -> RunRecord | None:
    """The first withdrawal that succeeded after the intent's latest pipeline run, if any.

    From then on the intent is ``Withdrawn``, whatever a later withdrawal did: its status never
    goes back (a second withdrawal finds nothing to revert and fails).
    """
    last = max((i for i, r in enumerate(found) if r.dag_id == Dag.PIPELINE), default=-1)
    return next((r for r in found[last + 1 :] if r.dag_id == Dag.WITHDRAW and r.state == "success"), None)


def lifecycle_phase(found: list[RunRecord]) -> Phase:
    """The intent's phase: ``Withdrawn`` after a successful withdrawal, else its latest run's."""
    return Phase.WITHDRAWN if withdrawn(found) else found[-1].phase


def never_deployed(found: list[RunRecord]) -> bool:
    """Whether nothing of the intent can be in effect at a site: it has pipeline runs since its last
    successful withdrawal, all finished, none of which started a wave's deliver or recorded a commit.

    False whenever the records cannot tell (no pipeline run, a run without task states).
    """
    done = [i for i, r in enumerate(found) if r.dag_id == Dag.WITHDRAW and r.state == "success"]
    since = [r for r in found[(done[-1] + 1 if done else 0) :] if r.dag_id == Dag.PIPELINE]
    return bool(since) and all(_untouched(r) for r in since)


def _untouched(record: RunRecord) -> bool:
    """A finished pipeline run that never started delivering (nor recorded a commit)."""
    if record.state in RUN_ACTIVE or not record.tasks or record.delivered:
        return False
    return not any(
        state in STARTED and (lifecycle.wave_of(task) or (0, ""))[1] == lifecycle.DELIVER
        for task, state in record.tasks.items()
    )


def runs_of(session: Session, intent_id: str) -> list[RunRecord]:
    """Every run about ``intent_id``, oldest first (empty when the intent is unknown)."""
    return load(session, _candidates(session, intent_id))


def all_intents(session: Session) -> dict[str, list[RunRecord]]:
    """Every known intent's runs, oldest first, by intent id."""
    intents: dict[str, list[RunRecord]] = {}
    for record in load(session, _candidates(session, None)):
        intent_id = intent_of(record)
        if intent_id:
            intents.setdefault(intent_id, []).append(record)
    return intents


def active_run(session: Session, intent_id: str) -> RunRecord | None:
    """A queued or running run about ``intent_id``, if any (cheap: only active runs are read)."""
    from airflow.models.dagrun import DagRun
    from airflow.models.xcom import XComModel

    active = DagRun.state.in_(RUN_ACTIVE)
    named = select(DagRun).where(
        DagRun.dag_id.in_([Dag.PIPELINE, Dag.WITHDRAW]), DagRun.run_id.like(f"{RUN_PREFIX}{intent_id}__%")
    )
    run = session.scalars(named.where(active).limit(1)).first()
    if run is None:  # a run started another way that has recorded the intent's id
        recorded = _recorded_ids().join(DagRun, DagRun.id == XComModel.dag_run_id).where(active)
        ids = [row.dag_run_id for row in session.execute(recorded) if _decoded(row) == intent_id]
        run = session.get(DagRun, ids[0]) if ids else None
    return load(session, [run])[0] if run is not None else None
