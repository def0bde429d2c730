"""A hostile server (tests/hostile_server.py) drives the CLI: whatever ids, names and types it sends, nothing is
written outside the folders meant for it, nothing it sent reaches the terminal raw, and every command ends in its
answer or one line, never a traceback."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_helpers import batchtui, on_a_terminal
from hostile_server import HostileApi, hostile_server

_RAW = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def raw_controls(text: str) -> list[str]:
    """Characters a terminal would act on (escapes, C1, bidi), each with a little context: empty when safe."""
    return [repr(text[max(0, m.start() - 30) : m.end() + 30]) for m in _RAW.finditer(text)]


def files_under(folder: Path) -> set[Path]:
    return {path for path in folder.rglob("*") if path.is_file()}


@pytest.fixture
def hostile(tmp_path, isolated_home) -> Iterator[tuple[HostileApi, dict[str, str]]]:
    api = HostileApi(escape_to=tmp_path / "escaped")
    with hostile_server(api) as url:
        yield api, {**os.environ, "OPENAI_BASE_URL": url, "OPENAI_API_KEY": "sk-test",
                    "BATCHTUI_HOME": str(isolated_home)}


QUERY = "SELECT request->>'custom_id' AS id, metadata->'batch'->>'batch_id' AS batch, response FROM llm_logs"
COMMANDS = [
    ["list-batches"],
    ["list-batches", "--json"],
    ["get-batch-results", "batch_x", "-o", "{out}"],
    ["get-batch-results", "batch_x", "-o", "{out}", "--json"],
    ["import-batch", "batch_x"],
    ["import-batch", "--all"],
    ["cancel-batch", "batch_x"],
    ["export-results", "batch_x", "-o", "{out}/answers.csv"],
    ["export-results", "batch_x", "-o", "{out}/answers.jsonl"],
    ["upload-batch-file", "{work}/requests.jsonl"],
    ["start-batch", "file-x"],
    ["retry-batch", "batch_x"],
    ["sql", QUERY],
    ["sql", QUERY, "--format", "json"],
    ["stats"],
]


def test_the_cli_against_a_hostile_server_stays_in_its_folders_and_prints_nothing_raw(hostile, tmp_path):
    api, env = hostile
    out, work = tmp_path / "out", tmp_path / "work"
    out.mkdir()
    work.mkdir()
    (work / "requests.jsonl").write_bytes(b'{"custom_id": "a", "method": "POST", "url": "/v1/chat/completions", '
                                          b'"body": {"model": "gpt-4o-mini", "messages": []}}\n')
    before = files_under(tmp_path)
    for command in COMMANDS:
        args = [arg.format(out=out, work=work) for arg in command]
        done = batchtui(*args, env=env, check=False)
        said = done.stdout + done.stderr
        assert "Traceback" not in said, (args, done.stderr)
        assert not raw_controls(said), (args, raw_controls(said)[:3])
        assert done.returncode in (0, 1), (args, done.returncode, done.stderr)
        assert all(len(line) < 2_000 for line in done.stderr.splitlines()), args  # a 10 MB description is cut
        if "--json" in args or "json" in args:
            assert json.loads(done.stdout), args  # still JSON, the escapes written as \u escapes

    assert not (tmp_path / "escaped").exists()
    new = files_under(tmp_path) - before
    assert new, "the commands wrote nothing at all"
    strays = [path for path in new if not (path.is_relative_to(out) or path.is_relative_to(env["BATCHTUI_HOME"]))]
    assert not strays
    assert all(path.parent == out for path in files_under(out)), files_under(out)


def test_sql_csv_is_exact_in_a_pipe_and_escaped_on_a_terminal(hostile):
    _, env = hostile
    batchtui("import-batch", "batch_x", env=env)
    piped = batchtui("sql", QUERY, "--format", "csv", env=env)
    assert "\x1b]0;EVILTITLE\x07" in piped.stdout  # data for a program stays byte for byte
    done, shown = on_a_terminal("sql", QUERY, "--format", "csv", env=env, stdout_too=True)
    status = done.returncode
    assert status == 0 and "row-0\\x1b]0;EVILTITLE" in shown
    assert not raw_controls(shown.replace("\r\n", "\n")), raw_controls(shown)[:3]


def test_the_app_against_a_hostile_server_shows_everything_literally(hostile, tmp_path):
    from test_reliability_terminal import Terminal

    _, env = hostile
    env = {**env, "TERM": "xterm-256color", "COLORTERM": "truecolor"}
    work = tmp_path / "work"
    work.mkdir()
    term = Terminal(env, cwd=str(work))
    try:
        screens = [term.wait_for("4/4", "batch_nullcou")]
        term.press("\x1b[B", "\r")  # the hostile batch, second by date
        screens.append(term.wait_for("Timeline", "Files"))
        term.press("o")
        screens.append(term.wait_for("row-2", "Answer"))
        term.press("t")
        screens.append(term.wait_for('"custom_id": "row-0\\u001b]0;EVILTITLE'))
        term.press("\x1b", "\x1b", "f")
        screens.append(term.wait_for("../../\\x1b]0;EVILTITLE"))
        term.quit()
    finally:
        term.close()
    assert term.process.returncode == 0

    stream = bytes(term.output).decode("utf-8", errors="surrogateescape")
    for raw in ("\x1b]0;EVILTITLE", "EVILTITLE\x07", "\x9b", "\u202e", "\x1b[2J\x1b[31m"):
        assert raw not in stream, repr(raw)
    assert "EVILTITLE" not in term.screen.title
    assert "evil \\x1b]0;EVILTITLE\\x07\\x1b[2J\\x1b[31m\\x9b31m\\u202e[b]bold[/b]" in "".join(screens)
    assert "paused\\x1b]" in screens[0]  # an unknown status, shown as it came
    assert not (tmp_path / "escaped").exists() and not any(work.iterdir())
