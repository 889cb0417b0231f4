"""Reading a baseline (an earlier report JSON or snapshot) and ``exaudit diff``: the file side of audit/drift.py.

A file is a report when it is a JSON object with ``"schema": "exaudit/report"``; anything else is read as a
snapshot (checksum verified, so a damaged baseline is refused, never half-compared).
"""

from __future__ import annotations

import dataclasses
import gc
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pydantic

from audit import snapshot as snap
from audit.drift import (
    REPORT_SCHEMA,
    BaselineError,
    Drift,
    SnapshotState,
    compare,
    compare_snapshots,
    findings_from_report,
)
from audit.errors import SnapshotError, UsageError
from audit.findings import Finding
from audit.report.interface import one_line, strip_control

if TYPE_CHECKING:
    from audit.policy import LoadedPolicy
    from audit.snapshot import Snapshot

_MAX_REPORT = 512 << 20  # a report with every evidence line of a 100,000-recipient tenant stays far below


@dataclass(frozen=True, slots=True)
class Run:
    """One side of a comparison: its findings (None for a snapshot without policies) and its snapshot's state."""

    label: str
    findings: tuple[Finding, ...] | None
    snapshot: SnapshotState | None


@dataclass(frozen=True, slots=True)
class _State:
    """The parts of a snapshot that :func:`audit.drift.compare_snapshots` reads; every other member is skipped.

    Parsing only these (pydantic skips the rest of the JSON without building objects) keeps ``exaudit diff`` of two
    100,000-recipient snapshots, most of whose bytes are recipients and raw cmdlet output, fast and small.
    """

    collected_at: str
    probes: tuple[snap.Probe, ...] = ()
    role_assignments: tuple[snap.RoleAssignment, ...] = ()
    scopes: tuple[snap.ManagementScope, ...] = ()
    role_groups: tuple[snap.RoleGroup, ...] = ()
    groups: tuple[snap.Group, ...] = ()
    users: tuple[snap.User, ...] = ()


_STATE: pydantic.TypeAdapter[_State] = pydantic.TypeAdapter(_State)
_STATE_FIELDS = tuple(f.name for f in dataclasses.fields(_State))
_CHECKSUM_FIRST = re.compile(rb'\A\{"sha256":"([0-9a-f]{64})",')


def _content_end(data: bytes) -> int:
    """The length without trailing whitespace (bytes.rstrip would copy a 175 MiB snapshot to find it)."""
    end = len(data)
    while end and data[end - 1] in b" \t\r\n":
        end -= 1
    return end


def _state_only(data: bytes, source: str) -> SnapshotState:
    """The state to compare, after the checksum is verified over the raw bytes (exaudit's own layout).

    A snapshot in any other layout (pretty-printed, hand-edited) goes through the full loader, which verifies and
    explains.
    """
    match = _CHECKSUM_FIRST.match(data)
    if match is not None:
        digest = hashlib.sha256(b"{")
        digest.update(memoryview(data)[match.end() : _content_end(data)])
        if digest.hexdigest() == match.group(1).decode("ascii"):
            try:
                return _STATE.validate_json(data)
            except pydantic.ValidationError:
                pass  # the full loader says what is wrong
    snapshot, _sha = snap.loads(data, source)
    return snapshot


_REPORT_HEAD = re.compile(rb'\A\s*\{\s*"schema"\s*:\s*"' + re.escape(REPORT_SCHEMA.encode()) + rb'"')


def _is_report(data: bytes) -> bool:
    # A report starts with its schema (exaudit writes it first); a snapshot starts with its checksum.
    return _REPORT_HEAD.match(data[:400]) is not None


def read(path: Path, policies: Sequence[LoadedPolicy] = (), now: datetime | None = None) -> Run:
    """Read a report JSON or a snapshot (plain or compressed); a snapshot is evaluated with ``policies`` if any.

    Raises:
        UsageError: the file cannot be read or is not an exaudit report.
        SnapshotError: the snapshot is damaged or unreadable.
    """
    from audit import snapfile  # noqa: PLC0415  (imports the records; only needed once a baseline is given)

    try:
        path.stat()
    except OSError as exc:
        raise UsageError(f"cannot read the baseline {path}: {exc.strerror or exc}") from exc
    head = snapfile.read_bounded(path, 400)
    if _is_report(head):
        data = snapfile.read_bounded(path, _MAX_REPORT)
        if len(data) > _MAX_REPORT:
            raise UsageError(f"{path}: a report larger than 512 MiB is not one exaudit wrote")
        try:
            findings, generated = findings_from_report(json.loads(data))
        except (ValueError, BaselineError) as exc:
            raise UsageError(f"{path}: {exc}") from None
        return Run(f"{path.name} of {generated}" if generated else path.name, findings, None)
    if not policies or now is None:
        if snapfile.is_layout(head):  # parse only what the comparison reads; the rest is only verified
            state: SnapshotState = snapfile.load(path, sections=_STATE_FIELDS)[0]
        else:
            data = snapfile.read_bounded(path, snapfile.MAX_DOCUMENT)
            if len(data) > snapfile.MAX_DOCUMENT:
                raise SnapshotError(f"{path}: a single-document snapshot larger than 1 GiB; refusing it")
            state = _state_only(data, str(path))
        return Run(f"{path.name} collected {state.collected_at}", None, state)
    from audit.evaluate import evaluate_all  # noqa: PLC0415  (the core is imported only to evaluate)

    snapshot, _sha = snapfile.load(path)
    gc.freeze()  # as `exaudit evaluate`: the cycle collector need not walk the snapshot's acyclic records
    try:
        evaluated = tuple(evaluate_all(list(policies), snapshot, now))
    finally:
        gc.unfreeze()
    # Keep only what the comparison reads, so the recipients of the first snapshot are freed before the second one
    # is read: one full snapshot in memory at a time.
    kept = _State(
        snapshot.collected_at,
        snapshot.probes,
        snapshot.role_assignments,
        snapshot.scopes,
        snapshot.role_groups,
        snapshot.groups,
        snapshot.users,
    )
    return Run(f"{path.name} collected {snapshot.collected_at}", evaluated, kept)


def drift_against(
    baseline: Path,
    findings: Sequence[Finding],
    snapshot: Snapshot | None,
    policies: Sequence[LoadedPolicy],
    now: datetime,
) -> Drift:
    """The drift of the current run (``findings``, ``snapshot``) against a baseline file (``--baseline``)."""
    old = read(baseline, policies, now)
    evidence = compare_snapshots(old.snapshot, snapshot) if old.snapshot is not None and snapshot is not None else []
    return compare(old.findings or (), findings, old.label, evidence)


def diff(old_path: Path, new_path: Path, policies: Sequence[LoadedPolicy], now: datetime) -> Drift:
    """``exaudit diff OLD NEW``: two reports, or two snapshots (evaluated with ``policies`` when given).

    Raises:
        UsageError: one report and one snapshot, or a report that cannot be read.
        SnapshotError: a snapshot is damaged.
    """
    old, new = read(old_path, policies, now), read(new_path, policies, now)
    if (old.snapshot is None) != (new.snapshot is None):
        raise UsageError("compare like with like: two report JSON files, or two snapshots")
    evidence = compare_snapshots(old.snapshot, new.snapshot) if old.snapshot and new.snapshot else []
    return compare(old.findings or (), new.findings or (), old.label, evidence)


def render_text(drift: Drift, with_findings: bool) -> str:
    """The plain-text output of ``exaudit diff``."""
    lines = [drift.summary()]
    if with_findings:
        titles = {"new": "new failures", "absent": "fixed", "updated": "still failing, evidence changed"}
        for state, title in titles.items():
            changes = [c for c in drift.changes if c.state.value == state]
            if changes:
                lines.append(f"{title}:")
            for c in changes:
                f = c.finding
                lines.append(f"  {f.status.value} {f.check_id} [{f.severity.value}] {f.policy}: {one_line(f.message)}")
                lines += [f"    + {line}" for line in c.added] + [f"    - {line}" for line in c.removed]
        still = [c for c in drift.changes if c.state.value == "unchanged"]
        if still:
            lines.append("still failing, unchanged: " + ", ".join(f"{c.finding.check_id}" for c in still))
    if drift.evidence:
        lines.append("changes in Exchange:")
        lines += [f"  {line}" for line in drift.evidence]
        if drift.evidence_more:
            lines.append(f"  ... and {drift.evidence_more:,} more")
    # Names come from Exchange (an attacker can choose a display name): no control character reaches the terminal.
    return "\n".join(strip_control(line) for line in lines) + "\n"


__all__ = ["Run", "SnapshotError", "diff", "drift_against", "read", "render_text"]
