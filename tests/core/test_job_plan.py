"""Planning a job: parts that are the input byte for byte, every problem at the input's own line (a part's and the
ones across parts), and no folder left unless the job is good. Offline and quick: a few thousand lines."""

from __future__ import annotations

import csv
import itertools
import os
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from batchtui.core.authoring.validate import MAX_PROBLEMS
from batchtui.core.jobs.plan import JobOptions, JobPlanCancelled, JobPlanError, JobSource, plan_job

ROWS = 2_500
PART = JobOptions(part_lines=1_000)


def chat(i: int, model: str = "gpt-4o-mini") -> bytes:
    body = {"model": model, "messages": [{"role": "user", "content": f"Label ticket {i}."}], "max_tokens": 5}
    request = {"custom_id": f"row-{i}", "method": "POST", "url": "/v1/chat/completions", "body": body}
    return orjson.dumps(request, option=orjson.OPT_APPEND_NEWLINE)


def write(tmp_path: Path, changes: dict[int, bytes] | None = None) -> Path:
    """ROWS request lines, line n being chat(n - 1) unless `changes` gives line n."""
    lines = [chat(i) for i in range(ROWS)]
    for line, text in (changes or {}).items():
        lines[line - 1] = text
    path = tmp_path / "batch.jsonl"
    path.write_bytes(b"".join(lines))
    return path


@pytest.fixture
def jobs(tmp_path: Path) -> Path:
    folder = tmp_path / "jobs"
    folder.mkdir()
    return folder


def problems(plan) -> list[str]:  # type: ignore[no-untyped-def]
    return [p.describe(plan.report.path) for p in plan.report.problems]


def test_the_parts_joined_are_the_input_byte_for_byte(tmp_path, jobs):
    path = write(tmp_path)
    plan = plan_job(JobSource(jsonl=path), PART, jobs)
    assert plan.report.ok and plan.job is not None
    assert (plan.report.lines, plan.report.requests, plan.report.path) == (ROWS, ROWS, path)
    assert [(p.part, p.first_line, p.requests) for p in plan.parts] == [(1, 1, 1000), (2, 1001, 1000), (3, 2001, 500)]
    assert [(a.part, a.attempt, a.state) for a in plan.attempts] == [(1, 1, "waiting"), (2, 1, "waiting"),
                                                                   (3, 1, "waiting")]
    assert b"".join(Path(a.file).read_bytes() for a in plan.attempts) == path.read_bytes()
    assert sum(p.bytes for p in plan.parts) == path.stat().st_size
    folder = Path(plan.job.folder)
    assert folder.parent == jobs
    assert (folder / f"{plan.job.id}.jsonl").read_bytes() == path.read_bytes()  # the job's own copy
    assert (plan.job.requests, plan.job.model, plan.job.endpoint) == (ROWS, "gpt-4o-mini", "/v1/chat/completions")
    assert plan.job.input_tokens == sum(p.input_tokens for p in plan.parts) > 0


def test_problems_in_a_later_part_are_at_the_input_lines_of_the_input_file(tmp_path, jobs):
    path = write(tmp_path, {1500: b"[1, 2]\n", 1600: chat(1549),
                            1700: orjson.dumps({"method": "POST", "url": "/v1/chat/completions",
                                                "body": orjson.loads(chat(1699))["body"]}) + b"\n"})
    plan = plan_job(JobSource(jsonl=path), PART, jobs)
    assert plan.job is None and plan.parts == []
    assert problems(plan) == [
        "batch.jsonl line 1500: invalid_json_line: the line is an array, not a request object",
        "batch.jsonl line 1600: duplicate_custom_id: duplicate custom_id 'row-1549' (first used on line 1550)",
        "batch.jsonl line 1700: missing_required_parameter: missing required parameter 'custom_id'",
    ]
    assert plan.report.problems_total == 3
    assert os.listdir(jobs) == []  # no folder is left for a job with problems


def test_an_id_used_in_two_parts_is_reported_once_per_later_use(tmp_path, jobs):
    # row-5 (line 6, part 1) again at lines 1200 and 1300 (part 2) and 2100 (part 3); row-1500 (part 2) at 2200
    path = write(tmp_path, {1200: chat(5), 1300: chat(5), 2100: chat(5), 2200: chat(1500)})
    plan = plan_job(JobSource(jsonl=path), PART, jobs)
    assert problems(plan) == [
        "batch.jsonl line 1200: duplicate_custom_id: custom_id 'row-5' is used in part 1 of the job too; "
        "each request needs its own",
        "batch.jsonl line 1300: duplicate_custom_id: duplicate custom_id 'row-5' (first used on line 1200)",
        "batch.jsonl line 2100: duplicate_custom_id: custom_id 'row-5' is used in part 1 of the job too; "
        "each request needs its own",
        "batch.jsonl line 2200: duplicate_custom_id: custom_id 'row-1500' is used in part 2 of the job too; "
        "each request needs its own",
    ]
    assert plan.report.problems_total == 4


def test_ids_repeated_across_parts_are_counted_all_and_shown_up_to_the_limit(tmp_path, jobs):
    path = write(tmp_path, {n: chat((n - 1) % 1000) for n in range(1001, ROWS + 1)})  # parts 2, 3 repeat part 1
    plan = plan_job(JobSource(jsonl=path), PART, jobs)
    assert plan.report.problems_total == 1500
    assert len(plan.report.problems) == MAX_PROBLEMS
    assert [p.line for p in plan.report.problems] == list(range(1001, 1001 + MAX_PROBLEMS))
    assert problems(plan)[-1] == ("batch.jsonl line 2000: duplicate_custom_id: custom_id 'row-999' is used in part 1 "
                                  "of the job too; each request needs its own")


def test_a_model_that_differs_between_parts_is_reported(tmp_path, jobs):
    changes = {n: chat(n - 1, "gpt-4o") for n in range(1001, 2001)}  # part 2 is all of another model
    changes[2300] = chat(2299, "gpt-4.1")  # and a line of part 3 of a third
    plan = plan_job(JobSource(jsonl=write(tmp_path, changes)), PART, jobs)
    assert problems(plan) == [
        "batch.jsonl line 1001: mismatched_model: this part of the job uses model 'gpt-4o', its first part "
        "'gpt-4o-mini': a job is one model",
        "batch.jsonl line 2300: mismatched_model: model 'gpt-4.1' differs from 'gpt-4o-mini' on line 2001; "
        "a batch file may use only one model",
    ]
    assert os.listdir(jobs) == []


def test_parts_hold_at_most_the_embeddings_inputs_allowed_even_with_an_escaped_url(tmp_path, jobs):
    body = {"model": "text-embedding-3-small", "input": ["x"] * 600}
    lines = [orjson.dumps({"custom_id": f"e{i}", "method": "POST", "url": "/v1/embeddings", "body": body}) + b"\n"
             for i in range(100)]
    lines[::2] = [line.replace(b'"/v1/embeddings"', b'"/v1/\\u0065mbeddings"') for line in lines[::2]]
    path = tmp_path / "embeddings.jsonl"
    path.write_bytes(b"".join(lines))
    plan = plan_job(JobSource(jsonl=path), JobOptions(), jobs)
    assert plan.report.ok and plan.job is not None
    assert [(p.first_line, p.requests) for p in plan.parts] == [(1, 83), (84, 17)]  # 83 x 600 inputs <= 50,000


def test_a_template_and_csv_job_has_its_manifest_and_parts(tmp_path, jobs):
    template = tmp_path / "template.json"
    template.write_text('{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Review: {{review}}"}], '
                        '"max_tokens": 20}')
    data = tmp_path / "reviews.csv"
    with data.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "review"])
        writer.writerows([f"r{i}", f"good, \"very\" good\nsecond line {i}"] for i in range(25))
    plan = plan_job(JobSource(template=template, data=data), JobOptions(part_lines=10), jobs)
    assert plan.report.ok and plan.job is not None
    folder = Path(plan.job.folder)
    whole = folder / f"{plan.job.id}.jsonl"
    assert plan.job.manifest == str(folder / f"{plan.job.id}.manifest.json")
    assert Path(plan.job.manifest).is_file()
    assert (plan.job.name, plan.job.source, plan.job.endpoint) == ("reviews", f"{template} + {data}",
                                                                   "/v1/chat/completions")
    assert [(p.first_line, p.requests) for p in plan.parts] == [(1, 10), (11, 10), (21, 5)]
    assert b"".join(Path(a.file).read_bytes() for a in plan.attempts) == whole.read_bytes()
    assert plan.report.path == whole and plan.report.requests == 25


@pytest.mark.parametrize("call", [1, 2, 4], ids=["before-any-part", "within-a-part", "between-parts"])
def test_cancelling_leaves_no_folder(tmp_path, jobs, call):
    # cancelled() is asked before each part and every 1,000 lines within one: with parts of 2,000 lines, call 1 is
    # before part 1, calls 2 and 3 at its lines 1,000 and 2,000, call 4 before part 2
    calls = itertools.count(1)
    with pytest.raises(JobPlanCancelled, match=r"^Planning the job was cancelled; nothing was kept\.$"):
        plan_job(JobSource(jsonl=write(tmp_path)), JobOptions(part_lines=2_000), jobs,
                 cancelled=lambda: next(calls) >= call)
    assert os.listdir(jobs) == []


def test_an_input_that_cannot_be_read_leaves_no_folder(tmp_path, jobs):
    with pytest.raises(JobPlanError, match=r"^Cannot copy .*missing\.jsonl into the job: No such file"):
        plan_job(JobSource(jsonl=tmp_path / "missing.jsonl"), PART, jobs)
    assert os.listdir(jobs) == []


@pytest.mark.parametrize(("options", "message"), [
    (JobOptions(part_lines=0), "--part-lines must be from 1 to 50,000, not 0."),
    (JobOptions(part_lines=50_001), "--part-lines must be from 1 to 50,000, not 50,001."),
    (JobOptions(part_bytes=0), "--part-bytes must be from 1 to 209,715,200, not 0."),
    (JobOptions(max_attempts=0), "--max-attempts must be from 1 to 100, not 0."),
    (JobOptions(enqueued_tokens=0), "--enqueued-tokens must be at least 1, not 0."),
    (JobOptions(max_cost_usd=Decimal(0)), "--max-cost must be more than 0, not 0."),
])
def test_bad_options_give_one_line_and_no_folder(tmp_path, jobs, options, message):
    with pytest.raises(JobPlanError) as error:
        plan_job(JobSource(jsonl=write(tmp_path)), options, jobs)
    assert str(error.value) == message
    assert os.listdir(jobs) == []
