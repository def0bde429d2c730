"""Where batchtui keeps its config and cache: platform dirs, or under $BATCHTUI_HOME."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import platformdirs

from batchtui.core.errors import BatchtuiError

APP_NAME = "batchtui"


def _home() -> Path | None:
    home = os.environ.get("BATCHTUI_HOME")
    return Path(home).expanduser() if home else None


_SAFE_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}")
_UNSAFE_RUN = re.compile(r"[^A-Za-z0-9_-]+")
_EXTENSION = re.compile(r"\.[A-Za-z0-9]{1,10}$")


class UnsafePathError(BatchtuiError):
    """A name from outside (the API, a config file) would put a file outside the folder meant for it."""


def is_safe_name(text: str) -> bool:
    """Whether `text` can be a file or folder name as it is: 1-100 of [A-Za-z0-9._-], not hidden, not '..'."""
    return _SAFE_NAME.fullmatch(text) is not None


def safe_name(text: str, *, suffix: str = "") -> str:
    """A file name made from untrusted text (a batch id, a file id, a server's filename) that cannot leave its
    folder or hide: the text itself (+ `suffix`) when it is safe, else its letters and digits and a hash of the
    whole text, so two different texts never share a name."""
    if is_safe_name(text) and is_safe_name(text + suffix):
        return text + suffix
    extension = _EXTENSION.search(text)
    kept = extension.group() if extension and extension.start() and not suffix else ""
    readable = _UNSAFE_RUN.sub("_", text[: len(text) - len(kept)])[:40].strip("_")
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"{readable}-{digest}{kept}{suffix}" if readable else f"{digest}{kept}{suffix}"


def inside(folder: Path, name: str) -> Path:
    """`folder / name`, checked to be a file directly in `folder` (no separator, no '..', no absolute path);
    anything else is refused in one line."""
    path = folder / name
    strays = name in ("", ".", "..") or "\0" in name or path.name != name
    if strays or os.path.normpath(path.parent) != os.path.normpath(folder):
        raise UnsafePathError(f"Refused to write {name!r}: the name would leave the folder {folder}.")
    return path


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
