"""Where batchtui keeps its config and cache: platform dirs, or under $BATCHTUI_HOME."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "batchtui"


def _home() -> Path | None:
    home = os.environ.get("BATCHTUI_HOME")
    return Path(home).expanduser() if home else None


def config_file() -> Path:
    """The TOML file that holds named profiles."""
    home = _home()
    base = home if home else Path(platformdirs.user_config_dir(APP_NAME))
    return base / "config.toml"


def cache_root() -> Path:
    """The folder under which each profile has its own cache folder."""
    home = _home()
    return home / "cache" if home else Path(platformdirs.user_cache_dir(APP_NAME))


def make_private_dirs(path: Path) -> Path:
    """Create `path` and its missing parents readable by this user only; folders already there keep their
    mode, so downloading into a folder of the user's own never changes who may read it."""
    missing = []
    folder = path
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for folder in reversed(missing):
        folder.mkdir(mode=0o700, exist_ok=True)
    return path


def private_dir(path: Path) -> Path:
    """Create `path` (and parents) readable by this user only."""
    make_private_dirs(path)
    path.chmod(0o700)
    return path


def index_dir() -> Path:
    """Where result indexes of local files (`batchtui view`) are kept, so a second open needs no rescan."""
    return private_dir(cache_root() / "index")
