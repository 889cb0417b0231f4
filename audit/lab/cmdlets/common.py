"""Helpers the cmdlet families share: value coercion, name matching, the AD object tails."""

from __future__ import annotations

import datetime
import fnmatch
import uuid
from typing import Any

from audit.lab.cmdlets.objects import MultiValued, Value, mvp_adobjectid

_CREATED = datetime.datetime(2024, 3, 19, 12, 34, 17, tzinfo=datetime.UTC)
_CHANGED = datetime.datetime(2025, 6, 2, 9, 15, 42, tzinfo=datetime.UTC)
_EMPTY_GUID = uuid.UUID(int=0)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ",".join(_text(v) for v in value)
    return str(value)


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value is None:
        return True  # a switch given without a value
    text = str(value).strip().lower()
    if text in ("true", "$true", "1"):
        return True
    if text in ("false", "$false", "0"):
        return False
    raise ValueError(text)


_RECIPIENT_CLASSES = ("top", "person", "organizationalPerson", "user")
_GROUP_CLASSES = ("top", "group")


def with_changed(props: list[tuple[str, Value]], when: datetime.datetime | None) -> list[tuple[str, Value]]:
    """The same properties with WhenChanged/WhenChangedUTC set to ``when`` (unchanged when None)."""
    if when is None:
        return props
    return [(k, when if k in ("WhenChanged", "WhenChangedUTC") else v) for k, v in props]


def _address_list_membership(hidden: bool) -> MultiValued:
    if hidden:
        return mvp_adobjectid(())
    return mvp_adobjectid(("\\Mailboxes(VLV)", "\\All Recipients(VLV)", "\\Default Global Address List", "\\All Users"))


def _matches_name(pattern: str, *names: str) -> bool:
    """Exchange identity matching: case-insensitive, '*' wildcards allowed."""
    pat = pattern.strip().lower()
    if "*" in pat:
        return any(fnmatch.fnmatchcase(n.lower(), pat) for n in names if n)
    return any(n.lower() == pat for n in names if n)


def _type_filter(p: dict[str, Any]) -> set[str] | None:
    raw = p.get("RecipientTypeDetails")
    if raw is None:
        return None
    items = raw if isinstance(raw, list | tuple) else str(raw).split(",")
    return {str(i).strip().lower() for i in items}
