"""A clock the tests move by hand: ``clock()`` reads it, ``clock.sleep(s)`` moves it on."""

from __future__ import annotations


class Clock:
    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
