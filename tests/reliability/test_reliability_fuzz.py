"""Hostile and broken input for every reader of user files: no uncaught exception, every error names the file and
the place, nothing half written. The properties live in fuzz_targets.py, shared with tests/bench/fuzz.py, which
runs them for many more cases; the examples below are inputs that once broke them."""

from __future__ import annotations

import datetime as dt

from fuzz_targets import (
    BATCH_CASES,
    CONFIG_CASES,
    DATASET_CASES,
    INDEX_CASES,
    MAKE_TEST,
    SPLIT_CASES,
    TEMPLATE_CASES,
    VALIDATE_CASES,
    check_batch_file,
    check_config,
    check_dataset,
    check_index,
    check_split,
    check_template,
    check_validate,
    xlsx,
)
from hypothesis import HealthCheck, example, given, settings
from long_runs import suite_or_long


def cases(target: str) -> settings:
    """The target's share of `make test` (twice that with BATCHTUI_LONG=1), the same cases on every run."""
    examples = int(suite_or_long(MAKE_TEST[target], 2 * MAKE_TEST[target]))
    return settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


OK_Z = b'{"id":"batch_req_1","custom_id":"z","response":{"status_code":200,"body":{}}}\n'


@cases("result index")
@given(INDEX_CASES)
# A flipped byte in the stored index was loaded as rows: a line offset read 2**62 bytes (MemoryError).
@example(([b'{"custom_id":"a"}', OK_Z.replace(b'"z"', b'"a"'), b""], 0, [490]))
# A retry's line with custom_id "" took over an unreadable input row, which then read as answered.
@example(([b"garbage", b"", b"", b'{"custom_id":"","response":{"status_code":200,"body":{}}}', b""], 1, [0]))
# A retry repeating a new custom_id: the quick scan made two rows, the line-by-line reading one.
@example(([b'{"custom_id":"a"}\n', b"", b"", OK_Z + OK_Z, b""], 1, [0]))
def test_the_result_index_reads_any_files(case):
    check_index(case)


@cases("validate")
@given(VALIDATE_CASES)
def test_validate_reports_any_bytes_by_line(case):
    check_validate(case)


@cases("templates")
@given(TEMPLATE_CASES)
# The stand-in "0" joined its neighbour into a number, so the template passed the check and then failed to parse.
@example(('{"a": -{{x}}}', {"x": "1"}, None))
@example(('{"a": 1{{x}}}', {"x": "1"}, None))
# Literal text that reads as a placeholder's marker: IndexError.
@example(('{"a": "\\u0000batchtui:text:5\\u0000"}', {}, None))
# Bare values orjson cannot write: TypeError instead of RowError.
@example(('{"a": {{x}}}', {"x": 2**70}, None))
@example(('{"a": {{x}}}', {"x": dt.timedelta(hours=1)}, None))
def test_any_template_and_values_give_json_or_an_error_naming_the_place(case):
    check_template(case)


@cases("data files")
@given(DATASET_CASES)
# Duration cells and integers past 64 bits could not be written as JSON: TypeError.
@example((".xlsx", xlsx([["id", "t"], [dt.timedelta(hours=5), 2]], ("value", 1, b"1" * 30))))
# A damaged sheet fails while it is read, not when opened: ValueError, ParseError.
@example((".xlsx", xlsx([["id", "n"], [1, 1.5]], ("value", 1, b"nan"))))
@example((".xlsx", xlsx([["id", "n"], [1, 1.5]], ("xml", 500, b"</row>x"))))
# Rows are numbered at CR line ends, but a byte that is not UTF-8 was placed by LFs alone: line 1, not 3.
@example((".csv", b"id,t\ra,1\rb,\xff\r"))
def test_any_data_file_gives_rows_or_an_error_naming_it(case):
    check_dataset(case)


@cases("make_batch_file")
@given(BATCH_CASES)
@example(((".xlsx", xlsx([["id", "x"], [dt.timedelta(days=1), "a"]], ("keep", 0, b""))), '{"input": "{{x}}"}',
          None, None, None, False, True))
def test_make_batch_file_writes_all_or_nothing(case):
    check_batch_file(case)


@cases("config")
@given(CONFIG_CASES)
@example((b"default_profile = 'a'\n\xff", None))  # UnicodeDecodeError
@example((b"default_profile = {}", None))  # TypeError: unhashable type
@example((b'[profiles."a\\nb"]\nkind = "x\\ny"', "a\nb"))  # an error of two lines
def test_any_config_file_gives_a_profile_or_one_line_naming_it(case):
    check_config(case)


@cases("split")
@given(SPLIT_CASES)
def test_split_parts_put_together_are_the_file(case):
    check_split(case)
