"""The CLI as a script would use it: real processes against a sandbox subprocess on loopback."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from cli_helpers import a_batch_then_offline, batchtui

from batchtui import __version__


@pytest.fixture
def env(cli_env) -> dict[str, str]:
    return cli_env


def test_upload_start_wait_and_get_results(env, write_batch_file, tmp_path):
    path = write_batch_file(50)
    file_id = batchtui("upload-batch-file", str(path), env=env).stdout.strip()
    assert file_id.startswith("file-")
    batch_id = batchtui(
        "start-batch", file_id, "--description", "cli test", "--metadata", "owner=ci", env=env
    ).stdout.strip()
    assert batch_id.startswith("batch_")
    out = tmp_path / "results"
    done = batchtui("get-batch-results", batch_id, "-o", str(out), "--wait", "--poll-seconds", "1", env=env)
    assert f"{batch_id}: completed, requests 50/50" in done.stdout
    output = out / f"{batch_id}_output.jsonl"
    ids = {json.loads(line)["custom_id"] for line in output.read_text().splitlines()}
    assert ids == {f"row-{i}" for i in range(50)}

    listed = json.loads(batchtui("list-batches", "--json", env=env).stdout)
    mine = next(b for b in listed if b["id"] == batch_id)
    assert mine["metadata"] == {"owner": "ci", "description": "cli test"}
    assert batch_id in batchtui("list-batches", "--status", "completed", env=env).stdout


def test_json_results_and_not_yet_finished(env, write_batch_file, tmp_path):
    file_id = batchtui("upload-batch-file", str(write_batch_file(20_000)), env=env).stdout.strip()
    batch_id = batchtui("start-batch", file_id, env=env).stdout.strip()
    cancelled = json.loads(batchtui("cancel-batch", batch_id, "--json", env=env).stdout)
    assert cancelled["status"] in ("cancelling", "cancelled")
    result = json.loads(batchtui("get-batch-results", batch_id, "--json", "-o", str(tmp_path / "out"), env=env).stdout)
    assert result["batch"]["id"] == batch_id


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["get-batch-results", "batch_missing"], "Not found"),
        (["upload-batch-file", "no/such.jsonl"], "no/such.jsonl: no such file"),
        (["start-batch", "file-x", "--metadata", "novalue"], "--metadata 'novalue': expected KEY=VALUE"),
        (["start-batch", "file-x", "--endpoint", "/v1/nope"], "endpoint '/v1/nope' is not one of"),
        (["list-batches", "--limit", "many"], "--limit"),
        (["sandbox", "--faults", "429=lots"], "--faults"),
    ],
)
def test_failures_are_one_line_on_stderr(env, args, fragment):
    done = batchtui(*args, env=env, check=False)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("batchtui: ") and fragment in lines[0], done.stderr


def test_no_key_is_a_clear_error(env):
    del env["OPENAI_API_KEY"]
    done = batchtui("cancel-batch", "batch_x", env=env, check=False)
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "batchtui: No API key for profile 'default': set OPENAI_API_KEY, or api_key_env in its config.toml section"
    )


def test_list_batches_offline_shows_the_cache(env, isolated_home, sandbox_url, write_batch_file):
    batch_id = a_batch_then_offline(isolated_home, sandbox_url, write_batch_file(2), env)
    done = batchtui("list-batches", "--profile", "lab", env=env)
    assert done.stderr.startswith("batchtui: showing cached batches only: Cannot reach the API")
    assert batch_id in done.stdout


def test_version(env):
    assert batchtui("--version", env=env).stdout.strip() == __version__


APP_FIRST_PAINT = """
import asyncio, sys
from batchtui.core.config import resolve_profile
from batchtui.core.workspace import Workspace
import batchtui.tui.app

async def first_paint():
    async with await Workspace.open(resolve_profile(None)) as workspace:
        await workspace.last_synced()
        await workspace.batches(limit=100)

asyncio.run(first_paint())
"""


@pytest.mark.parametrize(("code", "not_loaded"), [
    (APP_FIRST_PAINT, ("openai", "pydantic", "cyclopts", "batchtui.tui.screens.batch_detail")),
    ("import batchtui.cli.app_sandbox, batchtui.tui.viewer_app", ("openai", "pydantic", "batchtui.tui.app")),
    ("import batchtui.cli; batchtui.cli.main()", ("cyclopts", "batchtui.core.config")),
], ids=["app", "view", "version"])
def test_what_a_fast_start_leaves_unloaded(isolated_home, code, not_loaded):
    """The cold start (docs/benchmarks.md) rests on this: the app reads its cache and the viewer starts without the
    openai SDK (0.35 s to import) or pydantic, the app without cyclopts or its other screens, and `--version`
    without the commands."""
    check = f"\nimport sys\nprint([name for name in {not_loaded!r} if name in sys.modules])"
    done = subprocess.run([sys.executable, "-c", code + check, "--version"], capture_output=True, text=True,
                          env=os.environ | {"OPENAI_API_KEY": "sk-unused"}, check=True)
    assert done.stdout.splitlines()[-1] == "[]"


def test_view_names_a_missing_file_in_one_line(isolated_home, tmp_path):
    env = {**os.environ, "BATCHTUI_HOME": str(isolated_home)}
    done = batchtui("view", str(tmp_path / "nope.jsonl"), env=env, check=False)
    assert done.returncode == 1 and done.stderr == f"batchtui: {tmp_path / 'nope.jsonl'}: no such file\n"
    done = batchtui("view", env=env, check=False)
    assert done.returncode == 1
    assert done.stderr == "batchtui: view: name at least one file: OUTPUT, --input or --errors\n"


def test_results_fetched_or_exported_fill_llm_logs(env, write_batch_file, tmp_path):
    """`get-batch-results` puts what it downloads into llm_logs (the issue's `8 | 0` after --wait and export), and
    so does `export-results`, each for a finished batch; the responses are then there for `sql`."""
    def log_counts() -> str:
        return batchtui("sql", "SELECT count(*), count(response) FROM llm_logs", "--format", "csv",
                        env=env).stdout.splitlines()[-1]

    fetched = batchtui("start-batch", batchtui("upload-batch-file", str(write_batch_file(8)), env=env).stdout.strip(),
                       env=env).stdout.strip()
    batchtui("get-batch-results", fetched, "-o", str(tmp_path / "out"), "--wait", "--poll-seconds", "1", env=env)
    assert log_counts() == "8,8"
    exported = batchtui("start-batch", batchtui("upload-batch-file", str(write_batch_file(5)), env=env).stdout.strip(),
                        env=env).stdout.strip()
    for _ in range(100):  # wait without downloading: `show` only looks
        if json.loads(batchtui("show", exported, "--json", env=env).stdout)["batch"]["status"] == "completed":
            break
    assert log_counts() == "13,8"  # started from here: its requests are rows, no responses yet
    batchtui("export-results", exported, "-o", str(tmp_path / "answers.csv"), env=env)
    assert log_counts() == "13,13"

    # ...and validate estimates the output of a new file's requests without max_tokens from them
    checked = batchtui("validate", str(write_batch_file(3, name="next.jsonl")), env=env).stdout
    assert "  estimated from: 13 past requests of gpt-4o-mini in llm_logs: " in checked
    assert "cost: about $" in checked and "partly estimated" in checked
