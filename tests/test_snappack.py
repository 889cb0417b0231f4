"""Evidence held packed (audit/snappack.py) is the same evidence: equal objects, the same file bytes and hash."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import pytest

from audit import snapfile
from audit import snapshot as s
from audit.snappack import BLOCK, PACK_MIN, PackedObjects, pack


def _objects(n: int) -> tuple[dict[str, Any], ...]:
    return tuple(
        {
            "Name": f'User {i} Ünïcode "quoted" \\ line\nbreak',
            "Count": i,
            "Ratio": i / 7,
            "Enabled": i % 2 == 0,
            "ThrottlingPolicy": None,
            "EmailAddresses": [f"SMTP:user{i}@contoso.com", f"smtp:u{i}@contoso.com"],
            "Nested": {"a": [1, "b"]},
        }
        for i in range(n)
    )


def test_a_packed_output_reads_as_the_tuple_it_replaces() -> None:
    objects = _objects(3 * BLOCK + 17)
    packed = pack(objects)
    assert isinstance(packed, PackedObjects)
    assert len(packed) == len(objects)
    assert packed == objects
    assert objects == packed
    assert list(packed) == list(objects)
    assert packed[0] == objects[0]
    assert packed[-1] == objects[-1]
    assert packed[BLOCK + 3] == objects[BLOCK + 3]
    for cut in (slice(0, BLOCK), slice(BLOCK, 2 * BLOCK), slice(3 * BLOCK, 4 * BLOCK), slice(5, 250), slice(None)):
        assert packed[cut] == objects[cut]
        assert isinstance(packed[cut], tuple)
    assert packed[10:5] == ()
    assert packed[::-50] == objects[::-50]
    with pytest.raises(IndexError):
        packed[len(objects)]
    changed = (*objects[:-1], {**objects[-1], "Count": -1})
    assert packed != changed
    assert changed != packed
    assert packed != list(objects)  # a tuple is not equal to a list: neither is its packing
    assert packed != objects[:-1]
    assert pack(objects) == packed
    assert "objects" in repr(packed)
    assert "User" not in repr(packed)


def test_small_outputs_and_values_json_does_not_give_back_stay_a_plain_tuple() -> None:
    assert pack(_objects(PACK_MIN - 1)) == _objects(PACK_MIN - 1)
    assert isinstance(pack(_objects(PACK_MIN - 1)), tuple)
    for odd in ({"Value": ("a", "tuple")}, {"Value": math.nan}, {"Value": b"bytes"}, {1: "int key"}):
        objects = (*_objects(PACK_MIN), odd)
        kept = pack(objects)  # type: ignore[arg-type]
        assert isinstance(kept, tuple)
        assert kept[-1] is odd


def _snapshot(evidence_objects: Any) -> s.Snapshot:
    return s.Snapshot(
        tool_version="0.1.0",
        collected_at="2026-11-26T10:00:00Z",
        finished_at="2026-11-26T10:00:05Z",
        target=s.Target("on-premises", "http://ex01.contoso.com/PowerShell", "http://ex01/EWS/Exchange.asmx", "svc@c"),
        calls=(s.CollectionCall("Get-Recipient", {"ResultSize": "Unlimited"}, True, len(evidence_objects), 3.0),),
        evidence=(
            s.RawOutput("Get-Group", {}, ()),
            s.RawOutput("Get-Recipient", {"ResultSize": "Unlimited"}, evidence_objects, ("Name", "Count")),
        ),
    )


@pytest.mark.parametrize("name", ["snap.json", "snap.json.gz"])
def test_a_snapshot_with_packed_evidence_is_written_byte_for_byte_the_same(tmp_path: Path, name: str) -> None:
    objects = _objects(2_345)
    plain, packed = _snapshot(objects), _snapshot(pack(objects))
    assert isinstance(packed.evidence[1].objects, PackedObjects)
    a, b = tmp_path / "plain", tmp_path / "packed"
    a.mkdir(), b.mkdir()
    sha = s.write(plain, a / name)
    assert s.write(packed, b / name) == sha == s.digest(packed) == s.digest(plain)
    assert (a / name).read_bytes() == (b / name).read_bytes()
    assert s.to_document(packed) == s.to_document(plain)
    assert s.dumps(packed) == s.dumps(plain)
    assert packed == plain
    loaded = snapfile.load_evidence(b / name)
    assert loaded == packed.evidence
    assert isinstance(loaded[1].objects, tuple)  # read back, evidence is the plain tuple


def test_the_blocks_are_the_writers_chunks() -> None:
    # The writer serializes CHUNK objects at a time: a block each, decoded once.
    assert BLOCK == snapfile.CHUNK


def test_a_packed_output_cannot_be_read_into_a_snapshot(tmp_path: Path) -> None:
    # Validation takes a file's evidence as the plain tuple; a packing only ever comes from the collector.
    path = tmp_path / "snap.json"
    s.write(_snapshot(pack(_objects(PACK_MIN))), path)
    snapshot, _sha = s.load(path, evidence=True)
    assert type(snapshot.evidence[1].objects) is tuple
    assert dataclasses.replace(snapshot, evidence=()) == s.load(path)[0]


def test_mappings_other_than_dicts_are_packed_or_kept_as_plain_dicts() -> None:
    from types import MappingProxyType

    objects = _objects(PACK_MIN + 1)
    views = [MappingProxyType(o) for o in objects]
    packed = pack(views)
    assert isinstance(packed, PackedObjects)
    assert packed == objects
    small = pack(views[:3])
    assert isinstance(small, tuple)
    assert all(type(o) is dict for o in small)
    assert small == objects[:3]
    odd = pack([*views, MappingProxyType({"Value": ("a", "tuple")})])
    assert isinstance(odd, tuple)
    assert all(type(o) is dict for o in odd)
