"""Which mailboxes a live run probes, and how many at once (audit.run helpers; no network)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from audit.collect import CollectedState
from audit.policy import load_policy
from audit.run import TargetOptions, applicable_throttling_policy, probe_concurrency, probe_targets
from audit.snapshot import Group, Mailbox, Recipient, ThrottlingPolicy

POLICY = Path(__file__).resolve().parents[2] / "policies" / "callpro.yaml"
GROUP_DN = "CN=SecurityGroup-CallPro Calendar Access,OU=Groups,DC=contoso,DC=com"


def _recipient(address: str, member: bool = False) -> Recipient:
    alias = address.split("@", maxsplit=1)[0]
    return Recipient(
        name=alias, identity=alias, distinguished_name=f"CN={alias}", guid=alias, alias=alias, display_name=alias,
        primary_smtp_address=address, recipient_type="UserMailbox", recipient_type_details="UserMailbox",
        member_of=(GROUP_DN,) if member else (),
    )  # fmt: skip


GROUP = Group(
    "SecurityGroup-CallPro Calendar Access", "SecurityGroup-CallPro Calendar Access", "g", GROUP_DN, "g",
    "MailUniversalSecurityGroup", "Universal, SecurityEnabled",
)  # fmt: skip


def _state(
    recipients: tuple[Recipient, ...] = (),
    policies: tuple[ThrottlingPolicy, ...] = (),
    mailboxes: tuple[Mailbox, ...] = (),
) -> CollectedState:
    return CollectedState(
        organization=None, servers=(), role_assignments=(), scopes=(), roles=(), role_groups=(), groups=(GROUP,),
        recipients=recipients, mailboxes=mailboxes, users=(), throttling_policies=policies, calls=(), evidence=(),
    )  # fmt: skip


def test_positive_probes_for_expected_members_and_negative_for_canaries() -> None:
    policy = load_policy(POLICY)
    targets = probe_targets([policy], _state(), seed=1)
    allow = sorted(t.mailbox for t in targets if t.expect == "allow")
    deny = sorted(t.mailbox for t in targets if t.expect == "deny")
    assert allow == sorted(policy.expected_members.required)
    assert deny == ["ceo@contoso.com", "hr-shared@contoso.com"]


def test_sample_is_seeded_and_outside_the_scope() -> None:
    policy = load_policy(POLICY)
    spec = policy.spec.model_copy(
        update={
            "probes": policy.spec.probes.model_copy(
                update={"deny": policy.spec.probes.deny.model_copy(update={"sample": 3})}
            )
        }  # type: ignore[union-attr]
    )
    policy = dataclasses.replace(policy, spec=spec)
    outsiders = tuple(_recipient(f"staff{i}@contoso.com") for i in range(50))
    inside = tuple(_recipient(f"stray{i}@contoso.com", member=True) for i in range(200))
    state = _state(outsiders + inside + (_recipient("ceo@contoso.com"),))
    first = [t.mailbox for t in probe_targets([policy], state, seed=7) if t.source == "sample"]
    again = [t.mailbox for t in probe_targets([policy], state, seed=7) if t.source == "sample"]
    assert first == again
    assert len(first) == 3
    assert all(m.startswith("staff") for m in first)


def test_concurrency_is_capped_by_the_service_accounts_throttling_policy() -> None:
    glob = ThrottlingPolicy("GlobalThrottlingPolicy_x", "GlobalThrottlingPolicy_x", "Global", True, 27)
    own = ThrottlingPolicy("CallPro", "CallPro", "Regular", False, 4)
    svc = Mailbox(
        "svc",
        "svc",
        "CN=svc",
        "svc@contoso.com",
        "svcServiceAccount@contoso.com",
        "UserMailbox",
        throttling_policy="CallPro",
    )
    assert applicable_throttling_policy(_state(policies=(glob, own)), ["svcServiceAccount@contoso.com"]) == glob
    chosen = applicable_throttling_policy(
        _state(policies=(glob, own), mailboxes=(svc,)), ["svcServiceAccount@contoso.com"]
    )
    assert chosen == own
    assert probe_concurrency(8, own) == 4
    assert probe_concurrency(8, glob) == 8
    assert probe_concurrency(40, glob) == 27
    assert probe_concurrency(8, None) == 2  # no known policy: the conservative budget, never the request


def test_without_a_request_the_probes_take_half_the_accounts_ews_budget() -> None:
    """The integration shares the account's EWSMaxConcurrency: the audit takes half, never all of it."""
    glob = ThrottlingPolicy("GlobalThrottlingPolicy_x", "GlobalThrottlingPolicy_x", "Global", True, 27)
    assert probe_concurrency(None, glob) == 13
    assert probe_concurrency(None, dataclasses.replace(glob, ews_max_concurrency=10)) == 5
    assert probe_concurrency(None, dataclasses.replace(glob, ews_max_concurrency=1)) == 1
    assert probe_concurrency(None, dataclasses.replace(glob, ews_max_concurrency=None)) == 13  # Unlimited
    assert probe_concurrency(None, None) == 2  # unknown policy: the fail-safe budget
    assert probe_concurrency(27, glob) == 27  # --concurrency overrides, within the budget


def test_target_options_hide_secrets_and_derive_the_ews_url() -> None:
    t = TargetOptions(server="ex01.contoso.com", port=443, audit_password="pw-one", service_password="pw-two")
    assert "pw-one" not in repr(t)
    assert "pw-two" not in repr(t)
    assert t.resolved_ews_url == "https://ex01.contoso.com:443/EWS/Exchange.asmx"
    assert t.cert_validation is True
    assert TargetOptions(server="x", port=1, insecure=True).cert_validation is False
