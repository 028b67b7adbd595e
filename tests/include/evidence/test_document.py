"""evidence.json: fields, digest, where it is written."""

from __future__ import annotations

import json

import pytest

from include.evidence import document

VERDICT = {
    "result": "breach",
    "trigger": "slo_breach",
    "started": 100.0,
    "ended": 106.0,
    "evaluations": [
        {
            "site": "edge1",
            "slo": "latency_p95",
            "time": 104.0,
            "query": "q",
            "value": 310.5,
            "threshold": 5.0,
            "unit": "ms",
            "met": False,
            "error": None,
        }
    ],
    "slos": {"edge1": {"latency_p95": {"threshold": 5.0}}},
    "breaches": [
        {
            "site": "edge1",
            "slo": "latency_p95",
            "query": "q",
            "threshold": 5.0,
            "unit": "ms",
            "firstFailure": 104.0,
            "detectedAt": 106.0,
            "breachDuration": 2.0,
            "samples": [],
        }
    ],
    "alerts": [],
}
REVERTS = {
    "edge1": {
        "sha": "b" * 40,
        "reverted": "a" * 40,
        "previous": "c" * 40,
        "removed": True,
        "seconds": 0.2,
        "pushedAt": 107.0,
    }
}


def build(**changes):
    arguments = dict(
        intent_id="urllc-a",
        dag_id="intent_pipeline",
        run_id="manual__2026-11-26T05:00:00+00:00",
        trigger="slo_breach",
        verdict=VERDICT,
        failure=None,
        delivered={"edge1": {"sha": "a" * 40}},
        reverts=REVERTS,
        restore={
            "sites": {
                "edge1": {"state": "done", "message": "synced to bbbb", "observed": "b" * 40, "at": 108.0}
            },
            "completedAt": 108.0,
            "seconds": 1.0,
        },
        errors=[],
        now=109.0,
    )
    arguments.update(changes)
    return document.build(**arguments)


def test_seed_fields_from_measurements():
    evidence = build()
    assert evidence["trigger"] == "slo_breach"
    assert evidence["metrics"]["latency_p95"] == 310.5
    assert evidence["metrics"]["threshold"] == 5.0 and evidence["metrics"]["breach_duration"] == 2.0
    assert [a["action"] for a in evidence["actions"]] == ["git_revert", "sync_complete"]
    assert evidence["actions"][0]["commit"] == "b" * 40 and evidence["actions"][0]["reverts"] == "a" * 40
    assert evidence["result"] == "success"
    assert evidence["restored_version"] == {"edge1": "b" * 40}
    assert evidence["sites"]["edge1"] == {
        "delivered": "a" * 40,
        "commitBefore": "c" * 40,
        "commitAfter": "b" * 40,
        "intentRemoved": True,
        "restore": {"state": "done", "message": "synced to bbbb", "observed": "b" * 40, "at": 108.0},
    }


def test_unmeasured_values_are_null_and_unconfirmed_rollbacks_say_so():
    evidence = build(verdict=None, trigger="sync_failed", restore=None, errors=["edge1: not synced"])
    assert evidence["metrics"]["latency_p95"] is None and evidence["metrics"]["breach_duration"] is None
    assert evidence["result"] == "unconfirmed" and evidence["restored_version"] == {}


def test_a_revert_that_failed_is_a_failed_rollback():
    reverts = {**REVERTS, "edge2": {"reverted": "d" * 40, "error": "conflict in intents/x"}}
    evidence = build(reverts=reverts, errors=["edge2: conflict in intents/x"])
    assert evidence["result"] == "failed"


def test_an_unreachable_site_is_named_and_not_counted_restored():
    """Two sites reverted; edge2 never answered the restore wait: only edge1 is restored, edge2's
    own message is kept, and the outcome is distinct from a success and from a failed revert."""
    unreachable = "cannot read the site: HTTPConnectionPool(host='127.0.0.1'): Connection refused"
    reverts = {**REVERTS, "edge2": {**REVERTS["edge1"], "sha": "e" * 40}}
    evidence = build(
        delivered={"edge1": {"sha": "a" * 40}, "edge2": {"sha": "f" * 40}},
        reverts=reverts,
        restore={
            "sites": {
                "edge1": {"state": "done", "message": "synced", "observed": "b" * 40, "at": 108.0},
                "edge2": {"state": "pending", "message": unreachable, "observed": ""},
            },
            "completedAt": None,
            "seconds": None,
        },
        errors=[f"Restore sync did not complete within 300 s: edge2: {unreachable}"],
    )
    assert evidence["result"] == "unconfirmed"
    assert evidence["restored_version"] == {"edge1": "b" * 40}
    assert evidence["sites"]["edge2"]["restore"]["state"] == "pending"
    assert "Connection refused" in evidence["sites"]["edge2"]["restore"]["message"]
    assert [a["action"] for a in evidence["actions"]] == ["git_revert", "git_revert"]  # no sync_complete


def test_digest_covers_the_document(tmp_path):
    evidence = build()
    assert evidence["sha256"] == document.digest(evidence)
    path = document.write(evidence, tmp_path)
    assert path == tmp_path / "urllc-a" / "manual__2026-11-26T05_00_00_00_00" / "evidence.json"
    stored = json.loads(path.read_text())
    assert document.digest(stored) == stored["sha256"]
    stored["metrics"]["latency_p95"] = 1.0
    assert document.digest(stored) != stored["sha256"]


def test_paths_stay_inside_the_evidence_directory(tmp_path):
    with pytest.raises(ValueError):
        document.write(build(intent_id="../../etc"), tmp_path)
    path = document.write(build(run_id="../../escape"), tmp_path)
    assert tmp_path in path.parents
