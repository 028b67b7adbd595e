"""Deterministic, offline natural-language parser: operator text to a :class:`SliceIntent`.

Rules, in the order they apply (README "How text is read" has the same table):

* Slice type: an explicit name (eMBB, URLLC, mMTC/mIoT, or their long forms) wins. Otherwise the
  hint words decide (most hits; ties go URLLC, then mMTC, then eMBB): "low latency", "autonomous",
  "gaming" ... hint URLLC; "IoT", "sensors", "smart city" ... hint mMTC; "video", "streaming" ...
  hint eMBB. Otherwise the configured default applies and is recorded in ``defaults_applied``.
* Sites: "all sites", "every site", "both sites" ("both" only when the catalogue has two), or
  catalogue names and their spoken forms ("edge2", "edge 2", "edge site 2"). A site-like name
  that is not in the catalogue is an error that lists the known sites.
* Throughput (kbps, Mbps, Gbps, kbit/s ...): "download"/"downlink"/"DL" next to it makes it
  DlThptPerUE, "upload"/"uplink"/"UL" makes it UlThptPerUE; with no direction it is downlink.
* Latency and jitter (ms, s, us): "uplink latency" is UlLatency, any other latency is DlLatency.
* Reliability and availability (uptime) in %; number of UEs, users, devices, sensors ...;
  priority as "priority 10" or "high priority" (critical 90, high 75, medium 50, low 25).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from .config import SLICE_TYPES, Settings, SliceType
from .errors import IntentValidationError
from .limits import MAX_TEXT_CHARS, UNSAFE_TEXT, check_range, check_size
from .slice import Requirement, SliceIntent
from .targets import CANONICAL_UNIT, KINDS, UNITS

STAGE = "parse"
FIELD = "text"

_NUM = r"(?<![a-z0-9_.])(-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+(?:\.\d+)?(?:\s*(?:\^|e)\s*-?\d+)?)"
_EXPLICIT = {
    "eMBB": r"embb|enhanced mobile broadband",
    "URLLC": r"urllc|ultra[- ]reliable(?:,? and)?(?: ultra)?[- ]low[- ]latency(?: communications?)?",
    "mMTC": r"mmtc|miot|massive (?:machine[- ]type communications?|iot)",
}
_HINTS = {
    "URLLC": r"ultra[- ]low[- ]latency|low[- ]latency|autonomous|vehicles?|v2x|remote surgery|"
    r"industrial automation|factory automation|mission[- ]critical|real[- ]time control|gaming|robots?",
    "mMTC": r"iot|sensors?|smart cit(?:y|ies)|smart meters?|metering|machine[- ]type|telemetry",
    "eMBB": r"video|streaming|broadband|4k|8k|ar/vr|virtual reality|high[- ]throughput|high[- ]bandwidth",
}
_TIE_ORDER: tuple[SliceType, ...] = ("URLLC", "mMTC", "eMBB")

_THPT_PREFIX = {"k": "kbit/s", "m": "Mbit/s", "g": "Gbit/s"}
_THPT = re.compile(
    _NUM + r"\s*(?:([a-z]?)(?:bps|bit/s|bits/s|b/s)|(kilo|mega|giga|tera|peta)bits?(?:\s*(?:per second|/s))?)"
    r"(?![a-z])"
)
_THPT_WORD = {"kilo": "k", "mega": "m", "giga": "g"}
_DL_WORDS = re.compile(r"\b(download|downlink|dl|down)\b")
_UL_WORDS = re.compile(r"\b(upload|uplink|ul|up)\b")

_TIME_UNITS = {
    "ms": "ms",
    "msec": "ms",
    "msecs": "ms",
    "millisecond": "ms",
    "milliseconds": "ms",
    "s": "s",
    "sec": "s",
    "secs": "s",
    "second": "s",
    "seconds": "s",
    "us": "us",
    "µs": "us",
    "usec": "us",
    "microsecond": "us",
    "microseconds": "us",
}
_QUALIFIER = (
    r"(?:(?:of|below|under|within|at most|less than|lower than|no more than|max(?:imum)?|<=?|:|=|is)\s*)*"
)
_UNIT_WORD = r"([a-zµ%/]+)?"

_PERCENT_AFTER = re.compile(
    _NUM + r"\s*(%|percent)?\s*(?:[a-z-]+\s+){0,2}?(reliability|availability|uptime)\b"
)
_PERCENT_BEFORE = re.compile(
    r"\b(reliability|availability|uptime)\s*(?:(?:of|at least|above|over|>=?|:|=|is)\s*)*"
    + _NUM
    + r"\s*(%|percent)?"
)
_UES = re.compile(
    _NUM + r"\s*(k|thousand|m|million)?\s*\+?\s*(?:concurrent |connected |simultaneous |active |iot )?"
    r"(ues?|users?|devices?|sensors?|subscribers?|connections?|terminals?|vehicles?|cars?)\b"
)
_PRIORITY_NUM = re.compile(r"\bpriority\s*(?:(?:of|:|=|is|level)\s*)*" + _NUM)
_PRIORITY_WORD = re.compile(r"\b(critical|high|medium|normal|low)[- ]priority\b")
_PRIORITY_WORDS = {"critical": 90, "high": 75, "medium": 50, "normal": 50, "low": 25}

_ALL_SITES = re.compile(r"\b(?:all|every|each)\s+(?:of the\s+)?(?:edge\s+)?(?:sites?|edges?|locations?)\b")
_BOTH_SITES = re.compile(r"\bboth\s+(?:(?:of the\s+)?(?:edge\s+)?(?:sites?|edges?|locations?))\b")


@dataclass(frozen=True)
class ParsedText:
    """The parser's result: the slice intent plus the fields TMF921 carries outside the expression.

    :param intent: what the text asks for.
    :param priority: the priority the text gives, or the configured default.
    :param intent_id: a DNS-safe id derived from the text (same text, same id).
    :param name: a short human name for the intent.
    """

    intent: SliceIntent
    priority: int
    intent_id: str
    name: str


def parse_text(text: str, settings: Settings, *, sites: list[str] | None = None) -> ParsedText:
    """Read one natural-language intent.

    :param text: the operator's words.
    :param settings: site catalogue and compiler defaults.
    :param sites: site override; when given, sites named in the text are not read.
    """
    if not isinstance(text, str):
        raise IntentValidationError.single(FIELD, "must be a string", stage=STAGE)
    check_size(text, MAX_TEXT_CHARS, field=FIELD, stage=STAGE)
    if UNSAFE_TEXT.search(text):
        raise IntentValidationError.single(
            FIELD, "contains control characters or bidirectional overrides", stage=STAGE
        )
    original = " ".join(text.split())
    if not original:
        raise IntentValidationError.single(FIELD, "is empty: describe the slice you want", stage=STAGE)
    lowered = original.lower()

    defaults: list[str] = []
    slice_type, found_slice = _slice_type(lowered)
    requirements = [
        *_throughputs(lowered),
        *_times(lowered, "latency"),
        *_times(lowered, "jitter"),
        *_percentages(lowered),
        *_user_equipment(lowered),
    ]
    if not found_slice and not requirements:
        raise IntentValidationError.single(
            FIELD,
            "no recognisable request: found no slice type, hint or target; say for example "
            "'URLLC slice with 5 ms latency at edge2'",
            stage=STAGE,
        )
    if slice_type is None:
        slice_type = settings.compiler.defaults.sliceType
        defaults.append("sliceType")

    if sites:
        chosen = _check_override(sites, settings)
    else:
        chosen = _sites(lowered, settings)
        if not chosen:
            if not settings.compiler.defaults.sites:
                known = ", ".join(settings.catalogue.names)
                raise IntentValidationError.single(
                    FIELD, f"names no target site; name one of {known}, or say 'all sites'", stage=STAGE
                )
            chosen = list(settings.compiler.defaults.sites)
            defaults.append("sites")

    priority = _priority(lowered)
    if priority is None:
        priority = settings.compiler.defaults.priority
        defaults.append("priority")

    _check_unique(requirements)
    return assemble(slice_type, chosen, requirements, defaults, priority, original)


def assemble(
    slice_type: SliceType,
    sites: list[str],
    requirements: list[Requirement],
    defaults: list[str],
    priority: int,
    text: str,
) -> ParsedText:
    """The parse result from what was read: its id (from the content and the text) and its name."""
    intent = SliceIntent(
        slice_type=slice_type,
        sites=tuple(sites),
        requirements=tuple(requirements),
        defaults_applied=tuple(defaults),
        description=text,
    )
    return ParsedText(
        intent=intent,
        priority=priority,
        intent_id=derive_id(intent, text.lower()),
        name=f"{slice_type} slice at {', '.join(sites)}",
    )


def derive_id(intent: SliceIntent, normalised_text: str) -> str:
    """A DNS-1123 id from slice type, sites and a digest of the text (stable across runs)."""
    digest = hashlib.sha256(
        "\n".join([normalised_text, intent.slice_type, *intent.sites]).encode()
    ).hexdigest()[:8]
    readable = f"{intent.slice_type.lower()}-{'-'.join(intent.sites)}"
    if len(readable) > 40:
        readable = intent.slice_type.lower()
    return f"{readable}-{digest}"


def _slice_type(text: str) -> tuple[SliceType | None, bool]:
    explicit = [name for name in SLICE_TYPES if re.search(rf"\b(?:{_EXPLICIT[name]})\b", text)]
    if len(explicit) > 1:
        raise IntentValidationError.single(
            FIELD,
            f"names more than one slice type ({', '.join(explicit)}); one intent asks for one slice",
            stage=STAGE,
        )
    if explicit:
        return explicit[0], True
    hits = {name: len(re.findall(rf"\b(?:{_HINTS[name]})\b", text)) for name in _TIE_ORDER}
    best = max(hits.values())
    if best == 0:
        return None, False
    return next(name for name in _TIE_ORDER if hits[name] == best), True


def _number(raw: str, *, what: str) -> float:
    cleaned = raw.replace(",", "").replace(" ", "")
    try:
        if "^" in cleaned:
            base, exponent = cleaned.split("^")
            return float(base) ** float(exponent)
        return float(cleaned)
    except (ValueError, OverflowError):
        raise IntentValidationError.single(FIELD, f"{what} {raw!r} is not a number", stage=STAGE) from None


def _requirement(name: str, value: float, unit: str) -> Requirement:
    kind = KINDS[name]
    check_range(
        value * UNITS[kind.dimension][unit],
        kind.dimension,
        field=FIELD,
        stage=STAGE,
        what=name,
        unit=CANONICAL_UNIT[kind.dimension] or "UEs",
    )
    return Requirement(name=name, condition=kind.condition, value=value, unit=unit)


def _throughputs(text: str) -> list[Requirement]:
    found = []
    for match in _THPT.finditer(text):
        raw, prefix, word = match.group(1), match.group(2), match.group(3)
        letter = _THPT_WORD.get(word, "?") if word else prefix
        if letter not in _THPT_PREFIX:
            unit = match.group(0)[len(raw) :].strip()
            raise IntentValidationError.single(
                FIELD, f"unknown throughput unit {unit!r}; use kbps, Mbps or Gbps", stage=STAGE
            )
        value = _number(raw, what="throughput")
        direction = _direction(text, match.start(), match.end())
        name = "UlThptPerUE" if direction == "ul" else "DlThptPerUE"
        found.append(_requirement(name, value, _THPT_PREFIX[letter]))
    return found


def _direction(text: str, start: int, end: int) -> str:
    after = text[end : end + 24]
    before = text[max(0, start - 32) : start]
    before = re.split(r"[,;.]| and ", before)[-1]
    after = re.split(r"[,;.]| and |\d", after)[0]
    for window in (after, before):
        dl = _DL_WORDS.search(window)
        ul = _UL_WORDS.search(window)
        if dl and not ul:
            return "dl"
        if ul and not dl:
            return "ul"
        if dl and ul:
            return "dl" if dl.start() < ul.start() else "ul"
    return "dl"


def _times(text: str, keyword: str) -> list[Requirement]:
    found = []
    before = re.compile(
        _NUM + r"\s*" + _UNIT_WORD + r"\s*(?:(?:e2e|end-to-end|one-way|round-trip|"
        r"uplink|downlink|ul|dl|max(?:imum)?)\s+)*" + keyword + r"\b"
    )
    after = re.compile(
        r"\b((?:uplink|downlink|ul|dl)\s+)?" + keyword + r"\s*" + _QUALIFIER + _NUM + r"\s*" + _UNIT_WORD
    )
    spans: list[tuple[int, int]] = []
    for pattern, number_group, unit_group in ((before, 1, 2), (after, 2, 3)):
        for match in pattern.finditer(text):
            if any(s <= match.start() < e or s < match.end() <= e for s, e in spans):
                continue
            spans.append(match.span())
            unit_word = match.group(unit_group) or ""
            unit = _TIME_UNITS.get(unit_word)
            value = _number(match.group(number_group), what=keyword)
            if unit is None:
                reason = (
                    f"{keyword} {match.group(number_group)} has no unit; say for example 5 ms"
                    if not unit_word
                    else f"unknown {keyword} unit {unit_word!r}; use ms, s or us"
                )
                raise IntentValidationError.single(FIELD, reason, stage=STAGE)
            span_text = match.group(0)
            uplink = re.search(r"\b(uplink|ul)\b", span_text) is not None
            name = "jitter" if keyword == "jitter" else ("UlLatency" if uplink else "DlLatency")
            found.append((match.start(), _requirement(name, value, unit)))
    return [req for _, req in sorted(found, key=lambda pair: pair[0])]


def _percentages(text: str) -> list[Requirement]:
    found = []
    spans: list[tuple[int, int]] = []
    for pattern, number_group, percent_group, word_group in (
        (_PERCENT_AFTER, 1, 2, 3),
        (_PERCENT_BEFORE, 2, 3, 1),
    ):
        for match in pattern.finditer(text):
            if any(s <= match.start() < e for s, e in spans):
                continue
            spans.append(match.span())
            word = match.group(word_group)
            name = "availability" if word in ("availability", "uptime") else "reliability"
            value = _number(match.group(number_group), what=name)
            if not match.group(percent_group):
                raise IntentValidationError.single(
                    FIELD,
                    f"{name} {match.group(number_group)} needs a % sign, for example 99.999%",
                    stage=STAGE,
                )
            found.append((match.start(), _requirement(name, value, "%")))
    return [req for _, req in sorted(found, key=lambda pair: pair[0])]


def _user_equipment(text: str) -> list[Requirement]:
    found = []
    for match in _UES.finditer(text):
        value = _number(match.group(1), what="number of UEs")
        multiplier = {"k": 1e3, "thousand": 1e3, "m": 1e6, "million": 1e6}.get(match.group(2) or "", 1)
        value *= multiplier
        if value != int(value):
            raise IntentValidationError.single(
                FIELD, f"number of UEs {value:g} is not a whole number", stage=STAGE
            )
        found.append(_requirement("maxNumberofUEs", value, ""))
    return found


def _priority(text: str) -> int | None:
    match = _PRIORITY_NUM.search(text)
    if match:
        value = _number(match.group(1), what="priority")
        if value != int(value) or not 1 <= value <= 100:
            raise IntentValidationError.single(
                FIELD, f"priority {match.group(1)} must be a whole number from 1 to 100", stage=STAGE
            )
        return int(value)
    word = _PRIORITY_WORD.search(text)
    return _PRIORITY_WORDS[word.group(1)] if word else None


def _sites(text: str, settings: Settings) -> list[str]:
    catalogue = settings.catalogue
    if _ALL_SITES.search(text):
        return list(catalogue.names)
    if _BOTH_SITES.search(text):
        if len(catalogue.names) != 2:
            raise IntentValidationError.single(
                FIELD,
                f"'both sites' is ambiguous: the catalogue has {len(catalogue.names)} sites "
                f"({', '.join(catalogue.names)}); name them",
                stage=STAGE,
            )
        return list(catalogue.names)
    named = []
    for site in catalogue.sites:
        for spoken in site.spoken_names():
            if re.search(rf"(?<![a-z0-9-]){re.escape(spoken)}(?![a-z0-9-])", text):
                named.append(site.name)
                break
    _refuse_unknown_sites(text, settings)
    return named


def _refuse_unknown_sites(text: str, settings: Settings) -> None:
    words = sorted(
        {m.group(1) for m in (re.fullmatch(r"([a-z]+)-?[0-9]+", n) for n in settings.catalogue.names) if m}
    )
    if not words:
        return
    pattern = rf"(?<![a-z0-9-])((?:{'|'.join(words)})(?:[- ]?site)?[- ]?[0-9]+)(?![a-z0-9-])"
    known_spoken = {spoken for site in settings.catalogue.sites for spoken in site.spoken_names()}
    for match in re.finditer(pattern, text):
        if match.group(1) not in known_spoken:
            known = ", ".join(settings.catalogue.names)
            raise IntentValidationError.single(
                FIELD, f"unknown site {match.group(1)!r}; known sites are {known}", stage=STAGE
            )


def _check_override(sites: list[str], settings: Settings) -> list[str]:
    known = settings.catalogue.names
    unknown = [site for site in sites if site not in known]
    if unknown:
        raise IntentValidationError.single(
            "site", f"unknown site {unknown[0]!r}; known sites are {', '.join(known)}", stage=STAGE
        )
    return [name for name in known if name in sites]


def _check_unique(requirements: list[Requirement]) -> None:
    seen: dict[str, Requirement] = {}
    for req in requirements:
        if req.name in seen:
            first = seen[req.name]
            raise IntentValidationError.single(
                FIELD,
                f"gives {req.name} twice ({first.value:g} {first.unit} and {req.value:g} {req.unit}); "
                "give each target once",
                stage=STAGE,
            )
        seen[req.name] = req
