"""Kerberos for the auditor: what must be installed, whose ticket is used, and what each GSSAPI failure means.

Two identities, never mixed:

* the **auditing account** (PowerShell remoting) uses the runner's ticket cache (``kinit``), its keytab through
  MIT's ``KRB5_CLIENT_KTNAME``, or a ticket pyspnego gets from ``EXAUDIT_AUDIT_PASSWORD`` into memory;
* the **service account** (the EWS probes) always uses its own credentials: its keytab
  (``EXAUDIT_SERVICE_KEYTAB``) or a ticket acquired from its password into a private in-memory cache
  (``gss_acquire_cred_with_password``). The runner's ticket would test the wrong identity.

Everything that can be checked without the network is checked by :func:`preflight` before the first connection;
the KDC is asked for the service account's ticket exactly once per run (one failed logon at most).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

from audit.errors import ProbeError, UsageError

EXTRA_HINT = "pip install 'exaudit[kerberos]'"
_MODULES = ("gssapi", "krb5", "requests_gssapi")
_SERVICE = "HTTP"  # Exchange's virtual directories run in IIS: the SPN is HTTP/<host> (WinRM's client asks for it)


def missing_modules() -> list[str]:
    """The Python modules Kerberos needs that are not installed."""
    return [m for m in _MODULES if importlib.util.find_spec(m) is None]


def require_extra() -> None:
    """Raise one UsageError when the Kerberos extra is not installed (before any network call)."""
    missing = missing_modules()
    if missing:
        raise UsageError(
            f"--auth kerberos needs the Kerberos extra ({', '.join(missing)} not installed): {EXTRA_HINT} "
            "(on Debian/Ubuntu the build needs libkrb5-dev first)"
        )


def principal(user: str) -> str:
    r"""A Kerberos principal for a UPN or DOMAIN\user: the realm is the UPN suffix, upper case (as AD's KDC does).

    MIT Kerberos compares realms case-sensitively while Active Directory does not; a UPN's lower-case suffix
    would send the AS request to a realm that does not exist.
    """
    if "\\" in user:
        return user.rsplit("\\", 1)[1]
    name, at, realm = user.rpartition("@")
    return f"{name}@{realm.upper()}" if at else user


def service_name(host: str) -> str:
    """The GSSAPI host-based service name of the Exchange virtual directory (HTTP@host)."""
    return f"{_SERVICE}@{host}"


def _keytab_path(value: str) -> Path | None:
    kind, sep, rest = value.partition(":")
    if sep and kind.upper() in ("FILE", "WRFILE"):
        return Path(rest)
    if sep and len(kind) > 1:  # MEMORY:, KEYRING: and others: nothing to check on disk
        return None
    return Path(value)


def check_keytab(variable: str, value: str) -> None:
    """A keytab named by ``variable`` must exist and be readable; the message names the variable."""
    path = _keytab_path(value)
    if path is None:
        return
    if not path.is_file():
        raise UsageError(f"{variable} names the keytab {path}, which does not exist")
    if not os.access(path, os.R_OK):
        raise UsageError(f"{variable} names the keytab {path}, which this user cannot read")


def check_auditor(has_password: bool) -> None:
    """The auditing account has a usable Kerberos credential: a password, a client keytab or a live ticket.

    Raises:
        UsageError: none of them, an expired ticket, or a client keytab that does not exist.
    """
    if has_password:
        return
    client_keytab = os.environ.get("KRB5_CLIENT_KTNAME")
    if client_keytab:
        check_keytab("KRB5_CLIENT_KTNAME", client_keytab)
        return
    import gssapi  # noqa: PLC0415  (optional dependency, checked by require_extra)
    import gssapi.exceptions  # noqa: PLC0415
    import gssapi.raw.misc  # noqa: PLC0415

    try:
        credential = gssapi.Credentials(usage="initiate")
        lifetime = credential.lifetime
    except gssapi.exceptions.ExpiredCredentialsError:
        raise UsageError(
            "the Kerberos ticket of the auditing account has expired: run kinit again (or set KRB5_CLIENT_KTNAME "
            "to the account's keytab so a ticket is obtained for each run)"
        ) from None
    except gssapi.raw.misc.GSSError:
        raise UsageError(
            "no Kerberos ticket for the auditing account: run kinit, set KRB5_CLIENT_KTNAME to its keytab, or set "
            "EXAUDIT_AUDIT_PASSWORD"
        ) from None
    if lifetime is not None and lifetime < 60:
        raise UsageError("the auditing account's Kerberos ticket expires within a minute: run kinit again")


def service_credential(user: str, password: str | None, keytab: str | None) -> Any:
    """The service account's own GSSAPI credential, in a private memory cache: one AS exchange with the KDC.

    From a password the ticket is requested once with MIT's step-by-step API (``krb5_init_creds_*``) into a memory
    cache, and the credential is then taken from that cache. ``gss_acquire_cred_with_password`` for the two
    mechanisms the credential needs (Kerberos, and SPNEGO for requests-gssapi) runs one AS exchange per mechanism:
    two failed logons for one wrong password (measured in the test KDC's log).

    Raises:
        ProbeError: the KDC refused or could not be reached; the message says which (no probe is made then).
    """
    import gssapi  # noqa: PLC0415
    import gssapi.raw  # noqa: PLC0415
    import gssapi.raw.misc  # noqa: PLC0415
    import krb5  # noqa: PLC0415

    name = gssapi.Name(principal(user), gssapi.NameType.kerberos_principal)
    krb5_mech = gssapi.OID.from_int_seq("1.2.840.113554.1.2.2")
    # requests-gssapi negotiates with the SPNEGO mechanism; MIT ignores a krb5-only credential there and falls
    # back to the default cache (the runner's ticket), so the credential must name SPNEGO too.
    spnego_mech = gssapi.OID.from_int_seq("1.3.6.1.5.5.2")
    store: dict[bytes | str, bytes | str]
    try:
        if keytab:
            # A new memory cache filled from the keytab: the runner's default cache is never read or written.
            # MIT gets the TGT from a client keytab lazily, at the first probe's logon; the prober lets one probe
            # go first, so a refused key costs one attempt too.
            cache = f"MEMORY:exaudit-service-{os.getpid()}-{id(name)}"
            store = {b"client_keytab": keytab.encode(), b"ccache": cache.encode()}
        else:
            store = {b"ccache": _ticket_from_password(krb5, principal(user), password or "")}
        raw = gssapi.raw.acquire_cred_from(store, name=name, mechs=[krb5_mech, spnego_mech], usage="initiate").creds
    except (gssapi.raw.misc.GSSError, krb5.Krb5Error) as exc:
        raise ProbeError(
            f"the KDC did not give the service account {principal(user)} a ticket: {explain(exc, None)}; "
            "no EWS probe was made (one attempt only, so the account is not locked out)"
        ) from None
    return gssapi.Credentials(base=raw, usage="initiate")


_CACHES: list[Any] = []  # memory caches stay alive (and private to this process) for the run


def _ticket_from_password(krb5: Any, name: str, password: str) -> bytes:
    """One AS exchange for ``name`` with ``password``; the TGT goes into a new MEMORY cache, whose name is returned."""
    context = krb5.init_context()
    client = krb5.parse_name_flags(context, name.encode("utf-8"))
    options = krb5.get_init_creds_opt_alloc(context)
    krb5.get_init_creds_opt_set_canonicalize(options, True)
    request = krb5.init_creds_init(context, client, options)
    krb5.init_creds_set_password(context, request, password.encode("utf-8"))
    krb5.init_creds_get(context, request)
    creds = krb5.init_creds_get_creds(context, request)
    cache = krb5.cc_new_unique(context, b"MEMORY")
    krb5.cc_initialize(context, cache, creds.client)
    krb5.cc_store_cred(context, cache, creds)
    _CACHES.append((context, cache))
    return b"MEMORY:" + bytes(cache.name or b"")


def explain(exc: BaseException, spn_host: str | None) -> str:
    """One actionable sentence for a GSSAPI/Kerberos failure (the library's own text is kept short at the end)."""
    text = str(exc)
    lowered = text.lower()
    hints = (
        (
            ("not found in kerberos database", "server not found"),
            "the KDC knows no service principal for this host name: the SPN is HTTP/<the name you connect to>; "
            "give --spn-host with the name the Exchange server's SPN is registered under (setspn -L <computer>)",
        ),
        (
            ("clock skew", "skew too great"),
            "the clocks of this machine and the KDC/Exchange server differ by more than 5 minutes: sync NTP",
        ),
        (
            ("cannot contact any kdc", "cannot find kdc", "unable to reach any kdc", "connection refused"),
            "no KDC answered: check krb5.conf ([realms] kdc =, or DNS SRV records) and that TCP/UDP 88 is open",
        ),
        (
            ("preauthentication failed", "password incorrect", "decrypt integrity check failed"),
            "the KDC refused the password or key",
        ),
        (
            ("key version", "kvno"),
            "the key version does not match the KDC's: export the keytab again after the password change",
        ),
        (
            ("expired",),
            "the Kerberos ticket has expired: run kinit again (or use a keytab)",
        ),
        (
            ("client not found", "not found in kerberos database"),
            "the KDC knows no such user principal: check the user name and the realm",
        ),
        (
            ("no credentials", "no kerberos credentials", "credentials cache", "no such file"),
            "no Kerberos ticket or keytab for this account: run kinit, or set KRB5_CLIENT_KTNAME",
        ),
    )
    for needles, hint in hints:
        if any(n in lowered for n in needles):
            return f"{hint} ({_short(text)})"
    return _short(text)


def _short(text: str) -> str:
    return " ".join(text.split())[:300]
