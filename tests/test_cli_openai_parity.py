"""The CLI against the sandbox speaking as OpenAI does today (issue 17): expiry parameters passed as OpenAI takes
them, a cancel of a finished batch read as "already finished", a batch refused for the enqueued-token limit."""

from __future__ import annotations

import json
import os

import pytest
from cli_helpers import batchtui, sandbox_process
from openai import OpenAI

from batchtui.core.domain import parse_expiry


@pytest.fixture
def env(cli_env) -> dict[str, str]:
    return cli_env


def test_expiry_options_reach_the_api(env, write_batch_file, tmp_path):
    uploaded = json.loads(batchtui("upload-batch-file", str(write_batch_file(3)), "--expires-after", "30d", "--json",
                                   env=env).stdout)
    assert uploaded["expires_at"] - uploaded["created_at"] == 30 * 86400  # 43 min on a sandbox at speed 1000
    batch_id = batchtui("start-batch", uploaded["id"], "--output-expires-after", "7d", env=env).stdout.strip()
    batchtui("get-batch-results", batch_id, "--wait", "--poll-seconds", "1", "-o", str(tmp_path), env=env)
    shown = json.loads(batchtui("show", batch_id, "--json", env=env).stdout)["batch"]
    output = OpenAI(base_url=env["OPENAI_BASE_URL"], api_key="sk-test").files.retrieve(shown["output_file_id"])
    assert output.expires_at - output.created_at == 7 * 86400


@pytest.mark.parametrize(("args", "message"), [
    (["upload-batch-file", "X", "--expires-after", "10m"], "--expires-after: '10m' is 600 seconds; OpenAI takes 1h"),
    (["start-batch", "file-x", "--output-expires-after", "soon"], "--output-expires-after: 'soon' is not a duration"),
])
def test_an_expiry_openai_would_refuse_is_a_usage_error(env, write_batch_file, args, message):
    args = [str(write_batch_file(1)) if arg == "X" else arg for arg in args]
    done = batchtui(*args, env=env, check=False)
    assert done.returncode == 2 and message in done.stderr and done.stdout == ""


def test_cancelling_a_finished_batch_says_it_had_finished(env, write_batch_file, tmp_path):
    file_id = batchtui("upload-batch-file", str(write_batch_file(2)), env=env).stdout.strip()
    batch_id = batchtui("start-batch", file_id, env=env).stdout.strip()
    batchtui("get-batch-results", batch_id, "--wait", "--poll-seconds", "1", "-o", str(tmp_path), env=env)
    done = batchtui("cancel-batch", batch_id, env=env, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{batch_id}: completed"
    assert "had already finished (completed): nothing to cancel" in done.stderr and "409" not in done.stderr


@pytest.mark.parametrize(("text", "seconds"), [("7d", 604800), ("12h", 43200), ("90m", 5400), ("3600", 3600),
                                               ("2w", 1209600), ("30d", 2592000), (" 1H ", 3600)])
def test_durations_openai_takes(text, seconds):
    assert parse_expiry(text) == seconds


@pytest.mark.parametrize("text", ["59m", "31d", "", "d", "1.5h", "-1h", "7 days"])
def test_durations_openai_refuses(text):
    with pytest.raises(ValueError):
        parse_expiry(text)


def test_a_batch_over_the_enqueued_token_limit_says_what_to_do(isolated_home, write_batch_file):
    with sandbox_process("--enqueued-token-limit", "10") as url:
        env = {**os.environ, "OPENAI_BASE_URL": url, "OPENAI_API_KEY": "sk-test", "BATCHTUI_HOME": str(isolated_home)}
        file_id = batchtui("upload-batch-file", str(write_batch_file(3)), env=env).stdout.strip()
        batch_id = batchtui("start-batch", file_id, env=env).stdout.strip()
        done = batchtui("get-batch-results", batch_id, "--wait", "--poll-seconds", "1", "--json", env=env)
        assert json.loads(done.stdout)["batch"]["status"] == "failed"
        shown = batchtui("show", batch_id, env=env).stdout.splitlines()
    advice = next(i for i, line in enumerate(shown) if line.startswith("Not run: "))
    assert "queued and running gpt-4o-mini batches" in shown[advice] and "submit the same input file" in shown[advice]
    assert shown[advice + 1] == (f"  submit it again: batchtui start-batch {file_id} "
                                 "--endpoint /v1/chat/completions")
    assert any("token_limit_exceeded: Enqueued token limit reached for gpt-4o-mini" in line for line in shown)
