"""Files exaudit writes (snapshots, reports, exported policies): private by default, replaced atomically.

They hold directory data (mailbox addresses, group members, role assignments), so they are created with mode
0600 whatever the umask, unless the user asks for another mode (``--file-mode``).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

DEFAULT_FILE_MODE = 0o600


def parse_file_mode(text: str) -> int:
    """An octal file mode for what exaudit writes; raises ValueError with the reason when it is not a safe one."""
    try:
        mode = int(text, 8)
    except ValueError:
        raise ValueError(f"{text!r} is not an octal file mode such as 0600 or 0640") from None
    if not 0 <= mode <= 0o777:
        raise ValueError(f"{text!r} is not a file mode (0000 to 0777)")
    if mode & 0o111:
        raise ValueError(f"{text!r} would make reports executable")
    if mode & 0o002:
        raise ValueError(f"{text!r} would let anyone on the machine change the evidence (world-writable)")
    if mode & 0o600 != 0o600:
        raise ValueError(f"{text!r} must leave the owner read and write access (0600 at least)")
    return mode


def write_private(path: Path, data: bytes, mode: int = DEFAULT_FILE_MODE) -> None:
    """Write ``data`` to ``path`` atomically (a new file renamed over it), with exactly ``mode``.

    The temporary file is created exclusively (O_EXCL) with the mode from the start, so the content is never
    readable by others, not even for a moment, and an existing file or symlink of that name is never written
    through.
    """
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)  # the umask may have taken bits the user asked for
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


@contextlib.contextmanager
def open_private(path: Path, mode: int = DEFAULT_FILE_MODE) -> Iterator[BinaryIO]:
    """A file to stream into that replaces ``path`` atomically when the block ends (as :func:`write_private`).

    Nothing is left behind when the block raises: the temporary file is removed and ``path`` is untouched.
    """
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)  # the umask may have taken bits the user asked for
            yield handle
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
