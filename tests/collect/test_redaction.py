"""Library exceptions that carry the password never carry it into exaudit's error text (PowerShell side).

pypsrp puts the server's reply into its exceptions (WinRMTransportError holds the body, WSManFaultError the
fault's reason), so whatever a server echoes reaches the message exaudit builds. These are the real pypsrp
exception classes, raised with the password inside, in each form a server may echo it.
"""

from __future__ import annotations

import base64
from xml.sax.saxutils import escape

import pytest
from pypsrp.exceptions import WinRMError, WinRMTransportError, WSManFaultError

from audit.collect.psrp import PsrpEndpoint, PsrpRunner
from audit.errors import MASK, redact

USER = "CONTOSO\\exaudit-reader"
PASSWORD = "Pa&ss<w0rd>+/ Echo"  # a test credential: XML and URL metacharacters, a space
BASIC = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
NTLM_TOKEN = "TlRMTVNTUAADAAAAGAAYAEgAAAAYABgAYAAAAAAAAACIAAAAAAAAAIgAAAAAAAAAiAAAAAAAAACIAAAANYKI4g=="
ECHO = (
    f"Authorization: Basic {BASIC} | user {USER} password {PASSWORD} | xml {escape(PASSWORD)}"
    f" | url Pa%26ss%3Cw0rd%3E%2B%2F%20Echo | WWW-Authenticate: NTLM {NTLM_TOKEN}"
)
FORMS = [PASSWORD, BASIC, NTLM_TOKEN, "Pa&amp;ss&lt;w0rd&gt;", "Pa%26ss%3Cw0rd%3E%2B%2F%20Echo"]


def _runner() -> PsrpRunner:
    return PsrpRunner(PsrpEndpoint("127.0.0.1", 1, auth="basic", username=USER, password=PASSWORD))


def _assert_masked(text: str) -> None:
    for form in FORMS:
        assert form not in text
    assert MASK in text


@pytest.mark.parametrize(
    "exc",
    [
        WinRMTransportError("http", 500, ECHO),
        WSManFaultError(2150858843, "ex01", ECHO, None, None, None),
        WinRMError(ECHO),
        ValueError(ECHO),  # anything unexpected: the generic branch quotes the exception text
    ],
    ids=["transport-error", "wsman-fault", "winrm-error", "unexpected"],
)
def test_translated_failure_masks_the_echoed_password(exc: BaseException) -> None:
    failure = _runner()._translate(exc, "running Get-Mailbox")
    _assert_masked(str(failure))


def test_redact_masks_every_form_and_keeps_the_rest() -> None:
    text = redact(ECHO, USER, PASSWORD)
    _assert_masked(text)
    assert text.count(MASK) == 5
    assert "user CONTOSO\\exaudit-reader password" in text  # the user name stays: it helps and is no secret
    assert "Authorization: Basic ********" in text
    assert "NTLM ********" in text


@pytest.mark.parametrize(
    ("configured", "sent"),
    [
        ("exaudit-reader@contoso.com", "exaudit-reader@contoso.com"),
        ("exaudit-reader@contoso.com", "exaudit-reader"),
        ("CONTOSO\\exaudit-reader", "CONTOSO\\exaudit-reader"),
        ("CONTOSO\\exaudit-reader", "exaudit-reader"),
    ],
)
def test_basic_credential_is_masked_as_sent_and_as_the_bare_user(configured: str, sent: str) -> None:
    token = base64.b64encode(f"{sent}:{PASSWORD}".encode()).decode()
    assert redact(f"token={token}.", configured, PASSWORD) == f"token={MASK}."


def test_text_without_a_secret_is_unchanged() -> None:
    text = "Get-Mailbox failed: The operation couldn't be performed because object 'x' couldn't be found."
    assert redact(text, USER, PASSWORD) == text
    assert redact(text, USER, None) == text
    # Words after a scheme name are prose, not tokens (an Exchange WinRM fault says this).
    prose = (
        "The WinRM client cannot process the request. Basic authentication is currently disabled; "
        "NTLM authenticationIsOff"
    )
    assert redact(prose, USER, PASSWORD) == prose


def test_without_a_password_tokens_are_still_masked() -> None:
    assert NTLM_TOKEN not in redact(f"Negotiate {NTLM_TOKEN}", None, None)
    assert BASIC not in redact(f"Authorization: Basic {BASIC}", None, None)
