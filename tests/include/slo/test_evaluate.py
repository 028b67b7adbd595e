"""SLO evaluation on synthetic series: limits, flapping, alerts, missing data, tightening, and the
intent's own targets as criteria (missed, not verifiable)."""

from __future__ import annotations

import re

import pytest

from include.compiler.config import PROJECT_ROOT, ConfigError
from include.slo.definitions import Profile, load_config, slos_for
from include.slo.evaluate import PrometheusUnavailable, Window, verify
from tests.clock import Clock

PROFILE = Profile(
    window=20, interval=2, rateWindow="10s", missingData="fail", failureLimit=4, consecutiveLimit=2
)

HEALTHY = {
    "latency_p95": 20.0,
    "error_rate": 0.1,
    "cpu_usage": 30.0,
    "memory_usage": 45.0,
    "pod_ready": 100.0,
}
"""A healthy site's value of each seed SLO."""


def run(series: dict[str, list], profile=PROFILE, targets=None, start=None, asked=None, served=None):
    """``series[slo]`` gives the value of each evaluation in turn (None: no samples, an exception: raised);
    ``served`` the requests served in the window, for a criterion that needs a volume."""
    config = load_config()
    slos = slos_for(namespace="intent-a", site="edge1", targets=targets or {}, config=config, profile=profile)
    clock = Clock()
    instants: list[float] = []

    def query(promql, at):
        if asked is not None:
            asked.append((at, clock.now))
        if any(s.volume == promql for s in slos):
            return served
        name = next(s.name for s in slos if s.query == promql)  # a criterion reads its seed SLO's series
        if name not in series:
            return HEALTHY[name]
        if at not in instants:
            instants.append(at)
        values = series[name]
        value = values[min(instants.index(at), len(values) - 1)]
        if isinstance(value, Exception):
            raise value
        return value

    return verify(slos, profile, query, clock=clock, sleep=clock.sleep, start=start)


def test_steady_series_passes_and_every_evaluation_is_recorded():
    verdict = run({})
    assert verdict.result == "pass" and verdict.trigger is None
    assert len(verdict.evaluations) == 11 * 5  # t = 0, 2, ..., 20 for five SLOs
    first = verdict.evaluations[0]
    assert first.query.startswith("1000 * histogram_quantile(0.95") and first.threshold == 100 and first.met


def test_one_noisy_sample_does_not_roll_back():
    verdict = run({"latency_p95": [20, 20, 500, 20]})
    assert verdict.result == "pass"
    assert verdict.slos["edge1"]["latency_p95"]["failures"] == 1


def test_sustained_breach_rolls_back_at_the_consecutive_limit():
    verdict = run({"latency_p95": [20, 20, 500, 500, 500]})
    assert verdict.result == "breach" and verdict.trigger == "slo_breach"
    breach = verdict.breaches[0]
    assert breach["slo"] == "latency_p95" and breach["breachDuration"] == 2.0
    assert breach["detectedAt"] - breach["firstFailure"] == PROFILE.interval
    assert verdict.ended == 1000.0 + 3 * PROFILE.interval  # ended early, at detection


def test_flapping_metric_rolls_back_at_the_failure_limit():
    verdict = run({"pod_ready": [50, 100, 50, 100, 50, 100, 50, 100]})
    assert verdict.result == "breach"
    assert verdict.slos["edge1"]["pod_ready"]["failures"] == 4
    assert verdict.slos["edge1"]["pod_ready"]["longestFailureRun"] == 1


def test_alert_class_failures_are_reported_not_rolled_back():
    verdict = run({"error_rate": [5.0], "memory_usage": [95.0]})
    assert verdict.result == "pass"
    assert {a["slo"] for a in verdict.alerts} == {"error_rate", "memory_usage"}


def test_a_scale_class_slo_breaks_like_a_rollback_class_one_and_says_its_action():
    # what a scale-class breach leads to (a scale step first) is Verifying's, not the window's
    assert run({"cpu_usage": [20, 95, 20, 20]}).result == "pass"
    verdict = run({"cpu_usage": [20, 95, 95, 20]})
    assert verdict.result == "breach"
    assert verdict.slos["edge1"]["cpu_usage"]["action"] == "scale"
    assert [b["slo"] for b in verdict.breaches] == ["cpu_usage"]
    assert verdict.breaches[0]["limits"]["consecutiveLimit"] == PROFILE.consecutiveLimit


def test_missing_data_fails_closed_by_default():
    verdict = run({"latency_p95": [None]})
    assert verdict.result == "breach" and verdict.trigger == "missing_data"
    assert verdict.evaluations[0].error == "no samples"


def test_unreachable_prometheus_is_no_pass():
    verdict = run(
        {
            name: [PrometheusUnavailable("Prometheus at http://127.0.0.1:9 could not answer")]
            for name in ("latency_p95", "error_rate", "cpu_usage", "memory_usage", "pod_ready")
        }
    )
    assert verdict.result == "breach" and verdict.trigger == "missing_data"
    assert "could not answer" in verdict.evaluations[0].error


def test_ignoring_missing_data_still_needs_some_data():
    ignoring = Profile(**{**PROFILE.model_dump(), "missingData": "ignore"})
    assert run({"latency_p95": [None, None, 20]}, profile=ignoring).result == "pass"
    verdict = run({"latency_p95": [None]}, profile=ignoring)
    assert verdict.result == "breach" and verdict.trigger == "missing_data"


def test_intent_latency_target_tightens_the_threshold():
    verdict = run({"latency_p95": [7.0]}, targets={"DlLatency": 5})
    assert verdict.result == "breach"
    assert verdict.slos["edge1"]["latency_p95"]["threshold"] == 5
    assert "DlLatency" in verdict.slos["edge1"]["latency_p95"]["basis"]
    assert verdict.slos["edge1"]["latency_p95"]["target"] == "DlLatency"  # the target's criterion
    assert run({"latency_p95": [7.0]}, targets={"DlLatency": 500}).result == "pass"  # never looser than 100


def test_queries_are_scoped_to_namespace_and_site():
    config = load_config()
    for slo in slos_for(namespace="intent-a", site="edge2", targets={}, config=config, profile=PROFILE):
        assert 'namespace="intent-a",site="edge2"' in slo.query
        assert "[10s]" in slo.query or slo.name in ("memory_usage", "pod_ready")
    with pytest.raises(ValueError):
        slos_for(namespace='a"}) or vector(1', site="edge1", targets={}, config=config, profile=PROFILE)


def test_a_window_that_started_before_the_call_reads_its_past_instants_at_once():
    asked = []
    verdict = run({}, start=1000.0 - 5, asked=asked)  # the change went live 5 s ago
    assert verdict.result == "pass" and verdict.started == 995.0 and verdict.ended == 1015.0
    instants = sorted({at for at, _ in asked})
    assert instants == [995.0 + 2 * i for i in range(10)] + [1015.0]  # the last one at the window's end
    # the instants already past were read at once (no waiting), the rest when they came
    assert {now for at, now in asked if at < 1000.0} == {1000.0}
    assert all(now == at for at, now in asked if at > 1000.0)


def test_a_breach_in_the_past_instants_is_detected_now():
    verdict = run({"latency_p95": [500, 500, 500]}, start=1000.0 - 8)
    assert verdict.result == "breach"
    breach = verdict.breaches[0]
    assert breach["firstFailure"] == 992.0 and breach["detectedAt"] == 1000.0  # known now, not at 994


def test_the_window_start_is_never_over_a_window_ago():
    assert run({}, start=1.0).started == 1000.0 - PROFILE.window


def test_a_window_that_starts_later_evaluates_nothing_before_its_start():
    asked: list = []
    verdict = run({}, start=1010.0, asked=asked)
    assert verdict.started == 1010.0 and verdict.ended == 1010.0 + PROFILE.window
    assert min(at for at, _ in asked) == 1010.0
    assert all(now >= at for at, now in asked)  # each instant read when it was due, not before


def test_no_samples_at_an_instant_before_the_call_is_not_judged():
    # the workload had not reported yet when the change went live: the first two instants are past
    verdict = run({"latency_p95": [None, None, None, 20.0]}, start=1000.0 - 3)
    assert verdict.result == "pass"
    first = [e for e in verdict.evaluations if e.slo == "latency_p95"][:3]
    assert [(e.time, e.met) for e in first] == [(997.0, None), (999.0, None), (1001.0, False)]
    assert verdict.slos["edge1"]["latency_p95"]["failures"] == 1  # only the one from the call on


def test_an_unreachable_prometheus_is_judged_even_at_past_instants():
    down = PrometheusUnavailable("connection refused")
    verdict = run({"latency_p95": [down, down, down]}, start=1000.0 - 3)
    assert verdict.result == "breach" and verdict.trigger == "missing_data"
    assert verdict.ended == 999.0  # the two past instants, failed at once: no waiting


def test_a_reliability_target_missed_degrades_without_rolling_back():
    verdict = run({"error_rate": [0.13]}, targets={"reliability": 99.999}, served=3_000_000)
    assert verdict.result == "pass" and verdict.breaches == []
    entry = verdict.slos["edge1"]["reliability"]
    assert entry["status"] == "missed" and entry["target"] == "reliability" and entry["action"] == "degrade"
    assert entry["threshold"] == pytest.approx(0.001) and entry["worst"] == 0.13
    assert [(d["slo"], d["target"]) for d in verdict.degraded] == [("reliability", "reliability")]
    assert verdict.slos["edge1"]["error_rate"]["status"] == "met"  # the seed's 1 % is still met


def test_one_noisy_sample_does_not_miss_a_target():
    verdict = run({"error_rate": [0.0, 0.5] + [0.0] * 20}, targets={"reliability": 99.9}, served=50_000)
    assert verdict.slos["edge1"]["reliability"]["status"] == "failing"
    assert verdict.degraded == [] and verdict.unverified == []


def test_a_target_too_few_requests_can_show_is_not_verifiable():
    verdict = run({"error_rate": [0.0]}, targets={"reliability": 99.999}, served=2_400)
    entry = verdict.slos["edge1"]["reliability"]
    assert entry["status"] == "unverifiable"
    assert entry["volume"] == {"served": 2_400, "needed": 300_000}  # 3 / (1 - 0.99999), the rule of three
    assert [u["slo"] for u in verdict.unverified] == ["reliability"]
    shown = run({"error_rate": [0.0]}, targets={"reliability": 99.5}, served=2_400)
    assert shown.slos["edge1"]["reliability"]["status"] == "met" and shown.unverified == []


def test_a_target_of_100_percent_is_never_shown():
    verdict = run({"error_rate": [0.0]}, targets={"reliability": 100}, served=10**12)
    entry = verdict.slos["edge1"]["reliability"]
    assert entry["status"] == "unverifiable" and entry["volume"]["needed"] is None


def test_a_target_with_no_samples_is_no_data_and_no_breach():
    verdict = run({"error_rate": [None]}, targets={"reliability": 99.9}, served=0)
    assert verdict.slos["edge1"]["reliability"]["status"] == "no data"
    assert verdict.trigger != "slo_breach"


def test_a_target_under_rollback_breaks_like_a_seed_slo(tmp_path, monkeypatch):
    text = (PROJECT_ROOT / "config" / "slo.yaml").read_text(encoding="utf-8")
    changed = text.replace(
        "reliability: {slo: error_rate, onMiss: degrade}", "reliability: {slo: error_rate, onMiss: rollback}"
    )
    assert changed != text
    (tmp_path / "slo.yaml").write_text(changed, encoding="utf-8")
    monkeypatch.setenv("EDGE_INTENT_SLO_CONFIG", str(tmp_path / "slo.yaml"))
    verdict = run({"error_rate": [0.13]}, targets={"reliability": 99.9}, served=10**6)
    assert verdict.result == "breach" and [b["slo"] for b in verdict.breaches] == ["reliability"]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace("  jitter: {notObservable", "  # jitter: {notObservable"), "missing ['jitter']"),
        (lambda t: t + "  bogus: {notObservable: x}\n", "unknown ['bogus']"),
        (lambda t: t.replace("{slo: error_rate, onMiss: degrade}", "{slo: nope, onMiss: degrade}"), "nope"),
        (
            lambda t: t.replace("{slo: error_rate, onMiss: degrade}", "{slo: error_rate}"),
            "either slo and onMiss",
        ),
    ],
    ids=["a kind without a policy", "an unknown kind", "an unknown SLO", "no onMiss"],
)
def test_a_target_policy_that_is_not_complete_is_a_config_error(tmp_path, edit, message):
    text = (PROJECT_ROOT / "config" / "slo.yaml").read_text(encoding="utf-8")
    (tmp_path / "slo.yaml").write_text(edit(text), encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(tmp_path / "slo.yaml")


def test_a_window_opened_again_at_a_later_time_rebuilds_its_failures_in_a_row():
    """A deferred window whose triggerer restarted is opened again with the same start: the instants
    already past are evaluated again at their own time, so failures in a row are not forgotten."""
    config = load_config()
    slos = slos_for(namespace="intent-a", site="edge1", targets={}, config=config, profile=PROFILE)
    latency = next(s.query for s in slos if s.name == "latency_p95")
    # latency breaks from t=1006 on (the threshold is 100 ms); everything else is healthy
    values = {s.query: HEALTHY[s.name] for s in slos}

    def query(promql, at):
        return 250.0 if promql == latency and at >= 1006 else values[promql]

    clock = Clock(1000.0)
    first = Window(slos, PROFILE, now=clock(), start=1000.0)
    while clock.now < 1006:
        assert first.step(query, clock) is None
        clock.sleep(max(0.0, first.tick - clock()))
    assert first.step(query, clock) is None  # 1006: one failure, not yet a breach
    assert [e.time for e in first.evaluations if e.met is False] == [1006.0]
    clock.sleep(1.0)  # the triggerer restarts; the same window is opened again
    again = Window(slos, PROFILE, now=clock(), start=1000.0)
    verdict = None
    while (verdict := again.step(query, clock)) is None:
        clock.sleep(max(0.0, again.tick - clock()))
    assert verdict.result == "breach" and verdict.trigger == "slo_breach"
    failed = [e.time for e in verdict.evaluations if e.slo == "latency_p95" and e.met is False]
    assert failed == [1006.0, 1008.0]  # the second failure in a row breaks it (consecutiveLimit 2)
    assert verdict.started == 1000.0 and verdict.breaches[0]["firstFailure"] == 1006.0


def test_stepping_a_window_gives_the_same_verdict_as_verify():
    stepped = run({"latency_p95": [20, 20, 300, 300]})
    assert stepped.result == "breach" and stepped.breaches[0]["slo"] == "latency_p95"
