"""The Calico selector parser (SEMANTICS §3.8): examples, errors, canonical form, DNF."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reasoner.model.calico_selector import (
    CalicoSelector,
    Lit,
    SelectorSyntaxError,
    parse_selector,
    prefix_keys,
)

# --------------------------------------------------------------------------------------------------
# §3.8.2 examples 1-34
# --------------------------------------------------------------------------------------------------

EXAMPLES = [
    (1, 'a == "b"', {"a": "b", "c": "d"}, True),
    (2, 'a == "b"', {}, False),
    (3, 'a != "b"', {}, True),
    (4, 'a != "b"', {"a": "b"}, False),
    (5, 'a != "a"', {"a": "a"}, False),
    (6, 'a in {"x", "y"}', {}, False),
    (7, 'a not in {"x", "y"}', {}, True),
    (8, 'a not in {"d", "e"}', {"a": "a"}, True),
    (9, """a in {"'", '"', "c"}""", {"a": '"'}, True),
    (10, "a in {}", {"a": "x"}, False),
    (11, 'a in {"x",}', {"a": "x"}, True),
    (12, "has(a)", {"a": ""}, True),
    (13, "!has(a)", {"b": "b"}, True),
    (14, 'a == ""', {}, False),
    (15, '!a == "b"', {}, True),
    (16, '!a == "a1" && b == "b1"', {"a": "a1", "b": "b1"}, False),
    (17, 'a == "1" || b == "2" && c == "3"', {"a": "1"}, True),
    (18, '(a == "1" || b == "2") && c == "3"', {"a": "1"}, False),
    (19, "a != 'a1' || b != 'b1'", {"a": "a1", "b": "b1"}, False),
    (20, "!(has(b) || !has(a))", {"a": "a"}, True),
    (21, 'a contains "a"', {"a": "bab"}, True),
    (22, 'a contains "a"', {"b": "aaa"}, False),
    (23, 'a starts with "a"', {"a": "baa"}, False),
    (24, 'a ends with "a"', {"a": "bba"}, True),
    (25, 'a startswith "pro"', {"a": "prod"}, True),
    (26, 'a notin {"x"}', {"a": "y"}, True),
    (27, "", {"a": "b"}, True),
    (27, "   ", {}, True),
    (27, " \t ", {"x": "y"}, True),
    (28, "all()", {"a": "b"}, True),
    (28, "global()", {}, True),
    (29, "!all()", {"a": "b"}, False),
    (29, "!all()", {}, False),
    (30, "!!! has(a)", {"a": "b"}, False),
    (31, 'A == "b"', {"a": "b"}, False),
    (32, 'kubernetes.io/metadata.name == "x"', {"kubernetes.io/metadata.name": "x"}, True),
    (33, 'has == "x"', {"has": "x"}, True),
    (34, 'a == "b" && !has(c)', {"a": "b", "c": ""}, False),
]


@pytest.mark.parametrize("num,text,labels,expected", EXAMPLES,
                         ids=[f"ex{n}-{t!r}" for n, t, _, _ in EXAMPLES])
def test_semantics_examples(num, text, labels, expected):
    assert parse_selector(text).matches(labels) is expected


def test_all_examples_numbered():
    assert {n for n, *_ in EXAMPLES} == set(range(1, 35))


# a few more cases from Calico's parser_test.go
MORE = [
    ("""a not in {"'", '"', "c"}""", [{}, {"a": "e"}], [{"a": "c"}, {"a": '"'}, {"a": "'"}]),
    ('!a in {"a"}', [{"a": "b"}, {}], [{"a": "a"}]),
    ("a != 'a1' && !b == 'b1'", [{}], [{"a": "a1", "b": "b1"}]),
    ("!(!has(a) || has(b))", [{"a": "a"}], [{"a": "a", "b": ""}, {}]),
    ("! a == 'a1' || ! b == 'b1'", [{"a": "a1"}], [{"a": "a1", "b": "b1"}]),
    ("!! ! has(a)", [{}], [{"a": "b"}]),
    ('a contains ""', [{"a": ""}], [{}]),
    ('a not in {}', [{}, {"a": "x"}], []),
    ('contains contains "x"', [{"contains": "axb"}], [{"x": "x"}]),
    ('in in {"x"} && not not in {"y"}', [{"in": "x"}], [{"in": "x", "not": "y"}]),
    ('a starts  with "p" && b ends\twith "q"', [{"a": "pp", "b": "qq"}], [{"a": "pp"}]),
    ('a endswith "q" || a notin {"z"}', [{}, {"a": "q"}], [{"a": "z"}]),
    ("has( a ) && all( ) && global(\t)", [{"a": ""}], [{}]),
    ('a == "line\nbreak"', [{"a": "line\nbreak"}], [{"a": "line"}]),
]


@pytest.mark.parametrize("text,yes,no", MORE)
def test_more_matches(text, yes, no):
    sel = parse_selector(text)
    for labels in yes:
        assert sel.matches(labels), (text, labels)
    for labels in no:
        assert not sel.matches(labels), (text, labels)


# --------------------------------------------------------------------------------------------------
# Invalid selectors (§3.8.2 list + a few more), with hand-computed columns
# --------------------------------------------------------------------------------------------------

INVALID = [
    ("b == b", 6),                      # value must be quoted: the label b at column 6
    ("'b1' == b", 1),                   # literal on the left
    ("b", 2),                           # bare label: operator expected at end (column len+1)
    ("a b", 3),
    ("!", 2),
    ('a == "b" &', 10),
    ('a == "b" |', 10),
    ("foo != ||", 8),
    ('foo in ""', 8),
    ('foo in {"x" "y"}', 13),
    ('"FOO', 1),
    ("'FOO", 1),
    ("(", 2),
    ('(a == "foo"', 12),
    (")", 1),
    ("()", 2),
    ("%", 1),
    ("a ", 3),
    ("has(foo) &&", 12),
    ("has()", 5),
    ("has (a)", 5),
    ('a = "b"', 3),
    ('a == "b" c == "d"', 10),
    ("x" * 513 + ' == "v"', 1),
    ('a == "v" && has(' + "y" * 513 + ")", 17),
    # more
    ("b contains b", 12),
    ('foo in {"", ||', 13),
    ('a == "b" && %', 13),
    ('a == "b"\n', 9),
    ('a == "b" &&\nc == "d"', 12),
    ('a\r== "b"', 2),
    ('a starts "x"', 10),
    ('a not "x"', 7),
    ('a startswithx "x"', 3),
    ('a inx {"x"}', 3),
    ("all( x)", 6),
    ("has(a b)", 7),
    ("a in {,}", 7),
    ('a in {"a",,}', 11),
    ('a !has(b)', 3),
    ('has(a) in {"x"}', 8),
    ("global (", 8),
]


@pytest.mark.parametrize("text,column", INVALID, ids=[repr(t)[:40] for t, _ in INVALID])
def test_invalid(text, column):
    with pytest.raises(SelectorSyntaxError) as info:
        parse_selector(text)
    err = info.value
    assert err.column == column, str(err)
    assert str(err) == f"column {column}: {err.message}"
    assert isinstance(err, ValueError)


def test_label_of_512_chars_is_fine():
    key = "k" * 512
    assert parse_selector(f'{key} == "v"').matches({key: "v"})
    assert parse_selector(f"has({key})").matches({key: ""})


@pytest.mark.parametrize("text,fragment", [
    ('b == b', "expected a quoted string after '=='"),
    ('"FOO', "unterminated string"),
    ('a == "b" c == "d"', "expected '&&', '||' or end of selector"),
    ('a = "b"', "'=' is not an operator (did you mean '==')"),
    ('a == "b" &', "did you mean '&&'"),
    ('a == "b" |', "did you mean '||'"),
    ('foo in ""', "expected a set literal"),
    ('foo in {"x" "y"}', "expected ',' or '}'"),
    ("has (a)", "no space before '('"),
    ("a b", "expected an operator"),
    ("(a == 'x'", "')'"),
    ('a == "b"\n', "newline"),
    ("x" * 600 + " == 'v'", "512"),
])
def test_error_messages(text, fragment):
    with pytest.raises(SelectorSyntaxError) as info:
        parse_selector(text)
    assert fragment in info.value.message


def test_error_class_interface():
    err = SelectorSyntaxError("boom", 7)
    assert err.message == "boom" and err.column == 7 and str(err) == "column 7: boom"


# --------------------------------------------------------------------------------------------------
# Canonical form
# --------------------------------------------------------------------------------------------------

CANONICAL = [
    ("", "all()"),
    ("   ", "all()"),
    (" all() ", "all()"),
    (" (all() )", "all()"),
    ("global( )", "global()"),
    ("! (has( b)||! has(a ))", "!(has(b) || !has(a))"),
    ('! (a == "b"&&! c != "d")', '!(a == "b" && !c != "d")'),
    ("""a == "'\"""", """a == "'\""""),
    ("""a == '"'""", """a == '"'"""),
    ("""a contains '"'""", """a contains '"'"""),
    ("""a startswith '"'""", """a starts with '"'"""),
    ("""a endswith "'\"""", """a ends with "'\""""),
    ("""a!='"'""", """a != '"'"""),
    ("a notin {'x'}", 'a not in {"x"}'),
    ('a not   in {"x",}', 'a not in {"x"}'),
    ('a in {"d", "a", "b"}', 'a in {"a", "b", "d"}'),
    ('a in {"z", "z", "x", "y", "x", "a"}', 'a in {"a", "x", "y", "z"}'),
    ("a in { }", "a in {}"),
    ("k == 'v' && x == 'y'", '(k == "v" && x == "y")'),
    ("k == 'v' || has(x)", '(k == "v" || has(x))'),
    ("!(k == 'v')", '!k == "v"'),
    ("!!has(a)", "has(a)"),
    ('a == "1" || b == "2" && c == "3"', '(a == "1" || (b == "2" && c == "3"))'),
    ("!(!(k == 'v' && has(t) || all()) && (a in {'b', 'c'}))",
     '!(!((k == "v" && has(t)) || all()) && a in {"b", "c"})'),
]


@pytest.mark.parametrize("text,canonical", CANONICAL)
def test_canonical(text, canonical):
    sel = parse_selector(text)
    assert sel.canonical == canonical
    again = parse_selector(sel.canonical)
    assert again.canonical == canonical
    assert again.dnf == sel.dnf
    assert sel.text == text


def test_canonical_nested_negation():
    # Calico collapses a run of "!" but prints each nested NotNode: "!(!(x))" is "!!x", which
    # re-parses to x. Same selector, different canonical strings (as in Calico).
    sel = parse_selector("!(!(all()))")
    assert sel.canonical == "!!all()"
    assert parse_selector(sel.canonical).canonical == "all()"
    assert sel.is_all and parse_selector(sel.canonical).is_all


# --------------------------------------------------------------------------------------------------
# DNF shape
# --------------------------------------------------------------------------------------------------

def test_dnf_basics():
    assert parse_selector("").is_all
    assert parse_selector("all()").dnf == ((),)
    assert parse_selector("!all()").dnf == ()
    assert parse_selector("!global()").dnf == ()
    assert parse_selector('a in {}').dnf == ()
    assert parse_selector('a not in {}').is_all
    assert parse_selector('a == "x" || all()').is_all
    assert parse_selector('a == "x"').dnf == ((Lit("eq", "a", ("x",)),),)
    assert parse_selector('!(a == "x")').dnf == ((Lit("ne", "a", ("x",)),),)
    assert parse_selector("!has(a)").dnf == ((Lit("nothas", "a"),),)
    assert parse_selector("a in {'y', 'x', 'y'}").dnf == ((Lit("in", "a", ("x", "y")),),)
    assert parse_selector("!a in {'y', 'x'}").dnf == ((Lit("notin", "a", ("x", "y")),),)
    assert parse_selector("!a contains 'x'").dnf == ((Lit("notcontains", "a", ("x",)),),)
    assert parse_selector("!a starts with 'x'").dnf == ((Lit("notstarts", "a", ("x",)),),)
    assert parse_selector("!a ends with 'x'").dnf == ((Lit("notends", "a", ("x",)),),)
    assert parse_selector("a contains ''").dnf == ((Lit("has", "a"),),)


def test_dnf_de_morgan_and_distribution():
    sel = parse_selector("!(a == 'x' || has(b)) && (c == '1' || c == '2')")
    conjs = {frozenset(c) for c in sel.dnf}
    ne_a, no_b = Lit("ne", "a", ("x",)), Lit("nothas", "b")
    assert conjs == {frozenset({ne_a, no_b, Lit("eq", "c", ("1",))}),
                     frozenset({ne_a, no_b, Lit("eq", "c", ("2",))})}


def test_dnf_drops_contradictions_and_duplicates():
    assert parse_selector("a == 'x' && a != 'x'").dnf == ()
    assert parse_selector("has(a) && !has(a)").dnf == ()
    assert parse_selector("a in {'x', 'y'} && a not in {'y', 'x'}").dnf == ()
    assert parse_selector("a contains 'x' && !(a contains 'x')").dnf == ()
    sel = parse_selector("a == 'x' || a == 'x' || (a == 'x' && a == 'x')")
    assert sel.dnf == ((Lit("eq", "a", ("x",)),),)


def test_dnf_literals_are_sorted():
    sel = parse_selector("z == '1' && a == '2' && m in {'b', 'a'}")
    (conj,) = sel.dnf
    assert [lit.key for lit in conj] == ["a", "m", "z"]
    assert conj[1].values == ("a", "b")


def test_too_complex():
    text = " && ".join(f"(a{i} == 'x' || b{i} == 'y')" for i in range(11))  # 2**11 conjunctions
    with pytest.raises(SelectorSyntaxError) as info:
        parse_selector(text)
    assert info.value.column == 1 and info.value.message == "selector too complex for analysis"
    ok = " && ".join(f"(a{i} == 'x' || b{i} == 'y')" for i in range(10))  # 1024: still fine
    assert len(parse_selector(ok).dnf) == 1024


def test_has_global():
    assert parse_selector("global()").has_global
    assert parse_selector("!global() || has(a)").has_global
    assert not parse_selector("all()").has_global
    assert not parse_selector("global == 'x'").has_global


def test_lit_validation():
    assert Lit("in", "a", ("y", "x", "y")).values == ("x", "y")
    with pytest.raises(ValueError):
        Lit("eq", "a", ())
    with pytest.raises(ValueError):
        Lit("bogus", "a")


# --------------------------------------------------------------------------------------------------
# prefix_keys
# --------------------------------------------------------------------------------------------------

def test_prefix_keys():
    sel = parse_selector("a == 'b' || !has(c) || global() || d in {'y', 'x'} || e startswith 'p'")
    pre = prefix_keys(sel, "pcns.")
    assert pre.canonical == ('(pcns.a == "b" || !has(pcns.c) || global() || pcns.d in {"x", "y"} '
                             '|| pcns.e starts with "p")')
    assert pre.has_global
    assert pre.is_all  # global() is true as a label test
    sel2 = prefix_keys(parse_selector("a == 'b' && !(c contains 'z')"), "pcsa.")
    assert sel2.dnf == ((Lit("eq", "pcsa.a", ("b",)), Lit("notcontains", "pcsa.c", ("z",))),)
    assert sel2.matches({"pcsa.a": "b"}) and not sel2.matches({"a": "b"})
    assert prefix_keys(parse_selector(""), "pcns.").is_all
    # works on a selector built without its cached AST (falls back to re-parsing the canonical form)
    bare = CalicoSelector(sel.text, sel.dnf, sel.has_global, sel.canonical)
    assert prefix_keys(bare, "pcns.").canonical == pre.canonical


# --------------------------------------------------------------------------------------------------
# Property: DNF evaluation == direct evaluation of a random AST printed to text and re-parsed
# --------------------------------------------------------------------------------------------------

KEYS = ["a", "b", "in", "not", "starts", "has"]
VALUES = ["", "x", "y", "xy", "yx", "'", '"']


def q(value: str) -> st.SearchStrategy[str]:
    if '"' in value:
        return st.just(f"'{value}'")
    if "'" in value:
        return st.just(f'"{value}"')
    return st.sampled_from([f'"{value}"', f"'{value}'"])


WS = st.sampled_from(["", " ", "  ", "\t"])
WS1 = st.sampled_from([" ", "  ", "\t", " \t"])


@st.composite
def leaf(draw):
    kind = draw(st.sampled_from(["all", "global", "has", "eq", "ne", "in", "notin", "contains", "starts",
                                 "ends"]))
    if kind in ("all", "global"):
        return (kind,), f"{kind}({draw(WS)})"
    key = draw(st.sampled_from(KEYS))
    if kind == "has":
        return ("has", key), f"has({draw(WS)}{key}{draw(WS)})"
    if kind in ("in", "notin"):
        vals = draw(st.lists(st.sampled_from(VALUES), max_size=3))
        word = "in" if kind == "in" else draw(st.sampled_from(["not in", "notin", "not  in", "not\tin"]))
        items = [draw(q(v)) for v in vals]
        body = ("," + draw(WS)).join(items) + (draw(st.sampled_from(["", ","])) if items else "")
        return (kind, key, frozenset(vals)), f"{key}{draw(WS1)}{word}{draw(WS)}{{{draw(WS)}{body}{draw(WS)}}}"
    value = draw(st.sampled_from(VALUES))
    op = {"eq": ["=="], "ne": ["!="], "contains": ["contains"], "starts": ["starts with", "startswith"],
          "ends": ["ends with", "endswith", "ends  with"]}[kind]
    word = draw(st.sampled_from(op))
    sep = draw(WS) if kind in ("eq", "ne") else draw(WS1)
    return (kind, key, value), f"{key}{sep}{word}{draw(WS)}{draw(q(value))}"


def extend(children):
    neg = st.tuples(st.integers(1, 3), children).map(lambda t: (("not", t[0], t[1][0]),
                                                                  "!" * t[0] + "(" + t[1][1] + ")"))
    nary = st.tuples(st.sampled_from(["and", "or"]), st.lists(children, min_size=2, max_size=3)).map(
        lambda t: ((t[0], tuple(c[0] for c in t[1])),
                   "(" + (" && " if t[0] == "and" else " || ").join(c[1] for c in t[1]) + ")"))
    return neg | nary


EXPR = st.recursive(leaf(), extend, max_leaves=8)


def evaluate(node, labels) -> bool:
    kind = node[0]
    if kind in ("all", "global"):
        return True
    if kind == "not":
        return (not evaluate(node[2], labels)) if node[1] % 2 else evaluate(node[2], labels)
    if kind == "and":
        return all(evaluate(c, labels) for c in node[1])
    if kind == "or":
        return any(evaluate(c, labels) for c in node[1])
    key = node[1]
    present = key in labels
    val = labels.get(key)
    if kind == "has":
        return present
    if kind == "eq":
        return present and val == node[2]
    if kind == "ne":
        return not present or val != node[2]
    if kind == "in":
        return present and val in node[2]
    if kind == "notin":
        return not present or val not in node[2]
    if kind == "contains":
        return present and node[2] in val
    if kind == "starts":
        return present and val.startswith(node[2])
    return present and val.endswith(node[2])  # ends


def has_global(node) -> bool:
    if node[0] == "global":
        return True
    if node[0] == "not":
        return has_global(node[2])
    if node[0] in ("and", "or"):
        return any(has_global(c) for c in node[1])
    return False


LABELS = st.dictionaries(st.sampled_from(KEYS), st.sampled_from(VALUES + ["xyz", "z"]), max_size=4)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(EXPR, st.lists(LABELS, min_size=8, max_size=16), st.sampled_from(["", " ", "\t "]))
def test_dnf_equals_direct_evaluation(expr, label_maps, pad):
    ast, text = expr
    sel = parse_selector(pad + text + pad)
    canon = parse_selector(sel.canonical)
    assert canon.dnf == sel.dnf
    # Like Calico, `!(!x)` prints as `!!x`, which re-parses to x: the canonical form is a fixpoint
    # from the second round on.
    assert parse_selector(canon.canonical).canonical == canon.canonical
    assert sel.has_global == has_global(ast)
    for labels in label_maps + [{}]:
        want = evaluate(ast, labels)
        assert sel.matches(labels) == want, (text, sel.dnf, labels)
        assert canon.matches(labels) == want
    for conj in sel.dnf:
        assert list(conj) == sorted(conj, key=lambda lit: (lit.key, lit.op, lit.values))
    assert len(set(sel.dnf)) == len(sel.dnf)
