"""The lab tenant's records: organization, recipients, groups, RBAC objects, accounts, calendars (values only).

Frozen dataclasses and the built-in names every Exchange organization has (role groups, roles, types); the
``Tenant`` (indexes, lookups) is in ``audit.lab.tenant``, the YAML reading in ``audit.lab.loader``.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import hashlib
import secrets
import threading
import uuid
from dataclasses import dataclass

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
    # -RecipientOrganizationalUnitScope (RecipientWriteScope OU): the OU's DN. Exchange keeps it in the same attribute
    # as a custom scope and shows it as CustomRecipientWriteScope (canonical name); see cmdlets/rbac.py.
    recipient_ou_scope: str | None = None
    # Exchange Online app assignments (RoleAssigneeType ServicePrincipal) only:
    recipient_administrative_unit_scope: str | None = None
    when_changed: datetime.datetime | None = None

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
    recipient_root: str | None = None  # the OU's DN, whatever form the tenant file gave (build.py normalises it)
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


def split_dn(dn: str) -> list[tuple[str, str]]:
    """Split a DN into (attribute type, unescaped value) pairs, outermost last; ValueError when malformed.

    Enough of RFC 4514 for OU paths: backslash escapes (a backslash before a character or two hex digits), blanks
    around separators ignored.
    """
    parts: list[tuple[str, str]] = []
    rdn: list[str] = []
    i = 0
    text = dn.strip()
    while i <= len(text):
        ch = text[i] if i < len(text) else ","
        if ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1 : i + 3]
            if len(nxt) == 2 and all(c in "0123456789abcdefABCDEF" for c in nxt):
                rdn.append(chr(int(nxt, 16)))
                i += 3
                continue
            rdn.append("\x00" + text[i + 1])  # an escaped character: kept verbatim, never a separator
            i += 2
            continue
        if ch in ",;":
            raw = "".join(rdn)
            kind, sep, value = raw.partition("=")
            if not sep or not kind.strip():
                raise ValueError(f"not a distinguished name: {dn!r}")
            parts.append((kind.strip().upper(), value.strip().replace("\x00", "")))
            rdn = []
        else:
            rdn.append(ch)
        i += 1
    return parts


def dn_to_canonical(dn: str) -> str:
    """The canonical name of a DN, as an ADObjectId prints it: ``contoso.com/Field Sales/Berlin``."""
    parts = split_dn(dn)
    domain = ".".join(value for kind, value in parts if kind == "DC")
    path = [value for kind, value in reversed(parts) if kind != "DC"]
    return "/".join([domain, *path])


def looks_like_dn(text: str) -> bool:
    """Whether an OU identity is written as a DN (``OU=...,DC=...``) rather than a canonical name."""
    head = text.strip().split(",", 1)[0]
    return "=" in head and "/" not in head.split("=", 1)[0]


_BUILTIN_CONTAINERS = ("Users", "Builtin", "Computers")  # CN= containers at the domain root; the rest are OUs


def ou_dn(identity: str, domain: str) -> str:
    """The DN of an OU or container given as a DN or a canonical name; ValueError when it is neither, or elsewhere.

    -RecipientRoot and -RecipientOrganizationalUnitScope take an OrganizationalUnitIdParameter, which accepts
    either form; Exchange shows the OU as its canonical name (New-ManagementScope.md, exchange-outputs.md 4).
    """
    text = identity.strip()
    domain_dcs = domain.lower().split(".")
    if looks_like_dn(text):
        parts = split_dn(text)
        if [v.lower() for k, v in parts if k == "DC"] != domain_dcs or len(parts) == len(domain_dcs):
            raise ValueError(f"{identity!r} is not an OU of {domain}")
        return ",".join(f"{kind}={escape_rdn(value)}" for kind, value in parts)
    head, _, path = text.partition("/")
    names = [n for n in path.split("/") if n]
    if head.lower() != domain.lower() or not names:
        raise ValueError(f"{identity!r} is neither a DN nor a canonical name under {domain}/")
    # A canonical name names its object in any case (cn and ou compare with caseIgnoreMatch, RFC 4519 2.3, 2.20):
    # 'contoso.com/users' is the Users container (found by tests/differential, regressions/ou-scope-canonical-case).
    containers = {c.lower() for c in _BUILTIN_CONTAINERS}
    rdns = [f"{'CN' if i == 0 and n.lower() in containers else 'OU'}={escape_rdn(n)}" for i, n in enumerate(names)]
    return ",".join([*reversed(rdns), *(f"DC={dc}" for dc in domain.split("."))])
