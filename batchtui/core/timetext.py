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
    """'45s', '12m', '3h 05m', '2d 4h' at a glance; '-' when not known. `exact`, for tables of figures side by side,
    rounds rather than truncates, keeps the seconds under an hour and counts hours, not days: '12m 05s', '30h 00m'."""
    if seconds is None:
        return "-"
    if exact:
        minutes, secs = divmod(round(seconds), 60)
        hours, minutes = divmod(minutes, 60)
        return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"
    whole = max(0, int(seconds))
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s" if minutes < 10 else f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h"
