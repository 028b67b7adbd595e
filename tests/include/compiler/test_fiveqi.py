"""5QI selection from the TS 23.501 standardized table."""

from __future__ import annotations

import pytest

from include.compiler import fiveqi
from include.compiler.errors import IntentValidationError

URLLC = ("Delay-critical GBR", "GBR")
EMBB = ("GBR", "Non-GBR")


@pytest.mark.parametrize(
    ("latency", "reliability", "types", "expected"),
    [
        (5, 99.999, URLLC, 85),  # PDB 5 ms, PER 1e-5
        (5, 99.99, URLLC, 85),  # 85 and 86 share PDB 5 ms; 85 has the smaller PER
        (10, 99.999, URLLC, 85),  # no 10 ms row of these types has PER <= 1e-5
        (20, 99.99, URLLC, 90),  # the largest PDB that fits
        (50, None, EMBB, 3),  # 3 and 79 share PDB 50 ms; 3 has the smaller PER
        (300, None, EMBB, 9),  # 4, 6, 8, 9, 72, 73 share 300 ms; the profile default 9 is among them
        (300, 99.999999, EMBB, 73),  # PER <= 1e-8 leaves 73 and 74; 74 has PDB 500 ms
        (None, 99.9999, ("Non-GBR",), 9),
    ],
)
def test_selection(latency, reliability, types, expected):
    choice = fiveqi.select(latency_ms=latency, reliability_pct=reliability, resource_types=types, default=9)
    assert choice.row.value == expected
    if latency is not None:
        assert choice.row.pdb_ms <= latency


def test_profile_reliability_alone_keeps_the_default():
    choice = fiveqi.select(
        latency_ms=None, reliability_pct=99.999, resource_types=URLLC, default=82, reliability_is_default=True
    )
    assert choice.row.value == 82


def test_reliability_without_latency_is_bounded_by_the_default_pdb():
    choice = fiveqi.select(latency_ms=None, reliability_pct=99.999, resource_types=URLLC, default=82)
    assert choice.row.value == 85  # PDB <= 10 ms (5QI 82) and PER <= 1e-5
    assert "slice profile default 5QI 82" in choice.basis


def test_default_without_targets():
    choice = fiveqi.select(latency_ms=None, reliability_pct=None, resource_types=EMBB, default=9)
    assert choice.row.value == 9
    assert "default" in choice.basis


def test_no_standardized_5qi_is_an_error():
    with pytest.raises(IntentValidationError, match="smallest packet delay budget is 5 ms"):
        fiveqi.select(latency_ms=1, reliability_pct=None, resource_types=URLLC, default=82)


@pytest.mark.parametrize(
    ("value", "pdb", "per"), [(1, 100, 1e-2), (9, 300, 1e-6), (82, 10, 1e-4), (85, 5, 1e-5)]
)
def test_table_rows(value, pdb, per):
    row = fiveqi.BY_VALUE[value]
    assert (row.pdb_ms, row.per) == (pdb, per)
