"""The lab's tenant: an Exchange organization's recipients, groups and RBAC objects, with their lookups.

``load_tenant`` reads a tenant (or scenario) file: ``audit.lab.loader`` turns the YAML into a document (file:line
kept, ``extends`` resolved), ``audit.lab.build`` derives what Exchange would and adds its built-in objects, and
``audit.lab.exo`` adds the Exchange Online side when the file says ``platform: exchange-online``. The records
themselves are in ``audit.lab.records``; this module re-exports them so callers keep one import.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from audit.lab import LabError
from audit.lab.dn import DnKey, dn_key

if TYPE_CHECKING:
    from audit.lab.exo import ExoState

from audit.lab.loader import (
    _LOC,
    _ORG_KEYS,
    _SECTION_KEYS,
    _TOP_KEYS,
    PLATFORMS,
    _keys,
    _load_document,
    _merge,
    _merge_exchange_online,
    _plain,
    _read_yaml,
    _strip_loc,
    _where,
)
from audit.lab.records import (
    _NS,
    _ORG_MGMT_REGULAR,
    ASSIGNEE_TYPES,
    BUILTIN_ROLE_GROUPS,
    BUILTIN_ROLES,
    DEFAULT_EWS_MAX_CONCURRENCY,
    DELEGATION_TYPES,
    GROUP_TYPES,
    MAILBOX_TYPES,
    RBAC_OU,
    USER_TYPES,
    WRITE_SCOPES,
    Account,
    CalendarItem,
    CalendarStore,
    DirectoryObject,
    Group,
    ManagementRole,
    ManagementScope,
    Organization,
    Recipient,
    RoleAssignment,
    RoleGroup,
    ThrottlingPolicy,
    escape_rdn,
    stable_guid,
)

__all__ = [
    "ASSIGNEE_TYPES",
    "BUILTIN_ROLES",
    "BUILTIN_ROLE_GROUPS",
    "DEFAULT_EWS_MAX_CONCURRENCY",
    "DELEGATION_TYPES",
    "GROUP_TYPES",
    "MAILBOX_TYPES",
    "PLATFORMS",
    "RBAC_OU",
    "USER_TYPES",
    "WRITE_SCOPES",
    "_LOC",
    "_NS",
    "_ORG_KEYS",
    "_ORG_MGMT_REGULAR",
    "_SECTION_KEYS",
    "_TOP_KEYS",
    "Account",
    "CalendarItem",
    "CalendarStore",
    "DirectoryObject",
    "Group",
    "ManagementRole",
    "ManagementScope",
    "Organization",
    "Recipient",
    "RoleAssignment",
    "RoleGroup",
    "Tenant",
    "ThrottlingPolicy",
    "_keys",
    "_load_document",
    "_merge",
    "_merge_exchange_online",
    "_plain",
    "_read_yaml",
    "_strip_loc",
    "_where",
    "escape_rdn",
    "load_tenant",
    "stable_guid",
    "tenant_from_records",
]


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
    exo: ExoState | None = None  # the Exchange Online side (audit.lab.exo), None on premises
    _index: dict[str, DirectoryObject] = field(default_factory=dict, repr=False)
    _by_dn: dict[DnKey, DirectoryObject] = field(default_factory=dict, repr=False)
    _by_sid: dict[str, DirectoryObject] = field(default_factory=dict, repr=False)
    _by_upn: dict[str, Recipient] = field(default_factory=dict, repr=False)
    _by_smtp: dict[str, DirectoryObject] = field(default_factory=dict, repr=False)
    _by_canonical: dict[str, DirectoryObject] = field(default_factory=dict, repr=False)
    _member_of: dict[DnKey, tuple[str, ...]] = field(default_factory=dict, repr=False)
    _scopes: dict[str, ManagementScope] = field(default_factory=dict, repr=False)
    _roles: dict[str, ManagementRole] = field(default_factory=dict, repr=False)
    _policies: dict[str, ThrottlingPolicy] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.reindex()

    def reindex(self) -> None:
        """Rebuild the lookup indexes (after the record tuples were replaced)."""
        index: dict[str, DirectoryObject] = {}
        by_dn: dict[DnKey, DirectoryObject] = {}
        by_sid: dict[str, DirectoryObject] = {}
        by_upn: dict[str, Recipient] = {}
        by_smtp: dict[str, DirectoryObject] = {}
        by_canonical: dict[str, DirectoryObject] = {}
        objects: list[DirectoryObject] = [*self.role_groups, *self.groups, *self.recipients]
        # Later objects (users) win ties on a bare name in the -Identity index. The attribute tables below are
        # separate on purpose: a UPN and a proxy address are different attributes (userPrincipalName,
        # proxyAddresses) and one user's UPN may be another user's SMTP address; EWS resolves each ConnectingSID
        # form by its own attribute (connectingsid.md; /work/shared/domain/exchange-rbac.md 8.1, wire-notes.md).
        for obj in objects:
            if (own := dn_key(obj.dn)) is not None:
                by_dn[own] = obj
            by_sid[obj.sid.upper()] = obj
            by_canonical[obj.identity.casefold()] = obj
            for key in _lookup_keys(obj):
                index[key] = obj
            if isinstance(obj, Recipient) and obj.upn:
                by_upn.setdefault(obj.upn.casefold(), obj)
            if not isinstance(obj, RoleGroup):
                for address in smtp_addresses(obj.email_addresses):
                    by_smtp.setdefault(address.casefold(), obj)
        self._index, self._by_dn, self._by_sid = index, by_dn, by_sid
        self._by_upn, self._by_smtp, self._by_canonical = by_upn, by_smtp, by_canonical
        member_of: dict[DnKey, list[str]] = {}
        holders: list[Group | RoleGroup] = [*self.groups, *self.role_groups]
        for holder in holders:
            for member_dn in holder.members:
                if (member := dn_key(member_dn)) is not None:
                    member_of.setdefault(member, []).append(holder.dn)
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
        found = self._index.get(key) or self.by_dn(text)
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
        """Return the object with this DN, compared as LDAP compares DNs (RFC 4514 syntax, values ignoring case)."""
        key = dn_key(dn)
        return self._by_dn.get(key) if key else None

    def by_sid(self, sid: str) -> DirectoryObject | None:
        """Return the object with this SID."""
        return self._by_sid.get(sid.strip().upper())

    def by_canonical_name(self, name: str) -> DirectoryObject | None:
        """Return the object whose canonical name (its Identity, ``contoso.com/Groups/X``) is ``name``."""
        return self._by_canonical.get(name.strip().casefold())

    def by_upn(self, upn: str) -> Recipient | None:
        """Return the user whose userPrincipalName is ``upn`` (case-insensitive), and only by that attribute."""
        return self._by_upn.get(upn.strip().casefold())

    def by_smtp(self, address: str) -> DirectoryObject | None:
        """Return the mail-enabled object with this SMTP proxy address (primary or not; ``smtp:`` prefix allowed).

        Only proxyAddresses are searched, never a UPN or a name: EWS's PrimarySmtpAddress and SmtpAddress
        forms cost "an extra Active Directory lookup in order to obtain the SID of the user" (connectingsid.md),
        a lookup by address.
        """
        text = address.strip()
        if text[:5].lower() == "smtp:":
            text = text[5:]
        return self._by_smtp.get(text.casefold())

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
        key = dn_key(dn)
        return self._member_of.get(key, ()) if key is not None else ()

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
            # A logon name with "@" is a UPN (Windows logon), never a mail address of someone else.
            user = self.by_upn(text)
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


def smtp_addresses(proxy_addresses: Iterable[str]) -> list[str]:
    """The SMTP addresses among proxy addresses (``SMTP:`` primary, ``smtp:`` secondary), without the prefix."""
    return [a[5:] for a in proxy_addresses if a[:5].lower() == "smtp:"]


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


def load_tenant(path: Path | str) -> Tenant:
    """Load a tenant (or scenario) file; raise LabError naming file and line when it is malformed."""
    file = Path(path)
    from audit.lab.build import build_tenant  # noqa: PLC0415  (build builds on this module)

    tenant = build_tenant(_load_document(file), str(file))
    if tenant.meta.get("platform") == "exchange-online":
        from audit.lab.exo import with_exchange_online  # noqa: PLC0415  (exo builds on this module)

        tenant = with_exchange_online(tenant)
    return tenant


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
        exo=base.exo,
    )
