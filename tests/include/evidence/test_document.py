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
        restore={"sites": {"edge1": {}}, "completedAt": 108.0, "seconds": 1.0},
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
    }


def test_unmeasured_values_are_null_and_incomplete_rollbacks_fail():
    evidence = build(verdict=None, trigger="sync_failed", restore=None, errors=["edge1: not synced"])
    assert evidence["metrics"]["latency_p95"] is None and evidence["metrics"]["breach_duration"] is None
    assert evidence["result"] == "failed"


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
