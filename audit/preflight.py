"""Checks made before the first connection, so that no credential is put at risk by a run that cannot work.

* every secret the command needs is present (the message names the variable that is missing);
* no value is an unexpanded CI variable (``$(NAME)`` in Azure Pipelines, ``${NAME}``/``${{ ... }}``, ``$NAME``):
  sending ``$(SVC_PASSWORD)`` as a password is a failed logon that counts towards the account's lockout;
* the host names resolve (one message naming the host instead of one failure per cmdlet and per mailbox);
* a mistyped option never makes argparse echo the value after it (it may be a password).

Nothing here prints or returns a secret's value.
"""

from __future__ import annotations

import re
import socket
import urllib.parse
from collections.abc import Iterable, Sequence

from audit.errors import CollectionError, UsageError

# $(NAME) and ${NAME} / ${{ NAME }} with any name; bare $NAME only in the upper-case form CI systems use, so that a
# real password such as "$ummer2024" is not mistaken for one.
_UNEXPANDED = re.compile(
    r"""^\s*(?:
        \$\(\s*(?P<paren>[A-Za-z_][\w.\-]*)\s*\)
      | \$\{\{?\s*(?P<brace>[A-Za-z_][\w.\-]*)\s*\}?\}
      | \$(?P<bare>[A-Z_][A-Z0-9_]*)
    )\s*$""",
    re.VERBOSE,
)


def unexpanded_variable(value: str | None) -> str | None:
    """The CI variable name when ``value`` is an unexpanded reference to one, else None."""
    if not value:
        return None
    match = _UNEXPANDED.match(value)
    if match is None:
        return None
    return match.group("paren") or match.group("brace") or match.group("bare")


def refuse_unexpanded(values: Iterable[tuple[str, str | None]]) -> None:
    """Raise a UsageError naming the option (or variable) whose value is an unexpanded CI variable."""
    for where, value in values:
        name = unexpanded_variable(value)
        if name is not None:
            raise UsageError(
                f"{where} is the unexpanded CI variable reference to {name!r}, not its value: define {name} in the "
                "pipeline (as a secret) or map it into the job's environment"
            )


def resolve_hosts(hosts: Sequence[tuple[str, str]]) -> None:
    """Every (option, host) resolves; else one CollectionError naming the host (exit 3)."""
    seen: set[str] = set()
    for option, host in hosts:
        if not host or host in seen:
            continue
        seen.add(host)
        try:
            socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise CollectionError(
                f"cannot resolve the host name {host!r} ({option}): check the name, and DNS on this runner "
                f"({getattr(exc, 'strerror', None) or exc}); nothing was sent"
            ) from None


def url_host(url: str | None) -> str:
    """The host of an URL, or ''."""
    if not url:
        return ""
    return urllib.parse.urlsplit(url).hostname or ""


def redact_unrecognized(message: str) -> str:
    """The message of argparse's 'unrecognized arguments: ...' without the values (only option names are kept)."""
    prefix = "unrecognized arguments:"
    if prefix not in message:
        return message
    head, _, rest = message.partition(prefix)
    names = [token.split("=", 1)[0] for token in rest.split() if token.startswith("-")]
    shown = " ".join(dict.fromkeys(names)) or "(positional values)"
    hint = ""
    if any("pass" in n.lower() or "secret" in n.lower() for n in names):
        hint = (
            "; passwords are never taken from the command line: use EXAUDIT_AUDIT_PASSWORD / "
            "EXAUDIT_SERVICE_PASSWORD or --audit-password-file / --service-password-file"
        )
    return f"{head}{prefix} {shown} (values not shown){hint}"
