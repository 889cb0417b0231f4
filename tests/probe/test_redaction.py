"""exchangelib and requests exceptions that carry the password never carry it into a probe's detail.

exchangelib quotes the server: a ResponseMessage's MessageText becomes the exception text, an unreadable reply
is quoted whole in MalformedResponseError, an X-CasErrorCode header in CASError. Each real exception class is
raised from the probe's request (GetFolder for a canary) with the password inside, in every form a server may echo
it, and the resulting Probe (what the snapshot and every report hold) is searched for it.
"""

from __future__ import annotations

import base64
import time

import pytest
import requests
from exchangelib import errors as ews_errors

from audit.errors import MASK
from audit.probe.ews import EwsEndpoint, Prober, ProbeSettings, ProbeTarget
from audit.snapshot import ProbeOutcome

USER = "svcServiceAccount@contoso.com"
PASSWORD = "Echo-Me-If-You-Dare-7"  # a test credential; nothing is sent anywhere
BASIC = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
NTLM_TOKEN = "TlRMTVNTUAADAAAAGAAYAEgAAAAYABgAYAAAAAAAAACIAAAAAAAAAIgAAAAAAAAAiAAAAAAAAACIAAAANYKI4g=="
ECHO = f"Authorization: Basic {BASIC}; Authorization: NTLM {NTLM_TOKEN}; CONTOSO\\svcServiceAccount:{PASSWORD}"
FORMS = (PASSWORD, BASIC, NTLM_TOKEN)


def _cas_error() -> ews_errors.CASError:
    response = requests.Response()
    response.status_code = 500
    return ews_errors.CASError(cas_error=ECHO, response=response)


RAISED = {
    "impersonate-user-denied": (ews_errors.ErrorImpersonateUserDenied(ECHO), ProbeOutcome.DENIED),
    "impersonation-denied": (ews_errors.ErrorImpersonationDenied(ECHO), ProbeOutcome.NO_IMPERSONATION_RIGHT),
    "non-existent-mailbox": (ews_errors.ErrorNonExistentMailbox(ECHO), ProbeOutcome.NO_MAILBOX),
    "access-denied": (ews_errors.ErrorAccessDenied(ECHO), ProbeOutcome.ERROR),
    "malformed-response": (ews_errors.MalformedResponseError(f"Unknown failure in response. content: {ECHO}"),
                           ProbeOutcome.ERROR),
    "transport-error": (ews_errors.TransportError(ECHO), ProbeOutcome.ERROR),
    "cas-error": (_cas_error(), ProbeOutcome.ERROR),
    "connection-error": (requests.exceptions.ConnectionError(ECHO), ProbeOutcome.ERROR),
    "unexpected": (RuntimeError(ECHO), ProbeOutcome.ERROR),
}  # fmt: skip


@pytest.mark.parametrize("auth", ["basic", "ntlm"])
@pytest.mark.parametrize("case", list(RAISED))
def test_probe_detail_masks_the_echoed_password(monkeypatch: pytest.MonkeyPatch, case: str, auth: str) -> None:
    exc, outcome = RAISED[case]
    endpoint = EwsEndpoint(url="http://127.0.0.1:9/EWS/Exchange.asmx", username=USER, password=PASSWORD, auth=auth)
    prober = Prober(endpoint, ProbeSettings(concurrency=1, deadline_seconds=5))

    def send(request: object, mailbox: object) -> object:
        raise exc

    monkeypatch.setattr(prober, "_send", send)
    prober._deadline = time.monotonic() + 5
    probe = prober.probe_one(ProbeTarget("ceo@contoso.com", "deny", "canary"))
    assert probe.outcome == outcome
    text = repr(probe) + probe.detail
    for form in FORMS:
        assert form not in text
    assert MASK in probe.detail  # masked, not dropped: the server's words still explain the outcome
