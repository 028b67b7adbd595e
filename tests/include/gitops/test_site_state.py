"""What is deployed, an intent's delivery commits in effect, checkpoints and reverts of several
commits, against the real Git smart-HTTP server: history only grows, other intents stay."""

from __future__ import annotations

import subprocess

import pytest

from include.gitops.auth import GitAuth
from include.gitops.repo import GitError, RevertConflictError, SiteRepo
from include.gitserver.server import GitHTTPServer, User

NS = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: intent-{}\n"


@pytest.fixture
def repo(tmp_path):
    server = GitHTTPServer(tmp_path / "git", [User("pipeline", "t", True)])
    server.create_repository("edge1-config")
    server.start()
    yield SiteRepo(server.repo_url("edge1-config"), GitAuth("pipeline", "t"), tmp_path / "cache"), server
    server.stop()


def git(server, *args):
    return subprocess.run(
        ["git", *args], cwd=server.root / "edge1-config.git", capture_output=True, text=True, check=True
    ).stdout


def deliver(site, intent_id, extra=""):
    return site.deliver(
        intent_id, {"namespace.yaml": NS.format(intent_id) + extra}, message=f"deliver {intent_id}"
    )


def test_deployed_intents_and_their_delivery_in_effect(repo):
    site, _ = repo
    a1 = deliver(site, "a")
    b = deliver(site, "b")
    a2 = deliver(site, "a", "# v2\n")
    c = deliver(site, "c")
    site.revert("c", c.sha, message="roll back c")
    deployed = {d.intent_id: d for d in site.deployed_intents()}
    assert set(deployed) == {"a", "b"}  # c was rolled back: its directory is gone
    assert deployed["a"].commit == a2.sha and deployed["a"].deliveries == (a2.sha, a1.sha)
    assert deployed["b"].deliveries == (b.sha,)
    assert site.live_deliveries("c") == [] and site.live_deliveries("never") == []
    # a rollback of a2 leaves a1 in effect
    site.revert("a", a2.sha, message="roll back a2")
    assert site.live_deliveries("a") == [a1.sha]


def test_a_reverted_revert_puts_the_delivery_back_in_effect(repo):
    site, _ = repo
    a = deliver(site, "a")
    rollback = site.revert("a", a.sha, message="roll back a")
    site.revert_range([rollback.sha], message="undo the rollback", idempotent=False)
    assert site.live_deliveries("a") == [a.sha]


def test_withdraw_reverts_every_delivery_in_effect_and_keeps_other_intents(repo):
    site, server = repo
    a1 = deliver(site, "a")
    b = deliver(site, "b")
    a2 = deliver(site, "a", "# v2\n")
    before = git(server, "rev-parse", "main").strip()
    done = site.revert_range([a1.sha, a2.sha], message="withdraw a", intent_id="a", require_removed=True)
    assert done.created and done.removed and done.reverted == (a2.sha, a1.sha) and done.previous == before
    assert git(server, "ls-tree", "-r", "--name-only", "main").split() == [
        "README.md",
        "intents/b/namespace.yaml",
    ]
    assert git(server, "log", "--format=%H", "main").split()[:4] == [done.sha, a2.sha, b.sha, a1.sha]
    body = git(server, "log", "-1", "--format=%B", "main")
    assert f"Reverts: {a2.sha}" in body and f"Reverts: {a1.sha}" in body
    assert site.live_deliveries("a") == []
    again = site.revert_range([a1.sha, a2.sha], message="withdraw a", intent_id="a", require_removed=True)
    assert not again.created and again.sha == done.sha


def test_a_withdrawal_that_would_leave_files_pushes_nothing(repo):
    site, server = repo
    a1 = deliver(site, "a")
    deliver(site, "a", "# v2\n")
    before = git(server, "rev-parse", "main").strip()
    with pytest.raises((GitError, RevertConflictError)):
        site.revert_range([a1.sha], message="withdraw a", intent_id="a", require_removed=True)
    assert git(server, "rev-parse", "main").strip() == before


def test_checkpoint_tag_is_annotated_pushed_and_never_moved(repo):
    site, server = repo
    a = deliver(site, "a")
    tag = site.create_tag("checkpoint/before-b", message="known good")
    assert tag.commit == a.sha and site.tag_commit("checkpoint/before-b") == a.sha
    assert git(server, "cat-file", "-t", "refs/tags/checkpoint/before-b").strip() == "tag"
    deliver(site, "b")
    with pytest.raises(GitError, match="already exists"):
        site.create_tag("checkpoint/before-b", message="moved?")
    assert git(server, "rev-parse", "checkpoint/before-b^{commit}").strip() == a.sha
    assert site.tag_commit("checkpoint/unknown") is None


@pytest.mark.parametrize(
    "name", ["../x", "checkpoint/../main", "checkpoint/a/b", "checkpoint/" + "a" * 60, "main"]
)
def test_tag_names_are_refused(repo, name):
    site, _ = repo
    with pytest.raises(ValueError):
        site.create_tag(name, message="x")


def test_reset_to_a_checkpoint_by_revert_commits(repo):
    site, server = repo
    deliver(site, "a")
    tagged = site.create_tag("checkpoint/good", message="good").commit
    b = deliver(site, "b")
    a2 = deliver(site, "a", "# v2\n")
    rollback = site.revert("a", a2.sha, message="roll back a2")
    c = deliver(site, "c")
    commit, since = site.commits_since("checkpoint/good")
    assert commit == tagged and since == [c.sha, rollback.sha, a2.sha, b.sha]
    head = git(server, "rev-parse", "main").strip()
    done = site.revert_range(since, message="reset", idempotent=False)
    assert done.created and done.previous == head
    assert site.same_tree(tagged, done.sha)
    # history only grew: the old main is an ancestor of the new one
    subprocess.run(
        ["git", "merge-base", "--is-ancestor", head, done.sha],
        cwd=server.root / "edge1-config.git",
        check=True,
    )
    assert site.commits_since("checkpoint/good")[1][0] == done.sha
    with pytest.raises(GitError, match="does not exist"):
        site.commits_since("checkpoint/nope")


def test_read_a_file_at_head_and_refuse_paths_outside(repo):
    site, _ = repo
    deliver(site, "a")
    assert site.read("intents/a/namespace.yaml") == NS.format("a")
    assert site.read("intents/zz/namespace.yaml") is None
    for bad in ("../etc/passwd", "/etc/passwd", "intents/../x", ""):
        with pytest.raises(ValueError):
            site.read(bad)
