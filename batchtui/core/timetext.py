"""How clock times and durations read, in the app and on the command line alike: one place for both."""

from __future__ import annotations

import datetime as dt


def clock(timestamp: float | None, *, seconds: bool = True) -> str:
    """Local date and time, e.g. '2026-05-04 13:07:42' (to the minute without `seconds`); '-' when not known
    (None, or the 0 a server's bad value becomes)."""
    if not timestamp:
        return "-"
    return dt.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def duration(seconds: float | None, *, exact: bool = False) -> str:
    """'45s', '7m 05s', '18m', '3h 05m', '2d 4h' at a glance, rounded to the last unit shown (17m 53s reads '18m',
    not '17m'); '-' when not known. `exact`, for tables of figures side by side, keeps the seconds under an hour and
    counts hours, not days: '12m 05s', '30h 00m'."""
    if seconds is None:
        return "-"
    if exact:
        minutes, secs = divmod(round(seconds), 60)
        hours, minutes = divmod(minutes, 60)
        return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"
    whole = max(0, round(seconds))
    if whole < 60:
        return f"{whole}s"
    if whole < 600:
        return f"{whole // 60}m {whole % 60:02d}s"
    minutes = round(whole / 60)
    if minutes < 60:
        return f"{minutes}m"
    if minutes < 24 * 60:
        return f"{minutes // 60}h {minutes % 60:02d}m"
    hours = round(minutes / 60)
    return f"{hours // 24}d {hours % 24}h"


def rate(lines_per_minute: float) -> str:
    """'75 lines/min', '2.5 lines/min'; under one a minute per hour, '9.4 lines/h', '0.042 lines/h': two significant
    digits below ten, so a slow batch never reads '0 lines/min'."""
    value, unit = (lines_per_minute, "min") if lines_per_minute >= 1 else (lines_per_minute * 60, "h")
    return f"{value:,.0f} lines/{unit}" if value >= 9.95 else f"{value:#.2g} lines/{unit}"
