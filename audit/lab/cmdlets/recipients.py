"""Get-Recipient, Get-Mailbox, Get-User: the recipient family."""

from __future__ import annotations

import fnmatch
import re
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from audit.lab.cmdlets.common import (
    _EMPTY_GUID,
    _GROUP_CLASSES,
    _RECIPIENT_CLASSES,
    _address_list_membership,
    _text,
    _type_filter,
)
from audit.lab.cmdlets.objects import (
    ADOBJECT_CHAIN,
    ADPRESENTATION_CHAIN,
    ExchangeObject,
    M,
    Value,
    mvp_adobjectid,
    mvp_proxy_addresses,
)
from audit.lab.cmdlets.stream import ErrorSpec, _Terminate, binding_error
from audit.lab.dn import dn_key
from audit.lab.tenant import Group, Recipient, RoleGroup

if TYPE_CHECKING:
    from audit.lab.cmdlets.host import ExchangeSession


def _reduced_recipient(s: ExchangeSession, obj: Recipient | Group | RoleGroup) -> ExchangeObject:
    """Get-Recipient / Get-DistributionGroupMember / Get-RoleGroupMember output (ReducedRecipient : ADObject)."""
    org = s.org
    if isinstance(obj, Recipient):
        custom = obj.custom_attributes
        props: list[tuple[str, Value]] = [
            ("Alias", obj.alias),
            ("City", ""),
            ("Company", obj.company),
            *((f"CustomAttribute{i}", custom[i - 1]) for i in range(1, 16)),
            ("Database", org.database if obj.has_mailbox else None),
            ("Department", obj.department),
            ("DisplayName", obj.display_name),
            ("EmailAddresses", mvp_proxy_addresses(obj.email_addresses)),
            ("ExternalDirectoryObjectId", ""),
            ("FirstName", obj.first_name),
            ("HiddenFromAddressListsEnabled", obj.hidden_from_address_lists),
            ("LastName", obj.last_name),
            ("ManagedBy", mvp_adobjectid(())),
            ("Name", obj.name),
            ("OrganizationalUnit", obj.identity.rsplit("/", 1)[0]),
            ("PrimarySmtpAddress", obj.primary_smtp or ""),
            ("RecipientType", obj.recipient_type),
            ("RecipientTypeDetails", obj.recipient_type_details),
            ("SamAccountName", obj.sam_account_name),
            ("Title", obj.title),
            ("WindowsLiveID", ""),
        ]
        classes: Sequence[str] = _RECIPIENT_CLASSES
        category = "Person"
    else:
        custom = obj.custom_attributes if isinstance(obj, Group) else ("",) * 15
        props = [
            ("Alias", obj.alias if isinstance(obj, Group) else ""),
            ("City", ""),
            ("Company", ""),
            *((f"CustomAttribute{i}", custom[i - 1]) for i in range(1, 16)),
            ("Database", None),
            ("Department", obj.department if isinstance(obj, Group) else ""),
            ("DisplayName", obj.display_name),
            ("EmailAddresses", mvp_proxy_addresses(obj.email_addresses if isinstance(obj, Group) else ())),
            ("ExternalDirectoryObjectId", ""),
            ("FirstName", ""),
            ("HiddenFromAddressListsEnabled", obj.hidden_from_address_lists if isinstance(obj, Group) else False),
            ("LastName", ""),
            ("ManagedBy", mvp_adobjectid(s.canonical(dn) for dn in obj.managed_by)),
            ("Name", obj.name),
            ("OrganizationalUnit", obj.identity.rsplit("/", 1)[0]),
            ("PrimarySmtpAddress", (obj.primary_smtp or "") if isinstance(obj, Group) else ""),
            ("RecipientType", obj.recipient_type if isinstance(obj, Group) else "Group"),
            ("RecipientTypeDetails", obj.recipient_type_details if isinstance(obj, Group) else "RoleGroup"),
            ("SamAccountName", obj.sam_account_name),
            ("Title", ""),
            ("WindowsLiveID", ""),
        ]
        classes = _GROUP_CLASSES
        category = "Group"
    tail = s.common_tail(obj.dn, obj.name, obj.guid, category, classes)
    # ReducedRecipient derives from ADObject directly, so its tail has Name earlier; keep the common order.
    return ExchangeObject((M + "ReducedRecipient", *ADOBJECT_CHAIN), obj.name, tuple(props + tail))


def _mailbox(s: ExchangeSession, r: Recipient) -> ExchangeObject:
    """Get-Mailbox output (Mailbox : MailEnabledOrgPerson : MailEnabledRecipient : ADPresentationObject)."""
    org = s.org
    props: list[tuple[str, Value]] = [
        ("Database", org.database),
        ("UseDatabaseRetentionDefaults", True),
        ("RetainDeletedItemsUntilBackup", False),
        ("DeliverToMailboxAndForward", False),
        ("IsMailboxEnabled", True),
        ("ExchangeGuid", uuid.UUID(r.exchange_guid)),
        ("ArchiveGuid", _EMPTY_GUID),
        ("ThrottlingPolicy", r.throttling_policy),
        ("RoleAssignmentPolicy", "Default Role Assignment Policy"),
        ("ForwardingAddress", None),
        ("ForwardingSmtpAddress", None),
        ("ProhibitSendQuota", "Unlimited"),
        ("ServerName", org.server_name.lower()),
        ("AuditEnabled", False),
        ("AccountDisabled", r.account_disabled),
        ("IsShared", r.recipient_type_details == "SharedMailbox"),
        ("IsResource", r.recipient_type_details in ("RoomMailbox", "EquipmentMailbox")),
        ("SamAccountName", r.sam_account_name),
        ("UserPrincipalName", r.upn),
        ("AddressListMembership", _address_list_membership(r.hidden_from_address_lists)),
        ("Alias", r.alias),
        ("OrganizationalUnit", r.identity.rsplit("/", 1)[0]),
        *((f"CustomAttribute{i}", r.custom_attributes[i - 1]) for i in range(1, 16)),
        ("DisplayName", r.display_name),
        ("EmailAddresses", mvp_proxy_addresses(r.email_addresses)),
        ("HiddenFromAddressListsEnabled", r.hidden_from_address_lists),
        (
            "LegacyExchangeDN",
            f"/o={org.name}/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn={r.alias}",
        ),
        ("EmailAddressPolicyEnabled", True),
        ("PrimarySmtpAddress", r.primary_smtp or ""),
        ("RecipientType", r.recipient_type),
        ("RecipientTypeDetails", r.recipient_type_details),
        ("WindowsEmailAddress", r.primary_smtp or ""),
        ("MailTip", None),
    ]
    tail = s.common_tail(r.dn, r.name, r.guid, "Person", _RECIPIENT_CLASSES)
    chain = (M + "Mailbox", M + "MailEnabledOrgPerson", M + "MailEnabledRecipient", *ADPRESENTATION_CHAIN)
    return ExchangeObject(chain, r.name, tuple(props + tail))


def _user(s: ExchangeSession, r: Recipient) -> ExchangeObject:
    """Get-User output (User : OrgPersonPresentationObject : ADPresentationObject)."""
    props: list[tuple[str, Value]] = [
        ("IsSecurityPrincipal", True),
        ("SamAccountName", r.sam_account_name),
        ("Sid", r.sid),
        ("UserPrincipalName", r.upn),
        ("AccountDisabled", r.account_disabled),
        ("CanHaveMailbox", True),
        ("RemotePowerShellEnabled", True),
        ("RecipientType", r.recipient_type),
        ("RecipientTypeDetails", r.recipient_type_details),
        ("WindowsEmailAddress", r.primary_smtp or ""),
        ("City", ""),
        ("Company", r.company),
        ("Department", r.department),
        ("DisplayName", r.display_name),
        ("FirstName", r.first_name),
        ("LastName", r.last_name),
        ("Manager", None),
        ("Title", r.title),
        ("OrganizationalUnit", r.identity.rsplit("/", 1)[0]),
    ]
    tail = s.common_tail(r.dn, r.name, r.guid, "Person", _RECIPIENT_CLASSES)
    chain = (M + "User", M + "OrgPersonPresentationObject", *ADPRESENTATION_CHAIN)
    return ExchangeObject(chain, r.name, tuple(props + tail))


def _get_user(s: ExchangeSession, p: dict[str, Any]) -> Iterator[ExchangeObject]:
    users = list(s.tenant.recipients)
    if p.get("Identity") is not None:
        wanted = _text(p["Identity"])
        found = s.tenant.resolve_recipient(wanted)
        users = [found] if found is not None else []
        if not users:
            s.not_found(wanted, "UserIdParameter")
            return
    types = _type_filter(p)
    for r in users:
        if types is None or r.recipient_type_details.lower() in types:
            yield _user(s, r)


def _get_mailbox(s: ExchangeSession, p: dict[str, Any]) -> Iterator[ExchangeObject]:
    if p.get("Identity") is not None:
        wanted = _text(p["Identity"])
        found = s.tenant.mailbox(wanted)
        if found is None:
            s.not_found(wanted, "MailboxIdParameter")
            return
        mailboxes: Iterable[Recipient] = [found]
    else:
        mailboxes = s.tenant.mailboxes()
    types = _type_filter(p)
    for r in mailboxes:
        if types is None or r.recipient_type_details.lower() in types:
            yield _mailbox(s, r)


# Get-Recipient -Filter: the simple forms an auditor uses (one comparison, or several joined by -and).
_FILTER_TERM = re.compile(
    r"^\s*\(?\s*([A-Za-z0-9]+)\s+-(eq|ne|like)\s+(?:'((?:[^']|'')*)'|\"([^\"]*)\")\s*\)?\s*$", re.I
)


def _recipient_filter(s: ExchangeSession, text: str) -> Callable[[Recipient | Group], bool]:
    body = text.strip()
    if body.startswith("{") and body.endswith("}"):
        body = body[1:-1]
    terms = re.split(r"\s+-and\s+", body, flags=re.I)
    tests: list[Callable[[Recipient | Group], bool]] = []
    for term in terms:
        m = _FILTER_TERM.match(term)
        if m is None:
            raise _Terminate(_invalid_filter(text))
        prop, op, quoted, dquoted = m.group(1), m.group(2).lower(), m.group(3), m.group(4)
        value = (quoted.replace("''", "'") if quoted is not None else dquoted) or ""
        tests.append(_filter_term(s, prop, op, value, text))
    return lambda r: all(test(r) for test in tests)


def _filter_term(s: ExchangeSession, prop: str, op: str, value: str, text: str) -> Callable[[Recipient | Group], bool]:
    key = prop.lower()
    if key == "memberofgroup":
        # "This filter requires the distinguished name or canonical distinguished name of the distribution group or
        # mail-enabled security group" (OPD filter-properties.md#memberofgroup: 'CN=Marketing Department,CN=Users,
        # DC=contoso,DC=com' or 'contoso.com/Users/Marketing Group'); a name, address or GUID "is accepted by the
        # filter syntax, but doesn't match anything" (recipientfilter-properties.md). DNs compare per RFC 4514.
        group = s.tenant.by_dn(value) or s.tenant.by_canonical_name(value)
        group_key = dn_key(group.dn) if group is not None else None
        if op == "like":
            pattern = value.lower()
            return lambda r: any(fnmatch.fnmatchcase(d.lower(), pattern) for d in s.tenant.member_of(r.dn))

        def member(r: Recipient | Group) -> bool:
            return group_key is not None and any(dn_key(d) == group_key for d in s.tenant.member_of(r.dn))

        return member if op == "eq" else (lambda r: not member(r))
    getters: dict[str, Callable[[Recipient | Group], str]] = {
        "recipienttypedetails": lambda r: r.recipient_type_details,
        "recipienttype": lambda r: r.recipient_type,
        "alias": lambda r: r.alias,
        "name": lambda r: r.name,
        "displayname": lambda r: r.display_name,
        "department": lambda r: r.department,
        "primarysmtpaddress": lambda r: r.primary_smtp or "",
    }
    for n in range(1, 16):
        getters[f"customattribute{n}"] = _custom_getter(n)
    getter = getters.get(key)
    if getter is None:
        raise _Terminate(_invalid_filter(text, prop))
    wanted = value.lower()
    if op == "like":
        return lambda r: fnmatch.fnmatchcase(getter(r).lower(), wanted)
    if op == "eq":
        return lambda r: getter(r).lower() == wanted
    return lambda r: getter(r).lower() != wanted


def _custom_getter(n: int) -> Callable[[Recipient | Group], str]:
    return lambda r: r.custom_attributes[n - 1]


def _invalid_filter(text: str, prop: str | None = None) -> ErrorSpec:
    reason = f'"{prop}" is not a recognized filterable property.' if prop else "Invalid filter syntax."
    return binding_error(
        f'Cannot bind parameter \'Filter\' to the target. Exception setting "Filter": "{reason} For a '
        f'description of the filter parameter syntax see the command help.\n"{text}""',
        "ParameterBindingFailed,Microsoft.Exchange.Management.RecipientTasks.GetRecipient",
        "Get-Recipient",
    )


def _get_recipient(s: ExchangeSession, p: dict[str, Any]) -> Iterator[ExchangeObject]:
    everything: Iterable[Recipient | Group]
    if p.get("Identity") is not None:
        wanted = _text(p["Identity"])
        found = s.tenant.resolve(wanted)
        if not isinstance(found, Recipient | Group):
            s.not_found(wanted, "RecipientIdParameter")
            return
        everything = [found]
    types = _type_filter(p)
    kinds = None
    if p.get("RecipientType") is not None:
        kinds = {k.strip().lower() for k in _text(p["RecipientType"]).split(",")}
    if p.get("Identity") is None:
        # Get-Recipient returns mail-enabled objects; a plain user only when its type is asked for by name.
        want_plain_users = bool(({"user", "disableduser"} & (types or set())) or ("user" in (kinds or set())))
        everything = [
            *(r for r in s.tenant.recipients if r.primary_smtp or want_plain_users),
            *(g for g in s.tenant.groups if g.is_mail_enabled),
        ]
    test = _recipient_filter(s, _text(p["Filter"])) if p.get("Filter") is not None else None
    for r in everything:
        if types is not None and r.recipient_type_details.lower() not in types:
            continue
        if kinds is not None and r.recipient_type.lower() not in kinds:
            continue
        if test is not None and not test(r):
            continue
        yield _reduced_recipient(s, r)
