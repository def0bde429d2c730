"""CLI processes killed with SIGKILL at random moments while they sync, download and import leave a cache that
opens and checks ok, every batch's llm_logs rows all there or none, and no half-written file under a real name."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from cli_helpers import batchtui, sandbox_process
from long_runs import suite_or_long
from openai import OpenAI

KILLS = int(suite_or_long(9, 21))
"""Taken in turn by the phases below, so each is killed a third of the times."""
SEED = 7
SMALL_BATCHES = 60
BIG_LINES = 4000
PHASES = {
    "sync": ("list-batches",),
    "download": ("get-batch-results", "{big}", "-o", "{out}"),
    "import": ("import-batch", "--all", "--force"),
}


def check_cache(cache: Path) -> None:
    with sqlite3.connect(cache) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        rows = dict(conn.execute("SELECT batch_id, count(*) FROM llm_log_rows GROUP BY batch_id").fetchall())
        imported = dict(conn.execute("SELECT batch_id, rows FROM llm_log_imports").fetchall())
        assert rows == {batch_id: n for batch_id, n in imported.items() if n}, "a half-imported batch"
        for path, size in conn.execute("SELECT path, bytes FROM downloads"):
            assert not Path(path).exists() or Path(path).stat().st_size == size, f"{path} is not whole"
    conn.close()


def check_folder(folder: Path, sizes: dict[str, int]) -> None:
    """Every file under a real name is whole; a temp file left by the kill is hidden (.name.*.part)."""
    for path in folder.iterdir() if folder.exists() else ():
        if path.name.startswith("."):
            assert path.name.endswith(".part")
        else:
            assert path.stat().st_size == sizes[path.name], f"{path.name} is half-written"


def forget_logs_and_batches(cache: Path) -> None:
    """So the next import writes every row again and the next sync pages through every batch."""
    with sqlite3.connect(cache) as conn:
        conn.execute("DELETE FROM llm_log_rows")
        conn.execute("DELETE FROM llm_log_imports")
        conn.execute("DELETE FROM batches")
    conn.close()


def test_sigkill_at_random_moments_leaves_the_cache_whole(tmp_path, isolated_home, write_batch_file):
    rng = random.Random(SEED)
    with sandbox_process() as url:
        client = OpenAI(base_url=url, api_key="sk-test")
        small = write_batch_file(20, "small.jsonl")
        for _ in range(SMALL_BATCHES):
            file = client.files.create(file=small, purpose="batch")
            client.batches.create(input_file_id=file.id, endpoint="/v1/chat/completions", completion_window="24h")
        file = client.files.create(file=write_batch_file(BIG_LINES, "big.jsonl"), purpose="batch")
        big = client.batches.create(input_file_id=file.id, endpoint="/v1/chat/completions", completion_window="24h")
        while (big := client.batches.retrieve(big.id)).status != "completed":
            time.sleep(0.1)
        out = tmp_path / "results"
        sizes = {f"{big.id}_{kind}.jsonl": client.files.retrieve(file_id).bytes
                 for kind, file_id in (("output", big.output_file_id), ("error", big.error_file_id)) if file_id}
        env = {**os.environ, "OPENAI_BASE_URL": url, "OPENAI_API_KEY": "sk-test"}
        commands = {phase: [arg.format(big=big.id, out=out) for arg in args] for phase, args in PHASES.items()}

        durations = {}
        for phase, args in commands.items():  # once whole: how long each takes, to kill within that
            started = time.monotonic()
            batchtui(*args, env=env)
            durations[phase] = time.monotonic() - started
        (cache,) = isolated_home.rglob("cache.db")

        hits: Counter[str] = Counter()
        finished: Counter[str] = Counter()
        for kill in range(KILLS):
            phase = list(commands)[kill % len(commands)]
            forget_logs_and_batches(cache)
            if phase == "download":
                for path in out.iterdir():
                    path.unlink()
            process = subprocess.Popen([sys.executable, "-m", "batchtui", *commands[phase]], env=env,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            time.sleep(rng.uniform(0.3, durations[phase]))
            process.send_signal(signal.SIGKILL)
            _, stderr = process.communicate(timeout=30)
            (finished if process.returncode == 0 else hits)[phase] += 1
            assert process.returncode in (0, -signal.SIGKILL), stderr
            check_cache(cache)
            check_folder(out, sizes)
        after = batchtui("list-batches", "--json", env=env)  # and the next run works on what was left
        assert after.stderr == ""
        check_cache(cache)
    print(f"\nkills: {KILLS}; killed mid-run by phase {dict(hits)}; finished before the kill {dict(finished)}; "
          f"whole runs took {', '.join(f'{p} {d:.1f} s' for p, d in durations.items())}; all {KILLS} recovered")
