"""The stats chart's axis writes money as `usd` does, '$0' at the origin included."""

from __future__ import annotations

from decimal import Decimal

from batchtui.tui.screens.stats import dollars


def test_the_stats_chart_axis_writes_dollars_as_usd_does():
    assert [dollars(v) for v in (0, 0.0, 4, 0.125, 9.45e-06, Decimal("2.5"))] == \
        ["$0", "$0", "$4.00", "$0.125", "$0.00000945", "$2.50"]
