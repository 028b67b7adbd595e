"""The run records' phase, computed from the tasks that actually ran (pure: no DB), and the status
body of the intent API following the names of :mod:`include.lifecycle`."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from edge_intent.api import records
from edge_intent.api.records import RunRecord
from include import lifecycle
from include.lifecycle import Dag, Key, Phase

DELIVER = lifecycle.wave_task(1, lifecycle.DELIVER)
WAIT_FOR_SYNC = lifecycle.wave_task(1, lifecycle.WAIT_FOR_SYNC)
WAIT_FOR_O2IMS = lifecycle.wave_task(1, lifecycle.WAIT_FOR_O2IMS)
VERIFY_SLOS = lifecycle.wave_task(1, lifecycle.VERIFY_SLOS)
GATE = lifecycle.wave_task(1, lifecycle.GATE)

UP_TO_DELIVER = {
    lifecycle.VALIDATE: "success",
    lifecycle.COMPILE: "success",
    lifecycle.RENDER: "success",
    lifecycle.wave_task(1, lifecycle.APPROVE): "success",
    DELIVER: "success",
}
VERIFIED = {
    **UP_TO_DELIVER,
    WAIT_FOR_SYNC: "success",
    WAIT_FOR_O2IMS: "success",
    VERIFY_SLOS: "success",
    GATE: "success",
    lifecycle.DECIDE: "success",
}
ROLLBACK = (
    lifecycle.ROLLBACK_PLAN,
    lifecycle.ROLLBACK_REVERT,
    lifecycle.ROLLBACK_RESTORE,
    lifecycle.ROLLBACK_EVIDENCE,
)
ROLLBACK_SKIPPED = dict.fromkeys(ROLLBACK, "skipped")
NOT_DELIVERED = {**UP_TO_DELIVER, DELIVER: "failed"}
AFTER_FAILED_DELIVERY = {
    **NOT_DELIVERED,
    WAIT_FOR_SYNC: "upstream_failed",
    WAIT_FOR_O2IMS: "upstream_failed",
    VERIFY_SLOS: "upstream_failed",
    lifecycle.DECIDE: "success",
}
DRY = {
    **UP_TO_DELIVER,
    DELIVER: "skipped",
    WAIT_FOR_SYNC: "skipped",
    WAIT_FOR_O2IMS: "skipped",
    VERIFY_SLOS: "skipped",
}


def gate_record(**site: object) -> dict:
    """A gate's rollout record of one wave with edge1 in it."""
    return {
        "state": "Progressing",
        "failures": 0,
        "maxFailures": 0,
        "stopped": None,
        "waves": [
            {
                "index": 1,
                "name": "canary",
                "groups": ["canary"],
                "state": "Succeeded",
                "approval": {"required": False},
                "sites": {"edge1": {"state": "passed", "commit": "a" * 40, **site}},
            }
        ],
        "untouched": [],
        "reverts": {},
    }


PUSHED = {(GATE, Key.RETURN): gate_record()}


def pipeline_run(state: str, tasks: dict[str, str], xcoms: dict | None = None) -> RunRecord:
    return RunRecord(Dag.PIPELINE, "manual__1", state, tasks=dict(tasks), xcoms=dict(xcoms or {}))


@pytest.mark.parametrize(
    ("state", "tasks", "xcoms", "phase"),
    [
        pytest.param("queued", {}, None, Phase.PENDING, id="queued run"),
        pytest.param("running", {lifecycle.VALIDATE: "scheduled"}, None, Phase.PENDING, id="nothing started"),
        pytest.param("running", {lifecycle.VALIDATE: "running"}, None, Phase.PENDING, id="validating"),
        pytest.param(
            "running",
            {lifecycle.VALIDATE: "success", lifecycle.COMPILE: "queued"},
            None,
            Phase.PENDING,
            id="compile queued is not compiling",
        ),
        pytest.param(
            "running",
            {lifecycle.VALIDATE: "success", lifecycle.COMPILE: "up_for_retry"},
            None,
            Phase.COMPILING,
            id="compile retrying",
        ),
        pytest.param(
            "running",
            {**UP_TO_DELIVER, DELIVER: "running"},
            None,
            Phase.DELIVERING,
            id="delivering",
        ),
        pytest.param(
            "running",
            {**UP_TO_DELIVER, WAIT_FOR_SYNC: "deferred"},
            PUSHED,
            Phase.RECONCILING,
            id="sync wait deferred",
        ),
        pytest.param(
            "running",
            {
                **UP_TO_DELIVER,
                WAIT_FOR_SYNC: "success",
                WAIT_FOR_O2IMS: "up_for_reschedule",
            },
            PUSHED,
            Phase.RECONCILING,
            id="o2ims wait rescheduled",
        ),
        pytest.param(
            "running",
            {**VERIFIED, lifecycle.DECIDE: "running"},
            PUSHED,
            Phase.VERIFYING,
            id="deciding",
        ),
        pytest.param(
            "running",
            {**VERIFIED, lifecycle.REPORT: "scheduled", **ROLLBACK_SKIPPED},
            PUSHED,
            Phase.VERIFYING,
            id="healthy, rollback skipped, report not run yet",
        ),
        pytest.param(
            "running",
            {**VERIFIED, lifecycle.REPORT: "running", **ROLLBACK_SKIPPED},
            PUSHED,
            Phase.VERIFYING,
            id="healthy, report running",
        ),
        pytest.param(
            "running",
            {**VERIFIED, lifecycle.REPORT: "success", **ROLLBACK_SKIPPED, lifecycle.WATCHER: "running"},
            PUSHED,
            Phase.SUCCEEDED,
            id="healthy, report succeeded",
        ),
        pytest.param(
            "success",
            {**VERIFIED, lifecycle.REPORT: "success", **ROLLBACK_SKIPPED, lifecycle.WATCHER: "success"},
            PUSHED,
            Phase.SUCCEEDED,
            id="healthy, run succeeded",
        ),
        pytest.param(
            "running",
            {**VERIFIED, lifecycle.REPORT: "skipped", lifecycle.ROLLBACK_PLAN: "scheduled"},
            PUSHED,
            Phase.VERIFYING,
            id="rollback chosen, group not started",
        ),
        pytest.param(
            "running",
            {**VERIFIED, lifecycle.REPORT: "skipped", lifecycle.ROLLBACK_PLAN: None},
            PUSHED,
            Phase.VERIFYING,
            id="rollback chosen, group without state",
        ),
        pytest.param(
            "running",
            {**VERIFIED, lifecycle.REPORT: "skipped", lifecycle.ROLLBACK_PLAN: "running"},
            PUSHED,
            Phase.ROLLING_BACK,
            id="rollback plan running",
        ),
        pytest.param(
            "running",
            {
                **VERIFIED,
                lifecycle.REPORT: "skipped",
                lifecycle.ROLLBACK_PLAN: "success",
                lifecycle.ROLLBACK_REVERT: "failed",
                lifecycle.ROLLBACK_EVIDENCE: "running",
            },
            PUSHED,
            Phase.ROLLING_BACK,
            id="revert failed, evidence being written",
        ),
        pytest.param(
            "running",
            {**AFTER_FAILED_DELIVERY, lifecycle.ROLLBACK_REVERT: "running"},
            PUSHED,
            Phase.ROLLING_BACK,
            id="partial delivery rolling back",
        ),
        pytest.param(
            "running",
            {**AFTER_FAILED_DELIVERY, lifecycle.ROLLBACK_PLAN: "running"},
            None,
            Phase.VERIFYING,
            id="never delivered: a started rollback task is not RollingBack",
        ),
        pytest.param(
            "failed",
            {**AFTER_FAILED_DELIVERY, **ROLLBACK_SKIPPED, lifecycle.WATCHER: "failed"},
            None,
            Phase.FAILED,
            id="never delivered, failed",
        ),
        pytest.param(
            "failed",
            {**VERIFIED, lifecycle.REPORT: "skipped", **dict.fromkeys(ROLLBACK, "success")},
            PUSHED,
            Phase.FAILED,
            id="rolled back, failed",
        ),
        pytest.param(
            "running",
            {
                lifecycle.VALIDATE: "failed",
                lifecycle.COMPILE: "upstream_failed",
                lifecycle.WATCHER: "running",
            },
            None,
            Phase.PENDING,
            id="invalid intent, run still ending",
        ),
        pytest.param("running", {**DRY, lifecycle.DECIDE: "running"}, None, Phase.VERIFYING, id="dry run"),
        pytest.param(
            "success",
            {**DRY, lifecycle.DECIDE: "success", lifecycle.REPORT: "skipped", **ROLLBACK_SKIPPED},
            None,
            Phase.SUCCEEDED,
            id="dry run succeeded",
        ),
    ],
)
def test_pipeline_phase_never_runs_ahead_of_the_tasks(state, tasks, xcoms, phase):
    assert pipeline_run(state, tasks, xcoms).phase == phase


@pytest.mark.parametrize(
    ("fulfilment", "phase"),
    [
        ({"state": "Fulfilled", "missed": [], "notVerifiable": []}, Phase.SUCCEEDED),
        ({"state": "Degraded", "missed": ["reliability at edge1: measured 99.87 %"]}, Phase.DEGRADED),
        (
            {"state": "Unverified", "notVerifiable": ["maxNumberofUEs at edge1: not verifiable"]},
            Phase.UNVERIFIED,
        ),
        (None, Phase.SUCCEEDED),  # a report written before targets decided
    ],
    ids=["every target met", "a target missed", "a target not verifiable", "no fulfilment recorded"],
)
def test_a_run_that_went_through_is_succeeded_only_when_its_report_says_every_target_was_met(
    fulfilment, phase
):
    done = {**VERIFIED, lifecycle.REPORT: "success", **ROLLBACK_SKIPPED, lifecycle.WATCHER: "success"}
    report = {"path": "/x/intent-report.json", **({"fulfilment": fulfilment} if fulfilment else {})}
    found = pipeline_run("success", done, {**PUSHED, (lifecycle.REPORT, Key.RETURN): report})
    assert found.phase == phase and records.lifecycle_phase([found]) == phase
    running = pipeline_run("running", {**done, lifecycle.WATCHER: "running"}, found.xcoms)
    assert running.phase == phase  # the report said it already


def test_a_run_that_rolled_back_is_never_succeeded_on_the_way():
    """Through a rollback, task state by task state: no step shows Succeeded."""
    steps = [
        {**VERIFIED, lifecycle.DECIDE: "running"},
        {**VERIFIED, lifecycle.REPORT: "skipped"},
        {**VERIFIED, lifecycle.REPORT: "skipped", lifecycle.ROLLBACK_PLAN: "queued"},
        {**VERIFIED, lifecycle.REPORT: "skipped", lifecycle.ROLLBACK_PLAN: "running"},
        {**VERIFIED, lifecycle.REPORT: "skipped", **dict.fromkeys(ROLLBACK, "success")},
    ]
    phases = [pipeline_run("running", tasks, PUSHED).phase for tasks in steps]
    assert phases == [
        Phase.VERIFYING,
        Phase.VERIFYING,
        Phase.VERIFYING,
        Phase.ROLLING_BACK,
        Phase.ROLLING_BACK,
    ]


@pytest.mark.parametrize(
    ("state", "phase"),
    [
        ("queued", Phase.WITHDRAWING),
        ("running", Phase.WITHDRAWING),
        ("success", Phase.WITHDRAWN),
        ("failed", Phase.FAILED),
    ],
)
def test_withdraw_phase(state, phase):
    tasks = {lifecycle.WITHDRAW_REVERT: "success"} if state != "queued" else {}
    assert RunRecord(Dag.WITHDRAW, "manual__1", state, tasks=tasks).phase == phase


def test_run_names_and_the_intent_a_run_is_about():
    moment = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    assert records.run_id_for("urllc-edge1", moment) == "intent__urllc-edge1__20260102T030405000006Z"
    named = RunRecord(Dag.PIPELINE, records.run_id_for("urllc-edge1", moment), "running")
    assert records.intent_of(named) == "urllc-edge1"
    recorded = pipeline_run("success", {}, {(lifecycle.VALIDATE, Key.INTENT_ID): "embb-edge2"})
    assert records.intent_of(recorded) == "embb-edge2"
    withdrawal = RunRecord(Dag.WITHDRAW, "manual__2", "running", conf={"intent_id": "mmtc-edge1"})
    assert records.intent_of(withdrawal) == "mmtc-edge1"


# -- the names come from include.lifecycle, read when used -------------------------------------------


def _renamed(old: str, new: str) -> dict[str, Phase]:
    return {(new if task == old else task): phase for task, phase in lifecycle.PIPELINE_PHASES.items()}


def test_the_phase_follows_a_task_renamed_in_lifecycle(monkeypatch):
    monkeypatch.setattr(lifecycle, "REPORT", "publish")
    monkeypatch.setattr(lifecycle, "PIPELINE_PHASES", _renamed("report", "publish"))
    assert pipeline_run("running", {**VERIFIED, "publish": "success"}, PUSHED).phase == Phase.SUCCEEDED
    # The old name no longer stands for Succeeded.
    assert pipeline_run("running", {**VERIFIED, "report": "success"}, PUSHED).phase == Phase.VERIFYING


def test_the_delivery_check_follows_lifecycle(monkeypatch):
    monkeypatch.setattr(lifecycle, "DELIVER", "push")
    phases = {("push" if t == "deliver" else t): p for t, p in lifecycle.WAVE_PHASES.items()}
    monkeypatch.setattr(lifecycle, "WAVE_PHASES", phases)
    monkeypatch.setattr(lifecycle, "SITE_TASKS", ("push", *lifecycle.SITE_TASKS[1:]))
    tasks = {**VERIFIED, lifecycle.REPORT: "skipped", lifecycle.ROLLBACK_REVERT: "running"}
    tasks.pop(DELIVER)
    pushed = "wave_1.sites.push"
    assert pipeline_run("running", {**tasks, pushed: "success"}).phase == Phase.ROLLING_BACK
    # A rollback after a delivery recorded under the old name only is not a rollback of anything.
    assert pipeline_run("running", {**tasks, DELIVER: "success"}).phase == Phase.VERIFYING


def _healthy_run() -> RunRecord:
    tmf = {"@type": "Intent", "id": "urllc-edge1", "name": "URLLC at edge1"}
    return pipeline_run(
        "running",
        {**VERIFIED, "publish": "success"},
        {
            (GATE, Key.RETURN): gate_record(syncedAt=2.0, slo={"result": "pass", "trigger": None}),
            (lifecycle.VALIDATE, Key.RETURN): tmf,
            ("publish", Key.RETURN): {"path": "/x", "intentReport": {"@type": "IntentReport"}},
        },
    )


def test_the_status_body_follows_lifecycle(monkeypatch):
    from edge_intent.api.routes import status

    monkeypatch.setattr(lifecycle, "REPORT", "publish")
    monkeypatch.setattr(lifecycle, "PIPELINE_PHASES", _renamed("report", "publish"))
    body = status("urllc-edge1", [_healthy_run()], base="/api/intent")
    assert body["phase"] == body["run"]["phase"] == "Succeeded"
    assert body["name"] == "URLLC at edge1"
    assert body["intentReport"] == {"href": "/api/intent/urllc-edge1/report", "runId": "manual__1"}
    assert body["sites"] == {
        "edge1": {
            "wave": 1,
            "waveName": "canary",
            "state": "passed",
            "commit": "a" * 40,
            "syncedAt": 2.0,
            "slo": {"result": "pass", "trigger": None},
            "tasks": {},
        }
    }
    assert body["slo"]["result"] == "pass" and body["rollout"]["waves"][0]["name"] == "canary"
    monkeypatch.setattr(lifecycle, "REPORT", "report")
    monkeypatch.setattr(lifecycle, "PIPELINE_PHASES", _renamed("publish", "report"))
    body = status("urllc-edge1", [_healthy_run()], base="/api/intent")
    assert body["phase"] == "Verifying" and "intentReport" not in body


def test_the_status_body_of_a_rollback_and_a_withdrawal():
    from edge_intent.api.routes import status

    rolled = pipeline_run(
        "failed",
        {**VERIFIED, lifecycle.REPORT: "skipped", **dict.fromkeys(ROLLBACK, "success")},
        {
            (GATE, Key.RETURN): {
                **gate_record(
                    state="failed", failure={"phase": "Reconciling", "reason": "sync_timeout: not synced"}
                ),
                "state": "Stopped",
                "failures": 1,
                "stopped": {"wave": 1, "reason": "1 failed site(s)"},
            },
            (lifecycle.ROLLBACK_REVERT, Key.REVERTS): {"edge1": {"sha": "b" * 40, "reverted": "a" * 40}},
            (lifecycle.ROLLBACK_RESTORE, Key.RETURN): {"edge1": {"state": "done"}},
            (lifecycle.ROLLBACK_EVIDENCE, Key.RETURN): {
                "path": "/e.json",
                "sha256": "f" * 64,
                "result": "success",
            },
        },
    )
    body = status("urllc-edge1", [rolled], base="")
    assert body["phase"] == "Failed"
    assert body["evidence"]["sha256"] == "f" * 64 and body["evidence"]["runId"] == "manual__1"
    site = body["sites"]["edge1"]
    assert site["state"] == "failed" and site["failure"]["reason"] == "sync_timeout: not synced"
    assert site["rollback"] == {"commit": "b" * 40, "error": None, "restoredAt": None}
    assert body["rollout"]["stopped"] == {"wave": 1, "reason": "1 failed site(s)"}

    # A withdrawal that failed still shows its evidence, from the summary its evidence task pushed.
    summary = {"result": "failed", "path": "/w.json", "sha256": "c" * 64, "trigger": "withdrawn"}
    withdrawal = RunRecord(
        Dag.WITHDRAW, "manual__2", "failed", xcoms={(lifecycle.WITHDRAW_EVIDENCE, Key.SUMMARY): summary}
    )
    body = status("urllc-edge1", [rolled, withdrawal], base="")
    assert body["phase"] == "Failed" and body["withdrawal"]["result"] == "failed"
    assert body["evidence"] == {
        "href": "/urllc-edge1/evidence",
        "runId": "manual__2",
        "sha256": "c" * 64,
        "result": "failed",
        "trigger": "withdrawn",
    }


def _withdrawal(state: str, run_id: str = "manual__w") -> RunRecord:
    return RunRecord(Dag.WITHDRAW, run_id, state, conf={"intent_id": "urllc-edge1"})


def test_withdrawn_is_the_first_successful_withdrawal_after_the_latest_pipeline_run():
    deployed = pipeline_run("success", VERIFIED, PUSHED)
    first, later = _withdrawal("success", "manual__w1"), _withdrawal("failed", "manual__w2")
    assert records.withdrawn([deployed]) is None
    assert records.withdrawn([deployed, _withdrawal("failed"), first, later]) is first
    assert records.withdrawn([deployed, _withdrawal("running")]) is None
    assert records.withdrawn([first, deployed]) is None  # deployed again after it
    assert records.withdrawn([first]) is first  # a withdrawal of a run found no more


@pytest.mark.parametrize(
    ("states", "phase"),
    [
        pytest.param(["success"], Phase.WITHDRAWN, id="withdrawn"),
        pytest.param(["success", "failed"], Phase.WITHDRAWN, id="a later withdrawal failed"),
        pytest.param(["success", "running"], Phase.WITHDRAWN, id="a later withdrawal runs"),
        pytest.param(["failed"], Phase.FAILED, id="the withdrawal failed"),
        pytest.param(["running"], Phase.WITHDRAWING, id="withdrawing"),
        pytest.param([], Phase.SUCCEEDED, id="never withdrawn"),
    ],
)
def test_the_lifecycle_phase_never_goes_back_from_withdrawn(states, phase):
    found = [pipeline_run("success", {**VERIFIED, lifecycle.REPORT: "success"}, PUSHED)]
    found += [_withdrawal(state, f"manual__w{i}") for i, state in enumerate(states)]
    assert records.lifecycle_phase(found) == phase


@pytest.mark.parametrize(
    ("found", "expected"),
    [
        pytest.param([pipeline_run("failed", {lifecycle.VALIDATE: "failed"})], True, id="refused"),
        pytest.param([pipeline_run("failed", AFTER_FAILED_DELIVERY)], False, id="delivery started"),
        pytest.param([pipeline_run("success", DRY)], True, id="dry run"),
        pytest.param([pipeline_run("success", VERIFIED, PUSHED)], False, id="delivered"),
        pytest.param([pipeline_run("running", {lifecycle.VALIDATE: "running"})], False, id="running"),
        pytest.param([pipeline_run("failed", {})], False, id="no task states: cannot tell"),
        pytest.param([_withdrawal("success")], False, id="no pipeline run: cannot tell"),
        pytest.param(
            [
                pipeline_run("success", VERIFIED, PUSHED),
                pipeline_run("failed", {lifecycle.VALIDATE: "failed"}),
            ],
            False,
            id="an earlier run delivered",
        ),
        pytest.param(
            [
                pipeline_run("success", VERIFIED, PUSHED),
                _withdrawal("success"),
                pipeline_run("failed", {lifecycle.VALIDATE: "failed"}),
            ],
            True,
            id="withdrawn, then refused",
        ),
    ],
)
def test_never_deployed(found, expected):
    assert records.never_deployed(found) is expected


def test_the_status_body_stays_withdrawn_after_a_later_withdrawal_failed():
    from edge_intent.api.routes import status

    written = {"result": "success", "path": "/w.json", "sha256": "d" * 64, "trigger": "withdrawn"}
    done = RunRecord(
        Dag.WITHDRAW, "manual__w1", "success", xcoms={(lifecycle.WITHDRAW_EVIDENCE, Key.RETURN): written}
    )
    found = [pipeline_run("success", VERIFIED, PUSHED), done, _withdrawal("failed", "manual__w2")]
    body = status("urllc-edge1", found, base="")
    assert body["phase"] == "Withdrawn" and body["run"]["runId"] == "manual__w2"
    assert body["withdrawal"]["runId"] == "manual__w1" and body["withdrawal"]["result"] == "success"
    assert body["evidence"]["runId"] == "manual__w1" and body["evidence"]["sha256"] == "d" * 64
