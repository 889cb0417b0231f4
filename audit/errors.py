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

from pathlib import Path


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
