"""Exchange cmdlet output (Partial serialization) -> snapshot records, at the collector edge.

Exchange's remote PowerShell serializes at the *Partial* level unless the client asks for Full: ADObjectIds,
enums, versions and Unlimited<T> arrive as their ToString (``contoso.com/Users/svc``, ``CustomRecipientScope``,
``Version 15.2 (Build 1544.4)``, ``Unlimited``), multi-valued properties as lists of strings, booleans and
integers as native values (see shared domain notes, exchange-outputs.md section 2). Everything here is pure and
accepts both the Partial strings and native values, so a Full-serialized session would map the same.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

from audit.errors import CollectionError
from audit.snapshot import (
    ExchangeServer,
    Group,
    Mailbox,
    ManagementRole,
    ManagementScope,
    Organization,
    Recipient,
    RoleAssignment,
    RoleGroup,
    ThrottlingPolicy,
    User,
)

T = TypeVar("T")

EXPECTED_TYPES: dict[str, str] = {
    "Get-ManagementRoleAssignment": "ExchangeRoleAssignmentPresentation",
    "Get-ManagementScope": "ManagementScope",
    "Get-ManagementRole": "ExchangeRole",
    "Get-RoleGroup": "RoleGroup",
    "Get-Group": "WindowsGroup",
    "Get-DistributionGroup": "DistributionGroup",
    "Get-Recipient": "ReducedRecipient",
    "Get-Mailbox": "Mailbox",
    "Get-User": "User",
    "Get-ThrottlingPolicy": "ThrottlingPolicy",
    "Get-OrganizationConfig": "OrganizationConfig",
    "Get-ExchangeServer": "ExchangeServer",
}
"""The .NET class (last segment of the type name) each cmdlet returns; exchange-outputs.md section 4."""

NEVER_EMPTY: dict[str, str] = {
    "Get-OrganizationConfig": "every organization has its configuration object",
    "Get-ManagementRole": "every organization has the built-in management roles",
    "Get-ManagementRoleAssignment": "every organization has the built-in role groups' assignments",
    "Get-RoleGroup": "every organization has the built-in role groups (Organization Management, ...)",
}
"""Cmdlets that always return objects, and why; no object means the session could not see them (fail closed).

Built-in roles, role groups and their assignments: https://learn.microsoft.com/en-us/exchange/permissions/role-groups
"""

ORGANIZATION_SCALE: dict[str, tuple[str, ...]] = {
    "Get-Recipient": (
        "Name", "Identity", "DistinguishedName", "Guid", "Alias", "DisplayName", "PrimarySmtpAddress",
        "RecipientType", "RecipientTypeDetails", "EmailAddresses", "Department", "Company",
        "HiddenFromAddressListsEnabled", *(f"CustomAttribute{n}" for n in range(1, 16)),
    ),
    "Get-Mailbox": (
        "Name", "Identity", "DistinguishedName", "Guid", "PrimarySmtpAddress", "UserPrincipalName",
        "RecipientTypeDetails", "AccountDisabled", "ThrottlingPolicy",
    ),
}  # fmt: skip
"""For the cmdlets that return one object per mailbox, the properties kept (as received) and mapped.

A Get-Mailbox object carries about 150 properties; keeping them all for 10,000 mailboxes would cost hundreds of
MiB for values no check reads. The other cmdlets' objects are kept whole.
"""

_VERSION = re.compile(r"Version\s+(\d+)\.(\d+)\s+\(Build\s+(\d+)\.(\d+)\)", re.IGNORECASE)
_DOTTED = re.compile(r"^\s*(\d+)\.(\d+)\.(\d+)(?:\.(\d+))?\s*$")


_ABSENT = object()


class Props:
    """Case-insensitive, typed access to one object's adapted properties.

    PowerShell property access is case-insensitive (``EwsMaxConcurrency`` is set as ``-EWSMaxConcurrency``), so
    the collector reads properties the same way.
    """

    __slots__ = ("_by_lower", "_values", "cmdlet")

    def __init__(self, cmdlet: str, values: Mapping[str, Any]) -> None:
        self.cmdlet = cmdlet
        self._values = values
        # Built on the first name not found as spelled: the wire spells properties as their .NET names, so most
        # lookups hit at once (and a 10,000-object answer does not lower-case every key of every object).
        self._by_lower: dict[str, Any] | None = None

    def _lower(self) -> dict[str, Any]:
        if self._by_lower is None:
            self._by_lower = {k.lower(): v for k, v in self._values.items()}
        return self._by_lower

    def has(self, name: str) -> bool:
        """Whether the object carries ``name`` at all (a Nil value counts as present)."""
        return name in self._values or name.lower() in self._lower()

    def raw(self, name: str) -> Any:
        """The value as received, or None."""
        value = self._values.get(name, _ABSENT)
        if value is _ABSENT:
            return self._lower().get(name.lower())
        return value

    def required(self, name: str) -> Any:
        """The value, which must be present and not null.

        Raises:
            CollectionError: the property is missing: the output is not what this cmdlet returns.
        """
        value = self.raw(name)
        if value is None:
            raise CollectionError(f"{self.cmdlet} returned an object without '{name}'; cannot map it")
        return value

    def text(self, name: str, default: str = "") -> str:
        """The value as text; a missing or null value gives ``default``."""
        value = self.raw(name)
        if type(value) is str:
            return value
        return default if value is None else to_text(value)

    def opt_text(self, name: str) -> str | None:
        """The value as text, None when missing, null or empty."""
        value = self.raw(name)
        if value is None:
            return None
        text = to_text(value)
        return text or None

    def req_text(self, name: str) -> str:
        """The value as text; it must be present."""
        return to_text(self.required(name))

    def flag(self, name: str) -> bool | None:
        """The value as a bool ("True"/"False" or native), None when missing or null."""
        return to_bool(self.raw(name), self.cmdlet, name)

    def req_flag(self, name: str) -> bool:
        """The value as a bool; it must be present and not blank.

        Raises:
            CollectionError: the property is missing, null or blank: True or False would be a guess.
        """
        value = to_bool(self.required(name), self.cmdlet, name)
        if value is None:
            raise CollectionError(f"{self.cmdlet} returned an object with a blank '{name}'; cannot map it")
        return value

    def items(self, name: str) -> tuple[str, ...]:
        """A multi-valued property as a tuple of strings (empty when missing or null)."""
        return to_list(self.raw(name))

    def req_items(self, name: str) -> tuple[str, ...]:
        """A multi-valued property that must be present; an empty or Nil list Exchange sent is empty.

        Raises:
            CollectionError: the property is missing: "no members" would be a guess, not an observation.
        """
        if not self.has(name):
            raise CollectionError(f"{self.cmdlet} returned an object without '{name}'; cannot map it")
        return to_list(self.raw(name))


def to_text(value: Any) -> str:
    """A scalar value as text (lists joined as Exchange's ``fl`` shows them would be ambiguous, so refuse)."""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, (list, tuple)):
        return ", ".join(to_text(v) for v in value)
    return str(value)


def to_bool(value: Any, cmdlet: str = "", name: str = "") -> bool | None:
    """Parse a boolean sent natively (<B>) or as text ("True"/"False", "$true"); None or blank text is None.

    Blank is no value, not False: read as False, a blank ``Enabled`` would drop an assignment out of the access
    paths and a blank ``AccountDisabled`` would read as an enabled account.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lstrip("$").lower()
    if not text:
        return None
    if text in {"true", "1"}:
        return True
    if text in {"false", "0"}:
        return False
    raise CollectionError(f"{cmdlet} returned {name}={value!r}, which is not a boolean")


def to_list(value: Any) -> tuple[str, ...]:
    """Parse a multi-valued property: a list, a single value, or ``{a, b}`` as ``fl`` prints it."""
    if value is None:
        return ()
    if isinstance(value, (list, tuple)):
        return tuple(to_text(v) for v in value if v is not None and to_text(v) != "")
    text = to_text(value).strip()
    if not text:
        return ()
    if text.startswith("{") and text.endswith("}"):
        inner = text[1:-1].strip()
        return tuple(part.strip() for part in inner.split(",") if part.strip()) if inner else ()
    return (text,)


def to_unlimited_int(value: Any, cmdlet: str = "", name: str = "") -> int | None:
    """Parse an ``Unlimited<int>``: an integer, its text, or "Unlimited" (None)."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise CollectionError(f"{cmdlet} returned {name}={value!r}, expected a number or Unlimited")
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if text.lower() == "unlimited":
        return None
    try:
        return int(text.replace(",", ""))
    except ValueError as exc:
        raise CollectionError(f"{cmdlet} returned {name}={value!r}, expected a number or Unlimited") from exc


def parse_server_version(text: str) -> tuple[int, int, int, int]:
    """Parse ``Version 15.2 (Build 1544.4)`` (ServerVersion.ToString) or ``15.2.1544.4`` into four numbers.

    Raises:
        CollectionError: the text is not a server version.
    """
    match = _VERSION.search(text) or _DOTTED.match(text)
    if not match:
        raise CollectionError(f"cannot read the Exchange server version from {text!r}")
    major, minor, build, rev = (int(g) if g is not None else 0 for g in match.groups())
    return major, minor, build, rev


def canonical_leaf(identity: str) -> str:
    """The last segment of a canonical name (``contoso.com/Users/svc`` -> ``svc``)."""
    return identity.rstrip("/").rsplit("/", 1)[-1]


def strip_deserialized(type_name: str) -> str:
    """A type name without the ``Deserialized.`` prefix that a PowerShell receiver adds."""
    return type_name.removeprefix("Deserialized.")


def check_types(cmdlet: str, type_names: Sequence[tuple[str, ...]]) -> None:
    """Refuse objects whose type chain does not contain the class ``cmdlet`` returns.

    Raises:
        CollectionError: an object of another type came back (a proxy, a different product, a wrong cmdlet).
    """
    expected = EXPECTED_TYPES.get(cmdlet)
    if expected is None:
        return
    checked: set[tuple[str, ...]] = set()  # every object of one cmdlet usually has the same chain
    for chain in type_names:
        if not chain or chain in checked:
            continue
        checked.add(chain)
        leaves = {strip_deserialized(t).rsplit(".", 1)[-1] for t in chain}
        if expected not in leaves:
            raise CollectionError(
                f"{cmdlet} returned an object of type {strip_deserialized(chain[0])!r}; expected {expected}"
            )


def check_not_empty(cmdlet: str, count: int) -> None:
    """Refuse an empty answer from a cmdlet that always returns objects (:data:`NEVER_EMPTY`).

    Raises:
        CollectionError: nothing came back: read as "no assignment" it would mean "no other path" (EXA013).
    """
    why = NEVER_EMPTY.get(cmdlet)
    if why is not None and count == 0:
        raise CollectionError(f"{cmdlet} returned no object, but {why}: the session cannot see them")


def keep_properties(cmdlet: str, objects: Sequence[Mapping[str, Any]]) -> Sequence[Mapping[str, Any]]:
    """The objects of an organization-scale cmdlet reduced to the properties the snapshot uses; others as they are."""
    names = ORGANIZATION_SCALE.get(cmdlet)
    if names is None:
        return objects
    exact = frozenset(names)
    wanted = {n.lower() for n in names}
    # A runner that already dropped the others (audit.collect.psrp) sends objects whose keys are all wanted.
    return [o if exact.issuperset(o) else {k: v for k, v in o.items() if k.lower() in wanted} for o in objects]


def _objects(cmdlet: str, objects: Iterable[Mapping[str, Any]]) -> list[Props]:
    return [Props(cmdlet, o) for o in objects]


def role_assignments(objects: Iterable[Mapping[str, Any]]) -> tuple[RoleAssignment, ...]:
    """Map Get-ManagementRoleAssignment output (ExchangeRoleAssignmentPresentation)."""
    out = []
    for p in _objects("Get-ManagementRoleAssignment", objects):
        assignee = p.req_text("RoleAssignee")
        write_scope = p.req_text("RecipientWriteScope")
        custom = p.opt_text("CustomRecipientWriteScope")
        # -RecipientOrganizationalUnitScope: Exchange keeps the OU in the custom-scope attribute and
        # ExchangeRoleAssignmentPresentation shows it as CustomRecipientWriteScope (canonical name) with
        # RecipientWriteScope OU; it has no RecipientOrganizationUnitScope property (that is ECP's
        # RoleAssignmentObjectResolverRow). DECOMP ExchangeRoleAssignmentPresentation(Schema); exchange-rbac.md 1.3.
        ou_scope = custom if write_scope.casefold() == "ou" else None
        out.append(
            RoleAssignment(
                name=p.req_text("Name"),
                identity=p.text("Identity") or p.req_text("Name"),
                role=canonical_leaf(p.req_text("Role")),
                role_assignee=assignee,
                role_assignee_name=p.text("RoleAssigneeName") or canonical_leaf(assignee),
                role_assignee_type=p.req_text("RoleAssigneeType"),
                assignment_method=p.text("AssignmentMethod"),
                delegation_type=p.req_text("RoleAssignmentDelegationType"),
                enabled=p.req_flag("Enabled"),
                recipient_write_scope=write_scope,
                custom_recipient_write_scope=None if ou_scope else custom,
                custom_resource_scope=p.opt_text("CustomResourceScope"),
                recipient_ou_scope=ou_scope,
                distinguished_name=p.text("DistinguishedName"),
                guid=p.text("Guid"),
            )
        )
    return tuple(out)


def management_scopes(objects: Iterable[Mapping[str, Any]]) -> tuple[ManagementScope, ...]:
    """Map Get-ManagementScope output."""
    return tuple(
        ManagementScope(
            name=p.req_text("Name"),
            identity=p.text("Identity") or p.req_text("Name"),
            scope_restriction_type=p.req_text("ScopeRestrictionType"),
            exclusive=bool(p.flag("Exclusive")),
            recipient_filter=p.opt_text("RecipientFilter"),
            recipient_root=p.opt_text("RecipientRoot"),
            distinguished_name=p.text("DistinguishedName"),
            guid=p.text("Guid"),
        )
        for p in _objects("Get-ManagementScope", objects)
    )


def management_roles(objects: Iterable[Mapping[str, Any]]) -> tuple[ManagementRole, ...]:
    """Map Get-ManagementRole output (ExchangeRole)."""
    return tuple(
        ManagementRole(
            name=p.req_text("Name"), identity=p.text("Identity") or p.req_text("Name"), role_type=p.text("RoleType")
        )
        for p in _objects("Get-ManagementRole", objects)
    )


def role_groups(objects: Iterable[Mapping[str, Any]]) -> tuple[RoleGroup, ...]:
    """Map Get-RoleGroup output."""
    return tuple(
        RoleGroup(
            name=p.req_text("Name"),
            display_name=p.text("DisplayName"),
            identity=p.text("Identity") or p.req_text("Name"),
            distinguished_name=p.text("DistinguishedName"),
            guid=p.text("Guid"),
            role_group_type=p.text("RoleGroupType"),
            # Required: a role group read as holding no roles or members would hide a path to the role (EXA013).
            roles=tuple(canonical_leaf(r) for r in p.req_items("Roles")),
            role_assignments=tuple(canonical_leaf(r) for r in p.items("RoleAssignments")),
            members=p.req_items("Members"),
            managed_by=p.items("ManagedBy"),
        )
        for p in _objects("Get-RoleGroup", objects)
    )


def _group_key(p: Props) -> str:
    return (p.text("Guid") or p.text("DistinguishedName") or p.text("Identity")).lower()


def groups(
    group_objects: Iterable[Mapping[str, Any]], distribution_groups: Iterable[Mapping[str, Any]] | None
) -> tuple[Group, ...]:
    """Map Get-Group output, merged with Get-DistributionGroup facts for mail-enabled groups.

    ``distribution_groups`` None means Get-DistributionGroup could not be read: the mail-only facts stay None
    (unknown), which the checks that need them report as ERROR.
    """
    dist: dict[str, Props] = {}
    for dg in _objects("Get-DistributionGroup", distribution_groups or ()):
        for key in {dg.text("Guid").lower(), dg.text("DistinguishedName").lower()} - {""}:
            dist[key] = dg
    out = []
    for p in _objects("Get-Group", group_objects):
        d = dist.get(p.text("Guid").lower()) or dist.get(p.text("DistinguishedName").lower())
        out.append(
            Group(
                name=p.req_text("Name"),
                display_name=p.text("DisplayName"),
                identity=p.text("Identity") or p.req_text("Name"),
                distinguished_name=p.req_text("DistinguishedName"),
                guid=p.text("Guid"),
                recipient_type_details=p.text("RecipientTypeDetails"),
                group_type=p.text("GroupType") or (d.text("GroupType") if d else ""),
                # Required: unread membership is not an empty group (EXA013, EXA033-EXA035, EXA040).
                members=p.req_items("Members"),
                primary_smtp_address=(d.opt_text("PrimarySmtpAddress") if d else None)
                or p.opt_text("WindowsEmailAddress"),
                hidden_from_address_lists_enabled=d.flag("HiddenFromAddressListsEnabled") if d else None,
                member_join_restriction=d.opt_text("MemberJoinRestriction") if d else None,
                member_depart_restriction=d.opt_text("MemberDepartRestriction") if d else None,
            )
        )
    return tuple(out)


def direct_memberships(
    recipient_objects: Sequence[Mapping[str, Any]], group_list: Iterable[Group]
) -> dict[int, tuple[str, ...]]:
    """For each recipient (by index), the DNs of the groups it is a *direct* member of.

    Get-Recipient does not return memberships; Get-Group's ``Members`` does (canonical names, or DNs). AD's
    ``memberOf``, which the MemberOfGroup filter reads, holds direct memberships only, so nothing is expanded.
    """
    groups = list(group_list)
    # Only the keys some group names are looked up (the first recipient holding a key wins): an index of every
    # recipient's three keys would be 300,000 lower-cased strings at 100,000 recipients, all alive at once.
    index: dict[str, int] = dict.fromkeys((m.lower() for g in groups for m in g.members), -1)
    for i, obj in enumerate(recipient_objects):
        p = Props("Get-Recipient", obj)
        for key in (p.text("Identity"), p.text("DistinguishedName"), p.text("Guid")):
            if key:
                low = key.lower()
                if index.get(low) == -1:
                    index[low] = i
    member_of: dict[int, list[str]] = {}
    for group in groups:
        for member in group.members:
            i = index[member.lower()]
            if i < 0:
                continue
            if group.distinguished_name not in member_of.setdefault(i, []):
                member_of[i].append(group.distinguished_name)
    shared = _Shared()  # most recipients are in the same few groups: one tuple per distinct membership
    return {i: shared(tuple(dns)) for i, dns in member_of.items()}


class _Shared:
    """One object per distinct value among the first :data:`_SHARED_MAX` distinct ones (a bounded memo).

    The 15 custom attributes of 100,000 recipients are mostly all empty, and their memberships the same group:
    as many equal tuples, 10-20 MiB. Equal values, so nothing a reader sees changes.
    """

    __slots__ = ("_seen",)

    def __init__(self) -> None:
        self._seen: dict[Any, Any] = {}

    def __call__(self, value: T) -> T:
        found: T | None = self._seen.get(value)
        if found is not None:
            return found
        if len(self._seen) < _SHARED_MAX:
            self._seen[value] = value
        return value


_SHARED_MAX = 1024


def recipients(
    objects: Sequence[Mapping[str, Any]], member_of: Mapping[int, tuple[str, ...]] | None = None
) -> tuple[Recipient, ...]:
    """Map Get-Recipient output (ReducedRecipient) with each recipient's direct group DNs."""
    memberships = member_of or {}
    shared = _Shared()
    out = []
    for i, obj in enumerate(objects):
        p = Props("Get-Recipient", obj)
        out.append(
            Recipient(
                name=p.req_text("Name"),
                identity=p.text("Identity") or p.req_text("Name"),
                distinguished_name=p.req_text("DistinguishedName"),
                guid=p.text("Guid"),
                alias=p.text("Alias"),
                display_name=p.text("DisplayName"),
                primary_smtp_address=p.text("PrimarySmtpAddress"),
                # Required: EXA040 counts the mailboxes a scope selects by RecipientType.
                recipient_type=p.req_text("RecipientType"),
                recipient_type_details=p.text("RecipientTypeDetails"),
                email_addresses=p.items("EmailAddresses"),
                member_of=memberships.get(i, ()),
                department=p.text("Department"),
                company=p.text("Company"),
                custom_attributes=shared(tuple(p.text(f"CustomAttribute{n}") for n in range(1, 16))),
                hidden_from_address_lists_enabled=bool(p.flag("HiddenFromAddressListsEnabled")),
            )
        )
    return tuple(out)


def mailboxes(objects: Iterable[Mapping[str, Any]]) -> tuple[Mailbox, ...]:
    """Map Get-Mailbox output."""
    return tuple(
        Mailbox(
            name=p.req_text("Name"),
            identity=p.text("Identity") or p.req_text("Name"),
            distinguished_name=p.text("DistinguishedName"),
            primary_smtp_address=p.req_text("PrimarySmtpAddress"),
            user_principal_name=p.text("UserPrincipalName"),
            recipient_type_details=p.text("RecipientTypeDetails"),
            # Required: a mailbox whose account state is unknown must not count as syncable (EXA035).
            account_disabled=p.req_flag("AccountDisabled"),
            throttling_policy=p.opt_text("ThrottlingPolicy"),
        )
        for p in _objects("Get-Mailbox", objects)
    )


def users(objects: Iterable[Mapping[str, Any]]) -> tuple[User, ...]:
    """Map Get-User output."""
    out = []
    for p in _objects("Get-User", objects):
        disabled = p.flag("AccountDisabled")
        if disabled is None:
            # Older builds expose only UserAccountControl (flags enum text, e.g. "AccountDisabled, NormalAccount").
            # Neither property: whether the account is enabled is unknown, and unknown must not read as enabled.
            control = p.req_text("UserAccountControl")
            disabled = "accountdisabled" in control.replace(" ", "").lower()
        out.append(
            User(
                name=p.req_text("Name"),
                identity=p.text("Identity") or p.req_text("Name"),
                distinguished_name=p.text("DistinguishedName"),
                user_principal_name=p.text("UserPrincipalName"),
                sam_account_name=p.text("SamAccountName"),
                recipient_type_details=p.text("RecipientTypeDetails"),
                account_disabled=disabled,
                sid=p.text("SID") or p.text("Sid"),
                windows_email_address=p.text("WindowsEmailAddress"),
            )
        )
    return tuple(out)


def throttling_policies(objects: Iterable[Mapping[str, Any]]) -> tuple[ThrottlingPolicy, ...]:
    """Map Get-ThrottlingPolicy output; ``EwsMaxConcurrency`` "Unlimited" becomes None."""
    out = []
    for p in _objects("Get-ThrottlingPolicy", objects):
        scope = p.text("ThrottlingPolicyScope")
        is_default = p.flag("IsDefault")
        out.append(
            ThrottlingPolicy(
                name=p.req_text("Name"),
                identity=p.text("Identity") or p.req_text("Name"),
                scope=scope,
                is_default=bool(is_default) if is_default is not None else scope.lower() == "global",
                ews_max_concurrency=to_unlimited_int(p.raw("EwsMaxConcurrency"), p.cmdlet, "EwsMaxConcurrency"),
            )
        )
    return tuple(out)


def organization(objects: Sequence[Mapping[str, Any]]) -> Organization | None:
    """Map Get-OrganizationConfig output (one object)."""
    if not objects:
        return None
    p = Props("Get-OrganizationConfig", objects[0])
    name = p.req_text("Name")
    return Organization(
        name=name,
        identity=p.text("Identity") or name,
        is_exchange_online=bool(p.flag("IsDehydrated")) or name.lower().endswith(".onmicrosoft.com"),
        ews_enabled=p.flag("EwsEnabled"),
    )


def exchange_servers(objects: Iterable[Mapping[str, Any]]) -> tuple[ExchangeServer, ...]:
    """Map Get-ExchangeServer output; ``AdminDisplayVersion`` is kept as Exchange prints it."""
    out = []
    for p in _objects("Get-ExchangeServer", objects):
        version = p.req_text("AdminDisplayVersion")
        parse_server_version(version)  # refuse an unreadable version here, not at probe time
        out.append(
            ExchangeServer(
                name=p.req_text("Name"),
                fqdn=p.text("Fqdn"),
                admin_display_version=version,
                edition=p.text("Edition"),
                server_role=p.text("ServerRole"),
            )
        )
    return tuple(out)
