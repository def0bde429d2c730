"""make_batch_file on a 50,000-row CSV of reviews (~20 MB), against a baseline in the same run.

Baseline: csv.reader over the file plus orjson.dumps of one request dict per row, written to a file —
the least any CSV-to-JSONL conversion does. Nothing is asserted. Goal: about a second, <= 3x the baseline.
Run: .venv/bin/python tests/bench/make_batch_file.py [--rows 50000]
"""

from __future__ import annotations

import argparse
import csv
import random
import tempfile
from pathlib import Path

import orjson
from timing import best

from batchtui.core.authoring.batch_file import make_batch_file

TEMPLATE = Path(__file__).parents[2] / "examples" / "reviews" / "template.json"
SYSTEM = orjson.loads(TEMPLATE.read_text().replace("{{max_tokens}}", "0"))["messages"][0]["content"]
WORDS = ["the", "battery", "screen", "shipping", "refund", "price", "support", "order", "noise,", '"great"', "broken"]


def write_data(path: Path, rows: int) -> None:
    rng = random.Random(0)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "product", "review", "max_tokens"])
        for i in range(rows):
            review = " ".join(rng.choices(WORDS, k=rng.randint(20, 80)))
            if i % 10 == 0:
                review += "\nSecond line: ça va 🙂"
            writer.writerow([f"r{i}", f"product {i % 97}", review, rng.choice([100, 200, 300])])


def baseline(data: Path, out: Path) -> None:
    with data.open(newline="", encoding="utf-8") as fh, out.open("wb") as sink:
        reader = csv.reader(fh)
        next(reader)
        for row_id, product, review, max_tokens in reader:
            body = {
                "model": "gpt-4o-mini",
                "messages": [
                    {"role": "system", "content": SYSTEM},
                    {"role": "user", "content": f"Product: {product}\nReview: {review}"},
                ],
                "max_tokens": int(max_tokens),
                "temperature": 0,
            }
            line = {"custom_id": f"id_{row_id}", "method": "POST", "url": "/v1/chat/completions", "body": body}
            sink.write(orjson.dumps(line, option=orjson.OPT_APPEND_NEWLINE))




def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        data = folder / "reviews.csv"
        write_data(data, args.rows)
        size = data.stat().st_size / 1e6
        base = best(3, lambda: baseline(data, folder / "baseline.jsonl"))
        made = best(3, lambda: make_batch_file(TEMPLATE, data, folder / "requests.jsonl"))
        out_size = (folder / "requests.jsonl").stat().st_size / 1e6
    print(f"\ndata: {args.rows:,} rows, {size:.1f} MB CSV -> {out_size:.1f} MB JSONL\n")
    print("| step | seconds | x baseline |\n|---|---:|---:|")
    for name, seconds in (("csv.reader + orjson.dumps per row (baseline)", base), ("make_batch_file", made)):
        print(f"| {name} | {seconds:.3f} | {seconds / base:.1f} |")


if __name__ == "__main__":
    main()
