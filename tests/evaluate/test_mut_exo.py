"""EXA076-EXA078 and the propagation rule (audit/evaluate/exo.py), verdict by verdict (issue 14's mutation triage).

Each check function is called on a Context built like the engine builds it, and its whole verdict is compared:
status, message, expected, actual, evidence (and its bounds), remediation and severity are what the report shows.
Domain: /work/shared/domain/exo-2026.md §1.4 (Test-ServicePrincipalAuthorization rows: InScope True/False/"Not Run")
and §1.5 (permission cache: "between 30 minutes and 2 hours ... the test command bypasses this cache").
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from audit.evaluate import exo
from audit.evaluate.context import Context, Verdict
from audit.evaluate.directory import Directory
from audit.findings import Severity, Status
from audit.policy import LoadedPolicy, load_policy
from audit.snapshot import AuthorizationRow, ProbeOutcome, Snapshot
from tests.evaluate.app_snapshot import (
    APP_ID,
    AU_ID,
    MEMBERS,
    NOW,
    ROLE,
    SCOPE,
    SP_ID,
    grant,
    row,
    with_policy,
)

CHECK = "Test-ServicePrincipalAuthorization"
FULL = "Application Exchange Full Access"  # a composite: its GrantedPermissions include Calendars.ReadWrite
FULL_GRANTS = ("Mail.ReadWrite", "Mail.Send", "MailboxSettings.ReadWrite", "Calendars.ReadWrite", "Contacts.ReadWrite")
EXPECTED_076 = "InScope True for 6 expected mailbox(es), False for 2 canary(ies)"
FIX_076 = "# Fix the scope or the assignments (EXA012, EXA020, EXA040, EXA072), then verify:\n"


def ctx(policy: LoadedPolicy, snapshot: Snapshot, now: datetime = NOW) -> Context:
    """The context the engine builds for one policy and one snapshot."""
    return Context(policy=policy, snapshot=snapshot, directory=Directory(snapshot), now=now)


def line(
    resource: str, raw: str, role: str = ROLE, scope: str = SCOPE, scope_type: str = "CustomRecipientScope"
) -> str:
    """One evidence line of EXA076, as the report quotes a Test-ServicePrincipalAuthorization row."""
    return (
        f"{CHECK} -Resource {resource} RoleName={role!r} AllowedResourceScope={scope!r} "
        f"ScopeType={scope_type!r} InScope={raw!r}"
    )


def verify(mailbox: str) -> str:
    return f"{CHECK} -Identity '{SP_ID}' -Resource '{mailbox}'"


def rows(snapshot: Snapshot, *extra: AuthorizationRow, drop: tuple[str, ...] = (), **in_scope: bool | None) -> Snapshot:
    """The snapshot with some rows' InScope changed (by the mailbox's local part), some dropped, some added."""
    found = []
    for r in snapshot.authorizations:
        local = (r.resource or "").split("@")[0].replace(".", "_").replace("-", "_")
        if r.resource in drop:
            continue
        if local in in_scope:
            value = in_scope[local]
            found.append(
                dataclasses.replace(r, in_scope=value, raw_in_scope="Not Run" if value is None else str(value))
            )
        else:
            found.append(r)
    return dataclasses.replace(snapshot, authorizations=(*found, *extra))


# --- EXA076 ----------------------------------------------------------------------------------------------------


def test_exa076_pass_quotes_every_row(exo_policy: LoadedPolicy, online: Snapshot) -> None:
    assert exo.exa076(ctx(exo_policy, online)) == Verdict(
        Status.PASS,
        f"{CHECK} agrees: 6 expected mailbox(es) in scope, 2 canary(ies) out of scope (Exchange's side only; "
        "EXA074 covers Entra).",
        expected=EXPECTED_076,
        actual="0 canary(ies) in scope, 0 expected out of scope, 0 undecided",
        evidence=(
            *(line(m, "True") for m in MEMBERS),
            line("ceo@contoso.com", "False"),
            line("hr-shared@contoso.com", "False"),
        ),
    )


def test_exa076_pass_evidence_is_bounded_to_40_lines(exo_policy: LoadedPolicy, online: Snapshot) -> None:
    # Ten composite rows per member: each one grants the policy's permission (GrantedPermissions, not RoleName).
    extra = [
        row(m, True, role=FULL, granted_permissions=FULL_GRANTS, allowed_resource_scope=f"s{i}")
        for m in MEMBERS
        for i in range(10)
    ]
    verdict = exo.exa076(ctx(exo_policy, rows(online, *extra)))
    assert verdict.status is Status.PASS
    assert len(verdict.evidence) == 40
    assert verdict.evidence[:2] == (line(MEMBERS[0], "True"), line(MEMBERS[0], "True", role=FULL, scope="s0"))


def test_exa076_a_composite_role_row_answers_for_the_role(exo_policy: LoadedPolicy, online: Snapshot) -> None:
    # The member's only row is Exchange Full Access: its GrantedPermissions hold Calendars.ReadWrite.
    composite = row(MEMBERS[0], True, role=FULL, granted_permissions=FULL_GRANTS)
    verdict = exo.exa076(ctx(exo_policy, rows(online, composite, drop=(MEMBERS[0],))))
    assert verdict.status is Status.PASS, verdict.message
    assert verdict.evidence[0] == line(MEMBERS[0], "True", role=FULL)


def test_exa076_a_row_of_the_role_without_permissions_answers(exo_policy: LoadedPolicy, online: Snapshot) -> None:
    # Matched by RoleName alone: GrantedPermissions may be empty (InScope still answers for the role).
    bare = row(MEMBERS[0], True, granted_permissions=())
    verdict = exo.exa076(ctx(exo_policy, rows(online, bare, drop=(MEMBERS[0],))))
    assert verdict.status is Status.PASS, verdict.message


def test_exa076_tests_the_members_that_must_be_in_scope(tmp_path: Path, online: Snapshot) -> None:
    # atLeast: the members that must be reachable; atMost only bounds the group (EXA033), it expects nobody.
    policy = with_policy(
        tmp_path, "    exactly:\n", "    atLeast: [ad.viseur@contoso.com, bea.buiten@contoso.com]\n    atMost:\n"
    )
    verdict = exo.exa076(ctx(policy, online))
    assert verdict.status is Status.PASS
    assert verdict.expected == "InScope True for 2 expected mailbox(es), False for 2 canary(ies)"
    assert verdict.evidence[:2] == (line(MEMBERS[0], "True"), line(MEMBERS[1], "True"))
    assert len(verdict.evidence) == 4


def test_exa076_a_row_of_another_permission_does_not_answer(exo_policy: LoadedPolicy, online: Snapshot) -> None:
    mail = row(MEMBERS[0], True, role="Application Mail.Read")
    verdict = exo.exa076(ctx(exo_policy, rows(online, mail, drop=(MEMBERS[0],))))
    assert verdict == Verdict(
        Status.ERROR,
        f"{CHECK} gave no usable answer for {MEMBERS[0]} (not tested).",
        expected=EXPECTED_076,
        actual="0 canary(ies) in scope, 0 expected out of scope, 1 undecided",
        evidence=(
            *(line(m, "True") for m in MEMBERS[1:]),
            line("ceo@contoso.com", "False"),
            line("hr-shared@contoso.com", "False"),
        ),
    )


def test_exa076_everything_wrong_at_once(exo_policy: LoadedPolicy, online: Snapshot) -> None:
    state = rows(
        online,
        row("ceo@contoso.com", True, role="Application Mail.Read"),
        row("ceo@contoso.com", False, role="Application Contacts.Read"),
        drop=("fien.field@contoso.com",),
        ad_viseur=None,
        cor_veld=False,
        ceo=True,
        hr_shared=None,
    )
    state = dataclasses.replace(
        state,
        authorizations=tuple(
            dataclasses.replace(r, raw_in_scope="") if r.resource == "hr-shared@contoso.com" else r
            for r in state.authorizations
        ),
    )
    breached = "ceo@contoso.com (Application Calendars.ReadWrite, Application Mail.Read)"
    undecided = (
        "ad.viseur@contoso.com (InScope 'Not Run'), fien.field@contoso.com (not tested), "
        "hr-shared@contoso.com (InScope unreadable)"
    )
    assert exo.exa076(ctx(exo_policy, state)) == Verdict(
        Status.FAIL,
        f"{CHECK} disagrees with the policy: canaries in scope: {breached}; expected mailboxes out of scope: "
        f"cor.veld@contoso.com; undecided: {undecided}.",
        expected=EXPECTED_076,
        actual="1 canary(ies) in scope, 1 expected out of scope, 3 undecided",
        evidence=(
            line("ad.viseur@contoso.com", "Not Run"),
            *(line(m, "True") for m in ("bea.buiten@contoso.com",)),
            line("cor.veld@contoso.com", "False"),
            *(line(m, "True") for m in ("dirk.dealer@contoso.com", "eva.expediteur@contoso.com")),
            line("ceo@contoso.com", "True"),
            line("ceo@contoso.com", "True", role="Application Mail.Read"),
            line("ceo@contoso.com", "False", role="Application Contacts.Read"),
            line("hr-shared@contoso.com", ""),
        ),
        remediation=FIX_076 + verify("ceo@contoso.com") + "\n" + verify("cor.veld@contoso.com"),
        severity=Severity.CRITICAL,
    )


def test_exa076_a_member_row_without_any_in_scope_text(exo_policy: LoadedPolicy, online: Snapshot) -> None:
    blank = tuple(
        dataclasses.replace(r, in_scope=None, raw_in_scope="") if r.resource == MEMBERS[0] else r
        for r in online.authorizations
    )
    verdict = exo.exa076(ctx(exo_policy, dataclasses.replace(online, authorizations=blank)))
    assert verdict.status is Status.ERROR
    assert verdict.message == f"{CHECK} gave no usable answer for {MEMBERS[0]} (InScope 'unreadable')."


def test_exa076_expected_mailbox_out_of_scope_alone_is_high(exo_policy: LoadedPolicy, online: Snapshot) -> None:
    verdict = exo.exa076(ctx(exo_policy, rows(online, cor_veld=False)))
    assert verdict.status is Status.FAIL
    assert verdict.message == (
        f"{CHECK} disagrees with the policy: expected mailboxes out of scope: cor.veld@contoso.com."
    )
    assert verdict.remediation == FIX_076 + verify("cor.veld@contoso.com")
    assert verdict.severity is Severity.HIGH


def test_exa076_a_canary_in_scope_alone_is_critical(exo_policy: LoadedPolicy, online: Snapshot) -> None:
    verdict = exo.exa076(ctx(exo_policy, rows(online, hr_shared=True)))
    assert verdict.message == (f"{CHECK} disagrees with the policy: canaries in scope: hr-shared@contoso.com ({ROLE}).")
    assert verdict.actual == "1 canary(ies) in scope, 0 expected out of scope, 0 undecided"
    assert verdict.remediation == FIX_076 + verify("hr-shared@contoso.com")
    assert verdict.severity is Severity.CRITICAL


def test_exa076_one_row_in_scope_is_enough_for_a_member(exo_policy: LoadedPolicy, online: Snapshot) -> None:
    # A second, out-of-scope row of a composite does not make a member that one assignment reaches "missing".
    out = row(MEMBERS[2], False, role=FULL, granted_permissions=FULL_GRANTS)
    first_out = rows(online, row(MEMBERS[2], True, role=FULL, granted_permissions=FULL_GRANTS), cor_veld=False)
    assert exo.exa076(ctx(exo_policy, rows(online, out))).status is Status.PASS
    assert exo.exa076(ctx(exo_policy, first_out)).status is Status.PASS


def test_exa076_remediation_verifies_at_most_ten_mailboxes(tmp_path: Path, online: Snapshot) -> None:
    extra = [f"vip{i:02}@contoso.com" for i in range(12)]
    policy = with_policy(
        tmp_path,
        "      - hr-shared@contoso.com\n",
        "      - hr-shared@contoso.com\n" + "".join(f"      - {c}\n" for c in extra),
    )
    verdict = exo.exa076(ctx(policy, rows(online, *(row(c, True) for c in extra))))
    assert verdict.status is Status.FAIL
    assert verdict.remediation == FIX_076 + "\n".join(verify(c) for c in extra[:10])


def test_exa076_fail_and_error_evidence_is_bounded_to_200_lines(exo_policy: LoadedPolicy, online: Snapshot) -> None:
    extra = [
        row(m, True, role=FULL, granted_permissions=FULL_GRANTS, allowed_resource_scope=f"s{i}")
        for m in MEMBERS
        for i in range(40)
    ]
    failing = exo.exa076(ctx(exo_policy, rows(online, *extra, ceo=True)))
    assert failing.status is Status.FAIL
    assert len(failing.evidence) == 200
    undecided = exo.exa076(ctx(exo_policy, rows(online, *extra, ceo=None)))
    assert undecided.status is Status.ERROR
    assert undecided.message == f"{CHECK} gave no usable answer for ceo@contoso.com (InScope unreadable)."
    assert len(undecided.evidence) == 200


def test_exa076_canary_rows_that_do_not_reach_mailboxes_are_ignored(exo_policy: LoadedPolicy, online: Snapshot) -> None:
    # In scope, but no Application role (an admin role row) or a permission that reads no mailbox content.
    harmless = (
        row("ceo@contoso.com", True, role="Mail Recipients", granted_permissions=("Calendars.ReadWrite",)),
        row("ceo@contoso.com", True, role="Application MailTips.ReadBasic.All"),
    )
    verdict = exo.exa076(ctx(exo_policy, rows(online, *harmless)))
    assert verdict.status is Status.PASS, verdict.message
    assert line("ceo@contoso.com", "True", role="Mail Recipients") not in verdict.evidence
    assert line("ceo@contoso.com", "True", role="Application MailTips.ReadBasic.All") not in verdict.evidence


def test_exa076_a_canary_row_without_permissions_counts_as_reaching(exo_policy: LoadedPolicy, online: Snapshot) -> None:
    bare = row("ceo@contoso.com", True, role="Application Mail.Read", granted_permissions=())
    verdict = exo.exa076(ctx(exo_policy, rows(online, bare)))
    assert verdict.status is Status.FAIL
    assert "canaries in scope: ceo@contoso.com (Application Mail.Read)." in verdict.message


def test_exa076_canary_with_only_harmless_rows_is_tested_not_undecided(
    exo_policy: LoadedPolicy, online: Snapshot
) -> None:
    harmless = row("ceo@contoso.com", True, role="Application MailTips.ReadBasic.All")
    verdict = exo.exa076(ctx(exo_policy, rows(online, harmless, drop=("ceo@contoso.com",))))
    assert verdict.status is Status.PASS, verdict.message
    untested = exo.exa076(ctx(exo_policy, rows(online, drop=("ceo@contoso.com",))))
    assert untested.message == f"{CHECK} gave no usable answer for ceo@contoso.com (not tested)."


def test_exa076_a_row_naming_a_proxy_address_answers_for_the_mailbox(
    exo_policy: LoadedPolicy, online: Snapshot
) -> None:
    recipients = tuple(
        dataclasses.replace(r, email_addresses=(*r.email_addresses, "smtp:adv@contoso.com"))
        if r.primary_smtp_address == MEMBERS[0]
        else r
        for r in online.recipients
    )
    state = rows(dataclasses.replace(online, recipients=recipients), row("ADV@contoso.com", True), drop=(MEMBERS[0],))
    verdict = exo.exa076(ctx(exo_policy, state))
    assert verdict.status is Status.PASS, verdict.message
    assert verdict.evidence[0] == line("ADV@contoso.com", "True")


def test_exa076_a_row_naming_a_recipient_identity_keeps_that_name(exo_policy: LoadedPolicy, online: Snapshot) -> None:
    # Exchange Online shows a recipient's Identity as its Name, which can be any text, an address among others:
    # a canary written as that text is still found under it, besides the recipient's SMTP addresses.
    recipients = tuple(
        dataclasses.replace(
            r,
            identity="ceo@contoso.com",
            primary_smtp_address="chief@contoso.com",
            email_addresses=("SMTP:chief@contoso.com",),
        )
        if r.primary_smtp_address == "ceo@contoso.com"
        else r
        for r in online.recipients
    )
    verdict = exo.exa076(ctx(exo_policy, dataclasses.replace(online, recipients=recipients)))
    assert verdict.status is Status.PASS, verdict.message


def test_exa076_rows_of_the_untargeted_test_are_skipped_not_the_end(exo_policy: LoadedPolicy, online: Snapshot) -> None:
    # Test-ServicePrincipalAuthorization without -Resource gives rows with no resource ("Not Run"): skipped.
    assert online.authorizations[0].resource is None
    assert exo.authorization_by_mailbox(ctx(exo_policy, online))[MEMBERS[5]] == [row(MEMBERS[5], True)]


AU_NO_PROBES = f"""\
apiVersion: exaudit/v1
kind: MailboxAccessPolicy
metadata: {{name: callpro-au}}
principal: {{app: {{appId: {APP_ID}, servicePrincipalId: {SP_ID}}}}}
grant:
  role: {ROLE}
  via: {{direct: {{}}}}
  administrativeUnit:
    id: {AU_ID}
    members: [ad.viseur@contoso.com, bea.buiten@contoso.com]
"""


def au_policy_without_probes(tmp_path: Path, probes: str = "") -> LoadedPolicy:
    path = tmp_path / "au.yaml"
    path.write_text(AU_NO_PROBES + probes, encoding="utf-8")
    return load_policy(path)


def test_exa076_skips_when_the_policy_names_no_mailbox(tmp_path: Path, online: Snapshot) -> None:
    assert exo.exa076(ctx(au_policy_without_probes(tmp_path), online)) == Verdict(
        Status.SKIP, "The policy names no mailbox to test (no expected set, no canaries)."
    )


def test_exa076_canaries_alone_are_tested(tmp_path: Path, online: Snapshot) -> None:
    policy = au_policy_without_probes(tmp_path, "probes:\n  allow: []\n  deny: {canaries: [ceo@contoso.com]}\n")
    verdict = exo.exa076(ctx(policy, online))
    assert verdict.status is Status.PASS
    assert verdict.message.startswith(f"{CHECK} agrees: 0 expected mailbox(es) in scope, 1 canary(ies) out of scope")
    assert verdict.evidence == (line("ceo@contoso.com", "False"),)


def test_exa076_expected_mailboxes_alone_are_tested(tmp_path: Path, online: Snapshot) -> None:
    policy = with_policy(
        tmp_path,
        "      - ceo@contoso.com\n      - hr-shared@contoso.com\n    sample: 0",
        "      []\n    sample: 0",
    )
    verdict = exo.exa076(ctx(policy, online))
    assert verdict.status is Status.PASS
    assert verdict.expected == "InScope True for 6 expected mailbox(es), False for 0 canary(ies)"
    assert verdict.evidence == tuple(line(m, "True") for m in MEMBERS)


# --- tested_in_scope, propagation_until, propagating ----------------------------------------------------------


def test_tested_in_scope_reads_reaching_rows(exo_policy: LoadedPolicy, online: Snapshot) -> None:
    state = rows(
        online,
        row("bea.buiten@contoso.com", None, role="Application Mail.Read"),
        row("ceo@contoso.com", True, role="Application MailTips.ReadBasic.All"),
        row("hr-shared@contoso.com", True, role="Application Mail.Read"),
    )
    c = ctx(exo_policy, state)
    assert exo.tested_in_scope(c, "AD.VISEUR@contoso.com") is True
    assert exo.tested_in_scope(c, "bea.buiten@contoso.com") is None  # one row unreadable: unknown
    assert exo.tested_in_scope(c, "ceo@contoso.com") is False  # the MailTips row reaches no mailbox content
    assert exo.tested_in_scope(c, "hr-shared@contoso.com") is True  # any reaching role in scope
    assert exo.tested_in_scope(c, "nobody@contoso.com") is None


def _changed(online: Snapshot, assignment: str | None = None, scope: str | None = None, sp: str | None = None,
             collected: str | None = "2026-11-26T11:00:00Z") -> Snapshot:  # fmt: skip
    return dataclasses.replace(
        online,
        collected_at=collected,  # type: ignore[arg-type]
        role_assignments=tuple(
            dataclasses.replace(a, when_changed=assignment) if a.role == ROLE else a for a in online.role_assignments
        ),
        scopes=tuple(dataclasses.replace(s, when_changed=scope) for s in online.scopes),
        service_principals=tuple(dataclasses.replace(p, when_changed=sp) for p in online.service_principals),
    )


def _until(policy: LoadedPolicy, state: Snapshot) -> datetime | None:
    return exo.propagation_until(ctx(policy, state))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_propagation_until_each_kind_of_change(exo_policy: LoadedPolicy, online: Snapshot) -> None:
    assert _until(exo_policy, _changed(online)) is None
    assert _until(exo_policy, _changed(online, assignment="2026-11-26T10:30:00Z")) == at("2026-11-26T12:30")
    assert _until(exo_policy, _changed(online, scope="2026-11-26T10:10:00Z")) == at("2026-11-26T12:10")
    assert _until(exo_policy, _changed(online, sp="2026-11-26T10:20:00Z")) == at("2026-11-26T12:20")
    latest = _changed(online, "2026-11-26T10:00:00Z", "2026-11-26T10:40:00Z", "2026-11-26T10:20:00Z")
    assert _until(exo_policy, latest) == at("2026-11-26T12:40")


@pytest.mark.parametrize(
    ("changed", "until"),
    [
        ("2026-11-26T09:00:00Z", None),  # exactly two hours before collection: propagated
        ("2026-11-26T09:00:01Z", "2026-11-26T11:00:01"),
        ("2026-11-26T11:00:00Z", "2026-11-26T13:00:00"),  # at collection
        ("2026-11-26T11:05:00Z", "2026-11-26T13:05:00"),  # five minutes of clock skew are tolerated
        ("2026-11-26T11:05:30Z", None),  # later than that: not a change seen before collection
        ("2026-11-26T12:30:00+02:00", "2026-11-26T12:30:00"),  # 10:30 UTC
        ("2026-11-26T10:30:00", "2026-11-26T12:30:00"),  # no zone: UTC
        ("not a date", None),
        ("", None),
    ],
)
def test_propagation_window(exo_policy: LoadedPolicy, online: Snapshot, changed: str, until: str | None) -> None:
    assert _until(exo_policy, _changed(online, assignment=changed)) == (at(until) if until else None)


@pytest.mark.parametrize("collected", [None, "", "yesterday"])
def test_no_propagation_without_a_readable_collection_time(
    exo_policy: LoadedPolicy, online: Snapshot, collected: str | None
) -> None:
    assert _until(exo_policy, _changed(online, assignment="2026-11-26T10:30:00Z", collected=collected)) is None


def test_propagation_collection_time_with_an_offset_or_without_a_zone(
    exo_policy: LoadedPolicy, online: Snapshot
) -> None:
    offset = _changed(online, assignment="2026-11-26T10:30:00Z", collected="2026-11-26T13:00:00+02:00")
    assert _until(exo_policy, offset) == at("2026-11-26T12:30")
    naive = _changed(online, assignment="2026-11-26T10:30:00Z", collected="2026-11-26T11:00:00")
    assert _until(exo_policy, naive) == at("2026-11-26T12:30")


def test_propagation_reads_a_lower_case_z(exo_policy: LoadedPolicy, online: Snapshot) -> None:
    assert _until(exo_policy, _changed(online, assignment="2026-11-26T10:30:00z")) == at("2026-11-26T12:30")


MESSAGE = (
    "propagating, re-run after 2026-11-26 12:30 UTC: the assignment or scope changed less than two hours before "
    "collection and the probe of {} disagrees with Test-ServicePrincipalAuthorization (which bypasses Exchange's "
    "permission cache)"
)
ALLOWED, DENIED = ProbeOutcome.ALLOWED, ProbeOutcome.DENIED


@pytest.fixture
def recent(online: Snapshot) -> Snapshot:
    return _changed(online, assignment="2026-11-26T10:30:00Z")


def test_propagating_refused_member_in_scope(exo_policy: LoadedPolicy, recent: Snapshot) -> None:
    c = ctx(exo_policy, recent)
    outcomes = {"nobody@contoso.com": DENIED, "fien.field@contoso.com": DENIED, "cor.veld@contoso.com": DENIED}
    assert exo.propagating(c, "allow", outcomes) == MESSAGE.format("cor.veld@contoso.com, fien.field@contoso.com")


def test_propagating_reached_canary_out_of_scope(exo_policy: LoadedPolicy, recent: Snapshot) -> None:
    c = ctx(exo_policy, recent)
    outcomes = {"hr-shared@contoso.com": ALLOWED, "ceo@contoso.com": ALLOWED}
    assert exo.propagating(c, "deny", outcomes) == MESSAGE.format("ceo@contoso.com, hr-shared@contoso.com")


@pytest.mark.parametrize(
    ("expect", "mailbox", "outcome"),
    [
        ("deny", "cor.veld@contoso.com", ALLOWED),  # in scope and reached: no disagreement
        ("allow", "cor.veld@contoso.com", ALLOWED),
        ("allow", "ceo@contoso.com", ALLOWED),
        ("allow", "ceo@contoso.com", DENIED),  # out of scope and refused
        ("deny", "ceo@contoso.com", DENIED),
        ("deny", "cor.veld@contoso.com", DENIED),
        ("deny", "nobody@contoso.com", ALLOWED),  # not tested: nothing to disagree with
    ],
)
def test_propagating_only_for_a_disagreement(
    exo_policy: LoadedPolicy, recent: Snapshot, expect: str, mailbox: str, outcome: ProbeOutcome
) -> None:
    assert exo.propagating(ctx(exo_policy, recent), expect, {mailbox: outcome}) == ""


def test_propagating_never_when_an_entra_grant_explains_it(exo_policy: LoadedPolicy, recent: Snapshot) -> None:
    held = dataclasses.replace(recent, app_role_grants=(grant("Calendars.ReadWrite"),))
    assert exo.propagating(ctx(exo_policy, held), "deny", {"ceo@contoso.com": ALLOWED}) == ""
    harmless = dataclasses.replace(recent, app_role_grants=(grant("User.Read.All"),))
    assert exo.propagating(ctx(exo_policy, harmless), "deny", {"ceo@contoso.com": ALLOWED}) == MESSAGE.format(
        "ceo@contoso.com"
    )


def test_propagating_never_long_after_the_change(exo_policy: LoadedPolicy, online: Snapshot) -> None:
    assert exo.propagating(ctx(exo_policy, online), "deny", {"ceo@contoso.com": ALLOWED}) == ""


@pytest.fixture
def far_east() -> Iterator[None]:
    """The machine's local zone set to UTC+05:30 (the report's times must stay UTC)."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "Asia/Kolkata"
    time.tzset()
    yield
    if old is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = old
    time.tzset()


@pytest.mark.usefixtures("far_east")
def test_propagating_time_is_utc_whatever_the_local_zone(exo_policy: LoadedPolicy, online: Snapshot) -> None:
    offset = _changed(online, assignment="2026-11-26T12:30:00+02:00")
    message = exo.propagating(ctx(exo_policy, offset), "deny", {"ceo@contoso.com": ALLOWED})
    assert message == MESSAGE.format("ceo@contoso.com")
