"""Templates fill any data into valid JSON with the exact value, and say where a bad template is wrong."""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batchtui.core.authoring.datasets import read_rows
from batchtui.core.authoring.templates import RowError, TemplateError, load_template, parse_template

CHAT = """{
  "model": "gpt-4o-mini",
  "messages": [
    {"role": "system", "content": "You are: {{ Description }}"},
    {"role": "user", "content": "{{Question}}"}
  ],
  "temperature": {{Temp}}
}"""

ANY_TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=40) | st.sampled_from(
    ['"', "\\", '\\"', "\n", "\r\n", "\r", "\x00", "\x1f", "\u2028", "🙂", "𝄞", "", "17", "-0.5", "null", "{{x}}"]
)


def chat_body(description: str, question: str) -> dict:
    return orjson.loads(parse_template(CHAT).render({"Description": description, "Question": question, "Temp": "0"}))


def test_a_template_knows_its_placeholders_and_where_they_stand():
    template = parse_template(CHAT, "chat.json")
    assert template.placeholders == ("Description", "Question", "Temp")
    assert [(s.name, s.bare, s.line, s.column) for s in template.slots] == [
        ("Description", False, 4, 45),
        ("Question", False, 5, 34),
        ("Temp", True, 7, 18),
    ]
    assert template.text == CHAT and not template.is_request_line and template.model == "gpt-4o-mini"


def test_rendering_is_compact_json_with_values_in_place():
    line = parse_template(CHAT).render({"Description": 'a "judge"\n', "Question": "Why?", "Temp": " 0.5 "})
    assert line == orjson.dumps(orjson.loads(line))
    assert orjson.loads(line) == {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": 'You are: a "judge"\n'},
            {"role": "user", "content": "Why?"},
        ],
        "temperature": 0.5,
    }


@settings(max_examples=200)
@given(ANY_TEXT, ANY_TEXT)
def test_any_text_round_trips_exactly(description, question):
    body = chat_body(description, question)
    assert body["messages"][0]["content"] == "You are: " + description
    assert body["messages"][1]["content"] == question


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(ANY_TEXT, ANY_TEXT), min_size=1, max_size=5))
def test_any_csv_data_round_trips_exactly(rows):
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "data.csv"
        with data.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["Description", "Question"])
            writer.writerows(rows)
        read = list(read_rows(data))
        assert [row.number for row in read] == list(range(1, len(rows) + 1))
        template = parse_template(CHAT.replace("{{Temp}}", "1"))
        for (description, question), row in zip(rows, read, strict=True):
            body = orjson.loads(template.render(row.values))
            assert body["messages"][0]["content"] == "You are: " + description
            assert body["messages"][1]["content"] == question


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False, allow_infinity=False)
    | ANY_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(ANY_TEXT, inner, max_size=3),
    max_leaves=6,
)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(JSON_VALUES, JSON_VALUES), min_size=1, max_size=5))
def test_any_jsonl_data_round_trips(rows):
    """Strings go in as they are; other JSON values as their compact JSON text in a string, as JSON when bare."""
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "data.jsonl"
        data.write_bytes(b"".join(orjson.dumps({"Text": a, "Value": b}) + b"\n" for a, b in rows))
        template = parse_template('{"input": "{{Text}}", "extra": {{Value}}}')
        for (text, value), row in zip(rows, read_rows(data), strict=True):
            expected_text = text if isinstance(text, str) else orjson.dumps(text).decode()
            if isinstance(value, str) and not _is_scalar_json(value):
                with pytest.raises(RowError):
                    template.render(row.values)
                continue
            body = orjson.loads(template.render(row.values))
            assert body["input"] == expected_text
            assert body["extra"] == (orjson.loads(value) if isinstance(value, str) else value)


def _is_scalar_json(text: str) -> bool:
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return False
    return value is None or isinstance(value, bool | int | float)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("0", 0), ("-12", -12), (" 0.25 ", 0.25), ("1e3", 1000.0), ("true", True), ("false", False), ("null", None),
     (7, 7), (1.5, 1.5), (False, False), (None, None), ([1, "a"], [1, "a"]), ({"k": {"v": 1}}, {"k": {"v": 1}})],
)
def test_bare_placeholders_take_json_numbers_booleans_and_null(value, expected):
    assert orjson.loads(parse_template('{"t": {{T}}}').render({"T": value})) == {"t": expected}


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("abc", "'abc' for {{T}} is not a JSON number, true, false or null"),
        ("", "empty value for {{T}}"),
        ("  ", "empty value for {{T}}"),
        ("True", "'True' for {{T}} is not a JSON number, true, false or null"),
        ('"x"', "'\"x\"' for {{T}} is not a JSON number, true, false or null"),
        ("[1]", "'[1]' for {{T}} is not a JSON number, true, false or null"),
        # 1e999 is a JSON number in grammar but no double holds it; the API would read infinity, so it is refused.
        ("1e999", "'1e999' for {{T}} is not a JSON number, true, false or null"),
        ("x" * 100, "'" + "x" * 40 + "…' for {{T}} is not a JSON number"),
    ],
)
def test_bare_placeholders_refuse_anything_else(value, reason):
    with pytest.raises(RowError) as caught:
        parse_template('{"t": {{T}}}').render({"T": value})
    assert str(caught.value).startswith(reason)


def test_a_missing_value_is_a_row_error():
    with pytest.raises(RowError, match=r"no value for \{\{Question\}\}"):
        parse_template(CHAT).render({"Description": "d", "Temp": "1"})


def test_placeholders_may_sit_inside_literal_braces_and_repeat():
    template = parse_template('{"a": "{{{x}}}", "b": "{{x}}-{{ x }}", "c": {{x}}}')
    assert template.placeholders == ("x",)
    assert orjson.loads(template.render({"x": "5"})) == {"a": "{5}", "b": "5-5", "c": 5}


def test_a_request_line_template():
    text = '{"custom_id": "{{id}}", "method": "POST", "url": "/v1/embeddings", "body": {"input": "{{t}}"}}'
    template = parse_template(text)
    assert template.is_request_line and template.url == "/v1/embeddings" and template.method == "POST"
    assert orjson.loads(template.body("text-embedding-3-small").render({"t": "hi"})) == {
        "model": "text-embedding-3-small",
        "input": "hi",
    }
    assert orjson.loads(template.render({"id": "7", "t": "hi"}))["custom_id"] == "7"


def test_setting_the_model_keeps_its_place_and_placeholders_for_it_give_no_model():
    template = parse_template('{"a": 1, "model": "{{m}}", "b": 2}')
    assert template.model is None
    assert template.body("gpt-4.1").render({"m": "x"}) == b'{"a":1,"model":"gpt-4.1","b":2}'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{\n  "a": {{x}} {{y}}\n}', r"^t\.json line 2, column 14: not valid JSON once filled in \(.+\)\.$"),
        ('{\n  "a": 1,\n}', r"^t\.json line 2, column 9: not valid JSON once filled in \(trailing comma"),
        ('{"a": "{{x"}', r"^t\.json line 1, column 8: '\{\{' is not closed by '\}\}' on the same line\.$"),
        ('{"a": "{{x\n}}"}', r"^t\.json line 1, column 8: '\{\{' is not closed"),
        ('{"a":\n  {{  }}}', r"^t\.json line 2, column 3: empty placeholder '\{\{  \}\}'\.$"),
        ('{ {{k}}: 1}', r"^t\.json line 1, column 3: not valid JSON"),
        ("[{{a}}]", r"^t\.json: a template must be a JSON object"),
        ("", r"^t\.json line 1, column 1: not valid JSON"),
        ('{"url": "{{u}}", "body": {}}', r"^t\.json: the request line's url must be plain text, without placeholders"),
        ('{"url": "/v1/x", "body": {}, "x": 1}', r"^t\.json: a request line holds only custom_id, method, url, body"),
    ],
)
def test_template_errors_name_the_file_and_the_place(text, message):
    with pytest.raises(TemplateError, match=message):
        parse_template(text, "t.json")


def test_unknown_placeholders_are_named_with_the_columns_there_are():
    template = parse_template('{"input": "{{text}} {{Txet}}"}', "t.json")
    template.check_columns(["text", "Txet"], "data.csv")
    with pytest.raises(TemplateError) as caught:
        template.check_columns(["id", "text"], "data.csv")
    assert str(caught.value) == (
        "t.json line 1, column 21: unknown placeholder {{Txet}}; data.csv has the columns id, text."
    )


def test_load_template_reads_utf8_with_a_bom_and_names_the_file(tmp_path):
    path = tmp_path / "t.json"
    path.write_bytes('\ufeff{"input": "ü {{a}}"}'.encode())
    assert load_template(path).render({"a": 1}) == '{"input":"ü 1"}'.encode()
    path.write_bytes(b'{"input": \n {{a}} {{b}}}')
    with pytest.raises(TemplateError, match=r"^t\.json line 2, column 8:"):
        load_template(path)
    with pytest.raises(TemplateError, match=r"Cannot read .*missing\.json"):
        load_template(tmp_path / "missing.json")


def test_a_request_over_a_whole_batch_file_is_a_row_error_before_it_is_put_together():
    template = parse_template('{"input": "' + "{{text}} " * 30 + '"}')
    with pytest.raises(RowError, match=r"^the request is over 209,715,200 bytes, more than a whole batch file"):
        template.render({"text": "x" * (8 << 20)})
