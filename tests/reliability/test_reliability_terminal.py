"""Terminal safety checked at the terminal: the real `batchtui` in a pseudo-terminal, fed hostile data.

Prompts, answers, custom_ids, metadata, a model name, file names (on the API and in the working folder) and an
error message carry Rich markup,
ANSI/OSC/DCS/APC sequences (OSC 52 clipboard writes among them), 8-bit C1 controls, bidi controls and
NULs. Every byte the app writes is kept: none of the injected sequences may be in it, and a pyte screen
fed the same bytes must show the hostile text literally. Each sequence is followed by its own marker
(ZQ00, ZQ01, ...), so an injected "\\x1b[31m" is told apart from the app's own colours.
"""

from __future__ import annotations

import fcntl
import http.client
import json
import os
import re
import struct
import subprocess
import sys
import termios
import threading
import time
import urllib.parse
from collections.abc import Iterator

import openai
import pyte
import pytest

from batchtui.sandbox import SandboxConfig, SandboxServer

COLUMNS, LINES = 140, 40
WAIT_SECONDS = 20.0
FRAME = ("batchtui — ", "^p palette")

SEQUENCES: tuple[tuple[str, str], ...] = (
    ("SGR red", "\x1b[31m"),
    ("clear screen", "\x1b[2J"),
    ("cursor home", "\x1b[H"),
    ("OSC 52 clipboard write ended by BEL", "\x1b]52;c;ZXZpbA==\x07"),
    ("OSC 52 clipboard write ended by ST", "\x1b]52;c;ZXZpbA==\x1b\\"),
    ("OSC 0 window title", "\x1b]0;pwned\x07"),
    ("OSC 8 hyperlink", "\x1b]8;;https://evil.example/\x1b\\"),
    ("8-bit CSI", "\x9b31m"),
    ("8-bit OSC 52", "\x9d52;c;ZXZpbA==\x9c"),
    ("DCS status request", "\x1bP$qm\x1b\\"),
    ("APC graphics", "\x1b_Gi=1;AAAA\x1b\\"),
    ("cursor position", "\x1b[5;5H"),
    ("full reset", "\x1bc"),
    ("RLO", "\u202e"),
    ("LRI", "\u2066"),
    ("RLI", "\u2067"),
    ("FSI", "\u2068"),
    ("PDI", "\u2069"),
    ("RLM", "\u200f"),
    ("NUL", "\x00"),
    ("BEL", "\x07"),
    ("BS", "\x08"),
    ("SO", "\x0e"),
    ("DEL", "\x7f"),
    # Whitespace to str.split: kept out of the words the fake model echoes (the prompts still have them).
    ("CR", "\r"),
    ("NEL", "\x85"),
    ("FS", "\x1c"),
    ("VT", "\x0b"),
)
ECHOED = 24
"""SEQUENCES[:ECHOED] make up the first five words of a prompt, which the fake model's answer repeats."""
MARKUP = ("[b]bold[/b]", "[/]", "[link=https://evil.example]x[/link]", "[red on blue]", "[@click=app.quit]q[/]")

UNITS = [seq + f"ZQ{n:02d}" for n, (_, seq) in enumerate(SEQUENCES)]
WORDS = ["".join(UNITS[i : min(i + 5, ECHOED)]) for i in range(0, ECHOED, 5)]
HOSTILE = " ".join([*WORDS, *MARKUP, *UNITS[ECHOED:]])

FORMAT_CONTROLS = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u2028\u2029"
APP_CSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")
APP_OSC = re.compile(r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)")
APP_OSC_CODES = {"22"}
"""Textual sets the mouse pointer's shape (OSC 22); any other OSC in the stream came from the data."""


def escaped(text: str) -> str:
    """`text` as the app must show it: control and bidi characters as visible escapes."""
    return "".join(c if c.isprintable() and c not in FORMAT_CONTROLS
                   else f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}" for c in text)


# --- hostile data in the sandbox -----------------------------------------------------------------------


def request_line(custom_id: str, model: str, prompt: str) -> str:
    body = {"model": model, "messages": [{"role": "system", "content": "Summarise the user's text."},
                                         {"role": "user", "content": prompt}]}
    return json.dumps({"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions", "body": body}) + "\n"


def raw_upload(base_url: str, filename: str, content: bytes) -> str:
    """Upload with the file name's bytes as given: the SDK's HTTP client percent-encodes C0 controls other than
    ESC in multipart file names, but other clients need not, and the API keeps the name it gets."""
    url = urllib.parse.urlsplit(base_url)
    boundary = "hostile-boundary"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: application/jsonl\r\n\r\n"
    ).encode() + content + f"\r\n--{boundary}--\r\n".encode()
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        conn.request("POST", url.path + "/files", body, {
            "Content-Type": f"multipart/form-data; boundary={boundary}", "Authorization": "Bearer sk-test"})
        response = conn.getresponse()
        payload = json.loads(response.read())
    finally:
        conn.close()
    assert response.status == 200, payload
    return payload["id"]


def finished(client: openai.OpenAI, batch_id: str) -> openai.types.Batch:
    deadline = time.monotonic() + 30
    while (batch := client.batches.retrieve(batch_id)).status not in ("completed", "failed", "expired", "cancelled"):
        assert time.monotonic() < deadline, batch
        time.sleep(0.05)
    return batch


HOSTILE_MODEL = "gpt-" + UNITS[3] + UNITS[13]
"""A model name with escapes in it, which the sandbox serves when told to (`models=`)."""


def make_hostile_batches(base_url: str) -> dict[str, str]:
    """A completed batch (hostile model, custom_ids, prompts, answers, metadata and input file name) and a
    failed one (its validation error quotes a hostile custom_id), made a second later so both list first."""
    client = openai.OpenAI(base_url=base_url, api_key="sk-test")
    model = HOSTILE_MODEL
    lines = "".join(request_line(f"row{i}-" + UNITS[i] + UNITS[13 + i], model, HOSTILE) for i in range(3))
    good_name = "in-" + UNITS[0] + UNITS[4] + UNITS[7] + UNITS[13] + "[b]bold[/b].jsonl"
    good_file = client.files.create(file=(good_name, lines.encode()), purpose="batch")
    assert good_file.filename == good_name
    metadata = {"description": HOSTILE[:500], UNITS[3] + "[b]k[/b]": HOSTILE[-400:], "owner": UNITS[5] + UNITS[19]}
    good = client.batches.create(input_file_id=good_file.id, endpoint="/v1/chat/completions",
                                 completion_window="24h", metadata=metadata)
    assert finished(client, good.id).status == "completed"

    duplicate = "dup-" + UNITS[3] + UNITS[18] + UNITS[19] + "[red on blue]"
    bad_lines = request_line(duplicate, "gpt-4o-mini", "one") + request_line(duplicate, "gpt-4o-mini", "two")
    bad_name = "raw-" + UNITS[3] + UNITS[5] + UNITS[19] + UNITS[8] + "[link=https://evil.example]x[/link].jsonl"
    time.sleep(1.05)  # created_at counts seconds: a later one lists this file and batch first
    bad_file = raw_upload(base_url, bad_name, bad_lines.encode())
    assert client.files.retrieve(bad_file).filename == bad_name
    bad = client.batches.create(input_file_id=bad_file, endpoint="/v1/chat/completions", completion_window="24h",
                                metadata={"description": "failed " + HOSTILE[:400]})
    failed = finished(client, bad.id)
    assert failed.status == "failed" and duplicate in failed.errors.data[0].message
    return {"model": model, "good_name": good_name, "bad_name": bad_name, "duplicate": duplicate}


# --- the app in a pseudo-terminal ------------------------------------------------------------------------


class Terminal:
    """`batchtui ARGS` on a pty of COLUMNS x LINES, in `cwd`: every byte it writes is kept and fed to a pyte screen.
    `frame` is what the app always shows (title bar and footer) once it has drawn a whole screen."""

    def __init__(self, env: dict[str, str], *args: str, cwd: str | None = None,
                 frame: tuple[str, ...] = FRAME) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", LINES, COLUMNS, 0, 0))
        self.master = master
        self.output = bytearray()
        self.screen = pyte.Screen(COLUMNS, LINES)
        self._stream = pyte.ByteStream(self.screen)
        self._lock = threading.Lock()
        self.frame = frame
        self.process = subprocess.Popen([sys.executable, "-m", "batchtui", *args], stdin=slave, stdout=slave,
                                        stderr=slave, env=env, cwd=cwd, start_new_session=True, close_fds=True)
        os.close(slave)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:  # EIO: the app has gone and its end of the pty with it
                return
            if not chunk:
                return
            with self._lock:
                self.output += chunk
                self._stream.feed(chunk)

    def text(self) -> str:
        with self._lock:
            return "\n".join(self.screen.display)

    def press(self, *keys: str) -> None:
        for key in keys:
            os.write(self.master, key.encode())
            # ESC is a key of its own only once nothing follows it for a moment: sooner, "\x1bo" is alt+o.
            time.sleep(0.3 if key == "\x1b" else 0.05)

    def wait_for(self, *needles: str) -> str:
        """The screen once it shows every needle inside the app's frame (title bar and footer), which injected
        clears and cursor moves would wipe or displace; fails showing the screen after WAIT_SECONDS."""
        deadline = time.monotonic() + WAIT_SECONDS
        while not all(needle in (text := self.text()) for needle in (*needles, *self.frame)):
            if time.monotonic() > deadline or self.process.poll() is not None:
                pytest.fail(f"the screen never showed {needles}:\n{text}")
            time.sleep(0.05)
        time.sleep(0.2)  # the rest of the frame that brought them
        return self.text()

    def quit(self) -> None:
        self.press("\x11")  # ctrl+q
        self.process.wait(timeout=WAIT_SECONDS)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self._reader.join(timeout=5)
        os.close(self.master)


def drive(term: Terminal) -> dict[str, str]:
    """Every screen that shows API or file text, keyed by a name, each once it has what it shows."""
    screens = {"batch list": term.wait_for("4 Failed 1", "3 Completed 1", "no price")}
    term.press("4", "\r")
    screens["failed batch"] = term.wait_for("duplicate_custom_id")
    term.press("\x1b", "3", "\r")
    screens["completed batch"] = term.wait_for("Timeline", "input  file-", ".jsonl  ")
    term.press("o")
    screens["results"] = term.wait_for("3 requests", "Summary: ")
    term.press("t")
    screens["results raw"] = term.wait_for('"custom_id": ')
    term.press("t", "j")
    screens["results row 2"] = term.wait_for("input line 2")
    term.press("\x1b", "\x1b", "1", "f")
    screens["files"] = term.wait_for("3 files", "synced at")
    term.press("v")
    screens["file preview"] = term.wait_for("· 2 lines", "dup-")
    term.press("\x1b", "o")
    screens["file results"] = term.wait_for("2 requests", "pending")
    term.press("\x1b", "x")
    screens["delete question"] = term.wait_for("Delete (y)")
    term.press("y")
    screens["deleted"] = term.wait_for("Deleted", "2 files")
    term.press("\x1b", "S")
    screens["statistics"] = term.wait_for("? = no price for")
    return screens


def expected_literals(data: dict[str, str]) -> list[tuple[str, str]]:
    """(screen, text): where pieces of the hostile text must show, as written but with controls made visible."""
    bad_name = escaped(data["bad_name"])
    return [
        ("batch list", "failed " + escaped(UNITS[0] + UNITS[1])),
        ("batch list", escaped(UNITS[0] + UNITS[1] + UNITS[2])[:30]),
        ("batch list", escaped(data["model"])[:10]),
        ("failed batch", "The custom_id '" + escaped(data["duplicate"].split(" ")[0])),
        ("completed batch", "description = " + escaped(UNITS[0] + UNITS[1] + UNITS[2] + UNITS[3])),
        ("completed batch", "owner = " + escaped(UNITS[5] + UNITS[19])),
        ("completed batch", "model     " + escaped(data["model"])),
        ("completed batch", escaped(data["good_name"])),
        *(("results", escaped(word)) for word in WORDS),
        *(("results", markup) for markup in MARKUP),
        ("results", "Summary: " + escaped(UNITS[0] + UNITS[1])),
        ("results", "row0-" + escaped(UNITS[0] + UNITS[13])),
        ("results raw", '"custom_id": "row0-\\u001b[31mZQ00\\u202eZQ13"'),
        ("results row 2", "row1-" + escaped(UNITS[1] + UNITS[14])),
        ("files", bad_name + " ·"),
        ("file preview", bad_name),
        ("file results", bad_name + " · 2 requests"),
        ("delete question", escaped("raw-" + UNITS[3] + UNITS[5])),
        ("deleted", escaped("raw-" + UNITS[3] + UNITS[5])),
        ("statistics", "? = no price for " + escaped(data["model"])),
    ]


def stream_leaks(stream: str) -> list[str]:
    """Everything in the app's output that the data put there as a control: empty when the app is safe."""
    leaks = [f"{name}: {seq!r}" for (name, seq), unit in zip(SEQUENCES, UNITS, strict=True) if unit in stream]
    leaks += [f"OSC from the data: {osc!r}" for osc in APP_OSC.findall(stream)
              if osc[2:].partition(";")[0] not in APP_OSC_CODES]
    rest = APP_OSC.sub("", APP_CSI.sub("", stream))
    for char in sorted(set(rest)):
        if char == "\x1b" or (not char.isprintable() and char not in "\r\n") or char in FORMAT_CONTROLS:
            at = rest.index(char)
            leaks.append(f"{char!r} reached the terminal, e.g. in {rest[max(0, at - 40) : at + 40]!r}")
    return leaks


@pytest.fixture
def hostile_sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(speed=1000, models=(HOSTILE_MODEL,))) as server:
        yield server


def test_hostile_text_reaches_the_terminal_only_as_visible_text(hostile_sandbox, isolated_home):
    data = make_hostile_batches(hostile_sandbox.base_url)
    env = {**os.environ, "OPENAI_BASE_URL": hostile_sandbox.base_url, "OPENAI_API_KEY": "sk-test",
           "BATCHTUI_HOME": str(isolated_home), "TERM": "xterm-256color", "COLORTERM": "truecolor"}
    term = Terminal(env)
    try:
        screens = drive(term)
        term.quit()
    finally:
        term.close()
    assert term.process.returncode == 0

    stream = bytes(term.output).decode("utf-8", errors="surrogateescape")
    assert "ZQ00" in stream and len(stream) > 100_000  # the data was drawn, many times over
    leaks = stream_leaks(stream)
    assert not leaks, "\n".join(leaks)
    assert "\x1b]52" not in stream  # no copy key was pressed, so no clipboard write at all
    assert "pwned" not in term.screen.title

    missing = [(name, text) for name, text in expected_literals(data) if text not in screens[name]]
    assert not missing, "\n\n".join(f"{name} lacks {text!r}:\n{screens[name]}" for name, text in missing)


# --- hostile names in the working folder ---------------------------------------------------------------


LOCAL_UNITS = [unit for unit in UNITS if "/" not in unit and "\0" not in unit]
"""The sequences a file name can hold (no '/', no NUL)."""
LOCAL_NAMES = ("e-" + UNITS[0] + UNITS[5] + ".jsonl", "m-" + UNITS[3] + UNITS[13] + "[b]x[@click=app.quit]q.jsonl",
               "all-" + "".join(LOCAL_UNITS) + ".jsonl")


def test_local_file_names_reach_the_terminal_only_as_visible_text(tmp_path, isolated_home):
    """The new batch screen's folder tree and path field, and `batchtui view`'s header, name local files."""
    work = tmp_path / "work"
    work.mkdir()
    for name in LOCAL_NAMES:
        (work / name).write_text(request_line("a", "gpt-4o-mini", "hello"))
    env = {**os.environ, "OPENAI_BASE_URL": "http://127.0.0.1:9/v1", "OPENAI_API_KEY": "sk-test",
           "BATCHTUI_HOME": str(isolated_home), "TERM": "xterm-256color", "COLORTERM": "truecolor"}
    first, marked, long = (escaped(name)[:40] for name in LOCAL_NAMES)
    screens: dict[str, str] = {}
    streams = []
    term = Terminal(env, cwd=str(work), frame=(" — default · http://", "^p palette"))  # the screens' own titles
    try:
        term.wait_for("No batches cached yet")
        term.press("n")
        screens["tree"] = term.wait_for("Validation", first, marked, long)
        term.press("\t", "\x1b[B", "\r")  # from the path field to the tree, down to the first file (all-…), pick it
        screens["picked"] = term.wait_for("no problems found", "requests      1")
        term.quit()
    finally:
        term.close()
    streams.append(term.output)
    viewer = Terminal(env, "view", LOCAL_NAMES[2], cwd=str(work), frame=("batchtui view — ", "^p palette"))
    try:
        screens["viewer"] = viewer.wait_for("batchtui view — " + long)
        viewer.quit()
    finally:
        viewer.close()
    streams.append(viewer.output)

    for output in streams:
        stream = bytes(output).decode("utf-8", errors="surrogateescape")
        leaks = stream_leaks(stream)
        assert not leaks, "\n".join(leaks)
    assert "pwned" not in term.screen.title + viewer.screen.title
    # the path field draws each control as one visible character (Rich drops the BEL before), so the value stays
    # exact and the cursor keeps its place; the report names the file with its controls escaped
    assert "File        all-␛[31mZQ00␛[2JZQ01␛[HZQ02␛]52;c;ZXZpbA==ZQ03" in screens["picked"]
    assert re.search(r"file +" + re.escape(long), screens["picked"])  # the label column is as wide as its longest
