"""Token-service failures become one line naming what to fix; certificates are checked before any request."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from audit.errors import UsageError
from audit.target.exo import ExchangeOnline, resource_for
from audit.target.tokens import (
    AppCredential,
    TokenSource,
    certificate_credential,
    is_microsoft_authority,
    token_roles,
)

TENANT = "2f4a9c1e-7b3d-4e5f-a6b7-c8d9e0f1a2b3"


def source(credential: AppCredential) -> TokenSource:
    return TokenSource(f"https://login.microsoftonline.com/{TENANT}", credential, what="auditing app")


SECRET = AppCredential("app-1", secret="s", source="the client secret from EXAUDIT_CLIENT_SECRET")


@pytest.mark.parametrize(
    ("reply", "wanted"),
    [
        ({"error": "invalid_request", "error_description": "AADSTS90002: Tenant 'x' not found."}, "no tenant"),
        ({"error": "unauthorized_client", "error_description": "AADSTS700016: Application with identifier 'app-1' "
          "was not found in the directory"}, "not registered in tenant"),
        ({"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided."},
         "refused the client secret from EXAUDIT_CLIENT_SECRET"),
        ({"error": "invalid_client",
          "error_description": "AADSTS7000222: The provided client secret keys are expired."}, "wrong or expired"),
        ({"error": "invalid_scope", "error_description": "AADSTS1002012: bad scope"}, "invalid_scope"),
        ({"error": "temporarily_unavailable", "error_description": "try later\nmore"},
         "temporarily_unavailable: try later"),
    ],
)  # fmt: skip
def test_token_service_errors_are_one_line_with_the_fix(reply: dict[str, str], wanted: str) -> None:
    text = source(SECRET)._refusal(reply, "https://outlook.office365.com")
    assert wanted in text
    assert "\n" not in text


def test_a_refused_certificate_says_to_upload_it() -> None:
    cert = AppCredential("app-1", certificate_pem="c", private_key_pem="k")
    reply = {
        "error": "invalid_client",
        "error_description": "AADSTS700027: Client assertion failed signature validation.",
    }
    assert "refused the certificate" in source(cert)._refusal(reply, "https://graph.microsoft.com")


def _pem(tmp: Path, *, days: tuple[int, int], name: str = "c") -> tuple[Path, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "t")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(1).not_valid_before(now + dt.timedelta(days=days[0]))
        .not_valid_after(now + dt.timedelta(days=days[1])).sign(key, hashes.SHA256())
    )  # fmt: skip
    c, k = tmp / f"{name}.pem", tmp / f"{name}.key"
    c.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    k.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))  # fmt: skip
    return c, k


def test_certificate_checks(tmp_path: Path) -> None:
    good_cert, good_key = _pem(tmp_path, days=(-1, 30))
    credential = certificate_credential("app-1", good_cert, good_key)
    assert credential.uses_certificate
    assert "PRIVATE KEY" not in repr(credential)
    with pytest.raises(UsageError, match="expired"):
        certificate_credential("app-1", *_pem(tmp_path, days=(-30, -1), name="old"))
    with pytest.raises(UsageError, match="not valid before"):
        certificate_credential("app-1", *_pem(tmp_path, days=(2, 30), name="future"))
    _, other_key = _pem(tmp_path, days=(-1, 30), name="other")
    with pytest.raises(UsageError, match="does not belong"):
        certificate_credential("app-1", good_cert, other_key)
    (tmp_path / "junk.pem").write_text("not a pem")
    with pytest.raises(UsageError, match="not a PEM"):
        certificate_credential("app-1", tmp_path / "junk.pem", good_key)


def test_authorities_and_resources() -> None:
    assert is_microsoft_authority("https://login.microsoftonline.com/x")
    assert is_microsoft_authority("https://login.microsoftonline.us/x")
    assert not is_microsoft_authority("https://127.0.0.1:8443/x")
    assert (
        resource_for("https://outlook.office365.us", "https://outlook.office365.com") == "https://outlook.office365.us"
    )
    assert resource_for("https://127.0.0.1:9", "https://outlook.office365.com") == "https://outlook.office365.com"
    target = ExchangeOnline(tenant=TENANT, auditor=SECRET)
    assert target.authority == f"https://login.microsoftonline.com/{TENANT}"
    named = ExchangeOnline(tenant=TENANT, auditor=SECRET, authority_url=f"https://127.0.0.1:1/{TENANT}")
    assert named.authority == f"https://127.0.0.1:1/{TENANT}"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"tenant": "bad tenant!"}, "--tenant"),
        ({"auditor": AppCredential("app-1")}, "needs a credential"),
        ({"graph_url": "http://graph.example"}, "--graph-url must be an https URL"),
        ({"adminapi_url": "https://user:pw@outlook.office365.com"}, "holds credentials"),
    ],
)
def test_exchange_online_options_are_validated(change: dict[str, object], message: str) -> None:
    values: dict[str, object] = {"tenant": TENANT, "auditor": SECRET, **change}
    with pytest.raises(UsageError, match=message):
        ExchangeOnline(**values).validate()  # type: ignore[arg-type]


def test_token_roles_are_read_for_messages_only() -> None:
    assert token_roles("not a jwt") is None
    assert token_roles("e30.eyJyb2xlcyI6WyJhIl19.x") == ("a",)
    hidden = AppCredential("app-1", secret="very-secret-value")
    assert "very-secret-value" not in repr(hidden)
