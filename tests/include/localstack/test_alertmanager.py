"""The local stack's real Alertmanager: Prometheus sends to it, the pipeline's hook sends Verifying's
alert-class findings to it, and it delivers alerts to the webhook with the stack's bearer token, on
loopback only."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from edge_intent.hooks.alertmanager import AlertmanagerHook, send
from include.localstack import monitoring
from include.localstack import stack as localstack


class Receiver(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Receiver.received.append((self.headers.get("Authorization"), body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    server = HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Receiver.received = []
    yield f"http://127.0.0.1:{server.server_port}/api/intent/alerts"
    server.shutdown()


def test_alerts_reach_the_webhook_with_the_token(tmp_path, receiver, monkeypatch):
    stack = localstack.start(tmp_path / "stack", sites=["edge1"], prometheus=True)
    try:
        url = monitoring.start_alertmanager(stack, receiver)
        deadline = time.time() + 30
        while True:  # Prometheus found it through its file_sd targets
            with urllib.request.urlopen(f"{stack.prometheus_url}/api/v1/alertmanagers", timeout=5) as reply:
                active = json.load(reply)["data"]["activeAlertmanagers"]
            if active:
                break
            assert time.time() < deadline, "Prometheus never saw the Alertmanager"
            time.sleep(0.5)
        assert active[0]["url"].startswith(url)
        # what Verifying sends for an alert-class SLO's failures, through the pipeline's hook
        monkeypatch.setenv("AIRFLOW_CONN_ALERTMANAGER_TEST", json.dumps({"conn_type": "http", "host": url}))
        hook = AlertmanagerHook("alertmanager_test")
        assert hook.test_connection()[0] is True
        verdict = {
            "alerts": [
                {
                    "site": "edge1",
                    "slo": "memory_usage",
                    "failures": 3,
                    "threshold": 85.0,
                    "unit": "%",
                    "worst": 91.5,
                }
            ]
        }
        said = send(
            verdict,
            intent_id="a",
            run_id="manual__1",
            task="wave_1.sites.verify_slos",
            conn_id="alertmanager_test",
            now=time.time(),
        )
        assert said == {"sent": 1}
        with urllib.request.urlopen(f"{url}/api/v2/alerts", timeout=5) as reply:
            [held] = json.load(reply)
        assert held["labels"]["alertname"] == "SliceMemoryHigh" and held["labels"]["source"] == "verifying"
        assert held["status"]["state"] == "active"
        deadline = time.time() + 30
        while not Receiver.received:
            assert time.time() < deadline, "the alert never reached the webhook"
            time.sleep(0.2)
        authorization, body = Receiver.received[0]
        assert authorization == f"Bearer {monitoring.token(stack.root, 'alert-token')}"
        assert body["version"] == "4" and body["status"] == "firing"
        assert body["alerts"][0]["labels"]["namespace"] == "intent-a"
        assert "worst 91.5 %" in body["alerts"][0]["annotations"]["summary"]
        assert (
            monitoring.token(stack.root, "alert-token") not in (stack.root / "alertmanager.yml").read_text()
        )
    finally:
        stack.stop()
