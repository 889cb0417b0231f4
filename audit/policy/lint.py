"""Semantic lint of a loaded policy: what the schema accepts but a reviewer would still refuse.

The loader (:mod:`audit.policy.loader`) refuses what cannot be a policy; these rules flag policies that are
well-formed yet contradict themselves or cannot do what they say: a waiver for a check that does not exist (it
silences nothing and hides the typo), a mailbox that must be reachable and refused at once, a sample too large to
probe. Each finding names the file, line and column of the value at fault. The check ids are given by the caller
(the evaluation registry), so this module stays free of the evaluation code.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum

from audit.findings import SourceLocation
from audit.policy.loader import LoadedPolicy
from audit.policy.model import HOSTED_MAILBOX_TYPES

# EWS throttles each impersonating account on its own budget (EWSMaxConcurrency 27 on Exchange 2013 and Exchange
# Online; Microsoft advises no more than ten open requests): shared/domain/exchange-rbac.md section 9, from
# "EWS throttling in Exchange" (learn.microsoft.com/exchange/client-developer/exchange-web-services/
# ews-throttling-in-exchange). Beyond this many sampled outsiders a nightly run spends hours on them and ends
# at its deadline with the sample undecided; a few hundred random outsiders already show an unscoped grant.
MAX_SAMPLE = 10_000


class Level(StrEnum):
    """How bad a lint finding is: an error fails `exaudit validate` (exit 2); a warning is printed only."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Lint:
    """One semantic problem of a policy, where it was written."""

    level: Level
    rule: str  # stable id, e.g. "unknown-check"
    message: str
    location: SourceLocation

    def __str__(self) -> str:
        where = self.location
        return f"{where.path}:{where.line}:{where.column}: {self.level}: {self.message} [{self.rule}]"


def lint(policy: LoadedPolicy, known_checks: Collection[str]) -> list[Lint]:
    """Every semantic problem of one policy, in the order they appear in the file."""
    found = [
        *_unknown_checks(policy, known_checks),
        *_canaries_expected(policy),
        *_allow_deny_overlap(policy),
        *_sample_size(policy),
        *_member_types(policy),
    ]
    return sorted(found, key=lambda f: (f.location.line, f.location.column, f.rule))


def _unknown_checks(policy: LoadedPolicy, known: Collection[str]) -> list[Lint]:
    found: list[Lint] = []
    ids = sorted(known)
    listed = f"{ids[0]}-{ids[-1]}, see docs/checks.md" if ids else "none"
    for index, waiver in enumerate(policy.spec.waivers):
        if waiver.check not in known:
            found.append(
                Lint(
                    Level.ERROR,
                    "unknown-check",
                    f"waiver for {waiver.check}, which is not a check ({listed}): it would waive nothing",
                    policy.location(f"waivers[{index}].check"),
                )
            )
    for check in policy.spec.severity:
        if check not in known:
            found.append(
                Lint(
                    Level.ERROR,
                    "unknown-check",
                    f"severity override for {check}, which is not a check ({listed})",
                    policy.location(f"severity.{check}"),
                )
            )
    return found


def _canaries(policy: LoadedPolicy) -> list[tuple[int, str]]:
    probes = policy.spec.probes
    return [] if probes is None else list(enumerate(probes.deny.canaries))


def _canaries_expected(policy: LoadedPolicy) -> list[Lint]:
    """A canary must be refused; an expected member must be reachable: one mailbox cannot be both."""
    members = policy.expected_members
    required = members.required
    found: list[Lint] = []
    for index, address in _canaries(policy):
        where = policy.location(f"probes.deny.canaries[{index}]")
        if address.casefold() in required:
            source = "" if members.source in ("policy", "none") else f" (members file {members.source})"
            found.append(
                Lint(
                    Level.ERROR,
                    "canary-is-member",
                    f"{address} is a canary (must be refused) and an expected group member{source} (must be "
                    "reachable); EXA051 and EXA050 cannot both pass",
                    where,
                )
            )
        elif members.at_most is not None and address.casefold() in members.at_most:
            found.append(
                Lint(
                    Level.WARNING,
                    "canary-may-be-member",
                    f"{address} is a canary but atMost lets it be a group member; if it joins, the canary is reachable",
                    where,
                )
            )
    return found


def _allow_deny_overlap(policy: LoadedPolicy) -> list[Lint]:
    probes = policy.spec.probes
    if probes is None or isinstance(probes.allow, str):  # "groupMembers": covered by _canaries_expected
        return []
    allowed = {address.casefold() for address in probes.allow}
    return [
        Lint(
            Level.ERROR,
            "allow-deny-overlap",
            f"{address} is in probes.allow (must be reachable) and in probes.deny.canaries (must be refused)",
            policy.location(f"probes.deny.canaries[{index}]"),
        )
        for index, address in _canaries(policy)
        if address.casefold() in allowed
    ]


def _sample_size(policy: LoadedPolicy) -> list[Lint]:
    probes = policy.spec.probes
    if probes is None or probes.deny.sample <= MAX_SAMPLE:
        return []
    return [
        Lint(
            Level.WARNING,
            "sample-too-large",
            f"probes.deny.sample is {probes.deny.sample:,}: over {MAX_SAMPLE:,} random probes outrun EWS throttling "
            "and the run's deadline (the sample ends undecided); a few hundred already show an unscoped grant",
            policy.location("probes.deny.sample"),
        )
    ]


def _member_types(policy: LoadedPolicy) -> list[Lint]:
    """A member type EXA035 refuses anyway: listing it allows nothing and reads as if it did."""
    group = policy.spec.group
    if group is None or group.member_types is None:
        return []
    return [
        Lint(
            Level.WARNING,
            "member-type-not-hosted",
            f"group.memberTypes lists {kind}, which is not a mailbox hosted in this organization: EWS cannot "
            "impersonate it, so EXA035 fails such a member whatever memberTypes says",
            policy.location(f"group.memberTypes[{index}]"),
        )
        for index, kind in enumerate(group.member_types)
        if kind not in HOSTED_MAILBOX_TYPES
    ]
