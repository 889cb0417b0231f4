"""The secret scan itself finds every form of a password (it guards every e2e test through conftest.py)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from .secret_scan import files_under, find_secrets, secret_forms

USER, PASSWORD = "svcServiceAccount@contoso.com", "s3cret-Passw0rd!"


@pytest.mark.parametrize(
    "leak",
    [
        PASSWORD.encode(),
        PASSWORD.encode("utf-16-le"),
        base64.b64encode(PASSWORD.encode()),
        base64.b64encode(f"{USER}:{PASSWORD}".encode()),
        base64.b64encode(f"svcServiceAccount:{PASSWORD}".encode()),
    ],
    ids=["plain", "utf-16-le", "base64", "basic header", "basic header, bare user"],
)
def test_every_form_is_found_in_files_and_streams(leak: bytes, tmp_path: Path) -> None:
    forms = secret_forms([(USER, PASSWORD)])
    nested = tmp_path / "reports" / "deep"
    nested.mkdir(parents=True)
    (nested / "report.bin").write_bytes(b"before " + leak + b" after")
    assert find_secrets(forms, {}, files_under(tmp_path))
    assert find_secrets(forms, {"stderr": "x " + leak.decode("latin-1")}, []) if leak.isascii() else True
    (nested / "report.bin").write_bytes(b"nothing here")
    assert find_secrets(forms, {"stderr": "password ********"}, files_under(tmp_path)) == []
