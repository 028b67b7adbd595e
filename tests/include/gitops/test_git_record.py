"""Git as the record of what was delivered: a DAG run's delivery commits by their trailers, pushes
whose answer was lost but which landed, and credentials that stay out of the clone and the errors.

Lost answers are made by a proxy between the clone and the real Git smart-HTTP server: it drops
the connection of a push before or after the server handled it, or answers too late.
"""

from __future__ import annotations

import base64
import http.client
import logging
import subprocess
import time
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit

import pytest

from include.gitops import clone
from include.gitops.auth import GitAuth
from include.gitops.repo import GitError, SiteRepo, commit_message, revert_message
from include.gitserver.server import GitHTTPServer, User
from include.serving import BackgroundHTTPServer

TOKEN = "s3cret-token"
HEADER = base64.b64encode(f"pipeline:{TOKEN}".encode()).decode()
NS = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: intent-{}\n"


class _Forward(BaseHTTPRequestHandler):
    server: FaultyProxy

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:  # noqa: N802
        self._forward()

    def do_POST(self) -> None:  # noqa: N802
        self._forward()

    def _forward(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        fault = self.server.fault if self.path.endswith("/git-receive-pack") else None
        if fault == "drop-before":
            self.close_connection = True
            return
        upstream = http.client.HTTPConnection(
            self.server.upstream.hostname, self.server.upstream.port, timeout=30
        )
        skip = {"host", "connection", "content-length"}
        headers = {key: value for key, value in self.headers.items() if key.lower() not in skip}
        upstream.request(self.command, self.path, body=body, headers=headers)
        reply = upstream.getresponse()
        payload = reply.read()
        upstream.close()
        if fault == "drop-after":
            self.close_connection = True
            return
        if fault == "late":
            time.sleep(self.server.delay)
        self.send_response(reply.status)
        for key, value in reply.getheaders():
            if key.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class FaultyProxy(BackgroundHTTPServer):
    """Forwards to ``upstream``; ``fault`` spoils the pushes (``git-receive-pack`` requests)."""

    thread_name = "faulty-git-proxy"

    def __init__(self, upstream: str) -> None:
        self.upstream = urlsplit(upstream)
        self.fault: str | None = None
        self.delay = 0.0
        super().__init__(("127.0.0.1", 0), _Forward)

    def repo_url(self, name: str) -> str:
        return f"{self.url}/{name}.git"

    def handle_error(self, request, client_address) -> None:
        pass  # a late answer to a client that gave up


@pytest.fixture
def server(tmp_path):
    srv = GitHTTPServer(tmp_path / "git", [User("pipeline", TOKEN, True)])
    srv.create_repository("edge1-config")
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def proxy(server):
    srv = FaultyProxy(server.url).start()
    yield srv
    srv.stop()


@pytest.fixture
def site(server, tmp_path):
    return SiteRepo(server.repo_url("edge1-config"), GitAuth("pipeline", TOKEN), tmp_path / "cache")


def remote(server, *args):
    return subprocess.run(
        ["git", *args], cwd=server.root / "edge1-config.git", capture_output=True, text=True, check=True
    ).stdout


def deliver(site, intent_id, run_id, extra=""):
    files = {"namespace.yaml": NS.format(intent_id) + extra}
    return site.deliver(intent_id, files, message=commit_message(intent_id, "edge1", run_id))


# -- a run's deliveries ------------------------------------------------------------------------------


def test_deliveries_of_run_match_intent_and_run_exactly(site):
    mine = deliver(site, "a", "run-7")
    deliver(site, "a", "run-77", "# v2\n")  # a run id of which run-7 is a prefix
    deliver(site, "b", "run-7")  # same run, another intent
    again = deliver(site, "a", "run-7", "# v3\n")
    site.deliver("a", {"namespace.yaml": "x: 1\n"}, message="Intent-Id: a\nDag-Run-Id: run-7 and more\n")
    assert site.deliveries_of_run("a", "run-7") == [again.sha, mine.sha]
    assert len(site.deliveries_of_run("a", "run-77")) == 1
    assert site.deliveries_of_run("a", "run-") == [] and site.deliveries_of_run("a", "run-8") == []
    assert site.deliveries_of_run("never", "run-7") == []


def test_a_runs_delivery_after_a_revert(site):
    v1 = deliver(site, "a", "manual__2024-05-01T10:00:00+00:00")
    v2 = deliver(site, "a", "scheduled__2024-05-02T10:00:00+00:00", "# v2\n")
    assert site.delivery_in_effect("a", "manual__2024-05-01T10:00:00+00:00") == v1.sha
    site.revert(
        "a",
        v2.sha,
        message=revert_message("a", "edge1", v2.sha, "scheduled__2024-05-02T10:00:00+00:00", "slo_breach"),
    )
    # the revert carries the run's trailers too, but it is no delivery
    assert site.deliveries_of_run("a", "scheduled__2024-05-02T10:00:00+00:00") == [v2.sha]
    assert site.delivery_in_effect("a", "scheduled__2024-05-02T10:00:00+00:00") is None
    assert site.delivery_in_effect("a", "manual__2024-05-01T10:00:00+00:00") == v1.sha
    assert site.delivery_in_effect("a", "no-such-run") is None


@pytest.mark.parametrize("run_id", ["", "run\nDag-Run-Id: other", " run", "x" * 251])
def test_bad_run_ids_are_refused(site, run_id):
    with pytest.raises(ValueError, match="DAG run id"):
        site.deliveries_of_run("a", run_id)


# -- pushes whose answer was lost ---------------------------------------------------------------------


def test_a_push_that_landed_before_the_connection_dropped_counts(server, proxy, tmp_path):
    site = SiteRepo(proxy.repo_url("edge1-config"), GitAuth("pipeline", TOKEN), tmp_path / "cache")
    site.head()
    proxy.fault = "drop-after"
    done = deliver(site, "a", "run-1")
    assert done.created and done.confirmed_after_error and done.attempts == 1
    assert remote(server, "rev-parse", "main").strip() == done.sha
    rollback = site.revert("a", done.sha, message="roll back a")
    assert rollback.created and rollback.confirmed_after_error and rollback.removed
    tag = site.create_tag("checkpoint/after-a", message="checkpoint")
    assert tag.confirmed_after_error and tag.commit == rollback.sha
    assert remote(server, "rev-parse", "checkpoint/after-a^{commit}").strip() == rollback.sha
    proxy.fault = None
    assert not deliver(site, "b", "run-2").confirmed_after_error


def test_a_push_that_never_reached_the_server_fails(server, proxy, tmp_path):
    site = SiteRepo(proxy.repo_url("edge1-config"), GitAuth("pipeline", TOKEN), tmp_path / "cache")
    before = site.head()
    proxy.fault = "drop-before"
    with pytest.raises(GitError, match="git push to .* failed") as caught:
        deliver(site, "a", "run-1")
    assert TOKEN not in str(caught.value) and HEADER not in str(caught.value)
    assert remote(server, "rev-parse", "main").strip() == before
    proxy.fault = None
    assert deliver(site, "a", "run-1").created  # the clone is usable again


def test_a_push_answered_too_late_is_checked_on_the_server(server, proxy, tmp_path, monkeypatch):
    monkeypatch.setattr(clone, "GIT_TIMEOUT_S", 2)
    site = SiteRepo(proxy.repo_url("edge1-config"), GitAuth("pipeline", TOKEN), tmp_path / "cache")
    site.head()
    proxy.fault, proxy.delay = "late", 4
    done = deliver(site, "a", "run-1")
    assert done.confirmed_after_error
    assert remote(server, "rev-parse", "main").strip() == done.sha


def test_a_dropped_push_after_main_moved_on_still_counts(server, proxy, tmp_path, monkeypatch):
    """The server took our commit, then another worker pushed on top before we asked."""
    site = SiteRepo(proxy.repo_url("edge1-config"), GitAuth("pipeline", TOKEN), tmp_path / "cache")
    other = SiteRepo(server.repo_url("edge1-config"), GitAuth("pipeline", TOKEN), tmp_path / "other")
    site.head()
    proxy.fault = "drop-after"
    original = clone.GitClone._remote_holds

    def someone_pushes_first(self, repo, sha, ref):
        deliver(other, "b", "run-2")
        return original(self, repo, sha, ref)

    monkeypatch.setattr(clone.GitClone, "_remote_holds", someone_pushes_first)
    done = deliver(site, "a", "run-1")
    assert done.confirmed_after_error
    assert remote(server, "log", "--format=%H", "main").split()[1] == done.sha


# -- credentials ------------------------------------------------------------------------------------------


def test_credentials_stay_out_of_the_clone_the_errors_and_the_logs(server, site, caplog):
    caplog.set_level(logging.DEBUG)
    deliver(site, "a", "run-1")
    config = (site.path / ".git" / "config").read_text()
    assert server.repo_url("edge1-config") in config
    assert TOKEN not in config and HEADER not in config and "extraheader" not in config.lower()
    for path in (site.path / ".git").rglob("*"):
        if path.is_file() and "objects" not in path.parts:
            text = path.read_bytes()
            assert TOKEN.encode() not in text and HEADER.encode() not in text, path
    server.stop()
    with pytest.raises(GitError) as caught:
        deliver(site, "b", "run-2")
    assert TOKEN not in str(caught.value) and HEADER not in str(caught.value)
    assert TOKEN not in caplog.text and HEADER not in caplog.text
