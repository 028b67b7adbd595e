"""The commit messages the pipeline writes to a site repository, and the checks on what names them.

A commit message ends with trailers (``git interpret-trailers``): ``Intent-Id``, ``Site`` and
``Dag-Run-Id`` name the intent and the DAG run; a revert adds one ``Reverts: <sha>`` per commit it
reverts. They make Git the record of what was delivered, by which run, and what was taken back.
"""

from __future__ import annotations

import re

FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
INTENT_ID = re.compile(r"^[a-z0-9]([-a-z0-9]{0,48}[a-z0-9])?$")
SHA = re.compile(r"^[0-9a-f]{40}$")
TAG_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?/[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$")
# Airflow run ids are at most 250 characters; a line break would forge a trailer.
RUN_ID = re.compile(r"^[^\x00-\x1f\x7f]{1,250}$")
# A revert names what it reverts: this project's "Reverts: <sha>" trailer (one line per commit),
# or the line plain ``git revert`` writes.
REVERTS = re.compile(r"^(?:Reverts: |This reverts commit )([0-9a-f]{40})\.?\s*$", re.MULTILINE)

INTENT_TRAILER = "Intent-Id"
RUN_TRAILER = "Dag-Run-Id"
REVERTS_TRAILER = "Reverts"
CHANGE_TRAILER = "Change"
SCALE = "scale"  # ``Change: scale``: a scale commit, the same package with more replicas


def check_intent_id(intent_id: str) -> None:
    if not isinstance(intent_id, str) or not INTENT_ID.fullmatch(intent_id):
        raise ValueError("the intent id must be a DNS-1123 label of at most 50 characters")


def check_run_id(run_id: str) -> None:
    if not isinstance(run_id, str) or not RUN_ID.fullmatch(run_id) or run_id != run_id.strip():
        raise ValueError("a DAG run id is 1 to 250 characters, no line breaks, no surrounding spaces")


def check_tag(name: str) -> None:
    if not isinstance(name, str) or not TAG_NAME.fullmatch(name):
        raise ValueError("a tag name is <label>/<label>, each a DNS-1123 label of at most 40 characters")


def check_package(intent_id: str, files: dict[str, str]) -> None:
    """Refuse an intent id that is no DNS-1123 label and file names that are not plain names."""
    if not isinstance(intent_id, str) or not INTENT_ID.fullmatch(intent_id):
        raise ValueError(f"intent id {intent_id!r} is not a DNS-1123 label of at most 50 characters")
    bad = [name for name in files if not FILE_NAME.fullmatch(name)]
    if bad or not files:
        raise ValueError(f"package file names must be plain names, got {bad or 'no files'}")


def check_path(path: str) -> None:
    """Refuse anything but a plain relative path inside the repository."""
    parts = path.split("/")
    if not path or path.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"not a plain relative path: {path[:100]!r}")


def is_sha(value: object) -> bool:
    return isinstance(value, str) and bool(SHA.fullmatch(value))


def reverted_by(message: str) -> list[str]:
    """The commits a commit message says it reverts (empty for anything but a revert)."""
    return REVERTS.findall(message)


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


def scale_message(intent_id: str, site: str, before: int, after: int, reason: str, run_id: str | None) -> str:
    """The message of a scale commit: a delivery of the same package with more replicas, with the
    trailers of a delivery by this run (so that rolling the run back reverts it too)."""
    run = run_id or "manual"
    return (
        f"Scale intent {intent_id} at {site}: {before} to {after} replicas\n\n{reason}\n\n"
        f"DAG run: {run}\n\nIntent-Id: {intent_id}\nSite: {site}\nDag-Run-Id: {run}\n"
        f"{CHANGE_TRAILER}: {SCALE}\n"
    )


def with_reverts(message: str, shas: list[str] | tuple[str, ...]) -> str:
    """``message`` with one ``Reverts: <sha>`` trailer per commit, after its own trailers."""
    return f"{message}\n" + "".join(f"{REVERTS_TRAILER}: {sha}\n" for sha in shas)
