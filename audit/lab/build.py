"""Building a Tenant from a tenant document: what an admin named, plus what Exchange derives and has built in.

The loader (audit.lab.loader) reads the YAML; this module derives DNs, GUIDs, SIDs, canonical identities, proxy
addresses and the role assignments a role group's roles produce, and adds the built-in role groups, roles,
assignments and the default throttling policy every organization has.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from audit.lab import LabError

if TYPE_CHECKING:
    pass

from audit.lab.loader import (
    _LOC,
    _ORG_KEYS,
    _SECTION_KEYS,
    PLATFORMS,
    _strip_loc,
    _where,
)
from audit.lab.records import (
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
    ou_dn,
    stable_guid,
)
from audit.lab.tenant import Tenant


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

    def ou_dn(self, identity: str) -> str:
        """The DN of an OU given as a DN or a canonical name (records.ou_dn); ValueError when it is neither."""
        return ou_dn(identity, self.org.domain)

    def scope(self, spec: Mapping[str, Any]) -> ManagementScope:
        name = str(spec["name"])
        root = spec.get("recipient_root")
        return ManagementScope(
            name=name,
            recipient_filter=str(spec.get("recipient_filter", "")),
            scope_restriction_type=str(spec.get("scope_restriction_type", "RecipientScope")),
            exclusive=bool(spec.get("exclusive", False)),
            recipient_root=self.ou_dn(str(root)) if root else None,
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


def build_tenant(doc: Mapping[str, Any], source: str = "<tenant>") -> Tenant:
    """Build a Tenant from a plain document (as read from YAML), adding Exchange's built-in objects."""
    org_spec = dict(doc.get("organization") or {})
    loc = _where(org_spec, source)
    org_spec.pop(_LOC, None)
    platform = str(org_spec.pop("platform", None) or doc.get("platform") or "on-premises")
    if platform not in PLATFORMS:
        raise LabError(f"unknown platform {platform!r} (one of {', '.join(PLATFORMS)})", *loc)
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

    scopes = []
    for entry in sections["scopes"]:
        try:
            scopes.append(builder.scope(entry))
        except ValueError as exc:
            raise fail(entry, f"recipient_root: {exc}") from None
    scope_names = {s.name.lower() for s in scopes}
    exclusive_names = {s.name.lower() for s in scopes if s.exclusive}

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
        ou: str | None = None,
    ) -> None:
        if role.lower() not in roles:
            raise fail(entry, f"unknown management role {role!r}")
        if delegation not in DELEGATION_TYPES:
            raise fail(entry, f"unknown delegation {delegation!r} (one of {', '.join(DELEGATION_TYPES)})")
        if write_scope not in WRITE_SCOPES:
            raise fail(entry, f"unknown recipient write scope {write_scope!r}")
        if scope is not None and scope.lower() not in scope_names:
            raise fail(entry, f"scope {scope!r} is not defined in 'scopes'")
        # -ExclusiveRecipientWriteScope takes only an exclusive scope (ErrorScopeNotExclusive, DECOMP
        # NewManagementRoleAssignment); -RecipientOrganizationalUnitScope needs the OU (parameter set).
        if write_scope == "ExclusiveRecipientScope" and (scope or "").lower() not in exclusive_names:
            raise fail(entry, f"ExclusiveRecipientScope needs an exclusive scope, {scope!r} is not one")
        ou_dn = None
        if write_scope == "OU" or ou is not None:
            if ou is None or write_scope != "OU" or scope is not None:
                raise fail(entry, "recipient_organizational_unit_scope goes with recipient_write_scope OU alone")
            try:
                ou_dn = builder.ou_dn(ou)
            except ValueError as exc:
                raise fail(entry, f"recipient_organizational_unit_scope: {exc}") from None
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
                recipient_ou_scope=ou_dn,
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
            ou = spec.get("recipient_organizational_unit_scope")
            scope = spec.get("scope", group_scope if ou is None else None)
            write = str(spec.get("recipient_write_scope") or _default_write_scope(scope, ou, exclusive_names))
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
                None if ou is None else str(ou),
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
        ou = entry.get("recipient_organizational_unit_scope")
        write = str(entry.get("recipient_write_scope") or _default_write_scope(scope, ou, exclusive_names))
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
            None if ou is None else str(ou),
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

    meta = {
        k: v for k, v in doc.items() if k in ("description", "expect", "faults", "generate", "exchange_online", "auth")
    }
    meta = _strip_loc(meta)
    meta["platform"] = platform
    if isinstance(doc.get("exchange_online"), dict):
        meta["exchange_online"] = doc["exchange_online"]  # with __loc__, so its errors name file:line
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
        meta=meta,
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


def _default_write_scope(scope: str | None, ou: object, exclusive_names: set[str]) -> str:
    """RecipientWriteScope as Exchange sets it for the parameter the assignment was made with.

    -RecipientOrganizationalUnitScope gives OU, -ExclusiveRecipientWriteScope ExclusiveRecipientScope,
    -CustomRecipientWriteScope CustomRecipientScope (DECOMP RoleAssignmentHelper; exchange-rbac.md 1.2). A tenant
    file names the scope; an exclusive one implies the exclusive parameter.
    """
    if ou is not None:
        return "OU"
    if scope is None:
        return "Organization"
    return "ExclusiveRecipientScope" if str(scope).lower() in exclusive_names else "CustomRecipientScope"
