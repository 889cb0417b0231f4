"""Benchmark: every hostile policy of issue 7 refused within 2 s and 200 MiB (per command, in a child process).

Runs each case of tests/hostile/policies.py through `exaudit validate` (and `evaluate` with --all) in a child that
is killed after 20 s, and prints the time spent in main() and the child's peak RSS beside the 2 s / 200 MiB limits.
Two baseline rows (accepted policies): the shipped callpro.yaml, which shows what exaudit's imports cost alone, and
a policy with 3,900 inline members, just under the 4,000-value cap, which shows the cap keeps ruamel in budget.

    .venv/bin/python bench/bench_hostile_policy.py [--all] [-k SUBSTRING]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.hostile.policies import (  # noqa: E402 - the cases live with the tests that assert them
    CALLPRO,
    CASES,
    COMPLIANT,
    MEMORY_LIMIT_MIB,
    TIME_LIMIT,
    Outcome,
    run_exaudit,
)


def _near_the_cap(folder: Path) -> Path:
    """A valid policy just under the value cap (audit/policy/prescan.py MAX_VALUES): what the cap lets through."""
    text = CALLPRO.read_text(encoding="utf-8")
    start = text.index("    exactly:\n") + len("    exactly:\n")
    end = text.index("\n\n", start)
    members = "".join(f"      - member{n:05d}@contoso.com\n" for n in range(3_900))
    path = folder / "near-the-cap.yaml"
    path.write_text(text[:start] + members + text[end + 1 :], encoding="utf-8")
    return path


def _row(name: str, command: str, outcome: Outcome) -> tuple[float, float]:
    code = "hang" if outcome.code is None else str(outcome.code)
    ok = outcome.code is not None and outcome.seconds < TIME_LIMIT and outcome.peak_mib < MEMORY_LIMIT_MIB
    print(
        f"{name:<28} {command:<9} exit {code:>4}  {outcome.seconds:6.3f} s ({outcome.seconds / TIME_LIMIT:5.1%} of "
        f"{TIME_LIMIT:g} s)  {outcome.peak_mib:6.1f} MiB ({outcome.peak_mib / MEMORY_LIMIT_MIB:5.1%} of "
        f"{MEMORY_LIMIT_MIB:g} MiB)  {'ok' if ok else 'OVER'}"
    )
    return outcome.seconds, outcome.peak_mib


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--all", action="store_true", help="also run each case through `exaudit evaluate`")
    parser.add_argument("-k", default="", help="only the cases whose id contains this")
    args = parser.parse_args()
    commands = {"validate": [], "evaluate": ["--snapshot", str(COMPLIANT)]}
    if not args.all:
        del commands["evaluate"]
    worst_time, worst_memory = 0.0, 0.0
    with tempfile.TemporaryDirectory() as scratch:
        base = Path(scratch)
        for command, extra in commands.items():
            _row("baseline (callpro.yaml)", command, run_exaudit([command, str(CALLPRO), *extra], base))
            _row("3,900 inline members", command, run_exaudit([command, str(_near_the_cap(base)), *extra], base))
            for case in CASES:
                if args.k not in case.id:
                    continue
                folder = base / case.id / "policies"
                folder.mkdir(parents=True)
                policy, _ = case.build(folder)
                seconds, memory = _row(case.id, command, run_exaudit([command, str(policy), *extra], base))
                worst_time, worst_memory = max(worst_time, seconds), max(worst_memory, memory)
                shutil.rmtree(folder.parent)
    print(
        f"worst hostile case: {worst_time:.3f} s ({worst_time / TIME_LIMIT:.1%} of {TIME_LIMIT:g} s), "
        f"{worst_memory:.1f} MiB ({worst_memory / MEMORY_LIMIT_MIB:.1%} of {MEMORY_LIMIT_MIB:g} MiB)"
    )


if __name__ == "__main__":
    main()
