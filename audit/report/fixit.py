"""The "fix it" section: every failing finding's remediation as one ordered, de-duplicated plan.

The order is the one ``exaudit plan`` prints (audit/evaluate/plan.py: narrow before widening, create what a later
step names first). A command several findings share is printed once, in the first step that needs it; each finding
then points at its steps instead of repeating the commands. Lines that are not Exchange cmdlets (Enable-ADAccount
needs the ActiveDirectory module on a domain controller or RSAT) are marked, so nobody pastes them into the
Exchange Management Shell and reads the error as "the fix does not work".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["NON_EXCHANGE", "RECHECK", "Plan", "Step", "fix_plan"]

from audit.evaluate.plan import NON_EXCHANGE, RECHECK, step_rank
from audit.findings import Finding, Status
from audit.report.interface import sort_key


@dataclass(frozen=True, slots=True)
class Step:
    """One step of the plan: the commands new at this point, and the findings they fix."""

    number: int
    anchor: str  # "fix-3"
    commands: str  # PowerShell, comments kept
    fixes: tuple[str, ...]  # "EXA033 (policy)" labels
    non_exchange: bool  # holds a command that does not run in the Exchange Management Shell


def _key(finding: Finding) -> tuple[str, str, str]:
    return (finding.policy, finding.check_id, finding.message)


@dataclass(frozen=True, slots=True)
class Plan:
    """The steps, and for each failing finding the numbers of the steps that fix it."""

    steps: tuple[Step, ...]
    refs: dict[tuple[str, str, str], tuple[int, ...]]

    def steps_for(self, finding: Finding) -> tuple[int, ...]:
        """The step numbers that fix ``finding`` (empty: nothing to run)."""
        return self.refs.get(_key(finding), ())


def fix_plan(findings: Sequence[Finding]) -> Plan:
    """Build the plan from the FAIL findings that carry a remediation."""
    failing = sorted(
        (f for f in findings if f.status is Status.FAIL and f.remediation.strip()),
        key=lambda f: (step_rank(f), sort_key(f)),
    )
    steps: list[Step] = []
    where: dict[str, int] = {}  # command line -> the step that first ran it
    refs: dict[tuple[str, str, str], tuple[int, ...]] = {}
    for finding in failing:
        lines = finding.remediation.splitlines()
        commands = [line for line in lines if line.strip() and not line.lstrip().startswith("#")]
        if not commands:
            continue  # only a note ("follows from the other fixes"): the finding shows it, no step to run
        fresh = [line for line in lines if line.lstrip().startswith("#") or line not in where]
        numbers = {where[line] for line in commands if line in where}
        if any(line in commands for line in fresh):
            number = len(steps) + 1
            label = f"{finding.check_id} ({finding.policy})"
            text = "\n".join(fresh).strip("\n")
            steps.append(Step(number, f"fix-{number}", text, (label,), any(c in text for c in NON_EXCHANGE)))
            for line in commands:
                where.setdefault(line, number)
            numbers.add(number)
        else:
            # Every command is already in an earlier step: name this finding there too.
            for n in numbers:
                old = steps[n - 1]
                steps[n - 1] = Step(
                    old.number,
                    old.anchor,
                    old.commands,
                    (*old.fixes, f"{finding.check_id} ({finding.policy})"),
                    old.non_exchange,
                )
        refs[_key(finding)] = tuple(sorted(numbers))
    return Plan(tuple(steps), refs)
