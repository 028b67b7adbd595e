"""The words the text parser reads: numbers, units, target nouns, counted nouns and slice hints.

Every pattern here works on lowercased text (of the same length as the original, so that a span
found here also points into the original, where byte units are told from bit units by case).
"""

from __future__ import annotations

import re

NUM = r"(?<![a-z0-9_.])(-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+(?:\.\d+)?(?:\s*(?:\^|e)\s*-?\d+)?)"
"""A number: "5", "-5", "1.5", "50,000", "10^12", "1e3" (group 1)."""
NUMBER = re.compile(NUM)

# Slice types: explicit names, then hint words.
EXPLICIT = {
    "eMBB": r"embb|enhanced mobile broadband",
    "URLLC": r"urllc|ultra[- ]reliable(?:,? and)?(?: ultra)?[- ]low[- ]latency(?: communications?)?",
    "mMTC": r"mmtc|miot|massive (?:machine[- ]type communications?|iot)",
}
HINTS = {
    "URLLC": r"ultra[- ]low[- ]latency|low[- ]latency|autonomous|vehicles?|v2x|remote surgery|telesurgery|"
    r"industrial automation|factory automation|mission[- ]critical|real[- ]time|gaming|robots?|robotics|"
    r"ar/vr|vr/ar|augmented reality|virtual reality|extended reality|xr",
    "mMTC": r"iot|sensors?|smart cit(?:y|ies)|smart meters?|metering|machine[- ]type|telemetry",
    "eMBB": r"video|streaming|broadband|4k|8k|high[- ]throughput|high[- ]bandwidth",
}

# Throughput: bit units ("Mbps", "Mbit/s", "megabits per second") and byte units ("MB/s", "MBps",
# "megabytes per second"); groups: 1 number, 2 prefix letter, 3 bit prefix word, 4 byte prefix word.
THPT = re.compile(
    NUM + r"\s*(?:([a-z]?)(?:bps|bit/s|bits/s|b/s)|(kilo|mega|giga|tera|peta)bits?(?:\s*(?:per second|/s))?"
    r"|(kilo|mega|giga|tera|peta)bytes?\s*(?:per second|/s))(?![a-z])"
)
THPT_PREFIX = {"k": "kbit/s", "m": "Mbit/s", "g": "Gbit/s"}
THPT_WORD = {"kilo": "k", "mega": "m", "giga": "g"}
BYTE_UNIT = re.compile(r"[kKmMgGtTpP]?B(?:/s|ps)")
"""A byte rate as written (capital B): "MB/s", "MBps", "GB/s", "kB/s"."""
DL_WORDS = re.compile(r"\b(download|downlink|dl|down)\b")
UL_WORDS = re.compile(r"\b(upload|uplink|ul|up)\b(?!\s+to\b)")

TIME_UNITS = {
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
LATENCY = (
    r"(?:latency|latencies|delay(?!\s+variation)|response[- ]times?|round[- ]trip(?:[- ]times?)?|rtt|ping)"
)
JITTER = r"(?:jitter|(?:packet[- ])?delay[- ]variation|pdv)"
# Words between a target's noun and its number; "*+" takes them without backtracking ("<=" is "<=" or
# "<" then "=": a long run of them would otherwise be tried every way).
QUALIFIER = (
    r"(?:(?:of|below|under|within|at most|less than|lower than|no more than|not more than|not exceeding|"
    r"up to|max(?:imum)?|target|requirement|should be|must be|shall be|needs to be|has to be|to be|"
    r"<=?|≤|:|=|is)\s*)*+"
)
UNIT_WORD = r"([a-zµ%/]+)?"

PERCENT_AFTER = re.compile(NUM + r"\s*(%|percent)?\s*(?:[a-z-]+\s+){0,2}?(reliability|availability|uptime)\b")
PERCENT_BEFORE = re.compile(
    r"\b(reliability|availability|uptime)\s*(?:(?:of|at least|above|over|>=?|≥|:|=|is)\s*)*+"
    + NUM
    + r"\s*(%|percent)?"
)
_LOSS = r"(?:packet[- ]loss(?:[- ](?:rate|ratio))?|loss[- ]rate)"
LOSS_AFTER = re.compile(NUM + r"\s*(%|percent)?\s*" + _LOSS + r"\b")
LOSS_BEFORE = re.compile(r"\b" + _LOSS + r"\s*" + QUALIFIER + NUM + r"\s*(%|percent)?")
NINES = re.compile(
    r"(?:\b(reliability|availability|uptime)\s+(?:of\s+)?)?"
    r"(?<![a-z0-9])(three|four|five|six|3|4|5|6)[- ]nines\b"
    r"(?:\s+(?:of\s+)?(reliability|availability|uptime)\b)?"
)
NINES_VALUE = {"three": 99.9, "four": 99.99, "five": 99.999, "six": 99.9999}
NINES_VALUE |= {"3": 99.9, "4": 99.99, "5": 99.999, "6": 99.9999}

# Counted nouns: the things an intent counts as UEs.
COUNTED = (
    "ues?|users?|devices?|sensors?|subscribers?|connections?|terminals?|vehicles?|cars?|robots?|cameras?|"
    "drones?|machines?|meters?|phones?|handsets?|smartphones?|endpoints?|things?|trackers?|wearables?|agvs?|"
    "players?|gamers?|clients?|customers?"
)
COUNTED_EXAMPLES = "devices, users, sensors, robots, cameras, meters, phones, vehicles, ..."
ADJECTIVES = (
    "concurrent|connected|simultaneous|active|iot|smart|mobile|autonomous|industrial|wireless|5g|hd|4k|"
    "security|surveillance"
)
UES = re.compile(
    NUM + r"\s*(k|thousand|m|million)?\s*\+?\s*(?:(?:" + ADJECTIVES + r")\s+){0,2}(" + COUNTED + r")\b"
)
MULTIPLIER = {"k": 1e3, "thousand": 1e3, "m": 1e6, "million": 1e6}

PRIORITY_NUM = re.compile(r"\bpriority\s*(?:(?:of|:|=|is|level)\s*)*" + NUM)
PRIORITY_WORD = re.compile(r"\b(?:(critical|high|medium|normal|low)[- ]priority|(urgent|best[- ]effort))\b")
PRIORITY_WORDS = {"critical": 90, "high": 75, "medium": 50, "normal": 50, "low": 25}
PRIORITY_WORDS |= {"urgent": 90, "best effort": 25}

ALL_SITES = re.compile(r"\b(?:all|every|each)\s+(?:of the\s+)?(?:edge\s+)?(?:sites?|edges?|locations?)\b")
BOTH_SITES = re.compile(r"\bboth\s+(?:(?:of the\s+)?(?:edge\s+)?(?:sites?|edges?|locations?))\b")

# Numbers that are names, not quantities: generations and resolutions ("5G", "4K", "3GPP").
NAMED_NUMBERS = re.compile(r"(?<![a-z0-9_.])(?:[2-6]gc?|[48]k|3gpp)(?![a-z0-9])")

# What follows a number no target took: stop words end the phrase; units say what kind of thing it is.
FOLLOWING = re.compile(r"\s*(%|[a-zµ][a-zµ/-]*)?(?:\s+([a-z][a-z-]*))?")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


STOP_WORDS = _words(
    "a an and are as at by each for from in into is it of on or per the to with within across over under "
    "below above slice slices site sites"
)
UNREAD_UNITS = _words(
    "b kb mb gb tb pb kib mib gib tib byte bytes kilobytes megabytes gigabytes terabytes petabytes "
    "min mins minute minutes h hr hrs hour hours day days week weeks month months year years am pm "
    "hz khz mhz ghz w kw mw dbm db km m cm mm mi mile miles ft metres cores vcpus cpus gpus x times"
)
TARGET_WORDS = "latency, jitter, throughput, reliability, availability, number of UEs"
