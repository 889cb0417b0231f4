"""Hypothesis strategies for distinguished names (RFC 4514), shared by the lab's and the auditor's DN tests.

``written_dns`` draws a DN as a structure (RDNs of attribute type and value) together with ONE of the many texts
that write it: escapes chosen at random among the allowed ones (``\\,``, ``\\2C``, raw where a raw character is
allowed), blanks around separators, ``;`` for ``,``, attribute types in any case or as OIDs, the pairs of a
multi-valued RDN in any order. The expected comparison key is computed from the structure alone, never by the code
under test.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import strategies as st

# (how the type may be written, its canonical lower-case name)
TYPES = [
    ("CN", "cn"),
    ("cn", "cn"),
    ("Cn", "cn"),
    ("2.5.4.3", "cn"),
    ("OU", "ou"),
    ("ou", "ou"),
    ("2.5.4.11", "ou"),
    ("DC", "dc"),
    ("dc", "dc"),
    ("0.9.2342.19200300.100.1.25", "dc"),
    ("O", "o"),
    ("uid", "uid"),
    ("description", "description"),
    ("x-Custom1", "x-custom1"),
]
ESCAPABLE = '"+,;<>\\ #='
MUST_ESCAPE = '"+,;<>\\\x00'

value_chars = st.characters(blacklist_categories=("Cs",))  # no lone surrogates: they are not text
values = st.text(
    alphabet=st.one_of(st.sampled_from(list(ESCAPABLE + "aAzZ09 .-_\t\x00éÉßİ")), value_chars), max_size=10
)


@dataclass(frozen=True)
class WrittenDn:
    text: str
    key: tuple[tuple[tuple[str, str], ...], ...]  # per RDN: sorted (canonical type, lower-case value)
    rdns: tuple[tuple[tuple[str, str], ...], ...]  # per RDN as drawn: (canonical type, value)


def _hex(ch: str) -> str:
    return "".join(f"\\{b:02X}" if i % 2 else f"\\{b:02x}" for i, b in enumerate(ch.encode()))


@st.composite
def _written_value(draw: st.DrawFn, value: str) -> str:
    out = []
    last = len(value) - 1
    for i, ch in enumerate(value):
        must = ch in MUST_ESCAPE or (i == 0 and ch in "# ") or (i == last and ch == " ")
        options = ["hex"]
        if ch in ESCAPABLE:
            options.append("char")
        if not must:
            options.append("raw")
        how = draw(st.sampled_from(options))
        out.append(_hex(ch) if how == "hex" else "\\" + ch if how == "char" else ch)
    return "".join(out)


blanks = st.sampled_from(["", "", " ", "  "])


@st.composite
def written_dns(draw: st.DrawFn, max_rdns: int = 4) -> WrittenDn:
    """A DN as a structure and one way of writing it."""
    rdn_count = draw(st.integers(min_value=1, max_value=max_rdns))
    rdns: list[tuple[tuple[str, str], ...]] = []
    pieces: list[str] = []
    for index in range(rdn_count):
        pairs = draw(st.lists(st.tuples(st.sampled_from(TYPES), values), min_size=1, max_size=3))
        rdns.append(tuple((canonical, value) for (_written, canonical), value in pairs))
        written_pairs = []
        for (written_type, _canonical), value in pairs:
            around = draw(blanks), draw(blanks), draw(blanks)
            # blanks after the value only when it does not end in a raw blank (which would then be data)
            text_value = draw(_written_value(value))
            tail = draw(blanks)
            written_pairs.append(f"{around[0]}{written_type}{around[1]}={around[2]}{text_value}{tail}")
        pieces.append("+".join(written_pairs))
        if index < rdn_count - 1:
            pieces.append(draw(st.sampled_from([",", ",", ";"])))
    key = tuple(tuple(sorted((kind, value.lower()) for kind, value in rdn)) for rdn in rdns)
    return WrittenDn(text="".join(pieces), key=key, rdns=tuple(rdns))


def minimal_text(rdns: tuple[tuple[tuple[str, str], ...], ...]) -> str:
    """The DN written the plainest way RFC 4514 section 2 allows (escape only what must be escaped)."""

    def escape(value: str) -> str:
        out = []
        for i, ch in enumerate(value):
            must = ch in MUST_ESCAPE or (i == 0 and ch in "# ") or (i == len(value) - 1 and ch == " ")
            out.append(_hex(ch) if ch == "\x00" else "\\" + ch if must else ch)
        return "".join(out)

    return ",".join("+".join(f"{kind}={escape(value)}" for kind, value in rdn) for rdn in rdns)


# Arbitrary text near DN syntax, to hold the parsers to each other on malformed input too.
dnish_text = st.text(alphabet=st.sampled_from(list('CNOUDc=,;+\\ #"<>2A.ab\x00')), max_size=24)
