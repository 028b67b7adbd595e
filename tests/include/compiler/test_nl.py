"""Natural-language parsing: the acceptance sentences, precedence, units, sites, defaults."""

from __future__ import annotations

import pytest
import yaml

from include.compiler import api
from include.compiler.config import DEFAULT_SITES_FILE, load_settings
from include.compiler.convert import target_value
from include.compiler.nl import parse_text


def targets_after_convert(text, settings, **kwargs):
    intent = api.to_28312(api.parse(text, settings, **kwargs), settings)
    return intent, {t.targetName: target_value(t) for t in intent.intentExpectations[0].expectationTargets}


@pytest.fixture
def two_sites(tmp_path):
    """The shipped catalogue cut to its first two sites: "both sites" names a site set only when the
    catalogue has exactly two (with the shipped three it is refused as ambiguous, test_bad_input)."""
    catalogue = yaml.safe_load(DEFAULT_SITES_FILE.read_text())
    catalogue["sites"] = catalogue["sites"][:2]
    path = tmp_path / "sites.yaml"
    path.write_text(yaml.safe_dump(catalogue))
    return load_settings(path)


@pytest.mark.parametrize(
    ("text", "slice_type", "sites", "targets", "catalogue"),
    [
        (
            "Deploy 5G eMBB service with 1Gbps download and 500Mbps upload at edge1 for video streaming",
            "eMBB",
            ("edge1",),
            {"DlThptPerUE": 1_000_000, "UlThptPerUE": 500_000},
            "settings",
        ),
        (
            "Setup ultra-low latency URLLC slice with 5ms latency for autonomous vehicles at edge2",
            "URLLC",
            ("edge2",),
            {"DlLatency": 5},
            "settings",
        ),
        (
            "Configure IoT monitoring network for smart city sensors across both edge sites",
            "mMTC",
            ("edge1", "edge2"),
            {},
            "two_sites",
        ),
        (
            "Deploy a 5G network slice with ultra-low latency for gaming services at edge site 1",
            "URLLC",
            ("edge1",),
            {},
            "settings",
        ),
    ],
)
def test_acceptance_sentences(request, text, slice_type, sites, targets, catalogue):
    settings = request.getfixturevalue(catalogue)
    parsed = parse_text(text, settings)
    assert parsed.intent.slice_type == slice_type
    assert parsed.intent.sites == sites
    intent, found = targets_after_convert(text, settings)
    assert found == targets
    assert intent.sites == list(sites)
    sst = {"eMBB": 1, "URLLC": 2, "mMTC": 3}[slice_type]
    assert intent.context("ServiceType") == sst


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("URLLC for gaming and video streaming at edge1", "URLLC"),  # explicit beats hints
        ("eMBB slice for autonomous vehicles at edge1", "eMBB"),
        ("mMTC with low latency at edge1", "mMTC"),
        ("massive IoT slice at edge1", "mMTC"),
        ("enhanced mobile broadband at edge1", "eMBB"),
        ("ultra-reliable low-latency communications at edge1", "URLLC"),
        ("video streaming for sensors and video analytics at edge2", "eMBB"),  # 2 video hints vs 1 sensor
        ("slice for sensors and video at edge2", "mMTC"),  # tie: mMTC before eMBB
        ("gaming and iot at edge1", "URLLC"),  # tie: URLLC first
        ("real-time control for industrial automation at edge1", "URLLC"),
        ("telesurgery at edge1", "URLLC"),
        ("remote surgery at edge1", "URLLC"),
        ("robotics cell at edge1", "URLLC"),
        ("AR/VR at edge1", "URLLC"),
        ("V2X at edge1", "URLLC"),
        ("4K streaming at edge1", "eMBB"),
        ("metering at edge1", "mMTC"),
    ],
)
def test_slice_type_precedence(settings, text, expected):
    assert parse_text(text, settings).intent.slice_type == expected


def test_default_slice_type_is_explicit(settings):
    text = "slice for 500 devices at edge1"  # no name, no hint, and no target votes
    parsed = parse_text(text, settings)
    assert parsed.intent.slice_type == settings.compiler.defaults.sliceType
    assert "sliceType" in parsed.intent.defaults_applied
    turtle = api.parse(text, settings).expression.expressionValue
    assert 'e5g:defaultApplied "sliceType"' in turtle


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2 ms latency at edge1", "URLLC"),
        ("99.9999% reliability at edge1", "URLLC"),
        ("jitter under 1 ms at edge1", "URLLC"),
        ("1 Gbps downlink at edge1", "eMBB"),
        ("50,000 meters at edge1", "mMTC"),
        ("video with 2 ms latency at edge1", "URLLC"),  # 2 latency votes beat 1 hint
        ("video streaming with 2 ms latency at edge1", "URLLC"),  # 2 against 2: the tie goes URLLC
        ("sensors with 1 Gbps download at edge1", "mMTC"),  # 1 against 1: mMTC before eMBB
        ("eMBB slice with 2 ms latency at edge1", "eMBB"),  # an explicit name beats the targets
        ("mMTC with 99.9999% reliability at edge1", "mMTC"),
    ],
)
def test_targets_vote_for_the_slice_type(settings, text, expected):
    parsed = parse_text(text, settings)
    assert parsed.intent.slice_type == expected
    assert "sliceType" not in parsed.intent.defaults_applied


def test_explicit_values_are_not_marked_default(settings):
    parsed = parse_text("URLLC at edge1 with high priority", settings)
    assert parsed.intent.defaults_applied == ()
    assert parsed.priority == 75


@pytest.mark.parametrize(
    ("text", "name", "value", "unit"),
    [
        ("eMBB at edge1 with 1.5 Gbps downlink", "DlThptPerUE", 1.5, "Gbit/s"),
        ("eMBB at edge1 with 800 kbps DL", "DlThptPerUE", 800, "kbit/s"),
        ("eMBB at edge1 with uplink throughput of 20 Mbit/s", "UlThptPerUE", 20, "Mbit/s"),
        ("eMBB at edge1 with 2 gigabits per second download", "DlThptPerUE", 2, "Gbit/s"),
        ("eMBB at edge1 with 300 Mbps bandwidth", "DlThptPerUE", 300, "Mbit/s"),  # no direction: downlink
        ("URLLC at edge1, latency below 0.5 s", "DlLatency", 0.5, "s"),
        ("URLLC at edge1, 2000 us latency", "DlLatency", 2000, "us"),
        ("URLLC at edge1 with uplink latency of 4 ms", "UlLatency", 4, "ms"),
        ("URLLC at edge1 with jitter under 1 ms", "jitter", 1, "ms"),
        ("URLLC at edge1 with 99.9999% reliability", "reliability", 99.9999, "%"),
        ("eMBB at edge1 with availability of 99.95%", "availability", 99.95, "%"),
        ("eMBB at edge1 with 99.9% uptime", "availability", 99.9, "%"),
        ("mMTC at edge1 for 10k sensors", "maxNumberofUEs", 10_000, ""),
        ("mMTC at edge1 for 2,500 devices", "maxNumberofUEs", 2_500, ""),
        ("mMTC at edge1 for 1.2 million devices", "maxNumberofUEs", 1_200_000, ""),
    ],
)
def test_quantities(settings, text, name, value, unit):
    requirement = parse_text(text, settings).intent.requirement(name)
    assert requirement is not None, f"{name} not found"
    assert requirement.value == pytest.approx(value)
    assert requirement.unit == unit


def test_throughput_units_convert_to_kbps(settings):
    _, found = targets_after_convert("eMBB at edge1 with 1.5 Gbps download and 250 kbps upload", settings)
    assert found == {"DlThptPerUE": 1_500_000, "UlThptPerUE": 250}


def test_latency_in_seconds_converts_to_ms(settings):
    _, found = targets_after_convert("URLLC at edge1, latency below 0.5 s", settings)
    assert found == {"DlLatency": 500}


def test_byte_rates_are_eight_bits_a_byte(settings):
    _, found = targets_after_convert("eMBB at edge1 with 100 MB/s download and 2 MBps upload", settings)
    assert found == {"DlThptPerUE": 800_000, "UlThptPerUE": 16_000}


DL, UL, LAT, ULAT, JIT, REL, AVA, UES = (
    "DlThptPerUE",
    "UlThptPerUE",
    "DlLatency",
    "UlLatency",
    "jitter",
    "reliability",
    "availability",
    "maxNumberofUEs",
)


@pytest.mark.parametrize(
    ("text", "slice_type", "targets"),
    [
        # latency and its synonyms
        ("URLLC at edge1 with 8 ms delay", "URLLC", [(LAT, 8, "ms")]),
        ("Slice for remote surgery at edge1 with delay under 8 ms", "URLLC", [(LAT, 8, "ms")]),
        ("URLLC at edge1 with a response time of 5 ms", "URLLC", [(LAT, 5, "ms")]),
        ("URLLC at edge1 with 20 ms round-trip time", "URLLC", [(LAT, 20, "ms")]),
        ("URLLC at edge1 with RTT of 10 ms", "URLLC", [(LAT, 10, "ms")]),
        ("cloud gaming at edge1, ping below 15 ms", "URLLC", [(LAT, 15, "ms")]),
        ("URLLC at edge1 with uplink delay of 4 ms", "URLLC", [(ULAT, 4, "ms")]),
        ("URLLC at edge1; latency must be below 3 ms", "URLLC", [(LAT, 3, "ms")]),
        ("URLLC at edge1, 2000 us latency", "URLLC", [(LAT, 2000, "us")]),
        ("URLLC at edge1 with 1 ms delay variation", "URLLC", [(JIT, 1, "ms")]),
        # throughput nouns, per device, byte rates
        ("eMBB at edge1 with bandwidth of 200 Mbps per user", "eMBB", [(DL, 200, "Mbit/s")]),
        ("eMBB at edge1 with download speed of 50 Mbps", "eMBB", [(DL, 50, "Mbit/s")]),
        ("eMBB at edge1, data rate 20 Mbit/s uplink", "eMBB", [(UL, 20, "Mbit/s")]),
        ("eMBB at edge1 with a bit rate of 8 Mbps", "eMBB", [(DL, 8, "Mbit/s")]),
        ("eMBB at edge1 with capacity of 1 Gbps per device", "eMBB", [(DL, 1, "Gbit/s")]),
        ("eMBB at edge1 with up to 100 Mbps", "eMBB", [(DL, 100, "Mbit/s")]),  # "up to" is no uplink
        ("eMBB at edge1 with 100 MB/s per device", "eMBB", [(DL, 800, "Mbit/s")]),
        ("eMBB at edge1 with 2 GB/s download", "eMBB", [(DL, 16, "Gbit/s")]),
        ("eMBB at edge1 with 10 MBps upload", "eMBB", [(UL, 80, "Mbit/s")]),
        ("eMBB at edge1 with 100 Mb/s download", "eMBB", [(DL, 100, "Mbit/s")]),  # small b: bits
        ("eMBB at edge1 with 25 megabytes per second", "eMBB", [(DL, 200, "Mbit/s")]),
        # reliability and availability
        ("URLLC at edge1 with packet loss of 0.01 %", "URLLC", [(REL, 99.99, "%")]),
        ("URLLC at edge1 with 0.001% packet loss", "URLLC", [(REL, 99.999, "%")]),
        ("URLLC at edge1 with five nines reliability", "URLLC", [(REL, 99.999, "%")]),
        ("URLLC at edge1, reliability of six nines", "URLLC", [(REL, 99.9999, "%")]),
        ("eMBB at edge1 with four nines availability", "eMBB", [(AVA, 99.99, "%")]),
        ("eMBB at edge1 with three nines uptime", "eMBB", [(AVA, 99.9, "%")]),
        # counted nouns
        ("URLLC at edge1 for up to 500 robots", "URLLC", [(UES, 500, "")]),
        ("URLLC at edge1 for 300 cameras", "URLLC", [(UES, 300, "")]),
        ("URLLC at edge1 for 40 drones", "URLLC", [(UES, 40, "")]),
        ("URLLC at edge1 for 12 machines", "URLLC", [(UES, 12, "")]),
        ("mMTC at edge1 for 50,000 smart meters", "mMTC", [(UES, 50_000, "")]),
        ("eMBB at edge1 for 2,000 phones", "eMBB", [(UES, 2_000, "")]),
        ("eMBB at edge1 for 800 handsets", "eMBB", [(UES, 800, "")]),
        ("eMBB at edge1 for 1,200 smartphones", "eMBB", [(UES, 1_200, "")]),
        ("mMTC at edge1 for 20k endpoints", "mMTC", [(UES, 20_000, "")]),
        ("mMTC at edge1 for 1 million things", "mMTC", [(UES, 1_000_000, "")]),
        ("mMTC at edge1 for 5,000 trackers", "mMTC", [(UES, 5_000, "")]),
        ("mMTC at edge1 for 3,000 wearables", "mMTC", [(UES, 3_000, "")]),
        ("URLLC at edge1 for 25 AGVs", "URLLC", [(UES, 25, "")]),
        ("URLLC at edge1 for 64 players", "URLLC", [(UES, 64, "")]),
        ("eMBB at edge1 for 150 gamers", "eMBB", [(UES, 150, "")]),
        ("eMBB at edge1 for 900 clients", "eMBB", [(UES, 900, "")]),
        ("eMBB at edge1 for 10,000 customers", "eMBB", [(UES, 10_000, "")]),
        ("mMTC at edge1 for at most 5000 devices", "mMTC", [(UES, 5_000, "")]),
        ("mMTC at edge1 for max 700 sensors", "mMTC", [(UES, 700, "")]),
        # slice type from the targets (no name, no hint)
        ("2 ms latency at edge1", "URLLC", [(LAT, 2, "ms")]),
        ("99.9999% reliability at edge1", "URLLC", [(REL, 99.9999, "%")]),
        ("1 Gbps downlink at edge1", "eMBB", [(DL, 1, "Gbit/s")]),
        ("50,000 meters at edge1", "mMTC", [(UES, 50_000, "")]),
        ("eMBB slice with 2 ms latency at edge1", "eMBB", [(LAT, 2, "ms")]),
        # several at once, with names that are not quantities
        (
            "5G slice for 4K video: 25 MB/s download, 10 ms delay and five nines at edge site 2",
            "URLLC",  # eMBB 3 (4K, video, 200 Mbit/s) against URLLC 3 (10 ms, five nines): a tie
            [(DL, 200, "Mbit/s"), (LAT, 10, "ms"), (REL, 99.999, "%")],
        ),
        (
            "3GPP URLLC for 200 AGVs at edge1: RTT under 4 ms, 0.001% packet loss, 1 ms jitter",
            "URLLC",
            [(LAT, 4, "ms"), (JIT, 1, "ms"), (REL, 99.999, "%"), (UES, 200, "")],
        ),
    ],
)
def test_every_quantity_is_read(settings, text, slice_type, targets):
    parsed = parse_text(text, settings)
    assert parsed.intent.slice_type == slice_type
    found = [(req.name, req.value, req.unit) for req in parsed.intent.requirements]
    assert found == [(name, pytest.approx(value), unit) for name, value, unit in targets]


@pytest.mark.parametrize(
    ("text", "priority"),
    [
        ("URLLC at edge1 priority 10", 10),
        ("URLLC at edge1, priority: 99", 99),
        ("low priority eMBB at edge1", 25),
        ("critical priority URLLC at edge1", 90),
    ],
)
def test_priority(settings, text, priority):
    parsed = parse_text(text, settings)
    assert parsed.priority == priority
    assert api.to_28312(api.parse(text, settings), settings).intentPriority == priority


@pytest.mark.parametrize(
    ("text", "sites"),
    [
        ("eMBB at all sites", ("edge1", "edge2", "edge3")),
        ("eMBB on every edge site", ("edge1", "edge2", "edge3")),
        ("eMBB at edge-2 and edge 1", ("edge1", "edge2")),
        ("eMBB at edge site 2", ("edge2",)),
        ("eMBB at edge 3 and edge1", ("edge1", "edge3")),
    ],
)
def test_sites(settings, text, sites):
    assert parse_text(text, settings).intent.sites == sites


def test_catalogue_is_configuration(three_sites):
    assert parse_text("eMBB at all sites", three_sites).intent.sites == ("edge1", "edge2", "oslo")
    assert parse_text("eMBB near the oslo harbour", three_sites).intent.sites == ("oslo",)


def test_site_override(settings):
    parsed = parse_text("URLLC with 5 ms latency at edge1", settings, sites=["edge2"])
    assert parsed.intent.sites == ("edge2",)


def test_parse_is_deterministic(settings):
    text = "URLLC slice with 5ms latency at edge2"
    first, second = api.parse(text, settings).to_json(), api.parse(text, settings).to_json()
    assert first == second
    assert first["id"] == parse_text(text, settings).intent_id
    assert first["id"].startswith("urllc-edge2-")


def test_tmf921_shape(settings):
    intent = api.parse("URLLC slice with 5ms latency at edge2", settings).to_json()
    assert intent["@type"] == "Intent"
    assert intent["expression"]["@type"] == "TurtleExpression"
    assert intent["href"] == f"/tmf-api/intentManagement/v5/intent/{intent['id']}"
    assert intent["priority"] == "50"
    assert "quan:smaller" in intent["expression"]["expressionValue"]
