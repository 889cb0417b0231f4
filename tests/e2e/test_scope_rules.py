"""Issue 9's access rules end to end (real pypsrp and exchangelib against the lab): what collection reads of them,
what the auditor concludes, and that its effective scope is the set of mailboxes the lab itself lets the account
open."""

from __future__ import annotations

from pathlib import Path

import pytest

from audit.lab.authz import Authorizer
from audit.lab.server import LabServer
from audit.snapshot import load

from .conftest import run_cli

pytestmark = pytest.mark.e2e

FIELD = {f"{a}@contoso.com" for a in ("ad.viseur", "bea.buiten", "cor.veld", "dirk.dealer", "eva.expediteur")}
FIELD |= {"fien.field@contoso.com"}  # policies/callpro.yaml's members


def finding(report: dict[str, object], check: str) -> dict[str, object]:
    findings = report["findings"]
    assert isinstance(findings, list)
    return next(f for f in findings if f["checkId"] == check)


def auditor_set(exa040: dict[str, object]) -> set[str]:
    """The mailboxes EXA040 found in scope: the policy's members, less those out of scope, plus the extra ones."""
    evidence = [str(e) for e in exa040["evidence"]]  # type: ignore[attr-defined]
    missing = {e.split(": ", 1)[1].split(" ", 1)[0] for e in evidence if e.startswith("expected, not in scope: ")}
    extra = {e.split(": ", 1)[1] for e in evidence if e.startswith("in scope, not allowed: ")}
    return (FIELD - missing) | extra


@pytest.mark.parametrize("scenario", ["exclusive-vip", "recipient-root", "recipient-root-dn", "ou-scoped-assignment"])
def test_the_auditors_effective_scope_is_what_the_lab_lets_the_account_open(scenario: str, tmp_path: Path) -> None:
    with LabServer(scenario) as lab:
        run = run_cli(lab, tmp_path)
        reached = {m.primary_smtp for m in Authorizer(lab.tenant).reachable_mailboxes("svcServiceAccount")}
    exa040 = finding(run.report(), "EXA040")
    assert auditor_set(exa040) == reached
    assert str(exa040["actual"]).startswith(f"{len(reached)} of ")


def test_exclusive_scope_nobody_of_the_account_uses_is_collected_and_named(tmp_path: Path) -> None:
    with LabServer("exclusive-vip") as lab:
        run = run_cli(lab, tmp_path)
    snapshot = load(tmp_path / "snapshot.json")[0]
    # Collection reads every scope of the organisation, not only those the account's assignments use.
    assert [(s.name, s.exclusive) for s in snapshot.scopes if s.exclusive] == [("VIP Mailboxes", True)]
    exa040 = finding(run.report(), "EXA040")
    assert exa040["status"] == "FAIL"
    assert "dirk.dealer@contoso.com (taken away by exclusive scope 'VIP Mailboxes')" in str(exa040["message"])
    # EXA050 tells the same story for the refused probe.
    exa050 = finding(run.report(), "EXA050")
    assert exa050["status"] == "FAIL"
    assert (
        "dirk.dealer@contoso.com refused with ErrorImpersonateUserDenied (taken away by exclusive scope 'VIP "
        "Mailboxes', see EXA040)"
    ) in str(exa050["message"])
    assert run.code == 1


def test_members_a_root_leaves_out_are_refused_for_that_reason(tmp_path: Path) -> None:
    with LabServer("recipient-root") as lab:
        run = run_cli(lab, tmp_path)
    exa040, exa050 = finding(run.report(), "EXA040"), finding(run.report(), "EXA050")
    root = "contoso.com/Field Sales"
    out = sorted(FIELD - auditor_set(exa040))
    assert out == ["eva.expediteur@contoso.com", "fien.field@contoso.com"]
    for mailbox in out:
        assert f"{mailbox} (outside RecipientRoot {root})" in str(exa040["message"])
        assert (f"{mailbox} refused with ErrorImpersonateUserDenied (outside RecipientRoot {root}, see EXA040)") in str(
            exa050["message"]
        )
    assert run.code == 1


def test_roots_and_ou_scopes_reach_the_snapshot_in_exchanges_form(tmp_path: Path) -> None:
    with LabServer("recipient-root-dn") as lab:
        run_cli(lab, tmp_path / "root")
    with LabServer("ou-scoped-assignment") as lab:
        run_cli(lab, tmp_path / "ou")
    rooted = load(tmp_path / "root" / "snapshot.json")[0]
    assert [s.recipient_root for s in rooted.scopes] == ["contoso.com/Staff"]  # set as a DN, shown canonical
    ou = load(tmp_path / "ou" / "snapshot.json")[0]
    callpro = next(a for a in ou.role_assignments if a.name == "ApplicationImpersonation-CallPro Calendar Access")
    assert (callpro.recipient_write_scope, callpro.recipient_ou_scope) == ("OU", "contoso.com/Field Sales")
    assert callpro.custom_recipient_write_scope is None
