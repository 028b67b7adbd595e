"""5QI selection from the standardized 5QI table of 3GPP TS 23.501 (Table 5.7.4-1).

The chosen 5QI is the least demanding standardized one that still meets the intent: among the
5QIs of a resource type the slice allows, whose packet delay budget (PDB) is at most the latency
target and whose packet error rate (PER) is at most ``1 - reliability``, take the largest PDB; on a
tie the slice profile's ``defaultFiveQI`` if it is among them, else the smaller PER, then the
smaller 5QI number. Without a latency target the PDB of the ``defaultFiveQI`` bounds the choice (a
slice never gets a slower class than its profile's); when the intent gives neither a latency nor a
reliability target, the ``defaultFiveQI`` itself applies.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import IntentValidationError


@dataclass(frozen=True)
class FiveQI:
    """One row of TS 23.501 Table 5.7.4-1.

    :param value: the 5QI.
    :param resource_type: ``GBR``, ``Non-GBR`` or ``Delay-critical GBR``.
    :param pdb_ms: packet delay budget in ms.
    :param per: packet error rate.
    :param example: the table's example services.
    """

    value: int
    resource_type: str
    pdb_ms: int
    per: float
    example: str


TABLE: tuple[FiveQI, ...] = (
    FiveQI(1, "GBR", 100, 1e-2, "Conversational voice"),
    FiveQI(2, "GBR", 150, 1e-3, "Conversational video (live streaming)"),
    FiveQI(3, "GBR", 50, 1e-3, "Real-time gaming, V2X messages, process automation monitoring"),
    FiveQI(4, "GBR", 300, 1e-6, "Non-conversational video (buffered streaming)"),
    FiveQI(65, "GBR", 75, 1e-2, "Mission-critical push-to-talk voice"),
    FiveQI(66, "GBR", 100, 1e-2, "Non-mission-critical push-to-talk voice"),
    FiveQI(67, "GBR", 100, 1e-3, "Mission-critical video user plane"),
    FiveQI(71, "GBR", 150, 1e-6, "Live uplink streaming"),
    FiveQI(72, "GBR", 300, 1e-4, "Live uplink streaming"),
    FiveQI(73, "GBR", 300, 1e-8, "Live uplink streaming"),
    FiveQI(74, "GBR", 500, 1e-8, "Live uplink streaming"),
    FiveQI(76, "GBR", 500, 1e-4, "Live uplink streaming"),
    FiveQI(5, "Non-GBR", 100, 1e-6, "IMS signalling"),
    FiveQI(6, "Non-GBR", 300, 1e-6, "Video (buffered streaming), TCP-based services"),
    FiveQI(7, "Non-GBR", 100, 1e-3, "Voice, video (live streaming), interactive gaming"),
    FiveQI(8, "Non-GBR", 300, 1e-6, "Video (buffered streaming), TCP-based services"),
    FiveQI(9, "Non-GBR", 300, 1e-6, "Video (buffered streaming), TCP-based services (default bearer)"),
    FiveQI(69, "Non-GBR", 60, 1e-6, "Mission-critical delay-sensitive signalling"),
    FiveQI(70, "Non-GBR", 200, 1e-6, "Mission-critical data"),
    FiveQI(79, "Non-GBR", 50, 1e-2, "V2X messages"),
    FiveQI(80, "Non-GBR", 10, 1e-6, "Low-latency eMBB applications, augmented reality"),
    FiveQI(82, "Delay-critical GBR", 10, 1e-4, "Discrete automation"),
    FiveQI(83, "Delay-critical GBR", 10, 1e-4, "Discrete automation, V2X platooning"),
    FiveQI(84, "Delay-critical GBR", 30, 1e-5, "Intelligent transport systems"),
    FiveQI(85, "Delay-critical GBR", 5, 1e-5, "Electricity distribution (high voltage), V2X remote driving"),
    FiveQI(86, "Delay-critical GBR", 5, 1e-4, "V2X collision avoidance, platooning"),
    FiveQI(87, "Delay-critical GBR", 5, 1e-3, "Interactive service: motion tracking data"),
    FiveQI(88, "Delay-critical GBR", 10, 1e-3, "Interactive service: motion tracking data"),
    FiveQI(89, "Delay-critical GBR", 15, 1e-4, "Visual content for cloud/edge/split rendering"),
    FiveQI(90, "Delay-critical GBR", 20, 1e-4, "Visual content for cloud/edge/split rendering"),
)
BY_VALUE = {row.value: row for row in TABLE}


@dataclass(frozen=True)
class Choice:
    """The chosen 5QI and why.

    :param row: the table row.
    :param basis: the constraints it was chosen by, in words (goes into an annotation).
    """

    row: FiveQI
    basis: str


def select(
    *,
    latency_ms: float | None,
    reliability_pct: float | None,
    resource_types: tuple[str, ...],
    default: int,
    reliability_is_default: bool = False,
) -> Choice:
    """Choose the 5QI for a slice; raise IntentValidationError when no standardized 5QI fits.

    :param latency_ms: the intent's DlLatency target, if any.
    :param reliability_pct: the intent's reliability target, or the slice profile's.
    :param resource_types: the resource types the slice profile allows.
    :param default: the slice profile's default 5QI.
    :param reliability_is_default: True when ``reliability_pct`` is the profile's, not the intent's.
    """
    if latency_ms is None and (reliability_pct is None or reliability_is_default):
        return Choice(BY_VALUE[default], "slice profile default (no latency or reliability target)")
    basis = []
    if latency_ms is None:
        latency_ms = BY_VALUE[default].pdb_ms
        basis.append(f"PDB <= {latency_ms:g} ms (slice profile default 5QI {default})")
    else:
        basis.append(f"PDB <= {latency_ms:g} ms")
    max_per = None if reliability_pct is None else round(1 - reliability_pct / 100, 12)
    if max_per is not None:
        note = " (slice profile reliability)" if reliability_is_default else ""
        basis.append(f"PER <= {max_per:g}{note}")
    candidates = [
        row
        for row in TABLE
        if row.resource_type in resource_types
        and row.pdb_ms <= latency_ms
        and (max_per is None or row.per <= max_per)
    ]
    if not candidates:
        smallest = min(row.pdb_ms for row in TABLE if row.resource_type in resource_types)
        raise IntentValidationError.single(
            "expectationTargets",
            f"no standardized 5QI (TS 23.501 Table 5.7.4-1) of type {'/'.join(resource_types)} meets "
            f"{' and '.join(basis)}; the smallest packet delay budget is {smallest} ms",
            stage="compile",
        )
    best = sorted(candidates, key=lambda row: (-row.pdb_ms, row.value != default, row.per, row.value))[0]
    return Choice(best, ", ".join(basis))
