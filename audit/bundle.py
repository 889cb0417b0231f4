"""Signed evidence bundles: a folder with the snapshot, every report and a manifest signed with Ed25519.

A snapshot on its own carries a SHA-256 checksum: it finds accidental damage, but anyone who edits a snapshot can
recompute it. A bundle adds what an auditor can rely on: ``manifest.json`` lists every file of the folder with its
SHA-256 and size, and ``manifest.sig`` is an Ed25519 signature (RFC 8032) over the exact bytes of the manifest, made
with a private key only the person who ran the audit holds. ``exaudit verify BUNDLE --public-key KEY`` checks the
signature, then every file, and says exactly what was changed, added or removed.

Layout (``format`` ``exaudit-bundle/1``)::

    DIR/manifest.json   {"format", "toolVersion", "createdAt", "publicKeySha256", "files": [{"path", "sha256",
                         "size"}, ...]}  (paths relative, "/"-separated, sorted)
    DIR/manifest.sig    base64 of the 64-byte Ed25519 signature over manifest.json, one line
    DIR/snapshot.json, DIR/report.html, ...

Pure logic over files: no network import (the sans-IO import-linter contract covers this module). Keys never
appear in any message: errors name the file or the environment variable, never their content.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from audit.errors import ExauditError

FORMAT = "exaudit-bundle/1"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
SIGN_KEY_ENV = "EXAUDIT_SIGN_KEY"
PRIVATE_MODE = 0o600
_CHUNK = 1 << 20  # streamed hashing: a 1 MiB buffer whatever the size of the snapshot
_MAX_MANIFEST = 16 << 20  # a manifest lists a handful of files; anything larger is not one exaudit wrote
_MAX_KEY = 64 << 10


class BundleError(ExauditError):
    """A bundle or key cannot be written or read (the message never quotes key material)."""


# --- keys ------------------------------------------------------------------------------------------------------


def _read_key_bytes(path: Path, what: str) -> bytes:
    try:
        with path.open("rb") as handle:
            data = handle.read(_MAX_KEY + 1)
    except OSError as exc:
        raise BundleError(f"cannot read the {what} {path}: {exc.strerror or exc}") from exc
    if len(data) > _MAX_KEY:
        raise BundleError(f"{path}: not an Ed25519 {what} (larger than {_MAX_KEY // 1024} KiB)")
    return data


def load_private_key(path: Path | None, environ: dict[str, str] | None = None) -> Ed25519PrivateKey:
    """The signing key: the PEM file ``path``, else the PEM text in ``EXAUDIT_SIGN_KEY``.

    Raises:
        BundleError: no key, or not an unencrypted Ed25519 private key in PEM (PKCS#8).
    """
    env = os.environ if environ is None else environ
    if path is not None:
        data, source = _read_key_bytes(path, "signing key"), str(path)
    elif env.get(SIGN_KEY_ENV):
        data, source = env[SIGN_KEY_ENV].encode("utf-8"), SIGN_KEY_ENV
    else:
        raise BundleError(f"no signing key: give --sign-key FILE or set {SIGN_KEY_ENV} (create one: exaudit keygen)")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise BundleError(f"{source}: the private key is encrypted; exaudit signs with an unencrypted key") from None
    except (ValueError, UnsupportedAlgorithm):
        # No chained exception: the library's message may quote part of the input.
        raise BundleError(f"{source}: not an Ed25519 private key in PEM (create one: exaudit keygen)") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise BundleError(f"{source}: the private key is not Ed25519 (create one: exaudit keygen)")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """An Ed25519 public key from a PEM file (as ``exaudit keygen`` writes it)."""
    data = _read_key_bytes(path, "public key")
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm):
        raise BundleError(f"{path}: not an Ed25519 public key in PEM (exaudit keygen writes PREFIX.pub)") from None
    if not isinstance(key, Ed25519PublicKey):
        raise BundleError(f"{path}: the public key is not Ed25519")
    return key


def public_key_fingerprint(key: Ed25519PublicKey) -> str:
    """SHA-256 (hex) of the raw 32-byte public key: names the key in the manifest without being a secret."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def write_private(path: Path, data: bytes, mode: int = PRIVATE_MODE) -> None:
    """Write ``data`` atomically with exactly ``mode`` from creation on (O_EXCL temporary, then rename).

    The same creation as the reports and snapshots (hostile-server's audit/files.py): the file is never readable
    by others, not even for a moment, and a file or symlink of the final name is never written through.
    """
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)  # the umask may have taken bits away
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def keygen(prefix: Path) -> tuple[Path, Path]:
    """Write a new Ed25519 key pair: ``PREFIX.key`` (PKCS#8 PEM, mode 0600) and ``PREFIX.pub`` (PEM).

    Raises:
        BundleError: either file exists already (a key is never overwritten) or cannot be written.
    """
    private_path = prefix.with_name(prefix.name + ".key")
    public_path = prefix.with_name(prefix.name + ".pub")
    for existing in (private_path, public_path):
        if existing.exists() or existing.is_symlink():
            raise BundleError(f"{existing} exists; refusing to overwrite a key (choose another --out prefix)")
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    try:
        prefix.parent.mkdir(parents=True, exist_ok=True)
        write_private(private_path, private_pem)
        write_private(public_path, public_pem, 0o644)  # public by design: it goes to the auditor
    except OSError as exc:
        raise BundleError(f"cannot write the key pair {prefix}: {exc.strerror or exc}") from exc
    return private_path, public_path


# --- writing ---------------------------------------------------------------------------------------------------


def file_sha256(path: Path) -> tuple[str, int]:
    """SHA-256 (hex) and size of a file, read in 1 MiB chunks (constant memory)."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def bundle_files(directory: Path) -> list[str]:
    """The files of a bundle folder as sorted "/"-separated relative paths (manifest and signature excluded).

    Symlinks are listed but never followed (verify reports them as not regular files).
    """
    found: list[str] = []
    for root, dirs, files in os.walk(directory, followlinks=False):
        base = Path(root)
        for name in files + [d for d in dirs if (base / d).is_symlink()]:
            rel = (base / name).relative_to(directory).as_posix()
            if rel not in (MANIFEST, SIGNATURE):
                found.append(rel)
    return sorted(found)


def check_empty(directory: Path) -> None:
    """Refuse a bundle folder that holds anything: every file in it is signed, so it must be only this run's.

    Raises:
        BundleError: the folder exists and is not empty, or is not a folder.
    """
    if directory.exists() and not directory.is_dir():
        raise BundleError(f"--bundle {directory} is not a folder")
    if directory.is_dir() and any(directory.iterdir()):
        raise BundleError(f"--bundle {directory} is not empty; give a new folder for each bundle")


def manifest_bytes(directory: Path, *, tool_version: str, created_at: str, fingerprint: str) -> bytes:
    """The manifest of every file now in ``directory`` (canonical JSON, keys sorted, one trailing newline)."""
    entries = []
    for rel in bundle_files(directory):
        sha, size = file_sha256(directory / rel)
        entries.append({"path": rel, "sha256": sha, "size": size})
    doc = {
        "format": FORMAT,
        "toolVersion": tool_version,
        "createdAt": created_at,
        "publicKeySha256": fingerprint,
        "files": entries,
    }
    return (json.dumps(doc, sort_keys=True, indent=1, ensure_ascii=True) + "\n").encode("ascii")


def sign(directory: Path, key: Ed25519PrivateKey, *, tool_version: str, created_at: str) -> int:
    """Write ``manifest.json`` over every file of the bundle and ``manifest.sig``; returns the number of files."""
    fingerprint = public_key_fingerprint(key.public_key())
    data = manifest_bytes(directory, tool_version=tool_version, created_at=created_at, fingerprint=fingerprint)
    signature = base64.b64encode(key.sign(data)) + b"\n"
    try:
        write_private(directory / MANIFEST, data)
        write_private(directory / SIGNATURE, signature)
    except OSError as exc:
        raise BundleError(f"cannot write the manifest in {directory}: {exc.strerror or exc}") from exc
    return len(json.loads(data)["files"])


# --- verifying -------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Verification:
    """What ``verify`` found; ``ok`` only when the signature is valid and every file matches."""

    signature: str = "missing"  # valid | invalid | missing | unreadable
    problem: str = ""  # why the manifest or signature could not be used
    files: int = 0
    changed: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    fingerprint: str = ""

    @property
    def ok(self) -> bool:
        """Signed with the given key and unchanged."""
        return self.signature == "valid" and not (self.problem or self.changed or self.added or self.removed)

    def lines(self) -> list[str]:
        """One line per problem, then the verdict (for the CLI)."""
        out: list[str] = []
        if self.problem:
            out.append(self.problem)
        out += [f"changed: {p}" for p in self.changed]
        out += [f"added: {p} (not in the signed manifest)" for p in self.added]
        out += [f"removed: {p} (listed in the signed manifest, missing)" for p in self.removed]
        if self.ok:
            out.append(f"OK: signature valid, {self.files} file(s) unchanged (key sha256 {self.fingerprint[:16]})")
        else:
            out.append("NOT VERIFIED: the bundle is not the evidence that was signed")
        return out


def _safe_rel(path: object) -> str | None:
    """A manifest path that stays inside the bundle, else None (hostile manifests name ../../etc/passwd)."""
    if not isinstance(path, str) or not path or "\\" in path or "\x00" in path:
        return None
    parts = path.split("/")
    if path.startswith("/") or any(p in ("", ".", "..") for p in parts):
        return None
    return path


def _read_manifest(directory: Path, result: Verification) -> tuple[bytes, list[dict[str, Any]]] | None:
    path = directory / MANIFEST
    if not path.is_file() or path.is_symlink():
        result.signature, result.problem = "unreadable", f"{MANIFEST} is missing: not an exaudit bundle"
        return None
    with path.open("rb") as handle:
        data = handle.read(_MAX_MANIFEST + 1)
    if len(data) > _MAX_MANIFEST:
        result.signature, result.problem = "unreadable", f"{MANIFEST} is larger than 16 MiB: not one exaudit wrote"
        return None
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        doc = None
    files = doc.get("files") if isinstance(doc, dict) and doc.get("format") == FORMAT else None
    if not isinstance(files, list) or not all(isinstance(e, dict) for e in files):
        result.signature = "unreadable"
        result.problem = f"{MANIFEST} is not an {FORMAT} manifest"
        return None
    result.fingerprint = str(doc.get("publicKeySha256", ""))
    return data, files


def _check_signature(directory: Path, data: bytes, key: Ed25519PublicKey, result: Verification) -> None:
    path = directory / SIGNATURE
    if not path.is_file() or path.is_symlink():
        result.signature = "missing"
        result.problem = f"signature missing: no {SIGNATURE}; the files are only checksummed, not signed"
        return
    try:
        signature = base64.b64decode(path.read_bytes()[:1024].strip(), validate=True)
        key.verify(signature, data)
    except (InvalidSignature, binascii.Error, ValueError):
        result.signature = "invalid"
        result.problem = (
            f"signature wrong: {SIGNATURE} does not verify {MANIFEST} with this public key "
            "(the manifest was changed, or it was signed with another key)"
        )
        return
    result.signature = "valid"


def verify(directory: Path, key: Ed25519PublicKey) -> Verification:
    """Check the signature over the manifest, then every file against it; never raises for a bad bundle.

    Files are compared even when the signature is wrong, so the message says what differs either way.

    Raises:
        BundleError: ``directory`` is not a folder.
    """
    if not directory.is_dir():
        raise BundleError(f"{directory}: no such bundle folder")
    result = Verification()
    manifest = _read_manifest(directory, result)
    if manifest is None:
        return result
    data, entries = manifest
    _check_signature(directory, data, key, result)
    listed: set[str] = set()
    for entry in entries:
        rel = _safe_rel(entry.get("path"))
        if rel is None:
            result.signature = "invalid" if result.signature == "valid" else result.signature
            result.changed.append(f"{entry.get('path')!r} (a path outside the bundle; manifest rejected)")
            continue
        listed.add(rel)
        path = directory / rel
        if path.is_symlink() or (path.exists() and not path.is_file()):
            result.changed.append(f"{rel} (no longer a regular file)")
            continue
        if not path.exists():
            result.removed.append(rel)
            continue
        sha, size = file_sha256(path)
        if sha != entry.get("sha256") or size != entry.get("size"):
            result.changed.append(f"{rel} (sha256 {sha[:12]}..., signed {str(entry.get('sha256'))[:12]}...)")
    result.files = len(listed)
    result.added = [rel for rel in bundle_files(directory) if rel not in listed]
    return result
