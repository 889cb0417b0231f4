"""What a run audits, in words a report header can print: principal, role, path, scope, filter and group.

A report handed on to someone else must say what it is about without the policy file beside it. This reads each
policy's intended state (never the observed one: the findings say how Exchange differs).
"""

from __future__ import annotations

from collections.abc import Sequence

from audit.findings import Subject
from audit.policy import LoadedPolicy


def _via(policy: LoadedPolicy) -> str:
    via = policy.spec.grant.via
    if via.role_group is not None:
        return f"role group {via.role_group.name}"
    if via.security_group is not None:
        return f"security group {via.security_group.name}"
    return "direct assignment"


def _principal(policy: LoadedPolicy) -> str:
    principal = policy.spec.principal
    if principal.service_account:
        return str(principal.service_account)
    if principal.app is not None:
        name = principal.app.display_name or "application"
        return f"{name} (appId {principal.app.app_id})"
    return ""


def _scope(policy: LoadedPolicy) -> str:
    if policy.spec.scope is not None:
        return str(policy.spec.scope.name)
    unit = policy.spec.grant.administrative_unit
    if unit is not None:  # Exchange Online: -RecipientAdministrativeUnitScope instead of a management scope
        return f"administrative unit {unit.display_name or unit.id}"
    return ""


def _filter(policy: LoadedPolicy) -> str:
    if policy.spec.scope is None:
        return ""  # an administrative unit has members, not a filter
    recipient_filter = policy.spec.scope.recipient_filter
    if recipient_filter.member_of_group:
        return f"MemberOfGroup -eq '{recipient_filter.member_of_group}' (direct members of the group)"
    return str(recipient_filter.opath or "")


def subjects(policies: Sequence[LoadedPolicy]) -> tuple[Subject, ...]:
    """One :class:`Subject` per policy, in the order given."""
    return tuple(
        Subject(
            policy=p.spec.metadata.name,
            principal=_principal(p),
            role=str(p.spec.grant.role),
            via=_via(p),
            scope=_scope(p),
            recipient_filter=_filter(p),
            group=str(p.spec.group.name) if p.spec.group is not None else "",
        )
        for p in policies
    )
