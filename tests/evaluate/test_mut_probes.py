"""EXA050 and EXA051 word for word (audit/evaluate/probes.py): every verdict, message, count and evidence line.

Built on the compliant snapshot (and its Exchange Online app form, tests/evaluate/app_snapshot.py) with the probes
and the policy's probes section changed one at a time. The findings are product output read by people and by
tooling, so the tests compare whole texts: a word, a count or an order that changes fails them (issue 14).
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from audit.evaluate import evaluate
from audit.findings import Finding, Severity, Status
from audit.policy import LoadedPolicy, load_policy
from audit.snapshot import ManagementScope, Probe, ProbeOutcome, ProbeRun, Snapshot, Target, load
from tests.evaluate.app_snapshot import APP_ID, MEMBERS, ROLE, SP_ID, exo_policy, grant, online_snapshot, row

ROOT = Path(__file__).resolve().parents[2]
CALLPRO = ROOT / "policies" / "callpro.yaml"
DATA = ROOT / "tests" / "data" / "snapshots"
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
AD, BEA, COR, DIRK, EVA, FIEN = MEMBERS
CEO, HR = "ceo@contoso.com", "hr-shared@contoso.com"
DENIED_LINE = (
    "probe {m} expect=deny source=canary operation=calendarRead outcome=denied ResponseCode=ErrorImpersonateUserDenied "
    "attempts=1 detail='The account does not have permission to impersonate the requested user.'"
)
ALLOWED_LINE = (
    "probe {m} expect=allow source=groupMembers operation=calendarRead outcome=allowed ResponseCode=NoError attempts=1"
)
FIX_050 = "# Fix the scope and membership findings, then re-run: exaudit run 'callpro.yaml'"


@pytest.fixture(scope="module")
def compliant() -> Snapshot:
    return load(DATA / "compliant.snapshot.json")[0]


@pytest.fixture(scope="module")
def callpro() -> LoadedPolicy:
    return load_policy(CALLPRO)


@pytest.fixture(scope="module")
def online() -> Snapshot:
    return online_snapshot()


@pytest.fixture(scope="module")
def app_policy() -> LoadedPolicy:
    return exo_policy()


def probes_policy(tmp_path: Path, probes: str, members: str | None = None) -> LoadedPolicy:
    """callpro.yaml saved as p.yaml with its probes section (and optionally its members section) replaced."""
    text = CALLPRO.read_text(encoding="utf-8")
    start, end = text.index("probes:\n  allow"), text.index("# Accepted deviations")
    text = text[:start] + probes.rstrip("\n") + "\n\n" + text[end:]
    if members is not None:
        start, end = text.index("  members:\n    exactly:"), text.index("  # RecipientTypeDetails")
        text = text[:start] + members.rstrip("\n") + "\n" + text[end:]
    path = tmp_path / "p.yaml"
    path.write_text(text, encoding="utf-8")
    return load_policy(path)


def probe(mailbox: str, outcome: ProbeOutcome, code: str = "", **kw: object) -> Probe:
    values: dict[str, object] = {"expect": "deny", "source": "canary", "operation": "calendarRead"}
    values.update(kw)
    return Probe(mailbox, outcome=outcome, response_code=code, **values)  # type: ignore[arg-type]


def allowed(mailbox: str, **kw: object) -> Probe:
    return probe(mailbox, ProbeOutcome.ALLOWED, "NoError", **{"expect": "allow", "source": "groupMembers", **kw})


def with_probes(snap: Snapshot, *probes: Probe, keep: bool = False, **run: Any) -> Snapshot:
    assert snap.probe_run is not None
    return dataclasses.replace(
        snap,
        probes=(*snap.probes, *probes) if keep else probes,
        probe_run=dataclasses.replace(snap.probe_run, **run),
    )


def changed(snap: Snapshot, address: str, outcome: ProbeOutcome, code: str = "", **kw: Any) -> Snapshot:
    """The snapshot with the probe of ``address`` ending in ``outcome`` instead."""
    probes = tuple(
        dataclasses.replace(p, outcome=outcome, response_code=code, **kw) if p.mailbox == address else p
        for p in snap.probes
    )
    assert probes != snap.probes
    return dataclasses.replace(snap, probes=probes)


def find(policy: LoadedPolicy, snap: Snapshot, check: str) -> Finding:
    return next(f for f in evaluate(policy, snap, NOW) if f.check_id == check)


# --- who ran the probes ----------------------------------------------------------------------------------------


def test_no_probe_run_is_error_in_both_checks(callpro: LoadedPolicy, compliant: Snapshot) -> None:
    snap = dataclasses.replace(compliant, probe_run=None)
    why = "no probes were run (the snapshot has no probe run); collect with probes to decide this check"
    exa050, exa051 = find(callpro, snap, "EXA050"), find(callpro, snap, "EXA051")
    assert (exa050.status, exa050.message) == (
        Status.ERROR,
        f"Cannot tell whether the in-scope mailboxes can be impersonated: {why}.",
    )
    assert (exa050.expected, exa050.actual, exa050.evidence) == ("6 mailbox(es) allowed", "not probed", ())
    assert (exa051.status, exa051.message) == (
        Status.ERROR,
        f"Cannot tell whether the canaries are out of reach: {why}.",
    )
    assert (exa051.expected, exa051.actual) == ("every canary refused with ErrorImpersonateUserDenied", "not probed")


def test_probes_run_as_another_account_prove_nothing(callpro: LoadedPolicy, compliant: Snapshot) -> None:
    snap = dataclasses.replace(
        compliant, target=dataclasses.replace(compliant.target, service_account="other@contoso.com")
    )
    why = "the probes were run as other@contoso.com, not as the policy's principal svcServiceAccount@contoso.com"
    assert (
        find(callpro, snap, "EXA050").message
        == f"Cannot tell whether the in-scope mailboxes can be impersonated: {why}."
    )
    assert find(callpro, snap, "EXA051").message == f"Cannot tell whether the canaries are out of reach: {why}."


@pytest.mark.parametrize("account", [" SVCServiceAccount@Contoso.com ", ""])
def test_the_same_account_in_another_case_or_none_recorded_is_no_problem(
    callpro: LoadedPolicy, compliant: Snapshot, account: str
) -> None:
    snap = dataclasses.replace(compliant, target=dataclasses.replace(compliant.target, service_account=account))
    assert find(callpro, snap, "EXA050").status is Status.PASS
    assert find(callpro, snap, "EXA051").status is Status.PASS


def test_probes_run_as_another_app_prove_nothing(app_policy: LoadedPolicy, online: Snapshot) -> None:
    other = "0f8c1e2d-3b4a-4c5d-8e6f-7a8b9c0d1e2f"
    snap = dataclasses.replace(online, target=dataclasses.replace(online.target, service_account=other))
    why = f"the probes were run as app {other}, not as the policy's app {APP_ID}"
    exa050 = find(app_policy, snap, "EXA050")
    assert exa050.message == f"Cannot tell whether the in-scope mailboxes can be impersonated: {why}."
    assert find(app_policy, snap, "EXA051").message == f"Cannot tell whether the canaries are out of reach: {why}."


@pytest.mark.parametrize("account", [APP_ID.upper(), SP_ID.upper(), ""])
def test_the_app_by_its_app_id_or_service_principal_id_or_none_recorded_is_no_problem(
    app_policy: LoadedPolicy, online: Snapshot, account: str
) -> None:
    snap = dataclasses.replace(online, target=dataclasses.replace(online.target, service_account=account))
    exa050, exa051 = find(app_policy, snap, "EXA050"), find(app_policy, snap, "EXA051")
    assert (exa050.status, exa051.status) == (Status.PASS, Status.PASS), (exa050.message, exa051.message)


# --- EXA050: in-scope mailboxes ----------------------------------------------------------------------------------


def test_exa050_pass_word_for_word(callpro: LoadedPolicy, compliant: Snapshot) -> None:
    found = find(callpro, compliant, "EXA050")
    assert found.status is Status.PASS
    assert found.message == "All 6 in-scope mailbox(es) were impersonated (calendarRead)."
    assert (found.expected, found.actual) == ("6 mailbox(es) allowed", "6 of 6 allowed")
    assert found.evidence == tuple(ALLOWED_LINE.format(m=m) for m in MEMBERS)
    assert found.remediation == ""


def test_exa050_pass_for_an_app_says_reached(app_policy: LoadedPolicy, online: Snapshot) -> None:
    found = find(app_policy, online, "EXA050")
    assert (found.status, found.message) == (Status.PASS, "All 6 in-scope mailbox(es) were reached (calendarRead).")


def test_exa050_allow_list_is_keyed_and_sorted(tmp_path: Path, compliant: Snapshot) -> None:
    policy = probes_policy(tmp_path, "probes:\n  allow: [Fien.Field@contoso.com, ad.viseur@contoso.com]\n")
    found = find(policy, compliant, "EXA050")
    assert (found.status, found.message) == (
        Status.PASS,
        "All 2 in-scope mailbox(es) were impersonated (calendarRead).",
    )
    assert (found.expected, found.actual) == ("2 mailbox(es) allowed", "2 of 2 allowed")
    assert found.evidence == (ALLOWED_LINE.format(m=AD), ALLOWED_LINE.format(m=FIEN))


def test_exa050_skip_when_no_mailbox_is_expected(tmp_path: Path, compliant: Snapshot) -> None:
    policy = probes_policy(
        tmp_path,
        "probes:\n  allow: groupMembers\n  deny: {canaries: [ceo@contoso.com]}\n",
        "  members:\n    atMost: [ad.viseur@contoso.com]\n",
    )
    snap = with_probes(compliant, keep=True, concurrency_note="4 at once", leftovers_found=1, leftovers=("x",))
    found = find(policy, snap, "EXA050")
    assert (found.status, found.message) == (Status.SKIP, "The policy expects no mailbox in scope to probe.")
    assert found.evidence == ()


def test_exa050_every_kind_of_failure_word_for_word(callpro: LoadedPolicy, compliant: Snapshot) -> None:
    # ad.viseur has no probe (first in order: the others are still judged), bea refused as outside the scope,
    # cor without any impersonation right, dirk without a mailbox, eva with a 401.
    probes = (
        probe(BEA, ProbeOutcome.DENIED, expect="allow", source="groupMembers"),
        probe(COR, ProbeOutcome.NO_IMPERSONATION_RIGHT, expect="allow", source="groupMembers"),
        probe(DIRK, ProbeOutcome.NO_MAILBOX, expect="allow", source="groupMembers"),
        probe(EVA, ProbeOutcome.AUTH_FAILED, "401", detail="Unauthorized", expect="allow", source="groupMembers"),
        allowed(FIEN),
    )
    found = find(callpro, with_probes(compliant, *probes), "EXA050")
    assert found.status is Status.FAIL
    assert found.message == (
        f"3 in-scope mailbox(es) cannot be impersonated: {BEA} refused with ErrorImpersonateUserDenied (outside the "
        f"scope), {COR} refused with ErrorImpersonationDenied (no impersonation right at all), {DIRK} has no mailbox "
        f"(ErrorNonExistentMailbox); 2 undecided: no probe was recorded: {AD}; auth_failed 401 Unauthorized: {EVA}."
    )
    assert (found.expected, found.actual) == ("6 mailbox(es) allowed", "1 of 6 allowed")
    assert found.remediation == FIX_050
    assert found.evidence == (
        f"probe {BEA} expect=allow source=groupMembers operation=calendarRead outcome=denied ResponseCode=- attempts=1",
        f"probe {COR} expect=allow source=groupMembers operation=calendarRead outcome=no_impersonation_right "
        "ResponseCode=- attempts=1",
        f"probe {DIRK} expect=allow source=groupMembers operation=calendarRead outcome=no_mailbox ResponseCode=- "
        "attempts=1",
        f"probe {EVA} expect=allow source=groupMembers operation=calendarRead outcome=auth_failed ResponseCode=401 "
        "attempts=1 detail='Unauthorized'",
        ALLOWED_LINE.format(m=FIEN),
    )


def test_exa050_recorded_codes_are_quoted(callpro: LoadedPolicy, compliant: Snapshot) -> None:
    snap = changed(compliant, BEA, ProbeOutcome.NO_IMPERSONATION_RIGHT, "ErrorImpersonationDenied2")
    snap = changed(snap, COR, ProbeOutcome.NO_MAILBOX, "ErrorNonExistentMailbox2")
    found = find(callpro, snap, "EXA050")
    assert found.message == (
        f"2 in-scope mailbox(es) cannot be impersonated: {BEA} refused with ErrorImpersonationDenied2 (no "
        f"impersonation right at all), {COR} has no mailbox (ErrorNonExistentMailbox2)."
    )


def test_exa050_only_undecided_is_error_grouped_by_reason(callpro: LoadedPolicy, compliant: Snapshot) -> None:
    # A later record of the same mailbox wins (a retry), whatever the case of its address.
    probes = (
        probe(BEA, ProbeOutcome.DENIED, "ErrorImpersonateUserDenied", expect="allow"),
        allowed(BEA.upper()),
        allowed(COR),
        allowed(EVA),
        probe(FIEN, ProbeOutcome.ERROR, expect="allow", source="groupMembers"),
        probe(DIRK, ProbeOutcome.ALLOWED, expect="deny"),  # a deny probe says nothing about the allow side
    )
    found = find(callpro, with_probes(compliant, *probes, completed=False, error="deadline of 300 s reached"), "EXA050")
    assert found.status is Status.ERROR
    cut = "the probe run did not complete (deadline of 300 s reached)"
    assert found.message == f"3 in-scope mailbox(es) undecided: {cut}: {AD}, {DIRK}; error: {FIEN}."
    assert (found.expected, found.actual) == ("6 mailbox(es) allowed", "3 of 6 allowed")
    assert found.remediation == ""
    assert found.evidence[-1] == (
        f"probe {FIEN} expect=allow source=groupMembers operation=calendarRead outcome=error ResponseCode=- attempts=1"
    )


def test_exa050_a_run_cut_short_without_a_reason(callpro: LoadedPolicy, compliant: Snapshot) -> None:
    snap = with_probes(compliant, *(allowed(m) for m in MEMBERS[1:]), completed=False)
    found = find(callpro, snap, "EXA050")
    assert found.message == f"1 in-scope mailbox(es) undecided: the probe run did not complete (cut short): {AD}."


def test_exa050_a_read_probe_does_not_prove_a_write(tmp_path: Path, compliant: Snapshot) -> None:
    policy = probes_policy(
        tmp_path, "probes:\n  allow: [ad.viseur@contoso.com, bea.buiten@contoso.com]\n  operation: calendarWrite\n"
    )
    found = find(policy, with_probes(compliant, allowed(AD), probe(BEA, ProbeOutcome.DENIED, expect="allow")), "EXA050")
    # The read of ad.viseur proved nothing about writing, and the refusal of bea is still judged after it.
    assert found.status is Status.FAIL
    assert found.message == (
        f"1 in-scope mailbox(es) cannot be impersonated: {BEA} refused with ErrorImpersonateUserDenied (outside the "
        f"scope); 1 undecided: probed with calendarRead only, the policy needs calendarWrite: {AD}."
    )
    assert found.actual == "0 of 2 allowed"
    assert found.evidence[0] == ALLOWED_LINE.format(m=AD)
    # A write probe proved the read: a calendarRead policy passes on it.
    write = with_probes(compliant, *(allowed(m, operation="calendarWrite") for m in MEMBERS))
    policy = probes_policy(tmp_path, "probes:\n  allow: groupMembers\n  operation: calendarWrite\n")
    assert find(policy, write, "EXA050").message == "All 6 in-scope mailbox(es) were impersonated (calendarWrite)."
    assert find(load_policy(CALLPRO), write, "EXA050").status is Status.PASS


def test_exa050_quotes_at_most_twenty_allowed_probes_and_every_other(tmp_path: Path, compliant: Snapshot) -> None:
    many = [f"m{i:02d}@contoso.com" for i in range(22)]
    policy = probes_policy(tmp_path, "probes:\n  allow: [" + ", ".join(many) + "]\n")
    snap = with_probes(
        compliant, *(allowed(m) for m in many[:21]), probe(many[21], ProbeOutcome.DENIED, expect="allow")
    )
    found = find(policy, snap, "EXA050")
    assert found.status is Status.FAIL
    assert found.evidence == (
        *(ALLOWED_LINE.format(m=m) for m in many[:20]),
        f"probe {many[21]} expect=allow source=canary operation=calendarRead outcome=denied ResponseCode=- attempts=1",
    )
    assert found.actual == "21 of 22 allowed"


def test_exa050_app_refusal_and_404(app_policy: LoadedPolicy, online: Snapshot) -> None:
    snap = changed(online, AD, ProbeOutcome.DENIED)
    snap = changed(snap, BEA, ProbeOutcome.NO_MAILBOX)
    snap = changed(snap, COR, ProbeOutcome.NO_MAILBOX, "404 MailboxNotEnabledForRESTAPI")
    found = find(app_policy, snap, "EXA050")
    assert found.status is Status.FAIL
    assert found.message == (
        f"1 in-scope mailbox(es) cannot be impersonated: {AD} refused with 403 ErrorAccessDenied (outside the scope); "
        f"2 undecided: no mailbox to probe (404): {BEA}; no mailbox to probe (404 MailboxNotEnabledForRESTAPI): {COR}."
    )
    assert found.remediation == "# Fix the scope and membership findings, then re-run: exaudit run 'callpro-exo.yaml'"


def _recent(online: Snapshot, when: str = "2026-11-26T10:55:00Z") -> Snapshot:
    assignments = tuple(
        dataclasses.replace(a, when_changed=when) if a.role == ROLE else a for a in online.role_assignments
    )
    return dataclasses.replace(online, role_assignments=assignments)


def test_exa050_propagating_word_for_word(app_policy: LoadedPolicy, online: Snapshot) -> None:
    # ad.viseur's probe recorded with his address in capitals: still matched to his authorization row.
    snap = changed(
        changed(_recent(online), AD, ProbeOutcome.DENIED, "403", mailbox=AD.upper()), BEA, ProbeOutcome.DENIED
    )
    found = find(app_policy, snap, "EXA050")
    assert found.status is Status.ERROR
    assert found.message == (
        f"Propagating, re-run after 2026-11-26 12:55 UTC: the assignment or scope changed less than two hours before "
        f"collection and the probe of {AD}, {BEA} disagrees with Test-ServicePrincipalAuthorization (which bypasses "
        "Exchange's permission cache)."
    )
    assert (found.expected, found.actual) == ("6 mailbox(es) allowed", "4 of 6 allowed")
    assert len(found.evidence) == 6


def test_exa050_an_unrelated_refusal_does_not_make_a_pass_propagating(
    app_policy: LoadedPolicy, online: Snapshot
) -> None:
    # Another policy's member, refused and tested in scope: no mailbox of this policy failed, so nothing propagates.
    extra = "extra@contoso.com"
    snap = _recent(online)
    snap = dataclasses.replace(
        snap,
        probes=(*snap.probes, probe(extra, ProbeOutcome.DENIED, "403", expect="allow")),
        authorizations=(*snap.authorizations, row(extra, True)),
    )
    assert find(app_policy, snap, "EXA050").status is Status.PASS


def test_exa050_evidence_is_bounded(tmp_path: Path, compliant: Snapshot) -> None:
    many = [f"m{i:03d}@contoso.com" for i in range(201)]
    policy = probes_policy(tmp_path, "probes:\n  allow: [" + ", ".join(many) + "]\n")
    snap = with_probes(compliant, *(probe(m, ProbeOutcome.ERROR, expect="allow") for m in many))
    found = find(policy, snap, "EXA050")
    assert len(found.evidence) == 201
    assert found.evidence[-1] == "... and 1 more probe(s)"
    assert found.evidence[199].startswith(f"probe {many[199]} ")
    # 200 failed probes and one missing (no line): 200 lines, all of them quoted.
    exact = with_probes(compliant, *(probe(m, ProbeOutcome.ERROR, expect="allow") for m in many[:200]))
    found = find(policy, exact, "EXA050")
    assert len(found.evidence) == 200
    assert found.evidence[-1].startswith(f"probe {many[199]} ")


# --- EXA050: the run's notes ---------------------------------------------------------------------------------------


def test_exa050_concurrency_note(callpro: LoadedPolicy, compliant: Snapshot) -> None:
    snap = with_probes(compliant, keep=True, concurrency_note="throttling policy unknown: 4 at once")
    found = find(callpro, snap, "EXA050")
    assert found.evidence == (
        *(ALLOWED_LINE.format(m=m) for m in MEMBERS),
        "probe concurrency: throttling policy unknown: 4 at once",
    )


def test_exa050_leftovers_searched_none_found(callpro: LoadedPolicy, compliant: Snapshot) -> None:
    found = find(callpro, with_probes(compliant, keep=True, leftovers_found=0), "EXA050")
    assert found.message == "All 6 in-scope mailbox(es) were impersonated (calendarRead)."
    assert found.evidence[-1] == "write-probe items of earlier runs found: 0, removed: 0"
    assert len(found.evidence) == 7


def test_exa050_leftovers_found_and_removed(callpro: LoadedPolicy, compliant: Snapshot) -> None:
    snap = with_probes(compliant, keep=True, concurrency_note="n", leftovers_found=2, leftovers_removed=2)
    found = find(callpro, snap, "EXA050")
    assert found.status is Status.PASS
    assert found.message == (
        "All 6 in-scope mailbox(es) were impersonated (calendarRead). 2 write-probe item(s) left by earlier runs were "
        "found in the probed calendars; 2 removed, 0 left in place (see evidence)."
    )
    assert found.evidence[-2:] == ("probe concurrency: n", "write-probe items of earlier runs found: 2, removed: 2")


def test_exa050_leftovers_left_in_place_and_failed_searches(callpro: LoadedPolicy, compliant: Snapshot) -> None:
    lines = (f"{BEA}: 2 item(s) found, 1 removed", f"{COR}: search failed (ErrorAccessDenied)")
    snap = with_probes(compliant, keep=True, leftovers_found=3, leftovers_removed=1, leftovers=lines)
    found = find(callpro, snap, "EXA050")
    assert found.message == (
        "All 6 in-scope mailbox(es) were impersonated (calendarRead). 3 write-probe item(s) left by earlier runs were "
        "found in the probed calendars; 1 removed, 2 left in place; the search or removal failed in some calendars "
        "(see evidence)."
    )
    assert found.evidence[-3:] == ("write-probe items of earlier runs found: 3, removed: 1", *lines)
    # Nothing found, but a search failed: still said.
    snap = with_probes(compliant, keep=True, leftovers_found=0, leftovers=(f"{COR}: search failed",))
    assert find(callpro, snap, "EXA050").message == (
        "All 6 in-scope mailbox(es) were impersonated (calendarRead). 0 write-probe item(s) left by earlier runs were "
        "found in the probed calendars; 0 removed, 0 left in place; the search or removal failed in some calendars "
        "(see evidence)."
    )
    # Leftovers without a failure: no failure is claimed.
    snap = with_probes(compliant, keep=True, leftovers_found=1, leftovers=(f"{COR}: 1 item(s) found, 0 removed",))
    assert find(callpro, snap, "EXA050").message.endswith("; 0 removed, 1 left in place (see evidence).")


# --- EXA051: canaries and samples ---------------------------------------------------------------------------------


def test_exa051_pass_word_for_word(callpro: LoadedPolicy, compliant: Snapshot) -> None:
    found = find(callpro, compliant, "EXA051")
    assert found.status is Status.PASS
    assert found.message == "All 2 canary/sampled mailbox(es) were refused with ErrorImpersonateUserDenied."
    assert found.expected == "every canary refused with ErrorImpersonateUserDenied"
    assert found.actual == "0 reachable, 0 undecided of 2"
    assert found.evidence == (DENIED_LINE.format(m=CEO), DENIED_LINE.format(m=HR))


def test_exa051_pass_for_an_app(app_policy: LoadedPolicy, online: Snapshot) -> None:
    found = find(app_policy, online, "EXA051")
    assert found.message == "All 2 canary/sampled mailbox(es) were refused with 403 ErrorAccessDenied."
    assert found.expected == "every canary refused with 403 ErrorAccessDenied"


def test_exa051_breach_word_for_word(callpro: LoadedPolicy, compliant: Snapshot) -> None:
    snap = changed(compliant, CEO, ProbeOutcome.ALLOWED, "NoError", detail="", attempts=2)
    found = find(callpro, snap, "EXA051")
    assert (found.status, found.severity) == (Status.FAIL, Severity.CRITICAL)
    assert found.message == (
        f"The service account CAN impersonate 1 mailbox(es) that must stay out of reach: {CEO}. "
        "The scope does not hold."
    )
    assert (found.expected, found.actual) == (
        "every canary refused with ErrorImpersonateUserDenied",
        "1 reachable, 0 undecided of 2",
    )
    assert found.remediation == (
        "# Restrict the assignment (EXA012, EXA013) and the scope (EXA020, EXA021) now; then re-run: "
        "exaudit run 'callpro.yaml'"
    )
    assert found.evidence == (
        f"probe {CEO} expect=deny source=canary operation=calendarRead outcome=allowed ResponseCode=NoError attempts=2",
        DENIED_LINE.format(m=HR),
    )


def test_exa051_breach_with_undecided(callpro: LoadedPolicy, compliant: Snapshot) -> None:
    snap = changed(compliant, CEO, ProbeOutcome.ALLOWED, "NoError", detail="")
    snap = changed(snap, HR, ProbeOutcome.ERROR, "", detail="timed out")
    found = find(callpro, snap, "EXA051")
    assert found.status is Status.FAIL
    assert found.message == (
        f"The service account CAN impersonate 1 mailbox(es) that must stay out of reach: {CEO}. The scope does not "
        f"hold. Undecided: error  timed out: {HR}."
    )
    assert (found.expected, found.actual) == (
        "every canary refused with ErrorImpersonateUserDenied",
        "1 reachable, 1 undecided of 2",
    )


def test_exa051_undecided_only_is_error(callpro: LoadedPolicy, compliant: Snapshot) -> None:
    snap = with_probes(compliant, probe(HR, ProbeOutcome.NO_IMPERSONATION_RIGHT, "ErrorImpersonationDenied"))
    found = find(callpro, snap, "EXA051")
    assert found.status is Status.ERROR
    assert found.message == (
        f"Canaries not proven out of reach: no probe was recorded: {CEO}; no_impersonation_right "
        f"ErrorImpersonationDenied: {HR}."
    )
    assert (found.expected, found.actual) == (
        "every canary refused with ErrorImpersonateUserDenied",
        "0 reachable, 2 undecided of 2",
    )
    assert found.remediation == ""


def test_exa051_app_breach_with_and_without_an_entra_grant(app_policy: LoadedPolicy, online: Snapshot) -> None:
    snap = changed(online, CEO, ProbeOutcome.ALLOWED, "200")
    found = find(app_policy, snap, "EXA051")
    assert found.message == (
        f"The app CAN reach 1 mailbox(es) that must stay out of reach: {CEO}. The scope does not hold."
    )
    assert found.remediation.startswith("# Restrict the assignment (EXA012, EXA013)")
    entra = dataclasses.replace(snap, app_role_grants=(grant("Mail.ReadWrite"),))
    found = find(app_policy, entra, "EXA051")
    assert found.status is Status.FAIL
    assert found.message == (
        f"The app CAN reach 1 mailbox(es) that must stay out of reach: {CEO}. The scope does not hold. An Entra "
        "application permission of the app reaches every mailbox (EXA074)."
    )
    assert found.remediation == (
        "# Remove the app's Entra application permission first (EXA074), then re-run: exaudit run 'callpro-exo.yaml'"
    )


def test_exa051_propagating_word_for_word(app_policy: LoadedPolicy, online: Snapshot) -> None:
    snap = changed(_recent(online, "2026-11-26T10:30:00Z"), CEO, ProbeOutcome.ALLOWED, "200")
    found = find(app_policy, snap, "EXA051")
    assert found.status is Status.ERROR
    assert found.message == (
        f"Propagating, re-run after 2026-11-26 12:30 UTC: the assignment or scope changed less than two hours before "
        f"collection and the probe of {CEO} disagrees with Test-ServicePrincipalAuthorization (which bypasses "
        "Exchange's permission cache)."
    )
    assert (found.expected, found.actual) == (
        "every canary refused with 403 ErrorAccessDenied",
        "1 reachable, 0 undecided of 2",
    )
    assert len(found.evidence) == 2


def test_exa051_no_canary_no_sample_is_skip(tmp_path: Path, compliant: Snapshot) -> None:
    policy = probes_policy(tmp_path, "probes:\n  allow: groupMembers\n")
    found = find(policy, compliant, "EXA051")
    assert (found.status, found.message) == (Status.SKIP, "The policy names no canary and asks for no sample.")


def test_exa051_quotes_at_most_twenty_refusals(tmp_path: Path, compliant: Snapshot) -> None:
    many = [f"c{i:02d}@contoso.com" for i in range(22)]
    policy = probes_policy(tmp_path, "probes:\n  deny:\n    canaries: [" + ", ".join(many) + "]\n")
    refusals = [probe(m, ProbeOutcome.DENIED, "ErrorImpersonateUserDenied") for m in many]
    found = find(policy, with_probes(compliant, *refusals), "EXA051")
    assert found.status is Status.PASS
    assert found.message == "All 22 canary/sampled mailbox(es) were refused with ErrorImpersonateUserDenied."
    assert len(found.evidence) == 20
    # A refusal after the twentieth is not quoted, a breach always is.
    refusals[21] = probe(many[21], ProbeOutcome.ALLOWED, "NoError")
    found = find(policy, with_probes(compliant, *refusals), "EXA051")
    assert len(found.evidence) == 21
    assert found.evidence[-1].startswith(f"probe {many[21]} expect=deny")


def test_exa051_evidence_is_bounded(tmp_path: Path, compliant: Snapshot) -> None:
    many = [f"c{i:03d}@contoso.com" for i in range(201)]
    policy = probes_policy(tmp_path, "probes:\n  deny:\n    canaries: [" + ", ".join(many) + "]\n")
    found = find(policy, with_probes(compliant, *(probe(m, ProbeOutcome.ERROR) for m in many)), "EXA051")
    assert len(found.evidence) == 201
    assert found.evidence[-1] == "... and 1 more probe(s)"
    found = find(policy, with_probes(compliant, *(probe(m, ProbeOutcome.ERROR) for m in many[:200])), "EXA051")
    assert len(found.evidence) == 200
    assert found.evidence[-1].startswith(f"probe {many[199]} ")


OUTSIDE = ["gijs.grond@contoso.com", "hanna.huis@contoso.com", "ivo.intern@contoso.com", "jet.janssen@contoso.com"]


def sample(
    mailbox: str, outcome: ProbeOutcome = ProbeOutcome.DENIED, code: str = "ErrorImpersonateUserDenied"
) -> Probe:
    return probe(mailbox, outcome, code, source="sample")


def test_exa051_samples_counted_and_the_policys_own_mailboxes_ignored(tmp_path: Path, compliant: Snapshot) -> None:
    policy = probes_policy(
        tmp_path,
        "probes:\n  allow: [ad.viseur@contoso.com, zed@contoso.com]\n  deny:\n    canaries: [ceo@contoso.com]\n"
        "    sample: 2\n",
        "  members:\n    atLeast: [bea.buiten@contoso.com]\n"
        "    atMost: [bea.buiten@contoso.com, cor.veld@contoso.com]\n",
    )
    # Sampled for another policy of the same run: mailboxes this policy allows, reachable as they should be.
    others = [sample(m, ProbeOutcome.ALLOWED, "NoError") for m in (AD, BEA, COR, "zed@contoso.com")]
    snap = with_probes(
        compliant, probe(CEO, ProbeOutcome.DENIED, "ErrorImpersonateUserDenied"), sample(CEO), *others,
        sample(OUTSIDE[0]), sample(OUTSIDE[1]), probe(OUTSIDE[2], ProbeOutcome.ALLOWED, "NoError"),
    )  # fmt: skip
    found = find(policy, snap, "EXA051")
    assert (found.status, found.message) == (
        Status.PASS,
        "All 3 canary/sampled mailbox(es) were refused with ErrorImpersonateUserDenied.",
    )
    assert found.actual == "0 reachable, 0 undecided of 3"


def test_exa051_samples_are_read_only_when_asked_for(callpro: LoadedPolicy, compliant: Snapshot) -> None:
    snap = with_probes(compliant, sample(OUTSIDE[0], ProbeOutcome.ALLOWED, "NoError"), keep=True)
    found = find(callpro, snap, "EXA051")
    assert (found.status, found.actual) == (Status.PASS, "0 reachable, 0 undecided of 2")


def test_exa051_a_short_sample_is_undecided(tmp_path: Path, compliant: Snapshot) -> None:
    policy = probes_policy(
        tmp_path, "probes:\n  deny:\n    canaries: [ceo@contoso.com, hr-shared@contoso.com]\n    sample: 3\n"
    )
    snap = with_probes(compliant, sample(OUTSIDE[0]), keep=True)
    found = find(policy, snap, "EXA051")
    assert (found.status, found.message) == (
        Status.ERROR,
        "Canaries not proven out of reach: only 1 of 3 sampled recipients were probed.",
    )
    assert (found.expected, found.actual) == (
        "every canary refused with ErrorImpersonateUserDenied",
        "0 reachable, 0 undecided of 3",
    )
    snap = with_probes(compliant, sample(OUTSIDE[0]), compliant.probes[-2])
    found = find(policy, snap, "EXA051")
    assert found.message == (
        f"Canaries not proven out of reach: no probe was recorded: {HR}; only 1 of 3 sampled recipients were probed."
    )
    # Breached with a short sample: both said.
    snap = with_probes(compliant, sample(OUTSIDE[0], ProbeOutcome.ALLOWED, "NoError"), keep=True)
    found = find(policy, snap, "EXA051")
    assert found.message == (
        f"The service account CAN impersonate 1 mailbox(es) that must stay out of reach: {OUTSIDE[0]}. The scope "
        "does not hold. Undecided: only 1 of 3 sampled recipients were probed."
    )
    assert found.actual == "1 reachable, 0 undecided of 3"


def test_exa051_a_capped_sample_passes_with_the_cap_said(tmp_path: Path, compliant: Snapshot) -> None:
    policy = probes_policy(
        tmp_path, "probes:\n  deny:\n    canaries: [ceo@contoso.com, hr-shared@contoso.com]\n    sample: 9\n"
    )
    snap = with_probes(compliant, *map(sample, [*OUTSIDE, "room1@contoso.com"]), keep=True)
    found = find(policy, snap, "EXA051")
    assert found.message == (
        "All 7 canary/sampled mailbox(es) were refused with ErrorImpersonateUserDenied (all 5 recipient(s) outside "
        "the scope probed, sample 9 capped)."
    )
    assert found.evidence[0] == "sample: all 5 recipient(s) outside the scope probed, sample 9 capped"


def test_target_of_the_app_fixture() -> None:
    # Guards the app tests above: the online snapshot was probed as the app itself.
    assert online_snapshot().target == Target(
        "exchange-online", "https://outlook.office365.com", "https://graph.microsoft.com", APP_ID
    )


def test_probe_run_fixture_is_complete(compliant: Snapshot) -> None:
    # Guards the tests above: the compliant run completed without notes or leftovers.
    assert compliant.probe_run == ProbeRun("2026-11-20T09:00:05Z", "2026-11-20T09:00:07Z", 8, 300.0, True)


# --- EXA050: EXA040's reason for a refusal -------------------------------------------------------------------------


def test_exa050_names_exa040s_reason_word_for_word(callpro: LoadedPolicy, compliant: Snapshot) -> None:
    vip = ManagementScope(
        name="VIP Mailboxes",
        identity="VIP Mailboxes",
        scope_restriction_type="RecipientScope",
        exclusive=True,
        recipient_filter=f"PrimarySmtpAddress -eq '{DIRK}'",
    )
    snap = dataclasses.replace(compliant, scopes=(*compliant.scopes, vip))
    # bea has no mailbox and cor is refused without a reason EXA040 knows: only dirk's refusal gets one.
    snap = changed(snap, BEA, ProbeOutcome.NO_MAILBOX, detail="")
    snap = changed(snap, COR, ProbeOutcome.DENIED, "ErrorImpersonateUserDenied", detail="")
    snap = changed(snap, DIRK, ProbeOutcome.DENIED, "ErrorImpersonateUserDenied", detail="")
    found = find(callpro, snap, "EXA050")
    assert found.status is Status.FAIL
    assert found.message == (
        f"3 in-scope mailbox(es) cannot be impersonated: {BEA} has no mailbox (ErrorNonExistentMailbox), {COR} "
        f"refused with ErrorImpersonateUserDenied (outside the scope), {DIRK} refused with ErrorImpersonateUserDenied "
        "(taken away by exclusive scope 'VIP Mailboxes', see EXA040)."
    )
    assert found.evidence[-1] == f"effective scope (EXA040): {DIRK} taken away by exclusive scope 'VIP Mailboxes'"
    assert found.evidence[-2].startswith(f"probe {FIEN} ")
    assert found.actual == "3 of 6 allowed"


def test_exa051_a_sample_as_large_as_the_pool_is_not_capped(tmp_path: Path, compliant: Snapshot) -> None:
    policy = probes_policy(
        tmp_path, "probes:\n  deny:\n    canaries: [ceo@contoso.com, hr-shared@contoso.com]\n    sample: 5\n"
    )
    snap = with_probes(compliant, *map(sample, [*OUTSIDE, "room1@contoso.com"]), keep=True)
    found = find(policy, snap, "EXA051")
    assert (found.status, found.message) == (
        Status.PASS,
        "All 7 canary/sampled mailbox(es) were refused with ErrorImpersonateUserDenied.",
    )
    assert not any(line.startswith("sample:") for line in found.evidence)


def test_exa051_nothing_outside_the_scope_to_sample(tmp_path: Path, compliant: Snapshot) -> None:
    group = compliant.groups[0]
    everyone = tuple(
        dataclasses.replace(r, member_of=(*r.member_of, group.distinguished_name)) for r in compliant.recipients
    )
    snap = dataclasses.replace(compliant, recipients=everyone)
    policy = probes_policy(tmp_path, "probes:\n  deny:\n    canaries: [ceo@contoso.com]\n    sample: 10\n")
    found = find(policy, snap, "EXA051")
    assert found.message == (
        "All 1 canary/sampled mailbox(es) were refused with ErrorImpersonateUserDenied (no recipient exists outside "
        "the scope to sample: sample 10 capped to 0)."
    )
    assert found.evidence[0] == "sample: no recipient exists outside the scope to sample: sample 10 capped to 0"
    policy = probes_policy(tmp_path, "probes:\n  deny:\n    sample: 10\n")
    found = find(policy, snap, "EXA051")
    assert (found.status, found.message) == (
        Status.SKIP,
        "The policy names no canary and no recipient exists outside the scope to sample: sample 10 capped to 0; "
        "nothing was proven refused.",
    )


def test_exa051_an_unrelated_reach_does_not_make_a_pass_propagating(app_policy: LoadedPolicy, online: Snapshot) -> None:
    # Another policy's canary, reached and tested out of scope: none of this policy's canaries was reached.
    other = "other-canary@contoso.com"
    snap = _recent(online, "2026-11-26T10:30:00Z")
    snap = dataclasses.replace(
        snap,
        probes=(*snap.probes, probe(other, ProbeOutcome.ALLOWED, "200")),
        authorizations=(*snap.authorizations, row(other, False)),
    )
    found = find(app_policy, snap, "EXA051")
    assert (found.status, found.actual) == (Status.PASS, "0 reachable, 0 undecided of 2")


def test_exa051_a_sampled_mailbox_is_judged_whatever_its_recorded_text(tmp_path: Path, compliant: Snapshot) -> None:
    # A probe record is read as written: a sampled mailbox reached is a breach, even one whose recorded address is a
    # single letter (the snapshot is input; nothing here may quietly drop it).
    policy = probes_policy(
        tmp_path, "probes:\n  deny:\n    canaries: [ceo@contoso.com, hr-shared@contoso.com]\n    sample: 1\n"
    )
    snap = with_probes(compliant, sample("e", ProbeOutcome.ALLOWED, "NoError"), keep=True)
    found = find(policy, snap, "EXA051")
    assert found.status is Status.FAIL
    assert found.actual == "1 reachable, 0 undecided of 3"
