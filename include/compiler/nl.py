"""Deterministic, offline natural-language parser: operator text to a :class:`SliceIntent`.

Rules, in the order they apply (README "How text is read" has the same table):

* Every number is read or refused: a number that is not a target, a site name, a priority or a
  name such as "5G", "4K" or "3GPP" ("3 GB storage", "for 2 hours", "500 widgets", "slice 7") is
  an error naming its words; all of them are named at once.
* Slice type: an explicit name (eMBB, URLLC, mMTC/mIoT, or their long forms) wins. Otherwise hint
  words and the targets vote (most votes; ties go URLLC, then mMTC, then eMBB): "low latency",
  "real-time", "gaming", "AR/VR" ... and a latency of at most 10 ms (two votes), a reliability of
  at least 99.999 % or a jitter of at most 1 ms vote URLLC; "IoT", "sensors", "metering" ... and
  at least 10,000 UEs vote mMTC; "video", "streaming", "4K" ... and a downlink of at least
  100 Mbit/s vote eMBB. With no vote the configured default applies and is recorded in
  ``defaults_applied``.
* Sites: "all sites", "every site", "both sites" ("both" only when the catalogue has two), or
  catalogue names and their spoken forms ("edge2", "edge 2", "edge site 2"). A site-like name
  that is not in the catalogue is an error that lists the known sites.
* Throughput (kbps, Mbps, Gbps, kbit/s ...; bandwidth, speed, data rate, per device ...): byte
  rates (MB/s, MBps, GB/s, capital B) count 8 bits a byte. "download"/"downlink"/"DL" next to it
  makes it DlThptPerUE, "upload"/"uplink"/"UL" makes it UlThptPerUE; with no direction it is
  downlink.
* Latency (delay, response time, round-trip time, RTT, ping) and jitter (delay variation), in
  ms, s or us: "uplink latency" is UlLatency, any other latency is DlLatency; a latency must be a
  whole number of ms (TS 28.312 carries it as an integer).
* Reliability and availability (uptime) in %, "five nines" (three to six), or a packet loss
  ("0.01% packet loss" is 99.99 % reliability); the number of UEs, users, devices, sensors,
  robots, cameras, meters ...; priority as "priority 10" or "high priority" (critical and urgent
  90, high 75, medium 50, low and best-effort 25).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from . import vocabulary as v
from .config import SLICE_TYPES, Settings, SliceType
from .errors import IntentValidationError
from .limits import MAX_TEXT_CHARS, UNSAFE_TEXT, check_size
from .quantities import FIELD, STAGE, Span, number, read_targets, refuse_unread
from .slice import Requirement, SliceIntent
from .targets import KINDS, UNITS

__all__ = ["FIELD", "STAGE", "ParsedText", "assemble", "derive_id", "parse_text", "slice_type_of"]

_TIE_ORDER: tuple[SliceType, ...] = ("URLLC", "mMTC", "eMBB")


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
    """Read one natural-language intent; a text with anything unread in it is refused whole.

    :param text: the operator's words.
    :param settings: site catalogue and compiler defaults.
    :param sites: site override; when given, sites named in the text are not read.
    """
    original = _clean(text)
    lowered = lower(original)
    reading = read_targets(original, lowered)
    priority, priority_spans = _priority(lowered)
    refuse_unread(original, lowered, reading.spans + priority_spans + site_spans(lowered, settings))
    requirements = reading.requirements
    _check_unique(requirements)

    defaults: list[str] = []
    slice_type, found_slice = slice_type_of(lowered, requirements)
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

    if priority is None:
        priority = settings.compiler.defaults.priority
        defaults.append("priority")
    return assemble(slice_type, chosen, list(requirements), defaults, priority, original)


def _clean(text: object) -> str:
    """The text with its whitespace collapsed, once it is a string of a sane size and characters."""
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
    return original


def lower(text: str) -> str:
    """``text`` lowercased character for character (a character whose lowercase is longer is kept)."""
    return "".join(ch.lower() if len(ch.lower()) == 1 else ch for ch in text)


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


def slice_type_of(text: str, requirements: list[Requirement]) -> tuple[SliceType | None, bool]:
    """The slice type the lowered ``text`` names, or the one its hint words and targets vote for.

    :returns: the type (None when nothing names or votes for one) and whether one was found.
    """
    explicit = [name for name in SLICE_TYPES if re.search(rf"\b(?:{v.EXPLICIT[name]})\b", text)]
    if len(explicit) > 1:
        raise IntentValidationError.single(
            FIELD,
            f"names more than one slice type ({', '.join(explicit)}); one intent asks for one slice",
            stage=STAGE,
        )
    if explicit:
        return explicit[0], True
    votes = {name: len(re.findall(rf"\b(?:{v.HINTS[name]})\b", text)) for name in _TIE_ORDER}
    for name, count in _target_votes(requirements).items():
        votes[name] += count
    best = max(votes.values())
    if best == 0:
        return None, False
    return next(name for name in _TIE_ORDER if votes[name] == best), True


def _target_votes(requirements: list[Requirement]) -> dict[SliceType, int]:
    """Votes from the targets: tight latency (2), five nines or 1 ms jitter (1) for URLLC; a fast
    downlink (1) for eMBB; 10,000 UEs or more (1) for mMTC."""
    value = {req.name: req.value * UNITS[KINDS[req.name].dimension][req.unit] for req in requirements}
    latencies = [value[name] for name in ("DlLatency", "UlLatency") if name in value]
    urllc = 2 if latencies and min(latencies) <= 10 else 0
    if value.get("reliability", 0) >= 99.999 or value.get("jitter", 2) <= 1:
        urllc += 1
    return {
        "URLLC": urllc,
        "eMBB": int(value.get("DlThptPerUE", 0) >= 100_000),
        "mMTC": int(value.get("maxNumberofUEs", 0) >= 10_000),
    }


def _priority(text: str) -> tuple[int | None, list[Span]]:
    """The priority the text gives (None if none) and the span of its number."""
    match = v.PRIORITY_NUM.search(text)
    if match:
        value = number(match.group(1), what="priority")
        if value != int(value) or not 1 <= value <= 100:
            raise IntentValidationError.single(
                FIELD, f"priority {match.group(1)} must be a whole number from 1 to 100", stage=STAGE
            )
        return int(value), [match.span(1)]
    word = v.PRIORITY_WORD.search(text)
    if word is None:
        return None, []
    return v.PRIORITY_WORDS[word.group(1) or word.group(2).replace("-", " ")], []


def _sites(text: str, settings: Settings) -> list[str]:
    catalogue = settings.catalogue
    if v.ALL_SITES.search(text):
        return list(catalogue.names)
    if v.BOTH_SITES.search(text):
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
    pattern = _site_like(settings)
    if pattern is None:
        return
    known_spoken = {spoken for site in settings.catalogue.sites for spoken in site.spoken_names()}
    for match in pattern.finditer(text):
        if match.group(1) not in known_spoken:
            known = ", ".join(settings.catalogue.names)
            raise IntentValidationError.single(
                FIELD, f"unknown site {match.group(1)!r}; known sites are {known}", stage=STAGE
            )


def _site_like(settings: Settings) -> re.Pattern[str] | None:
    """Names shaped like the catalogue's ("edge7", "edge site 9"), known or not; None if no site has one."""
    words = sorted(
        {m.group(1) for m in (re.fullmatch(r"([a-z]+)-?[0-9]+", n) for n in settings.catalogue.names) if m}
    )
    if not words:
        return None
    return re.compile(rf"(?<![a-z0-9-])((?:{'|'.join(words)})(?:[- ]?site)?[- ]?[0-9]+)(?![a-z0-9-])")


def site_spans(text: str, settings: Settings) -> list[Span]:
    """Where the lowered ``text`` names a site, or something shaped like a site name."""
    spans = []
    for site in settings.catalogue.sites:
        for spoken in site.spoken_names():
            pattern = rf"(?<![a-z0-9-]){re.escape(spoken)}(?![a-z0-9-])"
            spans += [match.span() for match in re.finditer(pattern, text)]
    pattern = _site_like(settings)
    return spans + ([match.span() for match in pattern.finditer(text)] if pattern else [])


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
