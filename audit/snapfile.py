"""The snapshot file: a streamed, line-structured layout of the canonical JSON, optionally compressed.

``exaudit evaluate`` of a 100,000-recipient tenant used to read the whole file, then parse every member, the raw
cmdlet output kept as evidence included (half of the file and two thirds of the parsed objects), although no check
reads it. This layout lets a reader parse a record section at a time and only hash the evidence:

    {                                        <- line 1: exactly "{"
    "administrative_units":[],               <- a member: "key":value, (one line)
    "calls":[                                <- an array member opens ...
    {...},{...}                              <- ... records, about 1 MiB of them per line ...
    ,{...},{...}                             <- ... later lines start with the comma ...
    ],                                       <- ... and it closes
    "evidence":[                             <- the evidence: one raw cmdlet output per line
    {"cmdlet":"Get-Recipient","objects":[...],"parameters":{...}}
    ],
    ...                                      <- members in sorted key order, each once
    "sha256":"<64 hex>"}                     <- last line: the checksum

Removing the line breaks (and the checksum member) gives exactly the canonical JSON of the content, and the
checksum is SHA-256 over that text: the same definition as the single-line layout (``content_hash`` in
audit/snapshot.py), so the file is one JSON document any JSON tool reads, an older exaudit loads it (through its
general path), and the checksum is the same whether the file is plain or compressed. Writing (audit/snapwrite.py)
and hashing stream (a 1 MiB buffer; records are serialized a hundred at a time), reading streams too: the evidence
lines are hashed without being parsed unless asked for (:func:`load_evidence`), so they are verified on every load
and cost no memory.

Compression is chosen by the file name: ``.json`` plain, ``.gz`` gzip (standard library), ``.zst``/``.zstd`` zstd
when the running Python has ``compression.zstd`` (3.14+; no extra dependency). Any other name is an error.

Everything read is hostile: decompressed bytes are counted as they are produced (a decompression bomb stops at
:data:`MAX_TOTAL`), a parsed line is bounded (:data:`MAX_LINE`), as are the parsed bytes (:data:`MAX_PARSED`);
every member is validated against its type; anything unexpected is a :class:`SnapshotError` (exit 3).
"""

from __future__ import annotations

import contextlib
import functools
import gc
import gzip
import hashlib
import importlib
import io
import itertools
import json
import re
import sys
import typing
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import MISSING, dataclass, fields, replace
from pathlib import Path
from types import ModuleType
from typing import IO, Any

import pydantic

from audit.errors import SnapshotError, UsageError
from audit.files import DEFAULT_FILE_MODE
from audit.snapshot import RawOutput, Snapshot, check_schema_version, loads

CHUNK = 100  # records serialized at a time
LINE_TARGET = 1 << 20  # records go on one line until it holds about 1 MiB (~1,600 recipients): parsed one at a time
MAX_LINE = 256 << 20  # a line is ~1 MiB, or one record (a group of a million members is ~60 MiB); more is hostile
MAX_PARSED = 1 << 30  # bytes parsed into objects (~1.2 million recipients); bounds the memory a file can claim
MAX_TOTAL = 4 << 30  # decompressed bytes in all, evidence included (hashed in pieces, never held)
MAX_DOCUMENT = 1 << 30  # a single-line (older) snapshot is read whole: bounded before it is parsed
_PIECE = 1 << 20

_EVIDENCE = "evidence"

_KEY = re.compile(rb'\A"([a-z0-9_]{1,64})":')
_OPEN = re.compile(rb'\A"([a-z0-9_]{1,64})":\[\Z')
_HEAD = re.compile(rb'\A\{\n"[a-z0-9_]{1,64}":[^ ]')
_SEAL = re.compile(rb'\A"sha256":"([0-9a-f]{64})"\}\Z')
_MAGIC = {b"\x1f\x8b": "gzip", b"\x28\xb5\x2f\xfd": "zstd"}


# --- file names and compression ---------------------------------------------------------------------------------


def codec_for(path: Path) -> str:
    """The compression a snapshot file name asks for: "" (plain JSON), "gzip" or "zstd".

    Raises:
        UsageError: an extension that is neither .json, .gz nor .zst/.zstd, or zstd on a Python without it.
    """
    name = path.name.lower()
    if name.endswith(".gz"):
        return "gzip"
    if name.endswith((".zst", ".zstd")):
        zstd_module(path)
        return "zstd"
    if name.endswith(".json"):
        return ""
    raise UsageError(
        f"{path}: unknown snapshot file extension {path.suffix or '(none)'!r}: name it .json (plain), .json.gz "
        "(gzip) or .json.zst (zstd, Python 3.14 or later)"
    )


def zstd_module(path: Path) -> ModuleType:
    """The standard library's zstd module (Python 3.14+); a UsageError naming ``path`` where there is none."""
    try:
        return importlib.import_module("compression.zstd")
    except ImportError:
        version = ".".join(str(v) for v in sys.version_info[:2])
        raise UsageError(
            f"{path}: .zst needs Python 3.14 or later (the standard library's compression.zstd); this is Python "
            f"{version}: name the snapshot .json.gz (gzip) or .json"
        ) from None


class _Gunzip(io.RawIOBase):
    """gzip decompression in pieces of up to 1 MiB, the CRC and length checked by zlib itself.

    gzip.GzipFile hands out 8 KiB at a time and computes the CRC in Python: a third of the time of reading a
    compressed 100,000-recipient snapshot. Concatenated members are read as one stream, as gzip does.
    """

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.inflate = zlib.decompressobj(wbits=31)
        self.input = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        size = len(buffer)
        while True:
            if self.inflate.eof:
                rest = self.inflate.unused_data or self.raw.read(_PIECE)
                if not rest:
                    return 0
                self.inflate, self.input = zlib.decompressobj(wbits=31), rest
            if not self.input:
                self.input = self.raw.read(_PIECE)
                if not self.input:
                    raise EOFError("the compressed file ends before the end of its stream")
            out = self.inflate.decompress(self.input, size)  # at most what was asked: bombs stay bounded
            self.input = self.inflate.unconsumed_tail
            if out:
                buffer[: len(out)] = out
                return len(out)


@contextlib.contextmanager
def _reading(path: Path) -> Iterator[IO[bytes]]:
    """The decompressed content of a snapshot file, checked against what its name says it is."""
    codec = codec_for(path)
    try:
        raw = io.BufferedReader(io.FileIO(path, "r"), buffer_size=_PIECE)
    except FileNotFoundError as exc:
        raise SnapshotError(f"{path}: no such snapshot file") from exc
    except OSError as exc:
        raise SnapshotError(f"{path}: cannot read snapshot: {exc.strerror or exc}") from exc
    with raw:
        head = raw.peek(4)[:4]  # not consumed: the stream starts at the first byte
        found = next((c for magic, c in _MAGIC.items() if head.startswith(magic)), "")
        if found != codec:
            said = f"{codec}-compressed" if codec else "plain JSON"
            actual = f"{found}-compressed" if found else "not compressed"
            raise SnapshotError(f"{path}: named as {said} but the file is {actual}; rename it to match its content")
        damaged: tuple[type[Exception], ...] = (EOFError, zlib.error, gzip.BadGzipFile)
        if codec == "gzip":
            stream: IO[bytes] = io.BufferedReader(_Gunzip(raw), buffer_size=_PIECE)
        elif codec == "zstd":
            zstd = zstd_module(path)
            stream, damaged = zstd.ZstdFile(raw, "rb"), (EOFError, zstd.ZstdError)
        else:
            stream = raw
        try:
            yield stream
        except damaged as exc:
            raise SnapshotError(f"{path}: the {codec} stream is corrupt or truncated ({exc})") from None
        except OSError as exc:
            raise SnapshotError(f"{path}: cannot read snapshot: {exc.strerror or exc}") from exc


def read_bounded(path: Path, limit: int) -> bytes:
    """Up to ``limit`` + 1 decompressed bytes of a snapshot file (a caller refuses more), read in pieces."""
    out = bytearray()
    with _reading(path) as stream:
        while len(out) <= limit and (piece := stream.read(min(_PIECE, limit + 1 - len(out)))):
            out += piece
    return bytes(out)


# --- reading -----------------------------------------------------------------------------------------------------


@functools.cache
def _hints() -> dict[str, Any]:
    return typing.get_type_hints(Snapshot)


@functools.cache
def field_adapter(name: str) -> pydantic.TypeAdapter[Any]:
    """The validator and serializer of one member of :class:`Snapshot` (built once, on first use)."""
    return pydantic.TypeAdapter(_hints()[name])


@functools.cache
def adapter_of(kind: Any) -> pydantic.TypeAdapter[Any]:
    """A validator and serializer of ``kind`` (built once, on first use)."""
    return pydantic.TypeAdapter(kind)


class _NotLayout(SnapshotError):
    """The bytes are not in the line layout after all (a hand-formatted document): read them whole instead."""


class _Reader:
    """Reads the layout line by line from a decompressed stream, hashing exactly what :class:`_Sink` hashed."""

    def __init__(self, stream: IO[bytes], source: str) -> None:
        self.stream = stream
        self.source = source
        self.digest = hashlib.sha256()
        self.pending = b""
        self.total = 0
        self.parsed = 0
        self.lineno = 0

    def fail(self, why: str) -> SnapshotError:
        return _NotLayout(f"{self.source}:{self.lineno}: {why}")

    def _piece(self, size: int) -> bytes:
        piece = self.stream.readline(size)
        self.total += len(piece)
        if self.total > MAX_TOTAL:
            raise SnapshotError(
                f"{self.source}: more than {MAX_TOTAL >> 30} GiB once decompressed; refusing it (a decompression "
                "bomb, or not a snapshot exaudit wrote)"
            )
        return piece

    def hash(self, content: bytes) -> None:
        if content:
            self.digest.update(self.pending)
            self.digest.update(memoryview(content)[:-1])
            self.pending = content[-1:]

    def line(self, limit: int | None = None) -> bytes | None:
        """The next line without its line break, counted as parsed; None at the end of the file."""
        limit = MAX_LINE if limit is None else limit
        self.lineno += 1
        parts: list[bytes] = []
        size = 0
        while True:
            piece = self._piece(min(_PIECE, limit + 1 - size))
            if not piece:
                if parts:
                    raise self.fail("the file ends in the middle of a line: it is truncated")
                return None
            parts.append(piece)
            size += len(piece)
            if piece.endswith(b"\n"):
                break
            if size > limit:
                where = f"{self.source}:{self.lineno}"
                raise SnapshotError(f"{where}: a line longer than {limit >> 20} MiB: not a snapshot exaudit wrote")
        content = b"".join(parts)[:-1]
        self.parsed += len(content)
        if self.parsed > MAX_PARSED:
            raise SnapshotError(f"{self.source}: more than {MAX_PARSED >> 30} GiB of records; refusing it")
        return content

    def skip_line(self) -> bytes | None:
        """Hash the next line in pieces without keeping it; returns its first piece (None at the end of the file)."""
        self.lineno += 1
        first = self._piece(_PIECE)
        if not first:
            return None
        piece = first
        while True:
            self.hash(piece[:-1] if piece.endswith(b"\n") else piece)
            if piece.endswith(b"\n"):
                return first
            piece = self._piece(_PIECE)
            if not piece:
                raise self.fail("the file ends in the middle of a line: it is truncated")


@dataclass(slots=True)
class _Parsed:
    members: dict[str, Any]
    errors: list[str]
    sha: str = ""
    sealed: bool = False  # the checksum line was found and matches


def _is_layout(stream: IO[bytes]) -> bool:
    peek = getattr(stream, "peek", None)
    return peek is not None and is_layout(peek(80))


def _read_array(reader: _Reader, key: str, keep: bool, parsed: _Parsed) -> None:
    parts: list[tuple[Any, ...]] = []
    count = 0
    first = True
    while True:
        # One cmdlet's raw output is one line (51 MiB for Get-Recipient of 100,000): bounded by the parsed total.
        line = reader.line(MAX_PARSED if key == _EVIDENCE else None) if keep else reader.skip_line()
        if line is None:
            raise reader.fail(f"the file ends inside '{key}': it is truncated")
        if line in (b"],", b"],\n"):
            if keep:
                reader.hash(line)
            break
        if first == line.startswith(b","):
            raise reader.fail(f"the records of '{key}' are not separated as exaudit writes them")
        body = line if first else line[1:]
        first = False
        if not keep:
            continue
        reader.hash(line)
        if parsed.errors:
            continue  # already invalid: only hash on, to find the version and the checksum
        try:
            chunk = field_adapter(key).validate_json(b"[" + body + b"]")
        except pydantic.ValidationError as exc:
            parsed.errors.append(_where(key, exc, count))
            continue
        parts.append(chunk)
        count += len(chunk)
    if keep and not parsed.errors:
        parsed.members[key] = tuple(itertools.chain.from_iterable(parts))


def _where(key: str, exc: pydantic.ValidationError, offset: int = 0) -> str:
    first = exc.errors()[0]
    loc = list(first["loc"])
    if loc and isinstance(loc[0], int):
        loc[0] += offset
    where = ".".join(str(p) for p in [key, *loc])
    return f"invalid snapshot at '{where}': {first['msg']} ({exc.error_count()} problem(s))"


def _parse_layout(stream: IO[bytes], source: str, wanted: Callable[[str], bool]) -> _Parsed:
    """Parse the members ``wanted`` says, hash every byte; validation errors are collected, layout errors raise."""
    reader = _Reader(stream, source)
    if reader.line() != b"{":
        raise reader.fail("not a snapshot exaudit wrote")
    reader.hash(b"{")
    parsed = _Parsed({}, [])
    previous = b""
    while True:
        line = reader.line()
        if line is None:
            raise reader.fail("the file ends before its checksum line: it is truncated")
        seal = _SEAL.match(line)
        if seal is not None:
            if reader.pending != b",":
                raise reader.fail("the checksum line does not follow a member")
            reader.digest.update(b"}")
            if reader.line() is not None:
                raise reader.fail("something follows the checksum line")
            parsed.sha = seal.group(1).decode("ascii")
            parsed.sealed = reader.digest.hexdigest() == parsed.sha
            return parsed
        match = _KEY.match(line)
        if match is None:
            raise reader.fail('not a snapshot member line ("key":value,)')
        if match.group(1) <= previous:
            raise reader.fail(f"the member '{match.group(1).decode()}' is out of order or repeated")
        previous = match.group(1)
        key = previous.decode("ascii")
        reader.hash(line)
        keep = key in _hints() and wanted(key)
        if _OPEN.match(line):
            _read_array(reader, key, keep, parsed)
            continue
        if not line.endswith(b","):
            raise reader.fail(f"the member '{key}' does not end with a comma")
        value = line[match.end() : -1]
        if key == "schema_version":
            parsed.members[key] = _json_or_none(value)  # always: it decides which message a bad file gets
        elif keep and not parsed.errors:
            try:
                parsed.members[key] = field_adapter(key).validate_json(value)
            except pydantic.ValidationError as exc:
                parsed.errors.append(_where(key, exc))


def _json_or_none(value: bytes) -> object:
    try:
        return json.loads(value)
    except ValueError:
        return None


def _checked(parsed: _Parsed, source: str) -> None:
    """Refuse what exaudit must not evaluate, the most useful message first (version, then checksum, then type)."""
    check_schema_version(parsed.members.get("schema_version"), source)
    if not parsed.sealed:
        raise SnapshotError(
            f"{source}: SHA-256 mismatch (recorded {parsed.sha[:12]}...): the snapshot was changed after it was "
            "written. Collect a new one with `exaudit collect`."
        )
    if parsed.errors:
        raise SnapshotError(f"{source}: {parsed.errors[0]}")


def _required() -> list[str]:
    return [f.name for f in fields(Snapshot) if f.default is MISSING and f.default_factory is MISSING]


def _snapshot_of(members: dict[str, Any], source: str) -> Snapshot:
    for name in _required():
        if name not in members:
            raise SnapshotError(f"{source}: invalid snapshot at '{name}': Field required (1 problem(s))")
    return Snapshot(**members)


@contextlib.contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Parsing builds a million acyclic records: the cycle collector would walk them all, again and again.

    Measured on 100,000 recipients: a quarter of the load time. Reference counting still frees everything.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _load_stream(stream: IO[bytes], source: str, wanted: Callable[[str], bool]) -> tuple[Snapshot, str] | None:
    """The snapshot in the line layout, or None when the stream holds another layout (read whole by the caller)."""
    if not _is_layout(stream):
        return None
    with _no_cycle_collection():
        parsed = _parse_layout(stream, source, wanted)
    _checked(parsed, source)
    return _snapshot_of(parsed.members, source), parsed.sha


def _whole(stream: IO[bytes], source: str) -> bytes:
    data = stream.read(MAX_DOCUMENT + 1)
    if len(data) > MAX_DOCUMENT:
        raise SnapshotError(
            f"{source}: a single-document snapshot larger than {MAX_DOCUMENT >> 20} MiB once decompressed; "
            "refusing it (a decompression bomb, or not a snapshot exaudit wrote)"
        )
    return data


def _without_evidence(name: str) -> bool:
    return name != _EVIDENCE


def load(path: Path, *, evidence: bool = False, sections: Iterable[str] | None = None) -> tuple[Snapshot, str]:
    """Read, verify and parse a snapshot file; returns the snapshot and its SHA-256.

    Every byte is hashed and checked; only the members evaluation reads are parsed: the raw cmdlet output
    (``evidence``) only when asked, and with ``sections`` only those (the required members always). A snapshot in
    the older single-line layout is read whole (bounded), as before.
    """
    only = None if sections is None else {*sections, *_required()}

    def wanted(name: str) -> bool:
        return (evidence or name != _EVIDENCE) and (only is None or name in only)

    with contextlib.suppress(_NotLayout), _reading(path) as stream:
        loaded = _load_stream(stream, str(path), wanted)
        if loaded is not None:
            return loaded
    with _reading(path) as stream:  # another layout (older, or formatted by hand): read whole, bounded
        data = _whole(stream, str(path))
    snapshot, sha = loads(data, str(path), layout=False)
    return (snapshot if evidence else replace(snapshot, evidence=())), sha


def write(snapshot: Snapshot, path: Path, mode: int = DEFAULT_FILE_MODE) -> str:
    """Write the snapshot to ``path`` (streamed, atomically, mode 0600 unless told) and return its SHA-256."""
    from audit import snapwrite  # noqa: PLC0415  (the writer imports this module's names and limits)

    return snapwrite.write(snapshot, path, mode)


def write_document(doc: Mapping[str, Any], path: Path, mode: int = DEFAULT_FILE_MODE) -> str:
    """Write a snapshot given as its JSON document (bench/make_snapshot.py, tests) in the same layout."""
    from audit import snapwrite  # noqa: PLC0415

    return snapwrite.write_document(doc, path, mode)


def digest(snapshot: Snapshot) -> str:
    """The SHA-256 :func:`write` would record, computed without writing or holding the text."""
    from audit import snapwrite  # noqa: PLC0415

    return snapwrite.digest(snapshot)


def load_evidence(path: Path) -> tuple[RawOutput, ...]:
    """The raw cmdlet output kept in a snapshot file, verified with the whole file (for a report that shows it)."""
    return load(path, evidence=True, sections=(_EVIDENCE,))[0].evidence


def is_layout(data: bytes) -> bool:
    """Whether bytes start like a snapshot in the line layout (the reader still falls back when they are not)."""
    return _HEAD.match(data) is not None


def loads_layout(data: bytes, source: str) -> tuple[Snapshot, str] | None:
    """Parse snapshot bytes held in memory in the line layout; None when they are in another layout."""
    try:
        return _load_stream(io.BufferedReader(io.BytesIO(data)), source, lambda name: True)
    except _NotLayout:
        return None
