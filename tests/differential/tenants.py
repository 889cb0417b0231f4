"""A hypothesis strategy for random lab tenants: users, nested groups, scopes with compound filters, assignments.

A drawn tenant is a plain lab tenant document (what a scenario YAML file holds), built into a ``Tenant`` by the
lab's own ``build_tenant``, so a failing example can be written out as a scenario file and replayed. Every tenant
has the same two accounts: ``svc`` (the integration's service account, whose access is compared) and ``reader``
(the auditing account, in View-Only Organization Management). Everything else is drawn:

- users of every recipient type, in several OUs, with departments, companies, custom attributes and proxy
  addresses from small vocabularies (so that filters select someone), names with characters DNs escape;
- groups of three kinds, nested to any depth and in cycles, the service account a member of some of them;
- management scopes with filters built from ``-and``, ``-or``, ``-not``, parentheses, ``-eq``, ``-ne``, ``-like``
  and ``-notlike`` over the recipient properties both evaluators read (``$null`` comparisons, quotes escaped,
  property names and operators in any case, MemberOfGroup naming groups, role groups or no group);
- role groups (nested too) and direct assignments of ApplicationImpersonation (and of other roles), to the service
  account, to security groups it is (or is not) in and to role groups, Regular or Delegating, enabled or disabled,
  unscoped or scoped; the service account with or without a mailbox, logging on in three forms.

Rules other helpers added to both sides today are behind :class:`Features` switches (exclusive scopes,
RecipientRoot forms, OU-scoped assignments, colliding UPNs and addresses, RFC 4514 DN spellings); the test module
switches on those whose code is on main.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
from dataclasses import dataclass, fields
from typing import Any

from hypothesis import strategies as st

from audit.lab.build import build_tenant
from audit.lab.tenant import Tenant

DOMAIN = "contoso.com"
DOMAIN_DN = "DC=contoso,DC=com"
SERVICE = "svc"
SERVICE_UPN = f"{SERVICE}@{DOMAIN}"
SERVICE_SMTP = "svc.mail@fabrikam.com"
LOGIN_FORMS = ("IT", "IT Ops", "IT Sec")  # the service account's department -> svc, CONTOSO\\svc, svc@contoso.com
READER = "reader"
RBAC_OU = "Microsoft Exchange Security Groups"
ROLE = "ApplicationImpersonation"
OTHER_ROLES = ("Mail Recipients", "View-Only Recipients")


@dataclass(frozen=True, slots=True)
class Features:
    """Rules being added to both sides today; a switched-off rule is never drawn."""

    exclusive: bool = False  # rules-scope: -Exclusive scopes (and so ExclusiveRecipientScope assignments)
    recipient_root: bool = False  # rules-scope: RecipientRoot given as a DN or a canonical name
    ou_scope: bool = False  # rules-scope: -RecipientOrganizationalUnitScope assignments
    identities: bool = False  # rules-ident: a UPN equal to another user's SMTP (primary or proxy) address
    dn_forms: bool = False  # rules-ident: DNs in filters, roots and OU scopes in other RFC 4514 spellings

    @classmethod
    def from_env(cls, default: Features, variable: str = "EXAUDIT_DIFFERENTIAL_FEATURES") -> Features:
        """``default``, with the features named in ``variable`` (comma-separated, ``all``, ``none``) instead."""
        text = os.environ.get(variable, "").strip().lower()
        if not text:
            return default
        names = {f.name for f in fields(cls)}
        wanted = names if text == "all" else set() if text == "none" else {n.strip() for n in text.split(",")}
        unknown = wanted - names
        if unknown:
            raise ValueError(f"{variable}: unknown feature(s) {', '.join(sorted(unknown))} (known: {sorted(names)})")
        return cls(**{n: n in wanted for n in names})


# --- vocabularies -------------------------------------------------------------------------------------------------

FIRST = ("Ann", "Bob", "Cor", "Dirk", "Eva", "O'Neil", "Fien", "Gijs")
LAST = ("Field", "Veld", "Smit", "Sales", "Huis", "Smit, Jr.", "d/Huis")  # "," and "/" are escaped in DNs, names
DEPARTMENTS = ("Field Sales", "Sales", "HR", "IT", "")
COMPANIES = ("Contoso", "Fabrikam", "")
CUSTOM = ("", "VIP", "field", "x1")
OUS = ("Users", "Field", "Field/North", "Field/South", "HQ", "Field/Sales, EMEA")  # "," is escaped in a DN
USER_TYPES = ("UserMailbox", "UserMailbox", "UserMailbox", "SharedMailbox", "RoomMailbox", "EquipmentMailbox", "User")
GROUP_TYPES = ("MailUniversalSecurityGroup", "MailUniversalDistributionGroup", "UniversalSecurityGroup")
# Group names with characters RFC 4514 escapes in a DN (the lab writes the DN, both sides read it).
GROUP_NAMES = ("Field Staff", "VIP", "Sales, North", "R+D", "#Ops", "Team O'Neil", "Scope Group")


class _Digits:
    """Reads small choices off one drawn integer (least significant first), so a tenant costs few draws.

    Hypothesis shrinks integers towards 0, and every choice here reads 0 as its simplest option, so a failing
    tenant still shrinks to a small, plain one.
    """

    __slots__ = ("value",)

    def __init__(self, value: int) -> None:
        self.value = value

    def take(self, n: int) -> int:
        self.value, digit = divmod(self.value, n)
        return digit

    def pick(self, options: tuple[str, ...]) -> str:
        return options[self.take(len(options))]

    def flag(self, odds: int = 2) -> bool:
        """True once in ``odds`` (0 reads as False)."""
        return self.take(odds) == odds - 1


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


_TEXT_LEAVES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Department", DEPARTMENTS),
    ("Company", COMPANIES),
    ("CustomAttribute1", CUSTOM),
    ("CustomAttribute2", CUSTOM),
    ("Alias", ("u1", "u2", "u10", "svc")),
    ("Name", ("Ann Field 0", "Bob Veld 1", "O'Neil Smit 2", "Eva Sales 3")),
    ("DisplayName", ("Ann Field", "Cor Huis", "Gijs Smit")),
    ("RecipientTypeDetails", ("UserMailbox", "SharedMailbox", "RoomMailbox", "User")),
    ("RecipientType", ("UserMailbox", "User")),
)
_MEMBER_OF_WEIGHT = 5  # MemberOfGroup is the scope this product is about: about a third of all comparisons
_LEAF_KINDS = len(_TEXT_LEAVES) + _MEMBER_OF_WEIGHT + 1  # + an address comparison


def _spelled(v: _Digits, word: str) -> str:
    """``word`` as written, lower case or upper case: Exchange reads property names and operators in any case."""
    return (word, word, word.lower(), word.upper())[v.take(4)]


def _leaf(v: _Digits, group_dns: list[str], features: Features) -> str:
    text = _comparison(v, group_dns, features)
    prop, op, value = text.split(" ", 2)
    return f"{_spelled(v, prop)} {_spelled(v, op)} {value}"


def _comparison(v: _Digits, group_dns: list[str], features: Features) -> str:
    kind = v.take(_LEAF_KINDS)
    if kind < len(_TEXT_LEAVES):
        prop, vocabulary = _TEXT_LEAVES[kind]
        op = v.pick(("-eq", "-like", "-ne", "-eq", "-like", "-notlike"))  # positive two times in three
        value = v.pick(vocabulary)
        pattern = v.take(4)
        if value == "" and op in ("-eq", "-ne"):
            return f"{prop} {op} $null"
        if value == "":
            value = "x"
        if op in ("-like", "-notlike"):
            value = (value[:2] + "*", "*" + value[-2:], "*" + value[1:3] + "*", value)[pattern]
        elif pattern == 3:
            value = value.upper()  # Active Directory compares text case-insensitively
        return f"{prop} {op} {_quote(value)}"
    if kind < len(_TEXT_LEAVES) + _MEMBER_OF_WEIGHT:
        op = v.pick(("-eq", "-eq", "-ne"))
        index = v.take(len(group_dns) + 2)  # the last two choices: a DN no group has, and $null
        if index == len(group_dns) + 1:
            return f"MemberOfGroup {op} $null"  # memberOf unset: a direct member of no group
        # Link properties take the DN (RecipientFilter page, syntax rules); an unknown DN selects no one.
        dn = group_dns[index] if index < len(group_dns) else f"CN=No Such Group,OU=Groups,{DOMAIN_DN}"
        form = v.take(3) if features.dn_forms else 0
        if form == 1:
            dn = dn.replace(",OU=", ", OU=").replace(",DC=", " , DC=")  # RFC 4514: blanks around separators
        elif form == 2:
            dn = "cn=" + dn[3:].lower() if dn.startswith("CN=") else dn  # attribute type and value case
        return f"MemberOfGroup {op} {_quote(dn)}"
    prop = v.pick(("PrimarySmtpAddress", "EmailAddresses"))
    op = v.pick(("-eq", "-ne", "-like"))
    local = v.pick(("u0", "u1", "u2", "u3", "u10", "u1.2"))
    domain = v.pick((DOMAIN, "fabrikam.com"))
    value = f"{local[:2]}*@{domain}" if op == "-like" else f"{local}@{domain}"
    if prop == "EmailAddresses" and v.flag():
        value = v.pick(("smtp:", "SMTP:")) + value
    return f"{prop} {op} {_quote(value)}"


def render_filter(codes: list[int], group_dns: list[str], features: Features) -> str:
    """An OPATH filter from drawn codes: a small stack machine over leaves, -and, -or and -not.

    Each code after the first either pushes a comparison or combines the top of the stack, so any tree shape can
    come out; every operand is parenthesized, as Exchange regenerates compound filters.
    """
    stack = [_leaf(_Digits(codes[0]), group_dns, features)]
    for code in codes[1:]:
        v = _Digits(code)
        step = v.take(5)
        if step == 1 and len(stack) >= 2:
            right, left = stack.pop(), stack.pop()
            stack.append(f"({left}) -and ({right})")
        elif step == 2 and len(stack) >= 2:
            right, left = stack.pop(), stack.pop()
            stack.append(f"({left}) -or ({right})")
        elif step == 3:
            stack.append(f"-not ({stack.pop()})")
        else:
            stack.append(_leaf(v, group_dns, features))
    text = stack.pop()
    while stack:
        text = f"({stack.pop()}) -{'and' if len(stack) % 2 else 'or'} ({text})"
    return text


_CODE = st.integers(0, 2**40)
_CODES = st.lists(_CODE, min_size=1, max_size=7)


@functools.cache
def tenant_documents(features: Features = Features()) -> st.SearchStrategy[dict[str, Any]]:
    """Random lab tenant documents (see the module docstring)."""
    users = st.lists(_CODE, min_size=1, max_size=12)
    groups = st.lists(_CODE, max_size=6)
    scopes = st.lists(st.tuples(_CODES, _CODE), min_size=1, max_size=4)
    role_groups = st.lists(st.tuples(st.lists(_CODE, min_size=1, max_size=3), _CODE), min_size=1, max_size=3)
    direct = st.lists(st.tuples(_CODE, _CODE), max_size=3)
    return st.builds(functools.partial(_document, features=features), users, groups, scopes, role_groups, direct, _CODE)


def _ou_dn(path: str) -> str:
    parts = path.split("/")
    rdns = [
        ("CN=" if i == len(parts) - 1 and part == "Users" else "OU=") + part.replace(",", "\\,")
        for i, part in enumerate(parts)
    ]
    return ",".join([*reversed(rdns), DOMAIN_DN])


def _ou_form(v: _Digits, path: str, features: Features) -> str:
    """An OU as an admin may give it (OrganizationalUnitIdParameter): a DN or a canonical name, in any case."""
    text = _ou_dn(path) if v.flag() else f"{DOMAIN}/{path}"
    form = v.take(3)
    if form == 1:
        text = text.lower()
    elif form == 2 and features.dn_forms and text.startswith("OU="):
        text = re.sub(r"(?<!\\),", " , ", text)  # RFC 4514: blanks around separators (escaped commas stay)
    return text


def _document(
    users: list[int],
    groups: list[int],
    scopes: list[tuple[list[int], int]],
    role_groups: list[tuple[list[int], int]],
    direct: list[tuple[int, int]],
    extra: int,
    *,
    features: Features,
) -> dict[str, Any]:
    user_docs: list[dict[str, Any]] = []
    addresses: list[list[str]] = []
    upn_of: list[tuple[int, int] | None] = []
    for i, code in enumerate(users):
        v = _Digits(code)
        first, last = v.pick(FIRST), v.pick(LAST)
        kind = v.pick(USER_TYPES)
        alias = f"u{i}"
        doc: dict[str, Any] = {
            "name": f"{first} {last} {i}",
            "display_name": f"{first} {last}",
            "alias": alias,
            "type": kind,
            "ou": v.pick(OUS),
            "department": v.pick(DEPARTMENTS),
            "company": v.pick(COMPANIES),
            "custom_attributes": {1: v.pick(CUSTOM), 2: v.pick(CUSTOM)},
        }
        other_domain, extra_address = v.flag(3), v.flag(3)
        if kind != "User":
            doc["primary_smtp"] = f"{alias}@{'fabrikam.com' if other_domain else DOMAIN}"
            if extra_address:
                doc["proxy_addresses"] = [f"{alias}.2@{DOMAIN}"]
        # identities: this user's UPN may be another user's primary address or its second (proxy) address.
        addresses.append([doc["primary_smtp"], *doc.get("proxy_addresses", ())] if "primary_smtp" in doc else [])
        upn_of.append((v.take(len(users)), v.take(2)) if features.identities and v.flag(3) else None)
        user_docs.append(doc)
    for i, taken in enumerate(upn_of):
        if taken is not None and taken[0] != i and addresses[taken[0]]:
            # A UPN may equal another user's SMTP address: UPNs are unique among UPNs only.
            other = addresses[taken[0]]
            user_docs[i]["upn"] = other[min(taken[1], len(other) - 1)]
    e = _Digits(extra)
    service: dict[str, Any] = {"name": SERVICE, "alias": SERVICE, "type": "UserMailbox", "department": "IT"}
    if e.flag(4):
        service["type"] = "User"  # the service account needs no mailbox of its own
    elif e.flag(3):
        service["primary_smtp"] = SERVICE_SMTP  # the policy then names it by this address (principal_of)
    # How the integration logs on to EWS (login_of): the department is the one place a tenant file can say it.
    service["department"] = LOGIN_FORMS[e.take(len(LOGIN_FORMS))]
    taker = next((d for d in user_docs if "primary_smtp" in d), None)
    if features.identities and taker is not None and service["type"] == "User" and e.flag(2):
        # Another mailbox holds the service account's UPN as a proxy address (UPNs are unique among UPNs only).
        taker["proxy_addresses"] = [*taker.get("proxy_addresses", ()), SERVICE_UPN]
    user_docs.append(service)
    user_docs.append({"name": READER, "alias": READER, "type": "User", "department": "IT"})

    group_docs: list[dict[str, Any]] = []
    group_dns: list[str] = []
    security: list[str] = []
    for i, code in enumerate(groups):
        v = _Digits(code)
        name = f"{v.pick(GROUP_NAMES)} {i}"
        kind = v.pick(GROUP_TYPES)
        ou = v.pick(("Groups", "Field", "HQ"))
        user_bits, group_bits = v.take(1 << len(users)), v.take(1 << 6)
        members = [user_docs[u]["alias"] for u in range(len(users)) if user_bits >> u & 1]
        # Nesting to any depth, cycles included (Active Directory allows a group to contain itself indirectly).
        members += [f"{{group {j}}}" for j in range(len(groups)) if group_bits >> j & 1 and j != i]
        if v.flag(3):
            members.append(SERVICE)
        group_docs.append({"name": name, "type": kind, "ou": ou, "members": members})
        escaped = name.replace("\\", "\\\\").replace(",", "\\,").replace("+", "\\+")
        escaped = "\\#" + escaped[1:] if escaped.startswith("#") else escaped
        group_dns.append(f"CN={escaped},{_ou_dn(ou)}")
        if "Security" in kind:
            security.append(name)

    names = {f"{{group {j}}}": doc["name"] for j, doc in enumerate(group_docs)}
    for doc in group_docs:
        doc["members"] = [names.get(m, m) for m in doc["members"]]

    scope_docs: list[dict[str, Any]] = []
    for i, (codes, code) in enumerate(scopes):
        v = _Digits(code)
        # A role group is a universal security group too: MemberOfGroup can name it (AD memberOf lists it).
        role_group_dns = [
            f"CN=RG{j},OU=Microsoft Exchange Security Groups,{DOMAIN_DN}" for j in range(len(role_groups))
        ]
        doc = {"name": f"S{i}", "recipient_filter": render_filter(codes, group_dns + role_group_dns, features)}
        if features.exclusive and v.flag(3):
            doc["exclusive"] = True
        if features.recipient_root and v.flag(3):
            path = v.pick(OUS[1:])
            doc["recipient_root"] = _ou_form(v, path, features)
        scope_docs.append(doc)

    def assignment(code: int) -> dict[str, Any]:
        v = _Digits(code)
        doc: dict[str, Any] = {"role": v.pick((ROLE, ROLE, ROLE, *OTHER_ROLES))}
        if v.flag(4):
            doc["enabled"] = False
        if v.flag(4):
            doc["delegation"] = "Delegating"
        scope = v.take(16)  # 15: unscoped (every mailbox) one time in 16, so that the scopes decide most tenants
        if features.ou_scope and v.flag(4):
            # New-ManagementRoleAssignment -RecipientOrganizationalUnitScope, given as a canonical name or a DN.
            path = v.pick(OUS)
            doc["recipient_organizational_unit_scope"] = _ou_form(v, path, features)
        elif scope != 15:
            # An exclusive scope makes the assignment ExclusiveRecipientScope (the lab derives it, as Exchange's
            # -ExclusiveRecipientWriteScope is the only parameter that takes one).
            doc["scope"] = scope_docs[scope % len(scope_docs)]["name"]
        return doc

    rg_docs: list[dict[str, Any]] = []
    for i, (codes, code) in enumerate(role_groups):
        v = _Digits(code)
        members = [SERVICE] if v.take(3) != 2 else []  # the service account is a direct member (2 in 3)
        admins = v.take(1 << len(users))  # and mailbox users (administrators) may be members too
        members += [user_docs[u]["alias"] for u in range(len(users)) if admins >> u & 1 and v.flag(2)]
        usgs = v.take(1 << len(security)) if security else 0
        members += [name for j, name in enumerate(security) if usgs >> j & 1]
        if i and v.flag(4):
            members.append(f"RG{v.take(i)}")  # a role group is a universal security group: it can be a member
        rg_docs.append({"name": f"RG{i}", "roles": [assignment(c) for c in codes], "members": members})
    custom_rgs = [d["name"] for d in rg_docs]
    rg_docs.append({"name": "View-Only Organization Management", "members": [READER]})
    if e.flag(10):
        rg_docs.append({"name": "Hygiene Management", "members": [SERVICE]})  # an unscoped built-in grant

    ra_docs: list[dict[str, Any]] = []
    for i, (code, target) in enumerate(direct):
        t = _Digits(target)
        # New-ManagementRoleAssignment -SecurityGroup takes a universal security group, not a distribution group.
        holders = [SERVICE, *security, *custom_rgs]
        ra_docs.append({"name": f"RA{i}", "assignee": holders[t.take(len(holders))], **assignment(code)})

    return {
        "organization": {"name": "Contoso", "domain": DOMAIN},
        "users": user_docs,
        "groups": group_docs,
        "role_groups": rg_docs,
        "scopes": scope_docs,
        "role_assignments": ra_docs,
        "accounts": [{"user": READER, "role": "auditor"}, {"user": SERVICE, "role": "service"}],
    }


# Built-in assignments kept in a drawn tenant: every one of the role compared, and the view-only roles the auditing
# account reads with. The others (Organization Management's 40-odd, Recipient Management's, ...) reach neither the
# service account's impersonation right nor the cmdlets collection runs; dropping them makes an organization that
# is smaller, still valid, and three times cheaper to collect. Built-in role groups and roles left without an
# assignment go too.
KEPT_BUILTIN_ROLES = frozenset({ROLE, "View-Only Configuration", "View-Only Recipients"})


def login_of(tenant: Tenant) -> str:
    """The logon the integration sends to EWS: sAMAccountName, NETBIOS\\sAMAccountName or UPN (see LOGIN_FORMS)."""
    user = tenant.account_user(SERVICE)
    assert user is not None
    form = LOGIN_FORMS.index(user.department) if user.department in LOGIN_FORMS else 0
    return (SERVICE, f"{tenant.organization.netbios}\\{SERVICE}", user.upn)[form]


def principal_of(tenant: Tenant) -> str:
    """How the policy names the service account: its primary SMTP address when that is not its UPN, else its UPN."""
    user = tenant.account_user(SERVICE)
    assert user is not None
    return user.primary_smtp if user.primary_smtp and user.primary_smtp.lower() != user.upn.lower() else user.upn


def build(doc: dict[str, Any]) -> Tenant:
    """The lab's Tenant for a drawn document (built-in assignments of unrelated roles dropped)."""
    tenant = build_tenant(doc, "<differential>")
    kept = tuple(a for a in tenant.role_assignments if not a.is_builtin or a.role in KEPT_BUILTIN_ROLES)
    holders = {a.assignee.lower() for a in kept}
    role_groups = tuple(rg for rg in tenant.role_groups if not rg.is_builtin or rg.dn.lower() in holders)
    used = {a.role.lower() for a in kept}
    roles = tuple(r for r in tenant.roles if r.name.lower() in used)
    return dataclasses.replace(tenant, role_assignments=kept, role_groups=role_groups, roles=roles)
