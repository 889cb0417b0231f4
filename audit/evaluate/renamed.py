"""A group renamed under a management scope: the scope's MemberOfGroup DN names a group that no longer exists.

Renaming a group changes its CN and so its distinguished name, but a scope's RecipientRestrictionFilter is stored
as text with the DN it was given (New-ManagementScope regenerates the filter once, at creation): after the rename
the filter names a DN no object has, and MemberOfGroup selects no one through it. Link properties such as
MemberOfGroup match only the DN ("The object's name, email address, and GUID are accepted by the filter syntax,
but don't match anything"):
https://learn.microsoft.com/en-us/powershell/exchange/recipientfilter-properties#memberofgroup

When exactly one group's direct members are the policy's group.members, that group is most likely the one the DN
named before the rename, and the fix is the scope's filter (not "a typo" in a name).
"""

from __future__ import annotations

from audit.evaluate.context import Context
from audit.evaluate.directory import key
from audit.evaluate.powershell import ps
from audit.snapshot import Group


def _members_match(ctx: Context, group: Group) -> bool:
    """Whether the group's direct members are the policy's expected members (no one missing, no one else)."""
    expect = ctx.policy.expected_members
    if not expect.required or not group.members:
        return False
    present: set[str] = set()
    for member in group.members:
        recipient = ctx.directory.recipient(member)
        if recipient is None:
            return False
        addresses = ctx.directory.addresses(recipient)
        if not addresses & expect.required and not (expect.at_most is not None and addresses & expect.at_most):
            return False  # a member the policy does not name
        present |= addresses
    return expect.required <= present


def renamed_group(ctx: Context, dn: str) -> Group | None:
    """The one group (not the DN's) whose members match the policy's group.members, or None (none or several)."""
    if ctx.policy.spec.group is None:
        return None
    found = [g for g in ctx.snapshot.groups if key(g.distinguished_name) != key(dn) and _members_match(ctx, g)]
    return found[0] if len(found) == 1 else None


def renamed_problem(dn: str, group: Group) -> str:
    """What EXA021 says about a DN that names no group, when ``group`` is the one it probably named."""
    return (
        f"{dn!r} matches no group: the group was probably renamed to '{group.name}' (its members match the "
        "policy's group.members), and the filter still names the old DN, so it selects no one"
    )


def renamed_fix(ctx: Context, scope_name: str, group: Group) -> str:
    """Point the scope's filter at the renamed group's DN; and the policy at its name when it still says the old one."""
    fix = (
        f"# The group named by the filter was renamed to '{group.name}': point the scope at its current DN\n"
        f"$group = Get-DistributionGroup -Identity {ps(group.name)}\n"
        f"Set-ManagementScope -Identity {ps(scope_name)} "
        "-RecipientRestrictionFilter \"MemberOfGroup -eq '$($group.DistinguishedName)'\""
    )
    spec = ctx.policy.spec.group
    if spec is not None and key(spec.name) not in (key(group.name), key(group.display_name)):
        fix += f"\n# and in the policy: group.name and scope.recipientFilter.memberOfGroup '{group.name}'"
    return fix
