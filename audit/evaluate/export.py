"""`exaudit export`: write a policy that mirrors the current state of one service account's access.

Like an infrastructure-as-code import, the exported policy describes what *is*, so that evaluating it against the
same state finds no drift (only the probes, which need a live run, are left to decide). Values that a
least-privilege review should question (other roles, a second path, a visible or open group, nested groups) are
kept as found and flagged in comments, never silently tightened or blessed.

Pure: it reads a snapshot and returns YAML text; the CLI collects the snapshot and writes the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from audit.errors import FilterError, UsageError
from audit.evaluate.context import grants_access
from audit.evaluate.directory import ASSIGNMENT_POLICY, Directory, key
from audit.evaluate.powershell import escape_control, ps
from audit.evaluate.reach import is_dn, ou_canonical, within
from audit.opath import Comparison, compile_filter, parse
from audit.policy.model import HOSTED_MAILBOX_TYPES
from audit.snapshot import Group, ManagementScope, RoleAssignment, RoleGroup, Snapshot, User

ROLE = "ApplicationImpersonation"
GROUP_TYPES = ("MailUniversalSecurityGroup", "MailUniversalDistributionGroup", "MailNonUniversalGroup")


@dataclass(frozen=True, slots=True)
class _Path:
    assignment: RoleAssignment
    kind: str  # "roleGroup" | "securityGroup" | "direct"
    role_group: RoleGroup | None = None
    group: Group | None = None


def _q(text: str) -> str:
    """A YAML double-quoted scalar (always quoted: names may hold ':' '#' or start with special characters).

    Control characters are written as YAML escapes: a line break in a directory name must not end the scalar (or a
    comment) and start a key of its own in the policy an admin adopts.
    """
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    escaped = escape_control(escaped)
    return f'"{escaped}"'


def _list(items: list[str], indent: str) -> str:
    if not items:
        return " []"
    return "".join(f"\n{indent}- {_q(i)}" for i in items)


def _name(text: str) -> str:
    """A metadata.name: lower-case letters, digits and dashes."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return (slug or "exported")[:63]


def _principal(directory: Directory, service_account: str) -> User:
    users = directory.users(service_account)
    if not users:
        for mailbox in directory.mailboxes(service_account):
            users.extend(directory.users(mailbox.identity))
    unique = list({key(u.identity): u for u in users}.values())
    if not unique:
        raise UsageError(f"no user in the collected state has the UPN or address {service_account!r}")
    if len(unique) > 1:
        raise UsageError(f"{service_account!r} matches {len(unique)} users; give the UPN of the one the vendor uses")
    return unique[0]


def _paths(directory: Directory, user: User) -> list[_Path]:
    """Every enabled Regular ApplicationImpersonation assignment that reaches the user, with how it reaches it."""
    keys = {k for k in (key(user.identity), key(user.distinguished_name)) if k}
    containers = directory.containers(keys)
    found: list[_Path] = []
    for a in directory.assignments_by_role.get(key(ROLE), []):
        if not grants_access(a) or key(a.role_assignee_type) == ASSIGNMENT_POLICY:
            continue
        assignee = directory.canonical(a.role_assignee)
        if assignee in keys or key(a.role_assignee) in keys:
            found.append(_Path(a, "direct"))
        elif assignee in containers:
            role_group = directory.role_group(assignee)
            if role_group is not None:
                found.append(_Path(a, "roleGroup", role_group=role_group))
            else:
                found.append(_Path(a, "securityGroup", group=directory.group(assignee)))
    # The scoped path first: it is the one the integration is meant to use.
    return sorted(found, key=lambda p: (p.assignment.custom_recipient_write_scope is None, p.assignment.name))


def _other_roles(directory: Directory, user: User) -> list[str]:
    keys = {k for k in (key(user.identity), key(user.distinguished_name)) if k}
    containers = directory.containers(keys)
    roles = set()
    for a in directory.snapshot.role_assignments:
        if not grants_access(a) or key(a.role_assignee_type) == ASSIGNMENT_POLICY or key(a.role) == key(ROLE):
            continue
        assignee = directory.canonical(a.role_assignee)
        if assignee in keys or assignee in containers or key(a.role_assignee) in keys:
            roles.add(a.role)
    return sorted(roles)


def _scope_group(directory: Directory, scope: ManagementScope) -> Group | None:
    """The group a ``MemberOfGroup -eq '<DN>'`` filter names, when that is all the filter says."""
    if not scope.recipient_filter:
        return None
    try:
        parsed = parse(scope.recipient_filter)
    except FilterError:
        return None  # exported verbatim as opath; `exaudit validate` then says what is wrong with it
    if isinstance(parsed, Comparison) and key(parsed.property) == "memberofgroup" and parsed.operator == "-eq":
        return directory.group_by_dn(str(parsed.value))
    return None


def _in_filter(snapshot: Snapshot, scope: ManagementScope) -> list[str]:
    """The mailboxes a scope's filter selects today (empty when the filter cannot be evaluated)."""
    try:
        predicate = compile_filter(parse(scope.recipient_filter or ""))
    except FilterError:
        return []
    mailboxes = {key(m.identity) for m in snapshot.mailboxes}
    selects = within(scope.recipient_root, predicate)  # only below the scope's RecipientRoot, when it has one
    return sorted(
        r.primary_smtp_address.lower()
        for r in snapshot.recipients
        if key(r.identity) in mailboxes and r.primary_smtp_address and selects(r)
    )


def _mailbox_address(directory: Directory, identity: str) -> str | None:
    recipient = directory.recipient(identity)
    return recipient.primary_smtp_address.lower() if recipient is not None and recipient.primary_smtp_address else None


def _member_type(directory: Directory, member: str) -> str:
    """A member's RecipientTypeDetails as EXA035 reads it (Get-Mailbox first, else Get-Recipient), or ""."""
    mailboxes = directory.mailboxes(member)
    if mailboxes:
        return mailboxes[0].recipient_type_details
    recipient = directory.recipient(member)
    return recipient.recipient_type_details if recipient is not None else ""


def _named(names: list[str], limit: int = 10) -> str:
    """Names for a comment line, bounded (a group of thousands must not make a line of thousands)."""
    shown = ", ".join(_q(n) for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _member_types(directory: Directory, members: list[str]) -> list[str]:
    """The ``memberTypes`` lines proposed from the members' RecipientTypeDetails (EXA035 judges them).

    One type of hosted mailbox for every member: that type. Several, UserMailbox among them: [UserMailbox] (what a
    field staff group holds) and a REVIEW naming the members of the other types, which EXA035 then names until
    they leave the group or their type is added here: never a wider list than the staff type, chosen silently.
    Otherwise memberTypes stays unset (any mailbox hosted here), with a REVIEW saying why.
    """
    by_type: dict[str, list[str]] = {}
    for member in members:
        kind = _member_type(directory, member)
        if kind:  # a member that is no recipient is EXA035's finding whatever memberTypes says
            by_type.setdefault(kind, []).append(_mailbox_address(directory, member) or directory.label(member))
    if not by_type:
        return []
    hosted = [k for k in by_type if k in HOSTED_MAILBOX_TYPES]
    if len(by_type) == 1 and hosted:
        return [f"  memberTypes: [{hosted[0]}]"]
    others = "; ".join(
        f"{_q(kind)}: " + _named(sorted(names)) for kind, names in sorted(by_type.items()) if kind != "UserMailbox"
    )
    if "UserMailbox" in by_type:
        return [
            f"  # REVIEW: members of other types than UserMailbox ({others}); EXA035 names them until they leave the",
            "  # group or their type is added here",
            "  memberTypes: [UserMailbox]",
        ]
    return [
        f"  # REVIEW: the members are not all of one type of hosted mailbox ({others}); memberTypes is left unset",
        "  # (any mailbox hosted here): list the RecipientTypeDetails that belong in the scope",
    ]


def _root(root: str) -> str:
    """A RecipientRoot in the canonical form Exchange shows (``contoso.com/Field Sales``), from a DN or canonical name.

    A DN whose values hold a '/' stays a DN (Exchange accepts either form): a canonical name escapes it, and an
    unescaped one would name another OU.
    """
    if is_dn(root) and "/" in root:
        return root.strip()
    return ou_canonical(root)


def group_section(directory: Directory, group: Group) -> list[str]:
    """The policy's ``group:`` section mirroring ``group`` as found (questionable values marked REVIEW)."""
    out: list[str] = []
    members = [m for m in group.members if not directory.is_group(m)]
    nested = [directory.label(m) for m in group.members if directory.is_group(m)]
    addresses = sorted({a for a in (_mailbox_address(directory, m) for m in members) if a})
    group_type = group.recipient_type_details if group.recipient_type_details in GROUP_TYPES else GROUP_TYPES[0]
    closed = key(group.member_join_restriction) == "closed" and key(group.member_depart_restriction) == "closed"
    out += ["group:", f"  name: {_q(group.name)}"]
    if group_type != group.recipient_type_details:
        out.append(f"  # REVIEW: the group is a {_q(group.recipient_type_details)}; a scope group should be this type")
    out.append(f"  type: {group_type}")
    if not group.hidden_from_address_lists_enabled:
        out.append("  # REVIEW: the group is visible in the address lists")
    out.append(f"  hiddenFromAddressLists: {'true' if group.hidden_from_address_lists_enabled else 'false'}")
    if not closed:
        out.append("  # REVIEW: members can join or leave the group on their own")
    out.append(f"  membershipClosed: {'true' if closed else 'false'}")
    if nested:
        out.append(
            "  # REVIEW: nested groups are silently out of scope (MemberOfGroup is not recursive): "
            + ", ".join(_q(n) for n in nested)
        )
    if addresses:
        out += ["  members:", f"    exactly:{_list(addresses, '      ')}"]
    else:
        out += ["  # REVIEW: the group has no mailbox members", "  members:", "    atMost: []"]
    out += _member_types(directory, members)
    return out


def export_policy(snapshot: Snapshot, service_account: str, *, name: str | None = None) -> str:
    """A policy (YAML text) mirroring how ``service_account`` holds ApplicationImpersonation in ``snapshot``.

    Raises:
        UsageError: the account is unknown or ambiguous, holds no working ApplicationImpersonation assignment, or
            holds it unscoped (then there is no least-privilege setup to mirror: see `exaudit plan`).
    """
    directory = Directory(snapshot)
    user = _principal(directory, service_account)
    paths = _paths(directory, user)
    if not paths:
        raise UsageError(
            f"{user.user_principal_name or user.name} holds no enabled, Regular {ROLE} assignment: nothing to export"
        )
    main = paths[0]
    scope_name = main.assignment.custom_recipient_write_scope
    ou = main.assignment.recipient_ou_scope
    if not scope_name and ou:
        # Scoped, but not by a management scope, which is what a policy names (grant.scope): say so, never
        # "unscoped". Set-ManagementRoleAssignment -CustomRecipientWriteScope overwrites the OU scope
        # (https://learn.microsoft.com/powershell/module/exchangepowershell/set-managementroleassignment).
        raise UsageError(
            f"{ROLE} reaches {user.user_principal_name or user.name} through the OU-scoped assignment "
            f"{main.assignment.name!r} (RecipientWriteScope OU: every mailbox below {escape_control(ou)}); a policy "
            f"names a management scope. Create one (New-ManagementScope -RecipientRoot {ps(ou)} and a filter for the "
            "mailboxes the integration needs) and give it to the assignment with Set-ManagementRoleAssignment "
            "-CustomRecipientWriteScope, which replaces the OU scope; then export."
        )
    if not scope_name:
        raise UsageError(
            f"{ROLE} reaches {user.user_principal_name or user.name} unscoped (RecipientWriteScope "
            f"{main.assignment.recipient_write_scope}): it can open every mailbox. Create a management scope and "
            "attach it first (`exaudit plan` prints the commands); there is no least-privilege setup to export."
        )
    scope = next((s for s in snapshot.scopes if key(s.name) == key(scope_name)), None)
    if scope is None:
        raise UsageError(f"the assignment names scope {scope_name!r}, which is not in the collected state")
    group = _scope_group(directory, scope)
    principal = user.user_principal_name or user.windows_email_address or user.name
    title = name or _name(f"{user.sam_account_name or user.name}-{ROLE}")

    out: list[str] = [
        f"# Exported by `exaudit export` from the state collected at {_q(snapshot.collected_at)}.",
        "# It mirrors what IS. Review every value before you adopt it as what SHOULD be; lines marked REVIEW are",
        "# the ones a least-privilege audit would question.",
        "apiVersion: exaudit/v1",
        "kind: MailboxAccessPolicy",
        "metadata:",
        f"  name: {_q(title)}",
        f"  description: {_q(f'Impersonation access of {principal} (exported)')}",
        "principal:",
        f"  serviceAccount: {_q(principal)}",
        "grant:",
        f"  role: {ROLE}",
        "  via:",
    ]
    if main.kind == "roleGroup" and main.role_group is not None:
        rg = main.role_group
        members = sorted(directory.label(m) for m in rg.members)
        out += [
            "    roleGroup:",
            f"      name: {_q(rg.name)}",
            f"      exactRoles:{_list(sorted(rg.roles), '        ')}",
            f"      exactMembers:{_list(members, '        ')}",
        ]
    elif main.kind == "securityGroup":
        out += [
            "    securityGroup:",
            f"      name: {_q(main.group.name if main.group else main.assignment.role_assignee)}",
        ]
    else:
        out += ["    direct: {}"]
    out.append(f"  scope: {_q(scope.name)}")
    if len(paths) > 1:
        out.append(f"  # REVIEW: {len(paths) - 1} other {ROLE} assignment(s) reach the account today:")
        out += [f"  #   {_q(p.assignment.name)} ({p.kind})" for p in paths[1:]]
        out.append("  onlyPath: false")
    else:
        out.append("  onlyPath: true")
    others = _other_roles(directory, user)
    if others:
        out.append("  # REVIEW: the account holds these management roles too; does the integration need them?")
    out.append(f"  otherRolesAllowed:{_list(others, '    ')}")
    out += ["scope:", f"  name: {_q(scope.name)}", "  recipientFilter:"]
    if group is not None:
        out.append(f"    memberOfGroup: {_q(group.name)}")
    else:
        out.append(f"    opath: {_q(scope.recipient_filter or '')}")
    if scope.recipient_root:
        out.append(f"  recipientRoot: {_q(_root(scope.recipient_root))}")
    if group is not None:
        out += group_section(directory, group)
    allow = " groupMembers" if group is not None else _list(_in_filter(snapshot, scope), "    ")
    out += [
        "probes:",
        f"  allow:{allow}",
        "  deny:",
        "    # Add mailboxes that must stay out of reach (executives, HR, shared mailboxes): each must be refused.",
        "    canaries: []",
        "  operation: calendarRead",
    ]
    return "\n".join(out) + "\n"
