"""Reading Exchange's pipeline output (CLIXML, Partial serialization) quickly, as plain Python values.

pypsrp 0.9 re-serializes every element it visits (``ET.tostring``), about 3 ms per Exchange object on this
machine; a 10,000-mailbox Get-Recipient would take half a minute in the client alone. Exchange's Partial format
is flat (scalars, ToString-only objects, lists of strings), so this module reads it directly and hands anything
else (type-table objects, references) back to pypsrp's own deserializer.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Collection
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


class _ExchangeSerializer(Serializer):
    """pypsrp's serializer with a fast path for pipeline output objects (see :func:`fast_output_object`)."""

    keep: frozenset[str] | None = None  # adapted properties to keep (lower case), None for all

    def deserialize(self, element: Any, metadata: Any = None, clear: bool = True) -> Any:
        if metadata is None and clear and isinstance(element, str) and element.startswith("<Obj"):
            fast = fast_output_object(element, self.keep)
            if fast is not None:
                return fast
        return super().deserialize(element, metadata, clear)
