"""The CLI as an unlucky or careless user meets it: typos, a full disk, a file where a folder should be, a closed
pipe, a password in a URL, a formula in the data. Each ends in its answer or one line, and loses nothing."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_helpers import batchtui
from mounts import tmpfs


@pytest.fixture
def env(cli_env) -> dict[str, str]:
    return cli_env


@pytest.fixture
def full_disk(tmp_path) -> Iterator[Path]:
    """A folder on a 64 KB tmpfs that is full to the last byte."""
    with tmpfs(tmp_path / "full", "64k") as folder:
        with (folder / "filler").open("wb") as filler, pytest.raises(OSError):
            filler.write(os.urandom(1 << 20))
            filler.flush()
        yield folder


def one_line(done: subprocess.CompletedProcess[str]) -> str:
    """The single stderr line of a failed command, checked to be just that."""
    lines = done.stderr.splitlines()
    assert done.returncode != 0 and len(lines) == 1 and lines[0].startswith("batchtui: "), done.stderr
    return lines[0]


def finished_batch(env: dict[str, str], batch_file: Path, out: Path) -> str:
    file_id = batchtui("upload-batch-file", str(batch_file), env=env).stdout.strip()
    batch_id = batchtui("start-batch", file_id, env=env).stdout.strip()
    batchtui("get-batch-results", batch_id, "--wait", "--poll-seconds", "1", "-o", str(out), env=env)
    return batch_id


def test_export_never_replaces_the_batchs_data_input_or_manifest_and_guards_formulas(env, tmp_path):
    template = tmp_path / "template.json"
    template.write_text('{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "{{text}}"}]}')
    data = tmp_path / "d.csv"
    data.write_text('id,text\n"=HYPERLINK(""http://evil.example"",""x"")",=1+1\n@2,-5\n-3,+2\n')
    batch_file = Path(batchtui("make-batch-file", str(template), str(data), "-o", str(tmp_path / "d.jsonl"),
                               env=env).stdout.strip())
    manifest = tmp_path / "d.manifest.json"
    batch_id = finished_batch(env, batch_file, tmp_path / "raw")

    for own in (data, batch_file, manifest):
        before = own.read_bytes()
        line = one_line(batchtui("export-results", batch_id, "-o", str(own), env=env, check=False))
        assert str(own) in line and "is a file of the batch itself" in line
        assert own.read_bytes() == before

    out = tmp_path / "answers.csv"
    batchtui("export-results", batch_id, "-o", str(out), env=env)
    with out.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(row["id"], row["text"]) for row in rows] == [
        ("'=HYPERLINK(\"http://evil.example\",\"x\")", "'=1+1"), ("'@2", "-5"), ("-3", "+2")]


def test_a_password_or_query_in_base_url_is_never_shown(env, isolated_home):
    config = isolated_home / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text('[profiles.p]\nbase_url = "http://user:hunter2@127.0.0.1:9/v1?token=tok3n"\napi_key = "sk-x"\n')
    done = batchtui("list-batches", "--profile", "p", env=env, check=False)
    assert done.returncode == 1  # nothing cached to show instead
    assert "hunter2" not in done.stderr + done.stdout and "tok3n" not in done.stderr
    assert "http://***@127.0.0.1:9/v1?***" in done.stderr


@pytest.mark.parametrize(("setting", "fragment"), [
    ('base_url = "not a url"', "base_url 'not a url' is not a URL"),
    ('base_url = "http://127.0.0.1:99999/v1"', "is not a URL (Port out of range"),
])
def test_a_base_url_that_is_no_url_says_so(env, isolated_home, setting, fragment):
    config = isolated_home / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f'[profiles.p]\n{setting}\napi_key = "sk-x"\n')
    assert fragment in one_line(batchtui("list-batches", "--profile", "p", env=env, check=False))
    env["OPENAI_BASE_URL"] = "not a url"
    assert "OPENAI_BASE_URL 'not a url' is not a URL" in one_line(batchtui("list-batches", env=env, check=False))


def test_a_profile_name_cannot_put_the_cache_outside_its_folder(env, isolated_home, tmp_path):
    config = isolated_home / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f'[profiles."../../escaped"]\nbase_url = "{env["OPENAI_BASE_URL"]}"\napi_key = "sk-x"\n')
    line = one_line(batchtui("list-batches", "--profile", "../../escaped", env=env, check=False))
    assert "profile name '../../escaped'" in line
    assert not (tmp_path / "escaped").exists() and not (isolated_home / "escaped").exists()


@pytest.mark.parametrize("command", ["get-batch-results", "cancel-batch", "import-batch", "export-results",
                                     "retry-batch", "start-batch"])
def test_an_empty_id_is_one_line(env, command):
    extra = ["-o", "x.csv"] if command == "export-results" else []
    assert "cannot be empty" in one_line(batchtui(command, "", *extra, env=env, check=False))


def test_results_into_a_file_a_system_folder_or_a_full_disk_are_one_line(env, tmp_path, write_batch_file,
                                                                         full_disk):
    batch_id = finished_batch(env, write_batch_file(3), tmp_path / "raw")
    a_file = tmp_path / "a-file"
    a_file.write_text("mine")
    for target, reason in ((a_file, "Not a directory"), (Path("/proc/version"), "Not a directory"),
                           (full_disk, "No space left on device")):
        line = one_line(batchtui("get-batch-results", batch_id, "-o", str(target), env=env, check=False))
        assert str(target) in line and reason in line
    assert a_file.read_text() == "mine"
    assert sorted(path.name for path in full_disk.iterdir()) == ["filler"]  # no part file left behind


@pytest.mark.parametrize(("args", "fragment"), [
    (["sandbox", "--port", "99999"], "--port 99999: expected 1-65535"),
    (["sandbox", "--port", "0", "--data-dir", "{file}"], "is a file, not a folder"),
    (["view", "{folder}"], "is a folder; name a batch JSONL file in it"),
    (["upload-batch-file", "{folder}"], "is a folder; name a batch JSONL file in it"),
    (["validate", "{folder}"], "Is a directory"),
])
def test_wrong_arguments_name_what_is_wrong(env, tmp_path, args, fragment):
    (tmp_path / "a-file").write_text("x")
    args = [arg.format(file=tmp_path / "a-file", folder=tmp_path) for arg in args]
    assert fragment in one_line(batchtui(*args, env=env, check=False))


def test_a_closed_pipe_ends_quietly(env, tmp_path, write_batch_file):
    lines = "".join(f'{{"custom_id": "r{i}", "method": "POST", "url": "/v1/chat/completions", "body": '
                    f'{{"model": "gpt-4o-mini", "messages": [{{"role": "user", "content": "x"}}], "stream": true}}}}\n'
                    for i in range(20_000))
    (tmp_path / "bad.jsonl").write_text(lines)
    shell = f"{sys.executable} -m batchtui validate {tmp_path / 'bad.jsonl'} | head -3"
    done = subprocess.run(["bash", "-o", "pipefail", "-c", shell], env=env, capture_output=True, text=True,
                          timeout=120)
    assert len(done.stdout.splitlines()) == 3
    assert done.stderr == "" and done.returncode == 141


def test_an_unexpected_error_is_one_line_with_a_report(env, isolated_home):
    script = ("from batchtui.cli import main\nfrom batchtui.cli.app import app\n"
              "@app.command\ndef boom():\n    raise RuntimeError('deep inside sk-secretkey123 http://u:pw1@h/v1')\n"
              "main()\n")
    done = subprocess.run([sys.executable, "-c", script, "boom"], env=env, capture_output=True, text=True,
                          timeout=60)
    line = one_line(done)
    assert line.startswith("batchtui: unexpected error (RuntimeError); the full report is in ")
    report = Path(line.rsplit(" ", 1)[1])
    assert report.parent == Path(env["BATCHTUI_HOME"]) / "cache" / "crash-reports"
    text = report.read_text()
    assert "RuntimeError: deep inside <key> http://***@h/v1" in text and "sk-secretkey123" not in text
    assert "pw1" not in text
    assert report.stat().st_mode & 0o077 == 0


def test_sql_table_stops_at_a_row_limit(env, isolated_home):
    batchtui("list-batches", env=env)  # makes the cache
    endless = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT i FROM n"
    done = batchtui("sql", endless, env=env)
    assert "(10,000 rows)" in done.stdout
    assert done.stderr == "batchtui: stopped after 10,000 rows; --max-rows N shows more (0: all)\n"
    done = batchtui("sql", endless, "--max-rows", "5", "--format", "json", env=env)
    assert done.stdout.count('"i"') == 5
    assert "(3 rows)" in batchtui("sql", "SELECT 1 UNION SELECT 2 UNION SELECT 3", env=env).stdout
    assert batchtui("sql", "SELECT 1", env=env).stderr == ""


def test_sql_on_a_cache_that_is_a_folder_says_so(env, isolated_home):
    (isolated_home / "cache" / "p" / "cache.db").mkdir(parents=True)
    (isolated_home / "config.toml").write_text('[profiles.p]\nbase_url = "http://127.0.0.1:9/v1"\napi_key = "sk-x"\n')
    line = one_line(batchtui("sql", "SELECT 1", "--profile", "p", env=env, check=False))
    assert line.endswith("cache.db: cannot open the cache (it is a folder, not a file)")
