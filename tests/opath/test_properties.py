"""Property tests (hypothesis): print/parse round trip, equivalences, and normal-form evaluation agreement."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from audit.errors import FilterError
from audit.opath import (
    EVALUABLE_PROPERTIES,
    KNOWN_PROPERTIES,
    And,
    Comparison,
    Filter,
    Not,
    Operator,
    Or,
    SystemValue,
    compile_filter,
    equivalent,
    normalize,
    parse,
    to_text,
)
from audit.snapshot import Recipient

SETTINGS = settings(max_examples=200, deadline=None, database=None)

_KNOWN_LOWER = {name.lower() for name in KNOWN_PROPERTIES}
UNKNOWN_NAMES = ["Frobnicate", "zz_Top", "Attr9", "_private"]
assert not {name.lower() for name in UNKNOWN_NAMES} & _KNOWN_LOWER

# -- filters with arbitrary values: syntax ------------------------------------------------------------------

names = st.one_of(
    st.sampled_from(sorted(KNOWN_PROPERTIES)),
    st.sampled_from(UNKNOWN_NAMES),
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True).filter(lambda n: n.lower() not in _KNOWN_LOWER),
)
any_values = st.one_of(
    st.text(max_size=20),
    st.integers(min_value=-(10**9), max_value=10**9),
    st.sampled_from(list(SystemValue)),
)


def filters(comparisons: st.SearchStrategy[Comparison]) -> st.SearchStrategy[Filter]:
    def extend(children: st.SearchStrategy[Filter]) -> st.SearchStrategy[Filter]:
        operands = st.lists(children, min_size=2, max_size=4).map(tuple)
        return st.one_of(st.builds(Not, children), operands.map(And), operands.map(Or))

    return st.recursive(comparisons, extend, max_leaves=8)


syntax_filters = filters(st.builds(Comparison, names, st.sampled_from(list(Operator)), any_values))


@SETTINGS
@given(syntax_filters)
def test_print_then_parse_gives_the_same_tree(f: Filter) -> None:
    assert parse(to_text(f)) == f


@SETTINGS
@given(syntax_filters)
def test_print_then_parse_inside_braces(f: Filter) -> None:
    assert parse("{ " + to_text(f) + " }") == f


@SETTINGS
@given(syntax_filters)
def test_single_quote_wrapper_round_trip(f: Filter) -> None:
    assert parse("'" + to_text(f).replace("'", "''") + "'") == f


@SETTINGS
@given(syntax_filters, syntax_filters)
def test_equivalent_is_reflexive_and_symmetric(f: Filter, g: Filter) -> None:
    assert equivalent(f, f)
    assert equivalent(f, g) == equivalent(g, f)


@SETTINGS
@given(syntax_filters)
def test_normalize_is_idempotent(f: Filter) -> None:
    assert normalize(normalize(f)) == normalize(f)


def _shuffled(f: Filter, rng: random.Random) -> Filter:
    if isinstance(f, Comparison):
        return f
    if isinstance(f, Not):
        return Not(_shuffled(f.operand, rng))
    operands = [_shuffled(operand, rng) for operand in f.operands]
    rng.shuffle(operands)
    return type(f)(tuple(operands))


def _double_negated(f: Filter, rng: random.Random) -> Filter:
    if isinstance(f, Not):
        inner: Filter = Not(_double_negated(f.operand, rng))
    elif isinstance(f, And | Or):
        inner = type(f)(tuple(_double_negated(operand, rng) for operand in f.operands))
    else:
        inner = f
    return Not(Not(inner)) if rng.random() < 0.3 else inner


def _recased(f: Filter, rng: random.Random) -> Filter:
    def flip(text: str) -> str:
        return "".join(ch.upper() if rng.random() < 0.5 else ch.lower() for ch in text)

    if isinstance(f, Comparison):
        value = flip(f.value) if isinstance(f.value, str) else f.value
        return Comparison(flip(f.property), f.operator, value)
    if isinstance(f, Not):
        return Not(_recased(f.operand, rng))
    return type(f)(tuple(_recased(operand, rng) for operand in f.operands))


# Values for the equivalence-under-rewriting tests: ASCII, where upper/lower case round-trip exactly.
ascii_values = st.one_of(
    st.text(alphabet="abcXYZ*@:,= '\"", max_size=12),
    st.integers(min_value=-99, max_value=99),
    st.sampled_from(list(SystemValue)),
)
ascii_filters = filters(st.builds(Comparison, names, st.sampled_from(list(Operator)), ascii_values))


@SETTINGS
@given(ascii_filters, st.randoms(use_true_random=False))
def test_equivalent_under_reordering_double_negation_and_case(f: Filter, rng: random.Random) -> None:
    g = _recased(_double_negated(_shuffled(f, rng), rng), rng)
    assert equivalent(f, g)
    assert equivalent(g, f)


# -- filters over evaluable properties, values drawn from the recipients' own pool: semantics ---------------

DNS = ["CN=G1,OU=Groups,DC=contoso,DC=com", "CN=G2,OU=Groups,DC=contoso,DC=com", "CN=Doe\\, J,DC=contoso,DC=com"]
DN_VALUES = [*DNS, "cn=g1, ou=groups, dc=CONTOSO, dc=com", " CN=G2 ,OU=Groups,DC=contoso,DC=com", "CN=G*", "*dc=com"]
TEXTS = ["", "a", "A", "ab", "b", "Ab", " a"]
TEXT_VALUES = [*TEXTS, "a*", "*B", "*", "7", "True", "false"]
ADDRESSES = ["a@x.com", "B@x.com", "c@y.org"]
PROXIES = ["SMTP:a@x.com", "smtp:b@x.com", "smtp:C@y.org", "X500:/o=A", "sip:a@x.com"]
ADDRESS_VALUES = [*ADDRESSES, *PROXIES, "smtp:*", "*@x.com", "a@*", "A@X.COM", "x500:/o=a"]

value_pool = st.one_of(
    st.sampled_from(DN_VALUES + TEXT_VALUES + ADDRESS_VALUES),
    st.sampled_from([7, -1, 0]),
    st.sampled_from(list(SystemValue)),
)
evaluable_names = st.one_of(
    st.sampled_from(sorted(EVALUABLE_PROPERTIES)),
    st.sampled_from(["Name", "MemberOfGroup", "EmailAddresses", "PrimarySmtpAddress", "HiddenFromAddressListsEnabled"]),
    st.sampled_from(["Manager", "Frobnicate"]),  # a few that cannot be evaluated
)
semantic_filters = filters(st.builds(Comparison, evaluable_names, st.sampled_from(list(Operator)), value_pool))

texts = st.sampled_from(TEXTS)
recipients = st.builds(
    Recipient,
    name=texts,
    identity=st.just("contoso.com/Users/x"),
    distinguished_name=st.sampled_from(DNS),
    guid=texts,
    alias=texts,
    display_name=texts,
    primary_smtp_address=st.sampled_from(["", *ADDRESSES]),
    recipient_type=texts,
    recipient_type_details=texts,
    email_addresses=st.lists(st.sampled_from(PROXIES), max_size=3).map(tuple),
    member_of=st.lists(st.sampled_from([*DNS, "cn=g1,ou=groups,dc=contoso,dc=com"]), max_size=3).map(tuple),
    department=texts,
    company=texts,
    custom_attributes=st.lists(texts, max_size=15).map(tuple),
    hidden_from_address_lists_enabled=st.booleans(),
)


def _outcomes(f: Filter, population: list[Recipient]) -> list[bool] | str:
    try:
        predicate = compile_filter(f)
    except FilterError:
        return "FilterError"
    return [predicate(r) for r in population]


@SETTINGS
@given(semantic_filters, st.lists(recipients, min_size=1, max_size=6))
def test_normal_form_matches_the_same_recipients(f: Filter, population: list[Recipient]) -> None:
    assert _outcomes(normalize(f), population) == _outcomes(f, population)


@SETTINGS
@given(semantic_filters, st.lists(recipients, min_size=1, max_size=6))
def test_negation_matches_the_complement(f: Filter, population: list[Recipient]) -> None:
    plain = _outcomes(f, population)
    negated = _outcomes(Not(f), population)
    if isinstance(plain, str):
        assert negated == plain
    else:
        assert negated == [not outcome for outcome in plain]


@SETTINGS
@given(semantic_filters, st.lists(recipients, min_size=1, max_size=6))
def test_printed_text_evaluates_like_the_tree(f: Filter, population: list[Recipient]) -> None:
    assert _outcomes(parse(to_text(f)), population) == _outcomes(f, population)
