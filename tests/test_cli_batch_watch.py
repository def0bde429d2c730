"""Watching one batch from a script: `get-batch-results --wait` says how the wait goes, `show` prints the detail,
and the exits a `set -e` script relies on (retry with nothing to retry, list-batches with no key)."""

from __future__ import annotations

import io
import json

import pytest
from cli_helpers import a_batch_then_offline, batchtui, on_a_terminal

from batchtui.cli.render import WaitLine, wait_text
from batchtui.core.api.models import Batch
from batchtui.core.cache.store import ProgressObservation
from batchtui.core.config import Profile
from batchtui.core.insights.progress import batch_progress
from batchtui.core.workspace import Workspace
from batchtui.sandbox import SandboxConfig, SandboxServer

NO_KEY = "batchtui: No API key for profile 'default': set OPENAI_API_KEY, or api_key_env in its config.toml section"


@pytest.fixture
def env(cli_env) -> dict[str, str]:
    return cli_env


def started(env: dict[str, str], path) -> str:
    file_id = batchtui("upload-batch-file", str(path), env=env).stdout.strip()
    return batchtui("start-batch", file_id, env=env).stdout.strip()


def test_wait_without_a_terminal_says_each_status_change_once(env, write_batch_file, tmp_path):
    batch_id = started(env, write_batch_file(50))
    done = batchtui("get-batch-results", batch_id, "-o", str(tmp_path), "--wait", "--poll-seconds", "1", env=env)
    lines = done.stderr.splitlines()
    assert lines and all(line.startswith(f"batchtui: {batch_id}: ") for line in lines), done.stderr
    statuses = [line.removeprefix(f"batchtui: {batch_id}: ").split(" · ")[0] for line in lines]
    assert len(statuses) == len(set(statuses)), statuses  # a line per change, not per poll
    assert lines[-1].startswith(f"batchtui: {batch_id}: completed · 50/50 done · took ")
    assert done.stdout.splitlines()[0] == f"{batch_id}: completed, requests 50/50"  # what scripts read, as before


def test_wait_on_a_terminal_rewrites_one_line(env, write_batch_file, tmp_path):
    batch_id = started(env, write_batch_file(50))
    done, said = on_a_terminal("get-batch-results", batch_id, "-o", str(tmp_path), "--wait", "--poll-seconds", "1",
                               env=env)
    assert done.returncode == 0, said
    stdout = done.stdout
    waiting = said.split("\n")[0]  # the live line, then the download's own line
    assert waiting.startswith("\r") and "completed · 50/50 done · took " in waiting.split("\r")[-2]
    assert batch_id not in waiting  # the user typed it: the line keeps its room for the figures
    assert stdout.splitlines()[0] == f"{batch_id}: completed, requests 50/50"


def running(done: int, total: int = 500, failed: int = 0, *, status: str = "in_progress", **times) -> Batch:
    return Batch.from_dict({
        "id": "batch_1", "object": "batch", "endpoint": "/v1/chat/completions", "input_file_id": "file-1",
        "completion_window": "24h", "status": status, "created_at": 1_000, "in_progress_at": 1_010,
        "expires_at": 1_000 + 86_400, "request_counts": {"completed": done - failed, "failed": failed, "total": total},
        **times,
    })


def test_the_live_line_has_status_counts_rate_eta_and_elapsed():
    seen = [ProgressObservation("batch_1", at, "in_progress", done, 0, 500) for at, done in ((1_500, 0), (1_560, 100))]
    batch = running(120, failed=3)
    text = wait_text(batch, batch_progress(batch, seen, 1_570.0), 1_570.0)
    assert text == "in_progress · 120/500 done, 3 failed · 100 lines/min · ETA 3m 48s · elapsed 9m 30s"

    stream = io.StringIO()
    with WaitLine(stream, live=True) as line:
        line(batch, batch_progress(batch, seen, 1_570.0))
        line.say("Rate limited (waiting: next try in 10 s)")
        finished = running(500, status="completed", finalizing_at=1_600, completed_at=1_605)
        line(finished, batch_progress(finished, seen, 1_610.0))
    first = "\rin_progress · 120/500 done, 3 failed · 100 lines/min · ETA "
    assert stream.getvalue().startswith(first)
    cleared, _, rest = stream.getvalue().partition("batchtui: Rate limited (waiting: next try in 10 s)\n")
    assert cleared.endswith("\r" + " " * (len(cleared.split("\r")[1])) + "\r")  # the live line wiped, not overwritten
    assert rest == "\rcompleted · 500/500 done · took 10m 05s\n"


async def test_wait_for_tells_each_poll_with_its_progress(tmp_path, write_batch_file):
    heard = []
    with SandboxServer(SandboxConfig(speed=30.0)) as server:  # 300 lines take ~5 s in progress: a rate to measure
        profile = Profile(name="test", base_url=server.base_url, api_key="sk-test")
        async with await Workspace.open(profile, cache_dir=tmp_path / "cache") as ws:
            uploaded = await ws.upload(write_batch_file(300))
            batch = await ws.start_batch(uploaded.id, "/v1/chat/completions")
            done = await ws.wait_for(batch.id, 1, on_poll=lambda b, progress: heard.append((b, progress)))
    assert heard[-1][0] == done and done.status == "completed" and heard[-1][1].done == 300
    assert all(b.status in ("validating", "in_progress", "finalizing") for b, _ in heard[:-1])
    rates = [p.rate_per_minute for b, p in heard if b.status == "in_progress" and p.rate_per_minute]
    assert rates, heard


def test_show_prints_the_detail_and_json(env, write_batch_file, tmp_path):
    batch_id = started(env, write_batch_file(20))
    batchtui("get-batch-results", batch_id, "--wait", "--poll-seconds", "1", "-o", str(tmp_path), env=env)
    shown = batchtui("show", batch_id, env=env).stdout.splitlines()
    assert shown[0] == f"{batch_id}  completed"
    assert "requests   20 total, 20 completed, 0 failed" in shown
    timeline = shown[shown.index("timeline") + 1: shown.index("files")]
    assert [row.split()[0] for row in timeline] == ["validating", "in_progress", "finalizing", "completed"]
    assert all(row.split()[-1].endswith("s") for row in timeline[:-1])  # each phase's duration
    assert any(row.startswith("  output  file-") for row in shown) and any(row.startswith("cost       $")
                                                                         for row in shown)

    detail = json.loads(batchtui("show", batch_id, "--json", env=env).stdout)
    assert detail["batch"]["id"] == batch_id and detail["batch"]["request_counts"]["total"] == 20
    assert [step["status"] for step in detail["timeline"]] == ["validating", "in_progress", "finalizing", "completed"]
    assert all(isinstance(step["seconds"], float) for step in detail["timeline"][:-1])
    assert float(detail["cost"]["total_usd"]) > 0 and detail["cost"]["basis"]


def test_show_lists_the_validation_errors(env, tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"custom_id": "a", "method": "POST", "url": "/v1/nope", "body": {}}\n')
    batch_id = started(env, path)
    batchtui("get-batch-results", batch_id, "--wait", "--poll-seconds", "1", "-o", str(tmp_path), env=env)
    shown = batchtui("show", batch_id, env=env).stdout.splitlines()
    assert shown[0] == f"{batch_id}  failed" and "errors     1" in shown
    assert shown[-1].startswith("  line 1: invalid_url (url): ")
    assert json.loads(batchtui("show", batch_id, "--json", env=env).stdout)["batch"]["errors"]["data"][0]["line"] == 1


def test_show_an_unknown_batch_is_one_line(env):
    done = batchtui("show", "batch_missing", env=env, check=False)
    assert done.returncode == 1 and done.stderr.count("\n") == 1 and "Not found" in done.stderr


def test_retry_with_nothing_to_retry_exits_0(env, write_batch_file, tmp_path):
    batch_id = started(env, write_batch_file(5))
    batchtui("get-batch-results", batch_id, "--wait", "--poll-seconds", "1", "-o", str(tmp_path), env=env)
    done = batchtui("retry-batch", batch_id, env=env)
    assert done.stdout == ""
    assert done.stderr == f"batchtui: {batch_id}: no failed, expired or cancelled requests to retry; nothing sent\n"
    done = batchtui("retry-batch", batch_id, "--only", "failed", "--json", env=env)
    assert json.loads(done.stdout) is None
    assert done.stderr == f"batchtui: {batch_id}: no failed requests to retry; nothing sent\n"


@pytest.mark.parametrize("args", [["list-batches"], ["list-batches", "--json"]])
def test_list_batches_with_no_key_and_nothing_cached_fails(env, args):
    del env["OPENAI_API_KEY"]
    done = batchtui(*args, env=env, check=False)
    assert (done.returncode, done.stdout, done.stderr) == (1, "", NO_KEY + "\n")


def test_list_batches_offline_with_nothing_cached_fails(env):
    env["OPENAI_BASE_URL"] = "http://127.0.0.1:9/v1"
    done = batchtui("list-batches", env=env, check=False)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith("batchtui: Cannot reach the API at http://127.0.0.1:9/v1") and done.stderr.count(
        "\n") == 1


def test_show_offline_shows_the_cached_copy_and_says_so(env, isolated_home, sandbox_url, write_batch_file):
    batch_id = a_batch_then_offline(isolated_home, sandbox_url, write_batch_file(2), env)
    done = batchtui("show", batch_id, "--profile", "lab", env=env)
    assert done.stderr.startswith("batchtui: showing the cached copy only: Cannot reach the API")
    assert done.stdout.startswith(f"{batch_id}  ")
