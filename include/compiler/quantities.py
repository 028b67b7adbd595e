"""Reading the targets of an operator's text, and accounting for every number in it.

Each reader claims the stretch of text it read; a number no reader claimed (and that is not a site
name, a priority or a name such as "5G") is refused by :func:`refuse_unread`, so that no quantity
in a text is silently dropped.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import NoReturn

from . import vocabulary as v
from .errors import FieldError, IntentValidationError
from .limits import check_range
from .slice import Requirement
from .targets import CANONICAL_UNIT, KINDS, UNITS, check_whole_ms

STAGE = "parse"
FIELD = "text"

Span = tuple[int, int]
MAX_NAMED = 10
"""Most unread numbers named one by one in a refusal (the rest are counted)."""
_ORDER = ("throughput", "latency", "jitter", "percent", "count")


@dataclass
class Reading:
    """What has been read from one text so far.

    :param original: the text with its whitespace collapsed, in its own case.
    :param lowered: the same text lowercased, character for character.
    """

    original: str
    lowered: str
    spans: list[Span] = field(default_factory=list)
    found: list[tuple[int, int, Requirement]] = field(default_factory=list)

    def free(self, span: Span) -> bool:
        """Whether no reader has claimed any of ``span`` yet."""
        return not any(start < span[1] and span[0] < end for start, end in self.spans)

    def take(self, span: Span, requirement: Requirement | None = None, *, group: str = "") -> None:
        """Claim ``span``; record ``requirement`` (ordered by ``group``, then position) if given."""
        self.spans.append(span)
        if requirement is not None:
            self.found.append((_ORDER.index(group), span[0], requirement))

    @property
    def requirements(self) -> list[Requirement]:
        """Every requirement read: throughputs, latencies, jitter, percentages, counts, each in text order."""
        return [req for _, _, req in sorted(self.found, key=lambda item: item[:2])]


def read_targets(original: str, lowered: str) -> Reading:
    """Read every target in the text (refusing a target it cannot read) and claim what it read."""
    reading = Reading(original, lowered)
    for reader in (_nines, _losses, _throughputs, _user_equipment, _jitter, _latency, _percentages):
        reader(reading)
    for match in v.NAMED_NUMBERS.finditer(lowered):
        reading.take(match.span())
    return reading


def number(raw: str, *, what: str) -> float:
    """The value of a number as written ("1,500", "10^12", "1e3")."""
    cleaned = raw.replace(",", "").replace(" ", "")
    try:
        if "^" in cleaned:
            base, exponent = cleaned.split("^")
            return float(base) ** float(exponent)
        return float(cleaned)
    except (ValueError, OverflowError):
        raise IntentValidationError.single(FIELD, f"{what} {raw!r} is not a number", stage=STAGE) from None


def requirement(name: str, value: float, unit: str) -> Requirement:
    """A requirement with the parser's condition, once its value is plausible (and whole ms for latency)."""
    kind = KINDS[name]
    check_range(
        value * UNITS[kind.dimension][unit],
        kind.dimension,
        field=FIELD,
        stage=STAGE,
        what=name,
        unit=CANONICAL_UNIT[kind.dimension] or "UEs",
    )
    check_whole_ms(name, value, unit, field=FIELD, stage=STAGE)
    return Requirement(name=name, condition=kind.condition, value=value, unit=unit)


def _refuse(reason: str) -> NoReturn:
    raise IntentValidationError.single(FIELD, reason, stage=STAGE)


def _throughputs(reading: Reading) -> None:
    """Throughputs ("1 Gbps download", "100 MB/s"): DlThptPerUE or UlThptPerUE."""
    for match in v.THPT.finditer(reading.lowered):
        if not reading.free(match.span()):
            continue
        raw, prefix, bit_word, byte_word = match.group(1, 2, 3, 4)
        word = bit_word or byte_word
        letter = v.THPT_WORD.get(word, "?") if word else prefix
        written = reading.original[match.end(1) : match.end()].strip()
        if letter not in v.THPT_PREFIX:
            _refuse(f"unknown throughput unit {written!r}; use kbps, Mbps or Gbps")
        value = number(raw, what="throughput")
        if byte_word or v.BYTE_UNIT.fullmatch(written):
            value *= 8  # bytes per second: 8 bits each
        direction = _direction(reading.lowered, match.start(), match.end())
        name = "UlThptPerUE" if direction == "ul" else "DlThptPerUE"
        reading.take(match.span(), requirement(name, value, v.THPT_PREFIX[letter]), group="throughput")


def _direction(text: str, start: int, end: int) -> str:
    """``dl`` or ``ul``: the direction word after the throughput, else before it, else downlink."""
    after = text[end : end + 24]
    before = text[max(0, start - 32) : start]
    before = re.split(r"[,;.]| and ", before)[-1]
    after = re.split(r"[,;.]| and |\d", after)[0]
    for window in (after, before):
        dl = v.DL_WORDS.search(window)
        ul = v.UL_WORDS.search(window)
        if dl and not ul:
            return "dl"
        if ul and not dl:
            return "ul"
        if dl and ul:
            return "dl" if dl.start() < ul.start() else "ul"
    return "dl"


def _latency(reading: Reading) -> None:
    """Latencies ("5 ms latency", "RTT of 10 ms"): DlLatency, or UlLatency when said uplink."""
    _times(reading, v.LATENCY, "latency")


def _jitter(reading: Reading) -> None:
    """Jitter ("jitter under 1 ms", "1 ms delay variation")."""
    _times(reading, v.JITTER, "jitter")


def _times(reading: Reading, keyword: str, what: str) -> None:
    """Times said before ("5 ms latency") or after ("latency of 5 ms") the ``keyword``."""
    before = re.compile(
        v.NUM + r"\s*" + v.UNIT_WORD + r"\s*(?:(?:e2e|end-to-end|one-way|round-trip|"
        r"uplink|downlink|ul|dl|max(?:imum)?)\s+)*" + keyword + r"\b"
    )
    after = re.compile(
        r"\b((?:uplink|downlink|ul|dl)\s+)?" + keyword + r"\s*" + v.QUALIFIER + v.NUM + r"\s*" + v.UNIT_WORD
    )
    for pattern, number_group, unit_group in ((before, 1, 2), (after, 2, 3)):
        for match in pattern.finditer(reading.lowered):
            if not reading.free(match.span()):
                continue
            unit_word = match.group(unit_group) or ""
            unit = v.TIME_UNITS.get(unit_word)
            value = number(match.group(number_group), what=what)
            if unit is None:
                _refuse(
                    f"{what} {match.group(number_group)} has no unit; say for example 5 ms"
                    if not unit_word
                    else f"unknown {what} unit {unit_word!r}; use ms, s or us"
                )
            uplink = re.search(r"\b(uplink|ul)\b", match.group(0)) is not None
            name = "jitter" if what == "jitter" else ("UlLatency" if uplink else "DlLatency")
            reading.take(match.span(), requirement(name, value, unit), group=what)


def _percentages(reading: Reading) -> None:
    """Reliability and availability in % ("99.999% reliability", "availability of 99.95%")."""
    for pattern, number_group, percent_group, word_group in (
        (v.PERCENT_AFTER, 1, 2, 3),
        (v.PERCENT_BEFORE, 2, 3, 1),
    ):
        for match in pattern.finditer(reading.lowered):
            if not reading.free(match.span()):
                continue
            word = match.group(word_group)
            name = "availability" if word in ("availability", "uptime") else "reliability"
            value = number(match.group(number_group), what=name)
            if not match.group(percent_group):
                _refuse(f"{name} {match.group(number_group)} needs a % sign, for example 99.999%")
            reading.take(match.span(), requirement(name, value, "%"), group="percent")


def _losses(reading: Reading) -> None:
    """Packet loss ("0.01% packet loss", "packet loss below 0.001 %"): reliability is 100 % less it."""
    for pattern, number_group, percent_group in ((v.LOSS_AFTER, 1, 2), (v.LOSS_BEFORE, 1, 2)):
        for match in pattern.finditer(reading.lowered):
            if not reading.free(match.span()):
                continue
            raw = match.group(number_group)
            if not match.group(percent_group):
                _refuse(f"packet loss {raw} needs a % sign, for example 0.001%")
            loss = _decimal(raw)
            if loss is None or not 0 <= loss < 100:
                _refuse(f"packet loss {raw} % is out of range: must be at least 0 and less than 100 %")
            value = float(Decimal(100) - loss)
            reading.take(match.span(), requirement("reliability", value, "%"), group="percent")


def _decimal(raw: str) -> Decimal | None:
    """The exact value of a plain number, or None."""
    try:
        return Decimal(raw.replace(",", "").replace(" ", ""))
    except InvalidOperation:
        return None


def _nines(reading: Reading) -> None:
    """Nines ("five nines" is 99.999 %): reliability, or availability next to "availability"/"uptime"."""
    for match in v.NINES.finditer(reading.lowered):
        if not reading.free(match.span()):
            continue
        words = {match.group(1), match.group(3)}
        name = "availability" if words & {"availability", "uptime"} else "reliability"
        value = v.NINES_VALUE[match.group(2)]
        reading.take(match.span(), requirement(name, value, "%"), group="percent")


def _user_equipment(reading: Reading) -> None:
    """Counted UEs ("1,500 devices", "10k sensors", "50,000 smart meters"): maxNumberofUEs."""
    for match in v.UES.finditer(reading.lowered):
        if not reading.free(match.span()):
            continue
        value = number(match.group(1), what="number of UEs") * v.MULTIPLIER.get(match.group(2) or "", 1)
        if value != int(value):
            _refuse(f"number of UEs {value:g} is not a whole number")
        reading.take(match.span(), requirement("maxNumberofUEs", value, ""), group="count")


def unread(lowered: str, spans: list[Span]) -> list[re.Match[str]]:
    """Every number in the text that lies outside every claimed span."""
    return [
        match
        for match in v.NUMBER.finditer(lowered)
        if not any(start < match.end(1) and match.start(1) < end for start, end in spans)
    ]


def unanswered(original: str, lowered: str, values: list[float], spans: list[Span]) -> str | None:
    """The first number of the text (with the word after it) that is not among ``values`` (as
    written, or scaled by "k"/"million", 8 bits a byte, a unit prefix, or as 100 % less a loss);
    None when there is none. Numbers in ``spans`` (site names) and names such as "5G" are skipped."""
    named = [match.span() for match in v.NAMED_NUMBERS.finditer(lowered)]
    for match in unread(lowered, named + spans):
        if not _among(match, lowered, values):
            following = v.FOLLOWING.match(lowered, match.end(1))
            return original[match.start(1) : following.end(1) if following.group(1) else match.end(1)]
    return None


def _among(match: re.Match[str], lowered: str, values: list[float]) -> bool:
    """Whether the number ``match`` found is one of ``values``, as written or scaled."""
    try:
        said = number(match.group(1), what="number")
    except IntentValidationError:
        return False
    following = v.FOLLOWING.match(lowered, match.end(1)).group(1)
    said *= v.MULTIPLIER.get(following or "", 1)
    candidates = (said, said * 8, 100 - said, said * 1e3, said / 1e3, said * 1e6)
    return any(math.isclose(c, float(value), rel_tol=1e-9) for c in candidates for value in values)


def refuse_unread(original: str, lowered: str, spans: list[Span]) -> None:
    """Refuse the text, naming each leftover number and its words, if any number was not read."""
    leftovers = unread(lowered, spans)
    if leftovers:
        errors = [FieldError(FIELD, _unread_reason(original, lowered, m)) for m in leftovers[:MAX_NAMED]]
        if len(leftovers) > MAX_NAMED:
            errors.append(FieldError(FIELD, f"and {len(leftovers) - MAX_NAMED} more numbers are not read"))
        raise IntentValidationError(errors, stage=STAGE)


def _unread_reason(original: str, lowered: str, match: re.Match[str]) -> str:
    """Why the number ``match`` found is refused, naming it and the words after it."""
    start, end = match.span(1)
    said = original[start:end]
    following = v.FOLLOWING.match(lowered, end)
    first, second = following.group(1), following.group(2)
    if first is None or first in v.STOP_WORDS:
        return f"the number {said} in {_context(original, start, end)!r} is not attached to any target"
    if first in v.UNREAD_UNITS:
        stop = following.end(2) if second and second not in v.STOP_WORDS else following.end(1)
        return f"{original[start:stop]!r} is not a target the compiler reads ({v.TARGET_WORDS})"
    if first in v.TIME_UNITS or first in ("%", "percent"):
        quantity = original[start : following.end(1)]
        example = f"{quantity} latency" if first in v.TIME_UNITS else f"{quantity} reliability"
        return f"{quantity!r} is not attached to any target; say for example {example!r}"
    adjective = second is not None and re.fullmatch(v.ADJECTIVES, first) is not None
    noun_end = following.end(2) if adjective else following.end(1)
    noun = lowered[following.start(1) : noun_end]
    return f"{original[start:noun_end]!r}: unknown counted noun {noun!r}; count UEs as {v.COUNTED_EXAMPLES}"


def _context(original: str, start: int, end: int) -> str:
    """The number with the word before and the word after it."""
    left = re.search(r"\S{0,20}\s*$", original[:start])
    right = re.match(r"\s*\S{0,20}", original[end:])
    return original[left.start() if left else start : end + (right.end() if right else 0)]
