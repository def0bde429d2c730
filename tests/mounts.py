"""Real small and read-only file systems for the tests of a full disk and a read-only cache.

`tmpfs` mounts a RAM file system of a few MB, so a write past it fails as on a full disk (ENOSPC, SQLITE_FULL);
`read_only_view` shows a folder again through a bind mount remounted read-only (EROFS), which root cannot write
either, where chmod would not stop root. Both need root and a kernel that lets this process mount: elsewhere the
test is skipped and says why.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def _mount(*args: str) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root, to mount a small or read-only file system for this case")
    done = subprocess.run(["mount", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"mounting is not allowed here ({' '.join(done.stderr.split()) or done.returncode}); "
                    "this case needs a small or read-only file system")


def _unmount(folder: Path) -> None:
    if subprocess.run(["umount", str(folder)], capture_output=True, check=False).returncode != 0:
        subprocess.run(["umount", "--lazy", str(folder)], capture_output=True, check=True)


@contextmanager
def tmpfs(folder: Path, size: str = "4m") -> Iterator[Path]:
    """`folder` as an empty file system of `size` bytes (mount's units: "4m"), unmounted on exit."""
    folder.mkdir(parents=True, exist_ok=True)
    _mount("-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(folder))
    try:
        yield folder
    finally:
        _unmount(folder)


@contextmanager
def read_only_view(source: Path, view: Path) -> Iterator[Path]:
    """`source` seen again at `view` on a read-only mount (writes there fail with EROFS), unmounted on exit."""
    view.mkdir(parents=True, exist_ok=True)
    _mount("--bind", str(source), str(view))
    try:
        done = subprocess.run(["mount", "-o", "remount,ro,bind", str(view)], capture_output=True, text=True,
                              check=False)
        if done.returncode != 0:
            pytest.skip(f"remounting read-only is not allowed here ({' '.join(done.stderr.split())})")
        yield view
    finally:
        _unmount(view)
