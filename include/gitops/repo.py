"""A site's config repository, worked on through a reused local clone.

``deliver`` writes a rendered package to ``intents/<intent-id>/``, commits it and pushes to
``main``. Concurrent deliveries to one repository all land: a rejected push fetches ``main``,
re-applies the package on top of it (a rebase of a commit that only touches its own directory)
and pushes again, a bounded number of times. Delivering the same content again creates no commit
and returns the commit that already holds it. The clone is a private cache under ``cache_dir``
shared by all deliveries on the machine (a file lock serialises them); it is reset to the fetched
``main`` before every use, so a failed attempt leaves nothing behind, locally or remotely.

What is deployed is read from ``main`` too: the ``intents/<id>/`` directories and each intent's
delivery commits still in effect (a revert cancels what it names, unless it was reverted itself).
Checkpoints are annotated tags, pushed without force and never moved; going back to one, or
withdrawing an intent, reverts named commits in one new commit, so history only grows.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import random
import re
import shutil
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .auth import GitAuth, check_url

FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
INTENT_ID = re.compile(r"^[a-z0-9]([-a-z0-9]{0,48}[a-z0-9])?$")
_SHA = re.compile(r"^[0-9a-f]{40}$")
TAG_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?/[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$")
# A revert names what it reverts: this project's "Reverts: <sha>" trailer (one line per commit),
# or the line plain ``git revert`` writes.
_REVERTS = re.compile(r"^(?:Reverts: |This reverts commit )([0-9a-f]{40})\.?\s*$", re.MULTILINE)
GIT_TIMEOUT_S = 60


class GitError(Exception):
    """A git operation failed; the message carries git's own words (never a credential)."""


class PushRejectedError(GitError):
    """Every push attempt was rejected because ``main`` kept moving."""


class RevertConflictError(GitError):
    """Reverting a commit conflicts with what came after it; nothing was pushed."""

    def __init__(self, message: str, files: list[str]) -> None:
        super().__init__(message)
        self.files = files


@dataclass(frozen=True)
class Revert:
    """The outcome of reverting one delivery.

    :param sha: the revert commit on ``main``.
    :param reverted: the commit it reverts.
    :param previous: what ``main`` pointed at before the revert.
    :param created: False when an earlier attempt had already pushed it.
    :param removed: True when the intent's directory no longer exists on ``main``.
    :param seconds: wall time, including pushes.
    """

    sha: str
    reverted: str
    previous: str
    created: bool
    removed: bool
    seconds: float


@dataclass(frozen=True)
class Delivery:
    """The outcome of one delivery.

    :param sha: the commit on ``main`` that holds the package.
    :param created: False when the package was already there (no new commit).
    :param attempts: push attempts made (1 when the first push landed).
    :param seconds: wall time of the delivery.
    """

    sha: str
    created: bool
    attempts: int
    seconds: float


@dataclass(frozen=True)
class DeployedIntent:
    """An intent present on ``main``: its directory ``intents/<intent_id>/`` exists at ``head``.

    :param intent_id: the directory's name.
    :param commit: the newest delivery commit still in effect (what a rollback reverts); when no
        delivery commit is in effect, the last commit that touched the directory.
    :param deliveries: every delivery commit still in effect, newest first.
    :param head: the commit of ``main`` that was read.
    """

    intent_id: str
    commit: str
    deliveries: tuple[str, ...]
    head: str


@dataclass(frozen=True)
class RangeRevert:
    """The outcome of reverting several commits in one revert commit.

    :param sha: the revert commit on ``main`` (``previous`` when nothing had to be reverted).
    :param reverted: the commits it reverts, newest first.
    :param previous: what ``main`` pointed at before the revert.
    :param created: False when an earlier attempt had already pushed it.
    :param removed: for an intent's revert, True when its directory no longer exists on ``main``;
        None otherwise.
    :param seconds: wall time, including pushes.
    """

    sha: str
    reverted: tuple[str, ...]
    previous: str
    created: bool
    removed: bool | None
    seconds: float


@dataclass(frozen=True)
class Tag:
    """An annotated tag pushed to the server.

    :param name: the tag (``checkpoint/<name>``).
    :param commit: the commit of ``main`` it points at.
    :param created: always True: an existing tag is never moved.
    """

    name: str
    commit: str
    created: bool


@dataclass(frozen=True)
class Author:
    name: str = "edge-intent pipeline"
    email: str = "pipeline@edge-intent.invalid"


class SiteRepo:
    """One site's config repository.

    :param url: the remote, without credentials (``https://gitea.example/org/edge1-config.git``).
    :param auth: HTTP credentials, or None for a repository that needs none.
    :param cache_dir: where the reused local clone lives.
    :param branch: the branch Config Sync follows.
    """

    def __init__(
        self,
        url: str,
        auth: GitAuth | None,
        cache_dir: Path,
        *,
        branch: str = "main",
        author: Author = Author(),
        max_attempts: int = 8,
    ) -> None:
        self.url = check_url(url)
        self.auth = auth
        self.branch = branch
        self.author = author
        self.max_attempts = max_attempts
        key = hashlib.sha256(url.encode()).hexdigest()[:16]
        self.path = Path(cache_dir) / key
        self._lock_path = Path(cache_dir) / f"{key}.lock"

    def __repr__(self) -> str:
        return f"SiteRepo({self.url!r}, branch={self.branch!r})"

    # -- git plumbing -------------------------------------------------------------------------------

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "GIT_TERMINAL_PROMPT": "0",
                "GIT_AUTHOR_NAME": self.author.name,
                "GIT_AUTHOR_EMAIL": self.author.email,
                "GIT_COMMITTER_NAME": self.author.name,
                "GIT_COMMITTER_EMAIL": self.author.email,
            }
        )
        if self.auth:
            env.update(self.auth.env())
        return env

    def _git(self, *args: str, cwd: Path | None = None, check: bool = True) -> subprocess.CompletedProcess:
        try:
            done = subprocess.run(
                ["git", *args],
                cwd=cwd or self.path,
                env=self._env(),
                capture_output=True,
                text=True,
                timeout=GIT_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise GitError(
                f"git {args[0]} against {self.url} did not finish within {GIT_TIMEOUT_S} s"
            ) from None
        if check and done.returncode != 0:
            raise GitError(f"git {args[0]} against {self.url} failed: {_explain(done.stderr)}")
        return done

    @contextmanager
    def _locked(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self._lock_path, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _ensure_clone(self) -> None:
        if (self.path / ".git").is_dir():
            return
        staging = self.path.with_name(self.path.name + ".cloning")
        shutil.rmtree(staging, ignore_errors=True)
        self._git(
            "clone",
            "--quiet",
            "--branch",
            self.branch,
            "--single-branch",
            self.url,
            str(staging),
            cwd=self.path.parent,
        )
        staging.rename(self.path)

    def _sync(self) -> str:
        """Fetch ``main`` and make the clone exactly it; return its commit."""
        self._git(
            "fetch", "--quiet", "origin", f"+refs/heads/{self.branch}:refs/remotes/origin/{self.branch}"
        )
        self._git("reset", "--hard", "--quiet", f"origin/{self.branch}")
        self._git("clean", "-fdxq")
        return self._git("rev-parse", "HEAD").stdout.strip()

    # -- operations ---------------------------------------------------------------------------------

    def head(self) -> str:
        """The commit ``main`` points at on the server."""
        with self._locked():
            self._ensure_clone()
            return self._sync()

    def deliver(self, intent_id: str, files: dict[str, str], *, message: str) -> Delivery:
        """Commit ``files`` as ``intents/<intent_id>/`` and push; see the module docstring.

        :param intent_id: a DNS-1123 label (it names the directory).
        :param files: ``{file name: text}``; plain names only, no directories.
        :param message: the commit message.
        """
        if not INTENT_ID.match(intent_id):
            raise ValueError(f"intent id {intent_id!r} is not a DNS-1123 label of at most 50 characters")
        bad = [name for name in files if not FILE_NAME.match(name)]
        if bad or not files:
            raise ValueError(f"package file names must be plain names, got {bad or 'no files'}")
        started = time.monotonic()
        relative = f"intents/{intent_id}"
        with self._locked():
            self._ensure_clone()
            for attempt in range(1, self.max_attempts + 1):
                self._sync()
                target = self.path / relative
                shutil.rmtree(target, ignore_errors=True)
                target.mkdir(parents=True)
                for name, text in sorted(files.items()):
                    (target / name).write_text(text, encoding="utf-8")
                self._git("add", "--all", "--", relative)
                if self._git("diff", "--cached", "--quiet", check=False).returncode == 0:
                    existing = self._git("log", "-1", "--format=%H", "--", relative).stdout.strip()
                    return Delivery(existing, False, attempt - 1, time.monotonic() - started)
                self._git("commit", "--quiet", "--no-verify", "-m", message)
                sha = self._git("rev-parse", "HEAD").stdout.strip()
                push = self._git(
                    "push", "--porcelain", "origin", f"HEAD:refs/heads/{self.branch}", check=False
                )
                if push.returncode == 0:
                    return Delivery(sha, True, attempt, time.monotonic() - started)
                if not _rejected(push):
                    raise GitError(f"git push to {self.url} failed: {_explain(push.stderr + push.stdout)}")
                time.sleep(min(0.05 * 2**attempt, 1.0) * random.uniform(0.5, 1.5))  # noqa: S311 (jitter)
        raise PushRejectedError(
            f"push of intent {intent_id} to {self.url} was rejected {self.max_attempts} times: "
            "main kept moving"
        )

    def revert(self, intent_id: str, sha: str, *, message: str) -> Revert:
        """Revert exactly commit ``sha`` on ``main`` and push: never ``HEAD`` blindly, never force.

        Later commits (other intents) stay. A conflict aborts the revert and raises
        :class:`RevertConflictError` with the conflicting files; nothing is pushed then.
        """
        if not INTENT_ID.match(intent_id) or not _SHA.match(sha):
            raise ValueError("revert needs a DNS-1123 intent id and a full commit SHA")
        started = time.monotonic()
        relative = f"intents/{intent_id}"
        with self._locked():
            self._ensure_clone()
            for attempt in range(1, self.max_attempts + 1):
                previous = self._sync()
                if self._git("merge-base", "--is-ancestor", sha, "HEAD", check=False).returncode != 0:
                    raise GitError(
                        f"commit {sha[:12]} is not on {self.branch} of {self.url}; nothing to revert"
                    )
                earlier = self._git("log", "--format=%H", f"--grep=^Reverts: {sha}$", "HEAD").stdout.split()
                if earlier:
                    return Revert(
                        earlier[0],
                        sha,
                        previous,
                        False,
                        not (self.path / relative).exists(),
                        time.monotonic() - started,
                    )
                attempt_revert = self._git("revert", "--no-edit", "--no-commit", sha, check=False)
                if attempt_revert.returncode != 0:
                    files = self._git("diff", "--name-only", "--diff-filter=U", check=False).stdout.split()
                    self._git("revert", "--abort", check=False)
                    self._sync()
                    raise RevertConflictError(
                        f"reverting {sha[:12]} on {self.url} conflicts with later commits in "
                        f"{', '.join(files) or 'the tree'}; nothing was pushed",
                        files,
                    )
                self._git(
                    "commit", "--quiet", "--no-verify", "--allow-empty", "-m", f"{message}\nReverts: {sha}\n"
                )
                revert_sha = self._git("rev-parse", "HEAD").stdout.strip()
                push = self._git(
                    "push", "--porcelain", "origin", f"HEAD:refs/heads/{self.branch}", check=False
                )
                if push.returncode == 0:
                    return Revert(
                        revert_sha,
                        sha,
                        previous,
                        True,
                        not (self.path / relative).exists(),
                        time.monotonic() - started,
                    )
                if not _rejected(push):
                    raise GitError(f"git push to {self.url} failed: {_explain(push.stderr + push.stdout)}")
                time.sleep(min(0.05 * 2**attempt, 1.0) * random.uniform(0.5, 1.5))  # noqa: S311 (jitter)
        raise PushRejectedError(
            f"push of the revert of {sha[:12]} to {self.url} was rejected {self.max_attempts} times"
        )

    def contains(self, later: str, sha: str) -> bool:
        """True when commit ``later`` (on ``main``) has ``sha`` in its history."""
        if not (_SHA.match(later) and _SHA.match(sha)):
            return False
        with self._locked():
            self._ensure_clone()
            if self._git("cat-file", "-e", f"{later}^{{commit}}", check=False).returncode != 0:
                self._sync()
            return self._git("merge-base", "--is-ancestor", sha, later, check=False).returncode == 0

    def log(self, *args: str) -> str:
        """``git log`` on the clone (after a fetch), for reports and tests."""
        with self._locked():
            self._ensure_clone()
            self._sync()
            return self._git("log", *args).stdout

    # -- what is deployed, checkpoints, reverts of several commits ------------------------------

    def _live(self, intent_id: str, rev: str = "HEAD") -> list[str]:
        """Delivery commits of ``intents/<intent_id>/`` still in effect at ``rev``, newest first.

        Walks the commits that touched the directory from the newest: a revert (``Reverts: <sha>``
        trailers, or plain ``git revert``'s line) cancels the commits it names, unless it was itself
        cancelled by a later revert; every other commit is a delivery, in effect unless cancelled.
        """
        out = self._git("log", "--format=%H%x1f%B%x1e", rev, "--", f"intents/{intent_id}").stdout
        cancelled: set[str] = set()
        live = []
        for record in out.split("\x1e"):
            sha, _, body = record.strip().partition("\x1f")
            if not _SHA.match(sha) or sha in cancelled:
                continue
            reverts = _REVERTS.findall(body)
            if reverts:
                cancelled.update(reverts)
            else:
                live.append(sha)
        return live

    def live_deliveries(self, intent_id: str) -> list[str]:
        """The delivery commits of ``intent_id`` still in effect on ``main``, newest first.

        Reverting all of them (newest first) takes the intent out; commits of other intents stay.
        An empty list when the intent was never delivered or has been reverted.
        """
        _check_intent_id(intent_id)
        with self._locked():
            self._ensure_clone()
            self._sync()
            return self._live(intent_id)

    def deployed_intents(self) -> list[DeployedIntent]:
        """Every intent whose directory exists on ``main`` (Git is the source of truth), by id, with
        the delivery commit in effect; see :class:`DeployedIntent`."""
        with self._locked():
            self._ensure_clone()
            head = self._sync()
            listed = self._git("ls-tree", "-d", "--name-only", "HEAD", "intents/", check=False).stdout
            found = []
            for path in sorted(listed.split()):
                intent_id = path.removeprefix("intents/")
                if not INTENT_ID.match(intent_id):
                    continue
                live = self._live(intent_id)
                commit = (
                    live[0]
                    if live
                    else self._git("log", "-1", "--format=%H", "HEAD", "--", path).stdout.strip()
                )
                found.append(DeployedIntent(intent_id, commit, tuple(live), head))
            return found

    def read(self, path: str, rev: str = "HEAD") -> str | None:
        """The text of ``path`` at ``rev`` of ``main`` (after a fetch), or None when it is absent.

        :param path: a relative path inside the repository, without ``..``.
        """
        parts = path.split("/")
        if not path or path.startswith("/") or any(p in ("", ".", "..") for p in parts):
            raise ValueError(f"not a plain relative path: {path[:100]!r}")
        if rev != "HEAD" and not _SHA.match(rev):
            raise ValueError("rev must be HEAD or a full commit SHA")
        with self._locked():
            self._ensure_clone()
            if rev == "HEAD" or self._git("cat-file", "-e", f"{rev}^{{commit}}", check=False).returncode:
                self._sync()
            shown = self._git("show", f"{rev}:{path}", check=False)
            return shown.stdout if shown.returncode == 0 else None

    def _remote_tag(self, name: str) -> str | None:
        """The commit tag ``name`` points at on the server, or None when the server has no such tag."""
        out = self._git("ls-remote", "--tags", "origin", f"refs/tags/{name}", f"refs/tags/{name}^{{}}").stdout
        refs = dict(reversed(line.split("\t", 1)) for line in out.splitlines() if "\t" in line)
        return refs.get(f"refs/tags/{name}^{{}}") or refs.get(f"refs/tags/{name}")

    def tag_commit(self, name: str) -> str | None:
        """The commit the tag ``name`` points at on the server, or None when there is no such tag."""
        _check_tag(name)
        with self._locked():
            self._ensure_clone()
            return self._remote_tag(name)

    def create_tag(self, name: str, *, message: str) -> Tag:
        """Tag the commit ``main`` points at with an annotated tag ``name`` and push the tag.

        An existing tag is never moved: a tag already on the server raises :class:`GitError`, and
        the push is a plain one (no force), which the server refuses for an existing tag anyway.
        """
        _check_tag(name)
        with self._locked():
            self._ensure_clone()
            if self._remote_tag(name):
                raise GitError(f"tag {name} already exists on {self.url}; a checkpoint is never moved")
            head = self._sync()
            self._git("tag", "-d", name, check=False)  # a local leftover of a failed attempt
            self._git("tag", "-a", name, "-m", message, head)
            push = self._git("push", "--porcelain", "origin", f"refs/tags/{name}", check=False)
            if push.returncode != 0:
                self._git("tag", "-d", name, check=False)
                if _rejected(push) or "already exists" in push.stdout + push.stderr:
                    raise GitError(f"tag {name} already exists on {self.url}; a checkpoint is never moved")
                raise GitError(
                    f"git push of tag {name} to {self.url} failed: {_explain(push.stderr + push.stdout)}"
                )
            return Tag(name, head, True)

    def _since(self, tag_commit: str) -> list[str]:
        if self._git("merge-base", "--is-ancestor", tag_commit, "HEAD", check=False).returncode != 0:
            raise GitError(f"commit {tag_commit[:12]} is not on {self.branch} of {self.url}")
        merges = self._git("rev-list", "--merges", f"{tag_commit}..HEAD").stdout.split()
        if merges:
            raise GitError(
                f"{self.branch} of {self.url} has merge commits after {tag_commit[:12]} "
                f"({', '.join(m[:12] for m in merges)}); they cannot be reverted one by one"
            )
        return self._git("rev-list", f"{tag_commit}..HEAD").stdout.split()

    def commits_since(self, name: str) -> tuple[str, list[str]]:
        """The commit tag ``name`` points at, and every commit after it on ``main``, newest first.

        Raises :class:`GitError` when the server has no such tag, when the tagged commit is not on
        ``main``, or when a merge commit follows it.
        """
        _check_tag(name)
        with self._locked():
            self._ensure_clone()
            tagged = self._remote_tag(name)
            if not tagged:
                raise GitError(f"tag {name} does not exist on {self.url}")
            self._sync()
            return tagged, self._since(tagged)

    def same_tree(self, a: str, b: str) -> bool:
        """True when commits ``a`` and ``b`` hold exactly the same files."""
        if not (_SHA.match(a) and _SHA.match(b)):
            raise ValueError("same_tree needs two full commit SHAs")
        with self._locked():
            self._ensure_clone()
            for sha in (a, b):
                if self._git("cat-file", "-e", f"{sha}^{{commit}}", check=False).returncode:
                    self._sync()
            return self._git("diff", "--quiet", a, b, check=False).returncode == 0

    def changed_paths(self, sha: str) -> list[str]:
        """The files commit ``sha`` changed."""
        if not _SHA.match(sha):
            raise ValueError("changed_paths needs a full commit SHA")
        with self._locked():
            self._ensure_clone()
            if self._git("cat-file", "-e", f"{sha}^{{commit}}", check=False).returncode:
                self._sync()
            return self._git("diff-tree", "--no-commit-id", "--name-only", "-r", "--root", sha).stdout.split()

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
        :param idempotent: when every commit already has a revert on ``main`` (an earlier attempt
            landed), return that revert instead of reverting again. A reset to a checkpoint passes
            False: it reverts reverts too.
        """
        if not shas or not all(_SHA.match(s) for s in shas) or len(set(shas)) != len(shas):
            raise ValueError("revert_range needs distinct full commit SHAs")
        if intent_id is not None:
            _check_intent_id(intent_id)
        if require_removed and intent_id is None:
            raise ValueError("require_removed needs the intent id")
        started = time.monotonic()
        relative = f"intents/{intent_id}" if intent_id else None
        with self._locked():
            self._ensure_clone()
            for attempt in range(1, self.max_attempts + 1):
                previous = self._sync()
                for sha in shas:
                    if self._git("merge-base", "--is-ancestor", sha, "HEAD", check=False).returncode != 0:
                        raise GitError(
                            f"commit {sha[:12]} is not on {self.branch} of {self.url}; nothing reverted"
                        )
                order = {sha: i for i, sha in enumerate(self._git("rev-list", "HEAD").stdout.split())}
                ordered = sorted(shas, key=lambda s: order[s])
                removed = None if relative is None else not (self.path / relative).exists()
                if idempotent:
                    earlier = {
                        sha: self._git(
                            "log", "--format=%H", f"--grep=^Reverts: {sha}$", "HEAD"
                        ).stdout.split()
                        for sha in ordered
                    }
                    if all(earlier.values()):
                        newest = min((found[0] for found in earlier.values()), key=lambda s: order[s])
                        return RangeRevert(
                            newest, tuple(ordered), previous, False, removed, time.monotonic() - started
                        )
                    if any(earlier.values()):
                        done = sorted(s[:12] for s, found in earlier.items() if found)
                        raise GitError(
                            f"some of the commits are already reverted on {self.url} ({', '.join(done)}); "
                            "nothing reverted"
                        )
                attempt_revert = self._git("revert", "--no-edit", "--no-commit", *ordered, check=False)
                if attempt_revert.returncode != 0:
                    files = self._git("diff", "--name-only", "--diff-filter=U", check=False).stdout.split()
                    self._git("revert", "--abort", check=False)
                    self._sync()
                    raise RevertConflictError(
                        f"reverting {', '.join(s[:12] for s in ordered)} on {self.url} conflicts with "
                        f"later commits in {', '.join(files) or 'the tree'}; nothing was pushed",
                        files,
                    )
                removed = None if relative is None else not (self.path / relative).exists()
                if require_removed and not removed:
                    left = self._git("ls-files", "--", relative).stdout.split()
                    self._sync()
                    raise GitError(
                        f"reverting {', '.join(s[:12] for s in ordered)} would leave {relative}/ on "
                        f"{self.url} ({', '.join(left[:5])}): other commits changed it; nothing was pushed"
                    )
                trailers = "".join(f"Reverts: {sha}\n" for sha in ordered)
                self._git("commit", "--quiet", "--no-verify", "--allow-empty", "-m", f"{message}\n{trailers}")
                revert_sha = self._git("rev-parse", "HEAD").stdout.strip()
                push = self._git(
                    "push", "--porcelain", "origin", f"HEAD:refs/heads/{self.branch}", check=False
                )
                if push.returncode == 0:
                    return RangeRevert(
                        revert_sha, tuple(ordered), previous, True, removed, time.monotonic() - started
                    )
                if not _rejected(push):
                    raise GitError(f"git push to {self.url} failed: {_explain(push.stderr + push.stdout)}")
                time.sleep(min(0.05 * 2**attempt, 1.0) * random.uniform(0.5, 1.5))  # noqa: S311 (jitter)
        raise PushRejectedError(f"push of the revert to {self.url} was rejected {self.max_attempts} times")


def _rejected(push: subprocess.CompletedProcess) -> bool:
    text = push.stdout + push.stderr
    return any(
        marker in text
        for marker in (
            "[rejected]",
            "non-fast-forward",
            "fetch first",
            "stale info",
            "cannot lock ref",
            "failed to update ref",
        )
    )


def _explain(text: str) -> str:
    if "could not read Username" in text or "Authentication failed" in text or " 401" in text:
        return "the Git server refused the credentials (HTTP 401): check the Git connection's login and token"
    if " 403" in text:
        return (
            "the Git server refused the request (HTTP 403): the connection's user may not push to this repo"
        )
    return _words(text)


def _words(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return " / ".join(lines[-4:]) or "no output"


def _check_intent_id(intent_id: str) -> None:
    if not isinstance(intent_id, str) or not INTENT_ID.match(intent_id):
        raise ValueError("the intent id must be a DNS-1123 label of at most 50 characters")


def _check_tag(name: str) -> None:
    if not isinstance(name, str) or not TAG_NAME.match(name):
        raise ValueError("a tag name is <label>/<label>, each a DNS-1123 label of at most 40 characters")


def withdraw_message(intent_id: str, site: str, shas: list[str], run_id: str | None, reason: str) -> str:
    """The message of a withdrawal commit; ``Reverts:`` trailers are added by
    :meth:`SiteRepo.revert_range`."""
    run = run_id or "manual"
    return (
        f"Withdraw intent {intent_id} from {site}: revert {', '.join(s[:12] for s in shas)}\n\n"
        f"{reason or 'withdrawn'}\n\nIntent-Id: {intent_id}\nSite: {site}\nDag-Run-Id: {run}"
    )


def reset_message(tag: str, site: str, count: int, run_id: str | None, reason: str) -> str:
    """The message of a reset-to-checkpoint commit (``Reverts:`` trailers added by revert_range)."""
    run = run_id or "manual"
    return (
        f"Reset {site} to {tag}: revert the {count} commit(s) after it\n\n"
        f"{reason or 'emergency reset'}\n\nCheckpoint: {tag}\nSite: {site}\nDag-Run-Id: {run}"
    )


def revert_message(intent_id: str, site: str, sha: str, run_id: str | None, reason: str) -> str:
    """The message of a rollback commit; ``Reverts:`` is added by :meth:`SiteRepo.revert`."""
    run = run_id or "manual"
    return (
        f"Roll back intent {intent_id} at {site}: revert {sha[:12]}\n\n{reason}\n\n"
        f"Intent-Id: {intent_id}\nSite: {site}\nDag-Run-Id: {run}"
    )


def commit_message(intent_id: str, site: str, run_id: str | None) -> str:
    """The message of a delivery commit, with trailers that name the intent and the DAG run."""
    run = run_id or "manual"
    return (
        f"Deliver intent {intent_id} to {site}\n\nDAG run: {run}\n\n"
        f"Intent-Id: {intent_id}\nSite: {site}\nDag-Run-Id: {run}\n"
    )
