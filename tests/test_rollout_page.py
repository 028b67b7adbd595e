"""The Rollout page (``/edge-intent/rollout``) in a real headless Chromium, against the running stack:
a real pipeline run followed live and after it ends, the Airflow UI's run tab that embeds it, its
data endpoint, its refusals and its escaping. Chromium is driven over the DevTools protocol.

Screenshots go to ``artifacts/`` (gitignored): ``rollout-page.png`` (the page once the run ended),
``rollout-page-live.png`` (while it ran) and ``rollout-tab.png`` (the page as a tab of the run in
Airflow's UI).
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import shutil
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import websocket

from include.compiler.config import PROJECT_ROOT
from include.lifecycle import Dag
from include.localstack import stack as localstack
from include.localstack.airflow_api import AirflowAPI
from tests.profiles import PROFILE as SLO_PROFILE

PAGE = "/edge-intent/rollout"
ARTIFACTS = PROJECT_ROOT / "artifacts"
INTENT = "URLLC slice with 5 ms latency at edge1 and edge2"  # two waves: the canary, then edge2
HOSTILE = "\"><img src=x onerror=\"document.title='pwned'\">'&amp;<script>x=1<\\script>"
"""A run id no real run has: markup, quotes, an entity and a script tag (no '/': it would be a path
separator)."""


def _browser_binary() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.fail("Chromium is not installed: apt-get install chromium (.ci/run installs it when missing)")


class Chromium:
    """A headless Chromium of its own (own profile in ``profile``), driven over the DevTools protocol
    on one page target. ``close()`` ends the browser it started, and only that."""

    def __init__(self, profile: Path) -> None:
        self.log = (profile / "chromium.log").open("wb")
        self.process = subprocess.Popen(
            [
                _browser_binary(),
                "--headless=new",
                "--no-sandbox",  # root in CI
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                # no network of its own: this machine's closed network refuses it, which can hold a
                # start past the deadline on a busy machine
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-quic",
                "--window-size=1400,900",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                f"--user-data-dir={profile}",
                "about:blank",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        port_file = profile / "DevToolsActivePort"
        deadline = time.time() + 90  # a busy two-core machine (the test files run side by side)
        while not (port_file.exists() and port_file.read_text().strip()):
            if self.process.poll() is not None or time.time() > deadline:
                self.close()
                pytest.fail(f"Chromium did not start; see {profile / 'chromium.log'}")
            time.sleep(0.1)
        port = port_file.read_text().split()[0]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as reply:
            target = next(t for t in json.load(reply) if t["type"] == "page")
        self.ws = websocket.create_connection(
            target["webSocketDebuggerUrl"], timeout=60, suppress_origin=True
        )
        self.ids = itertools.count(1)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        sent = next(self.ids)
        self.ws.send(json.dumps({"id": sent, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == sent:
                assert "error" not in message, f"{method}: {message['error']}"
                return message.get("result", {})

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        assert "exceptionDetails" not in result, result["exceptionDetails"]
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 30, what: str = "") -> Any:
        deadline = time.time() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.time() > deadline:
                body = self.evaluate("document.body ? document.body.innerText : ''")
                raise AssertionError(f"{what or expression} not true within {timeout:g} s; page:\n{body}")
            time.sleep(0.25)

    def open(self, url: str) -> None:
        """Load ``url`` and wait until the new document has loaded."""
        self.evaluate("window.__left = true")
        self.call("Page.navigate", url=url)
        self.wait_for("!window.__left && document.readyState === 'complete'", what=f"{url} to load")

    def login(self, base: str, token: str) -> None:
        """Airflow UI's own cookie: the JWT in ``_token`` for the api-server's origin."""
        self.call("Network.setCookie", name="_token", value=token, url=base, path="/")

    def screenshot(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        shot = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    def close(self) -> None:
        with contextlib.suppress(Exception):  # ending the browser anyway
            if getattr(self, "ws", None):
                self.call("Browser.close")
                self.ws.close()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        self.log.close()


@pytest.fixture(scope="module")
def running(airflow_stack):
    yield airflow_stack, AirflowAPI(airflow_stack.airflow_url, *localstack.ADMIN)


@pytest.fixture
def browser(tmp_path):
    chromium = Chromium(tmp_path)
    yield chromium
    chromium.close()


def _page(run_id: str, dag_id: str = Dag.PIPELINE, *, data: bool = False) -> str:
    path = f"{PAGE}/{urllib.parse.quote(dag_id, safe='')}/{urllib.parse.quote(run_id, safe='')}"
    return path + ("/data" if data else "")


def _dom(chromium: Chromium) -> dict[str, Any]:
    """What the page shows: its refresh state, fetch count, record state, waves and site cells."""
    return chromium.evaluate(
        """(() => ({
        refresh: document.body.dataset.refresh,
        fetches: Number(document.body.dataset.fetches),
        status: document.getElementById("status").textContent,
        error: document.getElementById("error").hidden ? "" : document.getElementById("error").textContent,
        record: (document.querySelector(".record-state") || {}).textContent || "",
        waves: [...document.querySelectorAll("thead th[data-wave]")].map(th => ({
            index: th.dataset.wave, state: th.dataset.state,
            name: th.querySelector(".wave-name").textContent})),
        cells: [...document.querySelectorAll("td.cell")].map(td => ({
            site: td.dataset.site, wave: td.dataset.wave, state: td.dataset.state, text: td.innerText})),
        untouched: (document.getElementById("untouched-sites") || {}).textContent || "",
        summary: document.getElementById("summary").innerText,
    }))()"""
    )


def test_the_plugin_declares_the_rollout_tab_of_every_run(running):
    _, admin = running
    status, _, body = admin.send("GET", "/api/v2/plugins?limit=100")
    assert status == 200, body
    plugin = next(p for p in body["plugins"] if p["name"] == "edge_intent")
    views = [v for v in plugin["external_views"] if v["name"] == "Rollout"]
    assert len(views) == 1, plugin["external_views"]
    assert views[0]["destination"] == "dag_run" and views[0]["url_route"] == "rollout"
    assert views[0]["href"] == f"{PAGE}/{{DAG_ID}}/{{RUN_ID}}"  # the UI's own placeholders
    assert any(a["url_prefix"] == PAGE for a in plugin["fastapi_apps"]), plugin["fastapi_apps"]


def test_the_page_and_its_data_need_a_login_that_may_read_the_runs(running):
    stack, admin = running
    for path in (_page("any-run"), _page("any-run", data=True)):
        status, _, body = admin.send("GET", path, token=None)
        assert status == 401, (path, status, body)
        status, _, body = admin.send("GET", path, token="not-a-jwt")
        assert status == 403, (path, status, body)
    # a viewer may read runs: the page is served, and the data says the run is unknown
    viewer = AirflowAPI(stack.airflow_url, *localstack.VIEWER)
    status, headers, body = viewer.send("GET", _page("any-run"))
    assert status == 200 and headers["content-type"].startswith("text/html"), body
    assert viewer.send("GET", _page("any-run", data=True))[0] == 404


def test_the_data_of_an_unknown_run_or_of_another_dag_is_a_404(running):
    _, admin = running
    status, headers, body = admin.send("GET", _page("manual__no-such-run", data=True))
    assert status == 404 and headers["content-type"] == "application/json", body
    assert body["reason"] == "run not found" and "manual__no-such-run" in body["message"], body
    status, _, body = admin.send("GET", _page("manual__x", Dag.REVERIFY, data=True))
    assert status == 404 and body["reason"] == "no rollout", body
    assert Dag.PIPELINE in body["message"]


HOSTILE_REASON = "<script>document.title='pwned'</script>"
FAKE = {
    "dagId": Dag.PIPELINE,
    "runId": "fake-run",
    "run": {"state": "success", "phase": "RolledBack"},
    "live": False,
    "rollout": {
        "intentId": "<img src=x onerror=\"document.title='pwned'\">",
        "type": "ProgressivePerGroup",
        "state": "RolledBack",
        "failures": 1,
        "maxFailures": 0,
        "stopped": {"wave": 2, "reason": f"edge2 failed: {HOSTILE_REASON}"},
        "waves": [
            {
                "index": 1,
                "name": "canary",
                "groups": ["canary"],
                "state": "Succeeded",
                "approval": {
                    "required": True,
                    "decision": "Approve",
                    "by": "<b>admin</b>",
                    "at": "2026-12-01",
                },
                "sites": {"edge1": {"state": "reverted", "commit": "a" * 40, "slo": {"result": "pass"}}},
            },
            {
                "index": 2,
                "name": "wave-2",
                "groups": ["wave-2"],
                "state": "Failed",
                "approval": {"required": False},
                "sites": {
                    "edge2": {
                        "state": "failed",
                        "commit": "b" * 40,
                        "slo": {"result": "breach", "trigger": '"><i>latency_p99</i>'},
                        "failure": {"phase": "Verifying", "reason": f"slo_breach: {HOSTILE_REASON}"},
                        "revert": {"commit": "c" * 40, "restoredAt": 1764582000},
                    }
                },
            },
            {
                "index": 3,
                "name": "wave-3",
                "groups": ["wave-3"],
                "state": "Skipped",
                "approval": {"required": True},
                "sites": {"edge3": {"state": "untouched"}},
            },
        ],
        "untouched": ["edge3"],
        "reverts": {"edge1": {"commit": "d" * 40, "restoredAt": 1764582001, "error": None}},
    },
}
"""A closed rollout record with every part the page shows, and markup in what users can write."""


@pytest.fixture
def fake_server():
    """The page as the plugin serves it (its headers too) with :data:`FAKE` as its data, on a port of
    its own: what the page shows of a record the running stack would take minutes to make."""
    from edge_intent.api.rollout_page import rollout_page

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.endswith("/data"):
                body, headers = json.dumps(FAKE).encode(), [("content-type", "application/json")]
            else:
                page = rollout_page(Dag.PIPELINE, "fake-run")
                body = page.body
                headers = [(k.decode(), v.decode()) for k, v in page.raw_headers if k != b"content-length"]
            self.send_response(200)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(10)


def test_the_page_shows_every_part_of_a_record_as_text(fake_server, browser):
    browser.open(f"{fake_server}{_page('fake-run')}")
    browser.wait_for("document.body.dataset.refresh === 'off'", what="the page to render the record")
    shown = _dom(browser)
    assert browser.evaluate("document.title") == "Rollout of fake-run"  # no script ran
    assert browser.evaluate("document.querySelectorAll('img, b, i, #grid script').length") == 0
    assert shown["record"] == "RolledBack" and "not refreshing" in shown["status"], shown
    assert FAKE["rollout"]["intentId"] in shown["summary"]
    assert (
        "1 / 0 allowed" in shown["summary"] and f"wave 2: edge2 failed: {HOSTILE_REASON}" in shown["summary"]
    )
    assert "Approve by <b>admin</b> at 2026-12-01" in shown["summary"], shown["summary"]
    assert [(w["name"], w["state"]) for w in shown["waves"]] == [
        ("1. canary", "Succeeded"),
        ("2. wave-2", "Failed"),
        ("3. wave-3", "Skipped"),
    ]
    cells = {c["site"]: c for c in shown["cells"]}
    assert [(s, c["wave"], c["state"]) for s, c in cells.items()] == [
        ("edge1", "1", "reverted"),
        ("edge2", "2", "failed"),
        ("edge3", "3", "untouched"),
    ]
    assert "SLO pass" in cells["edge1"]["text"] and "aaaaaaaa" in cells["edge1"]["text"]
    assert "reverted by dddddddd, restored 2025-12-01T09:40:01Z" in cells["edge1"]["text"]
    edge2 = cells["edge2"]["text"]
    assert 'SLO breach: "><i>latency_p99</i>' in edge2 and f"Verifying: slo_breach: {HOSTILE_REASON}" in edge2
    assert "reverted by cccccccc, restored 2025-12-01T09:40:00Z" in edge2 and "bbbbbbbb" in edge2
    assert shown["untouched"] == "edge3"
    assert browser.evaluate("document.querySelectorAll('#grid td.empty').length") == 6  # sites x waves
    browser.screenshot(ARTIFACTS / "rollout-page-rolled-back.png")


def test_a_hostile_run_id_is_escaped_in_the_page(running, browser):
    stack, admin = running
    status, headers, page = admin.send("GET", _page(HOSTILE))
    assert status == 200, page
    assert HOSTILE not in page and "<img" not in page and "<script>x=1" not in page
    assert "&quot;&gt;&lt;img src=x onerror=&quot;" in page and "&amp;amp;" in page
    assert "nonce-" in headers["content-security-policy"]

    browser.login(stack.airflow_url, admin.token())
    browser.open(f"{stack.airflow_url}{_page(HOSTILE)}")
    browser.wait_for("document.body.dataset.refresh === 'off'", what="the page giving up on the unknown run")
    shown = _dom(browser)
    assert browser.evaluate("document.getElementById('run-id').textContent") == HOSTILE
    assert browser.evaluate("document.querySelectorAll('img, #grid script').length") == 0
    assert browser.evaluate("document.title") == f"Rollout of {HOSTILE}"
    assert shown["error"].startswith("404: ") and shown["status"].startswith("No rollout to show"), shown


def test_the_page_follows_a_real_rollout_and_stops_refreshing_when_it_is_done(running, browser):
    stack, admin = running
    status, _, accepted = admin.send(
        "POST", "/api/intent", json.dumps({"intent": INTENT, "slo_profile": SLO_PROFILE}).encode()
    )
    assert status == 202, accepted
    run_id = accepted["runId"]
    planned = accepted["rollout"]
    site_wave = {s: w["name"] for w in planned["waves"] for s in w["sites"]}
    assert "edge2" in site_wave, planned

    browser.login(stack.airflow_url, admin.token())
    url = f"{stack.airflow_url}{_page(run_id)}"
    browser.open(url)
    # live: the grid shows edge2 in its wave, and the page refreshes
    browser.wait_for(
        "document.querySelector('td.cell[data-site=\"edge2\"]') !== null",
        90,
        "edge2's cell while the run runs",
    )
    live = _dom(browser)
    assert admin.run(Dag.PIPELINE, run_id)["state"] == "running", "the run ended before the page was read"
    assert live["refresh"] == "on" and "refreshing every 2 s" in live["status"], live
    assert live["record"] in ("Progressing", "Stopped"), live
    assert [w["name"] for w in live["waves"]] == [f"{w['index']}. {w['name']}" for w in planned["waves"]]
    browser.screenshot(ARTIFACTS / "rollout-page-live.png")
    seen = {c["state"] for c in live["cells"] if c["site"] == "edge2"}
    finished = None
    deadline = time.time() + 300
    while finished is None and time.time() < deadline:
        seen |= {c["state"] for c in _dom(browser)["cells"] if c["site"] == "edge2"}
        run = admin.run(Dag.PIPELINE, run_id)
        finished = run if run["state"] in ("success", "failed") else None
        time.sleep(0.5)
    assert finished is not None, "the run did not end within 300 s"

    # done: the page reads the run once more, then stops refreshing
    browser.wait_for("document.body.dataset.refresh === 'off'", 15, "the page to stop refreshing")
    done = _dom(browser)
    time.sleep(5)  # more than two refresh periods
    assert _dom(browser)["fetches"] == done["fetches"], "the page went on reading after the run ended"
    assert "not refreshing" in done["status"], done
    shot = browser.screenshot(ARTIFACTS / "rollout-page.png")
    assert shot.stat().st_size > 10_000

    status, _, data = admin.send("GET", _page(run_id, data=True))
    assert status == 200 and data["live"] is False, data
    rollout = data["rollout"]
    assert finished["state"] == "success", f"the pipeline run failed: {json.dumps(rollout)[:3000]}"
    assert rollout["state"] == "Succeeded" and done["record"] == "Succeeded", (rollout, done)
    cell = next(c for c in done["cells"] if c["site"] == "edge2")
    wave = next(w for w in rollout["waves"] if "edge2" in w["sites"])
    outcome = wave["sites"]["edge2"]
    assert cell["wave"] == str(wave["index"]) and wave["name"] == site_wave["edge2"]
    assert cell["state"] == outcome["state"] == "passed", (cell, outcome)
    assert "SLO pass" in cell["text"] and outcome["commit"][:8] in cell["text"], cell
    assert any(w["name"] == f"{wave['index']}. {wave['name']}" for w in done["waves"]), done
    assert f"{rollout['failures']} / {rollout['maxFailures']} allowed" in done["summary"], done
    assert done["untouched"] == (", ".join(rollout["untouched"]) or "none"), done
    assert "in_progress" in seen, seen  # the page showed edge2 while its tasks ran

    # the same page as the run's "Rollout" tab in Airflow's UI: an iframe of the href, on the cookie
    browser.open(
        f"{stack.airflow_url}/dags/{Dag.PIPELINE}/runs/{urllib.parse.quote(run_id, safe='')}/plugin/rollout"
    )
    frame = "document.querySelector('iframe[title=\"Rollout\"]')"
    src = browser.wait_for(f"{frame} && {frame}.getAttribute('src')", 60, "the UI's Rollout tab")
    assert src == _page(run_id), src
    inside = f"({frame}.contentDocument || document.createElement('p'))"  # the page in the iframe
    browser.wait_for(
        f"{inside}.body?.dataset.refresh === 'off' && "
        f'{inside}.querySelector(\'td.cell[data-site="edge2"][data-state="passed"]\') !== null',
        60,
        "the rollout grid inside the UI's tab",
    )
    browser.screenshot(ARTIFACTS / "rollout-tab.png")
