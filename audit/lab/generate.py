"""Grow a scenario tenant to N mailboxes (tested up to 100,000), optionally putting some into the scope group.

The generated users are ordinary enabled user mailboxes outside every scope unless ``group_members`` puts the
first K of them into a group; so a scenario's expectations still hold for its own names at any size.
"""

from __future__ import annotations

import dataclasses

from audit.lab import LabError
from audit.lab.tenant import Recipient, Tenant, tenant_from_records

DEFAULT_GROUP = "SecurityGroup-CallPro Calendar Access"
_DEPARTMENTS = ("Field Sales", "Sales Office", "Finance", "Logistics", "Customer Service", "IT", "Marketing")
_GUID_PREFIX = "0d5c8a7e-3b1f-4e52-8f6a-"


def generated_address(index: int, domain: str = "contoso.com") -> str:
    """Return the primary SMTP address of the index-th generated mailbox (0-based)."""
    return f"user{index:06d}@{domain}"


def generate(
    base: Tenant,
    mailboxes: int,
    *,
    group_members: int = 0,
    group: str = DEFAULT_GROUP,
) -> Tenant:
    """Return a new tenant with ``base``'s objects plus ``mailboxes`` generated user mailboxes.

    Args:
        base: the scenario tenant to grow (left unchanged).
        mailboxes: how many mailboxes to add.
        group_members: how many of the generated mailboxes become DIRECT members of ``group``.
        group: the group that receives them (name, alias or address).
    """
    if mailboxes < 0 or group_members < 0:
        raise LabError("mailboxes and group_members must not be negative")
    if group_members > mailboxes:
        raise LabError(f"cannot put {group_members} generated mailboxes into a group when generating {mailboxes}")
    org = base.organization
    domain = org.domain
    users_dn = f"CN=Users,{org.domain_dn}"
    sid_prefix = base.recipients[0].sid.rsplit("-", 1)[0] if base.recipients else "S-1-5-21-1-2-3"
    empty = ("",) * 15
    added: list[Recipient] = []
    for i in range(mailboxes):
        alias = f"user{i:06d}"
        name = f"Generated User {i:06d}"
        smtp = f"{alias}@{domain}"
        added.append(
            Recipient(
                name=name,
                alias=alias,
                display_name=name,
                upn=smtp,
                sam_account_name=alias,
                primary_smtp=smtp,
                email_addresses=(f"SMTP:{smtp}",),
                sid=f"{sid_prefix}-{200_000 + i}",
                # Deterministic and unique without hashing (uuid5 for 100k objects costs more than the rest).
                guid=f"{_GUID_PREFIX}{i:012x}",
                dn=f"CN={name},{users_dn}",
                identity=f"{domain}/Users/{name}",
                recipient_type_details="UserMailbox",
                department=_DEPARTMENTS[i % len(_DEPARTMENTS)],
                company=org.name,
                custom_attributes=empty,
                first_name="Generated",
                last_name=f"User {i:06d}",
            )
        )
    groups = base.groups
    if group_members:
        target = base.group(group)
        if target is None:
            raise LabError(f"group {group!r} is not in the tenant")
        extra = tuple(r.dn for r in added[:group_members])
        groups = tuple(
            dataclasses.replace(g, members=g.members + extra) if g.dn == target.dn else g for g in base.groups
        )
    tenant = tenant_from_records(base, recipients=[*base.recipients, *added], groups=groups)
    tenant.meta["generated"] = {"mailboxes": mailboxes, "group_members": group_members, "group": group}
    return tenant
