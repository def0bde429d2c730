"""How long the fixed-length reliability tests run: short in `make test`, their long form with BATCHTUI_LONG=1.

`BATCHTUI_LONG=1 .venv/bin/pytest tests/reliability -s` runs the network soak, the two copies, the kills and the
fuzzing at the lengths docs/reliability.md reports as the long form."""

from __future__ import annotations

import os

LONG = os.environ.get("BATCHTUI_LONG", "") not in ("", "0")


def suite_or_long(suite: float, long: float) -> float:
    """`long` with BATCHTUI_LONG=1, otherwise `suite` (the figure `make test` runs)."""
    return long if LONG else suite
