"""The authoring commands as a script runs them: make-batch-file, validate, split, then upload, start, retry and
export against a sandbox process that fails some requests."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from cli_helpers import batchtui

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
    first = batchtui("get-batch-results", batch_id, "--wait", "--poll-seconds", "0.1", "--json",
                     "-o", str(tmp_path / "raw"), env=env)
    failed = json.loads(first.stdout)["batch"]["request_counts"]["failed"]
    assert failed > 0

    retry_id = batchtui("retry-batch", batch_id, "--only", "failed", env=env).stdout.strip()
    retry = json.loads(batchtui("get-batch-results", retry_id, "--wait", "--poll-seconds", "0.1", "--json",
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
    assert len(ok) == 60 - failed and all(r["answer"] and int(r["tokens"]) > 0 for r in ok)
    assert sum(r["status"] == "400" for r in rows) == failed  # the sandbox fails the same requests again

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
    assert "skipped bad.csv row 1 (id r001)" in skipped.stderr and "1 rows skipped" in skipped.stderr
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
    batchtui("get-batch-results", batch_id, "--wait", "--poll-seconds", "0.1", "-o", str(tmp_path), env=env)
    figures = json.loads(batchtui("stats", "--json", env=env).stdout)
    assert figures["batches"] >= 1 and figures["outcomes"]["completed"] >= 1
    assert figures["turnaround_seconds"]["count"] >= 1 and figures["per_day"]
    text = batchtui("stats", "--since", "2020-01-01", env=env).stdout
    assert "turnaround" in text and "gpt-4o-mini" in text and "completed" in text
    bad = batchtui("stats", "--since", "yesterday", env=env, check=False)
    assert bad.returncode == 1 and bad.stderr.strip() == "batchtui: --since yesterday: expected a day as YYYY-MM-DD"
