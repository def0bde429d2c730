"""Validation time of a batch file at the API's limits: 50,000 chat requests of ~4 KB, just under 200 MB.

Baselines in the same run make the numbers comparable on a noisy machine: a raw read (1 MB chunks, page cache
warm) and orjson.loads of every line, the least a validation that parses each line can cost. Nothing is asserted.
Goal: validate_file in a few seconds at most, within ~3x the orjson baseline.
Run: .venv/bin/python tests/bench/validate_file.py [--lines 50000] [--dir DIR (file kept and reused)]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import orjson
from timing import best, raw_read

from batchtui.core.authoring.split import split_file
from batchtui.core.authoring.validate import MAX_BYTES, validate_file

REVIEW = (
    "the order arrived late and the box was damaged but support replied quickly and offered a refund "
    "which I accepted although the replacement never shipped and the tracking page still says pending "
)


def make_file(path: Path, lines: int) -> None:
    """Requests with a shared system prompt and a user message padded so the file ends just under 200 MB."""
    text = REVIEW * 60
    line_bytes = (MAX_BYTES - (1 << 20)) // lines
    with path.open("wb", buffering=1 << 20) as out:
        for i in range(lines):
            start = i * 7 % 1_000
            body = {
                "model": "gpt-4o-mini",
                "max_completion_tokens": 300,
                "messages": [
                    {"role": "system", "content": "Classify the customer review: sentiment and topic, as JSON."},
                    {"role": "user", "content": ""},
                ],
            }
            request = {"custom_id": f"review-{i}", "method": "POST", "url": "/v1/chat/completions", "body": body}
            pad = line_bytes - len(orjson.dumps(request)) - 1
            body["messages"][1]["content"] = text[start : start + pad]
            out.write(orjson.dumps(request) + b"\n")




def parse_all(path: Path) -> int:
    with open(path, "rb") as fh:
        return sum(1 for line in fh if isinstance(orjson.loads(line), dict))




def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=50_000)
    parser.add_argument("--dir", type=Path, help="write the file here and keep it (reused when present)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        path = (args.dir or Path(scratch)) / f"chat-{args.lines}.jsonl"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            t0 = time.perf_counter()
            make_file(path, args.lines)
            print(f"generated {args.lines:,} requests in {time.perf_counter() - t0:.1f} s")
        raw_read([path])  # warm the page cache
        report = validate_file(path)
        assert report.ok, report.problems[:3]
        baseline = best(3, lambda: parse_all(path))
        rows = [
            ("raw read, 1 MB chunks to /dev/null", best(3, lambda: raw_read([path]))),
            ("orjson.loads of every line (baseline)", baseline),
            ("validate_file", best(3, lambda: validate_file(path))),
            ("split_file, within limits (nothing written)", best(3, lambda: split_file(path))),
        ]
        size = path.stat().st_size

    print(f"\nfile: {size / 2**20:.1f} MiB ({size:,} bytes), {report.requests:,} requests, "
          f"{report.input_tokens:,} input tokens ({report.token_method})\n")  # fmt: skip
    print("| step | seconds | x orjson baseline |\n|---|---:|---:|")
    for name, seconds in rows:
        print(f"| {name} | {seconds:.3f} | {seconds / baseline:.2f} |")


if __name__ == "__main__":
    main()
