"""The lab's tenant: an Exchange organization's recipients, groups and RBAC objects, loaded from YAML.

A tenant file names the objects an admin would create; the loader derives what Exchange would (DNs, GUIDs,
SIDs, canonical identities, proxy addresses, the role assignments a role group's roles produce) and adds the
built-in role groups, roles, assignments and the default throttling policy every organization has. A scenario
file may start with ``extends: <other file>`` and then only name what differs (lists are merged by name; an
entry with ``remove: true`` deletes).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import secrets
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from audit.lab import LabError

MAILBOX_TYPES = frozenset({"UserMailbox", "SharedMailbox", "RoomMailbox", "EquipmentMailbox"})
USER_TYPES = MAILBOX_TYPES | {"User", "DisabledUser"}
GROUP_TYPES = {
    "MailUniversalSecurityGroup": ("Universal, SecurityEnabled", "MailUniversalSecurityGroup"),
    "MailUniversalDistributionGroup": ("Universal", "MailUniversalDistributionGroup"),
    "UniversalSecurityGroup": ("Universal, SecurityEnabled", "Group"),
    "MailNonUniversalGroup": ("Global, SecurityEnabled", "MailNonUniversalGroup"),
}
DELEGATION_TYPES = ("Regular", "Delegating", "DelegatingOrgWide")
ASSIGNEE_TYPES = ("User", "RoleGroup", "SecurityGroup")
WRITE_SCOPES = ("Organization", "CustomRecipientScope", "None", "MyGAL", "Self", "OU", "ExclusiveRecipientScope")
RBAC_OU = "Microsoft Exchange Security Groups"
_NS = uuid.UUID("6f2b9c1e-5d1a-4c9b-9a43-3e1f0c2d7a55")

# Built-in management roles (name -> RoleType) present in every on-premises organization; the subset the
# auditor or the cmdlets can meet. https://learn.microsoft.com/exchange/built-in-management-roles-exchange-2013-help
BUILTIN_ROLES: dict[str, str] = {
    "ApplicationImpersonation": "ApplicationImpersonation",
    "View-Only Configuration": "ViewOnlyConfiguration",
    "View-Only Recipients": "ViewOnlyRecipients",
    "Role Management": "RoleManagement",
    "Mail Recipients": "MailRecipients",
    "Mail Recipient Creation": "MailRecipientCreation",
    "Distribution Groups": "DistributionGroups",
    "Security Group Creation and Membership": "SecurityGroupCreationAndMembership",
    "Organization Configuration": "OrganizationConfiguration",
    "Recipient Policies": "RecipientPolicies",
    "Mailbox Search": "MailboxSearch",
    "Legal Hold": "LegalHold",
    "Mailbox Import Export": "MailboxImportExport",
    "Audit Logs": "AuditLogs",
    "View-Only Audit Logs": "ViewOnlyAuditLogs",
    "Reset Password": "ResetPassword",
    "User Options": "UserOptions",
    "Move Mailboxes": "MoveMailboxes",
    "Transport Hygiene": "TransportHygiene",
    "Exchange Server Certificates": "ExchangeServerCertificates",
    "Exchange Servers": "ExchangeServers",
    "Databases": "Databases",
    "Address Lists": "AddressLists",
    "Journaling": "Journaling",
    "Retention Management": "RetentionManagement",
}

# Built-in role groups and their Regular roles. Organization Management also holds a Delegating assignment of
# every role; for ApplicationImpersonation only that Delegating one (DelegatingOrgWide), which grants no access.
# https://learn.microsoft.com/exchange/permissions/role-groups ; exchange-rbac.md 1.2-1.3
_ORG_MGMT_REGULAR = tuple(
    r for r in BUILTIN_ROLES if r not in {"ApplicationImpersonation", "Mailbox Search", "Mailbox Import Export"}
)
BUILTIN_ROLE_GROUPS: dict[str, tuple[str, ...]] = {
    "Organization Management": _ORG_MGMT_REGULAR,
    "View-Only Organization Management": ("View-Only Configuration", "View-Only Recipients"),
    "Recipient Management": (
        "Distribution Groups",
        "Mail Recipients",
        "Mail Recipient Creation",
        "Move Mailboxes",
        "Recipient Policies",
        "Reset Password",
        "Security Group Creation and Membership",
    ),
    "Hygiene Management": (
        "ApplicationImpersonation",
        "Transport Hygiene",
        "View-Only Configuration",
        "View-Only Recipients",
    ),
    "Discovery Management": ("Mailbox Search", "Legal Hold"),
    "Compliance Management": (
        "Audit Logs",
        "Journaling",
        "Retention Management",
        "View-Only Audit Logs",
        "View-Only Configuration",
        "View-Only Recipients",
    ),
    "Server Management": ("Databases", "Exchange Server Certificates", "Exchange Servers"),
    "Help Desk": ("Reset Password", "User Options", "View-Only Recipients"),
    "Records Management": ("Audit Logs", "Journaling", "Retention Management"),
}

# EWSMaxConcurrency of the default policy: 27 since Exchange 2013.
# https://learn.microsoft.com/exchange/client-developer/exchange-web-services/ews-throttling-in-exchange
DEFAULT_EWS_MAX_CONCURRENCY = 27


@dataclass(frozen=True, slots=True)
class Organization:
    """The organization and its one Exchange server."""

    name: str = "Contoso"
    domain: str = "contoso.com"
    netbios: str = "CONTOSO"
    is_exchange_online: bool = False
    ews_enabled: bool = True
    server_name: str = "EXCH01"
    server_fqdn: str = "exch01.contoso.com"
    admin_display_version: str = "Version 15.2 (Build 1544.4)"
    build: tuple[int, int, int, int] = (15, 2, 1544, 4)
    edition: str = "Enterprise"
    database: str = "Mailbox Database 0311695030"
    domain_controller: str = "dc01.contoso.com"

    @property
    def domain_dn(self) -> str:
        """Return the domain's DN, e.g. DC=contoso,DC=com."""
        return ",".join(f"DC={part}" for part in self.domain.split("."))

    @property
    def config_dn(self) -> str:
        """Return the DN of the organization's Exchange configuration container."""
        return f"CN={self.name},CN=Microsoft Exchange,CN=Services,CN=Configuration,{self.domain_dn}"

    @property
    def guid(self) -> str:
        """Return the organization's GUID (stable for a name)."""
        return str(uuid.uuid5(_NS, f"org:{self.name}"))


@dataclass(frozen=True, slots=True)
class Recipient:
    """A user: a mailbox (user, shared, room) or a user without a mailbox."""

    name: str
    alias: str
    display_name: str
    upn: str
    sam_account_name: str
    primary_smtp: str | None
    email_addresses: tuple[str, ...]
    sid: str
    guid: str
    dn: str
    identity: str
    recipient_type_details: str
    account_disabled: bool = False
    department: str = ""
    company: str = ""
    title: str = ""
    custom_attributes: tuple[str, ...] = ("",) * 15
    hidden_from_address_lists: bool = False
    throttling_policy: str | None = None
    first_name: str = ""
    last_name: str = ""

    @property
    def has_mailbox(self) -> bool:
        """Return whether the user has a mailbox."""
        return self.recipient_type_details in MAILBOX_TYPES

    @property
    def recipient_type(self) -> str:
        """Return RecipientType as Get-Recipient shows it (UserMailbox or User)."""
        return "UserMailbox" if self.has_mailbox else "User"

    @property
    def exchange_guid(self) -> str:
        """Return the mailbox's ExchangeGuid."""
        return str(uuid.uuid5(_NS, f"mbx:{self.guid}"))

    @property
    def kind(self) -> str:
        """Return the object kind: "user"."""
        return "user"

    def custom_attribute(self, n: int) -> str:
        """Return CustomAttribute<n> (1..15)."""
        return self.custom_attributes[n - 1]


@dataclass(frozen=True, slots=True)
class Group:
    """A group: mail-enabled (security or distribution) or a plain universal security group."""

    name: str
    alias: str
    display_name: str
    sam_account_name: str
    primary_smtp: str | None
    email_addresses: tuple[str, ...]
    sid: str
    guid: str
    dn: str
    identity: str
    recipient_type_details: str
    group_type: str
    hidden_from_address_lists: bool = False
    member_join_restriction: str = "Closed"
    member_depart_restriction: str = "Closed"
    members: tuple[str, ...] = ()  # DNs of DIRECT members (users or groups)
    managed_by: tuple[str, ...] = ()  # DNs
    department: str = ""
    custom_attributes: tuple[str, ...] = ("",) * 15

    @property
    def is_mail_enabled(self) -> bool:
        """Return whether the group is a mail-enabled recipient."""
        return self.recipient_type_details.startswith("Mail")

    @property
    def recipient_type(self) -> str:
        """Return RecipientType as Get-Recipient shows it."""
        if self.recipient_type_details == "MailUniversalSecurityGroup":
            return "MailUniversalSecurityGroup"
        if self.recipient_type_details == "MailUniversalDistributionGroup":
            return "MailUniversalDistributionGroup"
        if self.recipient_type_details == "MailNonUniversalGroup":
            return "MailNonUniversalGroup"
        return "Group"

    @property
    def kind(self) -> str:
        """Return the object kind: "group"."""
        return "group"


@dataclass(frozen=True, slots=True)
class RoleGroup:
    """A role group (a universal security group under Microsoft Exchange Security Groups)."""

    name: str
    display_name: str
    sam_account_name: str
    sid: str
    guid: str
    dn: str
    identity: str
    members: tuple[str, ...] = ()  # DNs of direct members
    managed_by: tuple[str, ...] = ()
    role_group_type: str = "Standard"
    description: str = ""
    is_builtin: bool = False

    @property
    def kind(self) -> str:
        """Return the object kind: "rolegroup"."""
        return "rolegroup"


@dataclass(frozen=True, slots=True)
class ManagementRole:
    """A management role."""

    name: str
    role_type: str
    dn: str
    guid: str
    identity: str
    is_builtin: bool = True
    parent: str | None = None


@dataclass(frozen=True, slots=True)
class RoleAssignment:
    """A management role assignment linking a role to a user, role group or security group."""

    name: str
    role: str
    assignee: str  # DN of the user, role group or security group
    assignee_name: str
    assignee_type: str  # User | RoleGroup | SecurityGroup
    delegation: str = "Regular"
    enabled: bool = True
    recipient_write_scope: str = "Organization"
    custom_recipient_write_scope: str | None = None
    config_write_scope: str = "OrganizationConfig"
    recipient_read_scope: str = "Organization"
    config_read_scope: str = "OrganizationConfig"
    dn: str = ""
    guid: str = ""
    is_builtin: bool = False

    @property
    def identity(self) -> str:
        """Return the Identity Exchange shows (the assignment's name)."""
        return self.name


@dataclass(frozen=True, slots=True)
class ManagementScope:
    """A management scope with its stored recipient filter."""

    name: str
    recipient_filter: str
    scope_restriction_type: str = "RecipientScope"
    exclusive: bool = False
    recipient_root: str | None = None
    dn: str = ""
    guid: str = ""

    @property
    def identity(self) -> str:
        """Return the Identity Exchange shows (the scope's name)."""
        return self.name


@dataclass(frozen=True, slots=True)
class ThrottlingPolicy:
    """A throttling policy; ``ews_max_concurrency`` None means Unlimited."""

    name: str
    scope: str = "Regular"  # Global | Organization | Regular
    is_default: bool = False
    ews_max_concurrency: int | None = DEFAULT_EWS_MAX_CONCURRENCY
    dn: str = ""
    guid: str = ""
    is_service_account: bool = False


@dataclass(frozen=True, slots=True)
class Account:
    """A login: the sAMAccountName, the password the lab accepts, and what it is for.

    ``stale_credentials`` models an integration that still holds an old password: the lab hands out a
    different password than the one it accepts.
    """

    username: str
    password: str | None = dataclasses.field(default=None, repr=False)
    role: str | None = None  # "auditor" | "service" | None
    stale_credentials: bool = False


@dataclass(frozen=True, slots=True)
class CalendarItem:
    """A calendar item stored in a lab mailbox."""

    item_id: str
    change_key: str
    subject: str
    start: str
    end: str
    legacy_free_busy: str = "Busy"
    sensitivity: str = "Normal"
    body: str = ""


class CalendarStore:
    """Per-mailbox calendar items for CreateItem/FindItem/DeleteItem, safe across threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, dict[str, CalendarItem]] = {}
        self._owner: dict[str, str] = {}
        self._counter = 0

    def create(self, mailbox: str, subject: str, start: str, end: str, **extra: str) -> CalendarItem:
        """Store a new item in ``mailbox`` (its primary SMTP address) and return it."""
        key = mailbox.lower()
        with self._lock:
            self._counter += 1
            raw = f"{key}\x00{self._counter}\x00{secrets.token_hex(4)}".encode()
            item_id = "AAMk" + base64.b64encode(hashlib.sha256(raw).digest() + raw[-8:]).decode("ascii")
            item = CalendarItem(item_id, "DwAAAB" + secrets.token_hex(4), subject, start, end, **extra)
            self._items.setdefault(key, {})[item_id] = item
            self._owner[item_id] = key
            return item

    def delete(self, mailbox: str, item_id: str) -> bool:
        """Remove an item of ``mailbox``; return False when it does not exist there."""
        key = mailbox.lower()
        with self._lock:
            if self._owner.get(item_id) != key:
                return False
            del self._owner[item_id]
            del self._items[key][item_id]
            return True

    def items(self, mailbox: str) -> list[CalendarItem]:
        """Return the items of ``mailbox`` in creation order."""
        with self._lock:
            return list(self._items.get(mailbox.lower(), {}).values())

    def get(self, mailbox: str, item_id: str) -> CalendarItem | None:
        """Return one item of ``mailbox`` or None."""
        with self._lock:
            return self._items.get(mailbox.lower(), {}).get(item_id)

    def counts(self) -> dict[str, int]:
        """Return the number of items per mailbox (mailboxes with items only)."""
        with self._lock:
            return {k: len(v) for k, v in self._items.items() if v}

    def total(self) -> int:
        """Return the number of items in all mailboxes."""
        with self._lock:
            return len(self._owner)

    def clear(self) -> None:
        """Remove every item."""
        with self._lock:
            self._items.clear()
            self._owner.clear()


DirectoryObject = Recipient | Group | RoleGroup


@dataclass(slots=True)
class Tenant:
    """The whole tenant: frozen records, lookup indexes, accounts and the mutable calendar store."""

    organization: Organization
    recipients: tuple[Recipient, ...]
    groups: tuple[Group, ...]
    role_groups: tuple[RoleGroup, ...]
    roles: tuple[ManagementRole, ...]
    role_assignments: tuple[RoleAssignment, ...]
    scopes: tuple[ManagementScope, ...]
    throttling_policies: tuple[ThrottlingPolicy, ...]
    accounts: dict[str, Account]
    meta: dict[str, Any] = field(default_factory=dict)
    source: str = "<tenant>"
    calendars: CalendarStore = field(default_factory=CalendarStore)
    _index: dict[str, DirectoryObject] = field(default_factory=dict, repr=False)
    _by_dn: dict[str, DirectoryObject] = field(default_factory=dict, repr=False)
    _by_sid: dict[str, DirectoryObject] = field(default_factory=dict, repr=False)
    _member_of: dict[str, tuple[str, ...]] = field(default_factory=dict, repr=False)
    _scopes: dict[str, ManagementScope] = field(default_factory=dict, repr=False)
    _roles: dict[str, ManagementRole] = field(default_factory=dict, repr=False)
    _policies: dict[str, ThrottlingPolicy] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.reindex()

    def reindex(self) -> None:
        """Rebuild the lookup indexes (after the record tuples were replaced)."""
        index: dict[str, DirectoryObject] = {}
        by_dn: dict[str, DirectoryObject] = {}
        by_sid: dict[str, DirectoryObject] = {}
        objects: list[DirectoryObject] = [*self.role_groups, *self.groups, *self.recipients]
        # Later objects (users) win ties on a bare name, mailbox addresses are unique anyway.
        for obj in objects:
            by_dn[obj.dn.lower()] = obj
            by_sid[obj.sid.upper()] = obj
            for key in _lookup_keys(obj):
                index[key] = obj
        self._index, self._by_dn, self._by_sid = index, by_dn, by_sid
        member_of: dict[str, list[str]] = {}
        holders: list[Group | RoleGroup] = [*self.groups, *self.role_groups]
        for holder in holders:
            for member_dn in holder.members:
                member_of.setdefault(member_dn.lower(), []).append(holder.dn)
        self._member_of = {k: tuple(v) for k, v in member_of.items()}
        self._scopes = {s.name.lower(): s for s in self.scopes}
        self._roles = {r.name.lower(): r for r in self.roles}
        self._policies = {p.name.lower(): p for p in self.throttling_policies}

    # -- lookups -----------------------------------------------------------------------------------------

    def resolve(self, identity: str) -> DirectoryObject | None:
        """Resolve an identity given as name, alias, SMTP/proxy, UPN, DN, GUID, SID or canonical name."""
        text = identity.strip()
        if text.lower().startswith("smtp:"):
            text = text[5:]
        key = text.lower()
        found = self._index.get(key) or self._by_dn.get(key)
        if found is None and key.startswith("s-1-"):
            found = self._by_sid.get(text.upper())
        if found is None and "\\" in text:
            found = self._index.get(text.split("\\", 1)[1].lower())
        return found

    def resolve_recipient(self, identity: str) -> Recipient | None:
        """Resolve an identity to a user (mailbox or not), or None."""
        obj = self.resolve(identity)
        return obj if isinstance(obj, Recipient) else None

    def mailbox(self, identity: str) -> Recipient | None:
        """Resolve an identity to a user that has a mailbox, or None."""
        obj = self.resolve_recipient(identity)
        return obj if obj is not None and obj.has_mailbox else None

    def by_dn(self, dn: str) -> DirectoryObject | None:
        """Return the object with this DN (case-insensitive)."""
        return self._by_dn.get(dn.lower())

    def by_sid(self, sid: str) -> DirectoryObject | None:
        """Return the object with this SID."""
        return self._by_sid.get(sid.strip().upper())

    def group(self, identity: str) -> Group | None:
        """Resolve an identity to a (non-role) group."""
        obj = self.resolve(identity)
        return obj if isinstance(obj, Group) else None

    def role_group(self, identity: str) -> RoleGroup | None:
        """Resolve an identity to a role group."""
        obj = self.resolve(identity)
        return obj if isinstance(obj, RoleGroup) else None

    def scope(self, name: str) -> ManagementScope | None:
        """Return the management scope with this name."""
        return self._scopes.get(name.lower())

    def role(self, name: str) -> ManagementRole | None:
        """Return the management role with this name."""
        return self._roles.get(name.lower())

    def throttling_policy(self, name: str) -> ThrottlingPolicy | None:
        """Return the throttling policy with this name."""
        return self._policies.get(name.lower())

    def member_of(self, dn: str) -> tuple[str, ...]:
        """Return the DNs of the groups and role groups the object is a DIRECT member of."""
        return self._member_of.get(dn.lower(), ())

    def members(self, holder: Group | RoleGroup) -> list[DirectoryObject]:
        """Return the direct members of a group or role group as objects."""
        return [obj for dn in holder.members if (obj := self.by_dn(dn)) is not None]

    def mailboxes(self) -> Iterator[Recipient]:
        """Yield every user that has a mailbox."""
        return (r for r in self.recipients if r.has_mailbox)

    def default_throttling_policy(self) -> ThrottlingPolicy:
        """Return the organization's default (Global) throttling policy."""
        for policy in self.throttling_policies:
            if policy.is_default:
                return policy
        raise LabError("the tenant has no default throttling policy", self.source)

    def ews_max_concurrency(self, user: Recipient) -> int | None:
        """Return the EWSMaxConcurrency that applies to ``user`` (None = Unlimited)."""
        policy = self.throttling_policy(user.throttling_policy) if user.throttling_policy else None
        return (policy or self.default_throttling_policy()).ews_max_concurrency

    # -- accounts -------------------------------------------------------------------------------------

    def account(self, login: str) -> Account | None:
        r"""Return the account for a login given as user, DOMAIN\\user or UPN."""
        text = login.strip()
        if "\\" in text:
            text = text.split("\\", 1)[1]
        found = self.accounts.get(text.lower())
        if found is None and "@" in text:
            user = self.resolve_recipient(text)
            if user is not None:
                found = self.accounts.get(user.sam_account_name.lower())
        return found

    def account_user(self, login: str) -> Recipient | None:
        """Return the directory user behind a login."""
        account = self.account(login)
        return self.resolve_recipient(account.username) if account is not None else None

    def check_password(self, login: str, password: str) -> bool:
        """Return whether ``password`` is the one the lab accepts for ``login``."""
        account = self.account(login)
        if account is None or account.password is None:
            return False
        user = self.resolve_recipient(account.username)
        if user is not None and user.account_disabled:
            return False
        return secrets.compare_digest(account.password.encode(), password.encode())

    def account_with_role(self, role: str) -> Account | None:
        """Return the first account marked with ``role`` ("auditor" or "service")."""
        return next((a for a in self.accounts.values() if a.role == role), None)

    def with_generated_passwords(self) -> Tenant:
        """Give every account without a fixed password a random one (in place) and return self."""
        for key, account in list(self.accounts.items()):
            if account.password is None:
                self.accounts[key] = dataclasses.replace(account, password=secrets.token_urlsafe(18))
        return self

    def ntlm_user_lines(self) -> list[str]:
        """Return ``DOMAIN:user:password`` lines for pyspnego's NTLM acceptor (the secret stays in memory)."""
        lines = []
        for account in self.accounts.values():
            if account.password is not None:
                lines.append(f"{self.organization.netbios}:{account.username}:{account.password}")
        return lines


def _lookup_keys(obj: DirectoryObject) -> Iterable[str]:
    keys = [obj.name.lower(), obj.guid.lower(), obj.identity.lower(), obj.sam_account_name.lower()]
    if obj.display_name:
        keys.append(obj.display_name.lower())
    if isinstance(obj, Recipient):
        keys.append(obj.upn.lower())
    if not isinstance(obj, RoleGroup):
        keys.append(obj.alias.lower())
        keys.extend(a[5:].lower() for a in obj.email_addresses if a[:5] in ("SMTP:", "smtp:"))
    return keys


# ---------------------------------------------------------------------------------------------------------
# building


def escape_rdn(value: str) -> str:
    """Escape a value for use in an LDAP RDN (RFC 4514)."""
    out = []
    for i, ch in enumerate(value):
        if ch in ',+"\\<>;=' or (ch == "#" and i == 0) or (ch == " " and i in (0, len(value) - 1)):
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def stable_guid(kind: str, name: str) -> str:
    """Return a GUID that stays the same for the same object kind and name."""
    return str(uuid.uuid5(_NS, f"{kind}:{name.lower()}"))


class _Builder:
    """Derives what Exchange computes for objects from the few fields a tenant file gives."""

    def __init__(self, org: Organization) -> None:
        self.org = org
        digest = hashlib.sha256(org.domain.encode()).digest()
        subs = [int.from_bytes(digest[i : i + 4], "big") % 4_000_000_000 for i in (0, 4, 8)]
        self.sid_prefix = "S-1-5-21-" + "-".join(str(s) for s in subs)
        self.next_rid = 1100

    def sid(self) -> str:
        self.next_rid += 1
        return f"{self.sid_prefix}-{self.next_rid}"

    def container(self, ou: str) -> tuple[str, str]:
        """Return (DN suffix, canonical path) for a container name like Users or Groups/Sales."""
        parts = [p for p in ou.split("/") if p]
        rdns = []
        for i, part in enumerate(reversed(parts)):
            top = i == len(parts) - 1
            kind = "CN" if top and part in ("Users", "Builtin", "Computers") else "OU"
            rdns.append(f"{kind}={escape_rdn(part)}")
        dn = ",".join([*rdns, self.org.domain_dn])
        return dn, "/".join([self.org.domain, *parts])

    def user(self, spec: Mapping[str, Any]) -> Recipient:
        name = str(spec["name"])
        rtype = str(spec.get("type", "UserMailbox"))
        alias = str(spec.get("alias") or name.replace(" ", ""))
        domain = self.org.domain
        sam = str(spec.get("sam_account_name") or alias)[:20]
        upn = str(spec.get("upn") or f"{alias}@{domain}")
        primary = str(spec.get("primary_smtp") or f"{alias}@{domain}") if rtype in MAILBOX_TYPES else None
        addresses = _addresses(primary, spec.get("proxy_addresses", ()))
        suffix, canonical = self.container(str(spec.get("ou", "Users")))
        attrs = spec.get("custom_attributes") or {}
        custom = tuple(str(attrs.get(i, attrs.get(str(i), "")) or "") for i in range(1, 16))
        name_parts = name.split(" ", 1)
        return Recipient(
            name=name,
            alias=alias,
            display_name=str(spec.get("display_name") or name),
            upn=upn,
            sam_account_name=sam,
            primary_smtp=primary,
            email_addresses=addresses,
            sid=str(spec.get("sid") or self.sid()),
            guid=str(spec.get("guid") or stable_guid("user", name)),
            dn=f"CN={escape_rdn(name)},{suffix}",
            identity=f"{canonical}/{name}",
            recipient_type_details=rtype,
            account_disabled=bool(spec.get("disabled", rtype in {"SharedMailbox", "RoomMailbox"})),
            department=str(spec.get("department", "")),
            company=str(spec.get("company", "")),
            title=str(spec.get("title", "")),
            custom_attributes=custom,
            hidden_from_address_lists=bool(spec.get("hidden", False)),
            throttling_policy=spec.get("throttling_policy"),
            first_name=str(spec.get("first_name", name_parts[0] if len(name_parts) == 2 else "")),
            last_name=str(spec.get("last_name", name_parts[1] if len(name_parts) == 2 else "")),
        )

    def group(self, spec: Mapping[str, Any], members: tuple[str, ...], managed_by: tuple[str, ...]) -> Group:
        name = str(spec["name"])
        rtype = str(spec.get("type", "MailUniversalSecurityGroup"))
        group_type, _ = GROUP_TYPES[rtype]
        mail = rtype.startswith("Mail")
        alias = str(spec.get("alias") or name.replace(" ", ""))
        primary = str(spec.get("primary_smtp") or f"{alias}@{self.org.domain}") if mail else None
        suffix, canonical = self.container(str(spec.get("ou", "Users")))
        attrs = spec.get("custom_attributes") or {}
        return Group(
            name=name,
            alias=alias if mail else "",
            display_name=str(spec.get("display_name") or name),
            sam_account_name=str(spec.get("sam_account_name") or name)[:64],
            primary_smtp=primary,
            email_addresses=_addresses(primary, spec.get("proxy_addresses", ())),
            sid=str(spec.get("sid") or self.sid()),
            guid=str(spec.get("guid") or stable_guid("group", name)),
            dn=f"CN={escape_rdn(name)},{suffix}",
            identity=f"{canonical}/{name}",
            recipient_type_details=rtype,
            group_type=str(spec.get("group_type") or group_type),
            hidden_from_address_lists=bool(spec.get("hidden", False)),
            member_join_restriction=str(spec.get("member_join_restriction", "Closed")),
            member_depart_restriction=str(spec.get("member_depart_restriction", "Closed")),
            members=members,
            managed_by=managed_by,
            department=str(spec.get("department", "")),
            custom_attributes=tuple(str(attrs.get(i, attrs.get(str(i), "")) or "") for i in range(1, 16)),
        )

    def role_group(
        self, spec: Mapping[str, Any], members: tuple[str, ...], managed_by: tuple[str, ...], builtin: bool = False
    ) -> RoleGroup:
        name = str(spec["name"])
        suffix, canonical = self.container(RBAC_OU)
        return RoleGroup(
            name=name,
            display_name=str(spec.get("display_name") or ("" if builtin else name)),
            sam_account_name=str(spec.get("sam_account_name") or name)[:64],
            sid=str(spec.get("sid") or self.sid()),
            guid=str(spec.get("guid") or stable_guid("rolegroup", name)),
            dn=f"CN={escape_rdn(name)},{suffix}",
            identity=f"{canonical}/{name}",
            members=members,
            managed_by=managed_by,
            role_group_type=str(spec.get("role_group_type", "Standard")),
            description=str(spec.get("description", "")),
            is_builtin=builtin,
        )

    def rbac_dn(self, container: str, name: str) -> str:
        return f"CN={escape_rdn(name)},CN={container},CN=RBAC,{self.org.config_dn}"

    def role(self, name: str, role_type: str, builtin: bool = True) -> ManagementRole:
        return ManagementRole(
            name=name,
            role_type=role_type,
            dn=self.rbac_dn("Roles", name),
            guid=stable_guid("role", name),
            identity=name,
            is_builtin=builtin,
        )

    def assignment(self, **kw: Any) -> RoleAssignment:
        name = kw["name"]
        return RoleAssignment(dn=self.rbac_dn("Role Assignments", name), guid=stable_guid("assignment", name), **kw)

    def scope(self, spec: Mapping[str, Any]) -> ManagementScope:
        name = str(spec["name"])
        return ManagementScope(
            name=name,
            recipient_filter=str(spec.get("recipient_filter", "")),
            scope_restriction_type=str(spec.get("scope_restriction_type", "RecipientScope")),
            exclusive=bool(spec.get("exclusive", False)),
            recipient_root=spec.get("recipient_root"),
            dn=self.rbac_dn("Scopes", name),
            guid=str(spec.get("guid") or stable_guid("scope", name)),
        )

    def throttling(self, spec: Mapping[str, Any]) -> ThrottlingPolicy:
        name = str(spec["name"])
        value = spec.get("ews_max_concurrency", DEFAULT_EWS_MAX_CONCURRENCY)
        return ThrottlingPolicy(
            name=name,
            scope=str(spec.get("scope", "Regular")),
            is_default=bool(spec.get("is_default", False)),
            ews_max_concurrency=None if value is None or str(value).lower() == "unlimited" else int(value),
            dn=f"CN={escape_rdn(name)},CN=Global Settings,{self.org.config_dn}",
            guid=stable_guid("throttling", name),
            is_service_account=bool(spec.get("is_service_account", False)),
        )


def assignment_name(role: str, assignee: str, delegation: str, taken: set[str]) -> str:
    """Return the name Exchange generates for an assignment: <Role>-<Assignee>[-Delegating], unique, <= 64."""
    # DECOMP RoleAssignmentHelper.GenerateUniqueRoleAssignmentName (exchange-rbac.md 1.4).
    base = f"{role}-{assignee}" + ("-Delegating" if delegation != "Regular" else "")
    base = base[:64]
    if base.lower() not in taken:
        return base
    for n in range(1, 100):
        candidate = f"{base[:61]}-{n}"
        if candidate.lower() not in taken:
            return candidate
    raise LabError(f"cannot generate a unique assignment name for {base!r}")


def _addresses(primary: str | None, proxies: Any) -> tuple[str, ...]:
    if primary is None:
        return ()
    out = [f"SMTP:{primary}"]
    for proxy in proxies or ():
        text = str(proxy)
        out.append(text if ":" in text else f"smtp:{text}")
    return tuple(out)


# ---------------------------------------------------------------------------------------------------------
# YAML


def _keys(text: str) -> frozenset[str]:
    return frozenset(text.split())


_SECTION_KEYS: dict[str, frozenset[str]] = {
    "users": _keys(
        "name alias display_name upn sam_account_name primary_smtp proxy_addresses sid guid ou type disabled"
        " department company title custom_attributes hidden throttling_policy first_name last_name remove"
    ),
    "groups": _keys(
        "name alias display_name sam_account_name primary_smtp proxy_addresses sid guid ou type group_type hidden"
        " member_join_restriction member_depart_restriction members managed_by department custom_attributes"
        " remove"
    ),
    "role_groups": _keys(
        "name display_name sam_account_name sid guid roles members managed_by role_group_type description scope remove"
    ),
    "role_assignments": _keys("name role assignee assignee_type delegation enabled recipient_write_scope scope remove"),
    "scopes": _keys("name recipient_filter scope_restriction_type exclusive recipient_root guid remove"),
    "throttling_policies": _keys("name scope is_default ews_max_concurrency is_service_account remove"),
    "accounts": _keys("user password role stale_credentials remove"),
    "roles": _keys("name role_type parent remove"),
}
_ORG_KEYS = frozenset({f.name for f in dataclasses.fields(Organization)})
_TOP_KEYS = frozenset(
    {"extends", "organization", "description", "expect", "faults", "generate", "auth", *_SECTION_KEYS}
)
_LOC = "__loc__"


def _plain(node: Any, path: str) -> Any:
    """Turn ruamel nodes into plain dicts/lists, keeping each mapping's file and line under ``__loc__``."""
    if isinstance(node, CommentedMap):
        out: dict[str, Any] = {str(k): _plain(v, path) for k, v in node.items()}
        out[_LOC] = (path, node.lc.line + 1)
        return out
    if isinstance(node, CommentedSeq):
        return [_plain(v, path) for v in node]
    return node


def _where(obj: Mapping[str, Any], fallback: str) -> tuple[str, int | None]:
    loc = obj.get(_LOC)
    if isinstance(loc, tuple):
        return str(loc[0]), int(loc[1])
    return fallback, None


def _read_yaml(path: Path) -> dict[str, Any]:
    yaml = YAML(typ="rt")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise LabError(f"cannot read tenant file: {exc.strerror}", str(path)) from exc
    try:
        data = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise LabError(f"malformed YAML: {exc.problem or exc.context}", str(path), line) from exc
    except Exception as exc:  # ruamel raises a few unmarked errors (e.g. reader errors on bad bytes)
        raise LabError(f"malformed YAML: {exc}", str(path)) from exc
    if not isinstance(data, CommentedMap):
        raise LabError("a tenant file must be a mapping at the top level", str(path), 1)
    plain = _plain(data, str(path))
    assert isinstance(plain, dict)
    for key in plain:
        if key != _LOC and key not in _TOP_KEYS:
            line = data.lc.key(key)[0] + 1
            raise LabError(f"unknown top-level key {key!r} (known: {', '.join(sorted(_TOP_KEYS))})", str(path), line)
    return plain


def _merge(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """Merge an overlay into a base document: sections by entry name, mappings shallowly."""
    out = dict(base)
    for key, value in overlay.items():
        if key in ("extends", _LOC):
            continue
        if key in _SECTION_KEYS:
            id_key = "user" if key == "accounts" else "name"
            merged: dict[str, dict[str, Any]] = {}
            for entry in base.get(key) or []:
                merged[str(entry.get(id_key, "")).lower()] = entry
            for entry in value or []:
                if not isinstance(entry, dict):
                    continue  # reported by validation of the overlay itself
                ident = str(entry.get(id_key, "")).lower()
                if entry.get("remove"):
                    merged.pop(ident, None)
                elif ident in merged:
                    merged[ident] = {**merged[ident], **entry}
                else:
                    merged[ident] = entry
            out[key] = list(merged.values())
        elif key == "organization" and isinstance(value, dict) and isinstance(base.get(key), dict):
            out[key] = {**base[key], **value}
        else:
            out[key] = value
    return out


def _load_document(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    resolved = path.resolve()
    if resolved in seen:
        raise LabError("circular 'extends'", str(path))
    doc = _read_yaml(path)
    parent = doc.get("extends")
    if parent is None:
        return doc
    if not isinstance(parent, str):
        raise LabError("'extends' must be a file name", str(path), _where(doc, str(path))[1])
    base = _load_document(path.parent / parent, (*seen, resolved))
    for key in ("expect", "description", "faults", "generate"):
        base.pop(key, None)  # a scenario's expectations are its own, never inherited
    return _merge(base, doc)


def load_tenant(path: Path | str) -> Tenant:
    """Load a tenant (or scenario) file; raise LabError naming file and line when it is malformed."""
    file = Path(path)
    return build_tenant(_load_document(file), str(file))


def build_tenant(doc: Mapping[str, Any], source: str = "<tenant>") -> Tenant:
    """Build a Tenant from a plain document (as read from YAML), adding Exchange's built-in objects."""
    org_spec = dict(doc.get("organization") or {})
    loc = _where(org_spec, source)
    org_spec.pop(_LOC, None)
    for key in org_spec:
        if key not in _ORG_KEYS:
            raise LabError(f"unknown organization key {key!r}", *loc)
    if "build" in org_spec:
        org_spec["build"] = tuple(int(x) for x in str(org_spec["build"]).split("."))
    domain = str(org_spec.get("domain", "contoso.com"))
    org_spec.setdefault("server_fqdn", f"{str(org_spec.get('server_name', 'EXCH01')).lower()}.{domain}")
    org_spec.setdefault("domain_controller", f"dc01.{domain}")
    org_spec.setdefault("netbios", domain.split(".", maxsplit=1)[0].upper()[:15])
    try:
        org = Organization(**org_spec)
    except (TypeError, ValueError) as exc:
        raise LabError(f"invalid organization: {exc}", *loc) from exc
    builder = _Builder(org)

    sections: dict[str, list[dict[str, Any]]] = {}
    for section, allowed in _SECTION_KEYS.items():
        entries = doc.get(section) or []
        if not isinstance(entries, list):
            raise LabError(f"{section!r} must be a list", source)
        checked = []
        for entry in entries:
            if not isinstance(entry, dict):
                raise LabError(f"each entry of {section!r} must be a mapping, got {entry!r}", source)
            where = _where(entry, source)
            unknown = sorted(k for k in entry if k != _LOC and k not in allowed)
            if unknown:
                raise LabError(f"unknown key(s) {', '.join(unknown)} in {section} entry", *where)
            ident = "user" if section == "accounts" else "name"
            if not entry.get(ident):
                raise LabError(f"{section} entry without {ident!r}", *where)
            if not entry.get("remove"):
                checked.append(entry)
        sections[section] = checked

    def fail(entry: Mapping[str, Any], message: str) -> LabError:
        return LabError(message, *_where(entry, source))

    # Users.
    recipients: list[Recipient] = []
    for entry in sections["users"]:
        if str(entry.get("type", "UserMailbox")) not in USER_TYPES:
            raise fail(entry, f"unknown user type {entry.get('type')!r} (one of {', '.join(sorted(USER_TYPES))})")
        try:
            recipients.append(builder.user(entry))
        except (TypeError, ValueError, AttributeError) as exc:
            raise fail(entry, f"invalid user: {exc}") from exc
    recipients.extend(_builtin_users(builder, {r.name.lower() for r in recipients}))

    # Two passes for groups: first DNs (members may reference groups defined later), then members.
    for entry in sections["groups"]:
        if str(entry.get("type", "MailUniversalSecurityGroup")) not in GROUP_TYPES:
            raise fail(entry, f"unknown group type {entry.get('type')!r} (one of {', '.join(GROUP_TYPES)})")
    stub_groups = [builder.group(e, (), ()) for e in sections["groups"]]
    stub_rgs = [
        builder.role_group(e, (), (), builtin=str(e["name"]) in BUILTIN_ROLE_GROUPS) for e in sections["role_groups"]
    ]
    builtin_rg_specs = [
        {"name": n}
        for n in BUILTIN_ROLE_GROUPS
        if n.lower() not in {e["name"].lower() for e in sections["role_groups"]}
    ]
    stub_builtin = [builder.role_group(e, (), (), builtin=True) for e in builtin_rg_specs]
    stub = Tenant(org, tuple(recipients), tuple(stub_groups), tuple(stub_rgs + stub_builtin), (), (), (), (), {})

    def refs(entry: Mapping[str, Any], key: str) -> tuple[str, ...]:
        values = entry.get(key) or []
        if isinstance(values, str):
            values = [values]
        out = []
        for value in values:
            obj = stub.resolve(str(value))
            if obj is None:
                raise fail(entry, f"{key}: {value!r} does not resolve to any user or group")
            out.append(obj.dn)
        return tuple(out)

    groups = tuple(
        dataclasses.replace(g, members=refs(e, "members"), managed_by=refs(e, "managed_by"))
        for g, e in zip(stub_groups, sections["groups"], strict=True)
    )
    admin = stub.resolve("Administrator")
    admin_dn = (admin.dn,) if admin is not None else ()
    builtin_members = _builtin_role_group_members(stub)
    role_groups: list[RoleGroup] = [
        dataclasses.replace(
            rg,
            members=refs(e, "members") if "members" in e else builtin_members.get(rg.name, ()),
            managed_by=refs(e, "managed_by") if "managed_by" in e or not rg.is_builtin else admin_dn,
        )
        for rg, e in zip(stub_rgs, sections["role_groups"], strict=True)
    ]
    for rg in stub_builtin:
        role_groups.append(dataclasses.replace(rg, members=builtin_members.get(rg.name, ()), managed_by=admin_dn))

    # Roles.
    roles = {name.lower(): builder.role(name, rtype) for name, rtype in BUILTIN_ROLES.items()}
    for entry in sections["roles"]:
        roles[str(entry["name"]).lower()] = builder.role(
            str(entry["name"]), str(entry.get("role_type", "Custom")), builtin=False
        )

    scopes = [builder.scope(e) for e in sections["scopes"]]
    scope_names = {s.name.lower() for s in scopes}

    # Role assignments: the built-in ones, those the tenant's role groups' roles produce, explicit ones.
    taken: set[str] = set()
    assignments: list[RoleAssignment] = []

    def add(
        role: str,
        holder: DirectoryObject,
        assignee_type: str,
        delegation: str,
        enabled: bool,
        write_scope: str,
        scope: str | None,
        name: str | None,
        builtin: bool,
        entry: Mapping[str, Any],
    ) -> None:
        if role.lower() not in roles:
            raise fail(entry, f"unknown management role {role!r}")
        if delegation not in DELEGATION_TYPES:
            raise fail(entry, f"unknown delegation {delegation!r} (one of {', '.join(DELEGATION_TYPES)})")
        if write_scope not in WRITE_SCOPES:
            raise fail(entry, f"unknown recipient write scope {write_scope!r}")
        if scope is not None and scope.lower() not in scope_names:
            raise fail(entry, f"scope {scope!r} is not defined in 'scopes'")
        role_name = roles[role.lower()].name
        final = name or assignment_name(role_name, holder.name, delegation, taken)
        if final.lower() in taken:
            raise fail(entry, f"duplicate role assignment name {final!r}")
        taken.add(final.lower())
        assignments.append(
            builder.assignment(
                name=final,
                role=role_name,
                assignee=holder.dn,
                assignee_name=holder.name,
                assignee_type=assignee_type,
                delegation=delegation,
                enabled=enabled,
                recipient_write_scope=write_scope,
                custom_recipient_write_scope=scope,
                config_write_scope="None" if role_name == "ApplicationImpersonation" else "OrganizationConfig",
                config_read_scope="None" if role_name == "ApplicationImpersonation" else "OrganizationConfig",
                is_builtin=builtin,
            )
        )

    for rg in role_groups:
        if not rg.is_builtin:
            continue
        for role in BUILTIN_ROLE_GROUPS[rg.name]:
            add(role, rg, "RoleGroup", "Regular", True, "Organization", None, None, True, {})
        if rg.name == "Organization Management":
            for role in BUILTIN_ROLES:
                kind = "DelegatingOrgWide" if role == "ApplicationImpersonation" else "Delegating"
                add(role, rg, "RoleGroup", kind, True, "Organization", None, None, True, {})
    for rg, entry in zip(role_groups, sections["role_groups"], strict=False):
        group_scope = entry.get("scope")
        for item in entry.get("roles") or []:
            spec = item if isinstance(item, dict) else {"role": item}
            scope = spec.get("scope", group_scope)
            write = str(spec.get("recipient_write_scope") or ("CustomRecipientScope" if scope else "Organization"))
            add(
                str(spec.get("role")),
                rg,
                "RoleGroup",
                str(spec.get("delegation", "Regular")),
                bool(spec.get("enabled", True)),
                write,
                scope,
                spec.get("name"),
                False,
                entry,
            )
    for entry in sections["role_assignments"]:
        assignee_ref = str(entry.get("assignee", ""))
        holder = stub.resolve(assignee_ref)
        if holder is None:
            raise fail(entry, f"assignee {assignee_ref!r} does not resolve to any user or group")
        default_type = {"user": "User", "group": "SecurityGroup", "rolegroup": "RoleGroup"}[holder.kind]
        final_holder: DirectoryObject = holder
        if isinstance(holder, RoleGroup):
            final_holder = next(rg for rg in role_groups if rg.dn == holder.dn)
        scope = entry.get("scope")
        write = str(entry.get("recipient_write_scope") or ("CustomRecipientScope" if scope else "Organization"))
        add(
            str(entry.get("role")),
            final_holder,
            str(entry.get("assignee_type", default_type)),
            str(entry.get("delegation", "Regular")),
            bool(entry.get("enabled", True)),
            write,
            scope,
            str(entry["name"]),
            False,
            entry,
        )

    # Throttling: the default global policy first, then the tenant's own.
    policies = [
        builder.throttling(
            {
                "name": f"GlobalThrottlingPolicy_{stable_guid('throttling', org.name)}",
                "scope": "Global",
                "is_default": True,
            }
        )
    ]
    for entry in sections["throttling_policies"]:
        try:
            policy = builder.throttling(entry)
        except (TypeError, ValueError) as exc:
            raise fail(entry, f"invalid throttling policy: {exc}") from exc
        if policy.is_default:
            policies[0] = policy
        else:
            policies.append(policy)
    policy_names = {p.name.lower() for p in policies}
    for entry, user in zip(sections["users"], recipients, strict=False):
        if user.throttling_policy and user.throttling_policy.lower() not in policy_names:
            raise fail(entry, f"throttling policy {user.throttling_policy!r} is not defined")

    accounts: dict[str, Account] = {}
    for entry in sections["accounts"]:
        login = str(entry["user"])
        account_user = stub.resolve_recipient(login)
        if account_user is None:
            raise fail(entry, f"account {login!r} is not a user of the tenant")
        account_role = entry.get("role")
        if account_role not in (None, "auditor", "service"):
            raise fail(entry, f"account role must be auditor or service, not {account_role!r}")
        password = entry.get("password")
        accounts[account_user.sam_account_name.lower()] = Account(
            account_user.sam_account_name,
            None if password is None else str(password),
            account_role,
            bool(entry.get("stale_credentials", False)),
        )
    if "administrator" not in accounts:
        accounts["administrator"] = Account("Administrator")

    meta = {k: v for k, v in doc.items() if k in ("description", "expect", "faults", "generate", "auth")}
    return Tenant(
        organization=org,
        recipients=tuple(recipients),
        groups=groups,
        role_groups=tuple(role_groups),
        roles=tuple(roles.values()),
        role_assignments=tuple(assignments),
        scopes=tuple(scopes),
        throttling_policies=tuple(policies),
        accounts=accounts,
        meta=_strip_loc(meta),
        source=source,
    )


def _builtin_users(builder: _Builder, existing: set[str]) -> list[Recipient]:
    out = []
    if "administrator" not in existing:
        out.append(builder.user({"name": "Administrator", "alias": "Administrator", "type": "UserMailbox"}))
    return out


def _builtin_role_group_members(stub: Tenant) -> dict[str, tuple[str, ...]]:
    admin = stub.resolve("Administrator")
    return {"Organization Management": (admin.dn,)} if admin is not None else {}


def _strip_loc(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_loc(v) for k, v in value.items() if k != _LOC}
    if isinstance(value, list):
        return [_strip_loc(v) for v in value]
    return value


def tenant_from_records(
    base: Tenant,
    *,
    recipients: Sequence[Recipient] | None = None,
    groups: Sequence[Group] | None = None,
) -> Tenant:
    """Return a new Tenant sharing ``base``'s RBAC objects with other recipients or groups (the generator's seam)."""
    return Tenant(
        organization=base.organization,
        recipients=tuple(recipients) if recipients is not None else base.recipients,
        groups=tuple(groups) if groups is not None else base.groups,
        role_groups=base.role_groups,
        roles=base.roles,
        role_assignments=base.role_assignments,
        scopes=base.scopes,
        throttling_policies=base.throttling_policies,
        accounts=dict(base.accounts),
        meta=dict(base.meta),
        source=base.source,
    )
