"""The "since last run" section every format prints when a baseline was given (audit/drift.py computes it).

One plain-text view for the HTML and Markdown renderers, so both say the same thing in the same order: new
failures first, then still failing with changed evidence, fixed, still failing unchanged; then the changes seen in
Exchange itself (canaries that became reachable first).
"""

from __future__ import annotations

from dataclasses import dataclass

from audit.drift import BaselineState, Drift

STATE_LABELS: dict[BaselineState, str] = {
    BaselineState.NEW: "New",
    BaselineState.UPDATED: "Still failing, changed",
    BaselineState.UNCHANGED: "Still failing",
    BaselineState.ABSENT: "Fixed",
}
CHANGE_LINES = 10  # evidence lines added/removed shown per finding in human formats


@dataclass(frozen=True, slots=True)
class SinceRow:
    """One finding compared with the baseline."""

    state: str  # BaselineState value
    label: str
    check_id: str
    status: str  # the current status ("PASS" for a fixed one)
    before: str  # the status in the baseline, "" when the check was not in it
    severity: str
    policy: str
    message: str
    changes: tuple[str, ...]  # "+ line" / "- line"


@dataclass(frozen=True, slots=True)
class SinceView:
    """The whole section."""

    baseline: str
    summary: str
    counts: tuple[tuple[str, str, int], ...]  # state, label, count
    rows: tuple[SinceRow, ...]
    evidence: tuple[str, ...]
    evidence_more: int


def since_view(drift: Drift) -> SinceView:
    """The section's content, in report order."""
    rows = []
    for c in drift.changes:
        f = c.finding
        lines = tuple(f"+ {line}" for line in c.added) + tuple(f"- {line}" for line in c.removed)
        rows.append(
            SinceRow(
                state=c.state.value,
                label=STATE_LABELS[c.state],
                check_id=f.check_id,
                status="PASS" if c.state is BaselineState.ABSENT else f.status.value,
                before=c.before.value if c.before is not None else "",
                severity=f.severity.value,
                policy=f.policy,
                message=f.message,
                changes=lines[:CHANGE_LINES],
            )
        )
    counts = tuple((s.value, STATE_LABELS[s], len(drift.of(s))) for s in STATE_LABELS)
    return SinceView(drift.baseline, drift.summary(), counts, tuple(rows), drift.evidence, drift.evidence_more)
