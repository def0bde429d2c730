"""Fixtures for the TUI tests."""

import time

import pytest

from batchtui.tui import clipboard


@pytest.fixture
def utc(monkeypatch):
    """Local time is UTC, so snapshots show the same clock everywhere."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def copied(monkeypatch) -> list[str]:
    """What went to the clipboard (pyperclip stubbed out, so it works with no clipboard here)."""
    texts: list[str] = []
    monkeypatch.setattr(clipboard.pyperclip, "copy", texts.append)
    return texts
