"""The lab's own reading of the tenant's RBAC: who may impersonate whom, and which cmdlets an account sees.

Deliberately independent of the auditor (it never imports audit.opath or audit.evaluate): a small OPATH
evaluator of its own decides management scopes, so that a mistake in the auditor's evaluator shows up as a
disagreement between the audit's verdict and the lab's EWS answers.
"""

from __future__ import annotations

import enum
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass

from audit.lab.dn import dn_key
from audit.lab.tenant import ManagementScope, Recipient, RoleAssignment, Tenant

log = logging.getLogger(__name__)

IMPERSONATION_ROLE = "ApplicationImpersonation"


class Decision(enum.Enum):
    """The outcome of an impersonation attempt, named after the EWS response it produces."""

    ALLOWED = "NoError"
    IMPERSONATE_USER_DENIED = "ErrorImpersonateUserDenied"  # holds the role, target outside every scope
    IMPERSONATION_DENIED = "ErrorImpersonationDenied"  # no effective ApplicationImpersonation at all
    NO_MAILBOX = "ErrorNonExistentMailbox"


@dataclass(frozen=True, slots=True)
class ImpersonationResult:
    """A decision with the mailbox it concerns and the assignments that were considered."""

    decision: Decision
    target: Recipient | None
    assignments: tuple[str, ...] = ()
    reason: str = ""


# --------------------------------------------------------------------------------------------------------
# The lab's OPATH subset. Operators and quoting per "Recipient filters in Exchange PowerShell commands"
# (https://learn.microsoft.com/powershell/exchange/recipient-filters); properties per
# https://learn.microsoft.com/powershell/exchange/recipientfilter-properties


class FilterUnsupported(Exception):
    """A filter uses syntax or a property the lab does not evaluate (it then matches nothing)."""


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<lp>\() | (?P<rp>\)) |
        (?P<op>-(?:and|or|not|eq|ne|like|notlike|lt|gt|le|ge|contains|match)\b) |
        '(?P<sq>(?:[^']|'')*)' |
        "(?P<dq>(?:[^"]|"")*)" |
        (?P<word>[^\s()'"]+)
    )""",
    re.IGNORECASE | re.VERBOSE,
)

Predicate = Callable[[Tenant, Recipient], bool]

_TEXT_PROPERTIES: dict[str, Callable[[Recipient], str]] = {
    "alias": lambda r: r.alias,
    "department": lambda r: r.department,
    "company": lambda r: r.company,
    "title": lambda r: r.title,
    "name": lambda r: r.name,
    "displayname": lambda r: r.display_name,
    "recipienttypedetails": lambda r: r.recipient_type_details,
    "recipienttype": lambda r: r.recipient_type,
    "userprincipalname": lambda r: r.upn,
}


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            if text[pos:].strip() == "":
                break
            raise FilterUnsupported(f"unexpected text at position {pos}")
        pos = match.end()
        kind = match.lastgroup or ""
        value = match.group(kind) or ""
        if kind == "sq":
            value = value.replace("''", "'")
        elif kind == "dq":
            value = value.replace('""', '"')
        elif kind == "op":
            value = value.lower()
        out.append((kind, value))
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        stripped = text.strip()
        if stripped.startswith("{") and stripped.endswith("}"):
            stripped = stripped[1:-1]
        self.tokens = _tokens(stripped)
        self.pos = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise FilterUnsupported("filter ends too early")
        self.pos += 1
        return token

    def parse(self) -> Predicate:
        if not self.tokens:
            raise FilterUnsupported("empty filter")
        pred = self.or_()
        if self.peek() is not None:
            raise FilterUnsupported(f"unexpected {self.peek()!r}")
        return pred

    def or_(self) -> Predicate:
        parts = [self.and_()]
        while self.peek() == ("op", "-or"):
            self.take()
            parts.append(self.and_())
        if len(parts) == 1:
            return parts[0]
        return lambda t, r: any(p(t, r) for p in parts)

    def and_(self) -> Predicate:
        parts = [self.not_()]
        while self.peek() == ("op", "-and"):
            self.take()
            parts.append(self.not_())
        if len(parts) == 1:
            return parts[0]
        return lambda t, r: all(p(t, r) for p in parts)

    def not_(self) -> Predicate:
        if self.peek() == ("op", "-not"):
            self.take()
            inner = self.not_()
            return lambda t, r: not inner(t, r)
        if self.peek() == ("lp", "("):
            self.take()
            inner = self.or_()
            if self.take() != ("rp", ")"):
                raise FilterUnsupported("missing ')'")
            return inner
        return self.comparison()

    def comparison(self) -> Predicate:
        kind, prop = self.take()
        if kind != "word":
            raise FilterUnsupported(f"expected a property name, got {prop!r}")
        op_kind, op = self.take()
        if op_kind != "op" or op not in ("-eq", "-ne", "-like", "-notlike"):
            raise FilterUnsupported(f"operator {op!r} is not evaluated by the lab")
        value_kind, value = self.take()
        if value_kind not in ("sq", "dq", "word"):
            raise FilterUnsupported(f"expected a value after {op}")
        if value_kind == "word" and value.lower() == "$null":
            value = ""
        return _compare(prop, op, value)


def _text_test(op: str, value: str) -> Callable[[str], bool]:
    if op in ("-like", "-notlike"):
        pattern = re.compile("^" + ".*".join(re.escape(p) for p in value.split("*")) + "$", re.IGNORECASE | re.S)
        # "" is an unset attribute (Active Directory stores no empty string): -like is an LDAP substring or presence
        # filter, and "(company=*)" holds only for an entry that has the attribute (RFC 4511 4.5.1.7.5); blanks are
        # found with -eq $null (https://learn.microsoft.com/powershell/exchange/filter-properties). Found by
        # tests/differential (regressions/like-star-unset.yaml).
        positive: Callable[[str], bool] = lambda s: s != "" and pattern.match(s) is not None  # noqa: E731
    else:
        wanted = value.lower()
        positive = lambda s: s.lower() == wanted  # noqa: E731
    return positive


def _compare(prop: str, op: str, value: str) -> Predicate:
    name = prop.lower()
    negate = op in ("-ne", "-notlike")
    test = _text_test(op, value)
    if name == "memberofgroup":
        # memberOf holds DIRECT memberships only, and only a DN matches (a name or GUID matches nothing).
        # https://learn.microsoft.com/powershell/exchange/recipientfilter-properties#memberofgroup
        # -eq/-ne compare DNs as LDAP does (RFC 4514 syntax, values ignoring case: audit.lab.dn); a value that is
        # not a DN equals no group. -like stays a text match on the DN as the lab stores it.
        wanted_dn = dn_key(value) if op in ("-eq", "-ne") else None
        if op in ("-eq", "-ne") and value == "":
            # -eq $null holds when memberOf is not set: the recipient is a direct member of no group (the auditor
            # reads it the same way; found when the two were held against each other).
            def no_group(t: Tenant, r: Recipient) -> bool:
                return (not t.member_of(r.dn)) != negate

            return no_group

        def member_of(t: Tenant, r: Recipient) -> bool:
            if op in ("-eq", "-ne"):
                hit = wanted_dn is not None and any(dn_key(dn) == wanted_dn for dn in t.member_of(r.dn))
            else:
                hit = any(test(dn) for dn in t.member_of(r.dn))
            return hit != negate

        return member_of
    if name in ("primarysmtpaddress", "emailaddresses", "windowsemailaddress"):
        # "Any filter that uses the PrimarySmtpAddress property also searches values in the EmailAddresses
        # property" (recipientfilter-properties); an EmailAddresses value may carry the smtp: prefix.
        bare = value[5:] if value.lower().startswith("smtp:") else value
        bare_test = _text_test(op, bare)

        def address(_t: Tenant, r: Recipient) -> bool:
            hit = any(bare_test(a.split(":", 1)[1]) or test(a) for a in r.email_addresses)
            return hit != negate

        return address
    match = re.fullmatch(r"customattribute(\d{1,2})", name)
    if match and 1 <= int(match.group(1)) <= 15:
        index = int(match.group(1)) - 1

        def custom(_t: Tenant, r: Recipient) -> bool:
            return test(r.custom_attributes[index]) != negate

        return custom
    getter = _TEXT_PROPERTIES.get(name)
    if getter is None:
        raise FilterUnsupported(f"property {prop!r} is not evaluated by the lab")

    def text(_t: Tenant, r: Recipient) -> bool:
        return test(getter(r)) != negate

    return text


def compile_scope_filter(text: str) -> Predicate | None:
    """Compile a stored RecipientFilter; None (and a log line) when the lab cannot evaluate it."""
    try:
        return _Parser(text).parse()
    except FilterUnsupported as exc:
        log.warning("lab: management scope filter %r matches nothing here: %s", text, exc)
        return None


# --------------------------------------------------------------------------------------------------------
# Impersonation


class Authorizer:
    """Impersonation decisions for one tenant, with the per-caller and per-scope work cached."""

    def __init__(self, tenant: Tenant) -> None:
        self.tenant = tenant
        self._lock = threading.Lock()
        self._assignments: dict[str, tuple[RoleAssignment, ...]] = {}
        self._filters: dict[str, Predicate | None] = {}

    def groups_of(self, dn: str) -> set[str]:
        """Return every group DN reaching ``dn`` through membership, nested groups included (lower-case)."""
        seen: set[str] = set()
        todo = [dn]
        while todo:
            for parent in self.tenant.member_of(todo.pop()):
                key = parent.lower()
                if key not in seen:
                    seen.add(key)
                    todo.append(parent)
        return seen

    def effective_assignments(self, caller: Recipient, role: str = IMPERSONATION_ROLE) -> tuple[RoleAssignment, ...]:
        """Return the enabled Regular assignments of ``role`` that reach ``caller`` (direct, groups, nested)."""
        key = f"{caller.dn.lower()}\x00{role.lower()}"
        with self._lock:
            cached = self._assignments.get(key)
        if cached is not None:
            return cached
        reach = self.groups_of(caller.dn) | {caller.dn.lower()}
        found = tuple(
            a
            for a in self.tenant.role_assignments
            # A Delegating assignment only lets its holder hand the role out; it grants no access.
            # https://learn.microsoft.com/powershell/module/exchangepowershell/new-managementroleassignment
            if a.role.lower() == role.lower()
            and a.enabled
            and a.delegation == "Regular"
            and a.assignee.lower() in reach
        )
        with self._lock:
            self._assignments[key] = found
        return found

    def _filter(self, scope: ManagementScope) -> Predicate | None:
        with self._lock:
            if scope.recipient_filter in self._filters:
                return self._filters[scope.recipient_filter]
        compiled = compile_scope_filter(scope.recipient_filter)
        with self._lock:
            self._filters[scope.recipient_filter] = compiled
        return compiled

    def under(self, target: Recipient, ou_dn: str) -> bool:
        """Whether ``target`` sits below the OU ``ou_dn`` (any depth), DNs compared by RFC 4514 meaning."""
        # audit.lab.dn caches its keys, so a scope evaluated over many recipients parses each DN once.
        root, key = dn_key(ou_dn), dn_key(target.dn)
        if root is None or key is None or len(key) <= len(root):
            return False  # a DN that does not parse is below nothing (fail closed)
        return key[len(key) - len(root) :] == root

    def scope_contains(self, scope: ManagementScope, target: Recipient) -> bool:
        """Whether a recipient scope selects ``target``: below its RecipientRoot (when set) and matching its filter.

        -RecipientRoot: "the OU under which the filter specified with the RecipientRestrictionFilter parameter should
        be applied" (https://learn.microsoft.com/powershell/module/exchangepowershell/new-managementscope).
        """
        if scope.recipient_root and not self.under(target, scope.recipient_root):
            return False
        if not scope.recipient_filter.strip():
            # Without a filter only the root restricts. UNVERIFIED in Exchange, whose cmdlets always set a filter
            # (-RecipientRestrictionFilter is mandatory in New-ManagementScope's recipient parameter set); a tenant
            # file may leave it out, and the auditor reads such an exclusive scope the same way.
            return True
        predicate = self._filter(scope)
        return predicate is not None and predicate(self.tenant, target)

    def exclusive_cover(self, target: Recipient) -> tuple[ManagementScope, ...]:
        """The organisation's exclusive recipient scopes that contain ``target`` (every one, used or not)."""
        return tuple(
            s
            for s in self.tenant.scopes
            if s.exclusive and s.scope_restriction_type == "RecipientScope" and self.scope_contains(s, target)
        )

    def in_write_scope(self, assignment: RoleAssignment, caller: Recipient, target: Recipient) -> bool:
        """Return whether ``target`` lies in the assignment's own recipient write scope (exclusive scopes aside)."""
        kind = assignment.recipient_write_scope
        if kind == "Organization":
            return True
        if kind == "Self":
            return target.dn.lower() == caller.dn.lower()
        if kind == "OU":
            # -RecipientOrganizationalUnitScope: every recipient below that OU.
            return assignment.recipient_ou_scope is not None and self.under(target, assignment.recipient_ou_scope)
        if kind in ("CustomRecipientScope", "ExclusiveRecipientScope"):
            name = assignment.custom_recipient_write_scope
            scope = self.tenant.scope(name) if name else None
            if scope is None:
                log.warning("lab: assignment %r names a missing scope %r", assignment.name, name)
                return False
            return self.scope_contains(scope, target)
        log.warning("lab: recipient write scope %r of %r is not evaluated; it reaches nothing", kind, assignment.name)
        return False

    def grants(
        self, assignment: RoleAssignment, caller: Recipient, target: Recipient, cover: tuple[ManagementScope, ...]
    ) -> bool:
        """Whether ``assignment`` lets ``caller`` act on ``target``, exclusive scopes applied.

        "Users or USGs that aren't assigned an exclusive scope that contains the objects immediately lose access to
        those objects" (https://learn.microsoft.com/powershell/module/exchangepowershell/new-managementscope,
        -Exclusive; https://learn.microsoft.com/exchange/understanding-exclusive-scopes-exchange-2013-help). For a
        target inside any exclusive scope only ExclusiveRecipientScope assignments whose scope contains it count;
        elsewhere an ExclusiveRecipientScope assignment reaches nothing (DECOMP ManagementReporting
        .FindRoleAssignmentsWithWritableRecipient: its regular branch has no ExclusiveRecipientScope case).
        """
        exclusive = assignment.recipient_write_scope == "ExclusiveRecipientScope"
        if cover:
            name = (assignment.custom_recipient_write_scope or "").lower()
            return exclusive and any(s.name.lower() == name for s in cover)
        return not exclusive and self.in_write_scope(assignment, caller, target)

    def decide(self, caller_login: str, target_identity: str) -> ImpersonationResult:
        """Decide whether the account ``caller_login`` may impersonate the mailbox named by ``target_identity``."""
        return self.decide_for(caller_login, self.tenant.mailbox(target_identity))

    def decide_for(self, caller_login: str, target: Recipient | None) -> ImpersonationResult:
        """Decide for an already resolved target mailbox (None: no such mailbox)."""
        caller = self.tenant.account_user(caller_login)
        if caller is None:
            return ImpersonationResult(Decision.IMPERSONATION_DENIED, None, (), "the caller is not a directory user")
        assignments = self.effective_assignments(caller)
        names = tuple(a.name for a in assignments)
        # The right to impersonate at all (ms-Exch-EPI-Impersonation) is checked before the target is looked
        # up; the per-user right (ms-Exch-EPI-May-Impersonate) after. exchangeimpersonation.md, responsecode.md
        if not assignments:
            return ImpersonationResult(
                Decision.IMPERSONATION_DENIED,
                None,
                (),
                "no enabled Regular ApplicationImpersonation reaches the caller",
            )
        if target is None or not target.has_mailbox:
            return ImpersonationResult(Decision.NO_MAILBOX, None, names, "no mailbox with that identity")
        cover = self.exclusive_cover(target)
        for assignment in assignments:
            if self.grants(assignment, caller, target, cover):
                return ImpersonationResult(Decision.ALLOWED, target, (assignment.name,), "in scope")
        if cover:
            taken = ", ".join(repr(s.name) for s in cover)
            return ImpersonationResult(
                Decision.IMPERSONATE_USER_DENIED, target, names, f"taken away by exclusive scope {taken}"
            )
        return ImpersonationResult(Decision.IMPERSONATE_USER_DENIED, target, names, "outside every write scope")

    def reachable_mailboxes(self, caller_login: str) -> list[Recipient]:
        """Return every mailbox ``caller_login`` may impersonate (the lab's ground truth for tests)."""
        caller = self.tenant.account_user(caller_login)
        if caller is None:
            return []
        assignments = self.effective_assignments(caller)
        out = []
        for mailbox in self.tenant.mailboxes():
            cover = self.exclusive_cover(mailbox)
            if any(self.grants(a, caller, mailbox, cover) for a in assignments):
                out.append(mailbox)
        return out


def decide(tenant: Tenant, caller_login: str, target_identity: str) -> ImpersonationResult:
    """Decide one impersonation without keeping caches (convenience for tests and one-off checks)."""
    return Authorizer(tenant).decide(caller_login, target_identity)


# --------------------------------------------------------------------------------------------------------
# Cmdlet visibility over remote PowerShell: RBAC builds the session from the account's role entries, so a
# cmdlet no role grants is simply absent ("The term ... is not recognized"). exchange-rbac.md section 11.

RBAC_CMDLETS = frozenset(
    {
        "Get-ManagementRoleAssignment",
        "Get-ManagementScope",
        "Get-ManagementRole",
        "Get-RoleGroup",
        "Get-RoleGroupMember",
    }
)
RECIPIENT_CMDLETS = frozenset(
    {"Get-User", "Get-Mailbox", "Get-Recipient", "Get-Group", "Get-DistributionGroup", "Get-DistributionGroupMember"}
)
CONFIG_CMDLETS = frozenset({"Get-ThrottlingPolicy", "Get-OrganizationConfig", "Get-ExchangeServer"})

# Exchange Online: RBAC for Applications reads, and the writes the lab admin app may run (exo-2026.md 1.1).
# Whether View-Only Organization Management may run Test-ServicePrincipalAuthorization is UNVERIFIED (2a).
EXO_READ_CMDLETS = frozenset(
    {"Get-ServicePrincipal", "Test-ServicePrincipalAuthorization", "Get-ApplicationAccessPolicy"}
)
EXO_RBAC_WRITES = frozenset(
    {
        "New-ServicePrincipal",
        "New-ManagementRoleAssignment",
        "Set-ManagementRoleAssignment",
        "Remove-ManagementRoleAssignment",
        "New-ManagementScope",
        "Remove-RoleGroup",
    }
)
EXO_ONLY_CMDLETS = EXO_READ_CMDLETS | {"New-ServicePrincipal", "Set-OrganizationConfig", "Set-Mailbox"}
# On premises: the writes `exaudit plan` prints, for the lab's Administrator (Organization Management holds Role
# Management, Distribution Groups, Security Group Creation and Membership and Mail Recipients; the read-only
# auditor holds none of them, so they stay "not recognized" for it). Set-User -AccountDisabled stands in for AD.
ONPREM_RBAC_WRITES = frozenset(
    {
        "New-ManagementRoleAssignment",
        "Set-ManagementRoleAssignment",
        "Remove-ManagementRoleAssignment",
        "New-ManagementScope",
        "Set-ManagementScope",
        "Remove-ManagementScope",
        "Add-RoleGroupMember",
        "Remove-RoleGroupMember",
        "Remove-RoleGroup",
    }
)
ONPREM_GROUP_WRITES = frozenset(
    {"New-DistributionGroup", "Set-DistributionGroup", "Add-DistributionGroupMember", "Remove-DistributionGroupMember"}
)
ONPREM_ONLY_CMDLETS = (
    frozenset({"Set-ManagementScope", "Remove-ManagementScope"})
    | ONPREM_GROUP_WRITES
    | {
        "Add-RoleGroupMember",
        "Remove-RoleGroupMember",
    }
)

ROLE_CMDLETS: dict[str, frozenset[str]] = {
    "View-Only Configuration": RBAC_CMDLETS | CONFIG_CMDLETS | RECIPIENT_CMDLETS | EXO_READ_CMDLETS,
    "Role Management": RBAC_CMDLETS | EXO_READ_CMDLETS | EXO_RBAC_WRITES | ONPREM_RBAC_WRITES,
    "Organization Configuration": CONFIG_CMDLETS | RBAC_CMDLETS | {"Set-OrganizationConfig"},
    "View-Only Recipients": RECIPIENT_CMDLETS | frozenset({"Get-OrganizationConfig", "Get-ExchangeServer"}),
    "Mail Recipients": RECIPIENT_CMDLETS - {"Get-DistributionGroup", "Get-DistributionGroupMember"}
    | {"Set-User", "Set-Mailbox"},
    "Distribution Groups": frozenset({"Get-DistributionGroup", "Get-DistributionGroupMember", "Get-Group"})
    | ONPREM_GROUP_WRITES,
    "Exchange Servers": frozenset({"Get-ExchangeServer"}),
}

# Which built-in role group to ask for when a cmdlet is missing.
CMDLET_ROLE_GROUP: dict[str, str] = {
    **dict.fromkeys(RBAC_CMDLETS | CONFIG_CMDLETS, "View-Only Organization Management"),
    **dict.fromkeys(RECIPIENT_CMDLETS, "View-Only Organization Management"),
}


def effective_roles(tenant: Tenant, username: str) -> frozenset[str]:
    """Return the names of the roles an account holds through enabled Regular assignments."""
    caller = tenant.account_user(username)
    if caller is None:
        return frozenset()
    auth = Authorizer(tenant)
    reach = auth.groups_of(caller.dn) | {caller.dn.lower()}
    return frozenset(
        a.role
        for a in tenant.role_assignments
        if a.enabled and a.delegation == "Regular" and a.assignee.lower() in reach
    )


def visible_cmdlets(tenant: Tenant, username: str) -> frozenset[str]:
    """Return the audit-relevant cmdlets the account's remote PowerShell session exposes."""
    out: set[str] = set()
    for role in effective_roles(tenant, username):
        out |= ROLE_CMDLETS.get(role, frozenset())
    if tenant.exo is None:
        out -= EXO_ONLY_CMDLETS
    else:
        out -= ONPREM_ONLY_CMDLETS
    return frozenset(out)
