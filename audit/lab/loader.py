"""Tenant files as plain documents: YAML with file:line kept, ``extends`` resolved, sections merged by name.

A scenario file may start with ``extends: <other file>`` and then only name what differs (lists are merged by
name; an entry with ``remove: true`` deletes). ``audit.lab.build.build_tenant`` turns the document into a Tenant.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from audit.lab import LabError
from audit.lab.records import Organization


def _keys(text: str) -> frozenset[str]:
    return frozenset(text.split())


_SECTION_KEYS: dict[str, frozenset[str]] = {
    "users": _keys(
        "name alias display_name upn sam_account_name primary_smtp proxy_addresses sid guid ou type disabled"
        " department company title custom_attributes hidden throttling_policy first_name last_name remove"
    ),
    "groups": _keys(
        "name alias display_name sam_account_name primary_smtp proxy_addresses sid guid ou type group_type hidden"
        " member_join_restriction member_depart_restriction members managed_by department custom_attributes"
        " remove"
    ),
    "role_groups": _keys(
        "name display_name sam_account_name sid guid roles members managed_by role_group_type description scope remove"
    ),
    "role_assignments": _keys(
        "name role assignee assignee_type delegation enabled recipient_write_scope scope"
        " recipient_organizational_unit_scope remove"
    ),
    "scopes": _keys("name recipient_filter scope_restriction_type exclusive recipient_root guid remove"),
    "throttling_policies": _keys("name scope is_default ews_max_concurrency is_service_account remove"),
    "accounts": _keys("user password role stale_credentials remove"),
    "roles": _keys("name role_type parent remove"),
}
_ORG_KEYS = frozenset({f.name for f in dataclasses.fields(Organization)})
_TOP_KEYS = frozenset(
    {"extends", "organization", "description", "expect", "faults", "generate", "platform", "exchange_online", "auth"}
    | set(_SECTION_KEYS)
)
PLATFORMS = ("on-premises", "exchange-online")
_LOC = "__loc__"


def _plain(node: Any, path: str) -> Any:
    """Turn ruamel nodes into plain dicts/lists, keeping each mapping's file and line under ``__loc__``."""
    if isinstance(node, CommentedMap):
        out: dict[str, Any] = {str(k): _plain(v, path) for k, v in node.items()}
        out[_LOC] = (path, node.lc.line + 1)
        return out
    if isinstance(node, CommentedSeq):
        return [_plain(v, path) for v in node]
    return node


def _where(obj: Mapping[str, Any], fallback: str) -> tuple[str, int | None]:
    loc = obj.get(_LOC)
    if isinstance(loc, tuple):
        return str(loc[0]), int(loc[1])
    return fallback, None


def _read_yaml(path: Path) -> dict[str, Any]:
    yaml = YAML(typ="rt")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise LabError(f"cannot read tenant file: {exc.strerror}", str(path)) from exc
    try:
        data = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise LabError(f"malformed YAML: {exc.problem or exc.context}", str(path), line) from exc
    except Exception as exc:  # ruamel raises a few unmarked errors (e.g. reader errors on bad bytes)
        raise LabError(f"malformed YAML: {exc}", str(path)) from exc
    if not isinstance(data, CommentedMap):
        raise LabError("a tenant file must be a mapping at the top level", str(path), 1)
    plain = _plain(data, str(path))
    assert isinstance(plain, dict)
    for key in plain:
        if key != _LOC and key not in _TOP_KEYS:
            line = data.lc.key(key)[0] + 1
            raise LabError(f"unknown top-level key {key!r} (known: {', '.join(sorted(_TOP_KEYS))})", str(path), line)
    return plain


def _merge(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """Merge an overlay into a base document: sections by entry name, mappings shallowly."""
    out = dict(base)
    for key, value in overlay.items():
        if key in ("extends", _LOC):
            continue
        if key in _SECTION_KEYS:
            id_key = "user" if key == "accounts" else "name"
            merged: dict[str, dict[str, Any]] = {}
            for entry in base.get(key) or []:
                merged[str(entry.get(id_key, "")).lower()] = entry
            for entry in value or []:
                if not isinstance(entry, dict):
                    continue  # reported by validation of the overlay itself
                ident = str(entry.get(id_key, "")).lower()
                if entry.get("remove"):
                    merged.pop(ident, None)
                elif ident in merged:
                    merged[ident] = {**merged[ident], **entry}
                else:
                    merged[ident] = entry
            out[key] = list(merged.values())
        elif key == "organization" and isinstance(value, dict) and isinstance(base.get(key), dict):
            out[key] = {**base[key], **value}
        elif key == "exchange_online" and isinstance(value, dict) and isinstance(base.get(key), dict):
            out[key] = _merge_exchange_online(base[key], value)
        else:
            out[key] = value
    return out


def _merge_exchange_online(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """Merge the exchange_online section: its lists by entry name (``remove: true`` deletes), the rest replaced."""
    out = dict(base)
    for key, value in overlay.items():
        if key == _LOC:
            continue
        if isinstance(value, list) and isinstance(base.get(key), list) and key != "ews_allowed_app_ids":
            merged: dict[str, dict[str, Any]] = {}
            for entry in base[key]:
                if isinstance(entry, dict):
                    merged[str(entry.get("name", "")).lower()] = entry
            for entry in value:
                if not isinstance(entry, dict):
                    continue
                ident = str(entry.get("name", "")).lower()
                if entry.get("remove"):
                    merged.pop(ident, None)
                else:
                    merged[ident] = {**merged.get(ident, {}), **entry}
            out[key] = list(merged.values())
        else:
            out[key] = value
    return out


def _load_document(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    resolved = path.resolve()
    if resolved in seen:
        raise LabError("circular 'extends'", str(path))
    doc = _read_yaml(path)
    parent = doc.get("extends")
    if parent is None:
        return doc
    if not isinstance(parent, str):
        raise LabError("'extends' must be a file name", str(path), _where(doc, str(path))[1])
    base = _load_document(path.parent / parent, (*seen, resolved))
    for key in ("expect", "description", "faults", "generate"):
        base.pop(key, None)  # a scenario's expectations are its own, never inherited
    return _merge(base, doc)


def _strip_loc(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_loc(v) for k, v in value.items() if k != _LOC}
    if isinstance(value, list):
        return [_strip_loc(v) for v in value]
    return value
