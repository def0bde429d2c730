"""A realistic finished chat batch on disk, for benchmarks of the result index and the result viewer.

`make_result_files(dir, 50_000)` writes ~100 MB of input (multi-message prompts of ~2 KB), ~200 MB of
output (answers of ~4 KB with usage, in shuffled order) and an error file with a 2% share of 400 lines.
`short=True` makes a classification-sized batch instead: a sentence per message and a one-sentence answer.
The same arguments always give the same files.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import orjson

from batchtui.core.results.index import ResultFiles

WORDS = [
    "the", "batch", "model", "token", "prompt", "answer", "review", "shipping", "refund", "quality", "price",
    "delivery", "support", "order", "customer", "product", "warranty", "battery", "screen", "fabric", "comfort",
    "size", "colour", "noise", "speed", "value", "manual", "setup", "return", "late", "early", "broken", "excellent",
    "poor", "average", "durable", "light", "heavy", "cheap", "expensive", "quickly", "slowly", "never", "always",
]
ERRORS = (
    ("context_length_exceeded", "messages", "This model's maximum context length is 128000 tokens."),
    ("invalid_value", "temperature", "Invalid value for 'temperature': must be between 0 and 2."),
    ("invalid_request_error", None, "The request body is not valid."),
)


def _sentences(rng: random.Random, count: int) -> list[str]:
    return [" ".join(rng.choices(WORDS, k=rng.randint(12, 24))).capitalize() + "." for _ in range(count)]


def _text(rng: random.Random, pool: list[str], chars: int) -> str:
    return " ".join(rng.choices(pool, k=max(1, chars // 120)))


def make_result_files(folder: Path, n: int, *, fail_share: float = 0.02, seed: int = 0,
                      short: bool = False) -> ResultFiles:
    """Write input.jsonl, output.jsonl and errors.jsonl of an n-request chat batch into `folder`."""
    prompt_chars, answer_chars = (100, 100) if short else (540, 3_300)
    rng = random.Random(seed)
    pool = _sentences(rng, 3_000)
    folder.mkdir(parents=True, exist_ok=True)
    files = ResultFiles(folder / "input.jsonl", folder / "output.jsonl", folder / "errors.jsonl")
    order = list(range(n))
    rng.shuffle(order)
    failed = set(rng.sample(range(n), round(n * fail_share)))
    with open(files.input, "wb") as fh:
        for i in range(n):
            messages = [{"role": "system", "content": "You summarise customer reviews for a product team."}]
            for turn in range(3):
                role = "user" if turn % 2 == 0 else "assistant"
                messages.append({"role": role, "content": _text(rng, pool, prompt_chars)})
            body = {"model": "gpt-4o-mini", "messages": messages, "max_tokens": 1000, "temperature": 0.2}
            fh.write(orjson.dumps({"custom_id": f"review-{i}", "method": "POST", "url": "/v1/chat/completions",
                                   "body": body}) + b"\n")
    with open(files.output, "wb") as out, open(files.errors, "wb") as err:
        for i in order:
            line = {"id": f"batch_req_{i:024x}", "custom_id": f"review-{i}", "response": None, "error": None}
            if i in failed:
                code, param, message = ERRORS[i % len(ERRORS)]
                error = {"message": message, "type": "invalid_request_error", "param": param, "code": code}
                line["response"] = {"status_code": 400, "request_id": f"req_{i:032x}", "body": {"error": error}}
                err.write(orjson.dumps(line) + b"\n")
                continue
            prompt, completion = rng.randint(400, 700), rng.randint(700, 1100)
            answer = {
                "id": f"chatcmpl-{i:029x}", "object": "chat.completion", "created": 1_750_000_000 + i,
                "model": "gpt-4o-mini-2024-07-18",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": _text(rng, pool, answer_chars),
                                                     "refusal": None, "annotations": []},
                             "logprobs": None, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                          "total_tokens": prompt + completion,
                          "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                          "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                                        "accepted_prediction_tokens": 0,
                                                        "rejected_prediction_tokens": 0}},
                "service_tier": "default", "system_fingerprint": "fp_0123456789",
            }
            line["response"] = {"status_code": 200, "request_id": f"req_{i:032x}", "body": answer}
            out.write(orjson.dumps(line) + b"\n")
    return files


def result_files_in(folder: Path, requests: int, *, short: bool = False) -> ResultFiles:
    """The batch's files in `folder`: reused when they are there (generating 300 MB takes a while), else made."""
    names = [folder / n for n in ("input.jsonl", "output.jsonl", "errors.jsonl")]
    if all(p.exists() for p in names):
        return ResultFiles(*names)
    t0 = time.perf_counter()
    files = make_result_files(folder, requests, short=short)
    print(f"generated {requests:,} requests in {time.perf_counter() - t0:.1f} s")
    return files
