"""The authoring commands as a script runs them: make-batch-file, validate, split, then upload, start, retry and
export against a sandbox process that fails some requests."""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import batchtui, on_a_terminal

EXAMPLE = Path(__file__).parent.parent / "examples" / "reviews"


@pytest.fixture
def env(failing_cli_env) -> dict[str, str]:
    return failing_cli_env


@pytest.fixture
def example(tmp_path) -> tuple[Path, Path]:
    """The README's example template and data, copied where the test may write beside them."""
    for name in ("template.json", "reviews.csv"):
        shutil.copy(EXAMPLE / name, tmp_path / name)
    return tmp_path / "template.json", tmp_path / "reviews.csv"


def data_rows(path: Path, count: int) -> Path:
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "product", "review", "max_tokens"])
        writer.writerows([f"r{i:04d}", f"product {i}", f'review "{i}", with a comma\nand a line', 100]
                         for i in range(count))
    return path


def test_template_to_answers_beside_the_data_with_a_retry_chain(env, tmp_path, example):
    template, _ = example
    data = data_rows(tmp_path / "many.csv", 60)
    made = batchtui("make-batch-file", str(template), str(data), env=env)
    batch_file = Path(made.stdout.strip())
    assert batch_file == tmp_path / "many.batch.jsonl" and "60 requests to /v1/chat/completions" in made.stderr
    assert (tmp_path / "many.batch.manifest.json").is_file()

    checked = batchtui("validate", str(batch_file), env=env)
    assert "60 requests to /v1/chat/completions, model gpt-4o-mini" in checked.stdout
    assert "no problems found" in checked.stdout and "at batch prices" in checked.stdout
    report = json.loads(batchtui("validate", str(batch_file), "--json", env=env).stdout)
    assert report["ok"] and report["requests"] == 60 and report["output_ceiling"] == 6000

    file_id = batchtui("upload-batch-file", str(batch_file), env=env).stdout.strip()
    batch_id = batchtui("start-batch", file_id, env=env).stdout.strip()
    first = batchtui("get-batch-results", batch_id, "--wait", "--poll-seconds", "1", "--json",
                     "-o", str(tmp_path / "raw"), env=env)
    failed = json.loads(first.stdout)["batch"]["request_counts"]["failed"]
    assert failed > 0

    retry_id = batchtui("retry-batch", batch_id, "--only", "failed", env=env).stdout.strip()
    retry = json.loads(batchtui("get-batch-results", retry_id, "--wait", "--poll-seconds", "1", "--json",
                                "-o", str(tmp_path / "raw"), env=env).stdout)["batch"]
    assert retry["metadata"]["retry_of"] == batch_id and retry["request_counts"]["total"] == failed

    out = tmp_path / "answers.csv"
    exported = batchtui("export-results", batch_id, "-o", str(out), env=env)
    assert "exported 60 requests" in exported.stderr
    with out.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["id", "product", "review", "max_tokens", "status", "answer", "tokens"]
    with data.open(newline="") as fh:
        assert [{k: r[k] for k in ("id", "product", "review", "max_tokens")} for r in rows] == list(csv.DictReader(fh))
    ok = [r for r in rows if r["status"] == "ok"]
    still_failed = retry["request_counts"]["failed"]  # a retried request fails again only at the fail rate
    assert len(ok) == 60 - still_failed and all(r["answer"] and int(r["tokens"]) > 0 for r in ok)
    assert sum(r["status"] in ("400", "500") for r in rows) == still_failed

    as_jsonl = tmp_path / "answers.jsonl"
    batchtui("export-results", batch_id, "-o", str(as_jsonl), env=env)
    assert len(as_jsonl.read_text().splitlines()) == 60


def test_make_batch_file_stops_at_a_bad_row_or_skips_it(env, tmp_path, example):
    template, data = example
    bad = tmp_path / "bad.csv"
    bad.write_text(data.read_text().replace(",200\n", ",lots\n", 1))
    done = batchtui("make-batch-file", str(template), str(bad), env=env, check=False)
    assert done.returncode == 1 and not (tmp_path / "bad.batch.jsonl").exists()
    assert done.stderr.startswith("batchtui: bad.csv row 1 (id r001): 'lots' for {{max_tokens}} is not a JSON number")
    skipped = batchtui("make-batch-file", str(template), str(bad), "--skip-bad-rows", "-o",
                       str(tmp_path / "out.jsonl"), env=env)
    assert "skipped bad.csv row 1 (id r001)" in skipped.stderr and "1 row skipped" in skipped.stderr
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 7


def test_validate_exit_status_and_problems(env, tmp_path):
    line = {"custom_id": "a", "method": "POST", "url": "/v1/chat/completions",
            "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}}
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(line) + "\n{not json\n" + json.dumps(line) + "\n")
    done = batchtui("validate", str(bad), env=env, check=False)
    assert done.returncode == 1
    assert "bad.jsonl line 2: invalid_json_line:" in done.stdout
    assert "bad.jsonl line 3: duplicate_custom_id:" in done.stdout and "2 problems:" in done.stdout
    missing = batchtui("validate", str(tmp_path / "none.jsonl"), env=env, check=False)
    assert missing.returncode == 2 and missing.stderr.startswith("batchtui: ") and "none.jsonl" in missing.stderr
    wrong = batchtui("validate", str(bad), "--endpoint", "/v1/nope", env=env, check=False)
    assert wrong.returncode == 2 and "not a batch endpoint" in wrong.stderr
    hostile = batchtui("validate", str(tmp_path / "a\nb\x1b[31m.jsonl"), env=env, check=False)
    assert hostile.returncode == 2 and hostile.stderr.count("\n") == 1 and "a\\nb\\x1b[31m.jsonl" in hostile.stderr


def test_split_prints_the_parts(env, tmp_path, example):
    template, data = example
    batch_file = Path(batchtui("make-batch-file", str(template), str(data), env=env).stdout.strip())
    parts = batchtui("split", str(batch_file), "--max-lines", "3", env=env).stdout.split()
    assert [Path(p).name for p in parts] == [f"reviews.batch.part-00{i}.jsonl" for i in (1, 2, 3)]
    assert b"".join(Path(p).read_bytes() for p in parts) == batch_file.read_bytes()
    made = batchtui("make-batch-file", str(template), str(data), "-o", str(tmp_path / "s.jsonl"), "--split", env=env)
    assert made.stdout.split() == [str(tmp_path / "s.jsonl")]  # within the limits: one file, not cut


def test_stats_of_the_account(env, tmp_path, write_batch_file):
    file_id = batchtui("upload-batch-file", str(write_batch_file(30)), env=env).stdout.strip()
    batch_id = batchtui("start-batch", file_id, env=env).stdout.strip()
    batchtui("get-batch-results", batch_id, "--wait", "--poll-seconds", "1", "-o", str(tmp_path), env=env)
    figures = json.loads(batchtui("stats", "--json", env=env).stdout)
    assert figures["batches"] >= 1 and figures["outcomes"]["completed"] >= 1
    assert figures["turnaround_seconds"]["count"] >= 1 and figures["per_day"]
    text = batchtui("stats", "--since", "2020-01-01", env=env).stdout
    assert "turnaround" in text and "gpt-4o-mini" in text and "completed" in text
    bad = batchtui("stats", "--since", "yesterday", env=env, check=False)
    assert bad.returncode == 1 and bad.stderr.strip() == "batchtui: --since yesterday: expected a day as YYYY-MM-DD"


EVIL = "evil\x1b]0;T\x07"
SHOWN = "evil\\x1b]0;T\\x07"
PEAK = ("import resource, runpy, sys\nresource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))\ntry:\n"
        "    runpy.run_module('batchtui', run_name='__main__', alter_sys=True)\nfinally:\n"
        "    peak = next(line for line in open('/proc/self/status') if line.startswith('VmHWM:'))\n"
        "    print(int(peak.split()[1]) // 1024, file=sys.stderr)")
"""Runs the CLI, capped at 3 GB of address space, and prints its peak memory in MB as its last line on stderr
(VmHWM: ru_maxrss would count the memory of the parent it was forked from)."""


def test_file_names_are_shown_escaped_and_files_written_byte_exact(env, tmp_path, example):
    template, _ = example
    data = tmp_path / f"{EVIL}.csv"
    data.write_text("id,product,review,max_tokens\n1,a,fine,5\n2,b,bad,5\n")
    out = tmp_path / f"{EVIL}.jsonl"
    made, terminal = on_a_terminal("make-batch-file", str(template), str(data), "-o", str(out), env=env)
    assert made.returncode == 0 and made.stdout == f"{tmp_path}/{SHOWN}.jsonl\n"
    assert f"manifest {tmp_path}/{SHOWN}.manifest.json" in terminal
    checked, terminal = on_a_terminal("validate", str(out), env=env)
    assert checked.stdout.startswith(f"{SHOWN}.jsonl: 2 requests") and f"validating {SHOWN}.jsonl 100%" in terminal
    parts = batchtui("split", str(out), "--max-lines", "1", env=env).stdout
    assert parts == "".join(f"{tmp_path}/{SHOWN}.part-00{i}.jsonl\n" for i in (1, 2))
    assert b"".join((tmp_path / f"{EVIL}.part-00{i}.jsonl").read_bytes() for i in (1, 2)) == out.read_bytes()
    assert len(out.read_bytes().splitlines()) == 2 and "\x1b" not in made.stdout + checked.stdout + parts + terminal


def test_split_limits_under_one_and_parts_of_an_earlier_split(env, write_batch_file):
    batch_file = write_batch_file(20)
    for option, value in (("--max-lines", "0"), ("--max-bytes", "-5")):
        done = batchtui("split", str(batch_file), option, value, env=env, check=False)
        assert (done.returncode, done.stderr) == (1, f"batchtui: {option} {value}: must be at least 1\n")
    assert len(batchtui("split", str(batch_file), "--max-lines", "1", env=env).stdout.split()) == 20
    parts = batchtui("split", str(batch_file), "--max-lines", "7", env=env).stdout.split()
    assert sorted(batch_file.parent.glob("requests.part-*.jsonl")) == [Path(p) for p in parts] and len(parts) == 3


def test_make_batch_file_never_replaces_its_inputs(env, tmp_path, example):
    template, data = example
    as_manifest = tmp_path / "x.manifest.json"
    shutil.copy(template, as_manifest)
    done = batchtui("make-batch-file", str(as_manifest), str(data), "-o", str(tmp_path / "x.jsonl"), env=env,
                    check=False)
    assert done.returncode == 1 and done.stderr == (
        "batchtui: x.manifest.json, the manifest of x.jsonl, would replace the template x.manifest.json; "
        "name another output.\n")
    rows = tmp_path / "s.part-001.jsonl"
    rows.write_text('{"id": 1, "product": "a", "review": "ok", "max_tokens": 5}\n')
    done = batchtui("make-batch-file", str(template), str(rows), "-o", str(tmp_path / "s.jsonl"), "--split", env=env,
                    check=False)
    assert done.returncode == 1 and done.stderr.startswith("batchtui: s.part-001.jsonl has the name of a part of s.")
    assert as_manifest.read_bytes() == template.read_bytes() and rows.read_text().startswith('{"id": 1,')
    assert not (tmp_path / "x.jsonl").exists() and not (tmp_path / "s.jsonl").exists()


def test_a_csv_quote_that_never_closes_stops_make_batch_file(env, tmp_path, example):
    template, _ = example
    data = tmp_path / "d.csv"
    data.write_text('id,product,review,max_tokens\n1,a,"unterminated,5\n2,b,ok,5\n3,c,ok,5\n')
    done = batchtui("make-batch-file", str(template), str(data), env=env, check=False)
    assert done.returncode == 1 and done.stderr == (
        "batchtui: d.csv line 2: a quote opens a field here and never closes (the file ends inside it).\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.csv", "reviews.csv", "template.json"]


def test_huge_lines_and_endless_files_are_errors_in_bounded_memory(env, tmp_path, example):
    template, data = example
    huge = tmp_path / "huge.jsonl"
    with huge.open("wb") as fh:
        fh.write(b'{"id": 1, "product": "a", "review": "ok", "max_tokens": 5}\n')
        fh.seek(300 << 20, 1)  # a hole: a 300 MB line of NULs that uses no disk
        fh.write(b"\n")
    runs = {
        "validate": ("validate", "/dev/zero"),
        "make-batch-file": ("make-batch-file", str(template), str(huge), "-o", str(tmp_path / "out.jsonl")),
        "template": ("make-batch-file", "/dev/zero", str(data), "-o", str(tmp_path / "out.jsonl")),
    }
    for run, args in runs.items():
        done = subprocess.run([sys.executable, "-c", PEAK, *args], env=env, capture_output=True, text=True,
                              timeout=120)
        *said, peak_mb = done.stderr.splitlines()
        assert int(peak_mb) < 400, f"{run} took {peak_mb} MB"
        assert done.returncode == 1 and len(said) == (0 if run == "validate" else 1), done.stderr
        said = said or done.stdout.splitlines()[-2:]
        assert said[0] == {
            "validate": "zero: file_too_large: more than 209,715,200 bytes, over the limit; reading stopped in line 1",
            "make-batch-file": "batchtui: huge.jsonl row 2: the line is 314,572,801 bytes, more than a whole batch "
                               "file may hold",
            "template": "batchtui: zero: more than 209,715,200 bytes, more than a whole batch file may hold.",
        }[run]


def test_upload_and_download_progress_show_sizes_in_a_unit_that_fits(env, write_batch_file, tmp_path):
    """A small file's progress reads '100% (412 B of 412 B)', never '100% (0.0 of 0.0 MB)'."""
    batch_file = write_batch_file(3)
    size = batch_file.stat().st_size
    assert size < 1000
    uploaded, terminal = on_a_terminal("upload-batch-file", str(batch_file), env=env)
    assert uploaded.returncode == 0 and f"uploading requests.jsonl 100% ({size} B of {size} B)" in terminal
    batch_id = batchtui("start-batch", uploaded.stdout.strip(), env=env).stdout.strip()
    got, terminal = on_a_terminal("get-batch-results", batch_id, "--wait", "--poll-seconds", "1", "-o",
                                  str(tmp_path / "raw"), env=env)
    assert got.returncode == 0 and "downloading 100% (" in terminal
    assert re.search(r"downloading 100% \(\d+(\.\d)? K?B of \d+(\.\d)? K?B\)", terminal) and " MB" not in terminal
