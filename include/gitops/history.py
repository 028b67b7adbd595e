"""Reading a site repository's history: Git is the record of what was delivered and taken back.

A delivery commit changes ``intents/<intent-id>/`` and names the intent and the DAG run in its
trailers (see :func:`.messages.commit_message`). A revert names each commit it cancels (``Reverts:``
trailers, or the line plain ``git revert`` writes); a revert that was reverted itself cancels
nothing. Every function reads an opened clone, as of ``rev``.
"""

from __future__ import annotations

import git
from git import GitCommandError

from .messages import CHANGE_TRAILER, INTENT_TRAILER, REVERTS_TRAILER, RUN_TRAILER, SCALE, reverted_by


def on_branch(repo: git.Repo, sha: str, rev: str = "HEAD") -> bool:
    """True when commit ``sha`` is in the history of ``rev`` (False for an unknown commit)."""
    try:
        return repo.is_ancestor(sha, rev)
    except GitCommandError:
        return False


def positions(repo: git.Repo, rev: str = "HEAD") -> dict[str, int]:
    """``{commit: index}`` over the history of ``rev``, the newest at 0."""
    return {sha: index for index, sha in enumerate(repo.git.rev_list(rev).split())}


def live(repo: git.Repo, intent_id: str, rev: str = "HEAD") -> list[str]:
    """Delivery commits of ``intents/<intent_id>/`` still in effect at ``rev``, newest first.

    Walks the commits that touched the directory from the newest: a revert cancels the commits it
    names, unless it was itself cancelled by a later revert; every other commit is a delivery, in
    effect unless cancelled.
    """
    cancelled: set[str] = set()
    found = []
    for commit in repo.iter_commits(rev, paths=f"intents/{intent_id}"):
        if commit.hexsha in cancelled:
            continue
        reverts = reverted_by(_text(commit.message))
        if reverts:
            cancelled.update(reverts)
        else:
            found.append(commit.hexsha)
    return found


def revert_in_effect(repo: git.Repo, sha: str, rev: str = "HEAD") -> str | None:
    """The newest commit at ``rev`` that reverts ``sha`` and was not reverted itself, or None."""
    for commit in repo.iter_commits(rev, grep=[f"^Reverts: {sha}$", f"^This reverts commit {sha}"]):
        if sha in reverted_by(_text(commit.message)) and revert_in_effect(repo, commit.hexsha, rev) is None:
            return commit.hexsha
    return None


def run_deliveries(repo: git.Repo, intent_id: str, run_id: str, rev: str = "HEAD") -> list[str]:
    """The delivery commits at ``rev`` whose trailers name exactly this intent and this DAG run,
    newest first (reverts of the run, which carry the same trailers, are no deliveries)."""
    candidates = repo.iter_commits(
        rev,
        paths=f"intents/{intent_id}",
        grep=[f"{INTENT_TRAILER}: {intent_id}", f"{RUN_TRAILER}: {run_id}"],
        all_match=True,
        fixed_strings=True,
    )
    found = []
    for commit in candidates:
        # --grep matched substrings anywhere in the message: the trailers decide.
        trailers = commit.trailers_dict
        if (
            trailers.get(INTENT_TRAILER) == [intent_id]
            and trailers.get(RUN_TRAILER) == [run_id]
            and REVERTS_TRAILER not in trailers
            and not reverted_by(_text(commit.message))
        ):
            found.append(commit.hexsha)
    return found


def delivery_run(repo: git.Repo, sha: str) -> str | None:
    """The DAG run a delivery commit names in its ``Dag-Run-Id`` trailer (None when it names none,
    or several)."""
    runs = repo.commit(sha).trailers_dict.get(RUN_TRAILER) or []
    return runs[0] if len(runs) == 1 else None


def is_scale(repo: git.Repo, sha: str) -> bool:
    """Whether a delivery commit is a scale commit (``Change: scale``)."""
    return repo.commit(sha).trailers_dict.get(CHANGE_TRAILER) == [SCALE]


def last_touching(repo: git.Repo, path: str, rev: str = "HEAD") -> str | None:
    """The newest commit at ``rev`` that changed ``path``."""
    return next((commit.hexsha for commit in repo.iter_commits(rev, paths=path, max_count=1)), None)


def read(repo: git.Repo, path: str, rev: str = "HEAD") -> str | None:
    """The text of the file ``path`` at ``rev``, or None when there is no such file."""
    try:
        blob = repo.commit(rev).tree / path
    except KeyError:
        return None
    if blob.type != "blob":
        return None
    return blob.data_stream.read().decode("utf-8")


def package(repo: git.Repo, intent_id: str, rev: str = "HEAD") -> dict[str, str]:
    """``{file name: text}`` of ``intents/<intent_id>/`` at ``rev`` (empty when it is not there)."""
    try:
        tree = repo.commit(rev).tree / f"intents/{intent_id}"
    except KeyError:
        return {}
    if tree.type != "tree":
        return {}
    return {blob.name: blob.data_stream.read().decode("utf-8") for blob in tree.blobs}


def intent_dirs(repo: git.Repo, rev: str = "HEAD") -> list[str]:
    """The names of the directories under ``intents/`` at ``rev``, sorted."""
    try:
        intents = repo.commit(rev).tree / "intents"
    except KeyError:
        return []
    return sorted(tree.name for tree in intents.trees) if intents.type == "tree" else []


def _text(message: str | bytes) -> str:
    return message.decode("utf-8", "replace") if isinstance(message, bytes) else message
