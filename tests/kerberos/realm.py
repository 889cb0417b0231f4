"""A real MIT Kerberos realm on 127.0.0.1 for the tests (Debian krb5-kdc, krb5-admin-server, krb5-user).

Everything lives in one temporary folder: kdc.conf, krb5.conf, the database, the stash, keytabs, ticket caches
and the KDC's log. The KDC listens on a free loopback port (UDP and TCP); clients are pointed at it through
``KRB5_CONFIG`` only, never through /etc/krb5.conf. Principals, keys and tickets are made by MIT's own tools
(kdb5_util, kadmin.local, kinit): no Kerberos message is written by hand here.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

REALM = "CONTOSO.COM"
SERVICE_HOST = "localhost"  # resolves to 127.0.0.1 without DNS; the lab's SPN is HTTP/localhost
TOOLS = ("/usr/sbin/krb5kdc", "/usr/sbin/kdb5_util", "/usr/sbin/kadmin.local", "/usr/bin/kinit", "/usr/bin/klist")


def tools_missing() -> list[str]:
    """The MIT tools this module needs and cannot find (scripts/check installs them)."""
    return [t for t in TOOLS if not Path(t).exists()]


def _free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 (the KDC listens on both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = int(tcp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free port for the KDC")


@dataclass
class Principal:
    """A user principal with its password and (once exported) its keytab."""

    name: str  # without the realm
    password: str = field(repr=False)
    keytab: Path

    @property
    def full(self) -> str:
        return f"{self.name}@{REALM}"


class MitRealm:
    """A running MIT KDC for realm CONTOSO.COM on 127.0.0.1; ``start()`` / ``stop()`` or a context manager.

    Args:
        directory: where everything is written (a pytest tmp folder).
        faketime: run the KDC under libfaketime with this offset (e.g. ``"+2h"``) to give it a wrong clock.
    """

    def __init__(self, directory: Path, *, faketime: str | None = None) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = _free_port()
        self.faketime = faketime
        self.kdc_conf = self.dir / "kdc.conf"
        self.krb5_conf = self.dir / "krb5.conf"
        self.log = self.dir / "kdc.log"
        self.service_keytab = self.dir / "http.keytab"
        self._process: subprocess.Popen[bytes] | None = None
        self.principals: dict[str, Principal] = {}

    # -- files and environment ---------------------------------------------------------------------------------

    def env(self, ccache: Path | None = None, **extra: str) -> dict[str, str]:
        """The variables a Kerberos client or the KDC tools need to use this realm and nothing else."""
        out = {
            "KRB5_CONFIG": str(self.krb5_conf),
            "KRB5_KDC_PROFILE": str(self.kdc_conf),
            "KRB5CCNAME": f"FILE:{ccache or (self.dir / 'default.ccache')}",
            "KRB5_KTNAME": f"FILE:{self.dir / 'no-default.keytab'}",
        }
        out.update(extra)
        return out

    def _write_config(self) -> None:
        d = self.dir
        self.kdc_conf.write_text(
            f"""[kdcdefaults]
    kdc_listen = 127.0.0.1:{self.port}
    kdc_tcp_listen = 127.0.0.1:{self.port}

[realms]
    {REALM} = {{
        database_name = {d / "principal"}
        key_stash_file = {d / "stash"}
        acl_file = {d / "kadm5.acl"}
        max_life = 10h 0m 0s
        max_renewable_life = 1d 0h 0m 0s
        supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
        default_principal_flags = +preauth
    }}

[logging]
    kdc = FILE:{self.log}
    admin_server = FILE:{d / "kadmin.log"}
""",
            encoding="utf-8",
        )
        (d / "kadm5.acl").write_text("", encoding="utf-8")
        self.krb5_conf.write_text(
            f"""[libdefaults]
    default_realm = {REALM}
    dns_lookup_kdc = false
    dns_lookup_realm = false
    rdns = false
    dns_canonicalize_hostname = false
    udp_preference_limit = 1
    kdc_timesync = 0
    forwardable = false
    clockskew = 300

[realms]
    {REALM} = {{
        kdc = 127.0.0.1:{self.port}
    }}

[domain_realm]
    {SERVICE_HOST} = {REALM}
    .contoso.com = {REALM}
    contoso.com = {REALM}
""",
            encoding="utf-8",
        )

    def run_tool(self, *argv: str, check: bool = True, env: Mapping[str, str] | None = None, stdin: str = "") -> str:
        """Run an MIT tool against this realm; return its output."""
        done = subprocess.run(
            list(argv),
            input=stdin.encode(),
            capture_output=True,
            env={**os.environ, **self.env(), **(env or {})},
            timeout=60,
            check=False,
        )
        text = (done.stdout + done.stderr).decode(errors="replace")
        if check and done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv[:3])} failed ({done.returncode}): {text}")
        return text

    def kadmin(self, query: str, *, check: bool = True) -> str:
        """One kadmin.local query (local database access; no kadmind needed)."""
        return self.run_tool("/usr/sbin/kadmin.local", "-r", REALM, "-q", query, check=check)

    # -- principals ----------------------------------------------------------------------------------------------

    def add_user(self, name: str, password: str | None = None) -> Principal:
        """A user principal with a random (or given) password, and a keytab holding its current keys."""
        password = password or secrets.token_urlsafe(18)
        self.kadmin(f"addprinc -pw {password} {name}")
        keytab = self.dir / f"{name.replace('/', '_')}.keytab"
        # -norandkey exports the keys the password made, so the password stays valid beside the keytab.
        self.kadmin(f"ktadd -norandkey -k {keytab} {name}")
        principal = Principal(name, password, keytab)
        self.principals[name] = principal
        return principal

    def add_service(self, host: str = SERVICE_HOST, keytab: Path | None = None) -> Path:
        """HTTP/<host> with a random key, exported to a keytab (the Exchange server's keys)."""
        keytab = keytab or self.service_keytab
        self.kadmin(f"addprinc -randkey HTTP/{host}")
        self.kadmin(f"ktadd -norandkey -k {keytab} HTTP/{host}")
        return keytab

    def rekey_service(self, host: str = SERVICE_HOST) -> None:
        """New random keys for HTTP/<host> in the KDC only: every keytab exported before holds an old key version."""
        self.kadmin(f"cpw -randkey HTTP/{host}")

    def kinit(self, principal: Principal, ccache: Path, *, lifetime: str | None = None) -> None:
        """Get a TGT for ``principal`` into ``ccache`` with MIT kinit (from its keytab)."""
        argv = ["/usr/bin/kinit", "-k", "-t", str(principal.keytab), "-c", f"FILE:{ccache}"]
        if lifetime:
            argv += ["-l", lifetime]
        self.run_tool(*argv, principal.full)

    def failed_preauth(self, principal: str) -> int:
        """How many wrong-password (PREAUTH_FAILED) AS requests the KDC logged for ``principal``."""
        if not self.log.exists():
            return 0
        needle = f"{principal}@{REALM}" if "@" not in principal else principal
        return sum(
            1
            for line in self.log.read_text(encoding="utf-8", errors="replace").splitlines()
            if "PREAUTH_FAILED" in line and needle in line
        )

    # -- lifecycle -----------------------------------------------------------------------------------------------

    def start(self) -> MitRealm:
        """Create the database (random master password) and start krb5kdc in the foreground on the free port."""
        self._write_config()
        master = secrets.token_urlsafe(24)
        self.run_tool("/usr/sbin/kdb5_util", "-r", REALM, "create", "-s", "-W", stdin=f"{master}\n{master}\n")
        argv = ["/usr/sbin/krb5kdc", "-n", "-r", REALM]
        env = {**os.environ, **self.env()}
        if self.faketime:
            # libfaketime preloaded into krb5kdc itself (the `faketime` wrapper would fork it as a child that
            # outlives the wrapper when it is stopped).
            libraries = sorted(Path("/usr/lib").glob("*/faketime/libfaketime.so.1"))
            if not libraries:
                raise RuntimeError("libfaketime is not installed (Debian package faketime)")
            env.update({"LD_PRELOAD": str(libraries[0]), "FAKETIME": self.faketime, "FAKETIME_DONT_RESET": "1"})
        with (self.dir / "krb5kdc.err").open("wb") as err:
            # Its own process group, so that stop() ends it and anything it started.
            self._process = subprocess.Popen(
                argv, env=env, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True
            )
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                err = (self.dir / "krb5kdc.err").read_text(errors="replace")
                raise RuntimeError(f"krb5kdc exited ({self._process.returncode}): {err}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return
            time.sleep(0.05)
        raise RuntimeError("krb5kdc did not start listening within 15 s")

    def stop(self) -> None:
        """Stop the KDC (the folder is the caller's)."""
        process, self._process = self._process, None
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def __enter__(self) -> MitRealm:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def environment(values: Mapping[str, str | None]) -> Iterator[None]:
    """Set (or, for None, remove) environment variables for the block; restore them after."""
    saved = {k: os.environ.get(k) for k in values}
    try:
        for k, v in values.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
