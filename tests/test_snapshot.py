"""The snapshot format: sealed, versioned, verified on load; every bad file is refused with one clear message."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from audit import snapshot as s
from audit.errors import SnapshotError


def _snapshot() -> s.Snapshot:
    return s.Snapshot(
        tool_version="0.1.0",
        collected_at="2026-11-26T10:00:00Z",
        finished_at="2026-11-26T10:00:05Z",
        target=s.Target("on-premises", "http://ex01.contoso.com/PowerShell", "http://ex01/EWS/Exchange.asmx", "svc@c"),
        recipients=(
            s.Recipient(
                name="Ad Viseur",
                identity="contoso.com/Users/Ad Viseur",
                distinguished_name="CN=Ad Viseur,OU=Users,DC=contoso,DC=com",
                guid="4f0b4a4e-0000-4000-8000-000000000001",
                alias="ad.viseur",
                display_name="Ad Viseur",
                primary_smtp_address="ad.viseur@contoso.com",
                recipient_type="UserMailbox",
                recipient_type_details="UserMailbox",
                email_addresses=("SMTP:ad.viseur@contoso.com", "smtp:a.viseur@contoso.com"),
                member_of=("CN=SecurityGroup-CallPro Calendar Access,OU=Groups,DC=contoso,DC=com",),
            ),
        ),
        calls=(
            s.CollectionCall("Get-Recipient", {"ResultSize": "Unlimited"}, ok=True, object_count=1, duration_ms=3.0),
        ),
        probes=(s.Probe("ad.viseur@contoso.com", "allow", "groupMembers", "calendarRead", s.ProbeOutcome.ALLOWED),),
        evidence=(s.RawOutput("Get-Recipient", {"ResultSize": "Unlimited"}, ({"Name": "Ad Viseur", "Ünïcode": "é"},)),),
    )


def test_round_trip_through_a_file(tmp_path: Path) -> None:
    path = tmp_path / "snap.json"
    sha = s.write(_snapshot(), path)
    loaded, loaded_sha = s.load(path, evidence=True)
    assert loaded == _snapshot()
    assert loaded_sha == sha
    evaluated, _ = s.load(path)  # what evaluation reads: everything but the raw output, which is only verified
    assert evaluated == dataclasses.replace(_snapshot(), evidence=())
    assert s.content_hash(json.loads(path.read_text())) == sha  # the seal is the documented canonical hash


def test_a_pretty_printed_snapshot_with_the_same_content_is_accepted() -> None:
    doc = json.loads(s.dumps(_snapshot()))
    text = json.dumps(doc, indent=2)  # hand-formatted, same content
    loaded, _ = s.loads(text)
    assert loaded == _snapshot()


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        (lambda t: t.replace("ad.viseur@contoso.com", "ceo@contoso.com", 1), "SHA-256 mismatch"),
        (lambda t: t[: len(t) // 2], "not valid JSON"),
        (lambda t: "", "not valid JSON"),
        (lambda t: "[1, 2]", "expected a JSON object"),
        (lambda t: t.replace('"sha256":', '"seal":', 1), "no 'sha256' checksum"),
        (lambda t: "\xff\xfe garbage", "not valid JSON"),
    ],
    ids=["tampered", "truncated", "empty", "not-an-object", "unsealed", "garbage"],
)
def test_bad_snapshots_are_refused(edit: object, needle: str) -> None:
    text = edit(s.dumps(_snapshot()))  # type: ignore[operator]
    with pytest.raises(SnapshotError, match=needle):
        s.loads(text, "snap.json")


def test_a_newer_schema_is_refused_with_what_to_do() -> None:
    doc = json.loads(s.dumps(_snapshot()))
    doc["schema_version"] = s.SCHEMA_VERSION + 1
    doc["sha256"] = s.content_hash(doc)
    with pytest.raises(SnapshotError, match="Upgrade exaudit"):
        s.loads(json.dumps(doc), "snap.json")


def test_a_wrong_type_names_where() -> None:
    doc = json.loads(s.dumps(_snapshot()))
    doc["recipients"][0]["member_of"] = 5
    doc["sha256"] = s.content_hash(doc)
    with pytest.raises(SnapshotError, match=r"recipients\.0\.member_of"):
        s.loads(json.dumps(doc), "snap.json")


def test_a_missing_file_is_a_snapshot_error(tmp_path: Path) -> None:
    with pytest.raises(SnapshotError, match="no such snapshot file"):
        s.load(tmp_path / "nope.json")


def test_call_status_fails_closed() -> None:
    snap = _snapshot()
    assert snap.call_status("Get-Recipient") == (True, "")
    ok, why = snap.call_status("Get-ManagementScope")
    assert not ok
    assert "not called" in why
