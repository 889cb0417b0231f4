"""The faster WinRM message decryption gives exactly what pypsrp's own gives, and refuses what pypsrp refuses."""

from __future__ import annotations

import random

import pytest
from pypsrp.encryption import WinRMEncryption
from pypsrp.exceptions import WinRMError

from audit.collect.psrp import _WinRMEncryption


class _Context:
    """Stands in for the NTLM/Kerberos context: a reversible, length-keeping transformation."""

    def wrap_winrm(self, data: bytes) -> tuple[bytes, bytes, int]:
        return b"H" * 16, data[::-1], 0

    def unwrap_winrm(self, header: bytes, data: bytes) -> bytes:
        assert header == b"H" * 16
        return data[::-1]


def _wrapped(payload: bytes, *, exchange_style: bool = False) -> bytes:
    _content_type, body = WinRMEncryption(_Context(), WinRMEncryption.SPNEGO).wrap_message(payload)
    if exchange_style:  # Exchange puts a space between "--" and the boundary (pypsrp's encryption.py)
        body = body.replace(b"--Encrypted Boundary", b"-- Encrypted Boundary")
    return body


@pytest.mark.parametrize("exchange_style", [False, True])
def test_same_plaintext_as_pypsrp(exchange_style: bool) -> None:
    rng = random.Random(12)
    # Binary-looking data full of "--" and CR LF, as an encrypted reply is.
    payload = b"--\r\n".join(bytes(rng.randrange(256) for _ in range(200)) for _ in range(300))
    body = _wrapped(payload, exchange_style=exchange_style)
    ours = _WinRMEncryption(_Context(), WinRMEncryption.SPNEGO).unwrap_message(body, "Encrypted Boundary")
    theirs = WinRMEncryption(_Context(), WinRMEncryption.SPNEGO).unwrap_message(body, "Encrypted Boundary")
    assert ours == theirs == payload


def test_a_wrong_length_is_refused() -> None:
    body = _wrapped(b"hello world").replace(b"Length=11", b"Length=12")
    with pytest.raises(WinRMError, match="does not match the expected length"):
        _WinRMEncryption(_Context(), WinRMEncryption.SPNEGO).unwrap_message(body, "Encrypted Boundary")
