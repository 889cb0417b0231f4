"""Read the files a policy run touches: the policy itself and the members file it names, contained and bounded.

Policies come from pull requests and CI holds passwords in its environment, so a policy is hostile input: a
members file must be a regular file inside the policy's own folder (``file: /proc/self/environ`` or ``../`` or a
symlink out of the folder would print the environment), and every read is bounded in size and never blocks (a FIFO
or ``/dev/zero`` would hang or fill memory). Lines that are not addresses are named by number only: a members file
may hold anything, a token included, and its content must not reach a message.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from audit.errors import PolicyError

# A policy is a few kilobytes; a megabyte is far beyond any real one and parses in well under a second.
MAX_POLICY_BYTES = 1 << 20
# One address per line: 8 MiB holds some 250,000 members (30 bytes a line), above the 100,000 mailboxes a scope
# is measured with (bench/bench_run.py); still bounded, read whole in well under a second.
MAX_MEMBERS_BYTES = 8 << 20

# What a members file line must be: an RFC 5321 mailbox (dot-atom local part, host name of letters, digits and
# hyphens). Stricter than the policy's inline pattern on purpose: ``https://user:token@host.example/x`` is not an
# address, and a line of a file nobody reviews line by line must not reach five reports because it has an ``@``.
MEMBER_ADDRESS = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+"
)


class UnreadableFile(Exception):
    """A file cannot be read safely; ``reason`` is a plain message that names no file content."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def read_regular_file(path: Path, limit: int) -> bytes:
    """Read at most ``limit`` bytes of a regular file; anything else (FIFO, device, directory) is refused unread."""
    # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever; with it the open returns at
    # once and fstat says what the file is before a single byte is read.
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise UnreadableFile("not found") from None
    except IsADirectoryError:
        raise UnreadableFile("is a directory") from None
    except OSError as exc:
        raise UnreadableFile(f"cannot be opened: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise UnreadableFile("is a directory")
        if not stat.S_ISREG(info.st_mode):
            raise UnreadableFile(f"is not a regular file (a {_kind(info.st_mode)})")
        if info.st_size > limit:
            raise UnreadableFile(f"is {info.st_size:,} bytes; the limit is {limit:,}")
        # st_size can lie (files in /proc say 0) or grow while read: read one byte past the limit to know.
        chunks: list[bytes] = []
        left = limit + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 16))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
    except OSError as exc:
        raise UnreadableFile(f"cannot be read: {exc.strerror}") from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise UnreadableFile(f"is larger than the limit of {limit:,} bytes")
    return data


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISCHR(mode):
        return "character device"
    if stat.S_ISBLK(mode):
        return "block device"
    if stat.S_ISSOCK(mode):
        return "socket"
    return "special file"


def contained_path(folder: Path, name: str) -> Path:
    """The file ``name`` names inside ``folder``, symlinks resolved; refused when it is absolute or leads out."""
    if not name or "\0" in name:
        raise UnreadableFile("is not a file name")
    if Path(name).is_absolute() or name.startswith("~"):
        raise UnreadableFile("must be a path relative to the policy's folder, not an absolute path")
    try:
        base = folder.resolve()
        target = (base / name).resolve()
    except (OSError, RuntimeError):  # a symlink loop
        raise UnreadableFile("cannot be resolved (a symlink loop?)") from None
    if target != base and base not in target.parents:
        raise UnreadableFile("leads out of the policy's folder (through '..' or a symlink); keep it beside the policy")
    return target


def decode_utf8(raw: bytes, path: Path) -> str:
    """The text of a UTF-8 file (a BOM is allowed); otherwise a PolicyError at the first bad byte."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        column = exc.start - (before.rfind(b"\n") + 1) + 1
        raise PolicyError(
            f"not UTF-8 text: byte 0x{raw[exc.start]:02x} cannot be decoded; save the file as UTF-8",
            path,
            line,
            column,
        ) from exc


def parse_members(text: str, file: Path) -> dict[str, int]:
    """Lower-cased address -> line number; a line that is not an address is named by its number only."""
    addresses: dict[str, int] = {}
    for number, content in enumerate(text.splitlines(), start=1):
        address = content.split("#", 1)[0].strip()
        if not address:
            continue
        col = content.index(address) + 1
        if MEMBER_ADDRESS.fullmatch(address) is None:
            # Never echo the line: a members file may hold anything (a URL with a token), and messages reach CI logs.
            raise PolicyError(
                "this line is not an SMTP address such as ad.viseur@contoso.com (its text is not shown)",
                file,
                number,
                col,
            )
        key = address.casefold()
        if key in addresses:
            raise PolicyError(f"'{address}' is listed twice (first on line {addresses[key]})", file, number, col)
        addresses[key] = number
    return addresses
