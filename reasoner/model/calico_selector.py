"""The Calico selector language (SEMANTICS §3.8): tokenizer, recursive-descent parser, canonical form and
disjunctive normal form (DNF).

Grammar (whitespace = space or TAB only)::

    selector  := ws* [ or_expr ] ws*            ; empty or blank => all()
    or_expr   := and_expr { "||" and_expr }
    and_expr  := unary { "&&" unary }
    unary     := { "!" } primary                 ; n x "!" collapses to parity
    primary   := "all(" ws* ")" | "global(" ws* ")" | "has(" ws* LABEL ws* ")"
               | "(" or_expr ")" | LABEL ws* comparison
    comparison:= "==" STR | "!=" STR | "contains" STR
               | "starts" ws* "with" STR | "ends" ws* "with" STR
               | "in" SET | "not" ws* "in" SET
    SET       := "{" [ STR { "," STR } [","] ] "}"
    LABEL     := 1..512 chars from [A-Za-z0-9_./-]
    STR       := '"' {any char but '"'} '"' | "'" {any char but "'"} "'"

Parentheses nest at most `MAX_NESTING` (100) deep; deeper is a syntax error. Tokenizing, parsing and the DNF
of a selector without disjunctions take time linear in its length.

The tokenizer is context-sensitive in the way Calico's is: the keyword operators (`contains`,
`starts with`, `ends with`, `in`, `not in`, and the joined spellings) are only recognised right after a
label, and `has(` / `all(` / `global(` only elsewhere. Tokens are produced on demand, so the error reported
is always the leftmost one.

The DNF is what the engine consumes: negations are pushed down to literals (each literal has a negated
twin that also holds on an absent key), && is distributed over ||, and a few sound simplifications are
applied (see `_simplify_conj` and `_absorb`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

__all__ = [
    "SelectorSyntaxError", "Lit", "Conj", "CalicoSelector", "parse_selector", "prefix_keys",
    "MAX_LABEL_LENGTH", "MAX_CONJUNCTIONS", "MAX_NESTING",
]

MAX_LABEL_LENGTH = 512
MAX_CONJUNCTIONS = 1024
MAX_NESTING = 100                    # parentheses inside parentheses; deeper is an error, not a RecursionError
# Guard against building huge cross products before simplification can shrink them.
_MAX_RAW_PRODUCT = 64 * MAX_CONJUNCTIONS


class SelectorSyntaxError(ValueError):
    """A selector that Calico would reject; `column` is 1-based in the selector string."""

    def __init__(self, message: str, column: int):
        super().__init__(message, column)   # keeps the exception picklable
        self.message = message
        self.column = column

    def __str__(self) -> str:
        return f"column {self.column}: {self.message}"


# --------------------------------------------------------------------------------------------------
# Literals and the selector value
# --------------------------------------------------------------------------------------------------

_POSITIVE = ("eq", "in", "has", "contains", "starts", "ends")
COMPLEMENT = {"eq": "ne", "in": "notin", "has": "nothas", "contains": "notcontains",
              "starts": "notstarts", "ends": "notends"}
COMPLEMENT.update({v: k for k, v in list(COMPLEMENT.items())})
_SINGLE_VALUE_OPS = frozenset({"eq", "ne", "contains", "notcontains", "starts", "notstarts", "ends", "notends"})
_SET_OPS = frozenset({"in", "notin"})
_NO_VALUE_OPS = frozenset({"has", "nothas"})


@dataclass(frozen=True)
class Lit:
    """One literal of a conjunction. op is one of:
    'eq' (k == v), 'ne' (k != v: absent OR different), 'in' (k in set), 'notin' (absent OR not in set),
    'has', 'nothas', 'contains', 'notcontains', 'starts', 'notstarts', 'ends', 'notends'
    ('notX' = key absent OR the string test fails)."""
    op: str
    key: str
    values: tuple[str, ...] = ()     # sorted, de-duplicated; one value for eq/ne/contains/starts/ends

    def __post_init__(self) -> None:
        if self.op not in COMPLEMENT:
            raise ValueError(f"unknown literal op {self.op!r}")
        values = tuple(sorted(set(self.values)))
        if self.op in _SINGLE_VALUE_OPS and len(values) != 1:
            raise ValueError(f"literal {self.op!r} takes exactly one value, got {values!r}")
        if self.op in _NO_VALUE_OPS and values:
            raise ValueError(f"literal {self.op!r} takes no value, got {values!r}")
        object.__setattr__(self, "values", values)

    @property
    def negated(self) -> bool:
        """True for the forms that hold on an absent key (ne, notin, nothas, notcontains, ...)."""
        return self.op not in _POSITIVE

    def complement(self) -> Lit:
        return Lit(COMPLEMENT[self.op], self.key, self.values)

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.negated:
            return not self.complement().matches(labels)
        if self.key not in labels:
            return False
        value = labels[self.key]
        op = self.op
        if op == "has":
            return True
        if op == "in":
            return value in self.values
        probe = self.values[0]
        if op == "eq":
            return value == probe
        if op == "contains":
            return probe in value
        if op == "starts":
            return value.startswith(probe)
        return value.endswith(probe)  # ends

    def sort_key(self) -> tuple:
        return (self.key, self.op, self.values)

    def __str__(self) -> str:
        if self.negated:
            if self.op == "ne":
                return _comparison_text("ne", self.key, self.values)
            if self.op == "notin":
                return _comparison_text("notin", self.key, self.values)
            return "!" + str(self.complement())
        return _comparison_text(self.op, self.key, self.values)


Conj = tuple[Lit, ...]               # AND of literals; () is true


@dataclass(frozen=True)
class CalicoSelector:
    text: str                        # the original text
    dnf: tuple[Conj, ...]            # OR of conjunctions; () matches nothing; ((),) matches everything
    has_global: bool                 # the selector contains global()
    canonical: str                   # Calico's canonical form (§3.8.1 "Canonical form")
    _ast: object = field(default=None, compare=False, repr=False, hash=False)

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Evaluate the DNF (the reference for tests)."""
        return any(all(lit.matches(labels) for lit in conj) for conj in self.dnf)

    def keys(self) -> frozenset[str]:
        """The label keys the selector tests (those of its DNF, which is what every evaluation reads)."""
        return frozenset(lit.key for conj in self.dnf for lit in conj)

    @property
    def is_all(self) -> bool:
        return self.dnf == ((),)

    def __str__(self) -> str:
        return self.canonical


# --------------------------------------------------------------------------------------------------
# AST (private; the canonical form is printed from it)
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _All:
    pass


@dataclass(frozen=True)
class _Global:
    pass


@dataclass(frozen=True)
class _Test:
    """A label test as written: op in eq, ne, in, notin, has, contains, starts, ends."""
    op: str
    key: str
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Not:
    operand: object


@dataclass(frozen=True)
class _And:
    operands: tuple


@dataclass(frozen=True)
class _Or:
    operands: tuple


def _quote(value: str) -> str:
    return f"'{value}'" if '"' in value else f'"{value}"'


_OP_TEXT = {"eq": "==", "ne": "!=", "contains": "contains", "starts": "starts with", "ends": "ends with",
            "in": "in", "notin": "not in"}


def _comparison_text(op: str, key: str, values: tuple[str, ...]) -> str:
    if op == "has":
        return f"has({key})"
    if op in _SET_OPS:
        return f"{key} {_OP_TEXT[op]} {{{', '.join(_quote(v) for v in values)}}}"
    return f"{key} {_OP_TEXT[op]} {_quote(values[0])}"


def _canonical(node) -> str:
    if isinstance(node, _All):
        return "all()"
    if isinstance(node, _Global):
        return "global()"
    if isinstance(node, _Test):
        return _comparison_text(node.op, node.key, node.values)
    if isinstance(node, _Not):
        return "!" + _canonical(node.operand)
    joiner = " && " if isinstance(node, _And) else " || "
    return "(" + joiner.join(_canonical(op) for op in node.operands) + ")"


def _has_global(node) -> bool:
    if isinstance(node, _Global):
        return True
    if isinstance(node, _Not):
        return _has_global(node.operand)
    if isinstance(node, (_And, _Or)):
        return any(_has_global(op) for op in node.operands)
    return False


def _map_keys(node, fn):
    if isinstance(node, _Test):
        return _Test(node.op, fn(node.key), node.values)
    if isinstance(node, _Not):
        return _Not(_map_keys(node.operand, fn))
    if isinstance(node, _And):
        return _And(tuple(_map_keys(op, fn) for op in node.operands))
    if isinstance(node, _Or):
        return _Or(tuple(_map_keys(op, fn) for op in node.operands))
    return node


# --------------------------------------------------------------------------------------------------
# Tokenizer
# --------------------------------------------------------------------------------------------------

_LABEL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./-")
_WS = " \t"

# token kinds
LABEL, STR, LBRACE, RBRACE, COMMA, EQ, NE, IN, NOTIN, CONTAINS, STARTS, ENDS, NOT, AND, OR, LPAREN, \
    RPAREN, HAS, ALL, GLOBAL, EOF = range(21)

_COMPARISON_KINDS = {EQ: "eq", NE: "ne", CONTAINS: "contains", STARTS: "starts", ENDS: "ends",
                     IN: "in", NOTIN: "notin"}
_PUNCTUATION = {"(": LPAREN, ")": RPAREN, "{": LBRACE, "}": RBRACE, ",": COMMA}
_EXPECTED_OPERATOR = "==, !=, in, not in, contains, starts with or ends with"


@dataclass(frozen=True)
class _Token:
    kind: int
    value: str       # label name / string literal content / source text of the token
    column: int      # 1-based
    text: str        # source text, for messages


def _describe(tok: _Token) -> str:
    if tok.kind == EOF:
        return "end of selector"
    if tok.kind == STR:
        return f"string {tok.text}"
    if tok.kind == LABEL:
        return f"label '{tok.value}'"
    return f"'{tok.text}'"


def _char_name(ch: str) -> str:
    names = {"\n": "newline", "\r": "carriage return", "\v": "vertical tab", "\f": "form feed",
             "\u00a0": "no-break space"}
    return names.get(ch, f"whitespace character U+{ord(ch):04X}")


class _Tokenizer:
    def __init__(self, text: str):
        self.text = text
        self.pos = 0
        self.last: int | None = None
        self.last_value = ""

    def _error(self, message: str, pos: int) -> SelectorSyntaxError:
        return SelectorSyntaxError(message, pos + 1)

    def _skip_ws(self, pos: int) -> int:
        text = self.text
        while pos < len(text) and text[pos] in _WS:
            pos += 1
        if pos < len(text) and text[pos].isspace():
            raise self._error(f"{_char_name(text[pos])} is not allowed in a selector "
                              "(only space and TAB separate tokens)", pos)
        return pos

    def _word_end(self, pos: int) -> int:
        text = self.text
        while pos < len(text) and text[pos] in _LABEL_CHARS:
            pos += 1
        return pos

    def _label(self, pos: int) -> tuple[str, int]:
        """The label starting at pos (non-empty, checked by the caller) and the position after it."""
        end = self._word_end(pos)
        if end - pos > MAX_LABEL_LENGTH:
            raise self._error(f"label is {end - pos} characters long; the maximum is {MAX_LABEL_LENGTH}", pos)
        return self.text[pos:end], end

    def next(self) -> _Token:
        tok = self._next()
        self.last, self.last_value = tok.kind, tok.value
        return tok

    def _tok(self, kind: int, start: int, end: int, value: str | None = None) -> _Token:
        self.pos = end
        src = self.text[start:end]
        return _Token(kind, src if value is None else value, start + 1, src)

    def _next(self) -> _Token:
        text = self.text
        p = self._skip_ws(self.pos)
        if p >= len(text):
            self.pos = p
            return _Token(EOF, "", len(text) + 1, "")
        c = text[p]
        if c in _PUNCTUATION:
            return self._tok(_PUNCTUATION[c], p, p + 1)
        if c in "\"'":
            close = text.find(c, p + 1)
            if close < 0:
                raise self._error(f"unterminated string (no closing {c} found)", p)
            return self._tok(STR, p, close + 1, text[p + 1:close])
        if c == "=":
            if text.startswith("==", p):
                return self._tok(EQ, p, p + 2)
            raise self._error("'=' is not an operator (did you mean '==')", p)
        if c == "!":
            if text.startswith("!=", p):
                return self._tok(NE, p, p + 2)
            return self._tok(NOT, p, p + 1)
        if c == "&":
            if text.startswith("&&", p):
                return self._tok(AND, p, p + 2)
            raise self._error("'&' is not an operator (did you mean '&&')", p)
        if c == "|":
            if text.startswith("||", p):
                return self._tok(OR, p, p + 2)
            raise self._error("'|' is not an operator (did you mean '||')", p)
        if self.last == LABEL:
            return self._keyword_operator(p)
        for word, kind in (("has(", HAS), ("all(", ALL), ("global(", GLOBAL)):
            if text.startswith(word, p):
                return self._function(p, word, kind)
        if c in _LABEL_CHARS:
            label, end = self._label(p)
            return self._tok(LABEL, p, end, label)
        raise self._error(f"unexpected character {c!r}", p)

    def _keyword_operator(self, p: int) -> _Token:
        """Right after a label: one of the word operators, or an error."""
        text = self.text
        end = self._word_end(p)
        word = text[p:end]
        joined = {"contains": CONTAINS, "in": IN, "startswith": STARTS, "endswith": ENDS, "notin": NOTIN}
        if word in joined:
            return self._tok(joined[word], p, end)
        split = {"starts": ("with", STARTS), "ends": ("with", ENDS), "not": ("in", NOTIN)}
        if word in split:
            second, kind = split[word]
            q = self._skip_ws(end)
            q_end = self._word_end(q)
            if text[q:q_end] == second:
                return self._tok(kind, p, q_end)
            raise self._error(f"expected '{second}' after '{word}'", q)
        found = f"'{word}'" if word else f"{text[p]!r}"
        raise self._error(f"expected an operator ({_EXPECTED_OPERATOR}) after label '{self.last_value}', "
                          f"found {found}", p)

    def _function(self, p: int, word: str, kind: int) -> _Token:
        text = self.text
        name = word[:-1]
        q = self._skip_ws(p + len(word))
        key = ""
        if kind == HAS:
            if q >= len(text) or text[q] not in _LABEL_CHARS:
                what = "end of selector" if q >= len(text) else repr(text[q])
                raise self._error(f"expected a label inside has(...), found {what}", q)
            key, q = self._label(q)
            q = self._skip_ws(q)
        if q >= len(text) or text[q] != ")":
            what = "end of selector" if q >= len(text) else repr(text[q])
            after = f"has({key}" if kind == HAS else f"{name}("
            raise self._error(f"expected ')' to close '{after}', found {what}", q)
        return self._tok(kind, p, q + 1, key)


# --------------------------------------------------------------------------------------------------
# Parser
# --------------------------------------------------------------------------------------------------

class _Parser:
    def __init__(self, text: str):
        self.lexer = _Tokenizer(text)
        self.tok = self.lexer.next()
        self.prev: _Token | None = None
        self.depth = 0

    def advance(self) -> _Token:
        tok = self.tok
        self.prev = tok
        self.tok = self.lexer.next()
        return tok

    def fail(self, message: str, tok: _Token | None = None) -> SelectorSyntaxError:
        tok = tok or self.tok
        return SelectorSyntaxError(message, tok.column)

    def parse(self):
        if self.tok.kind == EOF:
            return _All()
        node = self.or_expr()
        if self.tok.kind != EOF:
            raise self.fail(f"expected '&&', '||' or end of selector, found {_describe(self.tok)}")
        return node

    def or_expr(self):
        items = [self.and_expr()]
        while self.tok.kind == OR:
            self.advance()
            items.append(self.and_expr())
        return items[0] if len(items) == 1 else _Or(tuple(items))

    def and_expr(self):
        items = [self.unary()]
        while self.tok.kind == AND:
            self.advance()
            items.append(self.unary())
        return items[0] if len(items) == 1 else _And(tuple(items))

    def unary(self):
        negated = False
        while self.tok.kind == NOT:
            negated = not negated
            self.advance()
        node = self.primary()
        return _Not(node) if negated else node

    def primary(self):
        tok = self.tok
        if tok.kind == HAS:
            self.advance()
            return _Test("has", tok.value)
        if tok.kind == ALL:
            self.advance()
            return _All()
        if tok.kind == GLOBAL:
            self.advance()
            return _Global()
        if tok.kind == LPAREN:
            if self.depth == MAX_NESTING:
                raise self.fail(f"parentheses nested deeper than {MAX_NESTING} levels")
            self.depth += 1
            self.advance()
            node = self.or_expr()
            self.depth -= 1
            if self.tok.kind != RPAREN:
                raise self.fail(f"expected '&&', '||' or ')' to close the '(' at column {tok.column}, "
                                f"found {_describe(self.tok)}")
            self.advance()
            return node
        if tok.kind == LABEL:
            self.advance()
            return self.comparison(tok)
        after = ""
        if self.prev is not None and self.prev.kind in (AND, OR, NOT, LPAREN):
            after = f" after '{self.prev.text}'"
        raise self.fail("expected a label test, has(...), all(), global(), '!' or '('"
                        f"{after}, found {_describe(tok)}")

    def comparison(self, label: _Token):
        tok = self.tok
        op = _COMPARISON_KINDS.get(tok.kind)
        if op is None:
            hint = ""
            if tok.kind == LPAREN and label.value in ("has", "all", "global"):
                hint = f" (write '{label.value}(' with no space before '(')"
            raise self.fail(f"expected an operator ({_EXPECTED_OPERATOR}) after label '{label.value}', "
                            f"found {_describe(tok)}{hint}")
        self.advance()
        if op in _SET_OPS:
            return _Test(op, label.value, self.set_literal(tok))
        if self.tok.kind != STR:
            raise self.fail(f"expected a quoted string after '{_OP_TEXT[op]}', found {_describe(self.tok)}")
        value = self.advance().value
        return _Test(op, label.value, (value,))

    def set_literal(self, op_tok: _Token) -> tuple[str, ...]:
        if self.tok.kind != LBRACE:
            raise self.fail(f"expected a set literal {{...}} after '{_OP_TEXT[_COMPARISON_KINDS[op_tok.kind]]}', "
                            f"found {_describe(self.tok)}")
        self.advance()
        values: set[str] = set()
        while True:
            if self.tok.kind == RBRACE:
                break
            if self.tok.kind != STR:
                raise self.fail(f"expected a quoted string or '}}' in set, found {_describe(self.tok)}")
            values.add(self.advance().value)
            if self.tok.kind == COMMA:
                self.advance()
                continue
            if self.tok.kind == RBRACE:
                break
            raise self.fail(f"expected ',' or '}}' in set, found {_describe(self.tok)}")
        self.advance()
        return tuple(sorted(values))


# --------------------------------------------------------------------------------------------------
# DNF
# --------------------------------------------------------------------------------------------------

_TRUE: tuple[frozenset, ...] = (frozenset(),)
_FALSE: tuple[frozenset, ...] = ()
_PRESENCE = frozenset(_POSITIVE)


def _too_complex() -> SelectorSyntaxError:
    return SelectorSyntaxError("selector too complex for analysis", 1)


def _literal(op: str, key: str, values: tuple[str, ...], negate: bool) -> tuple[frozenset, ...]:
    """The DNF of one (possibly negated) test, after normalising degenerate forms:
    `in {}` is false, `in {v}` is `== v`, `contains/starts with/ends with ""` is `has`."""
    if op in ("contains", "starts", "ends") and values == ("",):
        op, values = "has", ()
    elif op in _SET_OPS and len(values) == 1:
        op = "eq" if op == "in" else "ne"
    elif op in _SET_OPS and not values:
        true = op == "notin"
        return _TRUE if true != negate else _FALSE
    if negate:
        op = COMPLEMENT[op]
    return (frozenset({Lit(op, key, values)}),)


def _simplify_conj(lits: frozenset) -> frozenset | None:
    """None if the conjunction is unsatisfiable; otherwise it, minus literals implied by others.
    Unsatisfiable: a literal with its exact complement; a presence-requiring literal with !has(k);
    `k == v1` with `k == v2`, v1 != v2."""
    if len(lits) < 2:
        return lits
    eq_values: dict[str, str] = {}
    present: dict[str, int] = {}
    absent: set[str] = set()
    for lit in lits:
        if lit.complement() in lits:
            return None
        if lit.op == "nothas":
            absent.add(lit.key)
        elif lit.op in _PRESENCE:
            present[lit.key] = present.get(lit.key, 0) + 1
            if lit.op == "eq":
                if eq_values.setdefault(lit.key, lit.values[0]) != lit.values[0]:
                    return None
    if any(k in absent for k in present):
        return None
    redundant = {Lit("has", k) for k, n in present.items() if n > 1}
    return lits - redundant if redundant & lits else lits


def _normalise(conjs) -> list[frozenset]:
    out: set[frozenset] = set()
    for conj in conjs:
        simple = _simplify_conj(conj)
        if simple is not None:
            if not simple:
                return [frozenset()]
            out.add(simple)
    return list(out)


def _absorb(conjs: list[frozenset], limit: int | None = None) -> list[frozenset]:
    """Drop every conjunction that is a strict superset of another (it implies the other). Past `limit`
    conjunctions kept, the selector is too complex. A kept conjunction is indexed by one of its literals: only
    those indexed by a literal of `conj` can be subsets of it."""
    if len(conjs) < 2:
        return conjs
    if frozenset() in conjs:
        return [frozenset()]
    kept: list[frozenset] = []
    index: dict[Lit, list[frozenset]] = {}
    for conj in sorted(conjs, key=len):
        if not any(k <= conj for lit in conj for k in index.get(lit, ())):
            kept.append(conj)
            index.setdefault(next(iter(conj)), []).append(conj)
            if limit is not None and len(kept) > limit:
                raise _too_complex()
    return kept


def _bounded(conjs: list[frozenset]) -> tuple[frozenset, ...]:
    if len(conjs) > MAX_CONJUNCTIONS:
        conjs = _absorb(conjs, MAX_CONJUNCTIONS)
    return tuple(conjs)


def _dnf(node, negate: bool) -> tuple[frozenset, ...]:
    if isinstance(node, (_All, _Global)):
        return _FALSE if negate else _TRUE
    if isinstance(node, _Test):
        return _literal(node.op, node.key, node.values, negate)
    if isinstance(node, _Not):
        return _dnf(node.operand, not negate)
    conjunctive = isinstance(node, _And) != negate     # De Morgan
    parts = [_dnf(op, negate) for op in node.operands]
    if not conjunctive:
        return _bounded(_normalise(c for part in parts for c in part))
    # the single-conjunction operands are joined at once (one after the other would be quadratic)
    acc = tuple(_normalise([frozenset().union(*(part[0] for part in parts if len(part) == 1))]))
    for part in (part for part in parts if len(part) != 1):
        if len(acc) * len(part) > _MAX_RAW_PRODUCT:
            raise _too_complex()
        acc = _bounded(_normalise(a | b for a in acc for b in part))
        if not acc:
            break
    return acc


def _finish(conjs: tuple[frozenset, ...]) -> tuple[Conj, ...]:
    kept = _absorb(list(conjs))
    out = [tuple(sorted(c, key=Lit.sort_key)) for c in kept]
    out.sort(key=lambda conj: (len(conj), [lit.sort_key() for lit in conj]))
    return tuple(out)


# --------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------

def _build(text: str, ast) -> CalicoSelector:
    return CalicoSelector(text=text, dnf=_finish(_dnf(ast, False)), has_global=_has_global(ast),
                          canonical=_canonical(ast), _ast=ast)


def parse_selector(text: str) -> CalicoSelector:
    """Parse a Calico selector; raises SelectorSyntaxError (with a 1-based column) as Calico would reject it."""
    if not isinstance(text, str):
        raise TypeError(f"selector must be a string, not {type(text).__name__}")
    return _build(text, _Parser(text).parse())


def prefix_keys(sel: CalicoSelector, prefix: str) -> CalicoSelector:
    """Every label key gets `prefix` (Calico's PrefixVisitor, used for "pcns." / "pcsa."); all() and
    global() carry no key and are unchanged. The result's text is its canonical form."""
    if any(ch not in _LABEL_CHARS for ch in prefix):
        raise ValueError(f"prefix {prefix!r} contains characters not allowed in a label")
    ast = sel._ast if sel._ast is not None else _Parser(sel.canonical).parse()
    new = _map_keys(ast, lambda key: prefix + key)
    canonical = _canonical(new)
    return CalicoSelector(text=canonical, dnf=_finish(_dnf(new, False)), has_global=_has_global(new),
                          canonical=canonical, _ast=new)

