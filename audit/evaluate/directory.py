"""The snapshot's records, indexed once per evaluation for lookup by every identity form and for membership walks.

Exchange names the same object in several ways: a canonical name (``contoso.com/Users/svcServiceAccount``, what
``Identity``, ``RoleAssignee`` and ``Members`` hold at the Partial serialization level), a distinguished name (what
``MemberOfGroup`` and ``memberOf`` hold), a Name, a DisplayName (not unique:
https://github.com/MicrosoftDocs/office-docs-powershell/issues/3152), SMTP addresses and a UPN. Every lookup here
is case-insensitive, like Exchange's, and returns every match so that the caller can treat ambiguity as such. A DN
is also found when written another way (escapes, blanks, case of the attribute types: RFC 4514, audit.opath.dn).
Building the index is O(records); every lookup after that is O(1), so evaluating 100,000 recipients stays linear.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass

from audit.opath.dn import canonical_dn
from audit.snapshot import Group, Mailbox, Recipient, RoleAssignment, RoleGroup, Snapshot, User

# Assignments to a role assignment policy give end-user roles (MyBaseOptions, ...) to every mailbox that has the
# policy; they are not management roles an admin granted to the integration and are not followed as access paths.
# https://learn.microsoft.com/en-us/exchange/permissions/role-assignment-policies
ASSIGNMENT_POLICY = "roleassignmentpolicy"

# A mailbox of any kind is RecipientType UserMailbox (RecipientTypeDetails tells User/Shared/Room/Equipment).
# https://learn.microsoft.com/en-us/powershell/module/exchangepowershell/get-recipient (-RecipientType)
MAILBOX_RECIPIENT_TYPE = "usermailbox"


def key(text: str | None) -> str:
    """The case-insensitive lookup key of an identity, name or address."""
    return (text or "").strip().casefold()


def smtp_addresses(recipient: Recipient) -> frozenset[str]:
    """Every SMTP address of a recipient (primary and proxies), lower-cased, without the ``smtp:`` prefix."""
    found = {key(recipient.primary_smtp_address)} if recipient.primary_smtp_address else set()
    for proxy in recipient.email_addresses:
        prefix, _, address = proxy.partition(":")
        if address and prefix.casefold() == "smtp":
            found.add(key(address))
    return frozenset(found)


@dataclass(frozen=True, slots=True)
class Hop:
    """One step of a membership path: ``member`` is a direct member of ``container``."""

    member: str  # display label of the member (Name)
    container: str  # display label of the container
    container_kind: str  # "role group" | "group"


class Directory:
    """Lookups over one snapshot's records; built once per :func:`audit.evaluate.evaluate` call."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self._users: dict[str, list[User]] = defaultdict(list)
        for user in snapshot.users:
            for name in {
                key(user.identity),
                key(user.distinguished_name),
                key(user.user_principal_name),
                key(user.windows_email_address),
                key(user.sam_account_name),
                key(user.name),
            }:
                if name:
                    self._users[name].append(user)
        # Mailboxes and recipients are the big collections (100,000 in a large organization): index them by
        # identity and DN only, and by address lazily, the first time an address is looked up.
        self._mailboxes: dict[str, list[Mailbox]] = defaultdict(list)
        for mailbox in snapshot.mailboxes:
            self._mailboxes[mailbox.identity.casefold()].append(mailbox)
            if mailbox.distinguished_name:
                self._mailboxes[mailbox.distinguished_name.casefold()].append(mailbox)
        self._mailboxes_by_address: dict[str, list[Mailbox]] | None = None
        self._recipients_by_id: dict[str, Recipient] = {}
        self._recipients_by_address: dict[str, Recipient] | None = None
        self._snapshot_recipients = snapshot.recipients
        for recipient in snapshot.recipients:
            self._recipients_by_id[recipient.identity.casefold()] = recipient
            if recipient.distinguished_name:
                self._recipients_by_id[recipient.distinguished_name.casefold()] = recipient
        self._groups_by_id: dict[str, Group] = {}
        self._groups_by_dn: dict[str, Group] = {}
        self._groups_by_name: dict[str, list[Group]] = defaultdict(list)
        for group in snapshot.groups:
            self._groups_by_id[key(group.identity)] = group
            self._groups_by_id[key(group.distinguished_name)] = group
            if group.distinguished_name:
                self._groups_by_dn[canonical_dn(group.distinguished_name)] = group
            for name in {key(group.name), key(group.display_name), key(group.primary_smtp_address)}:
                if name:
                    self._groups_by_name[name].append(group)
        self._role_groups_by_id: dict[str, RoleGroup] = {}
        self._role_groups_by_name: dict[str, list[RoleGroup]] = defaultdict(list)
        for role_group in snapshot.role_groups:
            self._role_groups_by_id[key(role_group.identity)] = role_group
            self._role_groups_by_id[key(role_group.distinguished_name)] = role_group
            for name in {key(role_group.name), key(role_group.display_name)}:
                if name:
                    self._role_groups_by_name[name].append(role_group)
        # member identity -> identities of the containers (groups, role groups) it is a direct member of. Members
        # may be listed by canonical name or by DN; both are normalized to the record's identity so that a chain
        # of nested groups is followed whichever form each group uses.
        self._parents: dict[str, list[str]] = defaultdict(list)
        # Set before the membership walk: canonical() maps a member DN written another way (another forest's
        # member, other spacing or case) through it, and read it unset before (AttributeError for such a member).
        self._dn_forms: dict[str, str] | None = None  # canonical DN -> the DN as the records write it (lower case)
        for container_id, members in [(g.identity, g.members) for g in snapshot.groups] + [
            (rg.identity, rg.members) for rg in snapshot.role_groups
        ]:
            container = container_id.casefold()
            for member in members:
                parents = self._parents[self.canonical(member)]
                if container not in parents:
                    parents.append(container)
        self.assignments_by_role: dict[str, list[RoleAssignment]] = defaultdict(list)
        for assignment in snapshot.role_assignments:
            self.assignments_by_role[key(assignment.role)].append(assignment)

    def _key(self, identity: str) -> str:
        """The lookup key of an identity; a DN written another way than the records write it is mapped to theirs."""
        k = key(identity)
        if "=" not in k or any(
            k in index
            for index in (
                self._groups_by_id,
                self._role_groups_by_id,
                self._recipients_by_id,
                self._users,
                self._mailboxes,
            )
        ):
            return k
        if self._dn_forms is None:
            # Built on the first DN lookup only: parsing 100,000 recipient DNs up front would cost every evaluation.
            self._dn_forms = {}
            records: list[Iterable[User | Mailbox | Recipient | Group | RoleGroup]] = [
                self.snapshot.role_groups,
                self.snapshot.groups,
                self.snapshot.recipients,
                self.snapshot.mailboxes,
                self.snapshot.users,
            ]
            for kind in records:
                for record in kind:
                    if dn := record.distinguished_name:
                        self._dn_forms.setdefault(canonical_dn(dn), key(dn))
        return self._dn_forms.get(canonical_dn(identity), k)

    def canonical(self, identity: str) -> str:
        """The lower-cased Identity of the record an identity or DN names (the text itself when unknown)."""
        k = self._key(identity)
        for found in (self._groups_by_id.get(k), self._role_groups_by_id.get(k), self._recipients_by_id.get(k)):
            if found is not None:
                return found.identity.casefold()
        users = self._users.get(k)
        return users[0].identity.casefold() if users else k

    # Lookups -----------------------------------------------------------------------------------------------

    def users(self, name: str) -> list[User]:
        """Users known by this identity, DN, UPN, WindowsEmailAddress, SamAccountName or Name."""
        return list(self._users.get(self._key(name), ()))

    def mailboxes(self, name: str) -> list[Mailbox]:
        """Mailboxes known by this identity, DN, primary SMTP address or UPN."""
        k = self._key(name)
        found = self._mailboxes.get(k)
        if found:
            return list(found)
        if self._mailboxes_by_address is None:
            self._mailboxes_by_address = defaultdict(list)
            for mailbox in self.snapshot.mailboxes:
                for address in {key(mailbox.primary_smtp_address), key(mailbox.user_principal_name)} - {""}:
                    self._mailboxes_by_address[address].append(mailbox)
        return list(self._mailboxes_by_address.get(k, ()))

    def recipient(self, identity: str) -> Recipient | None:
        """The recipient with this identity (canonical name) or DN."""
        return self._recipients_by_id.get(self._key(identity))

    def recipient_by_address(self, address: str) -> Recipient | None:
        """The recipient with this SMTP address (any proxy address), identity or DN; Entra names users by UPN."""
        found = self.recipient(address)
        if found is not None:
            return found
        if self._recipients_by_address is None:
            self._recipients_by_address = {}
            for recipient in self._snapshot_recipients:
                for smtp in smtp_addresses(recipient):
                    self._recipients_by_address.setdefault(smtp, recipient)
        return self._recipients_by_address.get(key(address))

    def addresses(self, recipient: Recipient) -> frozenset[str]:
        """Every SMTP address of a recipient, lower-cased."""
        return smtp_addresses(recipient)

    def group(self, identity: str) -> Group | None:
        """The group with this identity (canonical name) or DN."""
        return self._groups_by_id.get(self._key(identity))

    def group_by_dn(self, dn: str) -> Group | None:
        """The group with this distinguished name, compared as LDAP does (RFC 4514 syntax, values ignoring case)."""
        return self._groups_by_dn.get(canonical_dn(dn))

    def groups_named(self, name: str) -> list[Group]:
        """Groups whose Name, DisplayName or primary SMTP address is ``name``."""
        return list(self._groups_by_name.get(key(name), ()))

    def role_group(self, identity: str) -> RoleGroup | None:
        """The role group with this identity (canonical name) or DN."""
        return self._role_groups_by_id.get(self._key(identity))

    def role_groups_named(self, name: str) -> list[RoleGroup]:
        """Role groups whose Name or DisplayName is ``name``."""
        return list(self._role_groups_by_name.get(key(name), ()))

    def label(self, identity: str) -> str:
        """A short human name for any identity: the record's Name, else the identity itself."""
        k = self._key(identity)
        for found in (
            self._role_groups_by_id.get(k),
            self._groups_by_id.get(k),
            self._recipients_by_id.get(k),
        ):
            if found is not None:
                return found.name
        users = self._users.get(k)
        if users:
            return users[0].name
        return identity

    def is_group(self, identity: str) -> bool:
        """Whether an identity names a group or role group (so its members are reached through it)."""
        k = self._key(identity)
        if k in self._groups_by_id or k in self._role_groups_by_id:
            return True
        recipient = self._recipients_by_id.get(k)
        return recipient is not None and "group" in key(recipient.recipient_type)

    # Membership --------------------------------------------------------------------------------------------

    def containers(self, identities: Iterable[str]) -> dict[str, tuple[Hop, ...]]:
        """Every group and role group the given identities belong to, directly or through nested groups.

        Returns container identity (lower-cased) -> the membership path from the principal up to it. Role group
        membership and security group membership both nest (a role group member may be a USG whose members get
        the role's permissions): https://learn.microsoft.com/en-us/exchange/permissions/role-groups.
        """
        paths: dict[str, tuple[Hop, ...]] = {}
        starts = {self.canonical(i) for i in identities}
        queue: deque[tuple[str, tuple[Hop, ...]]] = deque((i, ()) for i in starts)
        seen = set(starts)
        while queue:
            member, path = queue.popleft()
            for container in self._parents.get(member, ()):
                if container in seen:
                    continue  # cycles and diamonds: the first (shortest) path wins
                seen.add(container)
                kind = "role group" if container in self._role_groups_by_id else "group"
                hop = Hop(member=self.label(member), container=self.label(container), container_kind=kind)
                paths[container] = (*path, hop)
                queue.append((container, paths[container]))
        return paths

    def expand_members(self, identity: str, limit: int = 100_000) -> tuple[list[str], list[str]]:
        """The non-group members reached from a group through nesting, and the nested groups passed through."""
        leaves: list[str] = []
        nested: list[str] = []
        seen = {self.canonical(identity)}
        queue: deque[str] = deque([identity])
        while queue and len(leaves) < limit:
            current = queue.popleft()
            group = self.group(current)
            role_group = self.role_group(current) if group is None else None
            members = group.members if group is not None else role_group.members if role_group is not None else ()
            for member in members:
                if self.canonical(member) in seen:
                    continue
                seen.add(self.canonical(member))
                if self.is_group(member):
                    nested.append(member)
                    queue.append(member)
                else:
                    leaves.append(member)
        return leaves, nested


def describe_path(principal: str, hops: tuple[Hop, ...]) -> str:
    """``svcServiceAccount -> group 'X' -> role group 'Y'``: how a principal reaches a container."""
    if not hops:
        return principal
    parts = [principal] + [f"{hop.container_kind} '{hop.container}'" for hop in hops]
    return " -> ".join(parts)
