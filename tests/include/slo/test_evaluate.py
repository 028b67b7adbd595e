"""SLO evaluation on synthetic series: limits, flapping, alerts, missing data, tightening."""

from __future__ import annotations

import pytest

from include.slo.definitions import Profile, load_config, slos_for
from include.slo.evaluate import PrometheusUnavailable, verify

PROFILE = Profile(
    window=20, interval=2, rateWindow="10s", missingData="fail", failureLimit=4, consecutiveLimit=2
)


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def run(series: dict[str, list], profile=PROFILE, targets=None, start=None, asked=None):
    """``series[slo]`` gives the value of each evaluation in turn (None: no samples, an exception: raised)."""
    config = load_config()
    slos = slos_for(namespace="intent-a", site="edge1", targets=targets or {}, config=config, profile=profile)
    clock = Clock()
    calls = {name: 0 for name in series}
    healthy = {
        "latency_p95": 20.0,
        "error_rate": 0.1,
        "cpu_usage": 30.0,
        "memory_usage": 45.0,
        "pod_ready": 100.0,
    }

    def query(promql, at):
        if asked is not None:
            asked.append((at, clock.now))
        name = next(s.name for s in slos if s.query == promql)
        if name not in series:
            return healthy[name]
        values = series[name]
        value = values[min(calls[name], len(values) - 1)]
        calls[name] += 1
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


def test_scale_class_must_persist_twice_as_long():
    assert run({"cpu_usage": [20, 95, 95, 95, 20, 20]}).result == "pass"
    assert run({"cpu_usage": [20, 95, 95, 95, 95]}).result == "breach"


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


def test_the_window_start_is_never_in_the_future_nor_over_a_window_ago():
    assert run({}, start=5000.0).started == 1000.0
    assert run({}, start=1.0).started == 1000.0 - PROFILE.window


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
