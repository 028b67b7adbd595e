"""A site's config repository, worked on through a reused local clone.

``deliver`` writes a rendered package to ``intents/<intent-id>/``, commits it and pushes to
``main``. Concurrent deliveries to one repository all land: a rejected push fetches ``main``,
re-applies the package on top of it (a rebase of a commit that only touches its own directory)
and pushes again, a bounded number of times. Delivering the same content again creates no commit
and returns the commit that already holds it. The clone is a private cache under ``cache_dir``
shared by all deliveries on the machine (a file lock serialises them); it is reset to the fetched
``main`` before every use, so a failed attempt leaves nothing behind, locally or remotely. A push
that fails without a rejection (a dropped connection) is checked against the server: when ``main``
holds the commit, it landed.

What is deployed is read from ``main`` too: the ``intents/<id>/`` directories, each intent's
delivery commits still in effect (a revert cancels what it names, unless it was reverted itself),
and which commits a DAG run delivered (their trailers). Checkpoints are annotated tags, pushed
without force and never moved; going back to one, or withdrawing an intent, reverts named commits in
one new commit, so history only grows.
"""

from __future__ import annotations

import dataclasses
import shutil
import time

from git import GitCommandError

from . import history
from .clone import GitClone
from .errors import GitError, PushRejectedError, RevertConflictError
from .messages import (
    INTENT_ID,
    check_intent_id,
    check_package,
    check_path,
    check_run_id,
    check_tag,
    commit_message,
    is_sha,
    reset_message,
    revert_message,
    scale_message,
    with_reverts,
    withdraw_message,
)
from .records import Author, Delivery, DeployedIntent, RangeRevert, Tag

__all__ = [
    "Author",
    "DeployedIntent",
    "Delivery",
    "GitError",
    "PushRejectedError",
    "RangeRevert",
    "RevertConflictError",
    "SiteRepo",
    "Tag",
    "commit_message",
    "reset_message",
    "revert_message",
    "scale_message",
    "withdraw_message",
]


class SiteRepo(GitClone):
    """One site's config repository.

    :param url: the remote, without credentials (``https://gitea.example/org/edge1-config.git``).
    :param auth: HTTP credentials, or None for a repository that needs none.
    :param cache_dir: where the reused local clone lives.
    :param branch: the branch Config Sync follows.
    """

    def __repr__(self) -> str:
        return f"SiteRepo({self.url!r}, branch={self.branch!r})"

    def head(self) -> str:
        """The commit ``main`` points at on the server."""
        with self._open() as repo:
            return self._sync(repo)

    def deliver(self, intent_id: str, files: dict[str, str], *, message: str) -> Delivery:
        """Commit ``files`` as ``intents/<intent_id>/`` and push; see the module docstring.

        :param intent_id: a DNS-1123 label (it names the directory).
        :param files: ``{file name: text}``; plain names only, no directories.
        :param message: the commit message (see :func:`commit_message`).
        """
        check_package(intent_id, files)
        started = time.monotonic()
        relative = f"intents/{intent_id}"
        with self._open() as repo:

            def prepare() -> tuple[str | None, tuple[str, bool]]:
                self._sync(repo)
                target = self.path / relative
                shutil.rmtree(target, ignore_errors=True)
                target.mkdir(parents=True)
                for name, text in sorted(files.items()):
                    (target / name).write_text(text, encoding="utf-8")
                repo.git.add("--all", "--", relative)
                if not repo.is_dirty(index=True, working_tree=False, untracked_files=False):
                    return None, (history.last_touching(repo, relative) or repo.head.commit.hexsha, False)
                repo.git.commit("--quiet", "--no-verify", "-m", message)
                sha = repo.head.commit.hexsha
                return sha, (sha, True)

            (sha, created), pushed = self._push_with_retry(repo, prepare, what=f"intent {intent_id}")
        seconds = time.monotonic() - started
        return Delivery(sha, created, pushed.attempts, seconds, pushed.confirmed_after_error)

    def revert(self, intent_id: str, sha: str, *, message: str) -> RangeRevert:
        """Revert exactly commit ``sha`` on ``main`` and push: :meth:`revert_range` of one commit.

        Later commits (other intents) stay. A conflict aborts the revert and raises
        :class:`RevertConflictError` with the conflicting files; nothing is pushed then. A commit
        already reverted (and not put back since) is not reverted again: ``created`` is False.
        """
        if not isinstance(intent_id, str) or not INTENT_ID.fullmatch(intent_id) or not is_sha(sha):
            raise ValueError("revert needs a DNS-1123 intent id and a full commit SHA")
        return self.revert_range([sha], message=message, intent_id=intent_id)

    def contains(self, later: str, sha: str) -> bool:
        """True when commit ``later`` (on ``main``) has ``sha`` in its history."""
        if not (is_sha(later) and is_sha(sha)):
            return False
        with self._open() as repo:
            self._ensure_commit(repo, later)
            return history.on_branch(repo, sha, later)

    def log(self, *args: str) -> str:
        """``git log`` on the clone (after a fetch), for reports and tests."""
        with self._open() as repo:
            self._sync(repo)
            return repo.git.log(*args, strip_newline_in_stdout=False)

    # -- what is deployed, and by which run ---------------------------------------------------------

    def live_deliveries(self, intent_id: str) -> list[str]:
        """The delivery commits of ``intent_id`` still in effect on ``main``, newest first.

        Reverting all of them (newest first) takes the intent out; commits of other intents stay.
        An empty list when the intent was never delivered or has been reverted.
        """
        check_intent_id(intent_id)
        with self._open() as repo:
            self._sync(repo)
            return history.live(repo, intent_id)

    def deployed_intents(self) -> list[DeployedIntent]:
        """Every intent whose directory exists on ``main`` (Git is the source of truth), by id, with
        the delivery commit in effect; see :class:`DeployedIntent`."""
        with self._open() as repo:
            head = self._sync(repo)
            found = []
            for intent_id in history.intent_dirs(repo):
                if not INTENT_ID.fullmatch(intent_id):
                    continue
                live = history.live(repo, intent_id)
                commit = live[0] if live else history.last_touching(repo, f"intents/{intent_id}") or head
                runs = tuple(history.delivery_run(repo, sha) for sha in live)
                scales = tuple(history.is_scale(repo, sha) for sha in live)
                found.append(DeployedIntent(intent_id, commit, tuple(live), head, runs, scales))
            return found

    def deliveries_of_run(self, intent_id: str, run_id: str) -> list[str]:
        """The delivery commits on ``main`` of ``intent_id`` made by the DAG run ``run_id``, newest
        first, reverted or not: those whose ``Intent-Id`` and ``Dag-Run-Id`` trailers are exactly
        these (a run id that is a prefix of another names only its own run).

        :param run_id: the DAG run id (``manual`` for deliveries made without a run).
        """
        check_intent_id(intent_id)
        check_run_id(run_id)
        with self._open() as repo:
            self._sync(repo)
            return history.run_deliveries(repo, intent_id, run_id)

    def delivery_in_effect(self, intent_id: str, run_id: str) -> str | None:
        """The newest delivery commit of ``intent_id`` by the DAG run ``run_id`` that is still in
        effect on ``main`` (not reverted), or None."""
        check_intent_id(intent_id)
        check_run_id(run_id)
        with self._open() as repo:
            self._sync(repo)
            live = set(history.live(repo, intent_id))
            return next((sha for sha in history.run_deliveries(repo, intent_id, run_id) if sha in live), None)

    def package(self, intent_id: str) -> dict[str, str]:
        """The files of ``intents/<intent_id>/`` on ``main`` (empty when the intent is not there)."""
        check_intent_id(intent_id)
        with self._open() as repo:
            self._sync(repo)
            return history.package(repo, intent_id)

    def read(self, path: str, rev: str = "HEAD") -> str | None:
        """The text of ``path`` at ``rev`` of ``main`` (after a fetch), or None when it is absent.

        :param path: a relative path inside the repository, without ``..``.
        """
        check_path(path)
        if rev != "HEAD" and not is_sha(rev):
            raise ValueError("rev must be HEAD or a full commit SHA")
        with self._open() as repo:
            if rev == "HEAD":
                self._sync(repo)
            else:
                self._ensure_commit(repo, rev)
            return history.read(repo, path, rev)

    # -- checkpoints --------------------------------------------------------------------------------

    def _remote_tag(self, repo, name: str) -> str | None:
        """The commit tag ``name`` points at on the server, or None when the server has no such tag."""
        refs = self._ls_remote(repo, f"refs/tags/{name}", f"refs/tags/{name}^{{}}")
        return refs.get(f"refs/tags/{name}^{{}}") or refs.get(f"refs/tags/{name}")

    def tag_commit(self, name: str) -> str | None:
        """The commit the tag ``name`` points at on the server, or None when there is no such tag."""
        check_tag(name)
        with self._open() as repo:
            return self._remote_tag(repo, name)

    def create_tag(self, name: str, *, message: str) -> Tag:
        """Tag the commit ``main`` points at with an annotated tag ``name`` and push the tag.

        An existing tag is never moved: a tag already on the server raises :class:`GitError`, and
        the push is a plain one (no force), which the server refuses for an existing tag anyway.
        """
        check_tag(name)
        exists = GitError(f"tag {name} already exists on {self.url}; a checkpoint is never moved")
        with self._open() as repo:
            if self._remote_tag(repo, name):
                raise exists
            head = self._sync(repo)

            def prepare() -> tuple[str, None]:
                self._drop_local_tag(repo, name)  # a leftover of a failed attempt
                return repo.create_tag(name, ref=head, message=message).tag.hexsha, None

            try:
                _, pushed = self._push_with_retry(
                    repo, prepare, what=f"tag {name}", ref=f"refs/tags/{name}", rejected=exists
                )
            except GitError:
                self._drop_local_tag(repo, name)
                raise
            return Tag(name, head, True, pushed.confirmed_after_error)

    @staticmethod
    def _drop_local_tag(repo, name: str) -> None:
        if any(tag.name == name for tag in repo.tags):
            repo.delete_tag(repo.tags[name])

    def commits_since(self, name: str) -> tuple[str, list[str]]:
        """The commit tag ``name`` points at, and every commit after it on ``main``, newest first.

        Raises :class:`GitError` when the server has no such tag, when the tagged commit is not on
        ``main``, or when a merge commit follows it.
        """
        check_tag(name)
        with self._open() as repo:
            tagged = self._remote_tag(repo, name)
            if not tagged:
                raise GitError(f"tag {name} does not exist on {self.url}")
            self._sync(repo)
            if not history.on_branch(repo, tagged):
                raise GitError(f"commit {tagged[:12]} is not on {self.branch} of {self.url}")
            merges = repo.git.rev_list("--merges", f"{tagged}..HEAD").split()
            if merges:
                raise GitError(
                    f"{self.branch} of {self.url} has merge commits after {tagged[:12]} "
                    f"({', '.join(m[:12] for m in merges)}); they cannot be reverted one by one"
                )
            return tagged, repo.git.rev_list(f"{tagged}..HEAD").split()

    def same_tree(self, a: str, b: str) -> bool:
        """True when commits ``a`` and ``b`` hold exactly the same files."""
        if not (is_sha(a) and is_sha(b)):
            raise ValueError("same_tree needs two full commit SHAs")
        with self._open() as repo:
            self._ensure_commit(repo, a, b)
            return repo.commit(a).tree.hexsha == repo.commit(b).tree.hexsha

    def changed_paths(self, sha: str) -> list[str]:
        """The files commit ``sha`` changed."""
        if not is_sha(sha):
            raise ValueError("changed_paths needs a full commit SHA")
        with self._open() as repo:
            self._ensure_commit(repo, sha)
            return repo.git.diff_tree("--no-commit-id", "--name-only", "-r", "--root", sha).splitlines()

    # -- reverts ------------------------------------------------------------------------------------

    def revert_range(
        self,
        shas: list[str],
        *,
        message: str,
        intent_id: str | None = None,
        require_removed: bool = False,
        idempotent: bool = True,
    ) -> RangeRevert:
        """Revert exactly the commits ``shas`` (newest first) in one commit on ``main`` and push.

        Never ``HEAD`` blindly, never a force push; commits not named stay. The commit message gets
        one ``Reverts: <sha>`` trailer per commit. A conflict aborts and raises
        :class:`RevertConflictError`; nothing is pushed then.

        :param intent_id: the intent whose directory the revert should take out (for ``removed``).
        :param require_removed: refuse (push nothing) if ``intents/<intent_id>/`` would remain.
        :param idempotent: when every commit already has a revert in effect on ``main`` (an earlier
            attempt landed), return that revert instead of reverting again. A reset to a checkpoint
            passes False: it reverts reverts too.
        """
        if not shas or not all(is_sha(s) for s in shas) or len(set(shas)) != len(shas):
            raise ValueError("revert_range needs distinct full commit SHAs")
        if intent_id is not None:
            check_intent_id(intent_id)
        if require_removed and intent_id is None:
            raise ValueError("require_removed needs the intent id")
        started = time.monotonic()
        with self._open() as repo:
            result, pushed = self._push_with_retry(
                repo,
                lambda: self._prepare_revert(repo, shas, message, intent_id, require_removed, idempotent),
                what=f"the revert of {', '.join(s[:12] for s in shas)}",
            )
        return dataclasses.replace(
            result, seconds=time.monotonic() - started, confirmed_after_error=pushed.confirmed_after_error
        )

    def _removed(self, intent_id: str | None) -> bool | None:
        return None if intent_id is None else not (self.path / "intents" / intent_id).exists()

    def _prepare_revert(
        self,
        repo,
        shas: list[str],
        message: str,
        intent_id: str | None,
        require_removed: bool,
        idempotent: bool,
    ) -> tuple[str | None, RangeRevert]:
        """One attempt of :meth:`revert_range` up to the push: the revert commit to push (None when
        an earlier revert is in effect) and the result."""
        previous = self._sync(repo)
        for sha in shas:
            if not history.on_branch(repo, sha):
                raise GitError(f"commit {sha[:12]} is not on {self.branch} of {self.url}; nothing reverted")
        order = history.positions(repo)
        ordered = tuple(sorted(shas, key=order.__getitem__))
        if idempotent:
            earlier = {sha: history.revert_in_effect(repo, sha) for sha in ordered}
            if all(earlier.values()):
                newest = min((found for found in earlier.values() if found), key=order.__getitem__)
                return None, RangeRevert(newest, ordered, previous, False, self._removed(intent_id), 0.0)
            if any(earlier.values()):
                done = sorted(s[:12] for s, found in earlier.items() if found)
                raise GitError(
                    f"some of the commits are already reverted on {self.url} ({', '.join(done)}); "
                    "nothing reverted"
                )
        try:
            repo.git.revert("--no-edit", "--no-commit", *ordered)
        except GitCommandError:
            files = repo.git.diff("--name-only", "--diff-filter=U", with_exceptions=False).split()
            repo.git.revert("--abort", with_exceptions=False)
            self._sync(repo)
            raise RevertConflictError(
                f"reverting {', '.join(s[:12] for s in ordered)} on {self.url} conflicts with later "
                f"commits in {', '.join(files) or 'the tree'}; nothing was pushed",
                files,
            ) from None
        removed = self._removed(intent_id)
        if require_removed and not removed:
            left = repo.git.ls_files("--", f"intents/{intent_id}").split()
            self._sync(repo)
            raise GitError(
                f"reverting {', '.join(s[:12] for s in ordered)} would leave intents/{intent_id}/ on "
                f"{self.url} ({', '.join(left[:5])}): other commits changed it; nothing was pushed"
            )
        repo.git.commit("--quiet", "--no-verify", "--allow-empty", "-m", with_reverts(message, ordered))
        sha = repo.head.commit.hexsha
        return sha, RangeRevert(sha, ordered, previous, True, removed, 0.0)
