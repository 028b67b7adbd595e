"""The Git smart-HTTP server: auth on every request, read-only users, no path outside the root."""

from __future__ import annotations

import base64
import subprocess
import urllib.error
import urllib.request

import pytest

from include.gitops.auth import GitAuth
from include.gitserver.server import GitHTTPServer, User, create_repository


@pytest.fixture
def server(tmp_path):
    srv = GitHTTPServer(tmp_path / "git", [User("writer", "w-token", True), User("reader", "r-token", False)])
    srv.create_repository("edge1-config")
    srv.start()
    yield srv
    srv.stop()


def _get(url, user=None, token=None):
    request = urllib.request.Request(url)
    if user:
        request.add_header("Authorization", "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _git(*args, auth=None, cwd=None):
    env = {
        "PATH": "/usr/bin:/bin",
        "GIT_TERMINAL_PROMPT": "0",
        "HOME": str(cwd or "/tmp"),
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
        **(auth.env() if auth else {}),
    }
    return subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    ("user", "token", "status"),
    [(None, None, 401), ("writer", "wrong", 401), ("nobody", "w-token", 401), ("reader", "r-token", 200)],
)
def test_every_request_needs_auth(server, user, token, status):
    url = server.repo_url("edge1-config") + "/info/refs?service=git-upload-pack"
    assert _get(url, user, token) == status


@pytest.mark.parametrize(
    "path",
    [
        "/../etc/passwd",
        "/edge1-config.git/../../x",
        "/nope.git/info/refs",
        "/EDGE1.git/info/refs",
        "/edge1-config.git/config",
    ],
)
def test_paths_outside_repositories_are_not_served(server, path):
    assert _get(server.url + path, "reader", "r-token") == 404


def test_clone_and_push(server, tmp_path):
    work = tmp_path / "work"
    cloned = _git(
        "clone",
        "-q",
        server.repo_url("edge1-config"),
        str(work),
        auth=GitAuth("writer", "w-token"),
        cwd=tmp_path,
    )
    assert cloned.returncode == 0, cloned.stderr
    (work / "a.yaml").write_text("a: 1\n")
    _git("add", "a.yaml", cwd=work)
    _git("commit", "-qm", "a", cwd=work)
    pushed = _git("push", "-q", "origin", "HEAD:main", auth=GitAuth("writer", "w-token"), cwd=work)
    assert pushed.returncode == 0, pushed.stderr


def test_reader_cannot_push(server, tmp_path):
    work = tmp_path / "work"
    _git(
        "clone",
        "-q",
        server.repo_url("edge1-config"),
        str(work),
        auth=GitAuth("reader", "r-token"),
        cwd=tmp_path,
    )
    (work / "b.yaml").write_text("b: 1\n")
    _git("add", "b.yaml", cwd=work)
    _git("commit", "-qm", "b", cwd=work)
    pushed = _git("push", "-q", "origin", "HEAD:main", auth=GitAuth("reader", "r-token"), cwd=work)
    assert pushed.returncode != 0
    assert "403" in pushed.stderr


def test_repository_names_are_checked(tmp_path):
    with pytest.raises(ValueError, match="lowercase letters, digits"):
        create_repository(tmp_path, "../evil")
