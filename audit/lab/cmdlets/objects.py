"""The wire-neutral object model every cmdlet yields: type chain, ToString and ordered typed properties.

Each front end owns one encoder (CLIXML Partial for /PowerShell, JSON for InvokeCommand); values are never
pre-stringified for one wire (exchange-outputs.md sections 1-2).
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeAlias

M = "Microsoft.Exchange.Data.Directory.Management."
SC = "Microsoft.Exchange.Data.Directory.SystemConfiguration."
# Base chains seen on the wire (exchange-outputs.md section 4).
ADOBJECT_CHAIN = (
    "Microsoft.Exchange.Data.Directory.ADObject",
    "Microsoft.Exchange.Data.Directory.ADRawEntry",
    "Microsoft.Exchange.Data.ConfigurableObject",
    "System.Object",
)
ADPRESENTATION_CHAIN = (M + "ADPresentationObject", *ADOBJECT_CHAIN)
ADCONFIG_CHAIN = (SC + "ADConfigurationObject", *ADOBJECT_CHAIN)

_MSCORLIB = "mscorlib, Version=4.0.0.0, Culture=neutral, PublicKeyToken=b77a5c561934e089"
_DIRECTORY = "Microsoft.Exchange.Data.Directory, Version=15.0.0.0, Culture=neutral, PublicKeyToken=31bf3856ad364e35"
_DATA = "Microsoft.Exchange.Data, Version=15.0.0.0, Culture=neutral, PublicKeyToken=31bf3856ad364e35"
_MVP_BASE = ("Microsoft.Exchange.Data.MultiValuedPropertyBase", "System.Object")
MVP_STRING_CHAIN = (f"Microsoft.Exchange.Data.MultiValuedProperty`1[[System.String, {_MSCORLIB}]]", *_MVP_BASE)
_ADOBJECTID = f"Microsoft.Exchange.Data.Directory.ADObjectId, {_DIRECTORY}"
MVP_ADOBJECTID_CHAIN = (
    f"Microsoft.Exchange.Data.Directory.ADMultiValuedProperty`1[[{_ADOBJECTID}]]",
    f"Microsoft.Exchange.Data.MultiValuedProperty`1[[{_ADOBJECTID}]]",
    *_MVP_BASE,
)
_PROXY = f"Microsoft.Exchange.Data.ProxyAddress, {_DATA}"
MVP_PROXY_CHAIN = (
    "Microsoft.Exchange.Data.ProxyAddressCollection",
    f"Microsoft.Exchange.Data.ProxyAddressBaseCollection`1[[{_PROXY}]]",
    f"Microsoft.Exchange.Data.MultiValuedProperty`1[[{_PROXY}]]",
    *_MVP_BASE,
)


class I64(int):
    """An integer serialized as <I64> (e.g. RecipientTypeDetails in Full serialization)."""

    __slots__ = ()


class U32(int):
    """An integer serialized as <U32>."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class MultiValued:
    """A MultiValuedProperty: its generic type chain and its items' ToString values."""

    type_names: tuple[str, ...]
    items: tuple[str, ...]


Value: TypeAlias = str | bool | int | uuid.UUID | datetime.datetime | MultiValued | None


@dataclass(frozen=True, slots=True)
class ExchangeObject:
    """One cmdlet output object: type chain, ToString and ordered adapted properties."""

    type_names: tuple[str, ...]
    to_string: str
    props: tuple[tuple[str, Value], ...]

    def get(self, name: str) -> Value:
        """Return a property value by name (None when absent)."""
        for key, value in self.props:
            if key == name:
                return value
        return None


def mvp_string(items: Iterable[str]) -> MultiValued:
    """MultiValuedProperty<string>."""
    return MultiValued(MVP_STRING_CHAIN, tuple(items))


def mvp_adobjectid(items: Iterable[str]) -> MultiValued:
    """ADMultiValuedProperty<ADObjectId> (items are the ADObjectIds' ToString)."""
    return MultiValued(MVP_ADOBJECTID_CHAIN, tuple(items))


def mvp_proxy_addresses(items: Iterable[str]) -> MultiValued:
    """ProxyAddressCollection (items like SMTP:primary@x, smtp:alias@x)."""
    return MultiValued(MVP_PROXY_CHAIN, tuple(items))
