"""Rollout strategies (OCM's RolloutStrategy) resolved into waves over the catalogue's groups."""

from __future__ import annotations

import pytest
import yaml

from include.compiler.config import load_settings
from include.compiler.errors import IntentValidationError
from include.rollout.strategy import RolloutPlan, duration, load_config, max_waves, resolve


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory):
    """Five sites in three groups, the canary group named last in the file."""
    sites = [
        {"name": "a1", "group": "wave-a", "repo": "a1", "kubernetesConnId": "k"},
        {"name": "a2", "group": "wave-a", "repo": "a2", "kubernetesConnId": "k"},
        {"name": "b1", "group": "wave-b", "repo": "b1", "kubernetesConnId": "k"},
        {"name": "b2", "group": "wave-b", "repo": "b2", "kubernetesConnId": "k"},
        {"name": "c1", "group": "canary", "repo": "c1", "kubernetesConnId": "k"},
    ]
    path = tmp_path_factory.mktemp("catalogue") / "sites.yaml"
    path.write_text(yaml.safe_dump({"sites": sites}))
    return load_settings(path).catalogue


CONFIG = {"default": {"type": "All"}, "approvalTimeout": "30m", "maxWaves": 6}
ALL = ["a1", "a2", "b1", "b2", "c1"]


def waves(plan: RolloutPlan) -> list[tuple[str, tuple[str, ...]]]:
    return [(w.name, w.sites) for w in plan.waves]


def test_all_is_one_wave(catalogue):
    plan = resolve({"type": "All"}, ALL, catalogue, config=CONFIG)
    assert waves(plan) == [("all", ("a1", "a2", "b1", "b2", "c1"))]
    assert plan.maxFailures == 0 and plan.progressDeadline is None and plan.approvalTimeout == 1800


def test_progressive_per_group_puts_the_mandatory_groups_first(catalogue):
    strategy = {
        "type": "ProgressivePerGroup",
        "progressivePerGroup": {"mandatoryDecisionGroups": [{"groupName": "canary"}, {"groupIndex": 1}]},
    }
    plan = resolve(strategy, ALL, catalogue, config=CONFIG)
    assert waves(plan) == [("canary", ("c1",)), ("wave-b", ("b1", "b2")), ("wave-a", ("a1", "a2"))]
    # a group without any of the intent's sites makes no wave
    assert waves(resolve(strategy, ["a2", "c1"], catalogue, config=CONFIG)) == [
        ("canary", ("c1",)),
        ("wave-a", ("a2",)),
    ]


def test_progressive_chunks_the_rest_by_max_concurrency(catalogue):
    strategy = {
        "type": "Progressive",
        "progressive": {
            "mandatoryDecisionGroups": [{"groupName": "canary"}],
            "maxConcurrency": "50%",  # of 5 sites: 3 (rounded up, as OCM does)
            "maxFailures": "40%",  # of 5 sites: 2 (rounded down)
            "minSuccessTime": "1m30s",
            "progressDeadline": "2h",
        },
        "approval": {"groups": ["wave-b"], "timeout": "90s"},
    }
    plan = resolve(strategy, ALL, catalogue, config=CONFIG)
    assert waves(plan) == [("canary", ("c1",)), ("batch-2", ("a1", "a2", "b1")), ("batch-3", ("b2",))]
    assert [w.approval for w in plan.waves] == [False, True, True]
    assert (plan.maxFailures, plan.minSuccessTime, plan.progressDeadline, plan.approvalTimeout) == (
        2,
        90,
        7200,
        90,
    )
    assert RolloutPlan.from_json(plan.to_json()) == plan


def test_more_waves_than_the_dag_has_room_for_are_refused(catalogue):
    config = {**CONFIG, "maxWaves": 3}
    assert max_waves(catalogue, config) == 3
    with pytest.raises(IntentValidationError) as refused:
        resolve({"type": "Progressive", "progressive": {"maxConcurrency": 1}}, ALL, catalogue, config=config)
    assert refused.value.errors[0].field == "rolloutStrategy.progressive"
    assert "5 waves; the pipeline runs at most 3" in refused.value.errors[0].reason


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("30s", 30), ("5m", 300), ("1h30m", 5400), ("0.5s", 0.5), ("2h0m10s", 7210)],
)
def test_go_durations(value, seconds):
    class Errors:
        found = []

        def add(self, path, reason):
            self.found.append((path, reason))

    errors = Errors()
    assert duration(value, "x", errors) == seconds and errors.found == []


@pytest.mark.parametrize("value", ["", "5", "5 m", "m", "1d", "-1s", "1e3s", 5, None, "169h"])
def test_bad_durations_name_the_field(catalogue, value):
    with pytest.raises(IntentValidationError) as refused:
        resolve({"type": "All", "all": {"minSuccessTime": value}}, ALL, catalogue, config=CONFIG)
    assert [e.field for e in refused.value.errors] == ["rolloutStrategy.all.minSuccessTime"]


@pytest.mark.parametrize(
    "strategy",
    [
        "All",
        ["All"],
        {"type": "All", "all": []},
        {"type": "All", "all": {"maxFailures": -1}},
        {"type": "All", "extra": 1},
        {"type": "Progressive", "progressive": {"maxConcurrency": 0}},
        {"type": "ProgressivePerGroup", "progressivePerGroup": {"mandatoryDecisionGroups": "canary"}},
        {
            "type": "ProgressivePerGroup",
            "progressivePerGroup": {"mandatoryDecisionGroups": [{"groupIndex": 9}]},
        },
        {"type": "All", "approval": {"groups": "canary"}},
        {"type": "All", "approval": {"groups": [], "who": "me"}},
        {"type": "All", "approval": {"timeout": "-5m"}},
    ],
)
def test_malformed_strategies_are_refused(catalogue, strategy):
    with pytest.raises(IntentValidationError) as refused:
        resolve(strategy, ALL, catalogue, config=CONFIG)
    assert refused.value.stage == "rollout"
    assert all(e.field.startswith("rolloutStrategy") for e in refused.value.errors)


def test_the_configured_default_is_canary_first():
    settings = load_settings()
    config = load_config()
    plan = resolve(None, ["edge3", "edge2", "edge1"], settings.catalogue, config=config)
    assert waves(plan) == [("canary", ("edge1",)), ("wave-2", ("edge2",)), ("wave-3", ("edge3",))]
    assert plan.type == "ProgressivePerGroup" and plan.maxFailures == 0
