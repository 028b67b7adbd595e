"""Monitoring: the alerting rules (promtool), the Grafana dashboard, and the pipeline's metrics
exporter, in process and through the real running stack (Airflow's api-server serving the exporter,
the real Prometheus scraping it and evaluating the rules, after real runs of the pipeline)."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from unittest import mock

import pytest
import yaml
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from edge_intent import metrics, pipeline
from edge_intent.api import records
from include import lifecycle
from include.compiler.config import PROJECT_ROOT
from include.lifecycle import Dag, Key
from include.localstack import stack as localstack
from include.localstack.airflow_api import AirflowAPI
from include.slo.definitions import load_config
from tests.profiles import PROFILE as SLO_PROFILE

RULES = PROJECT_ROOT / "monitoring" / "prometheus" / "alerts.yml"
RULE_TESTS = PROJECT_ROOT / "monitoring" / "prometheus" / "alerts.test.yml"
DASHBOARD = PROJECT_ROOT / "monitoring" / "grafana" / "dashboards" / "edge-intent.json"
DAG = Dag.PIPELINE
SEVERITY = {"rollback": "critical", "alert": "warning", "scale": "warning"}


def promtool(*args: str) -> subprocess.CompletedProcess:
    binary = shutil.which("promtool")
    assert binary, "promtool is not installed: apt-get install --no-install-recommends prometheus"
    return subprocess.run(
        [binary, *args], capture_output=True, text=True, timeout=120, check=False, cwd=RULES.parent
    )


# -- alerting rules ---------------------------------------------------------------------------------


def test_promtool_checks_the_rules():
    done = promtool("check", "rules", str(RULES))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_promtool_unit_tests_pass():
    done = promtool("test", "rules", str(RULE_TESTS))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def _alerts() -> dict[str, dict]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return {rule["alert"]: rule for group in groups for rule in group["rules"] if "alert" in rule}


def test_every_alert_is_tested_firing_and_silent():
    cases: dict[str, list[list]] = {}
    for test in yaml.safe_load(RULE_TESTS.read_text())["tests"]:
        for case in test.get("alert_rule_test", []):
            cases.setdefault(case["alertname"], []).append(case.get("exp_alerts") or [])
    for name in _alerts():
        assert any(cases.get(name, [])), f"{name}: no test where it fires"
        assert any(not expected for expected in cases.get(name, [])), f"{name}: no test where it stays silent"


def test_one_alert_per_slo_with_the_severity_of_its_action_naming_namespace_and_site():
    config = load_config()
    by_slo = {rule["labels"].get("slo"): rule for rule in _alerts().values() if rule["labels"].get("slo")}
    assert set(by_slo) == set(config.slos)
    for name, definition in config.slos.items():
        rule = by_slo[name]
        assert rule["labels"]["severity"] == SEVERITY[definition.action], name
        assert rule["labels"]["action"] == definition.action, name
        assert rule["for"], name
        assert f"{definition.threshold:g}" in rule["expr"], name
        assert "by (namespace, site" in rule["expr"], name
        for text in rule["annotations"].values():
            assert "{{ $labels.namespace }}" in text and "{{ $labels.site }}" in text, name


# -- dashboard --------------------------------------------------------------------------------------

PANELS = {
    "Intent Processing Rate": "reqps",
    "GitOps Sync Lag": "s",
    "O2IMS API Latency": "s",
    "SLO Compliance": "percent",
}


def _dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def test_dashboard_has_the_four_panels_with_units_and_descriptions():
    dashboard = _dashboard()
    assert dashboard["uid"] == "edge-intent"
    assert 36 <= dashboard["schemaVersion"] <= 41
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["DS_PROMETHEUS"]["type"] == "datasource"
    assert variables["DS_PROMETHEUS"]["query"] == "prometheus"
    panels = dashboard["panels"]
    assert [p["title"] for p in panels] == list(PANELS)
    assert len({p["id"] for p in panels}) == 4
    for panel in panels:
        assert panel["fieldConfig"]["defaults"]["unit"] == PANELS[panel["title"]]
        assert len(panel["description"]) > 40
        assert panel["datasource"] == {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
        assert [t["datasource"]["uid"] for t in panel["targets"]] == ["${DS_PROMETHEUS}"]
    exprs = {p["title"]: p["targets"][0]["expr"] for p in panels}
    assert exprs["Intent Processing Rate"] == "sum by (result) (rate(intent_processed_total[5m]))"
    assert "histogram_quantile(0.95" in exprs["O2IMS API Latency"]
    assert "o2ims_request_duration_seconds_bucket" in exprs["O2IMS API Latency"]
    compliance = exprs["SLO Compliance"]
    assert "slo_violations_total" in compliance and "slo_evaluations_total" in compliance
    assert "seed" in panels[3]["description"]


# -- the exporter, in process -----------------------------------------------------------------------


WATCHER = (lifecycle.WATCHER, Key.RETURN)
REVERTS = (lifecycle.ROLLBACK_REVERT, Key.REVERTS)
EVIDENCE = (lifecycle.ROLLBACK_EVIDENCE, Key.RETURN)


def test_run_results():
    assert metrics.result_of("success", {}, {WATCHER: "Succeeded"}) == "succeeded"
    assert (
        metrics.result_of("success", {}, {WATCHER: pipeline.outcome_of({"state": "Fulfilled"})})
        == "succeeded"
    )
    missed = {"state": "Degraded", "missed": ["reliability at edge1: measured 99.87 %"], "notVerifiable": []}
    assert metrics.result_of("success", {}, {WATCHER: pipeline.outcome_of(missed)}) == "degraded"
    unshown = {
        "state": "Unverified",
        "missed": [],
        "notVerifiable": ["maxNumberofUEs at edge1: not verifiable"],
    }
    assert metrics.result_of("success", {}, {WATCHER: pipeline.outcome_of(unshown)}) == "unverified"
    dry = {WATCHER: "Dry run: compiled and rendered, nothing delivered"}
    assert metrics.result_of("success", {"dry_run": True}, dry) == "dry_run"
    rolled = {REVERTS: {"edge1": {"sha": "b" * 40}}, EVIDENCE: {"result": "success"}}
    assert metrics.result_of("failed", {}, rolled) == "rolled_back"
    # the revert was pushed but a site never confirmed the restore: not counted as rolled back
    unconfirmed = {REVERTS: {"edge1": {"sha": "b" * 40}}, EVIDENCE: {"result": "failed"}}
    assert metrics.result_of("failed", {}, unconfirmed) == "rollback_unconfirmed"
    assert metrics.result_of("failed", {}, {REVERTS: rolled[REVERTS]}) == "rollback_unconfirmed"
    conflict = {REVERTS: {"edge1": {"reverted": "a" * 40, "error": "conflict"}}}
    assert metrics.result_of("failed", {}, conflict) == "rollback_failed"
    invalid = {(lifecycle.VALIDATE, Key.ERRORS): {"errors": [{"field": "text", "reason": "unknown site"}]}}
    assert metrics.result_of("failed", {}, invalid) == "rejected"
    assert metrics.result_of("failed", {}, {}) == "failed"


def _site(**fields) -> dict:
    return {"state": "passed", "commit": "a" * 40, "created": True, **fields}


def test_run_facts_come_from_the_rollout_record():
    rollout = {
        "waves": [
            {
                "index": 1,
                "sites": {
                    "edge1": _site(
                        deliveredAt=1000.0,
                        syncedAt=1002.5,
                        provisionedAt=1006.0,
                        o2ims={"createdAt": 1003.0, "fulfilledAt": 1004.0},
                        slos={"latency_p95": {"evaluations": 15, "failures": 2}},
                    )
                },
            },
            {
                "index": 2,
                "sites": {
                    # no O2IMS times of its own: from the push to the wait seeing it fulfilled
                    "edge2": _site(deliveredAt=1001.0, syncedAt=1004.0, provisionedAt=1007.0, o2ims={}),
                    "edge3": {"state": "untouched"},
                },
            },
        ]
    }
    xcoms = {(lifecycle.ROLLOUT, Key.RETURN): rollout, WATCHER: "Succeeded"}
    facts = metrics.facts_of("success", {}, xcoms)
    assert facts.result == "succeeded"
    assert facts.sync_lags == {"edge1": (1000.0, 2.5), "edge2": (1001.0, 3.0)}
    assert facts.o2ims == {"edge1": 1.0, "edge2": 6.0}
    assert facts.slos == {("latency_p95", "edge1"): (15, 2)}
    # Delivering content that was already there pushed nothing: no lag, no O2IMS request.
    rollout["waves"][0]["sites"]["edge1"]["created"] = False
    again = metrics.facts_of("success", {}, xcoms)
    assert set(again.sync_lags) == set(again.o2ims) == {"edge2"}
    # a run without a rollout record (refused at validate) contributes no site figure
    assert metrics.facts_of("failed", {}, {}).sync_lags == {}


def test_finished_runs_are_read_once_through_the_run_records(monkeypatch):
    """The collector reads runs only through :mod:`edge_intent.api.records`, and a finished run's
    facts once, until the run changes (cleared and ended again)."""
    ended = datetime(2026, 1, 1, tzinfo=UTC)
    finished = {1: (ended, "success"), 2: (ended, "failed")}
    reads: list[list[int]] = []

    def by_ids(_session, ids, *, xcoms=None):
        assert xcoms == metrics.XCOMS
        reads.append(sorted(ids))
        outcome = {
            "success": {WATCHER: "Succeeded"},
            "failed": {REVERTS: {"edge1": {"sha": "b" * 40}}, EVIDENCE: {"result": "success"}},
        }
        return {
            run: records.RunRecord(
                Dag.PIPELINE, f"run{run}", finished[run][1], xcoms=outcome[finished[run][1]]
            )
            for run in ids
        }

    reader = mock.create_autospec(records, spec_set=True)
    reader.finished.side_effect = lambda _session, dag_id, states: dict(finished)
    reader.by_ids.side_effect = by_ids
    monkeypatch.setattr(metrics, "records", reader)
    collector = metrics.PipelineCollector()
    assert sorted(f.result for f in collector.runs()) == ["rolled_back", "succeeded"]
    assert sorted(f.result for f in collector.runs()) == ["rolled_back", "succeeded"]
    assert reads == [[1, 2], []]
    reader.finished.assert_called_with(mock.ANY, Dag.PIPELINE, metrics.FINISHED)
    finished[2] = (datetime(2026, 1, 2, tzinfo=UTC), "success")  # cleared, and succeeded this time
    del finished[1]  # removed by `airflow db clean`
    assert [f.result for f in collector.runs()] == ["succeeded"]
    assert reads[-1] == [2]


def _samples(families) -> dict[tuple[str, tuple], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in families
        for sample in family.samples
    }


def test_families_sum_runs_and_start_every_series_at_zero():
    runs = [
        metrics.RunFacts(
            "succeeded", {"edge1": (100.0, 2.0)}, {"edge1": 1.0}, {("pod_ready", "edge1"): (10, 0)}
        ),
        metrics.RunFacts(
            "rolled_back", {"edge1": (200.0, 4.0)}, {"edge1": 90.0}, {("pod_ready", "edge1"): (4, 3)}
        ),
        metrics.RunFacts("dry_run"),
    ]
    got = _samples(metrics.families(runs, ["edge1", "edge2"], ["pod_ready", "latency_p95"]))
    assert got[("intent_processed_total", (("result", "succeeded"),))] == 1
    assert got[("intent_processed_total", (("result", "rolled_back"),))] == 1
    assert got[("intent_processed_total", (("result", "dry_run"),))] == 1
    assert got[("intent_processed_total", (("result", "failed"),))] == 0
    assert got[("gitops_sync_lag_seconds", (("site", "edge1"),))] == 4.0  # the latest push
    assert ("gitops_sync_lag_seconds", (("site", "edge2"),)) not in got
    edge1 = (("site", "edge1"),)
    assert got[("o2ims_request_duration_seconds_count", edge1)] == 2
    assert got[("o2ims_request_duration_seconds_sum", edge1)] == 91.0
    assert got[("o2ims_request_duration_seconds_bucket", (("le", "1.0"), ("site", "edge1")))] == 1
    assert got[("o2ims_request_duration_seconds_bucket", (("le", "60.0"), ("site", "edge1")))] == 1
    assert got[("o2ims_request_duration_seconds_bucket", (("le", "120.0"), ("site", "edge1")))] == 2
    assert got[("o2ims_request_duration_seconds_count", (("site", "edge2"),))] == 0
    assert got[("slo_evaluations_total", (("site", "edge1"), ("slo", "pod_ready")))] == 14
    assert got[("slo_violations_total", (("site", "edge1"), ("slo", "pod_ready")))] == 3
    assert got[("slo_violations_total", (("site", "edge2"), ("slo", "latency_p95")))] == 0


def test_a_set_token_is_required(monkeypatch):
    monkeypatch.setenv(metrics.TOKEN_ENV, "right-token")
    client = TestClient(metrics.app)
    for headers in ({}, {"Authorization": "Bearer wrong-token"}, {"Authorization": "Basic right-token"}):
        reply = client.get("/metrics", headers=headers)
        assert reply.status_code == 401, headers
        assert reply.headers["www-authenticate"] == "Bearer"
        assert "right-token" not in reply.text


# -- through the running stack ----------------------------------------------------------------------


def _get(url: str, token: str | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


def _prom(stack, path: str, **params) -> dict:
    status, body = _get(f"{stack.prometheus_url}{path}?{urllib.parse.urlencode(params)}")
    assert status == 200, body
    return json.loads(body)["data"]


def _query(stack, expr: str) -> list[tuple[dict, float]]:
    data = _prom(stack, "/api/v1/query", query=expr)
    return [(item["metric"], float(item["value"][1])) for item in data["result"]]


def _wait_for(stack, expr: str, timeout: float = 60) -> list[tuple[dict, float]]:
    deadline = time.time() + timeout
    while True:
        found = _query(stack, expr)
        if found or time.time() > deadline:
            return found
        time.sleep(0.5)


@pytest.fixture(scope="module")
def monitored(tmp_path_factory):
    """The running stack, with a demo-profile intent run to Succeeded and a dry run; Prometheus saw the
    exporter's zero values before the runs began."""
    stack = localstack.start(tmp_path_factory.mktemp("monitored"), airflow=True)
    try:
        api = AirflowAPI(stack.airflow_url, *localstack.ADMIN)
        api.wait_for_dag(DAG)
        assert _wait_for(stack, 'intent_processed_total{job="edge-intent",result="succeeded"}'), (
            "Prometheus did not scrape the exporter"
        )
        runs = {
            "intent": api.trigger(
                DAG,
                {
                    "intent": "URLLC slice with 8 ms latency at all sites",
                    "slo_profile": SLO_PROFILE,
                    "rollout_strategy": {"type": "All"},
                },
            ),
            "dry": api.trigger(DAG, {"intent": "IoT sensors for a smart city at edge1", "dry_run": True}),
        }
        states = {name: api.follow(DAG, run_id, timeout=240)["state"] for name, run_id in runs.items()}
        assert states == {"intent": "success", "dry": "success"}
        yield stack, api, runs
    finally:
        stack.stop()


def test_the_endpoint_refuses_a_missing_or_wrong_token(monitored):
    stack, _, _ = monitored
    url = f"{stack.airflow_url}{localstack.METRICS_PATH}"
    assert _get(url)[0] == 401
    assert _get(url, "not-the-token")[0] == 401
    status, body = _get(url, stack.metrics_token())
    assert status == 200 and "intent_processed_total" in body


def test_exported_values_are_what_the_db_holds(monitored):
    stack, api, runs = monitored
    status, body = _get(f"{stack.airflow_url}{localstack.METRICS_PATH}", stack.metrics_token())
    assert status == 200
    got = _samples(text_string_to_metric_families(body))
    listed = api._call("GET", f"/api/v2/dags/{DAG}/dagRuns?limit=100")["dag_runs"]
    succeeded = [
        r
        for r in listed
        if r["state"] == "success"
        and api.xcom(DAG, r["dag_run_id"], lifecycle.WATCHER).startswith("Succeeded")
    ]
    dry = [r for r in listed if r["state"] == "success" and (r["conf"] or {}).get("dry_run")]
    assert got[("intent_processed_total", (("result", "succeeded"),))] == len(succeeded) == 1
    assert got[("intent_processed_total", (("result", "dry_run"),))] == len(dry) == 1
    assert sum(v for (name, _), v in got.items() if name == "intent_processed_total") == len(listed)

    run_id = runs["intent"]
    record = api.xcom(DAG, run_id, lifecycle.ROLLOUT)
    sites = {site: out for wave in record["waves"] for site, out in wave["sites"].items()}
    assert set(sites) == {"edge1", "edge2", "edge3"}
    for site, out in sites.items():
        labels = (("site", site),)
        lag = out["syncedAt"] - out["deliveredAt"]
        assert got[("gitops_sync_lag_seconds", labels)] == pytest.approx(lag, abs=0.001)
        assert 0 <= lag < 300
        # The simulated O2IMS reports whole seconds: creation and fulfilment times from the object.
        duration = out["o2ims"]["fulfilledAt"] - out["o2ims"]["createdAt"]
        assert got[("o2ims_request_duration_seconds_count", labels)] == 1
        assert got[("o2ims_request_duration_seconds_sum", labels)] == pytest.approx(duration, abs=0.001)
        assert out["provisionedAt"] >= out["deliveredAt"]
        for name, entry in out["slos"].items():
            key = (("site", site), ("slo", name))
            assert got[("slo_evaluations_total", key)] == entry["evaluations"] > 0
            assert got[("slo_violations_total", key)] == entry["failures"]


def test_prometheus_scrapes_the_metrics_and_answers_every_panel(monitored):
    stack, _, _ = monitored
    # The runs are counted once Prometheus has scraped after they ended.
    assert _wait_for(stack, 'intent_processed_total{result="succeeded"} == 1')
    assert _wait_for(stack, 'intent_processed_total{result="dry_run"} == 1')
    for name in (
        "intent_processed_total",
        "gitops_sync_lag_seconds",
        "o2ims_request_duration_seconds_bucket",
        "o2ims_request_duration_seconds_count",
        "slo_violations_total",
        "slo_evaluations_total",
    ):
        assert _query(stack, f'{name}{{job="edge-intent"}}'), name
    for panel in _dashboard()["panels"]:
        expr = panel["targets"][0]["expr"]
        found = _query(stack, expr)
        assert found, f"{panel['title']}: no data for {expr}"
        values = [value for _, value in found]
        assert all(math.isfinite(v) and v >= 0 for v in values), (panel["title"], found)
        if panel["title"] == "Intent Processing Rate":
            rates = {labels["result"]: value for labels, value in found}
            assert rates["succeeded"] > 0 and rates["dry_run"] > 0 and rates["rolled_back"] == 0
        if panel["title"] == "GitOps Sync Lag":
            assert {labels["site"] for labels, _ in found} == set(stack.sites)
        if panel["title"] == "O2IMS API Latency":
            assert {labels["site"] for labels, _ in found} == set(stack.sites)
            assert all(0 < v < 300 for v in values)
        if panel["title"] == "SLO Compliance":
            assert {labels["slo"] for labels, _ in found} == set(load_config().slos)
            assert all(v <= 100 for v in values)


def test_prometheus_evaluates_the_alerting_rules(monitored):
    stack, _, _ = monitored
    groups = {group["name"]: group for group in _prom(stack, "/api/v1/rules")["groups"]}
    assert set(groups) == {"edge-intent-slos", "edge-intent-pipeline"}
    loaded = {rule["name"] for group in groups.values() for rule in group["rules"]}
    assert loaded == set(_alerts())
    assert all(rule["health"] == "ok" for group in groups.values() for rule in group["rules"])
    firing = {alert["labels"]["alertname"] for alert in _prom(stack, "/api/v1/alerts")["alerts"]}
    # A healthy intent and a dry run: nothing rolled back, failed or slow.
    assert not firing & {"IntentRolledBack", "IntentRollbackFailed", "IntentRunsFailing", "GitOpsSyncLagHigh"}


def test_the_token_is_not_in_the_prometheus_config(monitored):
    stack, _, _ = monitored
    config = (stack.root / "prometheus.yml").read_text()
    assert stack.metrics_token() not in config
    assert os.stat(stack.root / "secrets" / "metrics-token").st_mode & 0o077 == 0
