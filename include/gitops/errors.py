"""The errors of a site repository, and git's own words turned into a message a person can act on.

A message never carries a credential: the remote URL has none (see :func:`.auth.check_url`) and the
``Authorization`` header lives in git's environment, which neither git nor GitPython prints.
"""

from __future__ import annotations

import re

from git import GitCommandError

_TIMED_OUT = re.compile(r"Timeout: .* did not complete in ([0-9.]+) secs")

# What git says when the server refused the update because the ref moved (or is being moved) under
# it, or because a tag of that name exists: the commit did not land, and trying again may help.
_REJECTED = (
    "[rejected]",
    "non-fast-forward",
    "fetch first",
    "stale info",
    "cannot lock ref",
    "failed to update ref",
    "already exists",
)


class GitError(Exception):
    """A git operation failed; the message carries git's own words (never a credential)."""


class PushRejectedError(GitError):
    """Every push attempt was rejected because ``main`` kept moving."""


class RevertConflictError(GitError):
    """Reverting a commit conflicts with what came after it; nothing was pushed."""

    def __init__(self, message: str, files: list[str]) -> None:
        super().__init__(message)
        self.files = files


def output_of(exc: GitCommandError) -> str:
    """What the failed command wrote, stderr first (GitPython keeps both, wrapped in labels)."""
    parts = []
    for label, text in (("stderr", exc.stderr), ("stdout", exc.stdout)):
        prefix = f"\n  {label}: '"
        if text.startswith(prefix) and text.endswith("'"):
            text = text[len(prefix) : -1]
        parts.append(text)
    return "\n".join(part for part in parts if part)


def is_rejected(text: str) -> bool:
    return any(marker in text for marker in _REJECTED)


def explain(text: str) -> str:
    if "could not read Username" in text or "Authentication failed" in text or " 401" in text:
        return "the Git server refused the credentials (HTTP 401): check the Git connection's login and token"
    if " 403" in text:
        return (
            "the Git server refused the request (HTTP 403): the connection's user may not push to this repo"
        )
    timed_out = _TIMED_OUT.search(text)
    if timed_out:
        return f"no answer within {timed_out[1]} s"
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return " / ".join(lines[-4:]) or "no output"


def git_error(exc: GitCommandError, url: str) -> GitError:
    """The :class:`GitError` for a failed git command run against ``url``."""
    command = next((str(arg) for arg in exc.command[1:] if not str(arg).startswith("-")), "command")
    return GitError(f"git {command} against {url} failed: {explain(output_of(exc))}")
