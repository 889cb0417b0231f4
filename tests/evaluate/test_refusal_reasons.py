"""EXA050 names EXA040's reason for a refused member: the exclusive scope that took it away, or the root.

Built on the compliant snapshot with the member's probe turned into a refusal (ErrorImpersonateUserDenied) and one
rule that explains it. The refusal stays a FAIL whatever its reason; a refusal EXA040 cannot explain keeps the
plain "outside the scope".
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest

from audit.evaluate import evaluate
from audit.findings import Finding, Status
from audit.policy import LoadedPolicy, load_policy
from audit.snapshot import ManagementScope, ProbeOutcome, Recipient, Snapshot, load

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
DIRK = "dirk.dealer@contoso.com"
REFUSED = "refused with ErrorImpersonateUserDenied"


@pytest.fixture(scope="module")
def policy() -> LoadedPolicy:
    return load_policy(ROOT / "policies" / "callpro.yaml")


@pytest.fixture(scope="module")
def compliant() -> Snapshot:
    return load(ROOT / "tests" / "data" / "snapshots" / "compliant.snapshot.json")[0]


def refused(snap: Snapshot, *mailboxes: str) -> Snapshot:
    """The snapshot with these members' allow probes refused as Exchange refuses a mailbox outside the scope."""
    probes = tuple(
        dataclasses.replace(p, outcome=ProbeOutcome.DENIED, response_code="ErrorImpersonateUserDenied")
        if p.expect == "allow" and p.mailbox in mailboxes
        else p
        for p in snap.probes
    )
    assert sum(p.outcome is ProbeOutcome.DENIED and p.expect == "allow" for p in probes) == len(mailboxes)
    return dataclasses.replace(snap, probes=probes)


def vip(snap: Snapshot, recipient_filter: str = f"PrimarySmtpAddress -eq '{DIRK}'") -> Snapshot:
    scope = ManagementScope(
        name="VIP Mailboxes",
        identity="VIP Mailboxes",
        scope_restriction_type="RecipientScope",
        exclusive=True,
        recipient_filter=recipient_filter,
    )
    return dataclasses.replace(snap, scopes=(*snap.scopes, scope))


def rooted_away(snap: Snapshot, alias: str) -> Snapshot:
    """The scope rooted at OU=Field Sales, every member moved there except ``alias`` (still in CN=Users)."""

    def move(r: Recipient) -> Recipient:
        if r.alias == alias or not (r.primary_smtp_address or "").endswith("@contoso.com"):
            return r
        return dataclasses.replace(
            r,
            distinguished_name=f"CN={r.name},OU=Field Sales,DC=contoso,DC=com",
            identity=f"contoso.com/Field Sales/{r.name}",
        )

    scopes = tuple(dataclasses.replace(s, recipient_root="contoso.com/Field Sales") for s in snap.scopes)
    return dataclasses.replace(snap, scopes=scopes, recipients=tuple(move(r) for r in snap.recipients))


def findings(policy: LoadedPolicy, snap: Snapshot) -> dict[str, Finding]:
    return {f.check_id: f for f in evaluate(policy, snap, NOW)}


def test_a_member_an_exclusive_scope_took_away_is_refused_for_that_reason(
    policy: LoadedPolicy, compliant: Snapshot
) -> None:
    found = findings(policy, refused(vip(compliant), DIRK))
    exa040, exa050 = found["EXA040"], found["EXA050"]
    assert exa050.status is Status.FAIL
    reason = "taken away by exclusive scope 'VIP Mailboxes'"
    assert f"{DIRK} {REFUSED} ({reason}, see EXA040)" in exa050.message
    assert f"effective scope (EXA040): {DIRK} {reason}" in exa050.evidence
    # One story: EXA040 gives the same mailbox the same reason.
    assert f"{DIRK} ({reason})" in exa040.message


def test_a_member_the_root_leaves_out_is_refused_for_that_reason(policy: LoadedPolicy, compliant: Snapshot) -> None:
    found = findings(policy, refused(rooted_away(compliant, "eva.expediteur"), "eva.expediteur@contoso.com"))
    reason = "outside RecipientRoot contoso.com/Field Sales"
    assert found["EXA050"].status is Status.FAIL
    assert f"eva.expediteur@contoso.com {REFUSED} ({reason}, see EXA040)" in found["EXA050"].message
    assert f"eva.expediteur@contoso.com ({reason})" in found["EXA040"].message


def test_only_the_refusals_explained_get_a_reason(policy: LoadedPolicy, compliant: Snapshot) -> None:
    # cor.veld is refused too, but EXA040 finds him in scope: no reason is made up for him.
    found = findings(policy, refused(vip(compliant), DIRK, "cor.veld@contoso.com"))["EXA050"]
    assert found.status is Status.FAIL
    assert f"cor.veld@contoso.com {REFUSED} (outside the scope)," in found.message
    assert f"{DIRK} {REFUSED} (taken away by exclusive scope 'VIP Mailboxes', see EXA040)" in (found.message)
    assert not any("cor.veld" in e for e in found.evidence if e.startswith("effective scope"))


def test_an_exclusive_scope_that_cannot_be_evaluated_leaves_the_plain_wording(
    policy: LoadedPolicy, compliant: Snapshot
) -> None:
    # EXA040 cannot tell whom the scope takes away (ERROR): EXA050 still fails on the refusal, names no reason.
    found = findings(policy, refused(vip(compliant, "NoSuchProperty -eq 'x'"), DIRK))
    assert found["EXA040"].status is Status.ERROR
    assert found["EXA050"].status is Status.FAIL
    assert f"{DIRK} {REFUSED} (outside the scope)." in found["EXA050"].message
    assert not any(e.startswith("effective scope") for e in found["EXA050"].evidence)


def test_a_refusal_without_a_rule_behind_it_keeps_the_plain_wording(policy: LoadedPolicy, compliant: Snapshot) -> None:
    found = findings(policy, refused(compliant, DIRK))
    assert found["EXA040"].status is Status.PASS
    assert found["EXA050"].status is Status.FAIL
    assert f"{DIRK} {REFUSED} (outside the scope)." in found["EXA050"].message


def test_a_member_allowed_despite_an_exclusive_scope_stays_allowed(policy: LoadedPolicy, compliant: Snapshot) -> None:
    # The probe is what Exchange did: EXA040's reason never turns an allowed probe into a failure.
    found = findings(policy, vip(compliant))
    assert found["EXA040"].status is Status.FAIL
    assert found["EXA050"].status is Status.PASS
