"""Counts and flags on the command line read as words: "1 row", not "1 rows"; --demo explained, no --no-demo."""

from __future__ import annotations

import json

from cli_helpers import batchtui


def test_one_exported_row_is_one_row(cli_env, tmp_path):
    output = tmp_path / "out.jsonl"
    output.write_text(json.dumps({"custom_id": "only", "response": {"status_code": 200, "body": {}}}) + "\n")
    done = batchtui("view", str(output), "--export", str(tmp_path / "one.csv"), env=cli_env)
    assert done.stdout.endswith("one.csv: 1 row\n")


def test_the_demo_flag_says_what_it_does_and_has_no_negative(cli_env):
    shown = batchtui("tui", "--help", env=cli_env).stdout
    assert "--no-demo" not in shown
    demo = next(line for line in shown.splitlines() if "--demo" in line)
    assert "sandbox" in demo
