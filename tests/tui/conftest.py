"""Fixtures for the TUI tests."""

import time

import pytest


@pytest.fixture
def utc(monkeypatch):
    """Local time is UTC, so snapshots show the same clock everywhere."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()
