"""The embedded Exchange lab: a tenant model, its own RBAC decisions, WSMan/PSRP and EWS on loopback.

The lab stands apart from the auditor (an import-linter contract says so): it reads its own tenant files and
decides access with its own small filter evaluator, so that it can catch the auditor's mistakes.
"""

from __future__ import annotations


class LabError(Exception):
    """Root of every error the lab raises on purpose; messages never hold a password."""

    def __init__(self, message: str, path: str | None = None, line: int | None = None) -> None:
        self.reason = message
        self.path = path
        self.line = line
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(f"{where}{message}")


__all__ = ["LabError"]
