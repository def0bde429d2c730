"""How durations and rates read: rounded to the last unit shown, and a slow rate never reads as 0."""

from batchtui.core.timetext import duration, rate


def test_durations_round_to_the_last_unit_shown():
    assert duration(17 * 60 + 53) == "18m"  # was "17m": the seconds were cut off, not rounded
    assert [duration(s) for s in (4.6, 59.6, 9 * 60 + 59.4, 9 * 60 + 59.6)] == ["5s", "1m 00s", "9m 59s", "10m"]
    assert [duration(s) for s in (3599, 3 * 3600 + 5 * 60 + 50, 86_399)] == ["1h 00m", "3h 06m", "1d 0h"]
    assert [duration(s) for s in (2 * 86_400 + 4 * 3600 + 1900, -3, None)] == ["2d 5h", "0s", "-"]


def test_exact_durations_keep_seconds_under_an_hour():
    assert duration(17 * 60 + 53, exact=True) == "17m 53s" and duration(30 * 3600, exact=True) == "30h 00m"


def test_small_rates_never_read_as_zero():
    assert rate(225 / (24 * 60)) == "9.4 lines/h"  # an expired batch's 225 lines in 24 h: was "0 lines/min"
    assert rate(1 / (24 * 60)) == "0.042 lines/h"
    assert [rate(r) for r in (0.999, 1, 2.5, 9.94, 9.96, 75.4, 12_345.6)] == [
        "60 lines/h", "1.0 lines/min", "2.5 lines/min", "9.9 lines/min", "10 lines/min", "75 lines/min",
        "12,346 lines/min",
    ]
