"""The secret scan: no password in use may appear in anything a test run produced, in any usual encoding.

A password leaks as itself, as UTF-16-LE (Windows APIs, NTLM), or base64-encoded: alone, or as ``user:password``
in an HTTP Basic header. Each form is searched in every stream and every file given.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from pathlib import Path

MIN_SECRET = 6  # shorter strings would match by chance; every password in the lab is longer


def secret_forms(credentials: Iterable[tuple[str, str]]) -> dict[bytes, str]:
    """Every byte string that would betray one of ``(user, password)``, with a name for the failure message."""
    forms: dict[bytes, str] = {}
    for user, password in credentials:
        if len(password) < MIN_SECRET:
            continue
        forms[password.encode()] = f"the password of {user}"
        forms[password.encode("utf-16-le")] = f"the password of {user} in UTF-16-LE"
        forms[base64.b64encode(password.encode())] = f"the password of {user} in base64"
        forms[base64.b64encode(f"{user}:{password}".encode())] = f"base64 of {user}:password (HTTP Basic)"
        bare = user.split("@", 1)[0].rsplit("\\", 1)[-1]
        forms[base64.b64encode(f"{bare}:{password}".encode())] = f"base64 of {bare}:password (HTTP Basic)"
    return forms


def find_secrets(forms: dict[bytes, str], streams: dict[str, str], files: Iterable[Path]) -> list[str]:
    """Where each form was found: ``"<what> in <stream or file>"``; empty when nothing leaked."""
    hits: list[str] = []
    for where, text in streams.items():
        data = text.encode("utf-8", "surrogateescape")
        hits += [f"{what} in {where}" for form, what in forms.items() if form in data]
    for path in files:
        try:
            data = path.read_bytes()
        except OSError:
            continue
        hits += [f"{what} in {path}" for form, what in forms.items() if form in data]
    return hits


def files_under(root: Path) -> list[Path]:
    """Every regular file below ``root``."""
    return [p for p in root.rglob("*") if p.is_file() and not p.is_symlink()] if root.exists() else []
