"""The one exception tree of exaudit.

Library exceptions (pypsrp, exchangelib, ruamel.yaml, pydantic, json) are translated into this tree at the edge
that calls the library, with ``raise ... from exc``; nothing above that edge sees a library exception::

    ExauditError                    root; every message is meant for a human and never holds a secret
    ├── UsageError                  bad command-line usage or configuration (exit code 2)
    ├── PolicyError                 a policy file is invalid; carries path, line and column (exit code 2)
    ├── FilterError                 an OPATH filter is invalid or names a property exaudit cannot evaluate
    ├── SnapshotError               a snapshot is corrupt, truncated, tampered with or too new (exit code 3)
    ├── CollectionError             reading state over PowerShell remoting failed (exit code 3)
    │   └── CmdletUnavailableError  the auditing account lacks the RBAC role that exposes a cmdlet
    ├── ProbeError                  the EWS prober could not run at all (exit code 3)
    └── ReportError                 a report could not be rendered or written

The lab (``audit.lab``) stands apart from the auditor and keeps its own errors.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path
from urllib.parse import quote, quote_plus
from xml.sax.saxutils import escape as xml_escape


class ExauditError(Exception):
    """Root of every error exaudit raises on purpose."""


class UsageError(ExauditError):
    """The command line or the environment asks for something that cannot be done."""


class PolicyError(ExauditError):
    """A policy file is invalid; the message names the file and, where known, line and column."""

    def __init__(
        self, message: str, path: Path | str | None = None, line: int | None = None, column: int | None = None
    ) -> None:
        self.path = str(path) if path is not None else None
        self.line = line
        self.column = column
        self.reason = message
        super().__init__(self._render())

    def _render(self) -> str:
        where = self.path or "<policy>"
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return f"{where}: {self.reason}"


class FilterError(ExauditError):
    """An OPATH recipient filter cannot be parsed, or names a property exaudit cannot evaluate."""

    def __init__(self, message: str, text: str = "", position: int | None = None) -> None:
        self.reason = message
        self.text = text
        self.position = position
        where = f" at character {position + 1}" if position is not None else ""
        super().__init__(f"{message}{where}" + (f" in filter {text!r}" if text else ""))


class SnapshotError(ExauditError):
    """A snapshot cannot be trusted: unreadable, truncated, tampered with, or written by a newer exaudit."""


class CollectionError(ExauditError):
    """Collecting state over PowerShell remoting failed."""


class CmdletUnavailableError(CollectionError):
    """The endpoint does not expose a cmdlet: over Exchange's RBAC-built session that means a missing role."""

    def __init__(self, cmdlet: str, role: str, role_group: str) -> None:
        self.cmdlet = cmdlet
        self.role = role
        self.role_group = role_group
        super().__init__(
            f"{cmdlet} is not available to the auditing account: it needs the '{role}' role "
            f"(held by the '{role_group}' role group). Add the account to that role group and retry."
        )


class ProbeError(ExauditError):
    """The EWS prober could not run at all (as opposed to one probe failing, which is an outcome)."""


class ReportError(ExauditError):
    """A report could not be rendered or written."""


MASK = "********"
# An HTTP credential echoed back (RFC 7235 "Authorization: <scheme> <token>"): Basic carries base64 of
# user:password, NTLM/Negotiate carry a challenge response an attacker can crack offline. The token is masked
# whoever sent it. https://www.rfc-editor.org/rfc/rfc7617 (Basic), MS-NLMP 3.1.5.1.2 (NTLM over HTTP).
# A token is 16+ token characters with a digit or + / = in it, so prose ("Basic authentication is disabled") stays.
_AUTH_TOKEN = re.compile(
    r"\b(Basic|NTLM|Negotiate|Kerberos|Bearer)(\s+)(?=[A-Za-z0-9._~-]*[0-9+/=])[A-Za-z0-9+/=._~-]{16,}", re.IGNORECASE
)


def redact(text: str, username: str | None, password: str | None) -> str:
    """Mask a password in every form a server or a library may echo into an error text.

    The password as is, XML- and URL-escaped, base64 of user:password (the Basic credential) and any HTTP
    authorization token. Every error text that can carry server or library words goes through this.
    """
    text = _AUTH_TOKEN.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
    if not password:
        return text
    forms = {password, xml_escape(password), quote(password, safe=""), quote_plus(password)}
    for name in {username or "", (username or "").partition("\\")[2], (username or "").partition("@")[0]}:
        forms.add(base64.b64encode(f"{name}:{password}".encode()).decode())
    for form in sorted(forms, key=len, reverse=True):
        if form:
            text = text.replace(form, MASK)
    return text
