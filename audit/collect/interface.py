"""The collector's seam: a runner that executes one read-only Exchange cmdlet and returns plain values.

The collector never sees pypsrp: it talks to a :class:`CmdletRunner`. The real runner is
:class:`audit.collect.psrp.PsrpRunner`; unit tests pass a fake that returns canned objects.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from audit.errors import CollectionError

READ_ONLY_VERB = "Get"
"""The only PowerShell verb exaudit sends on premises: collection must never change Exchange."""

READ_ONLY_VERBS = (READ_ONLY_VERB, "Test")
"""Every verb exaudit may ever send (Test only where a plan names it); nothing that writes is in this list."""


class ErrorKind:
    """The vocabulary of ``CmdletResult.error_kind`` and ``CollectionCall.error_kind``."""

    COMMAND_NOT_FOUND = "CommandNotFound"  # the auditing account lacks the RBAC role exposing the cmdlet
    NON_TERMINATING = "NonTerminating"  # error records in streams.error (pypsrp's had_errors stays False)
    TERMINATING = "Terminating"  # the pipeline failed
    TIMEOUT = "Timeout"
    AUTH = "Authentication"
    TLS = "TLS"
    CONNECTION = "Connection"
    TRANSPORT = "Transport"  # anything else on the wire: a WSMan fault, a malformed reply, a dropped connection
    TRUNCATED = "Truncated"  # Exchange warned that -ResultSize cut the result
    UNEXPECTED = "UnexpectedOutput"  # objects of a type the collector does not map


@dataclass(frozen=True, slots=True)
class CmdletResult:
    """What one cmdlet call returned: adapted properties per object, error texts, and the kind of failure."""

    objects: Sequence[Mapping[str, Any]]  # dicts, or rows sharing their name table (audit.collect.psrp_clixml.Row)
    errors: list[str] = field(default_factory=list)
    error_kind: str | None = None
    type_names: list[tuple[str, ...]] = field(default_factory=list)  # per object, as sent (maybe "Deserialized.")

    @property
    def ok(self) -> bool:
        """Whether the call succeeded without any error record."""
        return not self.errors and self.error_kind is None


class TransportFailure(CollectionError):
    """A cmdlet call failed below PowerShell (connection, authentication, TLS, timeout, protocol).

    ``fatal`` says the session cannot be used any more (wrong password, TLS refused, nothing listening), so the
    collector records the remaining calls as not attempted instead of failing each one again.
    """

    def __init__(self, message: str, kind: str, *, fatal: bool) -> None:
        self.kind = kind
        self.fatal = fatal
        super().__init__(message)


class CmdletRunner(Protocol):
    """Runs one cmdlet with parameters (never a script) and returns its objects.

    Implementations raise :class:`audit.errors.CmdletUnavailableError` when the endpoint does not expose the
    cmdlet and :class:`TransportFailure` (a CollectionError) when the call could not be made; error records of
    a call that ran come back in ``CmdletResult.errors``.
    """

    def run(
        self, cmdlet: str, params: Mapping[str, object], timeout: float, properties: Collection[str] | None = None
    ) -> CmdletResult:
        """Run ``cmdlet`` with ``params`` within ``timeout`` seconds.

        ``properties`` (optional) names the adapted properties the caller will read; a runner may drop the others
        as it receives them (client side, like Select-Object: the endpoint is no-language mode).
        """
        ...

    def close(self) -> None:
        """Release the remote session, if any."""
        ...


def require_read_only(cmdlet: str, verbs: Collection[str] = (READ_ONLY_VERB,)) -> None:
    """Refuse any cmdlet whose verb is not one of ``verbs`` (Get, and Test for Exchange Online): never a change.

    Exchange Online's Test-ServicePrincipalAuthorization only reports which scopes apply; every Set-, New-,
    Add- and Remove- cmdlet stays refused whatever the plan says.

    Raises:
        CollectionError: ``cmdlet`` is not a read-only cmdlet of the allowed verbs.
    """
    verb, sep, noun = cmdlet.partition("-")
    allowed = {v.lower() for v in verbs} & {v.lower() for v in READ_ONLY_VERBS}
    if not sep or verb.lower() not in allowed or not noun or not noun.replace("_", "").isalnum():
        shown = "/".join(f"{v}-*" for v in verbs)
        raise CollectionError(f"refusing to run {cmdlet!r}: exaudit only ever runs read-only {shown} cmdlets")
