"""What every reporter consumes: findings, their status and severity, and the exit-code table."""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from audit.drift import Drift


class Status(enum.StrEnum):
    """Outcome of one check; mapped 1:1 to JUnit (FAIL -> failure, ERROR -> error, SKIP -> skipped)."""

    PASS = "PASS"  # noqa: S105 (a status, not a password)
    FAIL = "FAIL"
    ERROR = "ERROR"  # could not tell: fail closed
    SKIP = "SKIP"  # not applicable or waived, with the reason in the message


class Severity(enum.StrEnum):
    """How bad a failure of the check is; ordered from most to least severe."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        """0 for the most severe."""
        return list(Severity).index(self)


class ExitCode(enum.IntEnum):
    """The one exit-code table (design.md). When several apply the most severe wins: 2 > 3 > 1 > 0."""

    COMPLIANT = 0
    NON_COMPLIANT = 1
    USAGE = 2  # usage error or invalid policy
    UNKNOWN_STATE = 3  # could not collect, a probe errored, a snapshot is unreadable: fail closed
    NOTHING_EVALUATED = 4

    @classmethod
    def worst(cls, codes: Iterable[ExitCode]) -> ExitCode:
        """The code that wins when several apply."""
        order = [cls.USAGE, cls.UNKNOWN_STATE, cls.NON_COMPLIANT, cls.NOTHING_EVALUATED, cls.COMPLIANT]
        present = set(codes)
        for code in order:
            if code in present:
                return code
        return cls.COMPLIANT


class _Call(Protocol):
    """A collection call as the snapshot records it (audit.snapshot.CallRecord)."""

    @property
    def ok(self) -> bool: ...


class _ProbeRun(Protocol):
    @property
    def completed(self) -> bool: ...


class _Probe(Protocol):
    @property
    def outcome(self) -> str: ...


# Probe outcomes that observed nothing (audit.snapshot.ProbeOutcome ERROR and AUTH_FAILED: a timeout, a 5xx, a
# refused login): the mailbox's access is unknown. Compared by value so that this layer imports no snapshot code.
_UNDECIDED_OUTCOMES = frozenset({"error", "auth_failed"})


def collection_incomplete(calls: Iterable[_Call], probe_run: _ProbeRun | None, probes: Iterable[_Probe]) -> bool:
    """Whether a collection left state unknown: a failed cmdlet call, a cut probe run, or a probe that saw nothing."""
    if any(not c.ok for c in calls):
        return True
    if probe_run is not None and not probe_run.completed:
        return True
    return any(str(p.outcome) in _UNDECIDED_OUTCOMES for p in probes)


def decide_exit_code(findings: Iterable[Finding] | None, *, incomplete: bool) -> ExitCode:
    """The exit code of `run`, `collect` and `evaluate`: the one place that decides it.

    ``findings`` is None for `collect` (nothing evaluated by design: its verdict is the collection's). A collection
    that left anything unknown is exit 3 whatever the findings say: a check that found nothing to contradict it
    (every check PASS after a failed Get-ExchangeServer) has not observed compliance (fail closed).
    """
    codes: list[ExitCode] = [ExitCode.UNKNOWN_STATE] if incomplete else []
    if findings is None:
        codes.append(ExitCode.COMPLIANT)
    else:
        counts = Counter(f.status for f in findings)
        if counts[Status.ERROR]:
            codes.append(ExitCode.UNKNOWN_STATE)
        elif counts[Status.FAIL]:
            codes.append(ExitCode.NON_COMPLIANT)
        elif not counts[Status.PASS]:
            codes.append(ExitCode.NOTHING_EVALUATED)
        else:
            codes.append(ExitCode.COMPLIANT)
    return ExitCode.worst(codes)


@dataclass(frozen=True, slots=True)
class SourceLocation:
    """Where in a policy file the expectation behind a finding was written."""

    path: str
    line: int
    column: int = 1


@dataclass(frozen=True, slots=True)
class Finding:
    """The verdict of one check for one policy."""

    check_id: str  # EXA0xx
    title: str
    status: Status
    severity: Severity
    message: str  # what a human can act on
    policy: str  # metadata.name of the policy
    expected: str = ""
    actual: str = ""
    remediation: str = ""  # PowerShell for this exact drift; empty when nothing is to be done
    doc_url: str = ""
    rationale: str = ""
    evidence: tuple[str, ...] = ()  # short lines quoting what was observed (no secrets, ever)
    location: SourceLocation | None = None
    waived_by: str | None = None  # the waiver's reason when the check was waived


@dataclass(frozen=True, slots=True)
class Subject:
    """What one policy audits, for the report header (audit/subjects.py builds it from the policy)."""

    policy: str  # metadata.name
    principal: str  # the service account's UPN, or the app's display name and appId
    role: str  # e.g. ApplicationImpersonation
    via: str  # "role group CallPro Calendar Access", "security group X", "direct assignment"
    scope: str  # the management scope's name
    recipient_filter: str  # what the scope's filter must mean
    group: str = ""  # the group the filter names, if any


@dataclass(frozen=True, slots=True)
class RunInfo:
    """Facts about the run that every report prints next to the findings."""

    tool_version: str
    generated_at: str  # ISO 8601 UTC
    policies: tuple[str, ...]  # policy file paths
    target: str  # e.g. "lab (scenario compliant)" or "https://ex01.contoso.com/PowerShell"; never credentials
    snapshot_sha256: str = ""
    collected_at: str = ""
    server_version: str = ""
    subjects: tuple[Subject, ...] = ()  # what each policy audits (the report header)


@dataclass(frozen=True, slots=True)
class AuditResult:
    """Findings of a run plus the facts about it; the one input of every reporter."""

    info: RunInfo
    findings: tuple[Finding, ...]
    incomplete: bool = False  # the collection behind the findings left state unknown (see collection_incomplete)
    drift: Drift | None = None  # what changed since the baseline (--baseline), when one was given
    counts: dict[Status, int] = field(init=False)

    def __post_init__(self) -> None:
        counts = Counter(f.status for f in self.findings)
        object.__setattr__(self, "counts", {s: counts.get(s, 0) for s in Status})

    @property
    def exit_code(self) -> ExitCode:
        """0 compliant, 1 a check failed, 3 a check or the collection could not tell, 4 nothing was evaluated."""
        return decide_exit_code(self.findings, incomplete=self.incomplete)

    @property
    def verdict(self) -> str:
        """One word for the summary line."""
        return {
            ExitCode.COMPLIANT: "COMPLIANT",
            ExitCode.NON_COMPLIANT: "NON-COMPLIANT",
            ExitCode.UNKNOWN_STATE: "UNKNOWN (fail closed)",
            ExitCode.NOTHING_EVALUATED: "NOTHING EVALUATED",
        }.get(self.exit_code, "UNKNOWN")
