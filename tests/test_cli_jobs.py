"""`batchtui job ...` as a user runs it, against a sandbox process: start in the foreground and detached, the
report of a bad input (nothing uploaded), the cost ceiling, list, show, run, cancel and export."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from cli_helpers import batchtui


@pytest.fixture
def env(cli_env) -> dict[str, str]:
    return cli_env


def test_start_runs_the_job_to_its_end_and_exports_it(env, write_batch_file, tmp_path):
    source = write_batch_file(250)
    done = batchtui("job", "start", str(source), "--part-lines", "100", "--poll-seconds", "0.2", env=env)
    job_id, summary = done.stdout.strip().split(": ", 1)
    assert job_id.startswith("job_") and summary.startswith("completed · parts 3/3 done · 250/250 ok")
    assert "requests.jsonl: 250 requests to /v1/chat/completions, model gpt-4o-mini" in done.stderr
    assert f"{job_id}: 3 parts of at most 100 requests" in done.stderr

    shown = json.loads(batchtui("job", "show", job_id[:10], "--json", env=env).stdout)
    assert shown["status"] == "completed" and shown["requests"] == {"total": 250, "succeeded": 250, "failed": 0,
                                                                     "pending": 0}
    assert [len(p["batches"]) for p in shown["parts"]] == [1, 1, 1]
    assert all(p["batches"][0]["status"] == "completed" for p in shown["parts"])
    text = batchtui("job", "show", "requests", env=env).stdout  # by name
    assert "part 3: 50 requests, 50 ok, 0 failed, 0 pending (done)" in text

    listed = batchtui("job", "list", env=env).stdout.splitlines()
    assert len(listed) == 1 and listed[0].startswith(f"{job_id}  completed") and "parts 3/3" in listed[0]

    out = tmp_path / "answers.csv"
    assert batchtui("job", "export", job_id, "-o", str(out), env=env).stderr.strip().endswith(
        f"250 rows written to {out}")
    rows = list(csv.DictReader(out.open()))
    assert [r["custom_id"] for r in rows] == [f"row-{i}" for i in range(250)]
    assert list(rows[0]) == ["custom_id", "status", "error", "prompt", "answer", "tokens"] and rows[0]["answer"]


def test_a_template_job_exports_the_data_with_its_answers(env, tmp_path):
    template = tmp_path / "prompt.json"
    template.write_text('{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Name {{fruit}}."}]}')
    data = tmp_path / "fruit.csv"
    data.write_text("id,fruit\n" + "".join(f"f{i},fruit number {i}\n" for i in range(30)))
    detached = batchtui("job", "start", str(template), str(data), "--part-lines", "10", "--detach", "--json", env=env)
    job_id = json.loads(detached.stdout)["id"]
    assert json.loads(batchtui("job", "show", job_id, "--json", env=env).stdout)["requests"]["pending"] == 30
    ran = batchtui("job", "run", job_id, "--poll-seconds", "0.2", "--json", env=env)
    assert json.loads(ran.stdout)["status"] == "completed"
    out = tmp_path / "fruit-answers.csv"
    batchtui("job", "export", job_id, "-o", str(out), env=env)
    rows = list(csv.DictReader(out.open()))
    assert list(rows[0]) == ["id", "fruit", "status", "answer", "tokens"]
    assert [r["id"] for r in rows] == [f"f{i}" for i in range(30)] and all(r["answer"] for r in rows)


def test_a_bad_input_is_reported_whole_and_nothing_is_sent(env, tmp_path, sandbox_url):
    source = tmp_path / "bad.jsonl"
    good = '{"custom_id": "r%d", "method": "POST", "url": "/v1/chat/completions", "body": {"model": "gpt-4o-mini", ' \
           '"messages": [{"role": "user", "content": "hi"}]}}\n'
    lines = [good % i for i in range(25)]
    lines[3] = "{not json\n"
    lines[17] = good % 2  # a custom_id of part 1, again in part 2
    source.write_text("".join(lines))
    done = batchtui("job", "start", str(source), "--part-lines", "10", env=env, check=False)
    assert done.returncode == 1 and done.stdout == ""
    assert "2 problems:" in done.stderr
    assert "bad.jsonl line 4: invalid_json_line" in done.stderr
    assert "bad.jsonl line 18: duplicate_custom_id: custom_id 'r2' is used in part 1 of the job too" in done.stderr
    assert batchtui("job", "list", "--json", env=env).stdout.strip() == "[]"


def test_the_ceiling_refuses_a_job_estimated_over_it(env, tmp_path):
    source = tmp_path / "big.jsonl"
    source.write_text("".join(
        json.dumps({"custom_id": f"r{i}", "method": "POST", "url": "/v1/chat/completions",
                    "body": {"model": "gpt-4o", "max_tokens": 4000, "messages": [{"role": "user", "content": "hi"}]}})
        + "\n" for i in range(100)))
    done = batchtui("job", "start", str(source), "--max-cost", "$0.50", env=env, check=False)
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1].startswith("batchtui: The job was not started: its estimate, $2.0")
    assert done.stderr.splitlines()[-1].endswith("is over the ceiling of $0.50. Nothing was uploaded.")


@pytest.mark.parametrize(("args", "message"), [
    (["--part-lines", "0"], "--part-lines must be from 1 to 50,000, not 0."),
    (["--max-attempts", "0"], "--max-attempts must be from 1 to 100, not 0."),
    (["--max-cost", "lots"], "--max-cost lots: not an amount in USD, e.g. 25 or 2.50"),
    (["--max-cost", "-3"], "--max-cost -3: must be more than 0"),
    (["--poll-seconds", "0"], "--poll-seconds 0: must be at least 0.1"),
])
def test_bad_options_are_one_line(env, write_batch_file, args, message):
    done = batchtui("job", "start", str(write_batch_file(3)), *args, env=env, check=False)
    assert (done.returncode, done.stderr) == (2, f"batchtui: {message}\n")


def test_an_unknown_job_is_one_line(env):
    done = batchtui("job", "show", "job_nothing", env=env, check=False)
    assert (done.returncode, done.stderr) == (
        1, "batchtui: No job 'job_nothing' in this cache: `batchtui job list` shows the jobs.\n")


def test_cancel_stops_a_detached_job(env, write_batch_file):
    job_id = batchtui("job", "start", str(write_batch_file(40)), "--detach", env=env).stdout.strip()
    assert batchtui("job", "cancel", job_id, env=env).stdout.strip() == f"{job_id}: cancelled"
    ran = batchtui("job", "run", job_id, env=env, check=False)
    assert ran.returncode == 1 and ran.stdout.startswith(f"{job_id}: cancelled · parts 0/1 done")


def test_run_with_a_new_ceiling_sets_it(env, write_batch_file):
    job_id = batchtui("job", "start", str(write_batch_file(10)), "--max-cost", "5", "--detach", env=env).stdout.strip()
    ran = json.loads(batchtui("job", "run", job_id, "--max-cost", "7.5", "--poll-seconds", "0.2", "--json",
                              env=env).stdout)
    assert ran["status"] == "completed" and ran["max_cost_usd"] == "7.5"


def test_delete_forgets_an_ended_job_and_its_files(env, write_batch_file):
    job_id = batchtui("job", "start", str(write_batch_file(10)), "--detach", env=env).stdout.strip()
    refused = batchtui("job", "delete", job_id, env=env, check=False)
    assert (refused.returncode, refused.stderr) == (
        1, f"batchtui: {job_id} is running: cancel it first (batchtui job cancel).\n")
    batchtui("job", "run", job_id, "--poll-seconds", "0.2", env=env)
    deleted = batchtui("job", "delete", job_id, env=env)
    assert deleted.stderr.startswith(f"batchtui: {job_id} (requests) deleted, with its folder ")
    folder = Path(deleted.stderr.strip().rsplit(" ", 1)[1])
    assert folder.name == job_id and not folder.exists()
    assert batchtui("job", "list", "--json", env=env).stdout.strip() == "[]"
