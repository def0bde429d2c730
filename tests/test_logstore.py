"""The team's log store on a real PostgreSQL (pgserver runs one from its wheel, no system install): imports push
their rows as jsonb, pushes upsert (two people, one row each), a failed push waits and never blocks the cache,
`logs status` and `logs push` say what is where, and `sql --on store` runs the proxy loggers' queries verbatim,
read-only."""

from __future__ import annotations

import json
import os

import pytest
from cli_helpers import batchtui

from batchtui.core.config import LogStoreSettings, Profile
from batchtui.core.logstore import LogStoreError
from batchtui.core.workspace import Workspace

psycopg = pytest.importorskip("psycopg")


def chat_lines(count: int) -> str:
    return "".join(json.dumps({"custom_id": f"person-{i}" if i % 2 else f"item-{i}", "method": "POST",
                               "url": "/v1/chat/completions",
                               "body": {"model": "gpt-4o-mini", "temperature": 0.5,
                                        "messages": [{"role": "user", "content": f"Describe {i}."}]}}) + "\n"
                   for i in range(count))


async def a_finished_batch(ws: Workspace, tmp_path, count: int = 40):
    path = tmp_path / "in.jsonl"
    path.write_text(chat_lines(count))
    batch = await ws.start_batch((await ws.upload(path)).id, "/v1/chat/completions")
    return await ws.wait_for(batch.id, 1)


def rows_in(url: str, sql: str, *args: object) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, args).fetchall()


async def test_an_import_pushes_its_rows_as_jsonb_and_pushing_again_upserts(fresh_sandbox, store_url, tmp_path):
    settings = LogStoreSettings(url=store_url)
    alice = Profile(name="alice", base_url=fresh_sandbox.base_url, api_key="sk-test", log_store=settings)
    async with await Workspace.open(alice, cache_dir=tmp_path / "alice") as ws:
        batch = await a_finished_batch(ws, tmp_path)
        await ws.import_batch(batch, force=True)
        status = await __import__("asyncio").to_thread(ws.log_store().status)
        assert status.pushed == [(batch.id, 40)] and status.waiting == []
    (types,) = rows_in(store_url, "SELECT pg_typeof(request)::text, pg_typeof(response)::text, "
                                  "pg_typeof(metadata)::text, pg_typeof(created_at)::text FROM llm_logs LIMIT 1")
    assert types == ("jsonb", "jsonb", "jsonb", "timestamp with time zone")
    assert rows_in(store_url, "SELECT count(*), count(response), min(pushed_by) FROM llm_logs WHERE batch_id = %s",
                   batch.id) == [(40, 40, "alice")]

    bob = Profile(name="bob", base_url=fresh_sandbox.base_url, api_key="sk-test", log_store=settings)
    async with await Workspace.open(bob, cache_dir=tmp_path / "bob") as ws:
        await ws.import_batch(batch.id, force=True)
    assert rows_in(store_url, "SELECT count(*), count(DISTINCT custom_id) FROM llm_logs") == [(40, 40)], \
        "two people pushing one batch leave one row per request"


async def test_a_push_that_fails_waits_and_never_blocks_the_cache(fresh_sandbox, store_url, tmp_path):
    down = LogStoreSettings(url="postgresql://team:s3cret@127.0.0.1:9/nowhere")
    profile = Profile(name="p", base_url=fresh_sandbox.base_url, api_key="sk-test", log_store=down)
    async with await Workspace.open(profile, cache_dir=tmp_path / "cache") as ws:
        batch = await a_finished_batch(ws, tmp_path)
        imported = await ws.import_batch(batch, force=True)
        assert imported.rows == 40, "the local rows are in"
        with pytest.raises(LogStoreError) as failed:
            await ws.push_logs()
        assert "s3cret" not in str(failed.value) and "postgresql://***@127.0.0.1:9/nowhere" in str(failed.value)
        assert "\n" not in str(failed.value)
        assert (await ws.log_finished()).push_problem == str(failed.value)
    up = Profile(name="p", base_url=fresh_sandbox.base_url, api_key="sk-test",
                 log_store=LogStoreSettings(url=store_url), log_finished=False)
    async with await Workspace.open(up, cache_dir=tmp_path / "cache") as ws:
        passed = await ws.log_finished(imports=False)  # the app's pass after a sync, importing nothing itself
        assert passed.push_problem is None and passed.imported == []
        assert rows_in(store_url, "SELECT count(*) FROM llm_logs") == [(40,)]
        assert (await ws.push_logs()).batches == 0, "nothing waits any more"


def test_logs_commands_and_the_proxy_queries_on_the_store(cli_env, store_url, write_batch_file, tmp_path):
    env = {**cli_env, "BATCHTUI_LOG_STORE": store_url}
    source = tmp_path / "people.jsonl"
    source.write_text(chat_lines(30))
    batch_id = batchtui("start-batch", batchtui("upload-batch-file", str(source), env=env).stdout.strip(),
                        env=env).stdout.strip()
    batchtui("get-batch-results", batch_id, "--wait", "--poll-seconds", "1", "-o", str(tmp_path / "out"), env=env)
    status = json.loads(batchtui("logs", "status", "--json", env=env).stdout)
    assert status["waiting"] == [] and status["pushed"] == [{"batch_id": batch_id, "rows": 30}]
    assert batchtui("logs", "push", "--all", env=env).stderr == "batchtui: pushed 0 batches, 0 rows\n"
    assert batchtui("logs", "push", batch_id, env=env).stderr == "batchtui: pushed 1 batch, 30 rows\n"

    def on_store(sql: str) -> list[dict]:
        return json.loads(batchtui("sql", "--on", "store", "--format", "json", sql, env=env).stdout)

    people = on_store("SELECT metadata -> 'batch' ->> 'custom_id' AS custom_id, request -> 'body' ->> 'temperature' "
                      "AS temperature FROM llm_logs WHERE metadata -> 'batch' ->> 'custom_id' LIKE 'person%'")
    assert len(people) == 15 and {p["temperature"] for p in people} == {"0.5"}
    assert on_store("SELECT count(*) AS n FROM llm_logs WHERE metadata ? 'batch'") == [{"n": 30}]
    by_model = on_store("SELECT metadata ->> 'model' AS model, count(*) AS requests, "
                        "sum((response -> 'body' -> 'usage' ->> 'total_tokens')::int) AS tokens "
                        "FROM llm_logs WHERE metadata ? 'batch' GROUP BY 1")
    assert [(m["model"], m["requests"]) for m in by_model] == [("gpt-4o-mini-2024-07-18", 30)]
    assert by_model[0]["tokens"] > 0

    refused = batchtui("sql", "--on", "store", "DELETE FROM llm_logs", env=env, check=False)
    assert refused.returncode == 1 and "read-only transaction" in refused.stderr
    assert len(refused.stderr.splitlines()) == 1
    assert on_store("SELECT count(*) AS n FROM llm_logs") == [{"n": 30}]


def test_without_a_store_the_commands_say_how_to_set_one(cli_env):
    done = batchtui("logs", "status", env=cli_env, check=False)
    assert (done.returncode, done.stderr) == (1, 'batchtui: no log store is set: add [log_store] url = '
                                                 '"postgresql://..." to config.toml, or set BATCHTUI_LOG_STORE\n')


def test_a_log_store_in_the_config_and_its_mistakes(tmp_path, monkeypatch):
    from batchtui.core.config import resolve_profile
    from batchtui.core.errors import ConfigError

    config = tmp_path / "config.toml"
    config.write_text('[log_store]\nurl = "postgresql://me@db.example.com/team"\npassword_env = "TEAM_PG"\n')
    store = resolve_profile(config_path=config).log_store
    assert store == LogStoreSettings("postgresql://me@db.example.com/team", "TEAM_PG")
    with pytest.raises(ConfigError, match=r"password variable TEAM_PG \(password_env\) is not set"):
        store.connect_args()
    monkeypatch.setenv("TEAM_PG", "pw")
    assert store.connect_args()["password"] == "pw"
    config.write_text('[log_store]\nurl = "mysql://x"\n')
    with pytest.raises(ConfigError, match="is not a postgresql:// URL"):
        resolve_profile(config_path=config)
    monkeypatch.setenv("BATCHTUI_LOG_STORE", "postgresql://env@h/db")
    assert resolve_profile(config_path=config).log_store == LogStoreSettings("postgresql://env@h/db")
    assert os.environ["BATCHTUI_LOG_STORE"]


def test_without_psycopg_the_commands_say_how_to_install_it(cli_env, store_url):
    """psycopg blocked in the process (nothing uninstalled): one line naming the extra."""
    import subprocess
    import sys

    code = "import sys; sys.modules['psycopg'] = None; from batchtui.cli import main; main()"
    for args in (["logs", "push", "--all"], ["sql", "--on", "store", "SELECT 1"]):
        done = subprocess.run([sys.executable, "-c", code, *args], env={**cli_env, "BATCHTUI_LOG_STORE": store_url},
                              capture_output=True, text=True, timeout=60)
        assert (done.returncode, done.stderr) == (
            1, "batchtui: The log store needs psycopg: pip install 'batchtui[postgres]'\n"), args


def test_an_import_whose_push_fails_says_so_and_succeeds(cli_env, write_batch_file, tmp_path):
    env = {**cli_env, "BATCHTUI_LOG_STORE": "postgresql://team:s3cret@127.0.0.1:9/nowhere"}
    file_id = batchtui("upload-batch-file", str(write_batch_file(5)), env=env).stdout.strip()
    batch_id = batchtui("start-batch", file_id, env=env).stdout.strip()
    done = batchtui("get-batch-results", batch_id, "--wait", "--poll-seconds", "1", "-o", str(tmp_path), env=env)
    (said,) = [line for line in done.stderr.splitlines() if "log store" in line]
    assert said.startswith("batchtui: The log store at postgresql://***@127.0.0.1:9/nowhere: ")
    assert said.endswith("(the rows wait: `batchtui logs push` sends them)") and "s3cret" not in done.stderr
    status = json.loads(batchtui("logs", "status", "--json", env=env).stdout)
    assert status["waiting"] == [{"batch_id": batch_id, "rows": 5}]
