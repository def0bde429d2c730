"""The command line: `batchtui` opens the TUI; the other commands serve scripts.

Command names follow the openai-batch CLI. Every failure is one line on stderr and a non-zero exit. Each command
lives in the module of its group (batches, authoring, data, app_sandbox), which imports what the command needs
only when it runs; `batchtui.cli.app` puts them together. `batchtui --version` and `batchtui` alone (the app) start
before any of them loads.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from batchtui import __version__
from batchtui.cli.render import fail
from batchtui.core.errors import BatchtuiError


def main() -> None:
    """Console-script entry point: whatever goes wrong ends in one line on stderr, a closed pipe in silence."""
    if sys.argv[1:] == ["--version"]:  # answered before cyclopts and the commands load: the quickest start
        print(__version__)
        return
    import sqlite3

    try:
        try:
            _run(sys.argv[1:])
        finally:
            sys.stdout.flush()  # here, so a reader that went away is caught below, not at exit
    except BrokenPipeError:  # the reader went away (e.g. `| head`): stop as Unix tools do, without a word
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit's flush cannot fail again
        raise SystemExit(128 + signal.SIGPIPE) from None
    except KeyboardInterrupt:
        fail("interrupted", 128 + signal.SIGINT)
    except BatchtuiError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(_os_error_line(exc))
    except sqlite3.Error as exc:
        fail(f"the local cache failed: {exc}")
    except Exception as exc:  # noqa: BLE001 - a bug: one line here, the traceback in a report
        fail(f"unexpected error ({type(exc).__name__}); the full report is in {_crash_report(exc)}")


def _run(args: list[str]) -> None:
    """`batchtui` alone opens the app without loading cyclopts and the commands, for a quicker first paint; it is
    what `batchtui tui` does with its defaults."""
    if not args:
        from batchtui.core.config import resolve_profile
        from batchtui.tui.app import run_app

        run_app(resolve_profile(None))
        return
    from batchtui.cli.app import app

    app()


def _os_error_line(exc: OSError) -> str:
    """An OS error as one line naming its file(s), e.g. "out/x.csv: No space left on device"."""
    reason = exc.strerror or str(exc)
    names = [str(name) for name in (exc.filename, exc.filename2) if name is not None]
    return f"{' -> '.join(names)}: {reason}" if names else reason


def _crash_report(exc: BaseException) -> str:
    """Write the traceback of an unexpected error, with any key-like text redacted, to a private file; its path."""
    import tempfile
    import traceback

    from batchtui.core.errors import redact_keys
    from batchtui.core.paths import cache_root
    from batchtui.core.text import redact_urls

    text = f"batchtui {__version__}\nargs: {sys.argv[1:]}\n\n" + "".join(traceback.format_exception(exc))
    secret = os.environ.get("OPENAI_API_KEY")
    if secret:
        text = text.replace(secret, "<key>")
    for folder in (cache_root() / "crash-reports", Path(tempfile.gettempdir())):
        try:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix="batchtui-crash-", suffix=".txt", dir=folder)
            with open(fd, "w", encoding="utf-8") as out:
                out.write(redact_urls(redact_keys(text)))
            return name
        except OSError:
            continue
    return "(nowhere: no folder could be written)"
