"""Checks about the management scope and what it selects: EXA020, EXA021, EXA040.

Exchange stores a regenerated form of a scope's filter (New-ManagementScope parses -RecipientRestrictionFilter and
stores the infix string it generates), so filters are compared by meaning through :mod:`audit.opath`, never as
text. MemberOfGroup takes a DN and matches direct members only:
https://learn.microsoft.com/en-us/powershell/exchange/recipientfilter-properties#memberofgroup
"""

from __future__ import annotations

import difflib
from collections.abc import Callable

from audit.errors import FilterError
from audit.evaluate.context import Context, Verdict, assignment_line, grants_access
from audit.evaluate.directory import MAILBOX_RECIPIENT_TYPE, key
from audit.evaluate.powershell import ps
from audit.evaluate.reach import (
    ExclusiveScope,
    Selector,
    below,
    exclusive_remedy,
    exclusive_scopes,
    reach,
    same_ou,
    taken_note,
    within,
)
from audit.evaluate.renamed import renamed_fix, renamed_group, renamed_problem
from audit.findings import Severity, Status
from audit.opath import compile_filter, equivalent, member_of_group, parse, to_text
from audit.opath.nodes import And, Comparison, Filter, Not, Or
from audit.policy.model import Scope as ScopeSpec
from audit.snapshot import AdministrativeUnit, ManagementScope, Recipient

RECIPIENT_SCOPE = "recipientscope"
MEMBER_OF_GROUP = "memberofgroup"
LISTED = 25  # names listed in a message before "and N more"


def listing(items: list[str]) -> str:
    """A readable, bounded list of names."""
    shown = ", ".join(items[:LISTED])
    return shown + (f" and {len(items) - LISTED} more" if len(items) > LISTED else "")


def _spec(ctx: Context) -> ScopeSpec:
    """The policy's scope section; EXA020/EXA021 are SKIP (engine) for an administrative-unit policy without one."""
    spec = ctx.policy.spec.scope
    assert spec is not None
    return spec


def find_unit(ctx: Context, unit_id: str) -> AdministrativeUnit | None:
    """The administrative unit with this id, as read from Entra (None: not read)."""
    return next((u for u in ctx.snapshot.administrative_units if key(u.id) == key(unit_id)), None)


def find_scope(ctx: Context, name: str) -> list[ManagementScope]:
    """Scopes whose Name or Identity is ``name``."""
    return [s for s in ctx.snapshot.scopes if key(name) in (key(s.name), key(s.identity))]


def group_dns(f: Filter) -> list[str]:
    """The DNs a filter compares MemberOfGroup with, in the order written."""
    if isinstance(f, Comparison):
        return [str(f.value)] if key(f.property) == MEMBER_OF_GROUP else []
    if isinstance(f, Not):
        return group_dns(f.operand)
    assert isinstance(f, And | Or)
    return [dn for operand in f.operands for dn in group_dns(operand)]


def _expected_filter(ctx: Context) -> tuple[Filter | None, str, Status, str]:
    """The filter the policy means, as Exchange would store it: (filter, text for humans, status if None, why)."""
    spec = _spec(ctx).recipient_filter
    if spec.opath is not None:
        return parse(spec.opath), spec.opath, Status.PASS, ""
    assert spec.member_of_group is not None
    found = ctx.directory.groups_named(spec.member_of_group)
    if len(found) > 1:
        exact = [g for g in found if key(g.name) == key(spec.member_of_group)]
        found = exact if len(exact) == 1 else found
    if not found:
        return (
            None,
            f"MemberOfGroup -eq '<DN of {spec.member_of_group}>'",
            Status.FAIL,
            (f"the group '{spec.member_of_group}' the filter should name does not exist"),
        )
    if len(found) > 1:
        dns = ", ".join(repr(g.distinguished_name) for g in found)
        return (
            None,
            f"MemberOfGroup -eq '<DN of {spec.member_of_group}>'",
            Status.ERROR,
            (f"{len(found)} groups are named '{spec.member_of_group}' ({dns}); cannot tell which DN is meant"),
        )
    # The DN is resolved now, at audit time: it differs per forest and changes in Exchange Online.
    f = member_of_group(found[0].distinguished_name)
    return f, to_text(f), Status.PASS, ""


def _set_filter(ctx: Context, scope_name: str) -> str:
    spec = _spec(ctx).recipient_filter
    if spec.member_of_group is not None:
        return (
            f"$group = Get-DistributionGroup -Identity {ps(spec.member_of_group)}\n"
            f"Set-ManagementScope -Identity {ps(scope_name)} "
            "-RecipientRestrictionFilter \"MemberOfGroup -eq '$($group.DistinguishedName)'\""
        )
    assert spec.opath is not None
    return f"Set-ManagementScope -Identity {ps(scope_name)} -RecipientRestrictionFilter {ps(spec.opath)}"


def _new_scope(ctx: Context) -> str:
    spec = _spec(ctx).recipient_filter
    name = _spec(ctx).name
    wanted_root = _spec(ctx).recipient_root
    root = f" -RecipientRoot {ps(wanted_root)}" if wanted_root else ""
    if spec.member_of_group is not None:
        return (
            f"$group = Get-DistributionGroup -Identity {ps(spec.member_of_group)}\n"
            f"New-ManagementScope -Name {ps(name)} "
            "-RecipientRestrictionFilter \"MemberOfGroup -eq '$($group.DistinguishedName)'\"" + root
        )
    return f"New-ManagementScope -Name {ps(name)} -RecipientRestrictionFilter {ps(spec.opath or '')}" + root


def _scope_line(s: ManagementScope) -> str:
    return (
        f"ManagementScope Name={s.name!r} ScopeRestrictionType={s.scope_restriction_type} Exclusive={s.exclusive} "
        f"RecipientRoot={s.recipient_root or ''!r} RecipientFilter={s.recipient_filter or ''!r}"
    )


def exa020(ctx: Context) -> Verdict:
    """The scope exists, is a recipient scope, and its stored filter means the expected filter."""
    name = _spec(ctx).name
    scopes = find_scope(ctx, name)
    expected, expected_text, status_if_none, why = _expected_filter(ctx)
    exp = f"RecipientScope '{name}' with filter {expected_text}"
    if _spec(ctx).recipient_root:
        exp += f" under RecipientRoot {_spec(ctx).recipient_root}"
    if not scopes:
        return Verdict(
            Status.FAIL,
            f"The management scope '{name}' does not exist.",
            expected=exp,
            actual="no scope",
            remediation=_new_scope(ctx),
        )
    if len(scopes) > 1:
        return Verdict(
            Status.ERROR,
            f"{len(scopes)} scopes answer to '{name}'; cannot tell which one is meant.",
            evidence=tuple(_scope_line(s) for s in scopes),
        )
    scope = scopes[0]
    evidence = (_scope_line(scope),)
    if key(scope.scope_restriction_type) != RECIPIENT_SCOPE:
        return Verdict(
            Status.FAIL,
            f"'{name}' is a {scope.scope_restriction_type}, not a recipient scope.",
            expected=exp,
            actual=f"ScopeRestrictionType {scope.scope_restriction_type}",
            evidence=evidence,
            remediation=f"# Recreate {ps(name)} as a recipient scope:\n{_set_filter(ctx, scope.name)}",
        )
    if not (scope.recipient_filter or "").strip():
        return Verdict(
            Status.FAIL,
            f"'{name}' has no recipient filter: it does not restrict anything by recipient.",
            expected=exp,
            actual="RecipientFilter empty",
            evidence=evidence,
            remediation=_set_filter(ctx, scope.name),
        )
    try:
        stored = parse(scope.recipient_filter or "")
    except FilterError as exc:
        return Verdict(
            Status.ERROR,
            f"Cannot read the stored filter of '{name}': {exc}.",
            expected=exp,
            actual=scope.recipient_filter or "",
            evidence=evidence,
        )
    if expected is None:
        return Verdict(
            status_if_none,
            f"Cannot build the expected filter: {why}; the stored filter is {scope.recipient_filter!r}.",
            expected=exp,
            actual=scope.recipient_filter or "",
            evidence=evidence,
            remediation=_set_filter(ctx, scope.name) if status_if_none is Status.FAIL else "",
        )
    root_problem, root_note = _root_state(ctx, scope)
    root_text = f" under RecipientRoot {scope.recipient_root}" if scope.recipient_root else ""
    root_fix = f"Set-ManagementScope -Identity {ps(scope.name)} -RecipientRoot {ps(_spec(ctx).recipient_root or '')}"
    if equivalent(stored, expected):
        if root_problem:
            return Verdict(
                Status.FAIL,
                f"The filter of '{name}' means {expected_text}, but {root_problem}.",
                expected=exp,
                actual=f"{scope.recipient_filter} under RecipientRoot {scope.recipient_root or '(none)'}",
                evidence=evidence,
                remediation=root_fix,
            )
        return Verdict(
            Status.PASS,
            f"The filter of '{name}' means {expected_text}{root_note}.",
            expected=exp,
            actual=(scope.recipient_filter or "") + root_text,
            evidence=evidence,
        )
    return Verdict(
        Status.FAIL,
        f"The filter of '{name}' is {scope.recipient_filter!r}, which does not mean {expected_text}"
        + (f"; and {root_problem}." if root_problem else f"{root_note}."),
        expected=exp,
        actual=to_text(stored) + root_text,
        evidence=evidence,
        remediation=_set_filter(ctx, scope.name) + (f"\n{root_fix}" if root_problem else ""),
    )


def _root_state(ctx: Context, scope: ManagementScope) -> tuple[str, str]:
    """(what is wrong with the scope's RecipientRoot or "", a note on a root the policy does not name or "").

    Exchange shows RecipientRoot as a canonical name and accepts a DN or a canonical name when it is set
    (New-ManagementScope -RecipientRoot); either form on either side compares by the OU it names.
    """
    wanted = _spec(ctx).recipient_root
    actual = scope.recipient_root
    if wanted:
        if not actual:
            return f"it has no RecipientRoot where the policy expects {wanted!r}", ""
        if not same_ou(wanted, actual):
            return f"its RecipientRoot is {actual!r}, not {wanted!r}", ""
        return "", f" under RecipientRoot {actual}"
    if actual:
        return "", f", applied only under RecipientRoot {actual} (the policy names no root; EXA040 judges the result)"
    return "", ""


def exa021(ctx: Context) -> Verdict:
    """Every group DN the stored filter names resolves to a group, and to the expected one."""
    name = _spec(ctx).name
    scopes = find_scope(ctx, name)
    wanted = _spec(ctx).recipient_filter.member_of_group
    if len(scopes) != 1 or not (scopes[0].recipient_filter or "").strip():
        if wanted is None:
            return Verdict(Status.SKIP, "The policy's filter names no group and there is no stored filter to read.")
        state = "does not exist" if not scopes else "is ambiguous" if len(scopes) > 1 else "has no filter"
        return Verdict(
            Status.FAIL if len(scopes) < 2 else Status.ERROR,
            f"The scope '{name}' {state}, so no filter names '{wanted}' (see EXA020).",
            expected=f"MemberOfGroup names '{wanted}'",
            actual=f"scope {state}",
            remediation=f"# Create the scope first (EXA020):\n{_new_scope(ctx)}" if len(scopes) < 2 else "",
        )
    scope = scopes[0]
    evidence = [_scope_line(scope)]
    try:
        dns = group_dns(parse(scope.recipient_filter or ""))
    except FilterError as exc:
        return Verdict(Status.ERROR, f"Cannot read the stored filter of '{name}': {exc}.", evidence=tuple(evidence))
    if not dns:
        if wanted is None:
            return Verdict(
                Status.SKIP, "Neither the policy nor the stored filter uses MemberOfGroup.", evidence=tuple(evidence)
            )
        return Verdict(
            Status.FAIL,
            f"The filter of '{name}' names no group, but the policy expects '{wanted}'.",
            expected=f"MemberOfGroup names '{wanted}'",
            actual=scope.recipient_filter or "",
            evidence=tuple(evidence),
            remediation=_set_filter(ctx, scope.name),
        )
    problems: list[str] = []
    resolved: list[str] = []
    renames: list[str] = []  # the fix for a group renamed under the scope (audit.evaluate.renamed)
    all_names = sorted({g.name for g in ctx.snapshot.groups})
    for dn in dns:
        group = ctx.directory.group_by_dn(dn)
        if group is None:
            cn = dn.split(",", 1)[0].partition("=")[2]
            near = difflib.get_close_matches(cn, all_names, n=1, cutoff=0.8)
            renamed = None if near else renamed_group(ctx, dn)  # a near name is a typo; a far one, a rename
            if renamed is not None:
                problems.append(renamed_problem(dn, renamed))
                renames.append(renamed_fix(ctx, scope.name, renamed))
                continue
            hint = f" (a typo of '{near[0]}'?)" if near else ""
            problems.append(f"{dn!r} matches no group{hint}: the filter selects no one through it")
            continue
        evidence.append(f"Group Identity={group.identity!r} DistinguishedName={group.distinguished_name!r}")
        resolved.append(group.name)
        if wanted is not None and key(wanted) not in (key(group.name), key(group.display_name)):
            problems.append(f"{dn!r} is the group '{group.name}', not '{wanted}'")
    expected = f"MemberOfGroup names '{wanted}'" if wanted else "every MemberOfGroup DN names an existing group"
    if problems:
        return Verdict(
            Status.FAIL,
            f"The filter of '{name}': " + "; ".join(problems) + ".",
            expected=expected,
            actual="; ".join(problems),
            evidence=tuple(evidence),
            remediation="\n".join(renames) or (_set_filter(ctx, scope.name) if wanted else ""),
        )
    return Verdict(
        Status.PASS,
        f"The filter of '{name}' names the group(s) {', '.join(map(repr, resolved))}.",
        expected=expected,
        actual=", ".join(resolved),
        evidence=tuple(evidence),
    )


def _everyone(recipient: Recipient) -> bool:
    return True


def _in_unit(ctx: Context, members: frozenset[str]) -> Callable[[Recipient], bool]:
    """Whether a recipient is a member of an administrative unit (members listed by UPN or SMTP address)."""

    def test(recipient: Recipient) -> bool:
        return bool((ctx.directory.addresses(recipient) | {key(recipient.identity)}) & members)

    return test


def expected_mailboxes(ctx: Context) -> tuple[frozenset[str], frozenset[str] | None, str] | None:
    """(required addresses, allowed addresses or None for no ceiling, source) or None when the policy names none."""
    if ctx.policy.spec.group is not None:
        m = ctx.policy.expected_members
        allowed = m.exactly if m.exactly is not None else m.at_most
        return m.required, allowed, f"group.members ({m.source})"
    probes = ctx.policy.spec.probes
    if probes is not None and not isinstance(probes.allow, str):
        listed = frozenset(key(a) for a in probes.allow)
        return listed, listed, "probes.allow"
    return None


def _selectors(ctx: Context) -> tuple[list[Selector], list[str], Verdict | None]:
    """What the principal's effective ApplicationImpersonation reaches, as recipient tests (union of all paths)."""
    evidence: list[str] = []
    if ctx.principal.ambiguous:
        # Whose assignments to follow is unknown; judging the scope the policy names would be a guess.
        return [], evidence, Verdict(Status.ERROR, f"Cannot tell whose access to evaluate: {ctx.principal.problem}.")
    granting = [r for r in ctx.reaching if key(r.assignment.role) == key(ctx.role) and grants_access(r.assignment)]
    scope_names: list[tuple[str, bool]] = []  # (scope name, used as an exclusive scope)
    selectors: list[Selector] = []
    unit_ids: list[str] = []
    if not granting:
        # Nothing grants the role now: judge the scope the policy names, which is what the grant will use.
        if ctx.policy.spec.grant.administrative_unit is not None:
            unit_ids = [ctx.policy.spec.grant.administrative_unit.id]
        else:
            scope_names = [(_spec(ctx).name, False)]
        evidence.append(
            f"no enabled Regular {ctx.role} assignment reaches the principal; judging scope "
            f"'{ctx.scope_name}' as named by the policy"
        )
    for r in granting:
        a = r.assignment
        evidence.append(f"{assignment_line(a)} via {r.path}")
        wscope = key(a.recipient_write_scope)
        if a.recipient_administrative_unit_scope:
            # RBAC for Applications: -RecipientAdministrativeUnitScope, membership read from Entra (Graph).
            unit_ids.append(a.recipient_administrative_unit_scope)
        elif a.custom_resource_scope or wscope in ("customrecipientscope", "exclusiverecipientscope"):
            exclusive = not a.custom_resource_scope and wscope == "exclusiverecipientscope"
            scope_names.append((a.custom_resource_scope or a.custom_recipient_write_scope or "", exclusive))
        elif wscope == "organization":
            selectors.append(Selector(f"{a.identity!r} (unscoped: every mailbox)", _everyone))
        elif wscope == "ou" and a.recipient_ou_scope:
            # -RecipientOrganizationalUnitScope: every recipient below the OU (reach.below takes either form).
            selectors.append(Selector(f"{a.identity!r} (OU {a.recipient_ou_scope})", below(a.recipient_ou_scope)))
        else:
            return (
                [],
                evidence,
                Verdict(
                    Status.ERROR,
                    f"Cannot evaluate {a.identity!r}: RecipientWriteScope {a.recipient_write_scope} is not a scope "
                    "exaudit can compute.",
                    evidence=tuple(evidence),
                ),
            )
    for unit_id in dict.fromkeys(unit_ids):
        unit = find_unit(ctx, unit_id)
        if unit is None:
            return (
                [],
                evidence,
                Verdict(
                    Status.ERROR,
                    f"The members of administrative unit {unit_id} were not read; its reach is unknown (see EXA073).",
                    evidence=tuple(evidence),
                ),
            )
        members = frozenset(key(m) for m in unit.members)
        # Members come from Entra by UPN; a recipient is in the unit when any of its addresses is listed.
        evidence.append(f"AdministrativeUnit Id={unit.id} DisplayName={unit.display_name!r} Members={len(members)}")
        selectors.append(Selector(f"administrative unit '{unit.display_name or unit.id}'", _in_unit(ctx, members)))
    for name, used_exclusively in dict.fromkeys(scope_names):
        scopes = find_scope(ctx, name)
        if len(scopes) != 1:
            state = "does not exist" if not scopes else "is ambiguous"
            status = Status.FAIL if not scopes else Status.ERROR
            return (
                [],
                evidence,
                Verdict(
                    status, f"The scope '{name}' {state}; nothing to evaluate (see EXA020).", evidence=tuple(evidence)
                ),
            )
        scope = scopes[0]
        evidence.append(_scope_line(scope))
        if not (scope.recipient_filter or "").strip():
            return (
                [],
                evidence,
                Verdict(
                    Status.FAIL, f"The scope '{name}' has no recipient filter (see EXA020).", evidence=tuple(evidence)
                ),
            )
        try:
            predicate = compile_filter(parse(scope.recipient_filter or ""))
        except FilterError as exc:
            # An unknown property is never a silent "matches nobody": the scope's reach is unknown.
            return (
                [],
                evidence,
                Verdict(Status.ERROR, f"Cannot evaluate the filter of '{name}': {exc}.", evidence=tuple(evidence)),
            )
        label = f"scope '{name}'" + (f" under {scope.recipient_root}" if scope.recipient_root else "")
        exclusive_key = key(scope.name) if used_exclusively else None
        selectors.append(
            Selector(label, within(scope.recipient_root, predicate), exclusive_key, scope.recipient_root, predicate)
        )
    return selectors, evidence, None


def _root_note(ctx: Context, selectors: list[Selector], address: str) -> str:
    """A note for a mailbox a scope's filter selects but its RecipientRoot does not contain ("" otherwise)."""
    recipient = ctx.directory.recipient_by_address(address)
    if recipient is None:
        return ""
    for s in selectors:
        if s.root and s.unrooted is not None and s.unrooted(recipient) and not s.test(recipient):
            return f" (outside RecipientRoot {s.root})"
    return ""


def out_of_reach(ctx: Context, addresses: list[str]) -> dict[str, str]:
    """Why EXA040's effective scope leaves each of these mailboxes out, in EXA040's words, where it knows one.

    The reasons are the notes EXA040 gives its missing mailboxes: the exclusive scopes that take a mailbox away
    ("taken away by exclusive scope 'VIP Mailboxes'") or the RecipientRoot that does not contain it ("outside
    RecipientRoot contoso.com/Field Sales"). A mailbox without such a reason, or any scope that cannot be evaluated,
    gives no entry: the caller keeps its own wording rather than a guess. Only these recipients are evaluated (each
    recipient's reach is decided on its own, reach.reach), so a refused probe costs no pass over the organisation.
    """
    recipients: dict[str, Recipient] = {}
    for address in addresses:
        recipient = ctx.directory.recipient_by_address(address)
        if recipient is not None and recipient.recipient_type.casefold() == MAILBOX_RECIPIENT_TYPE:
            recipients[address] = recipient
    if not recipients:
        return {}
    selectors, _, blocked = _selectors(ctx)
    if blocked is not None:
        return {}
    try:
        # Exclusive scopes do not restrict apps (exo-2026.md, APPRBAC), as in exa040.
        exclusive = [] if ctx.is_app else exclusive_scopes(ctx.snapshot.scopes)
        matched, taken = reach(selectors, exclusive, list(recipients.values()))
    except FilterError:
        return {}
    reached = {id(r) for r in matched}
    taken_by = {id(r): names for r, names in taken}
    out: dict[str, str] = {}
    for address, recipient in recipients.items():
        if id(recipient) in reached:
            continue  # EXA040 finds it in scope: it knows no reason for a refusal
        note = taken_note(taken_by.get(id(recipient))) or _root_note(ctx, selectors, address)
        if note:
            out[address] = note.strip().removeprefix("(").removesuffix(")")
    return out


def exa040(ctx: Context) -> Verdict:
    """The filter(s) actually on the principal's assignments, evaluated over every mailbox, select the expected set."""
    want = expected_mailboxes(ctx)
    if want is None:
        return Verdict(Status.SKIP, "The policy names no expected mailbox set (no group, no probes.allow list).")
    required, allowed, source = want
    selectors, evidence, blocked = _selectors(ctx)
    if blocked is not None:
        return blocked
    mailboxes = [r for r in ctx.snapshot.recipients if r.recipient_type.casefold() == MAILBOX_RECIPIENT_TYPE]
    exclusive: list[ExclusiveScope] = []
    if not ctx.is_app:  # "Exclusive management scopes don't restrict app access" (exo-2026.md, APPRBAC)
        try:
            exclusive = exclusive_scopes(ctx.snapshot.scopes)
        except FilterError as exc:
            # Whom an exclusive scope takes away is unknown: never a PASS on a guess.
            return Verdict(
                Status.ERROR,
                f"Cannot evaluate {exc}; which mailboxes it takes away from the principal is unknown.",
                evidence=tuple(evidence),
            )
        evidence.extend(f"exclusive {_scope_line(s)}" for s in ctx.snapshot.scopes if s.exclusive)
    try:
        matched, taken = reach(selectors, exclusive, mailboxes)
    except FilterError as exc:
        return Verdict(Status.ERROR, f"Cannot evaluate the scope over the recipients: {exc}.", evidence=tuple(evidence))
    taken_by: dict[str, tuple[str, ...]] = {}
    for recipient, names in taken:
        for address in ctx.directory.addresses(recipient) & required:
            taken_by[address] = names
    covered: set[str] = set()
    extra: list[str] = []
    for recipient in matched:
        addresses = ctx.directory.addresses(recipient)
        covered |= addresses & required
        if allowed is not None and not (addresses & allowed):
            extra.append(recipient.primary_smtp_address or recipient.identity)
    missing = sorted(required - covered)
    notes = {m: taken_note(taken_by.get(m)) or _root_note(ctx, selectors, m) for m in missing[:LISTED]}
    exp = f"{len(required)} mailbox(es) from {source}" + ("" if allowed is not None else " at least")
    act = f"{len(matched)} of {len(mailboxes)} mailboxes selected by " + "; ".join(s.label for s in selectors)
    if not missing and not extra:
        return ctx.undecided(
            lambda role: role == key(ctx.role),
            Verdict(
                Status.PASS,
                f"The effective scope selects exactly the expected {len(matched)} mailbox(es).",
                expected=exp,
                actual=act,
                evidence=tuple(evidence),
            ),
        )
    parts = []
    if extra:
        parts.append(f"{len(extra)} mailbox(es) in scope that the policy does not allow: {listing(sorted(extra))}")
    if missing:
        shown = [m + notes.get(m, "") for m in missing]
        parts.append(f"{len(missing)} expected mailbox(es) out of scope: {listing(shown)}")
    severity = Severity.CRITICAL if extra else Severity.HIGH
    return Verdict(
        Status.FAIL,
        "; ".join(parts) + ".",
        expected=exp,
        actual=act,
        evidence=tuple(evidence)
        + tuple(f"in scope, not allowed: {e}" for e in sorted(extra)[:LISTED])
        + tuple(f"expected, not in scope: {m}{notes[m]}" for m in missing[:LISTED]),
        remediation=exclusive_remedy(taken_by)
        + "# Follows from the assignment, scope and membership fixes (EXA012, EXA013, "
        "EXA020, EXA021, EXA033, EXA034).",
        severity=severity,
    )
