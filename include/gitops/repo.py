"""A site's config repository, worked on through a reused local clone.

``deliver`` writes a rendered package to ``intents/<intent-id>/``, commits it and pushes to
``main``. Concurrent deliveries to one repository all land: a rejected push fetches ``main``,
re-applies the package on top of it (a rebase of a commit that only touches its own directory)
and pushes again, a bounded number of times. Delivering the same content again creates no commit
and returns the commit that already holds it. The clone is a private cache under ``cache_dir``
shared by all deliveries on the machine (a file lock serialises them); it is reset to the fetched
``main`` before every use, so a failed attempt leaves nothing behind, locally or remotely.
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
