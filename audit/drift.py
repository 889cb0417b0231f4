"""Drift between two runs: what newly fails, what was fixed, what still fails, and what changed in the evidence.

The question every scheduled compliance job is asked is "what changed since last week". A baseline is an earlier
run, given either as its JSON report (``report.json``: the findings as they were) or as its snapshot (then both
snapshots are evaluated with today's policies, and the snapshots themselves are compared: members added or removed,
role assignments and scopes that changed, canaries that became reachable).

Pure logic: no file, network or rendering here (the sans-IO import-linter contract covers this module). The CLI
reads the files; the reporters print :class:`Drift`.

Each finding of the current run gets a SARIF-style ``baselineState`` (SARIF 2.1.0, section 3.27.24):
``new`` (not failing in the baseline), ``unchanged`` (failing in both, same message and evidence), ``updated``
(failing in both, message or evidence changed); findings that failed in the baseline and no longer do are
``absent`` (fixed). A finding is "failing" when its status is FAIL or ERROR: an ERROR is not a fix.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from audit.findings import ExitCode, Finding, Severity, SourceLocation, Status

if TYPE_CHECKING:
    from audit.snapshot import Group, ManagementScope, Probe, RoleAssignment, RoleGroup, User


class SnapshotState(Protocol):
    """What :func:`compare_snapshots` reads of a snapshot (a whole :class:`audit.snapshot.Snapshot` has it)."""

    @property
    def collected_at(self) -> str:  # noqa: D102  (read-only attributes, documented in audit/snapshot.py)
        ...
    @property
    def probes(self) -> tuple[Probe, ...]:  # noqa: D102  (read-only attributes, documented in audit/snapshot.py)
        ...
    @property
    def role_assignments(self) -> tuple[RoleAssignment, ...]:  # noqa: D102  (read-only attributes, documented in audit/snapshot.py)
        ...
    @property
    def scopes(self) -> tuple[ManagementScope, ...]:  # noqa: D102  (read-only attributes, documented in audit/snapshot.py)
        ...
    @property
    def role_groups(self) -> tuple[RoleGroup, ...]:  # noqa: D102  (read-only attributes, documented in audit/snapshot.py)
        ...
    @property
    def groups(self) -> tuple[Group, ...]:  # noqa: D102  (read-only attributes, documented in audit/snapshot.py)
        ...
    @property
    def users(self) -> tuple[User, ...]:  # noqa: D102  (read-only attributes, documented in audit/snapshot.py)
        ...


REPORT_SCHEMA = "exaudit/report"
EVIDENCE_LINES = 50  # per category and per finding: enough to act on, bounded for 100,000-recipient tenants
FAILING = frozenset({Status.FAIL, Status.ERROR})


class BaselineState(enum.StrEnum):
    """How a finding relates to the baseline (the SARIF ``baselineState`` values)."""

    NEW = "new"
    UNCHANGED = "unchanged"
    UPDATED = "updated"
    ABSENT = "absent"


class FailOn(enum.StrEnum):
    """``--fail-on``: exit 1 on any failing check (the default), or only on checks that newly fail."""

    ANY = "any"
    NEW = "new"


Key = tuple[str, str]  # (policy, check id)


def key(finding: Finding) -> Key:
    """A finding's identity across runs."""
    return (finding.policy, finding.check_id)


@dataclass(frozen=True, slots=True)
class Change:
    """One failing finding compared with the baseline: its state and what changed in its evidence."""

    finding: Finding  # the current finding (the baseline's for ABSENT)
    state: BaselineState
    before: Status | None = None  # the status in the baseline (None: the check was not in it)
    added: tuple[str, ...] = ()  # evidence lines that appeared
    removed: tuple[str, ...] = ()  # evidence lines that disappeared


@dataclass(frozen=True, slots=True)
class Drift:
    """Everything that changed since the baseline; ``evidence`` lists changes in the snapshots themselves."""

    baseline: str  # what was compared against, for a human ("report.json of 2026-11-26T02:00:00Z")
    changes: tuple[Change, ...] = ()
    evidence: tuple[str, ...] = ()
    evidence_more: int = 0  # evidence lines left out (bounded output)
    states: Mapping[Key, BaselineState] = field(default_factory=dict)

    def of(self, state: BaselineState) -> list[Change]:
        """The changes in one state, in report order."""
        return [c for c in self.changes if c.state is state]

    @property
    def new(self) -> list[Change]:
        """Failing now, not failing in the baseline."""
        return self.of(BaselineState.NEW)

    @property
    def fixed(self) -> list[Change]:
        """Failing in the baseline, not now."""
        return self.of(BaselineState.ABSENT)

    @property
    def still(self) -> list[Change]:
        """Failing in both (unchanged or updated)."""
        return [c for c in self.changes if c.state in (BaselineState.UNCHANGED, BaselineState.UPDATED)]

    @property
    def any(self) -> bool:
        """Whether anything at all differs from the baseline."""
        return bool(self.new or self.fixed or self.evidence) or any(
            c.state is BaselineState.UPDATED for c in self.changes
        )

    def summary(self) -> str:
        """One line: the counts."""
        updated = len(self.of(BaselineState.UPDATED))
        return (
            f"since {self.baseline}: {len(self.new)} new, {len(self.fixed)} fixed, {len(self.still)} still failing"
            f" ({updated} with changed evidence), {len(self.evidence) + self.evidence_more} change(s) in the state"
        )


def _order(change: Change) -> tuple[int, int, int, str, str]:
    rank = {BaselineState.NEW: 0, BaselineState.UPDATED: 1, BaselineState.UNCHANGED: 2, BaselineState.ABSENT: 3}
    f = change.finding
    return (rank[change.state], 0 if f.status is Status.ERROR else 1, f.severity.rank, f.check_id, f.policy)


def _lines_diff(old: Sequence[str], new: Sequence[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    before, after = set(old), set(new)
    added = tuple(line for line in new if line not in before)[:EVIDENCE_LINES]
    removed = tuple(line for line in old if line not in after)[:EVIDENCE_LINES]
    return added, removed


def compare(baseline: Iterable[Finding], current: Iterable[Finding], label: str, evidence: Sequence[str] = ()) -> Drift:
    """Compare the findings of two runs (and attach the snapshot changes, when known)."""
    old = {key(f): f for f in baseline}
    changes: list[Change] = []
    states: dict[Key, BaselineState] = {}
    seen: set[Key] = set()
    for finding in current:
        k = key(finding)
        seen.add(k)
        before = old.get(k)
        if finding.status not in FAILING:
            if before is not None and before.status in FAILING:
                changes.append(Change(before, BaselineState.ABSENT, before.status))
                states[k] = BaselineState.ABSENT
            elif before is None:
                states[k] = BaselineState.NEW  # e.g. a waiver added since: SARIF shows it as a new suppression
            else:
                same = before.status == finding.status and before.message == finding.message
                states[k] = BaselineState.UNCHANGED if same else BaselineState.UPDATED
            continue
        if before is None or before.status not in FAILING:
            state = BaselineState.NEW
            added: tuple[str, ...] = ()
            removed: tuple[str, ...] = ()
        else:
            added, removed = _lines_diff(before.evidence, finding.evidence)
            same = not added and not removed and before.message == finding.message and before.status == finding.status
            state = BaselineState.UNCHANGED if same else BaselineState.UPDATED
        states[k] = state
        changes.append(Change(finding, state, before.status if before else None, added, removed))
    for k, before in old.items():
        if k not in seen and before.status in FAILING:
            # The check is gone from the current run (a policy or check removed): it no longer fails here.
            changes.append(Change(before, BaselineState.ABSENT, before.status))
            states[k] = BaselineState.ABSENT
    shown = tuple(evidence[: EVIDENCE_LINES * 4])
    return Drift(label, tuple(sorted(changes, key=_order)), shown, len(evidence) - len(shown), states)


def gate(code: ExitCode, drift: Drift | None, fail_on: FailOn) -> ExitCode:
    """The exit code under ``--fail-on``: with ``new``, a failure the baseline already had does not fail the job.

    An ERROR (state unknown) is never forgiven: the run fails closed whatever the baseline says.
    """
    if fail_on is FailOn.ANY or drift is None or code is not ExitCode.NON_COMPLIANT:
        return code
    newly_failing = [c for c in drift.new if c.finding.status is Status.FAIL]
    return ExitCode.NON_COMPLIANT if newly_failing else ExitCode.COMPLIANT


# --- reading a JSON report back -----------------------------------------------------------------------------


class BaselineError(ValueError):
    """A baseline report cannot be read (the CLI turns it into one clear line)."""


def _text(item: Mapping[str, Any], name: str) -> str:
    value = item.get(name, "")
    if not isinstance(value, str):
        raise BaselineError(f"finding field {name!r} is not a string")
    return value


def findings_from_report(doc: object) -> tuple[tuple[Finding, ...], str]:
    """The findings of an exaudit JSON report and its generation time.

    Raises:
        BaselineError: not an exaudit report (schema 1).
    """
    if not isinstance(doc, dict) or doc.get("schema") != REPORT_SCHEMA or doc.get("schemaVersion") != 1:
        raise BaselineError("not an exaudit JSON report (schema exaudit/report, schemaVersion 1)")
    items = doc.get("findings")
    if not isinstance(items, list):
        raise BaselineError("the report has no findings list")
    findings: list[Finding] = []
    for n, item in enumerate(items):
        if not isinstance(item, dict):
            raise BaselineError(f"finding {n} is not an object")
        try:
            status, severity = Status(str(item.get("status"))), Severity(str(item.get("severity")))
        except ValueError as exc:
            raise BaselineError(f"finding {n}: {exc}") from None
        evidence = item.get("evidence", [])
        if not isinstance(evidence, list) or not all(isinstance(e, str) for e in evidence):
            raise BaselineError(f"finding {n}: evidence is not a list of strings")
        loc = item.get("location")
        location = None
        if isinstance(loc, dict) and isinstance(loc.get("line"), int):
            location = SourceLocation(str(loc.get("path", "")), loc["line"], int(loc.get("column", 1) or 1))
        findings.append(
            Finding(
                check_id=_text(item, "checkId"),
                title=_text(item, "title"),
                status=status,
                severity=severity,
                message=_text(item, "message"),
                policy=_text(item, "policy"),
                remediation=_text(item, "remediation"),
                evidence=tuple(evidence),
                location=location,
            )
        )
    info = doc.get("info")
    generated = str(info.get("generatedAt", "")) if isinstance(info, dict) else ""
    return tuple(findings), generated


# --- comparing two snapshots --------------------------------------------------------------------------------


def _set_diff(what: str, old: Mapping[str, Iterable[str]], new: Mapping[str, Iterable[str]], out: list[str]) -> None:
    for name in sorted(set(old) | set(new)):
        before, after = set(old.get(name, ())), set(new.get(name, ()))
        if name not in old:
            out.append(f"{what} {name}: created ({len(after)} member(s))")
        elif name not in new:
            out.append(f"{what} {name}: removed (had {len(before)} member(s))")
        out += [f"{what} {name}: member added {m}" for m in sorted(after - before)]
        out += [f"{what} {name}: member removed {m}" for m in sorted(before - after)]


def _records(
    what: str, old: Mapping[str, Mapping[str, object]], new: Mapping[str, Mapping[str, object]], out: list[str]
) -> None:
    for name in sorted(set(old) | set(new)):
        if name not in old:
            out.append(f"{what} {name}: added ({_fields(new[name])})")
        elif name not in new:
            out.append(f"{what} {name}: removed")
        else:
            for field_name in sorted(set(old[name]) | set(new[name])):
                before, after = old[name].get(field_name), new[name].get(field_name)
                if before != after:
                    out.append(f"{what} {name}: {field_name} {before!r} -> {after!r}")


def _fields(values: Mapping[str, object]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in values.items() if v not in (None, "", ()))


def compare_snapshots(old: SnapshotState, new: SnapshotState) -> list[str]:
    """What changed in Exchange between two snapshots, one line each, the most dangerous first.

    Canaries and other deny probes that became reachable come first, then role assignments, scopes, role group and
    group membership, and accounts enabled or disabled. Linear in the size of the snapshots (sets and dicts).
    """
    out: list[str] = []
    before = {(p.mailbox, p.expect): p for p in old.probes}
    for p in new.probes:
        was = before.get((p.mailbox, p.expect))
        if was is None or was.outcome == p.outcome:
            continue
        note = ""
        if p.expect == "deny" and p.outcome.value == "allowed":
            note = f" (a {p.source} that must be refused BECAME REACHABLE)"
        elif p.expect == "allow" and was.outcome.value == "allowed":
            note = " (in-scope mailbox no longer reachable)"
        out.append(f"probe {p.mailbox}: {was.outcome.value} -> {p.outcome.value}{note}")
    out.sort(key=lambda line: "BECAME REACHABLE" not in line)

    def assignments(s: SnapshotState) -> dict[str, dict[str, object]]:
        return {
            a.name: {
                "role": a.role,
                "assignee": a.role_assignee_name,
                "enabled": a.enabled,
                "writeScope": a.recipient_write_scope,
                "customWriteScope": a.custom_recipient_write_scope,
                "ouScope": a.recipient_ou_scope,
            }
            for a in s.role_assignments
        }

    def scopes(s: SnapshotState) -> dict[str, dict[str, object]]:
        return {
            sc.name: {"filter": sc.recipient_filter, "root": sc.recipient_root, "exclusive": sc.exclusive}
            for sc in s.scopes
        }

    _records("role assignment", assignments(old), assignments(new), out)
    _records("management scope", scopes(old), scopes(new), out)
    _set_diff(
        "role group", {g.name: g.members for g in old.role_groups}, {g.name: g.members for g in new.role_groups}, out
    )
    _set_diff("group", {g.name: g.members for g in old.groups}, {g.name: g.members for g in new.groups}, out)
    disabled = {u.user_principal_name: u.account_disabled for u in old.users}
    for u in new.users:
        was_disabled = disabled.get(u.user_principal_name)
        if was_disabled is not None and was_disabled != u.account_disabled:
            out.append(f"account {u.user_principal_name}: {'disabled' if u.account_disabled else 'enabled'}")
    return out
