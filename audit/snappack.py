"""Cmdlet output held compressed between collection and the snapshot file (the evidence of a live run).

A live ``exaudit run`` keeps the raw output of every cmdlet as evidence until the snapshot is written, after
probing and evaluating. At 100,000 mailboxes the Get-Recipient and Get-Mailbox objects are 110 MiB of Python
dicts that nothing reads before the writer; held as blocks of compressed JSON they are a few MiB. A
:class:`PackedObjects` is a read-only sequence of the same dicts (equal to the tuple it replaces, element by
element), so the snapshot writer and every reader see the same values and the file keeps its bytes and hash.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Annotated, Any, cast, overload

from pydantic import GetCoreSchemaHandler, GetPydanticSchema
from pydantic_core import core_schema

BLOCK = 100
"""Objects per compressed block; the snapshot writer serializes this many at a time (audit.snapfile.CHUNK)."""

PACK_MIN = 2 * BLOCK
"""Outputs with fewer objects stay a plain tuple: packing them would save little."""

_LEVEL = 1  # zlib: ~10x on Exchange objects; higher levels cost several times the CPU for a few percent


def _decode(block: bytes) -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = json.loads(zlib.decompress(block))
    return objects


class PackedObjects(Sequence[dict[str, Any]]):
    """A tuple of JSON objects held as zlib-compressed JSON blocks; each access decodes the block it needs."""

    __slots__ = ("_blocks", "_count")

    def __init__(self, blocks: tuple[bytes, ...], count: int) -> None:
        self._blocks = blocks
        self._count = count

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[dict[str, Any], ...]: ...

    def __getitem__(self, index: int | slice) -> dict[str, Any] | tuple[dict[str, Any], ...]:
        if isinstance(index, slice):
            start, stop, step = index.indices(self._count)
            if step == 1 and start % BLOCK == 0 and stop - start <= BLOCK:
                return tuple(_decode(self._blocks[start // BLOCK])[: stop - start]) if stop > start else ()
            return tuple(self[i] for i in range(start, stop, step))
        if index < 0:
            index += self._count
        if not 0 <= index < self._count:
            raise IndexError("PackedObjects index out of range")
        return _decode(self._blocks[index // BLOCK])[index % BLOCK]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for block in self._blocks:
            yield from _decode(block)

    def __eq__(self, other: object) -> bool:
        # Compares like the tuple it stands for: equal to a tuple (or another packing) of equal objects.
        if isinstance(other, PackedObjects) and other._blocks == self._blocks:
            return other._count == self._count
        if not isinstance(other, (tuple, PackedObjects)) or len(other) != self._count:
            return False
        return all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]  # like the tuple of dicts it stands for: unhashable

    def __repr__(self) -> str:
        return f"PackedObjects({self._count} objects)"


def _objects_schema(_source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
    # Validated as the plain tuple, with the same error locations (a file's evidence is always read as one);
    # serialized as the list of objects whether tuple or packing, exactly what the tuple alone gave.
    schema: dict[str, Any] = dict(handler.generate_schema(tuple[dict[str, Any], ...]))
    schema["serialization"] = core_schema.plain_serializer_function_ser_schema(
        list, return_schema=core_schema.list_schema(core_schema.any_schema())
    )
    return cast("core_schema.CoreSchema", schema)


Objects = Annotated[tuple[dict[str, Any], ...] | PackedObjects, GetPydanticSchema(_objects_schema)]
"""The type of ``RawOutput.objects``: the tuple read from a file, or a packing held by a live run."""


def pack(objects: Sequence[Mapping[str, Any]]) -> tuple[dict[str, Any], ...] | PackedObjects:
    """``objects`` packed when they are many and JSON gives them back equal, else as a plain tuple.

    Only values JSON reads back equal are packed (strings, numbers, booleans, None, lists and dicts of them, as
    the collector makes them): a block that does not come back equal (a tuple value, a NaN) leaves the whole
    output as it was, so what the snapshot holds never depends on the packing.
    """
    if len(objects) < PACK_MIN:
        return _plain(objects)
    blocks: list[bytes] = []
    for start in range(0, len(objects), BLOCK):
        # A block at a time: the dicts of a whole answer (a collector's rows made plain) never exist all at once.
        chunk = list(_plain(objects[start : start + BLOCK]))
        try:
            text = json.dumps(chunk, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError):
            return _plain(objects)
        if json.loads(text) != chunk:
            return _plain(objects)
        blocks.append(zlib.compress(text.encode("utf-8"), _LEVEL))
    return PackedObjects(tuple(blocks), len(objects))


def _plain(objects: Sequence[Mapping[str, Any]]) -> tuple[dict[str, Any], ...]:
    return tuple(o if isinstance(o, dict) else dict(o) for o in objects)
