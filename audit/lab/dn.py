r"""Distinguished names as the lab's directory compares them: RFC 4514 syntax, values ignoring case.

The lab's own implementation (the auditor has its own in ``audit.opath.dn``; the two are held against each other
by tests, never shared). Why each rule:

- RFC 4514 section 3: a DN string is RDNs separated by ``,``; an RDN is attribute=value pairs joined by ``+``
  (their order does not matter: an RDN is a set); a value escapes ``"+,;<>\`` anywhere, ``#`` or a space at
  its start and a space at its end with a backslash, and any octet as a backslash and two hex digits (UTF-8
  bytes: ``\C3\A9`` is "é"); a value starting with ``#`` is the hex of its BER encoding. Attribute types are
  case-insensitive (section 2.3: "descr" keywords; 2.5.4.3 is cn, etc.).
- RFC 4514 section 4 lets a parser accept other forms; the lab accepts what RFC 2253 section 4 required of
  readers: blanks around ``,``, ``+`` and ``=`` (ignored) and ``;`` for ``,``. Blanks around a value are not
  part of it unless escaped.
- Values are compared ignoring case: distinguishedNameMatch (RFC 4517 4.2.15) compares each value with its
  attribute's equality rule, and the naming attributes of Exchange's objects have case-insensitive ones
  (RFC 4519: cn and ou caseIgnoreMatch, dc caseIgnoreIA5Match). Active Directory's own DN matching is taken
  to be the same (UNVERIFIED against a live directory). MemberOfGroup compares "the distinguished name"
  (OPD recipientfilter-properties.md#memberofgroup; /work/shared/domain/exchange-rbac.md section 3).

A DN that does not parse is no DN: ``dn_key`` returns None and it matches nothing (fail closed).
"""

from __future__ import annotations

import functools
import re

# Well-known attribute type OIDs (RFC 4519) to their short names, so that "2.5.4.3=x" and "CN=x" are one RDN.
_OID_NAMES = {
    "2.5.4.3": "cn",
    "2.5.4.6": "c",
    "2.5.4.7": "l",
    "2.5.4.8": "st",
    "2.5.4.9": "street",
    "2.5.4.10": "o",
    "2.5.4.11": "ou",
    "0.9.2342.19200300.100.1.1": "uid",
    "0.9.2342.19200300.100.1.25": "dc",
}
_DESCR = re.compile(r"[A-Za-z][A-Za-z0-9-]*")
_OID = re.compile(r"(?:0|[1-9][0-9]*)(?:\.(?:0|[1-9][0-9]*))+")
_HEX = "0123456789abcdefABCDEF"
# Characters that RFC 4514 requires escaped wherever they appear in a value (besides the backslash itself).
_MUST_ESCAPE = '"+,;<>'
_BLANKS = " "
# A "#"-hex value is kept apart from the string "#..." (written "\\#...") by a lone surrogate no UTF-8 decodes to.
_BER_MARK = "\ud800#"
MAX_DN_LENGTH = 16384  # a directory DN is far shorter; a longer text is hostile input, not a DN

Rdn = tuple[tuple[str, str], ...]
DnKey = tuple[Rdn, ...]


class DnError(ValueError):
    """The text is not a distinguished name (RFC 4514)."""


def parse_dn(text: str) -> tuple[Rdn, ...]:
    """Parse a DN into RDNs of (lower-case attribute type, unescaped value); raise DnError when it is not one."""
    if len(text) > MAX_DN_LENGTH:
        raise DnError("the DN is too long")
    parser = _Parser(text)
    return parser.parse()


# A DN with no escape, no multi-valued RDN, no hex value, no ";" and no blank around a separator, as Exchange
# writes them; its key is found by splitting (the parser gives the same key, a property test holds them together).
_PLAIN = re.compile(
    r"[A-Za-z][A-Za-z0-9-]*=[^\\\s,+;\"<>#=\x00\ud800-\udfff](?:[^\\,+;\"<>=\x00\ud800-\udfff]*[^\\\s,+;\"<>=\x00\ud800-\udfff])?"
)
_PLAIN_DN = re.compile(rf"{_PLAIN.pattern}(?:,{_PLAIN.pattern})*")


@functools.lru_cache(maxsize=65536)
def dn_key(text: str) -> DnKey | None:
    """The comparison key of a DN (types and values case-folded, each RDN's pairs sorted); None if not a DN."""
    if _PLAIN_DN.fullmatch(text) is not None:
        return tuple(((kind.lower(), value.lower()),) for kind, value in (p.split("=", 1) for p in text.split(",")))
    try:
        rdns = parse_dn(text)
    except DnError:
        return None
    if not rdns:
        return None
    return tuple(tuple(sorted((kind, value.lower()) for kind, value in rdn)) for rdn in rdns)


def dn_equal(left: str, right: str) -> bool:
    """Whether two texts name the same DN; a text that is not a DN equals nothing."""
    key = dn_key(left)
    return key is not None and key == dn_key(right)


def dn_within(dn: str, root: str) -> bool:
    """Whether ``dn`` is ``root`` or below it (its RDNs end with root's); False when either is not a DN."""
    key, base = dn_key(dn), dn_key(root)
    if key is None or base is None or len(base) > len(key):
        return False
    return key[len(key) - len(base) :] == base


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def parse(self) -> tuple[Rdn, ...]:
        self._blanks()
        if self.pos == len(self.text):
            return ()
        rdns: list[Rdn] = []
        pairs: list[tuple[str, str]] = []
        while True:
            pairs.append(self._pair())
            self._blanks()
            if self.pos == len(self.text):
                rdns.append(tuple(pairs))
                return tuple(rdns)
            sep = self.text[self.pos]
            self.pos += 1
            if sep == "+":
                continue
            if sep in ",;":
                rdns.append(tuple(pairs))
                pairs = []
                continue
            raise DnError(f"unexpected {sep!r} at position {self.pos - 1}")

    def _blanks(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in _BLANKS:
            self.pos += 1

    def _pair(self) -> tuple[str, str]:
        self._blanks()
        kind = self._type()
        self._blanks()
        if self.pos >= len(self.text) or self.text[self.pos] != "=":
            raise DnError(f"expected '=' at position {self.pos}")
        self.pos += 1
        self._blanks()
        return kind, self._value()

    def _type(self) -> str:
        for pattern in (_OID, _DESCR):
            match = pattern.match(self.text, self.pos)
            if match is not None:
                self.pos = match.end()
                word = match.group().lower()
                return _OID_NAMES.get(word, word)
        raise DnError(f"expected an attribute type at position {self.pos}")

    def _value(self) -> str:
        text, n = self.text, len(self.text)
        if self.pos < n and text[self.pos] == "#":
            # hexstring: the BER encoding of the value (RFC 4514 2.4); kept as hex, equal only to the same hex
            start = self.pos + 1
            end = start
            while end < n and text[end] in _HEX:
                end += 1
            digits = text[start:end]
            if not digits or len(digits) % 2:
                raise DnError(f"bad hex value at position {self.pos}")
            self.pos = end
            return _BER_MARK + digits.lower()
        out = bytearray()
        keep = 0  # length of ``out`` up to the last character that is not an unescaped trailing blank
        while self.pos < n:
            ch = text[self.pos]
            if ch == "\\":
                if self.pos + 1 >= n:
                    raise DnError("a value ends with a lone backslash")
                nxt = text[self.pos + 1]
                if nxt in _HEX and self.pos + 2 < n and text[self.pos + 2] in _HEX:
                    out.append(int(text[self.pos + 1 : self.pos + 3], 16))
                    self.pos += 3
                elif nxt in '"+,;<>\\ #=':
                    out.extend(nxt.encode())
                    self.pos += 2
                else:
                    raise DnError(f"bad escape at position {self.pos}")
                keep = len(out)
                continue
            if ch in ",;+":
                break
            if ch in _MUST_ESCAPE or ch == "\x00":
                raise DnError(f"{ch!r} must be escaped (position {self.pos})")
            try:
                out.extend(ch.encode())
            except UnicodeEncodeError as exc:  # a lone surrogate is no character of a directory name
                raise DnError(f"not text at position {self.pos}") from exc
            self.pos += 1
            if ch not in _BLANKS:
                keep = len(out)
        try:
            return bytes(out[:keep]).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DnError("escaped octets are not UTF-8") from exc
