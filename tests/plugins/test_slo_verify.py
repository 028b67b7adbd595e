"""When a site's SLO window starts: the change live there, as the waits before verification saw it."""

from __future__ import annotations

from edge_intent.operators.slo_verify import live_since


def test_the_window_starts_when_the_last_wait_saw_its_site_done():
    synced = {"edge1": {"state": "done", "at": 100.0}}
    provisioned = {"edge1": {"state": "done", "at": 101.5}}
    assert live_since([synced, provisioned]) == 101.5


def test_the_o2ims_own_fulfilled_time_counts_when_it_came_before_the_wait_looked():
    synced = {"edge1": {"state": "done", "at": 100.0}}
    provisioned = {"edge1": {"state": "done", "at": 101.5, "fulfilledAt": 99.2}}
    assert live_since([synced, provisioned]) == 100.0
    late = {"edge1": {"state": "done", "at": 101.5, "fulfilledAt": 200.0}}  # never after it was seen
    assert live_since([synced, late]) == 101.5


def test_no_time_said_means_the_window_starts_now():
    assert live_since(None) is None
    assert live_since([{}, {"edge1": {"state": "done"}}, "not a result"]) is None
