"""One money format everywhere: `usd` writes cents from a dollar up, three significant digits below, never an
exponent."""

from __future__ import annotations

from decimal import Decimal

import pytest

from batchtui.core.insights.pricing import usd


@pytest.mark.parametrize(("amount", "shown"), [
    ("0", "$0"),
    ("0.000000", "$0"),
    ("0.024", "$0.0240"),
    ("0.000654", "$0.000654"),
    ("0.00000945", "$0.00000945"),
    ("1E-12", "$0.00000000000100"),
    ("0.5", "$0.500"),
    ("0.0009996", "$0.00100"),  # rounding up to the next power of ten keeps three digits, not four
    ("0.9994", "$0.999"),
    ("0.9996", "$1.00"),
    ("1", "$1.00"),
    ("12.345", "$12.35"),
    ("1234.56", "$1,234.56"),
    ("5E+3", "$5,000.00"),
    ("-0.024", "-$0.0240"),
])  # fmt: skip
def test_usd_has_one_rule_for_every_amount(amount, shown):
    assert usd(Decimal(amount)) == shown


def test_amounts_side_by_side_read_with_the_same_precision():
    """The issue's list: '$0.02' beside '$0.000654', and the detail's '$0.02 $0.000000 $0.03 $0.05'."""
    assert [usd(Decimal(a)) for a in ("0.024", "0.000654")] == ["$0.0240", "$0.000654"]
    assert [usd(Decimal(a)) for a in ("0.024", "0", "0.03", "0.054")] == ["$0.0240", "$0", "$0.0300", "$0.0540"]

