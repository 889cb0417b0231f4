"""EXA051 caps probes.deny.sample by the recipients outside the scope that exist (audit.evaluate.sample).

The compliant snapshot has five mailboxes outside the scope besides the two canaries: gijs.grond, hanna.huis,
ivo.intern, jet.janssen and room1. A sample of 10 cannot give ten refusals there.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from audit.evaluate import evaluate
from audit.evaluate.sample import outside_pool
from audit.findings import Finding, Status
from audit.policy import LoadedPolicy, load_policy
from audit.snapshot import CollectionCall, Probe, ProbeOutcome, Snapshot, load
from tests.evaluate.test_semantics import DATA, NOW, policy_with

OUTSIDE = ["gijs.grond@contoso.com", "hanna.huis@contoso.com", "ivo.intern@contoso.com", "jet.janssen@contoso.com",
           "room1@contoso.com"]  # fmt: skip


def _denied(mailbox: str, source: str = "sample") -> Probe:
    return Probe(mailbox, "deny", source, "calendarRead", ProbeOutcome.DENIED, "ErrorImpersonateUserDenied")


def _exa051(policy: LoadedPolicy, snap: Snapshot) -> Finding:
    return next(f for f in evaluate(policy, snap, NOW) if f.check_id == "EXA051")


@pytest.fixture(scope="module")
def compliant() -> Snapshot:
    return load(DATA / "compliant.snapshot.json")[0]


@pytest.fixture
def sampling(tmp_path: Path) -> LoadedPolicy:
    return policy_with(tmp_path, "sample: 0", "sample: 10")


def test_the_pool_is_what_the_runner_draws_from(sampling: LoadedPolicy, compliant: Snapshot) -> None:
    assert outside_pool(sampling, compliant.groups, compliant.recipients) == OUTSIDE


def test_a_sample_larger_than_the_pool_passes_when_every_outsider_was_refused(
    sampling: LoadedPolicy, compliant: Snapshot
) -> None:
    snap = dataclasses.replace(compliant, probes=(*compliant.probes, *map(_denied, OUTSIDE)))
    found = _exa051(sampling, snap)
    assert found.status is Status.PASS, found.message
    assert "all 5 recipient(s) outside the scope probed, sample 10 capped" in found.message
    assert found.actual == "0 reachable, 0 undecided of 7"
    assert found.evidence[0] == "sample: all 5 recipient(s) outside the scope probed, sample 10 capped"


def test_a_pool_member_without_a_probe_stays_undecided(sampling: LoadedPolicy, compliant: Snapshot) -> None:
    snap = dataclasses.replace(compliant, probes=(*compliant.probes, *map(_denied, OUTSIDE[:-1])))
    found = _exa051(sampling, snap)
    assert found.status is Status.ERROR
    assert "room1@contoso.com" in found.message


def test_a_pool_member_probed_as_another_policys_canary_counts(sampling: LoadedPolicy, compliant: Snapshot) -> None:
    # One run, two policies: room1 is the other policy's canary, so its probe is recorded with source "canary".
    probes = (*compliant.probes, *map(_denied, OUTSIDE[:-1]), _denied(OUTSIDE[-1], "canary"))
    assert _exa051(sampling, dataclasses.replace(compliant, probes=probes)).status is Status.PASS


def test_a_reachable_outsider_is_still_the_breach(sampling: LoadedPolicy, compliant: Snapshot) -> None:
    reached = Probe(OUTSIDE[0], "deny", "sample", "calendarRead", ProbeOutcome.ALLOWED, "NoError")
    snap = dataclasses.replace(compliant, probes=(*compliant.probes, reached, *map(_denied, OUTSIDE[1:])))
    found = _exa051(sampling, snap)
    assert found.status is Status.FAIL
    assert OUTSIDE[0] in found.message


def test_a_sample_within_the_pool_is_not_capped(tmp_path: Path, compliant: Snapshot) -> None:
    three = policy_with(tmp_path, "sample: 0", "sample: 3")
    snap = dataclasses.replace(compliant, probes=(*compliant.probes, *map(_denied, OUTSIDE[:3])))
    found = _exa051(three, snap)
    assert found.status is Status.PASS
    assert "capped" not in found.message
    short = dataclasses.replace(compliant, probes=(*compliant.probes, *map(_denied, OUTSIDE[:2])))
    found = _exa051(three, short)
    assert found.status is Status.ERROR
    assert "only 2 of 3 sampled recipients were probed" in found.message


@pytest.mark.parametrize("cmdlet", ["Get-Group", "Get-Recipient"])
def test_unread_membership_is_not_capped(sampling: LoadedPolicy, compliant: Snapshot, cmdlet: str) -> None:
    # Without the membership the pool is unknown; the runner drew no sample, and EXA051 must not call it complete.
    calls = tuple(
        dataclasses.replace(c, ok=False, error="timed out") if c.cmdlet == cmdlet else c for c in compliant.calls
    )
    snap = dataclasses.replace(compliant, calls=calls)
    found = _exa051(sampling, snap)
    assert found.status is Status.ERROR
    assert "only 0 of 10 sampled recipients were probed" in found.message


def test_an_empty_pool_is_said_not_passed_silently(sampling: LoadedPolicy, compliant: Snapshot) -> None:
    # Every mailbox joined the group (the canaries too): there is no one outside the scope left to refuse.
    group = compliant.groups[0]
    recipients = tuple(
        dataclasses.replace(r, member_of=(*r.member_of, group.distinguished_name)) for r in compliant.recipients
    )
    snap = dataclasses.replace(compliant, recipients=recipients)
    assert outside_pool(sampling, snap.groups, snap.recipients) == []
    found = _exa051(sampling, snap)
    assert found.status is Status.PASS  # the two canaries were refused
    assert "no recipient exists outside the scope to sample: sample 10 capped to 0" in found.message
    # Without canaries nothing at all was refused: SKIP with the reason, never PASS.
    text = sampling.path.read_text(encoding="utf-8")
    start = text.index("    canaries:")
    end = text.index("    sample: 10")
    bare = sampling.path.with_name("bare.yaml")
    bare.write_text(text[:start] + "    canaries: []\n" + text[end:], encoding="utf-8")
    found = _exa051(load_policy(bare), snap)
    assert found.status is Status.SKIP
    assert "capped to 0" in found.message


def test_calls_fixture_has_the_membership_reads(compliant: Snapshot) -> None:
    # Guards the tests above: they rely on the compliant snapshot having read Get-Group and Get-Recipient.
    assert {c.cmdlet for c in compliant.calls if isinstance(c, CollectionCall) and c.ok} >= {
        "Get-Group",
        "Get-Recipient",
    }
