"""The random out-of-scope sample is drawn only from membership that was read (audit.run; no network)."""

from __future__ import annotations

import dataclasses

import pytest

from audit.policy import LoadedPolicy, load_policy
from audit.run import probe_targets
from audit.snapshot import CollectionCall
from tests.probe.test_targets import POLICY, _recipient, _state


def _sampling_policy(n: int) -> LoadedPolicy:
    policy = load_policy(POLICY)
    assert policy.spec.probes is not None
    probes = policy.spec.probes.model_copy(update={"deny": policy.spec.probes.deny.model_copy(update={"sample": n})})
    return dataclasses.replace(policy, spec=policy.spec.model_copy(update={"probes": probes}))


@pytest.mark.parametrize("cmdlet", ["Get-Group", "Get-Recipient"])
def test_no_sample_when_membership_was_not_read(cmdlet: str) -> None:
    # The state a failed Get-Group leaves: no group, no recipient with a membership. In-scope mailboxes would be
    # probed as outsiders, be allowed, and read as a critical breach. Not sampling leaves EXA051 at ERROR ("only 0
    # of N sampled recipients were probed"), which is what an unread membership is.
    policy = _sampling_policy(3)
    members = tuple(_recipient(f"stray{i}@contoso.com") for i in range(20))
    state = dataclasses.replace(
        _state(members),
        groups=(),
        calls=(CollectionCall(cmdlet, {"ResultSize": "Unlimited"}, False, 0, 1.0, "timed out"),),
    )
    targets = probe_targets([policy], state, seed=1)
    assert [t for t in targets if t.source == "sample"] == []
    assert {t.mailbox for t in targets if t.source == "canary"} == {"ceo@contoso.com", "hr-shared@contoso.com"}
    # Read, the same recipients are outsiders and are sampled.
    assert len([t for t in probe_targets([policy], _state(members), seed=1) if t.source == "sample"]) == 3
