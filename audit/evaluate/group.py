"""Checks about the group whose members are in scope: EXA030-EXA035.

The facts come from Get-Group (members) merged with Get-DistributionGroup (hidden, join and depart restrictions):
https://learn.microsoft.com/en-us/powershell/module/exchangepowershell/set-distributiongroup
"""

from __future__ import annotations

import dataclasses

from audit.evaluate.context import Context, Verdict
from audit.evaluate.directory import key
from audit.evaluate.powershell import ps
from audit.evaluate.scope import listing
from audit.findings import Status
from audit.policy.model import HOSTED_MAILBOX_TYPES
from audit.snapshot import Group

# Mailboxes hosted in this organization have a calendar EWS can impersonate. RemoteUserMailbox (a mailbox in
# Exchange Online seen from on-premises), MailUser and MailContact do not.
SYNCABLE = frozenset(t.casefold() for t in HOSTED_MAILBOX_TYPES)
# A user mailbox whose account is disabled cannot be used; shared, room and equipment mailboxes have disabled
# accounts by design, and a linked mailbox's account lives in another forest.
NEEDS_ENABLED_ACCOUNT = {"usermailbox"}


def _group(ctx: Context) -> tuple[Group | None, Verdict | None]:
    group, problem, ambiguous = ctx.group
    if group is not None:
        return group, None
    assert ctx.policy.spec.group is not None
    name = ctx.policy.spec.group.name
    if ambiguous:
        return None, Verdict(Status.ERROR, f"Cannot tell which group the policy means: {problem}.", actual=problem)
    return None, Verdict(
        Status.FAIL,
        f"The group does not exist: {problem}.",
        expected=f"group '{name}'",
        actual="not found",
        remediation=(
            f"New-DistributionGroup -Name {ps(name)} -Type Security -MemberJoinRestriction Closed "
            "-MemberDepartRestriction Closed\n"
            f"Set-DistributionGroup -Identity {ps(name)} -HiddenFromAddressListsEnabled $true"
        ),
    )


def _line(g: Group) -> str:
    return (
        f"Group Identity={g.identity!r} DistinguishedName={g.distinguished_name!r} "
        f"RecipientTypeDetails={g.recipient_type_details} GroupType={g.group_type!r} "
        f"HiddenFromAddressListsEnabled={g.hidden_from_address_lists_enabled} "
        f"MemberJoinRestriction={g.member_join_restriction} MemberDepartRestriction={g.member_depart_restriction} "
        f"Members={len(g.members)}"
    )


def exa030(ctx: Context) -> Verdict:
    """The group's RecipientTypeDetails and GroupType are what the policy expects."""
    group, blocked = _group(ctx)
    if group is None:
        assert blocked is not None
        return blocked
    assert ctx.policy.spec.group is not None
    want = ctx.policy.spec.group.type
    flags = {key(f) for f in group.group_type.split(",")}
    problems = []
    if key(group.recipient_type_details) != key(want):
        problems.append(f"RecipientTypeDetails is {group.recipient_type_details or '(empty)'}, not {want}")
    # A mail-enabled security group shows GroupType "Universal, SecurityEnabled"; a Global group stops expanding.
    # https://learn.microsoft.com/en-us/powershell/exchange/filter-properties#grouptype
    if want != "MailNonUniversalGroup" and "universal" not in flags:
        problems.append(f"GroupType {group.group_type!r} is not Universal")
    if want == "MailUniversalSecurityGroup" and "securityenabled" not in flags:
        problems.append(f"GroupType {group.group_type!r} is not SecurityEnabled")
    expected = f"RecipientTypeDetails {want}" + (
        ", GroupType 'Universal, SecurityEnabled'" if "Security" in want else ""
    )
    actual = f"RecipientTypeDetails {group.recipient_type_details}, GroupType {group.group_type!r}"
    if not problems:
        return Verdict(
            Status.PASS, f"'{group.name}' is a {want}.", expected=expected, actual=actual, evidence=(_line(group),)
        )
    details = key(group.recipient_type_details)
    if "universal" not in flags:
        fix = f"Set-Group -Identity {ps(group.name)} -Universal"
    elif details == "universalsecuritygroup":
        fix = f"Enable-DistributionGroup -Identity {ps(group.name)}"
    elif details == "mailuniversaldistributiongroup":
        fix = (
            f"# Exchange cannot change a distribution group into a security group; in Active Directory:\n"
            f"Set-ADGroup -Identity {ps(group.name)} -GroupCategory Security   # ActiveDirectory module"
        )
    else:
        fix = f"# Recreate {ps(group.name)} with New-DistributionGroup -Type Security and move its members"
    return Verdict(
        Status.FAIL,
        f"'{group.name}': " + "; ".join(problems) + ".",
        expected=expected,
        actual=actual,
        evidence=(_line(group),),
        remediation=fix,
    )


def exa031(ctx: Context) -> Verdict:
    """HiddenFromAddressListsEnabled is what the policy expects."""
    group, blocked = _group(ctx)
    if group is None:
        assert blocked is not None
        return blocked
    assert ctx.policy.spec.group is not None
    want = ctx.policy.spec.group.hidden_from_address_lists
    have = group.hidden_from_address_lists_enabled
    expected = f"HiddenFromAddressListsEnabled {want}"
    if have is None:
        return Verdict(
            Status.ERROR,
            f"HiddenFromAddressListsEnabled of '{group.name}' was not read (not mail-enabled, "
            "or Get-DistributionGroup did not return it).",
            expected=expected,
            actual="not read",
            evidence=(_line(group),),
        )
    if have == want:
        return Verdict(
            Status.PASS,
            f"'{group.name}' has HiddenFromAddressListsEnabled {have}.",
            expected=expected,
            actual=f"HiddenFromAddressListsEnabled {have}",
            evidence=(_line(group),),
        )
    shown = "visible in the address lists (GAL)" if want else "hidden from the address lists"
    return Verdict(
        Status.FAIL,
        f"'{group.name}' is {shown}.",
        expected=expected,
        actual=f"HiddenFromAddressListsEnabled {have}",
        evidence=(_line(group),),
        remediation=f"Set-DistributionGroup -Identity {ps(group.name)} -HiddenFromAddressListsEnabled "
        f"${str(want).lower()}",
    )


def exa032(ctx: Context) -> Verdict:
    """MemberJoinRestriction and MemberDepartRestriction are both Closed."""
    group, blocked = _group(ctx)
    if group is None:
        assert blocked is not None
        return blocked
    assert ctx.policy.spec.group is not None
    if not ctx.policy.spec.group.membership_closed:
        return Verdict(Status.SKIP, "The policy does not require closed membership (membershipClosed: false).")
    join, depart = group.member_join_restriction, group.member_depart_restriction
    expected = "MemberJoinRestriction Closed, MemberDepartRestriction Closed"
    actual = f"MemberJoinRestriction {join}, MemberDepartRestriction {depart}"
    if join is None or depart is None:
        return Verdict(
            Status.ERROR,
            f"The join/depart restrictions of '{group.name}' were not read.",
            expected=expected,
            actual=actual,
            evidence=(_line(group),),
        )
    open_parts = [p for p, v in (("join", join), ("depart", depart)) if key(v) != "closed"]
    if not open_parts:
        return Verdict(
            Status.PASS,
            f"Membership of '{group.name}' is closed.",
            expected=expected,
            actual=actual,
            evidence=(_line(group),),
        )
    what = {"join": f"anyone can join ({join})", "depart": f"members can leave ({depart})"}
    return Verdict(
        Status.FAIL,
        f"Membership of '{group.name}' is not closed: " + "; ".join(what[p] for p in open_parts) + ".",
        expected=expected,
        actual=actual,
        evidence=(_line(group),),
        remediation=f"Set-DistributionGroup -Identity {ps(group.name)} -MemberJoinRestriction Closed "
        "-MemberDepartRestriction Closed",
    )


def _member_label(ctx: Context, identity: str) -> str:
    recipient = ctx.directory.recipient(identity)
    if recipient is not None:
        return f"{recipient.display_name or recipient.name} <{recipient.primary_smtp_address}>"
    return ctx.directory.label(identity)


def _source(source: str) -> str:
    return "the policy's list" if source == "policy" else f"the members file {source}"


def exa033(ctx: Context) -> Verdict:
    """The group's direct members match group.members (missing and unexpected listed by name and address)."""
    group, blocked = _group(ctx)
    if group is None:
        assert blocked is not None
        if blocked.status is not Status.FAIL:
            return blocked
        assert ctx.policy.spec.group is not None
        name = ctx.policy.spec.group.name
        adds = [
            f"Add-DistributionGroupMember -Identity {ps(name)} -Member {ps(m)} -BypassSecurityGroupManagerCheck"
            for m in sorted(ctx.policy.expected_members.required)
        ]
        return dataclasses.replace(blocked, remediation="\n".join([blocked.remediation, *adds]))
    expect = ctx.policy.expected_members
    allowed = expect.exactly if expect.exactly is not None else expect.at_most
    present: set[str] = set()
    unexpected: list[tuple[str, str]] = []  # (label, identity to remove)
    for member in group.members:
        recipient = ctx.directory.recipient(member)
        addresses = ctx.directory.addresses(recipient) if recipient is not None else frozenset()
        present |= addresses
        if allowed is not None and not (addresses & allowed):
            target = recipient.primary_smtp_address if recipient is not None else member
            unexpected.append((_member_label(ctx, member), target))
    missing = sorted(expect.required - present)
    expected = (
        f"exactly {len(expect.exactly)} member(s)"
        if expect.exactly is not None
        else f"at least {sorted(expect.at_least)}" + (f", at most {len(expect.at_most)}" if expect.at_most else "")
    )
    actual = f"{len(group.members)} direct member(s)"
    evidence = (_line(group), *(f"member {_member_label(ctx, m)} ({m})" for m in group.members[:50]))
    if not missing and not unexpected:
        return Verdict(
            Status.PASS,
            f"The {len(group.members)} member(s) of '{group.name}' match {_source(expect.source)}.",
            expected=expected,
            actual=actual,
            evidence=evidence,
        )
    parts = []
    fixes = []
    if unexpected:
        parts.append(f"unexpected: {listing([u for u, _ in unexpected])}")
        fixes += [
            f"Remove-DistributionGroupMember -Identity {ps(group.name)} -Member {ps(t)} "
            "-BypassSecurityGroupManagerCheck -Confirm:$false"
            for _, t in unexpected
        ]
    if missing:
        parts.append(f"missing: {listing(missing)}")
        fixes += [
            f"Add-DistributionGroupMember -Identity {ps(group.name)} -Member {ps(m)} -BypassSecurityGroupManagerCheck"
            for m in missing
        ]
    return Verdict(
        Status.FAIL,
        f"Members of '{group.name}' differ from {_source(expect.source)}: " + "; ".join(parts) + ".",
        expected=expected,
        actual=actual + "; " + "; ".join(parts),
        evidence=evidence,
        remediation="\n".join(fixes),
    )


def exa034(ctx: Context) -> Verdict:
    """No member of the group is itself a group (MemberOfGroup would not reach its members)."""
    group, blocked = _group(ctx)
    if group is None:
        assert blocked is not None
        return blocked
    nested = [m for m in group.members if ctx.directory.is_group(m)]
    if not nested:
        return Verdict(
            Status.PASS,
            f"'{group.name}' has no nested groups.",
            expected="no nested groups",
            actual="none",
            evidence=(_line(group),),
        )
    evidence = [_line(group)]
    fixes = []
    stranded: list[str] = []
    for n in nested:
        leaves, deeper = ctx.directory.expand_members(n)
        labels = [_member_label(ctx, leaf) for leaf in leaves]
        stranded += labels
        evidence.append(
            f"nested {ctx.directory.label(n)!r} ({n}): {len(leaves)} member(s) out of scope: "
            f"{listing(labels)}" + (f"; nested deeper: {len(deeper)}" if deeper else "")
        )
        for leaf in leaves:
            recipient = ctx.directory.recipient(leaf)
            address = recipient.primary_smtp_address if recipient is not None else ""
            if address and ctx.policy.expected_members.allows(address):
                fixes.append(
                    f"Add-DistributionGroupMember -Identity {ps(group.name)} -Member {ps(address)} "
                    "-BypassSecurityGroupManagerCheck"
                )
        fixes.append(
            f"Remove-DistributionGroupMember -Identity {ps(group.name)} -Member {ps(ctx.directory.label(n))} "
            "-BypassSecurityGroupManagerCheck -Confirm:$false"
        )
    names = ", ".join(repr(ctx.directory.label(n)) for n in nested)
    return Verdict(
        Status.FAIL,
        f"'{group.name}' contains nested group(s) {names}; MemberOfGroup is not recursive, so their "
        f"{len(stranded)} member(s) are silently out of scope: {listing(stranded)}.",
        expected="no nested groups",
        actual=f"nested: {names}",
        evidence=tuple(evidence),
        remediation="# Flatten: add the nested members the policy expects directly, then remove the nested group.\n"
        + "\n".join(dict.fromkeys(fixes)),
    )


def _type_of(ctx: Context, member: str) -> str:
    """The member's RecipientTypeDetails as Exchange shows it (Get-Mailbox first, else Get-Recipient), or ""."""
    mailboxes = ctx.directory.mailboxes(member)
    if mailboxes:
        return mailboxes[0].recipient_type_details
    recipient = ctx.directory.recipient(member)
    return recipient.recipient_type_details if recipient is not None else ""


def exa035(ctx: Context) -> Verdict:
    """Every direct member (groups aside) is a mailbox hosted here that can be impersonated, of an allowed type."""
    group, blocked = _group(ctx)
    if group is None:
        assert blocked is not None
        return blocked
    assert ctx.policy.spec.group is not None
    kinds = ctx.policy.spec.group.member_types
    allowed = {k.casefold() for k in kinds} if kinds is not None else None
    problems: list[tuple[str, str]] = []  # (description, identity)
    misplaced: set[str] = set()  # mailboxes that can be synced but are not of a type the policy allows
    checked = 0
    for member in group.members:
        if ctx.directory.is_group(member):
            continue  # nested groups are EXA034's finding
        checked += 1
        recipient = ctx.directory.recipient(member)
        mailboxes = ctx.directory.mailboxes(member)
        label = _member_label(ctx, member)
        if recipient is None and not mailboxes:
            what = "a user without a mailbox" if ctx.directory.users(member) else "not a recipient"
            problems.append((f"{label} is {what}", member))
            continue
        shown = _type_of(ctx, member)
        details = key(shown)
        if details not in SYNCABLE:
            problems.append((f"{label} is a {shown}, not a mailbox in this organization", member))
        elif allowed is not None and details not in allowed:
            # A shared, room or equipment mailbox can be impersonated, but it is not field staff: the policy
            # names the recipient types that belong in the scope (group.memberTypes).
            problems.append((f"{label} is a {shown}, not {_types(kinds)} (group.memberTypes)", member))
            misplaced.add(member)
        elif not mailboxes:
            problems.append((f"{label} has no Get-Mailbox record", member))
        elif details in NEEDS_ENABLED_ACCOUNT and mailboxes[0].account_disabled:
            problems.append((f"{label} is a UserMailbox whose account is disabled", member))
    expected = (
        f"every member a {_types(kinds)} hosted here, account enabled"
        if kinds is not None
        else "every member a mailbox hosted here, account enabled"
    )
    if not problems:
        return Verdict(
            Status.PASS,
            f"All {checked} member(s) of '{group.name}' are mailboxes that can be synced"
            + (f" ({_types(kinds)})." if kinds is not None else "."),
            expected=expected,
            actual=f"{checked} syncable mailbox(es)",
            evidence=(_line(group),),
        )
    if not misplaced:
        what = "cannot be synced"
    elif len(misplaced) == len(problems):
        what = "are not of the types the policy allows"
    else:
        what = "cannot be synced or are not of the types the policy allows"
    return Verdict(
        Status.FAIL,
        f"{len(problems)} member(s) of '{group.name}' {what}: " + "; ".join(p for p, _ in problems) + ".",
        expected=expected,
        actual="; ".join(p for p, _ in problems),
        evidence=(_line(group),),
        remediation="\n".join(_exa035_fix(ctx, group, i, misplaced, kinds) for _, i in problems),
    )


def _exa035_fix(ctx: Context, group: Group, member: str, misplaced: set[str], kinds: tuple[str, ...] | None) -> str:
    remove = (
        f"Remove-DistributionGroupMember -Identity {ps(group.name)} -Member {ps(member)} "
        "-BypassSecurityGroupManagerCheck -Confirm:$false   "
    )
    if member not in misplaced:
        return remove + "# or give it a mailbox"
    recipient = ctx.directory.recipient(member)
    if recipient is None or not ctx.policy.expected_members.required & ctx.directory.addresses(recipient):
        return remove + f"# not a {_types(kinds)} (group.memberTypes)"
    # The policy names this mailbox as a member, so removing it would only trade EXA035 for EXA033: either it is
    # no longer field staff (take it out of group.members and the group) or its type changed by mistake, and
    # Set-Mailbox -Type converts it back (Regular, Room, Equipment, Shared):
    # https://learn.microsoft.com/en-us/powershell/module/exchangepowershell/set-mailbox#-type
    advice = (
        f"# {recipient.primary_smtp_address} is in the policy's group.members but not a {_types(kinds)}: convert it "
        "back, or take it out of group.members and the group"
    )
    target = next((_SET_MAILBOX_TYPE[k] for k in kinds or () if k in _SET_MAILBOX_TYPE), None)
    if target is None:
        return advice
    return advice + f"\nSet-Mailbox -Identity {ps(recipient.primary_smtp_address)} -Type {target}"


_SET_MAILBOX_TYPE = {"UserMailbox": "Regular", "SharedMailbox": "Shared", "RoomMailbox": "Room",
                     "EquipmentMailbox": "Equipment"}  # fmt: skip


def _types(kinds: tuple[str, ...] | None) -> str:
    """``UserMailbox`` or ``UserMailbox or SharedMailbox``: the allowed member types, as the policy lists them."""
    return " or ".join(kinds or ())
