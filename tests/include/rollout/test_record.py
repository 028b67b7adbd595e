"""The rollout record: each wave folded in by its gate, when the rollout stops, what is left to revert."""

from __future__ import annotations

from include.rollout import record
from include.rollout.strategy import RolloutPlan, Wave


def plan(max_failures: int = 0, approval: bool = False) -> RolloutPlan:
    return RolloutPlan(
        type="ProgressivePerGroup",
        waves=(
            Wave(1, "canary", ("canary",), ("edge1",)),
            Wave(2, "wave-2", ("wave-2",), ("edge2", "edge4"), approval=approval),
            Wave(3, "wave-3", ("wave-3",), ("edge3",)),
        ),
        maxFailures=max_failures,
        minSuccessTime=0.0,
        progressDeadline=None,
        approvalTimeout=60.0,
    )


def passed(site: str, sha: str) -> dict:
    return {
        "delivery": {"sha": sha, "created": True, "pushedAt": 1.0},
        "synced": {"state": "done", "at": 2.0},
        "provisioned": {"state": "done", "at": 3.0, "createdAt": 2.5, "fulfilledAt": 2.9},
        "slo": {"result": "pass", "sites": [site], "slos": {site: {"latency_p95": {"evaluations": 5}}}},
    }


def breached(site: str, sha: str) -> dict:
    return {**passed(site, sha), "slo": {"result": "breach", "trigger": "slo_breach", "sites": [site]}}


def test_a_clean_rollout_passes_every_wave():
    found = record.start(plan(), intent_id="i", run_id="r")
    assert found["untouched"] == ["edge1", "edge2", "edge4", "edge3"]
    found = record.fold_wave(found, 1, {"edge1": passed("edge1", "a")}, approval=None, started=True, now=5)
    assert found["state"] == "Progressing" and found["waves"][0]["state"] == "Succeeded"
    site = found["waves"][0]["sites"]["edge1"]
    assert site["state"] == "passed" and site["commit"] == "a" and site["o2ims"]["fulfilledAt"] == 2.9
    assert site["slos"] == {"latency_p95": {"evaluations": 5}}
    assert found["untouched"] == ["edge2", "edge4", "edge3"]
    found = record.close(found, succeeded=True)
    assert found["state"] == "Succeeded"


def test_a_breach_past_max_failures_stops_and_leaves_later_waves_untouched():
    found = record.start(plan(), intent_id="i", run_id="r")
    found = record.fold_wave(found, 1, {"edge1": passed("edge1", "a")}, approval=None, started=True)
    seen = {"edge2": breached("edge2", "b"), "edge4": passed("edge4", "d")}
    found = record.fold_wave(found, 2, seen, approval=None, started=True)
    assert found["state"] == "Stopped" and found["failures"] == 1
    assert found["stopped"]["wave"] == 2 and "edge2: slo_breach" in found["stopped"]["reason"]
    assert found["waves"][1]["failed"] == ["edge2"]
    found = record.skip_after(found, 2)  # the gate of the wave that stopped it: no later wave runs
    assert found["waves"][2]["state"] == "Skipped" and found["untouched"] == ["edge3"]
    assert [w["state"] for w in record.skip_after(found, 1)["waves"]] == ["Succeeded", "Failed", "Skipped"]
    # the newest wave first; within a wave by site
    assert record.delivered(found) == [(2, "edge2", "b"), (2, "edge4", "d"), (1, "edge1", "a")]
    closed = record.close(found, succeeded=False, reverts={"edge2": {"sha": "r2", "reverted": "b"}})
    assert closed["state"] == "RolledBack" and closed["reverts"]["edge2"]["commit"] == "r2"


def test_a_failure_within_max_failures_goes_on():
    found = record.start(plan(max_failures=1), intent_id="i", run_id="r")
    seen = {
        "edge1": {
            "delivery": {"sha": "a", "created": True},
            "syncFailure": {
                "kind": "timeout",
                "message": "late",
                "targets": ["edge1"],
                "sites": {"edge1": {"message": "pending"}},
            },
        }
    }
    found = record.fold_wave(found, 1, seen, approval=None, started=True)
    assert found["stopped"] is None and found["failures"] == 1
    outcome = found["waves"][0]["sites"]["edge1"]
    assert outcome["failure"] == {
        "phase": "Reconciling",
        "reason": "sync_timeout: missed the progress deadline (pending)",
    }


def test_failures_by_phase():
    cases = {
        "delivery_failed": {},
        "o2ims_failed": {
            **passed("s", "a"),
            "o2imsFailure": {"kind": "error", "message": "quota"},
            "slo": None,
        },
        "verification_failed": {**passed("s", "a"), "slo": None},
        "slo_breach": breached("s", "a"),
    }
    for reason, seen in cases.items():
        assert record.site_outcome("s", seen)["failure"]["reason"].startswith(reason), reason


def test_a_rejected_approval_stops_before_the_wave_delivers():
    found = record.start(plan(approval=True), intent_id="i", run_id="r")
    found = record.fold_wave(found, 1, {"edge1": passed("edge1", "a")}, approval=None, started=True)
    answer = {"decision": "Reject", "by": "ops", "at": "2026-12-01T10:00:00+00:00"}
    found = record.fold_wave(found, 2, {}, approval=answer, started=False)  # a rejected wave starts nothing
    assert found["waves"][1]["state"] == "Rejected" and found["waves"][1]["approval"]["by"] == "ops"
    assert found["stopped"] == {"wave": 2, "reason": "approval rejected by ops"}
    assert found["untouched"] == ["edge2", "edge4", "edge3"]


def test_a_delivery_that_made_no_commit_is_not_reverted():
    found = record.start(plan(), intent_id="i", run_id="r")
    seen = {"edge1": {**passed("edge1", "a"), "delivery": {"sha": "a", "created": False}}}
    found = record.fold_wave(found, 1, seen, approval=None, started=True)
    assert record.delivered(found) == []


def test_verdicts_of_several_waves_combine():
    one = {"result": "pass", "started": 5, "ended": 9, "slos": {"a": {}}, "sites": ["a"]}
    two = {"result": "pass", "started": 2, "ended": 7, "slos": {"b": {}}, "sites": ["b"], "alerts": [1]}
    combined = record.combined_verdict([one, two])
    assert combined["result"] == "pass" and (combined["started"], combined["ended"]) == (2, 9)
    assert (
        set(combined["slos"]) == {"a", "b"} and combined["alerts"] == [1] and combined["sites"] == ["a", "b"]
    )


def test_a_wave_that_should_have_started_and_did_not_stops_the_rollout():
    found = record.start(plan(), intent_id="i", run_id="r")
    found = record.fold_wave(found, 1, {}, approval=None, started=False, expected=True)
    assert found["waves"][0]["state"] == "Failed" and found["stopped"]["wave"] == 1
    # later waves of a stopped rollout are skipped, not failed
    found = record.fold_wave(found, 2, {}, approval=None, started=False, expected=False)
    assert found["waves"][1]["state"] == "Skipped" and found["stopped"]["wave"] == 1


def test_a_delivery_a_retry_erased_is_named_from_the_rollbacks_revert():
    found = record.start(plan(), intent_id="i", run_id="r")
    # edge1's push landed, then its task failed and its retry erased the delivery's XCom
    lost = {**passed("edge1", "a"), "delivery": None, "slo": None}
    found = record.fold_wave(found, 1, {"edge1": lost}, approval=None, started=True)
    assert not found["waves"][0]["sites"]["edge1"].get("commit")
    closed = record.close(found, succeeded=False, reverts={"edge1": {"sha": "r1", "reverted": "a"}})
    edge1 = closed["waves"][0]["sites"]["edge1"]
    assert edge1["commit"] == "a" and edge1["recoveredFromGit"] and closed["state"] == "RolledBack"
