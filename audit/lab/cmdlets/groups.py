"""Get-Group, Get-DistributionGroup, Get-DistributionGroupMember."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from audit.lab.cmdlets.common import _GROUP_CLASSES, _address_list_membership, _matches_name, _text, _type_filter
from audit.lab.cmdlets.objects import (
    ADPRESENTATION_CHAIN,
    ExchangeObject,
    M,
    Value,
    mvp_adobjectid,
    mvp_proxy_addresses,
)
from audit.lab.cmdlets.recipients import _reduced_recipient
from audit.lab.tenant import Group, RoleGroup

if TYPE_CHECKING:
    from audit.lab.cmdlets.host import ExchangeSession


def _distribution_group(s: ExchangeSession, g: Group) -> ExchangeObject:
    """Get-DistributionGroup output (DistributionGroup : DistributionGroupBase : MailEnabledRecipient)."""
    props: list[tuple[str, Value]] = [
        ("GroupType", g.group_type),
        ("SamAccountName", g.sam_account_name),
        ("BypassNestedModerationEnabled", False),
        ("IsDirSynced", False),
        ("ManagedBy", mvp_adobjectid(s.canonical(dn) for dn in g.managed_by)),
        ("MemberJoinRestriction", g.member_join_restriction),
        ("MemberDepartRestriction", g.member_depart_restriction),
        ("MigrationToUnifiedGroupInProgress", False),
        ("ExpansionServer", ""),
        ("ReportToManagerEnabled", False),
        ("ReportToOriginatorEnabled", True),
        ("SendOofMessageToOriginatorEnabled", False),
        ("AcceptMessagesOnlyFrom", mvp_adobjectid(())),
        ("AcceptMessagesOnlyFromDLMembers", mvp_adobjectid(())),
        ("AcceptMessagesOnlyFromSendersOrMembers", mvp_adobjectid(())),
        ("AddressListMembership", _address_list_membership(g.hidden_from_address_lists)),
        ("AdministrativeUnits", mvp_adobjectid(())),
        ("Alias", g.alias),
        ("OrganizationalUnit", g.identity.rsplit("/", 1)[0]),
        *((f"CustomAttribute{i}", g.custom_attributes[i - 1]) for i in range(1, 16)),
        ("DisplayName", g.display_name),
        ("EmailAddresses", mvp_proxy_addresses(g.email_addresses)),
        ("HiddenFromAddressListsEnabled", g.hidden_from_address_lists),
        ("ModeratedBy", mvp_adobjectid(())),
        ("ModerationEnabled", False),
        ("EmailAddressPolicyEnabled", True),
        ("PrimarySmtpAddress", g.primary_smtp or ""),
        ("RecipientType", g.recipient_type),
        ("RecipientTypeDetails", g.recipient_type_details),
        ("RequireSenderAuthenticationEnabled", True),
        ("WindowsEmailAddress", g.primary_smtp or ""),
        ("MailTip", None),
    ]
    tail = s.common_tail(g.dn, g.name, g.guid, "Group", _GROUP_CLASSES)
    chain = (M + "DistributionGroup", M + "DistributionGroupBase", M + "MailEnabledRecipient", *ADPRESENTATION_CHAIN)
    return ExchangeObject(chain, g.name, tuple(props + tail))


def _windows_group(s: ExchangeSession, g: Group | RoleGroup) -> ExchangeObject:
    """Get-Group output (WindowsGroup : ADPresentationObject)."""
    props: list[tuple[str, Value]] = [
        ("DisplayName", g.display_name),
        ("GroupType", g.group_type if isinstance(g, Group) else "Universal, SecurityEnabled"),
        ("ManagedBy", mvp_adobjectid(s.canonical(dn) for dn in g.managed_by)),
        ("SamAccountName", g.sam_account_name),
        ("Sid", g.sid),
        ("Members", mvp_adobjectid(s.canonical(dn) for dn in g.members)),
        ("Notes", g.description if isinstance(g, RoleGroup) else ""),
        ("PhoneticDisplayName", ""),
        ("RecipientType", g.recipient_type if isinstance(g, Group) else "Group"),
        ("RecipientTypeDetails", g.recipient_type_details if isinstance(g, Group) else "RoleGroup"),
        ("WindowsEmailAddress", (g.primary_smtp or "") if isinstance(g, Group) else ""),
        ("OrganizationalUnit", g.identity.rsplit("/", 1)[0]),
    ]
    tail = s.common_tail(g.dn, g.name, g.guid, "Group", _GROUP_CLASSES)
    return ExchangeObject((M + "WindowsGroup", *ADPRESENTATION_CHAIN), g.name, tuple(props + tail))


def _distribution_groups(s: ExchangeSession) -> list[Group]:
    return [g for g in s.tenant.groups if g.is_mail_enabled]


def _get_distribution_group(s: ExchangeSession, p: dict[str, Any]) -> Iterator[ExchangeObject]:
    groups = _distribution_groups(s)
    if p.get("Identity") is not None:
        wanted = _text(p["Identity"])
        found = s.tenant.group(wanted)
        if found is not None and found.is_mail_enabled:
            groups = [found]
        else:
            groups = [g for g in groups if "*" in wanted and _matches_name(wanted, g.name, g.display_name, g.alias)]
        if not groups:
            s.not_found(wanted, "DistributionGroupIdParameter")
            return
    types = _type_filter(p)
    for g in groups:
        if types is None or g.recipient_type_details.lower() in types:
            yield _distribution_group(s, g)


def _get_distribution_group_member(s: ExchangeSession, p: dict[str, Any]) -> Iterator[ExchangeObject]:
    wanted = _text(p.get("Identity"))
    group = s.tenant.group(wanted) if wanted else None
    if group is None or not group.is_mail_enabled:
        s.not_found(wanted, "DistributionGroupMemberIdParameter")
        return
    # Direct members only; a nested group appears as a group object and is not expanded.
    for member in s.tenant.members(group):
        yield _reduced_recipient(s, member)


def _get_group(s: ExchangeSession, p: dict[str, Any]) -> Iterator[ExchangeObject]:
    everything: list[Group | RoleGroup] = [*s.tenant.groups, *s.tenant.role_groups]
    if p.get("Identity") is not None:
        wanted = _text(p["Identity"])
        found = s.tenant.resolve(wanted)
        everything = [found] if isinstance(found, Group | RoleGroup) else []
        if not everything:
            s.not_found(wanted, "GroupIdParameter")
            return
    types = _type_filter(p)
    for g in everything:
        details = g.recipient_type_details if isinstance(g, Group) else "RoleGroup"
        if types is None or details.lower() in types:
            yield _windows_group(s, g)
