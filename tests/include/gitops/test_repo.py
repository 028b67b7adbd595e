"""Delivery to a site repository: one commit, idempotent, concurrent pushes all land, no credentials
anywhere but the request header."""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

from include.gitops.auth import CredentialsInURLError, GitAuth, check_url
from include.gitops.repo import GitError, SiteRepo, commit_message
from include.gitserver.server import GitHTTPServer, User

FILES = {"namespace.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: intent-a1\n"}


@pytest.fixture
def server(tmp_path):
    srv = GitHTTPServer(tmp_path / "git", [User("pipeline", "s3cret-token", True)])
    srv.create_repository("edge1-config")
    srv.start()
    yield srv
    srv.stop()


def repo_for(server, cache):
    return SiteRepo(server.repo_url("edge1-config"), GitAuth("pipeline", "s3cret-token"), cache)


def remote_log(server, *args):
    return subprocess.run(
        ["git", "log", "main", *args],
        cwd=server.root / "edge1-config.git",
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_deliver_commits_the_package(server, tmp_path):
    repo = repo_for(server, tmp_path / "cache")
    delivery = repo.deliver("a1", FILES, message=commit_message("a1", "edge1", "run-7"))
    assert delivery.created and delivery.attempts == 1 and len(delivery.sha) == 40
    assert remote_log(server, "-1", "--format=%H").strip() == delivery.sha
    body = remote_log(server, "-1", "--format=%B")
    assert "Deliver intent a1 to edge1" in body and "Intent-Id: a1" in body and "Dag-Run-Id: run-7" in body
    files = subprocess.run(
        ["git", "ls-tree", "-r", "--name-only", "main"],
        cwd=server.root / "edge1-config.git",
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert "intents/a1/namespace.yaml" in files


def test_redelivery_is_idempotent(server, tmp_path):
    first = repo_for(server, tmp_path / "cache").deliver("a1", FILES, message="m1")
    again = repo_for(server, tmp_path / "other-cache").deliver("a1", FILES, message="m2")
    assert not again.created and again.sha == first.sha
    assert remote_log(server, "--format=%H").split().count(first.sha) == 1
    assert len(remote_log(server, "--format=%H").split()) == 2  # the initial commit and one delivery


def test_changed_content_makes_a_new_commit(server, tmp_path):
    repo = repo_for(server, tmp_path / "cache")
    first = repo.deliver("a1", FILES, message="m1")
    second = repo.deliver("a1", {**FILES, "extra.yaml": "x: 1\n"}, message="m2")
    assert second.created and second.sha != first.sha


def test_ten_concurrent_deliveries_all_land(server, tmp_path):
    """Separate caches stand for separate workers, so pushes race and are rejected and retried."""

    def deliver(index):
        repo = repo_for(server, tmp_path / f"cache-{index}")
        return repo.deliver(f"intent-{index}", FILES, message=f"deliver {index}")

    with ThreadPoolExecutor(max_workers=10) as pool:
        deliveries = list(pool.map(deliver, range(10)))
    shas = remote_log(server, "--format=%H").split()
    assert len(shas) == 11  # the initial commit and ten deliveries: none lost, none duplicated
    assert {d.sha for d in deliveries} <= set(shas)
    assert sum(d.attempts for d in deliveries) >= 10
    listed = subprocess.run(
        ["git", "ls-tree", "--name-only", "main", "intents/"],
        cwd=server.root / "edge1-config.git",
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert sorted(listed) == sorted(f"intents/intent-{i}" for i in range(10))


def test_server_down_fails_clearly_and_leaves_nothing(server, tmp_path):
    repo = repo_for(server, tmp_path / "cache")
    repo.deliver("a1", FILES, message="m1")
    before = remote_log(server, "--format=%H")
    server.stop()
    with pytest.raises(GitError, match="Failed to connect|Could not connect|Couldn't connect") as caught:
        repo.deliver("a2", FILES, message="m2")
    assert "s3cret-token" not in str(caught.value)
    assert remote_log(server, "--format=%H") == before


def test_wrong_token_fails_without_showing_it(server, tmp_path):
    repo = SiteRepo(server.repo_url("edge1-config"), GitAuth("pipeline", "not-the-token"), tmp_path / "cache")
    with pytest.raises(GitError) as caught:
        repo.deliver("a1", FILES, message="m1")
    assert "refused the credentials (HTTP 401)" in str(caught.value)
    assert "not-the-token" not in str(caught.value)


@pytest.mark.parametrize("url", ["http://user:pass@127.0.0.1/x.git", "https://token@gitea.example/x.git"])
def test_credentials_in_urls_are_refused(url):
    with pytest.raises(CredentialsInURLError):
        check_url(url)


def test_token_is_not_in_repr():
    assert "s3cret" not in repr(GitAuth("pipeline", "s3cret"))


@pytest.mark.parametrize(
    ("intent_id", "files", "message"),
    [
        ("../../etc", FILES, "not a DNS-1123 label"),
        ("a1", {"../x.yaml": "x"}, "plain names"),
        ("a1", {".git": "x"}, "plain names"),
        ("a1", {}, "plain names"),
    ],
)
def test_bad_arguments_are_refused(server, tmp_path, intent_id, files, message):
    with pytest.raises(ValueError, match=message):
        repo_for(server, tmp_path / "cache").deliver(intent_id, files, message="m")


def test_contains(server, tmp_path):
    repo = repo_for(server, tmp_path / "cache")
    first = repo.deliver("a1", FILES, message="m1")
    second = repo.deliver("a2", FILES, message="m2")
    assert repo.contains(second.sha, first.sha)
    assert not repo.contains(first.sha, second.sha)
    assert not repo.contains("not-a-sha", first.sha)
