"""Real damage to a real cache file, and SQLite's own verdict on one, for the tests of failures."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path


def damage_llm_log_rows(db: Path) -> None:
    """Overwrite the first page of the llm_log_rows table with garbage, as a bad disk block would (the cache must be
    closed, its writes all in the file)."""
    with contextlib.closing(sqlite3.connect(db)) as conn:
        (root,) = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'llm_log_rows'").fetchone()
        (page_size,) = conn.execute("PRAGMA page_size").fetchone()
    with db.open("r+b") as file:
        file.seek((root - 1) * page_size)
        file.write(b"\xff" * page_size)


def integrity(db: Path) -> str:
    """SQLite's integrity_check of the whole file: "ok", or its first complaint."""
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
