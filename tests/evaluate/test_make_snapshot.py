"""The benchmark generator writes a sealed snapshot that its own policy finds compliant."""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime
from pathlib import Path

from audit.evaluate import evaluate
from audit.findings import Status
from audit.policy import load_policy
from audit.snapshot import content_hash, from_document

ROOT = Path(__file__).resolve().parents[2]


def test_generated_snapshot_is_compliant(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("make_snapshot", ROOT / "bench" / "make_snapshot.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    doc = module.build(3_000, 150, True, 7)
    doc["sha256"] = content_hash(doc)
    snapshot, _ = from_document(doc)
    assert len(snapshot.recipients) == 3_000
    policy = load_policy(module.write_policy(tmp_path, doc, 150))
    assert len(policy.expected_members.required) == 150
    findings = evaluate(policy, snapshot, datetime(2026, 11, 26, tzinfo=UTC))
    assert {f.check_id: f.message for f in findings if f.status is not Status.PASS} == {}
