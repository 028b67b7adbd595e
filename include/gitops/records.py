"""What the operations on a site repository return."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Author:
    name: str = "edge-intent pipeline"
    email: str = "pipeline@edge-intent.invalid"


@dataclass(frozen=True)
class Pushed:
    """How a push went.

    :param attempts: pushes made (0 when nothing had to be pushed).
    :param confirmed_after_error: the last push failed (a dropped connection, a server that died
        after receiving), but the server was then found to hold the commit: it landed.
    """

    attempts: int
    confirmed_after_error: bool = False


@dataclass(frozen=True)
class Delivery:
    """The outcome of one delivery.

    :param sha: the commit on ``main`` that holds the package.
    :param created: False when the package was already there (no new commit).
    :param attempts: push attempts made (1 when the first push landed).
    :param seconds: wall time of the delivery.
    :param confirmed_after_error: the push reported an error, yet ``main`` was found to hold ``sha``.
    """

    sha: str
    created: bool
    attempts: int
    seconds: float
    confirmed_after_error: bool = False


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
    :param confirmed_after_error: the push reported an error, yet ``main`` was found to hold ``sha``.
    """

    sha: str
    reverted: tuple[str, ...]
    previous: str
    created: bool
    removed: bool | None
    seconds: float
    confirmed_after_error: bool = False


@dataclass(frozen=True)
class DeployedIntent:
    """An intent present on ``main``: its directory ``intents/<intent_id>/`` exists at ``head``.

    :param intent_id: the directory's name.
    :param commit: the newest delivery commit still in effect (what a rollback reverts); when no
        delivery commit is in effect, the last commit that touched the directory.
    :param deliveries: every delivery commit still in effect, newest first.
    :param head: the commit of ``main`` that was read.
    :param runs: the DAG run each of ``deliveries`` names in its ``Dag-Run-Id`` trailer (None for a
        commit made without a run).
    :param scales: whether each of ``deliveries`` is a scale commit (``Change: scale``).
    """

    intent_id: str
    commit: str
    deliveries: tuple[str, ...]
    head: str
    runs: tuple[str | None, ...] = ()
    scales: tuple[bool, ...] = ()

    @property
    def in_effect(self) -> list[str]:
        """What a rollback of the delivery in effect reverts, newest first: the newest delivery that
        is not a scale commit, and the scale commits made on it since (by its run's Verifying or by
        re-verification); :attr:`commit` alone when no delivery commit is in effect."""
        if not self.deliveries or self.deliveries[0] != self.commit:
            return [self.commit]
        found = []
        for index, sha in enumerate(self.deliveries):
            found.append(sha)
            if not (index < len(self.scales) and self.scales[index]):
                break
        return found


@dataclass(frozen=True)
class Tag:
    """An annotated tag pushed to the server.

    :param name: the tag (``checkpoint/<name>``).
    :param commit: the commit of ``main`` it points at.
    :param created: always True: an existing tag is never moved.
    :param confirmed_after_error: the push reported an error, yet the server was found to hold the tag.
    """

    name: str
    commit: str
    created: bool
    confirmed_after_error: bool = False
