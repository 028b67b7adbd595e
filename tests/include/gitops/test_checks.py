"""Verdicts on RootSync and ProvisioningRequest objects."""

from __future__ import annotations

import pytest

from include.gitops.checks import check_provisioning, check_rootsync

SHA = "a" * 40
LATER = "b" * 40
OLDER = "c" * 40


def rootsync(source=SHA, sync=SHA, last=SHA, errors=(), stalled=False, reconciling=False):
    summary = {"totalCount": len(errors)}
    return {
        "status": {
            "source": {"commit": source, "errorSummary": {"totalCount": 0}},
            "rendering": {"commit": source, "errorSummary": {"totalCount": 0}},
            "sync": {
                "commit": sync,
                "errorSummary": summary,
                "errors": [{"code": "KNV1021", "errorMessage": e} for e in errors],
            },
            "lastSyncedCommit": last,
            "conditions": [
                {"type": "Stalled", "status": "True" if stalled else "False"},
                {"type": "Reconciling", "status": "True" if reconciling else "False"},
            ],
        }
    }


def contains(later, sha):
    return (later, sha) == (LATER, SHA)


@pytest.mark.parametrize(
    ("rs", "state", "words"),
    [
        (rootsync(), "done", "synced to aaaaaaaaaaaa"),
        (rootsync(LATER, LATER, LATER), "done", "synced to bbbbbbbbbbbb"),  # a later commit containing SHA
        (rootsync(OLDER, OLDER, OLDER), "pending", "waiting for aaaaaaaaaaaa"),
        (rootsync(SHA, OLDER, OLDER), "pending", "at cccccccccccc"),
        (rootsync(reconciling=True), "pending", "waiting"),
        (
            rootsync(SHA, SHA, OLDER, errors=["unknown kind Widget"], stalled=True),
            "error",
            "unknown kind Widget",
        ),
        (rootsync(LATER, LATER, OLDER, errors=["bad"], stalled=True), "error", "at commit bbbbbbbbbbbb"),
        (rootsync(OLDER, OLDER, OLDER, errors=["someone else's"]), "pending", "errors not yet about"),
        # SHA fetched, still being applied: the sync errors are those of the commit before
        (rootsync(SHA, OLDER, OLDER, errors=["older"], reconciling=True), "pending", "errors not yet about"),
        ({}, "pending", "at no commit"),
    ],
)
def test_rootsync(rs, state, words):
    check = check_rootsync(rs, SHA, contains)
    assert check.state == state
    assert words in check.message


def test_later_commit_without_ancestry_is_not_synced():
    assert check_rootsync(rootsync(LATER, LATER, LATER), SHA, None).state == "pending"


@pytest.mark.parametrize(
    ("request_", "state", "words"),
    [
        (None, "pending", "not created yet"),
        ({"status": {"provisioningStatus": {"provisioningState": "progressing"}}}, "pending", "progressing"),
        (
            {
                "status": {
                    "provisioningStatus": {"provisioningState": "fulfilled", "provisioningMessage": "ok"}
                }
            },
            "done",
            "fulfilled",
        ),
        (
            {
                "status": {
                    "provisioningStatus": {
                        "provisioningState": "failed",
                        "provisioningMessage": "no capacity",
                    }
                }
            },
            "error",
            "provisioning failed: no capacity",
        ),
        ({"spec": {}}, "pending", "unknown"),
    ],
)
def test_provisioning(request_, state, words):
    check = check_provisioning(request_)
    assert check.state == state and words in check.message
