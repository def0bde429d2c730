"""Fuzz run: the properties of tests/reliability/test_reliability_fuzz.py for many more cases, with fresh random
inputs each run (the test suite runs the same few hundred every time). Prints, per target, the cases `make test`
runs, the cases run here, and the distinct failures found, each with the input that caused it.
Run: .venv/bin/python tests/bench/fuzz.py [--minutes 5 | --cases N] [--target NAME ...]
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
import warnings
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, settings

sys.path.insert(0, str(Path(__file__).parents[1] / "reliability"))
from fuzz_targets import MAKE_TEST, TARGETS, Target  # noqa: E402

ROUND = 200
"""Cases per hypothesis run; a run stops at its first failure, so the budget is spent in rounds."""


def fuzz(target: Target, cases: int | None, seconds: float | None) -> tuple[int, dict[str, str]]:
    """Run the target until `cases` have run or `seconds` have passed; the count and the distinct failures."""
    ran, failures = 0, {}
    shown: list[str] = []

    def check(case: object) -> None:
        nonlocal ran
        ran += 1
        shown[:] = [repr(case)[:300]]
        target.check(case)

    run = settings(max_examples=ROUND, deadline=None, database=None, phases=[Phase.generate],
                   suppress_health_check=list(HealthCheck))(given(target.strategy)(check))
    end = time.monotonic() + seconds if seconds is not None else None
    while (cases is None or ran < cases) and (end is None or time.monotonic() < end):
        try:
            run()
        except Exception as exc:  # a failure of the code under test: keep one example per place it happened
            where, message = _where(exc)
            failures.setdefault(where, f"{message}\n  input: {shown[0] if shown else '?'}")
    return ran, failures


def _where(exc: BaseException) -> tuple[str, str]:
    """A failure's kind (the exception and the innermost batchtui or check line it came from), and its message."""
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "batchtui" in f.filename or "fuzz" in f.filename]
    place = f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "?"
    return f"{type(exc).__name__} at {place}", (str(exc).splitlines() or [""])[0][:160]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--minutes", type=float, help="time for all targets together (default 5)")
    budget.add_argument("--cases", type=int, help="cases per target")
    parser.add_argument("--target", action="append", choices=[t.name for t in TARGETS], help="only these targets")
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # hypothesis on a 128 KB repr, openpyxl on damaged cells: we report our own
    chosen = [t for t in TARGETS if not args.target or t.name in args.target]
    seconds = None if args.cases else (args.minutes or 5) * 60 / len(chosen)
    rows, found = [], []
    for target in chosen:
        started = time.monotonic()
        ran, failures = fuzz(target, args.cases, seconds)
        rows.append((target.name, MAKE_TEST[target.name], ran, len(failures), time.monotonic() - started))
        found += [(target.name, where, case) for where, case in failures.items()]
        print(f"{target.name}: {ran:,} cases, {len(failures)} failures", file=sys.stderr, flush=True)
    print(f"{'target':<16} {'make test':>9} {'fuzz run':>9} {'failures':>8} {'time':>7}")
    for name, in_tests, ran, failed, took in rows:
        print(f"{name:<16} {in_tests:>9,} {ran:>9,} {failed:>8} {took:>6.0f}s")
    print(f"{'total':<16} {sum(r[1] for r in rows):>9,} {sum(r[2] for r in rows):>9,} {sum(r[3] for r in rows):>8}")
    for name, where, case in found:
        print(f"\n{name}: {where}: {case}")
    raise SystemExit(1 if found else 0)


if __name__ == "__main__":
    main()
