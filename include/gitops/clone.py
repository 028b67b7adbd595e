"""The reused local clone of a site repository, and the one way anything is pushed from it.

The clone is a private cache under a cache directory, shared by every worker on the machine: a file
lock serialises its users, and each operation starts from the freshly fetched branch, so a failed
attempt leaves nothing behind. Git runs through GitPython with a time limit on every command and the
credentials in git's environment (an ``http.extraHeader`` set through ``GIT_CONFIG_*``, see
:class:`.auth.GitAuth`): never in a URL, an argument list, ``.git/config`` or a log line.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import random
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal, TypeVar

import git
from git import GitCommandError

from .auth import GitAuth, check_url
from .errors import GitError, PushRejectedError, explain, git_error, is_rejected, output_of
from .records import Author, Pushed

log = logging.getLogger(__name__)

GIT_TIMEOUT_S = 60
DEFAULT_AUTHOR = Author()
T = TypeVar("T")


class _Git(git.Git):
    """GitPython's command runner, with a time limit on every command that is waited for."""

    def execute(self, command, *args, **kwargs):  # type: ignore[override]
        if not kwargs.get("as_process"):
            kwargs.setdefault("kill_after_timeout", GIT_TIMEOUT_S)
        return super().execute(command, *args, **kwargs)


class _Repo(git.Repo):
    GitCommandWrapperType = _Git


class GitClone:
    """The locked local clone of one branch of a remote, and pushes from it.

    :param url: the remote, without credentials (``https://gitea.example/org/edge1-config.git``).
    :param auth: HTTP credentials, or None for a repository that needs none.
    :param cache_dir: where the reused local clone lives.
    :param branch: the branch worked on.
    :param author: the author and committer of every commit and tag.
    :param max_attempts: pushes tried while the branch keeps moving.
    """

    def __init__(
        self,
        url: str,
        auth: GitAuth | None,
        cache_dir: Path,
        *,
        branch: str = "main",
        author: Author = DEFAULT_AUTHOR,
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

    def _env(self) -> dict[str, str]:
        """What git's environment adds to the process's: no prompt, the author, the credentials."""
        env = {
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_AUTHOR_NAME": self.author.name,
            "GIT_AUTHOR_EMAIL": self.author.email,
            "GIT_COMMITTER_NAME": self.author.name,
            "GIT_COMMITTER_EMAIL": self.author.email,
        }
        if self.auth:
            env.update(self.auth.env())
        return env

    @contextmanager
    def _open(self) -> Iterator[git.Repo]:
        """The clone, locked and opened (cloned first when missing); a failed git command in the
        block raises :class:`GitError` with git's words."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self._lock_path, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                self._ensure_clone()
                repo = _Repo(self.path)
                repo.git.update_environment(**self._env())
                try:
                    yield repo
                finally:
                    repo.close()
            except GitCommandError as exc:
                raise git_error(exc, self.url) from None
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _ensure_clone(self) -> None:
        if (self.path / ".git").is_dir():
            return
        staging = self.path.with_name(self.path.name + ".cloning")
        shutil.rmtree(staging, ignore_errors=True)
        # Repo.clone_from waits for git clone without a time limit: run the command itself.
        runner = _Git(self.path.parent)
        runner.update_environment(**self._env())
        runner.clone("--quiet", "--branch", self.branch, "--single-branch", "--", self.url, str(staging))
        staging.rename(self.path)

    def _sync(self, repo: git.Repo) -> str:
        """Fetch the branch and make the clone exactly it; return its commit."""
        repo.git.fetch("--quiet", "origin", f"+refs/heads/{self.branch}:refs/remotes/origin/{self.branch}")
        repo.git.reset("--hard", "--quiet", f"origin/{self.branch}")
        repo.git.clean("-fdxq")
        return repo.head.commit.hexsha

    def _ensure_commit(self, repo: git.Repo, *shas: str) -> None:
        """Fetch when the clone does not have every commit named yet."""
        if not all(repo.is_valid_object(sha, "commit") for sha in shas):
            self._sync(repo)

    def _push_with_retry(
        self,
        repo: git.Repo,
        prepare: Callable[[], tuple[str | None, T]],
        *,
        what: str,
        ref: str | None = None,
        rejected: GitError | None = None,
    ) -> tuple[T, Pushed]:
        """Make an object with ``prepare`` and push it to ``ref``, again while the server rejects it.

        ``prepare`` starts from a fresh sync and returns the object to push (None when nothing has
        to be pushed) and the caller's result. A rejected push (the branch moved) runs ``prepare``
        again after a jittered back-off, at most ``max_attempts`` times; with ``rejected`` given,
        a rejection raises it instead. A push that fails otherwise (a dropped connection, a server
        that died after receiving) counts as landed when the server is then found to hold the
        object; else it raises :class:`GitError`.

        :param ref: the remote ref, by default the branch.
        """
        ref = ref or f"refs/heads/{self.branch}"
        for attempt in range(1, self.max_attempts + 1):
            sha, result = prepare()
            if sha is None:
                return result, Pushed(attempt - 1)
            outcome = self._push(repo, sha, ref)
            if outcome != "rejected":
                return result, Pushed(attempt, outcome == "confirmed")
            if rejected is not None:
                raise rejected
            time.sleep(min(0.05 * 2**attempt, 1.0) * random.uniform(0.5, 1.5))  # noqa: S311 (jitter)
        raise PushRejectedError(
            f"push of {what} to {self.url} was rejected {self.max_attempts} times: {self.branch} kept moving"
        )

    def _push(self, repo: git.Repo, sha: str, ref: str) -> Literal["landed", "confirmed", "rejected"]:
        try:
            repo.git.push("--porcelain", "origin", f"{sha}:{ref}")
            return "landed"
        except GitCommandError as exc:
            text = output_of(exc)
        if is_rejected(text):
            return "rejected"
        if self._remote_holds(repo, sha, ref):
            log.warning(
                "The push of %s to %s %s failed (%s), but the server holds it: it landed",
                sha[:12],
                self.url,
                ref,
                explain(text),
            )
            return "confirmed"
        raise GitError(f"git push to {self.url} failed: {explain(text)}")

    def _remote_holds(self, repo: git.Repo, sha: str, ref: str) -> bool:
        """True when ``ref`` on the server is ``sha``, or a branch that has moved on from it."""
        try:
            listed = self._ls_remote(repo, ref)
            if listed.get(ref) == sha:
                return True
            if ref != f"refs/heads/{self.branch}" or ref not in listed:
                return False
            repo.git.fetch("--quiet", "origin", f"+{ref}:refs/remotes/origin/{self.branch}")
            return repo.is_ancestor(sha, listed[ref])
        except GitCommandError as exc:
            log.warning("Cannot ask %s whether %s landed: %s", self.url, sha[:12], explain(output_of(exc)))
            return False

    def _ls_remote(self, repo: git.Repo, *refs: str) -> dict[str, str]:
        """``{ref: object}`` on the server for the refs named (absent ones left out)."""
        out = repo.git.ls_remote("origin", *refs)
        pairs = (line.split("\t", 1) for line in out.splitlines() if "\t" in line)
        return {name: obj for obj, name in pairs if name in refs}
