"""The snapshot file (audit/snapfile.py): line layout, compression by name, lazy evidence, hostile files refused."""

from __future__ import annotations

import dataclasses
import gzip
import importlib.util
import io
import json
import tracemalloc
from pathlib import Path

import pytest

from audit import bundle, cli, snapfile
from audit import snapshot as s
from audit.errors import SnapshotError, UsageError

ROOT = Path(__file__).resolve().parents[1]
POLICY = ROOT / "policies" / "callpro.yaml"
COMPLIANT = ROOT / "tests" / "data" / "snapshots" / "compliant.snapshot.json"
NOW = "2026-11-26T12:00:00+00:00"
HAS_ZSTD = importlib.util.find_spec("compression") is not None and importlib.util.find_spec("compression.zstd")


def _recipient(i: int) -> s.Recipient:
    return s.Recipient(
        name=f"User {i:06d}",
        identity=f"contoso.com/Users/User {i:06d}",
        distinguished_name=f"CN=User {i:06d},CN=Users,DC=contoso,DC=com",
        guid=f"00000000-0000-4000-8000-{i:012d}",
        alias=f"user{i:06d}",
        display_name=f"User {i:06d} Ünïcode",
        primary_smtp_address=f"user{i:06d}@contoso.com",
        recipient_type="UserMailbox",
        recipient_type_details="UserMailbox",
        email_addresses=(f"SMTP:user{i:06d}@contoso.com",),
    )


def _snapshot(recipients: int = 2_500) -> s.Snapshot:
    rows = tuple(_recipient(i) for i in range(recipients))
    raw = tuple({"Name": r.name, "PrimarySmtpAddress": r.primary_smtp_address, "Note": "line\nbreak"} for r in rows)
    return s.Snapshot(
        tool_version="0.1.0",
        collected_at="2026-11-26T10:00:00Z",
        finished_at="2026-11-26T10:00:05Z",
        target=s.Target("on-premises", "http://ex01.contoso.com/PowerShell", "http://ex01/EWS/Exchange.asmx", "svc@c"),
        recipients=rows,
        calls=(s.CollectionCall("Get-Recipient", {"ResultSize": "Unlimited"}, True, len(rows), 3.0),),
        probes=(s.Probe("user000001@contoso.com", "allow", "groupMembers", "calendarRead", s.ProbeOutcome.ALLOWED),),
        evidence=(
            s.RawOutput("Get-Recipient", {"ResultSize": "Unlimited"}, raw),
            s.RawOutput("Get-Group", {}, ()),
        ),
    )


@pytest.fixture(scope="module")
def snap() -> s.Snapshot:
    return _snapshot()


@pytest.mark.parametrize("name", ["snap.json", "snap.json.gz"])
def test_round_trip_keeps_the_canonical_checksum(snap: s.Snapshot, tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    sha = s.write(snap, path)
    text = gzip.decompress(path.read_bytes()) if name.endswith(".gz") else path.read_bytes()
    doc = json.loads(text)  # one JSON document, whatever the layout
    assert sha == doc["sha256"] == s.content_hash(doc) == s.to_document(snap)["sha256"] == s.digest(snap)
    assert s.load(path, evidence=True) == (snap, sha)
    assert s.load(path) == (dataclasses.replace(snap, evidence=()), sha)
    assert snapfile.load_evidence(path) == snap.evidence
    assert len(text.splitlines()) > 5  # a section at a time, not one line


def test_a_compressed_snapshot_is_the_same_snapshot_and_smaller(snap: s.Snapshot, tmp_path: Path) -> None:
    plain, packed = tmp_path / "a.json", tmp_path / "a.json.gz"
    assert s.write(snap, plain) == s.write(snap, packed)
    assert gzip.decompress(packed.read_bytes()) == plain.read_bytes()
    assert packed.stat().st_size * 5 < plain.stat().st_size
    assert packed.read_bytes() == (s.write(snap, packed), packed.read_bytes())[1]  # no time or name in the header


def test_the_older_single_line_layout_still_loads(snap: s.Snapshot, tmp_path: Path) -> None:
    path = tmp_path / "old.json"
    path.write_text(s.dumps(snap), encoding="utf-8")
    assert path.read_bytes().startswith(b'{"sha256":"')
    assert s.load(path)[0] == dataclasses.replace(snap, evidence=())
    assert s.load(path, evidence=True)[0] == snap
    gz = tmp_path / "old.json.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    assert s.load(gz, evidence=True) == s.load(path, evidence=True)


def test_only_the_sections_asked_for_are_parsed(snap: s.Snapshot, tmp_path: Path) -> None:
    path = tmp_path / "snap.json"
    s.write(snap, path)
    part, _ = snapfile.load(path, sections=("probes",))
    assert part.probes == snap.probes
    assert part.recipients == ()
    assert part.evidence == ()
    assert part.target == snap.target  # the required members always


def test_evidence_is_verified_without_being_parsed(snap: s.Snapshot, tmp_path: Path) -> None:
    path = tmp_path / "snap.json"
    s.write(snap, path)
    text = path.read_text(encoding="utf-8")
    # Evidence of the wrong type, re-sealed: evaluation does not parse it (so it loads), the evidence reader refuses.
    doc = json.loads(text)
    doc["evidence"][0]["objects"] = [1, 2]
    doc["sha256"] = snapfile.write_document(doc, path)
    assert s.load(path)[0].recipients == snap.recipients
    with pytest.raises(SnapshotError, match=r"invalid snapshot at 'evidence\.0\.objects\.0'"):
        snapfile.load_evidence(path)
    # A changed byte in the evidence, not re-sealed: refused by every reader, evaluation included.
    path.write_text(text.replace('PrimarySmtpAddress":"user000007', 'PrimarySmtpAddress":"ceo0000007', 1))
    for read in (s.load, snapfile.load_evidence):
        with pytest.raises(SnapshotError, match="SHA-256 mismatch"):
            read(path)


def test_a_signed_bundle_covers_the_evidence_of_a_compressed_snapshot(snap: s.Snapshot, tmp_path: Path) -> None:
    folder = tmp_path / "bundle"
    folder.mkdir()
    s.write(snap, folder / "snapshot.json.gz")
    key = bundle.Ed25519PrivateKey.generate()
    bundle.sign(folder, key, tool_version="t", created_at="now")
    assert bundle.verify(folder, key.public_key()).ok
    # Evidence edited and the snapshot re-sealed (its unkeyed checksum is recomputable): the signature catches it.
    doc = json.loads(gzip.decompress((folder / "snapshot.json.gz").read_bytes()))
    doc["evidence"][0]["objects"][0]["Name"] = "Someone Else"
    snapfile.write_document(doc, folder / "snapshot.json.gz")
    s.load(folder / "snapshot.json.gz")  # consistent on its own
    result = bundle.verify(folder, key.public_key())
    assert not result.ok
    assert [c.split(" ")[0] for c in result.changed] == ["snapshot.json.gz"]


@pytest.mark.parametrize("name", ["snap.txt", "snap", "snap.json.xz", "snap.json.bz2"])
def test_an_unknown_extension_is_a_clear_error(snap: s.Snapshot, tmp_path: Path, name: str) -> None:
    with pytest.raises(UsageError, match=r"unknown snapshot file extension .*\.json \(plain\), \.json\.gz"):
        s.write(snap, tmp_path / name)
    assert list(tmp_path.iterdir()) == []  # nothing half-written
    (tmp_path / name).write_text("{}")
    with pytest.raises(UsageError, match="unknown snapshot file extension"):
        s.load(tmp_path / name)


def test_zstd_is_used_only_where_the_standard_library_has_it(snap: s.Snapshot, tmp_path: Path) -> None:
    path = tmp_path / "snap.json.zst"
    if HAS_ZSTD:  # Python 3.14+
        sha = s.write(snap, path)
        assert s.load(path, evidence=True) == (snap, sha)
    else:
        with pytest.raises(UsageError, match=r"\.zst needs Python 3\.14 .* \.json\.gz"):
            s.write(snap, path)


def test_a_name_that_does_not_match_the_content_is_refused(snap: s.Snapshot, tmp_path: Path) -> None:
    s.write(snap, tmp_path / "a.json.gz")
    (tmp_path / "a.json").write_bytes((tmp_path / "a.json.gz").read_bytes())
    with pytest.raises(SnapshotError, match="named as plain JSON but the file is gzip-compressed"):
        s.load(tmp_path / "a.json")
    (tmp_path / "b.json.gz").write_text("{}")
    with pytest.raises(SnapshotError, match="named as gzip-compressed but the file is not compressed"):
        s.load(tmp_path / "b.json.gz")


def test_a_truncated_compressed_snapshot_is_refused(snap: s.Snapshot, tmp_path: Path) -> None:
    path = tmp_path / "snap.json.gz"
    s.write(snap, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(SnapshotError, match="gzip stream is corrupt or truncated"):
        s.load(path)


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        (lambda t: t[: len(t) * 2 // 3], "not valid JSON"),  # cut inside a section
        (lambda t: t.rsplit('"sha256"', 1)[0], "not valid JSON"),  # the checksum line lost
        (lambda t: t.replace('"probes":[', '"calls":[', 1), "SHA-256 mismatch"),  # a member twice
        (lambda t: t + "{}\n", "not valid JSON"),  # something after the end
    ],
    ids=["truncated", "no-checksum", "repeated-member", "trailing"],
)
def test_a_damaged_layout_is_refused(snap: s.Snapshot, tmp_path: Path, edit: object, needle: str) -> None:
    path = tmp_path / "snap.json"
    s.write(snap, path)
    path.write_text(edit(path.read_text(encoding="utf-8")), encoding="utf-8")  # type: ignore[operator]
    with pytest.raises(SnapshotError, match=needle):
        s.load(path)


def test_a_wrong_type_names_the_record_across_lines(
    snap: s.Snapshot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(snapfile, "LINE_TARGET", 10_000)  # many lines of recipients
    doc = json.loads(s.dumps(snap))
    doc["recipients"][2_345]["member_of"] = 5
    path = tmp_path / "snap.json"
    snapfile.write_document(doc, path)
    assert b'"recipients":[\n' in path.read_bytes()
    assert path.read_bytes().count(b"\n,{") > 20  # a line per 100 records, the least serialized at a time
    with pytest.raises(SnapshotError, match=r"invalid snapshot at 'recipients\.2345\.member_of'"):
        s.load(path)


def test_a_newer_schema_says_to_upgrade_before_anything_else(snap: s.Snapshot, tmp_path: Path) -> None:
    doc = json.loads(s.dumps(snap))
    doc["schema_version"] = s.SCHEMA_VERSION + 1
    doc["recipients"][0]["member_of"] = 5  # a newer schema may change a record: the version is what to say
    path = tmp_path / "snap.json"
    snapfile.write_document(doc, path)
    with pytest.raises(SnapshotError, match="Upgrade exaudit"):
        s.load(path)


def _bomb(tmp: Path, size: int, head: bytes) -> Path:
    """A gzip file a few hundred KiB long that decompresses to ``size`` bytes (a layout head, then one long line)."""
    path = tmp / "bomb.json.gz"
    with gzip.open(path, "wb", compresslevel=9) as out:
        out.write(head)
        block = b"x" * (1 << 20)
        for _ in range(size >> 20):
            out.write(block)
    assert path.stat().st_size < size // 100
    return path


@pytest.mark.parametrize(
    ("head", "limit", "needle"),
    [
        (b'{\n"evidence":[\n{"cmdlet":"', "MAX_TOTAL", "decompression bomb"),  # hashed in pieces, never parsed
        (b'{\n"calls":[\n{"cmdlet":"', "MAX_LINE", "a line longer than"),  # a line that would be parsed
        (b'{"sha256":"', "MAX_DOCUMENT", "decompression bomb"),  # the single-line layout, read whole
    ],
    ids=["evidence", "record-line", "single-document"],
)
def test_a_decompression_bomb_is_stopped_while_decompressing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, head: bytes, limit: str, needle: str
) -> None:
    monkeypatch.setattr(snapfile, limit, 8 << 20)
    monkeypatch.setattr(snapfile, "MAX_PARSED", 16 << 20)  # also bounds one cmdlet's raw output when parsed
    path = _bomb(tmp_path, 256 << 20, head)
    tracemalloc.start()
    try:
        with pytest.raises(SnapshotError, match=needle):
            s.load(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 32 << 20  # never the 256 MiB it expands to


def _peaks(snap: s.Snapshot, path: Path) -> tuple[int, int]:
    tracemalloc.start()
    try:
        sha = s.write(snap, path)
        _, write_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        assert s.digest(snap) == sha
        _, digest_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return write_peak, digest_peak


def test_writing_and_hashing_stream(tmp_path: Path) -> None:
    small = _peaks(_snapshot(5_000), tmp_path / "small.json.gz")
    large = _peaks(_snapshot(25_000), tmp_path / "large.json.gz")
    size = len(gzip.decompress((tmp_path / "large.json.gz").read_bytes()))
    assert size > 12 << 20
    # A chunk of records at a time: five times the recipients (and the raw output) take no more memory to write.
    assert max(large) < 1.5 * max(small)
    assert max(large) < size // 2


def test_the_cli_evaluates_diffs_and_takes_baselines_from_compressed_snapshots(tmp_path: Path) -> None:
    compliant, _ = s.load(COMPLIANT, evidence=True)
    packed = tmp_path / "compliant.json.gz"
    s.write(compliant, packed)

    def run(*argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        return cli.main(list(argv), stdout=out, stderr=err), out.getvalue(), err.getvalue()

    plain = run("evaluate", str(POLICY), "--snapshot", str(COMPLIANT), "--now", NOW, "--json", str(tmp_path / "a"))
    gz = run("evaluate", str(POLICY), "--snapshot", str(packed), "--now", NOW, "--json", str(tmp_path / "b"))
    assert plain[0] == gz[0] == 0
    a, b = (json.loads((tmp_path / n).read_text()) for n in "ab")
    assert [f["status"] for f in a["findings"]] == [f["status"] for f in b["findings"]]
    assert run("diff", str(COMPLIANT), str(packed))[0] == 0
    code, _, err = run("evaluate", str(POLICY), "--snapshot", str(packed), "--now", NOW, "--baseline", str(packed))
    assert code == 0, err
    code, _, err = run("evaluate", str(POLICY), "--snapshot", str(tmp_path / "s.json.xz"), "--now", NOW)
    assert code == 2
    assert "unknown snapshot file extension '.xz'" in err


def test_collect_refuses_an_unknown_extension_before_connecting(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    argv = ["collect", str(POLICY), "--server", "192.0.2.1", "--out", str(tmp_path / "s.snap")]
    assert cli.main(argv, stdout=out, stderr=err) == 2
    assert "unknown snapshot file extension '.snap'" in err.getvalue()
