"""The API key never reaches disk, output, the clipboard or a screenshot.

A whole session runs against a sandbox that accepts only a recognisable key: the CLI from a template to
exported answers and SQL, then the app (sync, results, copies, curl, export, screenshots), then an unexpected
error deep in the HTTP stack that crashes the app with Textual's traceback and its locals. Then every file
under the test's folder (home and cache, downloads, exports, screenshots) and every captured output is
searched for the key, plainly, URL-encoded and base64-encoded. The private modes of the cache and the downloads
are checked too; that `sql` opens the cache read-only is tests/test_cli_sql.py's
test_sql_refuses_writes_and_leaves_the_cache_as_it_was.
"""

from __future__ import annotations

import base64
import os
import re
import secrets
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx2
import pytest
from cli_helpers import batchtui
from pilot_helpers import export_from_viewer, wait_until

from batchtui.core.config import resolve_profile
from batchtui.sandbox import SandboxConfig, SandboxServer
from batchtui.tui.app import BatchtuiApp
from batchtui.tui.screens.batch_detail import BatchDetailScreen
from batchtui.tui.screens.results import ResultsScreen

KEY = "sk-canary-" + secrets.token_hex(16)
EXAMPLE = Path(__file__).parent.parent.parent / "examples" / "reviews"
SIZE = (120, 40)


def key_forms(key: str) -> list[bytes]:
    """The key as bytes, URL-encoded, and base64-encoded at each of the three alignments it can start at
    (the middle of each encoding, which does not depend on the bytes around it)."""
    raw = key.encode()
    forms = {raw, quote(key, safe="").encode()}
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + raw)
        forms.add(encoded[4 if shift else 0 : -4])
    return sorted(forms)


FORMS = key_forms(KEY)


def hits(data: bytes) -> int:
    """Occurrences of the key in any of its forms, once the whitespace and box drawing that a wrapped line in
    a terminal panel would put inside it are squeezed out (the key has neither, so nothing is hidden)."""
    squeezed = re.sub(rb"\s|\xe2\x94[\x80-\xbf]|\xe2\x95[\x80-\xbf]", b"", data)
    return sum(squeezed.count(form) for form in FORMS)


def test_the_search_finds_the_key_in_every_form():
    assert hits(b"Authorization: Bearer " + KEY.encode()) == 1
    assert hits(b"key=" + quote(KEY).encode()) == 1
    for prefix in ("", "a", "ab"):
        assert hits(base64.b64encode(f"{prefix}Bearer {KEY}".encode())) == 1
    wrapped = f"\u2502 headers = {{'Authorization': 'Bearer {KEY[:15]}  \u2502\n\u2502   {KEY[15:]}'}} \u2502"
    assert hits(wrapped.encode()) == 1


def files_under(root: Path) -> Iterator[Path]:
    for folder, _, names in os.walk(root):
        for name in names:
            yield Path(folder) / name


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    """A sandbox that refuses any other key, failing some lines so that retries and failures show up."""
    with SandboxServer(SandboxConfig(speed=1000.0, fail_rate=0.6, api_key=KEY)) as server:  # 10 rows: some fail
        yield server


@pytest.fixture
def env(sandbox, isolated_home, monkeypatch) -> dict[str, str]:
    """The key and the sandbox in the environment, for the CLI processes and for the app in this process."""
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", sandbox.base_url)
    return {**os.environ}


def cli_session(env: dict[str, str], work: Path, downloads: Path, exports: Path) -> tuple[str, list[str]]:
    """Every command a script would run, from a template to SQL; returns the batch id and all it printed."""
    printed: list[str] = []

    def run(*args: str) -> str:
        done = batchtui(*args, env=env)
        printed.extend((done.stdout, done.stderr))
        return done.stdout.strip()

    for name in ("template.json", "reviews.csv"):
        shutil.copy(EXAMPLE / name, work / name)
    batch_file = run("make-batch-file", str(work / "template.json"), str(work / "reviews.csv"))
    run("validate", batch_file)
    file_id = run("upload-batch-file", batch_file)
    batch_id = run("start-batch", file_id, "--description", "canary", "--metadata", "owner=ci")
    run("get-batch-results", batch_id, "--wait", "--poll-seconds", "1", "-o", str(downloads))
    retry_id = run("retry-batch", batch_id)
    run("get-batch-results", retry_id, "--wait", "--poll-seconds", "1", "-o", str(downloads))
    run("list-batches")
    run("list-batches", "--json")
    run("export-results", batch_id, "-o", str(exports / "answers.csv"))
    run("export-results", batch_id, "-o", str(exports / "answers.jsonl"))
    run("import-batch", "--all", "--json")
    for table in ("llm_logs", "batches", "files"):
        run("sql", f"SELECT * FROM {table}", "--format", "json")
    run("stats", "--json")
    return batch_id, printed


async def app_session(batch_id: str, shots: Path, exports: Path) -> tuple[BatchtuiApp, list[str]]:
    """The app on the CLI's cache: sync, the batch, its results, every copy, an export and screenshots; then a
    bug below the SDK crashes it. Returns the app and its screenshots."""
    app = BatchtuiApp(resolve_profile(None))
    svgs: list[str] = []

    def shoot(name: str) -> None:
        app.save_screenshot(f"{name}.svg", str(shots))
        svgs.append(app.export_screenshot())

    async def crash(client, request, **kwargs):
        raise RuntimeError("forced crash below the SDK")

    with pytest.raises(RuntimeError, match="forced crash"):
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: app.sync_status.state == "synced", "first sync")
            shoot("batches")
            app.open_batch(batch_id)
            await wait_until(pilot, lambda: isinstance(app.screen, BatchDetailScreen) and app.screen.batch is not None,
                             "detail shown")
            shoot("detail")
            await pilot.press("o")
            await wait_until(pilot, lambda: isinstance(app.screen, ResultsScreen) and app.screen.index is not None
                             and app.screen.index.complete, "results indexed")
            await pilot.press("y", "p", "a", "P", "A", "C")
            await app.workers.wait_for_complete()
            shoot("results")
            await export_from_viewer(pilot, exports / "from-the-app.csv")
            shoot("exported")
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(httpx2.AsyncClient, "send", crash)
                app.call_later(app.workspace.refresh)  # a handler's exception is not caught: Textual exits with it
                await wait_until(pilot, lambda: app._exception is not None, "the app crashed")
    return app, svgs


async def test_a_whole_session_leaves_the_key_nowhere(env, tmp_path, isolated_home, copied, capsys):
    work, downloads, exports, shots = (tmp_path / name for name in ("work", "downloads", "exports", "shots"))
    for folder in (work, exports, shots):
        folder.mkdir()
    batch_id, printed = cli_session(env, work, downloads, exports)
    app, svgs = await app_session(batch_id, shots, exports)
    traceback = capsys.readouterr().err
    assert "forced crash below the SDK" in traceback and "locals" in traceback  # the crash was printed in full
    assert "Bearer $OPENAI_API_KEY" in copied[-1]
    captured = [*printed, traceback, *copied, app.clipboard, *svgs]

    files = list(files_under(tmp_path))
    scanned = sum(path.stat().st_size for path in files)
    found = {str(path.relative_to(tmp_path)): n for path in files if (n := hits(path.read_bytes()))}
    found |= {f"output {i}": n for i, text in enumerate(captured) if (n := hits(text.encode()))}
    with capsys.disabled():
        print(f"\nscanned {len(files)} files ({scanned:,} bytes) and {len(captured)} outputs "
              f"({sum(len(text) for text in captured):,} characters): {sum(found.values())} hits")
    assert {"cache.db", f"{batch_id}_output.jsonl", "answers.csv", "from-the-app.csv", "results.svg"} <= {
        path.name for path in files}
    assert found == {}


def test_a_wrong_key_is_not_echoed(sandbox, env):
    """The API's 401 names the key it refused, masked; the CLI's message masks it further."""
    wrong = "sk-canary-" + secrets.token_hex(16)
    done = batchtui("list-batches", env={**env, "OPENAI_API_KEY": wrong}, check=False)
    assert done.returncode == 1 and "refused" in done.stderr  # nothing cached to show instead
    assert wrong[10:-4] not in done.stdout + done.stderr


def test_a_key_that_cannot_be_sent_is_refused_in_one_line(sandbox, env):
    """A stray non-ASCII character (a pasted typographic quote) cannot go in an HTTP header."""
    done = batchtui("cancel-batch", "batch_x", env={**env, "OPENAI_API_KEY": KEY + "\u201d"}, check=False)
    assert done.returncode == 1 and done.stderr.startswith("batchtui: ") and done.stderr.count("\n") == 1
    assert hits((done.stdout + done.stderr).encode()) == 0


def test_cache_and_downloads_are_private(env, tmp_path, write_batch_file):
    """Every folder of the profile's cache and of a download folder the CLI made is 0700, every file 0600."""
    file_id = batchtui("upload-batch-file", str(write_batch_file(30)), env=env).stdout.strip()
    batch_id = batchtui("start-batch", file_id, env=env).stdout.strip()
    downloads = tmp_path / "downloads" / "nov"
    batchtui("get-batch-results", batch_id, "--wait", "--poll-seconds", "1", "-o", str(downloads), env=env)
    batchtui("import-batch", batch_id, env=env)
    batchtui("retry-batch", batch_id, env=env)
    wrong = {}
    for root in (resolve_profile(None).cache_dir(), tmp_path / "downloads"):
        for folder, _, names in os.walk(root):
            for path, private in ((folder, 0o700), *((os.path.join(folder, name), 0o600) for name in names)):
                if (mode := stat.S_IMODE(os.stat(path).st_mode)) != private:
                    wrong[os.path.relpath(path, tmp_path)] = oct(mode)
    assert wrong == {}
