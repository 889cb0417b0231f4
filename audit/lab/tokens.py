"""The lab's token authority without HTTP: its signing key, JWT access tokens, client assertion checks.

Access tokens look like Entra's app-only v1 tokens for Microsoft Graph and Exchange Online: ``aud`` the resource
(``https://graph.microsoft.com``, ``https://outlook.office365.com``), ``appid``, ``oid`` (the service principal),
``tid``, and ``roles`` holding ONLY the Entra app roles consented to the app on that resource: "EXO's RBAC for
Applications roles are NOT included in the Entra API permissions list or the OAuth token's claims"
(domain/exo-2026.md section 1.6). Client assertions are checked as msal builds them (section 2d): RS256 with
``x5t`` or PS256 with ``x5t#S256``, ``aud`` = the token endpoint, ``iss`` = ``sub`` = the client id, exp/nbf.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import json
import secrets
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

MAX_TOKEN_BYTES = 16 * 1024
CLOCK_SKEW_SECONDS = 300
TOKEN_LIFETIME_SECONDS = 3599


class TokenError(Exception):
    """A token or assertion the lab refuses; ``code`` is an AADSTS number (assertions) or a short reason."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def b64url(data: bytes) -> str:
    """Base64url without padding (RFC 7515)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    """Decode base64url with or without padding; raise ValueError when it is not base64url."""
    padded = text + "=" * (-len(text) % 4)
    try:
        return base64.urlsafe_b64decode(padded.encode("ascii"))
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise ValueError("not base64url") from exc


def split_jwt(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    """Header, claims, signing input and signature of a compact JWS; raise TokenError when malformed."""
    if len(token) > MAX_TOKEN_BYTES:
        raise TokenError("malformed", "the token is too long")
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenError("malformed", "the token is not a compact JWS")
    try:
        header = json.loads(unb64url(parts[0]))
        claims = json.loads(unb64url(parts[1]))
        signature = unb64url(parts[2])
    except ValueError as exc:
        raise TokenError("malformed", "the token is not valid base64url JSON") from exc
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise TokenError("malformed", "the token's header and claims must be JSON objects")
    return header, claims, f"{parts[0]}.{parts[1]}".encode("ascii"), signature


@dataclass(frozen=True, slots=True)
class Certificate:
    """A certificate registered on an app (its thumbprints as msal puts them in x5t / x5t#S256)."""

    cert: x509.Certificate

    @property
    def x5t(self) -> str:
        """SHA-1 thumbprint, base64url."""
        return b64url(self.cert.fingerprint(hashes.SHA1()))  # noqa: S303 - x5t is defined as SHA-1 (RFC 7515)

    @property
    def x5t_s256(self) -> str:
        """SHA-256 thumbprint, base64url."""
        return b64url(self.cert.fingerprint(hashes.SHA256()))


def make_certificate(common_name: str, *, days: int = 2) -> tuple[bytes, bytes]:
    """A self-signed RSA certificate for an app registration: (certificate PEM, private key PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def verify_assertion(
    assertion: str,
    *,
    client_id: str,
    token_endpoint: str,
    certificates: Sequence[Certificate],
    now: float | None = None,
) -> None:
    """Check a client assertion JWT; raise TokenError with the AADSTS code Entra would answer with.

    Codes: AADSTS700027 (signature, unknown certificate), AADSTS700024 (outside its valid time range),
    AADSTS700021 (issuer/subject not the client id), AADSTS50027 (malformed). The audience mismatch wording is
    the lab's (UNVERIFIED against Entra).
    """
    now = time.time() if now is None else now
    try:
        header, claims, signing_input, signature = split_jwt(assertion)
    except TokenError as exc:
        raise TokenError("AADSTS50027", f"JWT token is invalid or malformed. {exc.message}") from exc
    alg = header.get("alg")
    if alg not in ("RS256", "PS256"):
        raise TokenError("AADSTS700027", f"Client assertion uses an unsupported algorithm {alg!r}.")
    cert: Certificate | None = None
    # msal keeps the base64 padding on x5t/x5t#S256 (oauth2cli/assertion.py); RFC 7515 drops it: accept both.
    s256 = str(header.get("x5t#S256", "")).rstrip("=")
    s1 = str(header.get("x5t", "")).rstrip("=")
    for candidate in certificates:
        if s256 == candidate.x5t_s256 or s1 == candidate.x5t:
            cert = candidate
            break
    if cert is None:
        raise TokenError(
            "AADSTS700027",
            "The certificate with identifier used to sign the client assertion is not registered on application.",
        )
    public = cert.cert.public_key()
    if not isinstance(public, rsa.RSAPublicKey):
        raise TokenError("AADSTS700027", "Client assertion failed signature validation.")
    pad: padding.AsymmetricPadding = (
        padding.PKCS1v15()
        if alg == "RS256"
        else padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=hashes.SHA256.digest_size)
    )
    try:
        public.verify(signature, signing_input, pad, hashes.SHA256())
    except InvalidSignature as exc:
        raise TokenError("AADSTS700027", "Client assertion failed signature validation.") from exc
    if claims.get("aud") != token_endpoint:
        raise TokenError("AADSTS700027", f"Client assertion audience is not the token endpoint {token_endpoint}.")
    if claims.get("iss") != client_id or claims.get("sub") != client_id:
        raise TokenError("AADSTS700021", "Client assertion application identifier doesn't match 'client_id' parameter.")
    exp, nbf = claims.get("exp"), claims.get("nbf", claims.get("iat", 0))
    if not isinstance(exp, int | float) or not isinstance(nbf, int | float):
        raise TokenError("AADSTS50027", "JWT token is invalid or malformed. exp and nbf must be numbers.")
    if exp < now - CLOCK_SKEW_SECONDS or nbf > now + CLOCK_SKEW_SECONDS:
        raise TokenError("AADSTS700024", "Client assertion is not within its valid time range.")
    cert_valid = cert.cert.not_valid_before_utc.timestamp() <= now <= cert.cert.not_valid_after_utc.timestamp()
    if not cert_valid:
        raise TokenError("AADSTS700027", "The certificate used to sign the client assertion has expired.")


class TokenAuthority:
    """The lab's signing key; issues and verifies access tokens for one tenant."""

    def __init__(self, tenant_id: str) -> None:
        self.tenant_id = tenant_id
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = secrets.token_hex(8)

    @property
    def issuer(self) -> str:
        """The v1 issuer app-only tokens for these resources carry."""
        return f"https://sts.windows.net/{self.tenant_id}/"

    def jwks(self) -> dict[str, Any]:
        """The public key as a JWK set (``/discovery/v2.0/keys``)."""
        numbers = self._key.public_key().public_numbers()

        def enc(n: int) -> str:
            return b64url(n.to_bytes((n.bit_length() + 7) // 8, "big"))

        return {"keys": [{"kty": "RSA", "use": "sig", "kid": self.kid, "n": enc(numbers.n), "e": enc(numbers.e)}]}

    def issue(
        self,
        *,
        audience: str,
        app_id: str,
        object_id: str,
        roles: Sequence[str],
        lifetime: int = TOKEN_LIFETIME_SECONDS,
        now: float | None = None,
    ) -> str:
        """Sign an app-only access token."""
        now = int(time.time() if now is None else now)
        header = {"typ": "JWT", "alg": "RS256", "kid": self.kid}
        claims: dict[str, Any] = {
            "aud": audience,
            "iss": self.issuer,
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            "appid": app_id,
            "appidacr": "1",
            "idtyp": "app",
            "oid": object_id,
            "sub": object_id,
            "tid": self.tenant_id,
            "uti": b64url(uuid.uuid4().bytes),
            "ver": "1.0",
        }
        if roles:
            claims["roles"] = list(roles)
        signing_input = ".".join(b64url(json.dumps(p, separators=(",", ":")).encode()) for p in (header, claims))
        signature = self._key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{b64url(signature)}"

    def verify(self, token: str, audience: str, *, now: float | None = None) -> Mapping[str, Any]:
        """Return the claims of a token the lab issued for ``audience``; raise TokenError otherwise."""
        now = time.time() if now is None else now
        header, claims, signing_input, signature = split_jwt(token)
        if header.get("alg") != "RS256" or header.get("kid") != self.kid:
            raise TokenError("invalid_signature", "the token was not signed by this lab")
        try:
            self._key.public_key().verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature as exc:
            raise TokenError("invalid_signature", "the token's signature is invalid") from exc
        if str(claims.get("aud", "")).rstrip("/") != audience.rstrip("/"):
            raise TokenError("invalid_audience", f"the token's audience is not {audience}")
        if claims.get("tid") != self.tenant_id:
            raise TokenError("invalid_tenant", "the token was issued for another tenant")
        exp = claims.get("exp")
        if not isinstance(exp, int | float) or exp < now:
            raise TokenError("expired", "the token has expired")
        return claims


def bearer(header_value: str) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None."""
    scheme, _, token = header_value.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def thumbprint_sha1_hex(cert_pem: bytes) -> str:
    """Hex SHA-1 thumbprint of a PEM certificate (msal's ``thumbprint`` credential form)."""
    cert = x509.load_pem_x509_certificate(cert_pem)
    return hashlib.sha1(cert.public_bytes(serialization.Encoding.DER)).hexdigest()  # noqa: S324 - a thumbprint
