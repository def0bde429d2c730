"""What the benchmark scripts share: the best of a few timed runs, and the raw-read baseline."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path


def best(runs: int, fn: Callable[[], object]) -> float:
    """The fastest of `runs` calls of `fn`, in seconds (the least disturbed by a shared machine)."""
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def raw_read(paths: Iterable[Path]) -> None:
    """Read the files in 1 MB chunks into /dev/null: the `cat > /dev/null` baseline."""
    with open(os.devnull, "wb", buffering=0) as sink:
        for path in paths:
            with open(path, "rb", buffering=0) as fh:
                while chunk := fh.read(1 << 20):
                    sink.write(chunk)
