"""Reading Exchange's pipeline output (CLIXML, Partial serialization) quickly, as plain Python values.

pypsrp 0.9 re-serializes every element it visits (``ET.tostring``), about 3 ms per Exchange object on this
machine; a 10,000-mailbox Get-Recipient would take half a minute in the client alone. Exchange's Partial format
is flat (scalars, ToString-only objects, lists of strings), so this module reads it directly and hands anything
else (type-table objects, references) back to pypsrp's own deserializer.
"""

from __future__ import annotations

import re
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable, Collection, Iterator, Mapping
from typing import Any

from pypsrp.complex_objects import GenericComplexObject
from pypsrp.serializer import Serializer


def plain(value: Any) -> Any:
    """A deserialized PSRP value as plain Python: strings, bools, ints, lists, or None."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, GenericComplexObject):
        # A multi-valued property arrives as an object of an Exchange collection type with a <LST>; pypsrp does
        # not know the type and keeps the <LST> element in property_sets, as a list or as its XML text.
        for entry in value.property_sets:
            if isinstance(entry, list):
                return [plain(v) for v in entry]
            if isinstance(entry, str) and entry.lstrip().startswith(("<LST", "<IE")):
                return _list_items(entry)
        if value.to_string is not None:
            return str(value.to_string)
        return {str(k): plain(v) for k, v in value.adapted_properties.items()}
    return str(value)


_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")


def _list_items(xml_text: str) -> list[Any]:
    """The items of a CLIXML ``<LST>`` (strings, or the ToString of objects; Nil items dropped)."""
    # The text is pypsrp's re-serialization of an element it already parsed, so entities are already resolved.
    element = ET.fromstring(xml_text)  # noqa: S314
    items: list[Any] = []
    for child in element:
        if child.tag == "Nil":
            continue
        if child.tag == "Obj":
            text = child.findtext("ToString")
            if text is not None:
                items.append(_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text))
            continue
        if child.tag == "B":
            items.append((child.text or "").strip().lower() == "true")
            continue
        items.append(_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), child.text or ""))
    return items


def _decode(text: str | None) -> str:
    """A CLIXML string with PowerShell's ``_xHHHH_`` escapes undone (surrogate pairs rejoined)."""
    if not text:
        return ""
    if "_x" not in text:
        return text
    raw = _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
    return raw.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


_SCALARS: dict[str, Callable[[str | None], Any]] = {
    "S": _decode,
    "URI": _decode,
    "XD": _decode,
    "B": lambda t: (t or "").strip().lower() == "true",
    "I16": lambda t: int(t or 0),
    "I32": lambda t: int(t or 0),
    "I64": lambda t: int(t or 0),
    "U16": lambda t: int(t or 0),
    "U32": lambda t: int(t or 0),
    "U64": lambda t: int(t or 0),
    "By": lambda t: int(t or 0),
    "SB": lambda t: int(t or 0),
    "Db": lambda t: float(t or 0),
    "Sg": lambda t: float(t or 0),
    "D": lambda t: t or "",
    "G": lambda t: t or "",
    "DT": lambda t: t or "",
    "TS": lambda t: t or "",
    "Version": lambda t: t or "",
    "C": lambda t: chr(int(t or 0)),
    "Nil": lambda t: None,
}


class _Unsupported(Exception):
    """The fast path met CLIXML it does not handle; pypsrp's own deserializer takes the object."""


def _fast_value(element: ET.Element) -> Any:
    convert = _SCALARS.get(element.tag)
    if convert is not None:
        return convert(element.text)
    if element.tag != "Obj":
        raise _Unsupported(element.tag)
    for child in element:
        if child.tag in ("LST", "IE"):
            return [_fast_value(item) for item in child]
    to_string = element.find("ToString")
    if to_string is not None:
        return _decode(to_string.text)
    raise _Unsupported("Obj without ToString or list")


def fast_output_object(xml_text: str, keep: Collection[str] | None = None) -> GenericComplexObject | None:
    """Deserialize one Exchange output object (Partial serialization) quickly, or None to let pypsrp do it.

    pypsrp 0.9 re-serializes every element it visits (``ET.tostring``), about 3 ms per Exchange object on this
    machine; a 10,000-mailbox Get-Recipient would take half a minute in the client alone. Exchange's Partial
    format is flat (scalars, ToString-only objects, lists of strings), so this reads it directly and hands
    anything else (type-table objects, references) back to pypsrp. ``keep`` (lower-case names) drops every
    other adapted property as it is read.
    """
    element = ET.fromstring(xml_text)  # noqa: S314  (a PSRP message from the server; expat resolves no entities)
    if element.tag != "Obj":
        return None
    obj = GenericComplexObject()
    try:
        for child in element:
            if child.tag == "TN":
                obj.types = [t.text or "" for t in child]
            elif child.tag == "ToString":
                obj.to_string = _decode(child.text)
            elif child.tag == "Props":
                for prop in child:
                    name = prop.attrib.get("N", "")
                    if keep is None or name.lower() in keep:
                        obj.adapted_properties[name] = _fast_value(prop)
            elif child.tag == "MS":
                obj.extended_properties = {p.attrib.get("N", ""): _fast_value(p) for p in child}
            else:
                return None  # TNRef across messages, LST/DCT at the top, primitives: pypsrp's business
    except _Unsupported:
        return None
    if not obj.types or obj.types[0].removeprefix("Deserialized.").startswith("System."):
        return None
    return obj


# A property with more distinct values than this in one answer is per-object (a name, an address, a GUID): its
# values are not looked up for sharing any more (see Shared).
SHARED_DISTINCT = 64

_PER_OBJECT: dict[Any, Any] = {}  # the marker of a property found per-object (never holds anything)


class Shared:
    """Makes the equal values of one answer's few-valued properties one string object, and its names one object.

    Every object of a 100,000-mailbox answer spells the same 28 property names, and most of its values repeat a
    handful of strings (RecipientType "UserMailbox", a department, a company). Read from the wire each is a new
    string of 50 to 100 bytes: two thirds of a collected mailbox's memory. Names are interned (bounded by the
    kept names' spellings); a value is shared while its property has shown at most :data:`SHARED_DISTINCT`
    distinct values in this answer, so properties unique per object cost one lookup and nothing kept. One
    instance serves one call (one thread); it is dropped with the answer.
    """

    __slots__ = ("_layouts", "_values")

    def __init__(self) -> None:
        self._values: dict[str, dict[Any, Any]] = {}
        self._layouts: dict[tuple[str, ...], dict[str, int]] = {}

    def row(self, names: list[str], values: list[Any]) -> Mapping[str, Any]:
        """The properties as a :class:`Row` sharing its name table with the answer's other objects, or a dict.

        A dict when the answer has shown more than :data:`SHARED_DISTINCT` layouts: a row is only worth it for
        the same few layouts over and over.
        """
        layout = tuple(names)
        index = self._layouts.get(layout)
        if index is None:
            # A name sent twice (Get-Recipient sends Name twice) keeps its first place and its last value, as
            # a dict filled from the wire does.
            index = {name: i for i, name in enumerate(names)}
            if len(self._layouts) >= SHARED_DISTINCT:
                return dict(zip(names, values, strict=True))
            self._layouts[layout] = index
        return Row(index, tuple(values))

    @staticmethod
    def name(name: str) -> str:
        """The one object for this spelling of a property name."""
        return sys.intern(name)

    def value(self, name: str, value: Any) -> Any:
        """``value``, or the equal string already read for property ``name`` in this answer."""
        if type(value) is not str:
            return value  # bools and None are singletons, lists are not shared
        seen = self._values.get(name)
        if seen is None:
            seen = self._values[name] = {}
        elif seen is _PER_OBJECT:
            return value
        shared = seen.get(value)
        if shared is not None:
            return shared
        if len(seen) >= SHARED_DISTINCT:
            self._values[name] = _PER_OBJECT  # the values seen so far stay shared by the objects holding them
            return value
        seen[value] = value
        return value


class Row(Mapping[str, Any]):
    """One object's kept properties: its values, and the position of each name in a table its answer shares.

    A dict per object costs 830 bytes for Get-Recipient's 28 kept properties, mostly its own hash table of the
    same 28 names, and all 100,000 objects of an answer are alive together when it ends. A row is a tuple of its
    values (about 270 bytes) and a reference to the table every object with the same names shares. It reads as
    the dict it stands for (equal to it, same order); the evidence is written from plain dicts (audit.snappack).
    """

    __slots__ = ("_index", "_values")

    def __init__(self, index: dict[str, int], values: tuple[Any, ...]) -> None:
        self._index = index
        self._values = values

    def __getitem__(self, key: str) -> Any:
        return self._values[self._index[key]]

    def get(self, key: str, default: Any = None) -> Any:
        """The value of ``key``, else ``default`` (one lookup, not Mapping's try/except)."""
        i = self._index.get(key)
        return default if i is None else self._values[i]

    def __contains__(self, key: object) -> bool:
        return key in self._index

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)

    def __repr__(self) -> str:
        return f"Row({dict(self)!r})"


class Skimmed:
    """An output object read by :func:`skim_output_object`: ``adapted_properties`` holds plain values only.

    Not a pypsrp GenericComplexObject: a 100,000-recipient answer is held whole by pypsrp until the pipeline
    ends, and each of those carries a dozen attributes exaudit never reads.
    """

    __slots__ = ("adapted_properties", "to_string", "types")

    def __init__(self, types: list[str], to_string: str | None) -> None:
        self.types = types  # shared by every object of the same type chain (see _chain)
        self.to_string = to_string
        self.adapted_properties: Mapping[str, Any] = {}


# The head of a top-level output object as PowerShell's serializer writes it: its own type chain (a TNRef to a
# chain sent earlier is pypsrp's business), an optional ToString, then the adapted properties.
_HEAD = re.compile(
    r'<Obj RefId="\d+"><TN RefId="\d+">((?:<T>[^<]*</T>)*)</TN>(?:<ToString>([^<]*)</ToString>|<ToString ?/>)?<Props>'
)
_TYPE = re.compile(r"<T>([^<]*)</T>")
_NESTED = re.compile(r"<(?:Props|MS|DCT)[ />]")
# A multi-valued property as Exchange sends it: its collection type (or a reference to one), then a list of strings.
_STRING_LIST = re.compile(
    r'<Obj N="[^"]*" RefId="\d+">(?:<TN RefId="\d+">(?:<T>[^<]*</T>)*</TN>|<TNRef RefId="\d+" ?/>)'
    r"(?:<LST>((?:<S>[^<]*</S>|<S ?/>)*)</LST>|<LST ?/>)</Obj>"
)
_LIST_ITEM = re.compile(r"<S>([^<]*)</S>|<S ?/>")
_PATTERNS: dict[frozenset[str], re.Pattern[str]] = {}


_CHAINS: dict[str, list[str]] = {}


def _chain(tn_text: str) -> list[str]:
    """The type names of a ``<TN>``, one list per distinct chain (every Mailbox shares one, not 100,000 copies)."""
    chain = _CHAINS.get(tn_text)
    if chain is None:
        chain = _TYPE.findall(tn_text)
        if len(_CHAINS) < 1024:  # a server sending ever new chains gets no cache, not unbounded memory
            _CHAINS[tn_text] = chain
    return chain


def _names_regex(names: Collection[str]) -> str:
    """A regex matching any of ``names``, case-insensitively, built as a trie so a mismatch fails at once."""
    trie: dict[str, Any] = {}
    for name in names:
        node = trie
        for ch in name.lower():
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict[str, Any]) -> str:
        alts = [
            (f"[{ch}{ch.upper()}]" if ch.isalpha() else re.escape(ch)) + build(node[ch]) for ch in sorted(node) if ch
        ]
        if not alts:
            return ""
        body = alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
        return f"(?:{body})?" if "" in node else body

    return build(trie)


def _pattern(keep: frozenset[str]) -> re.Pattern[str]:
    """The regex finding every kept property's element: (tag, name, self-closed, text follows, text)."""
    pattern = _PATTERNS.get(keep)
    if pattern is None:
        # The empty last alternative makes every start tag of a kept name match, whatever follows it: a shape
        # other than a flat scalar is then seen (and handed to the full parser), never silently skipped.
        pattern = _PATTERNS[keep] = re.compile(
            rf'<([A-Za-z0-9]+) N="({_names_regex(keep)})"(?:( ?/>)|(>)([^<]*)</\1>|)'
        )
    return pattern


def _text(raw: str) -> str:
    """Element text (no markup in it) with XML's entity and character references resolved, as a parser would."""
    if "&" in raw:
        return ET.fromstring(f"<t>{raw}</t>").text or ""  # noqa: S314  (no markup, no DTD: only references)
    return raw


def skim_output_object(xml_text: str, keep: frozenset[str], shared: Shared | None = None) -> Skimmed | None:
    """Read only the ``keep`` properties (lower-case names) of one Exchange output object, or None.

    Exchange's remote PowerShell runs in no-language mode and only an account's RBAC cmdlets are exposed
    (https://github.com/jborean93/pypsrp/issues/103; exchange-rbac.md sections 7.3 and 11), so a Select-Object
    on the server is not something exaudit can count on: every property comes over the wire. This drops the
    unwanted ones before any object is built: one regex over the ``<Props>`` text finds the kept properties'
    elements, and only those are converted, so a 150-property Mailbox costs the few it keeps.

    It is sound only on the flat shape of Exchange's Partial serialization, so anything else goes to the full
    parser (None): markup that is not plain elements (``<!``, ``<?``), nested property bags (``<Props>``,
    ``<MS>``, ``<DCT>`` inside a property, where a name could be a nested one), a kept value that is a reference
    or an object other than a list of strings. XML text and attribute values cannot hold ``<``, so a match is
    always a real start tag. Unlike the full parser it does not check the well-formedness of the skipped bytes;
    every kept value is read strictly. With ``shared`` the names and repeated values are shared between the objects
    of one answer (see :class:`Shared`): equal values, so the same result.
    """
    head = _HEAD.match(xml_text)
    if head is None or "&" in head.group(1):
        return None
    # A one-character search first: "<!" and "<?" scan every "<" of the object, "!" and "?" are rare.
    if ("!" in xml_text and "<!" in xml_text) or ("?" in xml_text and "<?" in xml_text):
        return None
    start = head.end()
    end = xml_text.find("</Props>", start)
    if end < 0 or xml_text[end + 8 :] != "</Obj>":
        return None  # extended properties (MS) or trailing content: the full parser reads them
    section = xml_text[start:end]
    if _NESTED.search(section) is not None:
        return None
    types = _chain(head.group(1))
    if not types or types[0].removeprefix("Deserialized.").startswith("System."):
        return None
    obj = Skimmed(types, _decode(_text(head.group(2))) if head.group(2) is not None else None)
    props: dict[str, Any] = {}
    names: list[str] = []
    values: list[Any] = []
    try:
        for tag, name, closed, opened, text in _pattern(keep).findall(section):
            convert = _SCALARS.get(tag)
            if opened and convert is not None:
                value = convert(_text(text))
            elif closed and convert is not None:
                value = convert(None)
            elif tag == "Obj" and not closed and not opened:
                value = _string_list(section, name)
            else:
                return None  # <Ref>, <SS>, <BA>, more attributes than N, markup in a scalar: pypsrp's business
            if shared is None:
                props[name] = value
            else:
                names.append(shared.name(name))
                values.append(shared.value(name, value))
    except (_Unsupported, ValueError, ET.ParseError):
        return None  # e.g. an I32 that is no number, a list of objects: the full parser decides
    obj.adapted_properties = props if shared is None else shared.row(names, values)
    return obj


def _string_list(section: str, name: str) -> list[Any]:
    """A multi-valued property (an object holding a list of strings) by name, as a list of strings."""
    begin = section.find(f'<Obj N="{name}"')
    if section.find(f'<Obj N="{name}"', begin + 1) >= 0:
        raise _Unsupported("a multi-valued property sent twice")
    match = _STRING_LIST.match(section, begin)
    if match is None:
        raise _Unsupported("a multi-valued property that is not a list of strings")
    items = match.group(1)
    if not items:
        return []
    return [_decode(_text(text)) for text in _LIST_ITEM.findall(items)]


class _ExchangeSerializer(Serializer):
    """pypsrp's serializer with a fast path for pipeline output objects (see :func:`fast_output_object`)."""

    keep: frozenset[str] | None = None  # adapted properties to keep (lower case), None for all
    skim: bool = True  # read only the kept properties' text (False: parse every element, then drop)
    shared: Shared | None = None  # the current call's shared names and values (set per call by the runner)

    def deserialize(self, element: Any, metadata: Any = None, clear: bool = True) -> Any:
        if metadata is None and clear and isinstance(element, str) and element.startswith("<Obj"):
            if self.keep is not None and self.skim:
                skimmed = skim_output_object(element, self.keep, self.shared)
                if skimmed is not None:
                    return skimmed
            fast = fast_output_object(element, self.keep)
            if fast is not None:
                return fast
        return super().deserialize(element, metadata, clear)
