"""Rollback by revert: exactly the intent's commit, later intents stay, conflicts push nothing."""

from __future__ import annotations

import subprocess

import pytest

from include.gitops.auth import GitAuth
from include.gitops.repo import RevertConflictError, SiteRepo
from include.gitserver.server import GitHTTPServer, User

NS = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: intent-{}\n"


@pytest.fixture
def repo(tmp_path):
    server = GitHTTPServer(tmp_path / "git", [User("pipeline", "t", True)])
    server.create_repository("edge1-config")
    server.start()
    yield SiteRepo(server.repo_url("edge1-config"), GitAuth("pipeline", "t"), tmp_path / "cache"), server
    server.stop()


def tree(server):
    return subprocess.run(
        ["git", "ls-tree", "-r", "--name-only", "main"],
        cwd=server.root / "edge1-config.git",
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()


def log(server):
    return subprocess.run(
        ["git", "log", "--format=%H", "main"],
        cwd=server.root / "edge1-config.git",
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()


def test_revert_takes_back_only_this_intent(repo):
    site, server = repo
    a = site.deliver("a", {"namespace.yaml": NS.format("a")}, message="deliver a")
    b = site.deliver("b", {"namespace.yaml": NS.format("b")}, message="deliver b")
    done = site.revert("a", a.sha, message="roll back a")
    assert done.created and done.removed and done.reverted == (a.sha,) and done.previous == b.sha
    assert tree(server) == ["README.md", "intents/b/namespace.yaml"]
    assert log(server)[:3] == [done.sha, b.sha, a.sha]  # history kept: no reset, no force


def test_a_second_revert_finds_the_first(repo):
    site, _ = repo
    a = site.deliver("a", {"namespace.yaml": NS.format("a")}, message="deliver a")
    first = site.revert("a", a.sha, message="roll back a")
    again = site.revert("a", a.sha, message="roll back a")
    assert not again.created and again.sha == first.sha


def test_revert_of_an_updated_intent_restores_the_previous_version(repo):
    site, server = repo
    site.deliver("a", {"namespace.yaml": NS.format("a")}, message="v1")
    v2 = site.deliver("a", {"namespace.yaml": NS.format("a") + "# v2\n"}, message="v2")
    done = site.revert("a", v2.sha, message="roll back v2")
    assert not done.removed
    content = subprocess.run(
        ["git", "show", "main:intents/a/namespace.yaml"],
        cwd=server.root / "edge1-config.git",
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert content == NS.format("a")


def test_conflicting_revert_stops_and_pushes_nothing(repo):
    site, server = repo
    v1 = site.deliver("a", {"namespace.yaml": NS.format("a")}, message="v1")
    site.deliver("a", {"namespace.yaml": NS.format("a") + "# changed later\n"}, message="v2")
    before = log(server)
    with pytest.raises(
        RevertConflictError, match="conflicts with later commits in intents/a/namespace.yaml"
    ) as caught:
        site.revert("a", v1.sha, message="roll back v1")
    assert caught.value.files == ["intents/a/namespace.yaml"]
    assert log(server) == before
    assert site.deliver("b", {"namespace.yaml": NS.format("b")}, message="still usable").created


def test_only_commits_on_main_can_be_reverted(repo):
    site, _ = repo
    with pytest.raises(Exception, match="not on main"):
        site.revert("a", "0" * 40, message="nothing")


def test_a_delivery_put_back_by_reverting_its_rollback_can_be_rolled_back_again(repo):
    site, server = repo
    a = site.deliver("a", {"namespace.yaml": NS.format("a")}, message="deliver a")
    first = site.revert("a", a.sha, message="roll back a")
    site.revert_range([first.sha], message="undo the rollback", idempotent=False)
    assert "intents/a/namespace.yaml" in tree(server)
    again = site.revert("a", a.sha, message="roll back a again")
    assert again.created and again.sha != first.sha and again.removed
    assert again.reverted == (a.sha,) and not again.confirmed_after_error
    assert "intents/a/namespace.yaml" not in tree(server)
    assert site.revert("a", a.sha, message="and again").sha == again.sha
