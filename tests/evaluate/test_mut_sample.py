"""The pool ``probes.deny.sample`` draws from (audit.evaluate.sample.outside_pool): who is left out, and why.

Killed mutants of issue 14's mutation run: the pool must leave out the addresses atMost allows and the addresses
``probes.allow`` lists (both may be reached by design, so a refusal from them proves nothing about the scope).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from audit.evaluate.sample import outside_pool
from audit.snapshot import Snapshot, load
from tests.evaluate.test_sample_cap import OUTSIDE
from tests.evaluate.test_semantics import CALLPRO, DATA, policy_with


def members_block() -> str:
    """The policy's ``members: exactly:`` list as written, to replace it whole."""
    text = CALLPRO.read_text(encoding="utf-8")
    block = re.search(r"^    exactly:\n(?:      - .*\n)+", text, re.M)
    assert block is not None
    return block.group(0)


@pytest.fixture(scope="module")
def compliant() -> Snapshot:
    return load(DATA / "compliant.snapshot.json")[0]


def test_an_address_atmost_allows_is_not_in_the_pool(tmp_path: Path, compliant: Snapshot) -> None:
    policy = policy_with(
        tmp_path,
        members_block(),
        "    atLeast: [ad.viseur@contoso.com]\n"
        "    atMost: [ad.viseur@contoso.com, bea.buiten@contoso.com, cor.veld@contoso.com, dirk.dealer@contoso.com,\n"
        "             eva.expediteur@contoso.com, fien.field@contoso.com, Gijs.Grond@contoso.com]\n",
    )
    pool = outside_pool(policy, compliant.groups, compliant.recipients)
    assert pool == [a for a in OUTSIDE if a != "gijs.grond@contoso.com"]


def test_the_addresses_probes_allow_lists_are_not_in_the_pool(tmp_path: Path, compliant: Snapshot) -> None:
    policy = policy_with(tmp_path, "  allow: groupMembers", "  allow: [ad.viseur@contoso.com, Jet.Janssen@contoso.com]")
    pool = outside_pool(policy, compliant.groups, compliant.recipients)
    # The canaries and the service account stay out too: allow adds to what is left out, it replaces nothing.
    assert pool == [a for a in OUTSIDE if a != "jet.janssen@contoso.com"]
