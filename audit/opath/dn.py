r"""Distinguished names in the form exaudit compares them: parsed per RFC 4514, printed back in one canonical form.

The auditor's own implementation (the lab has another, ``audit.lab.dn``; neither imports the other, tests hold
them together). Exchange hands a DN out as text (``DistinguishedName``, ``MemberOf``, the DN inside a stored
``MemberOfGroup`` filter), and the same DN can be written many ways:

- RFC 4514 section 2.4/3: in a value, ``\`` escapes one of ``"+,;<>\=#`` or a blank, or starts two hex digits
  that are one UTF-8 octet (``CN=Doe\, John`` is ``CN=Doe\2C John``); a value that starts with ``#`` is the
  hex of its BER encoding (kept as such). An RDN of several ``type=value`` pairs joined by ``+`` is a set.
  Attribute types are case-insensitive keywords or OIDs (2.5.4.3 is cn).
- RFC 2253 section 4 told readers to accept blanks around ``,``, ``+`` and ``=`` and ``;`` for ``,``; RFC 4514
  section 4 still lets them. Unescaped blanks at either end of a value are not part of it.
- Values of the naming attributes compare ignoring case (RFC 4517 distinguishedNameMatch uses each attribute's
  equality rule: cn and ou caseIgnoreMatch, dc caseIgnoreIA5Match per RFC 4519). That Active Directory matches
  DNs the same way is UNVERIFIED against a live directory; exaudit compares other text case-insensitively too.

``canonical_dn`` prints the parsed DN back: types lower-case (well-known OIDs as their names), values lower-case and
escaped in one way, each RDN's pairs sorted. Text that is not a DN gets a form no DN has (it starts with NUL), so it
equals only the very same text and never a real DN: a filter naming a malformed DN selects no one (fail closed).
"""

from __future__ import annotations

import functools
import re

__all__ = ["canonical_dn", "is_dn", "loose_dn_pattern", "parse_dn"]

_KNOWN_OIDS = {
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
_TYPE = re.compile(r"[A-Za-z][A-Za-z0-9-]*|(?:0|[1-9][0-9]*)(?:\.(?:0|[1-9][0-9]*))+")
# One lexical unit of a DN: an escape (hex pair or one character), a separator, or a run of ordinary characters.
_UNIT = re.compile(r"\\(?P<hex>[0-9A-Fa-f]{2})|\\(?P<char>[\"+,;<>\\=# ])|(?P<sep>[,;+])|(?P<text>[^\\,;+]+)")
_KEYWORD = re.compile(r"[A-Za-z][A-Za-z0-9-]*")
_NEEDS_PARSING = re.compile(r'[\\"+;<>#\x00-\x1f\x7f\ud800-\udfff]|^ | $| ,|, | =|= |^$')
_MUST_BE_ESCAPED = frozenset('"<>\x00')  # inside a value, besides the separators the tokenizer already splits on
_INVALID_PREFIX = "\x00not a dn:"  # lower case: the whole marked text is case-folded
# Marks a value written as "#" and BER hex in parse_dn's output: a lone surrogate, which no UTF-8 text decodes to.
_BER = "\ud800#"
_MAX = 16384

Pair = tuple[str, str]


class _NotADn(ValueError):
    pass


def parse_dn(text: str) -> tuple[tuple[Pair, ...], ...] | None:
    """The RDNs of a DN as (lower-case type, unescaped lower-case value) pairs; () if empty; None if not a DN.

    A value written as ``#`` and BER hex comes back as U+D800, ``#`` and the hex digits.
    """
    try:
        return _parse(text)
    except _NotADn:
        return None


def is_dn(text: str) -> bool:
    """Whether the text is a non-empty distinguished name."""
    return bool(parse_dn(text))


@functools.lru_cache(maxsize=65536)
def canonical_dn(dn: str) -> str:
    r"""The canonical text of a DN (see the module's docstring); two DNs are the same exactly when these are equal."""
    if not _NEEDS_PARSING.search(dn):
        # The form Exchange prints (no escape, no "+", no blank around a separator): only case to change, as long
        # as every RDN is one keyword, one "=" and a value (a property test holds this to the full parse).
        pieces = [rdn.split("=") for rdn in dn.split(",")]
        if all(len(piece) == 2 and _KEYWORD.fullmatch(piece[0]) for piece in pieces):
            return dn.lower()
    rdns = parse_dn(dn)
    if not rdns:
        # Not a DN: it matches no DN, but two spellings of it that differ in case are still one value (idempotent,
        # as normalize needs).
        return dn.lower() if dn.startswith(_INVALID_PREFIX) else _INVALID_PREFIX + dn.lower()
    return _printed(rdns)


def _printed(rdns: tuple[tuple[Pair, ...], ...]) -> str:
    return ",".join("+".join(sorted(f"{kind}={_escape(value)}" for kind, value in rdn)) for rdn in rdns)


def loose_dn_pattern(pattern: str) -> str:
    """A -like pattern that is not a DN ('*OU=Sales*'), in the case and spacing canonical DNs are printed in."""
    return re.sub(r" *, *", ",", pattern.lower())


def _parse(text: str) -> tuple[tuple[Pair, ...], ...]:
    if len(text) > _MAX:
        raise _NotADn
    if not text.strip(" "):
        return ()
    rdns: list[tuple[Pair, ...]] = []
    current: list[Pair] = []
    units: list[tuple[str, str]] = []  # ("raw", text) | ("esc", octets as latin-1 text) within one pair
    pos = 0
    while pos < len(text):
        match = _UNIT.match(text, pos)
        if match is None:
            raise _NotADn  # a backslash that escapes nothing allowed
        pos = match.end()
        if match.group("sep") is not None:
            current.append(_pair(units))
            units = []
            if match.group("sep") != "+":
                rdns.append(tuple(current))
                current = []
        elif match.group("hex") is not None:
            units.append(("esc", chr(int(match.group("hex"), 16))))
        elif match.group("char") is not None:
            units.append(("esc", match.group("char").encode().decode("latin-1")))
        else:
            units.append(("raw", match.group("text")))
    current.append(_pair(units))
    rdns.append(tuple(current))
    return tuple(rdns)


def _pair(units: list[tuple[str, str]]) -> Pair:
    # The type is the raw text before the first unescaped "="; an escape before it means there is no type.
    if not units or units[0][0] != "raw" or "=" not in units[0][1]:
        raise _NotADn
    head, _, rest = units[0][1].partition("=")
    kind = head.strip(" ")
    if _TYPE.fullmatch(kind) is None:
        raise _NotADn
    kind = kind.lower()
    value_units = ([("raw", rest)] if rest else []) + units[1:]
    return _KNOWN_OIDS.get(kind, kind), _value(value_units)


def _value(units: list[tuple[str, str]]) -> str:
    # Unescaped blanks at both ends are dropped; escaped ones are data.
    if units and units[0][0] == "raw":
        units = [("raw", units[0][1].lstrip(" ")), *units[1:]]
    if units and units[-1][0] == "raw":
        units = [*units[:-1], ("raw", units[-1][1].rstrip(" "))]
    units = [unit for unit in units if unit != ("raw", "")]
    if units and units[0][0] == "raw" and units[0][1].startswith("#"):
        if len(units) != 1 or re.fullmatch(r"#(?:[0-9A-Fa-f]{2})+", units[0][1]) is None:
            raise _NotADn
        return _BER + units[0][1][1:].lower()  # the BER hex form: equal only to the same hex, never to a string
    octets = bytearray()
    for kind, piece in units:
        if kind == "raw":
            if _MUST_BE_ESCAPED & set(piece):
                raise _NotADn
            try:
                octets += piece.encode("utf-8")
            except UnicodeEncodeError as exc:  # a lone surrogate (possible in JSON text) is not a name
                raise _NotADn from exc
        else:
            octets += piece.encode("latin-1")
    try:
        return octets.decode("utf-8").lower()
    except UnicodeDecodeError as exc:
        raise _NotADn from exc


def _escape(value: str) -> str:
    if value.startswith(_BER):
        return "#" + value[len(_BER) :]
    out = []
    for i, ch in enumerate(value):
        if ch in '\\,+";<>=' or (ch == "#" and i == 0) or (ch == " " and i in (0, len(value) - 1)):
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ch == "\x7f":
            out.append(f"\\{ord(ch):02x}")
        else:
            out.append(ch)
    return "".join(out)
