"""EXA051's sample capped by the recipients outside the scope, end to end against the lab (real pypsrp, exchangelib).

The lab's seed tenant (audit/lab/scenarios/_base.yaml) has six mailboxes outside the scope besides the canaries
and the service account. A policy asking for a sample of 10 gets all six probed and refused: a complete sample
(exit 0), said in the finding, where it used to be "only 6 of 10 sampled recipients were probed" (exit 3).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from audit.lab.server import LabServer

from .conftest import POLICY, run_cli

pytestmark = pytest.mark.e2e

# _base.yaml's mailboxes that are neither field sales members, canaries, nor the service account, and the lab's
# built-in Administrator (audit/lab/scenarios/README.md, "Applying a plan").
OUTSIDE = {"gijs.grond@contoso.com", "hanna.huis@contoso.com", "ivo.intern@contoso.com", "jet.janssen@contoso.com",
           "room1@contoso.com", "administrator@contoso.com"}  # fmt: skip


def _sampling(tmp_path: Path, n: int) -> Path:
    policy = tmp_path / f"sample-{n}.yaml"
    text = POLICY.read_text(encoding="utf-8")
    assert "    sample: 0 " in text
    policy.write_text(text.replace("    sample: 0 ", f"    sample: {n} "), encoding="utf-8")
    return policy


def test_a_sample_larger_than_the_tenant_is_capped_not_undecided(tmp_path: Path) -> None:
    with LabServer("compliant") as lab:
        run = run_cli(lab, tmp_path / "out", policy=_sampling(tmp_path, 10))
    assert run.code == 0, run.stderr
    finding = next(f for f in run.report()["findings"] if f["checkId"] == "EXA051")
    assert finding["status"].upper() == "PASS"
    assert "all 6 recipient(s) outside the scope probed, sample 10 capped" in finding["message"]
    snapshot = json.loads((tmp_path / "out" / "snapshot.json").read_text(encoding="utf-8"))
    sampled = {p["mailbox"]: p["outcome"] for p in snapshot["probes"] if p["source"] == "sample"}
    assert set(sampled) == OUTSIDE
    assert set(sampled.values()) == {"denied"}


def test_a_reachable_outsider_still_fails_with_a_capped_sample(tmp_path: Path) -> None:
    # second-path: an unscoped second assignment reaches every mailbox; the capped sample must show it.
    with LabServer("second-path") as lab:
        run = run_cli(lab, tmp_path / "out", policy=_sampling(tmp_path, 10))
    assert run.code == 1, run.stderr
    finding = next(f for f in run.report()["findings"] if f["checkId"] == "EXA051")
    assert finding["status"].upper() == "FAIL"
    assert all(address in finding["message"] for address in OUTSIDE), finding["message"]
