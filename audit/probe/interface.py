"""The probers' seam: what to probe, how, progress, and the rule every prober shares.

That rule: a probe that did not run is ERROR, never PASS.

Two transports implement :class:`Prober`: EWS impersonation on premises (:mod:`audit.probe.ews`) and app-only
Microsoft Graph in Exchange Online (:mod:`audit.probe.graph`). ``audit.run`` only sees this protocol.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from audit.snapshot import Probe, ProbeOutcome, ProbeRun

CALENDAR_READ = "calendarRead"
CALENDAR_WRITE = "calendarWrite"
MARKER_PREFIX = "exaudit-probe"


@dataclass(frozen=True, slots=True)
class ProbeTarget:
    """One mailbox to probe and what the policy expects of it."""

    mailbox: str
    expect: str  # "allow" | "deny"
    source: str  # "groupMembers" | "list" | "canary" | "sample"


@dataclass(frozen=True, slots=True)
class ProbeSettings:
    """How to probe: parallelism, the deadline for the whole run, the per-request timeout, the operation."""

    concurrency: int = 8
    deadline_seconds: float = 300.0
    request_timeout: float = 30.0
    operation: str = CALENDAR_READ


class ProgressSink(Protocol):
    """Progress callbacks (start once, advance per finished step, finish once); called from one thread."""

    def start(self, total: int, label: str) -> None:
        """Begin counting ``total`` steps."""
        ...

    def advance(self, n: int = 1) -> None:
        """Count ``n`` steps done."""
        ...

    def finish(self) -> None:
        """End the phase."""
        ...


ProbeProgress = ProgressSink
"""The former name (audit.probe.ews)."""

AfterCreate = Callable[[str], None]
"""Test hook, called between creating and deleting the write probe's item (mailbox address)."""


class Prober(Protocol):
    """Probes mailboxes within one deadline; every target gets exactly one :class:`Probe` back, in order."""

    def run(
        self, targets: Sequence[ProbeTarget], progress: ProgressSink | None = None
    ) -> tuple[tuple[Probe, ...], ProbeRun]:
        """Probe every target; those not done by the deadline end in ERROR."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


def operation_for(target: ProbeTarget, operation: str) -> str:
    """The operation a target is probed with: a mailbox expected out of reach is only ever read.

    A canary's read already proves or disproves the breach; writing into a mailbox the integration must never
    touch (the CEO's calendar) would add nothing but the write.
    """
    return operation if target.expect == "allow" else CALENDAR_READ


def not_probed(targets: Sequence[ProbeTarget], operation: str, reason: str) -> tuple[Probe, ...]:
    """One ERROR probe per target, for a run that could not start (no credentials, no token)."""
    return tuple(
        Probe(t.mailbox, t.expect, t.source, operation_for(t, operation), ProbeOutcome.ERROR, "", reason, 0.0, 0)
        for t in targets
    )


def assemble(
    targets: Sequence[ProbeTarget],
    results: Mapping[int, Probe],
    settings: ProbeSettings,
    started: dt.datetime,
    error: str | None,
) -> tuple[tuple[Probe, ...], ProbeRun]:
    """The probes in target order, a missing one as ERROR "deadline reached", and the run's record.

    A run is complete only when every target has its own probe and nothing went wrong as a whole.
    """
    missing = [i for i in range(len(targets)) if i not in results]
    probes = []
    for i, target in enumerate(targets):
        probe = results.get(i)
        if probe is None:
            probe = Probe(
                mailbox=target.mailbox,
                expect=target.expect,
                source=target.source,
                operation=operation_for(target, settings.operation),
                outcome=ProbeOutcome.ERROR,
                response_code="",
                detail="deadline reached",
                elapsed_ms=0.0,
                attempts=0,
            )
        probes.append(probe)
    if missing and error is None:
        error = f"deadline of {settings.deadline_seconds:g} s reached with {len(missing)} probes not done"
    run = ProbeRun(
        started_at=started.isoformat(),
        finished_at=dt.datetime.now(dt.UTC).isoformat(),
        concurrency=settings.concurrency,
        deadline_seconds=settings.deadline_seconds,
        completed=not missing and error is None,
        error=error,
    )
    return tuple(probes), run
