"""Hostile policies, and a runner that measures exaudit on each in a child process (time, peak memory, output).

Each case writes a policy (and whatever lies beside it) into a fresh folder and says what exaudit must answer:
exit code 2 and a message naming the place. The runner starts ``python -m audit`` with two planted secrets in its
environment, kills it after :data:`KILL_AFTER` seconds (a hang fails instead of blocking CI), and reads the child's
own peak RSS (VmHWM). Used by tests/hostile/test_policies.py and bench/bench_hostile_policy.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CALLPRO = ROOT / "policies" / "callpro.yaml"
COMPLIANT = ROOT / "tests" / "data" / "snapshots" / "compliant.snapshot.json"
SECRETS = {
    "EXAUDIT_AUDIT_PASSWORD": "Audit-Pa55-7f3c9e1d",
    "EXAUDIT_SERVICE_PASSWORD": "Service-Pa55-b82a44e0",
    "EXAUDIT_HOSTILE_TOKEN": "ghp_hostileTokenForTheUrlLine0123",
}
TIME_LIMIT = 2.0  # seconds spent in exaudit's main() for one hostile policy
MEMORY_LIMIT_MIB = 200.0
KILL_AFTER = 20.0  # a child still running then is a hang: killed, and the case fails

# The child measures main() itself, with exaudit's modules imported first: interpreter start-up and importing
# exchangelib on a busy CI machine are not what a hostile policy costs, and must not count against its 2 s.
_CHILD = """
import json, sys, time
import audit.evaluate, audit.policy, audit.report, audit.run, audit.snapshot
from audit.cli import main
start = time.perf_counter()
code = main(sys.argv[2:])
sys.stderr.flush(); sys.stdout.flush()
seconds = time.perf_counter() - start
# VmHWM is this program's own peak: ru_maxrss would also count the pytest process it was forked from, which
# Linux carries across exec.
hwm = next(line for line in open("/proc/self/status") if line.startswith("VmHWM:"))
with open(sys.argv[1], "w") as f:
    json.dump({"seconds": seconds, "peak_kib": int(hwm.split()[1])}, f)
sys.exit(code)
"""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one exaudit run did."""

    code: int | None  # None: killed after KILL_AFTER seconds
    seconds: float  # inside main(); the whole wall time if it never returned
    peak_mib: float
    stdout: str
    stderr: str


def run_exaudit(argv: list[str], cwd: Path) -> Outcome:
    """Run ``exaudit argv`` in a child with the planted secrets; kill it after KILL_AFTER seconds."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXAUDIT_")} | SECRETS
    env["PYTHONPATH"] = str(ROOT)
    with tempfile.TemporaryDirectory() as scratch:
        out_path, err_path, timing = (Path(scratch) / n for n in ("out", "err", "timing.json"))
        with out_path.open("wb") as out, err_path.open("wb") as err:
            start = time.monotonic()
            proc = subprocess.Popen(
                [sys.executable, "-c", _CHILD, str(timing), *argv],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                cwd=cwd,
                env=env,
            )
            killed = threading.Event()

            def kill() -> None:
                killed.set()
                proc.kill()

            timer = threading.Timer(KILL_AFTER, kill)
            timer.start()
            try:
                _, status, usage = os.wait4(proc.pid, 0)
            finally:
                timer.cancel()
            proc.returncode = os.waitstatus_to_exitcode(status)
            wall = time.monotonic() - start
        measured = json.loads(timing.read_text()) if timing.exists() else {}
        return Outcome(
            code=None if killed.is_set() else proc.returncode,
            seconds=measured.get("seconds", wall),
            # A child that never finished reports nothing: its rusage then (an over-estimate, never an under-one).
            peak_mib=measured.get("peak_kib", usage.ru_maxrss) / 1024,
            stdout=out_path.read_text(encoding="utf-8", errors="replace"),
            stderr=err_path.read_text(encoding="utf-8", errors="replace"),
        )


def callpro_with_members_file(name: str) -> str:
    """The seed policy with its members taken from ``file: <name>`` (the name written double-quoted)."""
    text = CALLPRO.read_text(encoding="utf-8")
    start = text.index("  members:\n    exactly:")
    end = text.index("\n\n", start)
    return text[:start] + f"  members:\n    file: {json.dumps(name)}" + text[end:]


def line_of(text: str, needle: str) -> tuple[int, int]:
    """1-based line and column of the first ``needle`` in ``text``."""
    index = text.index(needle)
    before = text[:index]
    return before.count("\n") + 1, index - (before.rfind("\n") + 1) + 1


@dataclass(frozen=True, slots=True)
class Case:
    """A hostile policy: ``build(folder)`` writes it and returns its path and where the error must point."""

    id: str
    build: Callable[[Path], tuple[Path, str | None]]  # the policy, and "file:line:column" the error must name
    message: str


def _write(folder: Path, text: str | bytes, name: str = "policy.yaml") -> Path:
    path = folder / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def _members(name: str, extra: Callable[[Path], None] | None = None) -> Callable[[Path], tuple[Path, str]]:
    def build(folder: Path) -> tuple[Path, str]:
        text = callpro_with_members_file(name)
        if extra is not None:
            extra(folder)
        line, column = line_of(text, "    file: ")
        return _write(folder, text), f"policy.yaml:{line}:{column + 4}"

    return build


def _symlink(target: str) -> Callable[[Path], None]:
    return lambda folder: (folder / "members.txt").symlink_to(target)


def _outside(folder: Path) -> None:
    (folder.parent / "outside.txt").write_text("ad.viseur@contoso.com\n", encoding="utf-8")


def _fifo(name: str) -> Callable[[Path], None]:
    return lambda folder: os.mkfifo(folder / name)


def _token_line(folder: Path) -> Path:
    token = SECRETS["EXAUDIT_HOSTILE_TOKEN"]
    lines = ["ad.viseur@contoso.com", f"https://x-access-token:{token}@github.example/org/repo.git", "bea@contoso.com"]
    return _write(folder, "\n".join(lines) + "\n", "members.txt")


def _token_members(folder: Path) -> tuple[Path, str]:
    _token_line(folder)
    return _write(folder, callpro_with_members_file("members.txt")), "members.txt:2:1"


def _non_utf8_members(folder: Path) -> tuple[Path, str]:
    _write(folder, b"ad.viseur@contoso.com\nbea.buiten@contoso\xe9.com\n", "members.txt")
    return _write(folder, callpro_with_members_file("members.txt")), "members.txt:2:19"


def _huge_members(folder: Path) -> None:
    _write(folder, "ad.viseur@contoso.com\n" * 400_000, "members.txt")  # 8.8 MB, past MAX_MEMBERS_BYTES


def _policy(text: str | bytes, where: tuple[int, int] | None) -> Callable[[Path], tuple[Path, str | None]]:
    return lambda folder: (_write(folder, text), f"policy.yaml:{where[0]}:{where[1]}" if where else None)


def _fifo_policy(folder: Path) -> tuple[Path, str | None]:
    os.mkfifo(folder / "policy.yaml")
    return folder / "policy.yaml", None


def _dev_zero_policy(folder: Path) -> tuple[Path, str | None]:
    (folder / "policy.yaml").symlink_to("/dev/zero")
    return folder / "policy.yaml", None


HEADER = "apiVersion: exaudit/v1\nkind: MailboxAccessPolicy\n"
NESTED = "nested more than 32 deep"
SEED = CALLPRO.read_text(encoding="utf-8")
_BOMB = (
    HEADER
    + "l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n"
    + "".join(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]\n" for i in range(1, 10))
)
_TAGGED = SEED.replace("severity: {}", 'severity: !!python/object/apply:os.system ["echo pwned"]')
_LATE = SEED.replace(
    "      - fien.field@contoso.com\n",
    "".join(f"      - member{n:05d}@contoso.com\n" for n in range(3_900)) + "      - not-an-address\n",
)
_LOCAL_TAG = SEED.replace("waivers: []", "waivers: !x []")
_DATED = SEED.replace("waivers: []", "waivers:\n  - {check: EXA031, reason: migration, expires: 2026-02-30}")

CASES: tuple[Case, ...] = (
    Case("members-proc-self-environ", _members("/proc/self/environ"), "must be a path relative to the policy's folder"),
    Case("members-absolute-path", _members("/etc/passwd"), "must be a path relative to the policy's folder"),
    Case("members-dotdot", _members("../outside.txt", _outside), "leads out of the policy's folder"),
    Case(
        "members-dotdot-proc", _members("../../../../../../../../proc/self/environ"), "leads out of the policy's folder"
    ),
    Case("members-symlink-environ", _members("members.txt", _symlink("/proc/self/environ")), "leads out"),
    Case("members-symlink-dev-zero", _members("members.txt", _symlink("/dev/zero")), "leads out"),
    Case("members-fifo", _members("members.txt", _fifo("members.txt")), "is not a regular file (a FIFO)"),
    Case("members-directory", _members(".", None), "is a directory"),
    Case("members-url-with-token", _token_members, "not an SMTP address such as ad.viseur@contoso.com (its text is"),
    Case("members-huge", _members("members.txt", _huge_members), "bytes; the limit is 8,388,608"),
    Case("members-not-utf8", _non_utf8_members, "not UTF-8 text: byte 0xe9 cannot be decoded"),
    Case("policy-fifo", _fifo_policy, "policy file is not a regular file (a FIFO)"),
    Case("policy-dev-zero", _dev_zero_policy, "policy file is not a regular file (a character device)"),
    Case("policy-huge", _policy(HEADER + "# padding\n" * 120_000, None), "bytes; the limit is 1,048,576"),
    Case("policy-not-utf8", _policy(HEADER.encode() + b"metadata: {name: caf\xe9}\n", (3, 21)), "not UTF-8 text"),
    Case("nested-brackets-200k", _policy(HEADER + "x: " + "[" * 100_000 + "]" * 100_000 + "\n", (3, 1003)), NESTED),
    Case("nested-braces-200k", _policy(HEADER + "x: " + "{a: " * 50_000 + "}" * 50_000 + "\n", (3, 128)), NESTED),
    Case("nested-block-lists", _policy(HEADER + "x:\n" + "- " * 100_000 + "a\n", (4, 63)), NESTED),
    Case("billion-laughs", _policy(_BOMB, None), "more than 4,000 values (YAML aliases expanded)"),
    Case("million-item-list", _policy(HEADER + "x: [" + "a," * 500_000 + "a]\n", (3, 7991)), "than 4,000 values"),
    Case("late-error-3900-members", _policy(_LATE, line_of(_LATE, "not-an-address")), "is not an SMTP address"),
    Case("python-tag", _policy(_TAGGED, line_of(_TAGGED, "!!python")), "YAML tag"),
    Case("local-tag", _policy(_LOCAL_TAG, line_of(_LOCAL_TAG, "!x []")), "YAML tag '!x' is not allowed"),
    Case("impossible-date", _policy(_DATED, line_of(_DATED, "2026-02-30")), "'2026-02-30' is not a real date"),
)
