"""The compiler's canonical reading of an intent: what slice, where, and with which targets.

Both front ends produce it (the natural-language parser and the TM Forum intent reader), and the
TS 28.312 converter consumes it, so that every value a user asked for takes one road to the KRM.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from .config import SliceType


class Requirement(BaseModel):
    """One quantitative target, in the unit the intent states it in.

    :param name: the TS 28.312 target name (``DlLatency``) or an extension name (``reliability``).
    :param condition: a TS 28.312 Condition (``IS_LESS_THAN`` ...).
    :param value: the number the intent gives.
    :param unit: its unit as spelled in the intent (``ms``, ``Gbit/s``, ``%``; empty for counts).
    """

    model_config = ConfigDict(frozen=True)

    name: str
    condition: str
    value: float
    unit: str = ""


class SliceIntent(BaseModel):
    """What one intent asks for, independent of how it was expressed.

    :param slice_type: eMBB, URLLC or mMTC.
    :param sites: target site names, in catalogue order.
    :param requirements: every target, in the order the intent states them.
    :param defaults_applied: names of values the intent did not give and configuration filled in.
    :param contexts: further context attributes of the intent, carried through unchanged.
    :param description: the intent in words (the original text for natural language).
    """

    model_config = ConfigDict(frozen=True)

    slice_type: SliceType
    sites: tuple[str, ...] = Field(min_length=1)
    requirements: tuple[Requirement, ...] = ()
    defaults_applied: tuple[str, ...] = ()
    contexts: tuple[tuple[str, str], ...] = ()
    description: str = ""

    def requirement(self, name: str) -> Requirement | None:
        return next((req for req in self.requirements if req.name == name), None)
