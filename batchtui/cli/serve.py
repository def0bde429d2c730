"""`batchtui serve`: the terminal app in a web browser, through textual-serve, for a person without a terminal.

Each browser tab gets its own `batchtui` process on this machine, started with the profile's name (never its
key): the key stays in the server's environment and config, and the browser only ever receives the screen."""

from __future__ import annotations

import ipaddress
import shlex
import subprocess
import sys
from typing import Annotated

from cyclopts import Parameter

from batchtui.cli.common import ProfileOption
from batchtui.cli.render import fail, say
from batchtui.core.config import resolve_profile
from batchtui.core.errors import BatchtuiError

INSTALL_HINT = "serve needs textual-serve: pip install 'batchtui[serve]'"


def serve(
    *,
    host: Annotated[str, Parameter(help="Address to listen on. Anything but loopback needs --public.")] = "127.0.0.1",
    port: int = 8000,
    public: Annotated[bool, Parameter(negative=(), help="Allow a --host other machines can reach: whoever reaches "
                                                        "the port uses the profile's API key.")] = False,
    url: Annotated[str | None, Parameter(help="The address browsers open, when it is not http://HOST:PORT (a name "
                                              "for 0.0.0.0, or a proxy in front).")] = None,
    profile: ProfileOption = None,
    demo: Annotated[bool, Parameter(negative=(), help="Serve the app against a local sandbox seeded with demo "
                                                      "batches: no account or API key needed.")] = False,
) -> None:
    """Serve the app to web browsers (one app per browser tab) until stopped; on loopback unless --public."""
    try:
        from textual_serve.server import Server
    except ImportError:
        fail(INSTALL_HINT)
    problem = host_problem(host, public=public, url=url)
    if problem:
        fail(problem)
    key = "the demo sandbox's key"
    if not demo:
        try:
            key = f"the API key of profile '{resolve_profile(profile).name}'"
        except BatchtuiError as exc:
            fail(str(exc))
    if public:
        say(f"warning: serving on {host}:{port}: whoever reaches this port uses {key} and writes files as this "
            "user here; put it behind a login of your own")
    Server(app_command(profile, demo=demo), host=host, port=port, title="batchtui", public_url=url).serve()


def host_problem(host: str, *, public: bool, url: str | None) -> str | None:
    """Why the app cannot be served on `host` as asked, in one line, or None."""
    if not public and not is_loopback(host):
        return (f"--host {host}: other machines could use the app and the profile's API key; "
                "add --public to serve it there")
    if url is None and host in ("0.0.0.0", "::", ""):
        return f"--host {host}: also give --url, the address browsers open (e.g. http://NAME:PORT)"
    return None


def is_loopback(host: str) -> bool:
    """Whether `host` can be reached from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def app_command(profile: str | None, *, demo: bool) -> str:
    """The shell command textual-serve runs for each browser tab: this Python's batchtui with the same profile."""
    argv = [sys.executable, "-m", "batchtui"]
    if profile is not None:
        argv += ["--profile", profile]
    if demo:
        argv.append("--demo")
    return subprocess.list2cmdline(argv) if sys.platform == "win32" else shlex.join(argv)
