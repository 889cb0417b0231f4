"""Exchange objects in the Partial serialization that /PowerShell sends to a plain remoting client.

Exchange's remote endpoint defaults to SerializationLevel.Partial: the real .NET type chain (no
``Deserialized.`` prefix, the receiver adds it), ``<ToString>`` = Name, every property in ``<Props>``,
ADObjectIds, enums and Exchange value types flattened to ``<S>`` strings, MultiValuedProperty values as an
``<Obj>`` with the generic type chain and an ``<LST>`` of strings, null as ``<Nil>``
(exchange-outputs.md sections 1-2). The object model is in ``audit.lab.cmdlets.objects``; this module is a
direct serializer: psrpcore's PSObject serializer costs about 1.8 ms for a 60-property object, too slow for
10,000-recipient results;
``to_psobject`` builds the equivalent psrpcore object so tests can hold both serializations side by side.
"""

from __future__ import annotations

import datetime
import re
import uuid
from collections.abc import Sequence
from typing import Any
from xml.sax.saxutils import escape

from psrpcore.types import (
    PSBool,
    PSDateTime,
    PSGuid,
    PSInt,
    PSInt64,
    PSList,
    PSNoteProperty,
    PSObject,
    PSString,
    PSUInt,
)

from audit.lab.cmdlets.objects import (
    ADCONFIG_CHAIN,
    ADOBJECT_CHAIN,
    ADPRESENTATION_CHAIN,
    I64,
    U32,
    ExchangeObject,
    MultiValued,
    Value,
    mvp_adobjectid,
    mvp_proxy_addresses,
    mvp_string,
)

__all__ = [
    "ADCONFIG_CHAIN",
    "ADOBJECT_CHAIN",
    "ADPRESENTATION_CHAIN",
    "I64",
    "U32",
    "ExchangeObject",
    "MultiValued",
    "Value",
    "mvp_adobjectid",
    "mvp_proxy_addresses",
    "mvp_string",
    "serialize",
    "to_psobject",
]

# The PSRP string rules: '_x' is escaped first (case-insensitive), then C0/C1 controls, surrogates and characters
# outside the BMP become _xHHHH_ per UTF-16 code unit (MS-PSRP 2.2.5.1.1).
_NEEDS_ESCAPE = re.compile("[\u0000-\u001f\u007f-\u009f\ud800-\udfff\U00010000-\U0010ffff]|_[xX]")
_ESCAPE_UNDERSCORE_X = re.compile("_([xX])")
_ESCAPE_CHARS = re.compile("[\u0000-\u001f\u007f-\u009f\ud800-\udfff\U00010000-\U0010ffff]")


def _escape_code_units(match: re.Match[str]) -> str:
    raw = match.group(0).encode("utf-16-be", errors="surrogatepass")
    return "".join(f"_x{raw[i]:02X}{raw[i + 1]:02X}_" for i in range(0, len(raw), 2))


def _text(value: str) -> str:
    if _NEEDS_ESCAPE.search(value) is not None:
        value = _ESCAPE_UNDERSCORE_X.sub(r"_x005F_\1", value)
        value = _ESCAPE_CHARS.sub(_escape_code_units, value)
    return escape(value)


def _datetime(value: datetime.datetime) -> str:
    text = value.isoformat()
    if value.tzinfo is not None and value.utcoffset() == datetime.timedelta(0):
        text = text.replace("+00:00", "Z")
    return text


class _Writer:
    __slots__ = ("out", "ref_id", "tn_ids")

    def __init__(self) -> None:
        self.out: list[str] = []
        self.ref_id = 0
        self.tn_ids: dict[tuple[str, ...], int] = {}

    def type_names(self, names: Sequence[str]) -> None:
        key = tuple(names)
        known = self.tn_ids.get(key)
        if known is not None:
            self.out.append(f'<TNRef RefId="{known}" />')
            return
        tn_id = len(self.tn_ids)
        self.tn_ids[key] = tn_id
        self.out.append(f'<TN RefId="{tn_id}">')
        self.out.extend(f"<T>{escape(n)}</T>" for n in names)
        self.out.append("</TN>")

    def value(self, name: str, value: Value) -> None:
        out = self.out
        attr = f' N="{_text(name)}"'
        if value is None:
            out.append(f"<Nil{attr} />")
        elif isinstance(value, str):
            out.append(f"<S{attr}>{_text(value)}</S>" if value else f"<S{attr} />")
        elif isinstance(value, bool):
            out.append(f"<B{attr}>{'true' if value else 'false'}</B>")
        elif isinstance(value, I64):
            out.append(f"<I64{attr}>{int(value)}</I64>")
        elif isinstance(value, U32):
            out.append(f"<U32{attr}>{int(value)}</U32>")
        elif isinstance(value, int):
            out.append(f"<I32{attr}>{value}</I32>")
        elif isinstance(value, uuid.UUID):
            out.append(f"<G{attr}>{value}</G>")
        elif isinstance(value, datetime.datetime):
            out.append(f"<DT{attr}>{_datetime(value)}</DT>")
        else:
            self.ref_id += 1
            out.append(f'<Obj{attr} RefId="{self.ref_id}">')
            self.type_names(value.type_names)
            if value.items:
                out.append("<LST>")
                out.extend(f"<S>{_text(item)}</S>" for item in value.items)
                out.append("</LST>")
            else:
                out.append("<LST />")
            out.append("</Obj>")


def serialize(obj: ExchangeObject) -> bytes:
    """Serialize one object as the body of a PIPELINE_OUTPUT message (a bare <Obj>, no <Objs> wrapper)."""
    writer = _Writer()
    writer.out.append('<Obj RefId="0">')
    writer.type_names(obj.type_names)
    writer.out.append(f"<ToString>{_text(obj.to_string)}</ToString><Props>")
    for name, value in obj.props:
        writer.value(name, value)
    writer.out.append("</Props></Obj>")
    return "".join(writer.out).encode("utf-8")


def _ps_value(value: Value) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        return PSString(value)
    if isinstance(value, bool):
        return PSBool(value)
    if isinstance(value, I64):
        return PSInt64(int(value))
    if isinstance(value, U32):
        return PSUInt(int(value))
    if isinstance(value, int):
        return PSInt(value)
    if isinstance(value, uuid.UUID):
        return PSGuid(str(value))
    if isinstance(value, datetime.datetime):
        return PSDateTime.fromisoformat(value.isoformat())
    # psrpcore writes a PSList as <LST>; its type chain is replaced by the MultiValuedProperty one.
    lst = PSList([PSString(i) for i in value.items])
    lst.PSObject.type_names = list(value.type_names)
    return lst


def to_psobject(obj: ExchangeObject) -> PSObject:
    """Build the psrpcore PSObject with the same type chain, ToString and adapted properties."""
    ps = PSObject()
    ps.PSObject.type_names = list(obj.type_names)
    ps.PSObject.to_string = obj.to_string
    for name, value in obj.props:
        ps.PSObject.adapted_properties.append(PSNoteProperty(name, _ps_value(value)))
    return ps
