"""A job carried to the end through SIGKILLs, the enqueued-token limit and a faulty API (issue 18's proof).

A template job over 12,000 data rows, in parts of 1,000, against a sandbox that fails 5% of requests, answers
429s and 500s and drops connections, and admits only a few parts' tokens at a time (the job is not told the limit:
it learns it from the refusals). `batchtui job run` is SIGKILLed at random moments, again and again, and run once
more to the end. Then every row is exported once, in the data's order, with a final result (an answer, or a 400
that retrying would not change); no (part, attempt) has two batches; no part's file was uploaded twice; and the
spend the job reports is the sum of its batches' costs as the API reports them.
"""

from __future__ import annotations

import csv
import json
import os
import random
import subprocess
import sys
import time
from collections import Counter
from decimal import Decimal

import httpx2
from cli_helpers import batchtui, sandbox_process
from long_runs import suite_or_long
from openai import OpenAI

from batchtui.core.api.models import Batch
from batchtui.core.insights.pricing import batch_cost

ROWS = 12_000
KILLS = int(suite_or_long(6, 20))
SEED = 18
TEMPLATE = '{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Describe {{item}} in one line."}]}'


def test_a_job_reaches_its_end_through_kills_limits_and_faults(tmp_path, isolated_home):
    template = tmp_path / "prompt.json"
    template.write_text(TEMPLATE)
    data = tmp_path / "items.csv"
    with data.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["id", "item"])
        writer.writerows([f"item-{i}", f"the object numbered {i}"] for i in range(ROWS))
    faults = "429=0.03,500=0.03,drop=0.02"
    with sandbox_process("--fail-rate", "0.05", "--enqueued-token-limit", "40000", "--faults", faults) as url:
        env = {**os.environ, "OPENAI_BASE_URL": url, "OPENAI_API_KEY": "sk-test",
               "BATCHTUI_HOME": str(isolated_home)}
        started = batchtui("job", "start", str(template), str(data), "--part-lines", "1000", "--max-attempts", "5",
                           "--detach", "--json", env=env)
        job_id = json.loads(started.stdout)["id"]
        rng = random.Random(SEED)
        for _ in range(KILLS):
            runner = subprocess.Popen([sys.executable, "-m", "batchtui", "job", "run", job_id, "--poll-seconds", "0.2"],
                                      env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0.5, 3.0))
            runner.kill()
            runner.wait()
        deadline = time.monotonic() + 240
        while True:  # a kill may leave a pass that needs a retry: run until the job has ended
            done = batchtui("job", "run", job_id, "--poll-seconds", "0.2", "--json", env=env, check=False)
            view = json.loads(done.stdout)
            if view["status"] == "completed" or time.monotonic() > deadline:
                break
        assert view["status"] == "completed", done.stderr
        assert view["requests"]["pending"] == 0

        client = OpenAI(base_url=url, api_key="sk-test", max_retries=8)  # the faults are still on
        batches = [b for b in client.batches.list(limit=100) if (b.metadata or {}).get("batchtui_job") == job_id]
        files = [f for f in client.files.list() if f.filename.startswith(job_id)]
        stats = httpx2.get(url.removesuffix("/v1") + "/_sandbox/stats").json()

    keys = Counter((b.metadata["batchtui_part"], b.metadata["batchtui_attempt"]) for b in batches)
    assert max(keys.values()) == 1, f"a part attempt became two batches: {keys.most_common(3)}"
    assert {int(part) for part, _ in keys} == set(range(1, 13))
    names = Counter(f.filename for f in files)
    assert max(names.values()) == 1, f"a file was uploaded twice: {names.most_common(3)}"
    assert stats["batches_failed.token_limit_exceeded"] > 0, "the limit was met and learnt"
    assert Decimal(view["spend_usd"]) == sum(
        (cost.total_usd for b in batches if (cost := batch_cost(Batch.from_dict(b.to_dict())))), Decimal(0))

    out = tmp_path / "answers.csv"
    batchtui("job", "export", job_id, "-o", str(out), env=env)
    rows = list(csv.DictReader(out.open()))
    assert [r["id"] for r in rows] == [f"item-{i}" for i in range(ROWS)], "each row once, in the data's order"
    answered = [r for r in rows if r["status"] == "ok"]
    assert all(r["answer"] for r in answered)
    assert len(rows) - len(answered) == view["requests"]["failed"] < ROWS * 0.05
