"""Set-at-a-time evaluation of the relations the engine keeps whole.

The first stage's relations (`datalog.STAGE1`) are needed whole: the bulk plan reads every tuple of them. Asked
of pyDatalog, each tuple is derived through its machinery at tens of microseconds apiece. Here the same clauses
of rules/*.dl, as pyDatalog parsed them, are evaluated as a relational engine would: each clause as a
left-to-right join over the tuples held in Python (the facts, and the relations kept before it), through a dict
per set of bound positions. A body literal of a relation that is neither a fact nor kept yet (a helper the rules
ask with bound arguments, as `conj_rejects(J, V)`) is evaluated the same way from its own clauses, with the
arguments bound at that point, once per distinct binding. Nothing here knows what a relation means: the rules
are the only statement of it, and `tests/test_bulk.py` checks, on the corpus and on random clusters, that this
evaluation and pyDatalog's give every relation of both stages the same tuples.

What this evaluation does not cover is left to pyDatalog, which is always right: a recursive relation, a clause
with an aggregate, or a comparison reached with a side unbound. A relation kept whole that needs one of these is
evaluated by pyDatalog as before (`Uncovered`); a helper that needs one is asked of pyDatalog with its
arguments bound.
"""

from __future__ import annotations

import operator
from typing import Any, Callable

from pyDatalog import pyEngine

_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}
_ARITHMETIC: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv, "//": operator.floordiv,
}

Recipe = tuple[str, list, Any, Any]  # a parsed literal: predicate name, terms, prearity, aggregate
Clause = tuple[Recipe, list[Recipe]]


class Uncovered(Exception):
    """A clause this evaluation does not cover; pyDatalog evaluates it."""


Getter = Callable[[list], Any]


class _Step:
    """One body literal, compiled for the variables bound before it.

    kind "rel": the matching tuples of a relation are joined in; "not": none may match; "cmp": a comparison of
    two bound sides; "bind": an equality that binds its variable to the other side. `key`: the bound positions'
    values, each (slot, None) or (None, constant); `out`: (position, slot) for each variable the literal binds;
    `same`: position pairs that must hold equal values (a variable repeated inside the literal)."""

    __slots__ = ("kind", "name", "arity", "positions", "key", "out", "same", "test", "left", "right", "slot")

    def __init__(self, kind: str, name: str = "", arity: int = 0) -> None:
        self.kind, self.name, self.arity = kind, name, arity
        self.positions: tuple[int, ...] = ()
        self.key: list[tuple[int | None, Any]] = []
        self.out: list[tuple[int, int]] = []
        self.same: list[tuple[int, int]] = []
        self.test: Callable[[Any, Any], bool] = operator.eq
        self.left: Getter = lambda env: None
        self.right: Getter = lambda env: None
        self.slot = 0


_BIND, _SAME, _EQUAL = 0, 1, 2  # a bound head argument binds a variable, equals a bound one, or equals a constant


class _Compiled:
    """A clause compiled for a call that binds `positions` of its head."""

    __slots__ = ("head_in", "steps", "head_out", "width")

    def __init__(self, head_in, steps, head_out, width) -> None:
        self.head_in: list[tuple[int, Any]] = head_in
        self.steps: list[_Step] = steps
        self.head_out: list[tuple[int | None, Any]] = head_out
        self.width: int = width


def _getter(term, slots: dict, bound: set) -> Getter | None:
    """A function of the bindings giving the term's value; None for an unbound variable."""
    if isinstance(term, pyEngine.Var):
        slot = slots.setdefault(term.id, len(slots))
        return (lambda env: env[slot]) if slot in bound else None
    if isinstance(term, pyEngine.Const):
        value = term.id
        return lambda env: value
    if isinstance(term, pyEngine.Operation):
        if callable(term.operator):  # (X == (lambda A, B: ...)): the lambda applied to the variables it names
            fn = term.operator
            arg_slots = [slots.setdefault(v, len(slots)) for v in term.rhs.id]
            if any(a not in bound for a in arg_slots):
                raise Uncovered("a lambda over an unbound variable")
            return lambda env: fn(*[env[a] for a in arg_slots])
        op = _ARITHMETIC.get(term.operator)
        left, right = _getter(term.lhs, slots, bound), _getter(term.rhs, slots, bound)
        if op is None or left is None or right is None:
            raise Uncovered(f"the operation {term.operator!r}")
        return lambda env: op(left(env), right(env))
    raise Uncovered(f"a term {type(term).__name__}")


def _key_term(term, slots: dict, bound: set) -> tuple[int | None, Any] | None:
    if isinstance(term, pyEngine.Var):
        slot = slots.setdefault(term.id, len(slots))
        return (slot, None) if slot in bound else None
    if isinstance(term, pyEngine.Const):
        return (None, term.id)
    raise Uncovered(f"a computed argument ({type(term).__name__})")


def compile_clause(clause: Clause, positions: tuple[int, ...]) -> _Compiled:
    """Compile a clause for a call binding `positions` of its head. Raises `Uncovered`."""
    head, body = clause
    slots: dict = {}
    bound: set[int] = set()
    head_in: list[tuple[int, Any]] = []  # per bound position: (_BIND, slot), (_SAME, slot) or (_EQUAL, constant)
    for i in positions:
        term = head[1][i]
        if isinstance(term, pyEngine.Var):
            slot = slots.setdefault(term.id, len(slots))
            head_in.append((_SAME if slot in bound else _BIND, slot))
            bound.add(slot)
        elif isinstance(term, pyEngine.Const):
            head_in.append((_EQUAL, term.id))
        else:
            raise Uncovered("a computed head term")
    steps: list[_Step] = []
    for name, terms, _prearity, aggregate in body:
        if aggregate is not None:
            raise Uncovered("an aggregate")
        if name in _COMPARE:
            left, right = (_getter(t, slots, bound) for t in terms)
            if name == "==" and left is None and right is not None and isinstance(terms[0], pyEngine.Var):
                step = _Step("bind")
                step.slot, step.left = slots[terms[0].id], right
                bound.add(step.slot)
            elif name == "==" and right is None and left is not None and isinstance(terms[1], pyEngine.Var):
                step = _Step("bind")
                step.slot, step.left = slots[terms[1].id], left
                bound.add(step.slot)
            elif left is None or right is None:
                raise Uncovered(f"a comparison {name} with a side unbound")
            else:
                step = _Step("cmp")
                step.test, step.left, step.right = _COMPARE[name], left, right
            steps.append(step)
            continue
        if not name[0].isalpha() and not name.startswith("~"):
            raise Uncovered(f"the literal {name}")
        negated = name.startswith("~")
        step = _Step("not" if negated else "rel", name.lstrip("~"), len(terms))
        newly: dict[int, int] = {}  # slot -> the first position of this literal binding it
        bound_at = []
        for i, term in enumerate(terms):
            k = _key_term(term, slots, bound)
            if k is not None:
                bound_at.append(i)
                step.key.append(k)
                continue
            slot = slots[term.id]
            if slot in newly:
                step.same.append((newly[slot], i))
            else:
                newly[slot] = i
                step.out.append((i, slot))
        step.positions = tuple(bound_at)
        if not negated:
            bound.update(newly)
        steps.append(step)
    head_out = []
    for term in head[1]:
        k = _key_term(term, slots, bound)
        if k is None:
            raise Uncovered("a head variable no body literal binds")
        head_out.append(k)
    return _Compiled(head_in, steps, head_out, len(slots))


def recursive(clauses: dict[tuple[str, int], list[Clause]]) -> dict[str, frozenset[str]]:
    """The relations that depend on themselves, each with the relations of its cycles (itself included)."""
    uses: dict[str, set[str]] = {}
    for (name, _), group in clauses.items():
        for _head, body in group:
            uses.setdefault(name, set()).update(lit[0].lstrip("~") for lit in body if lit[0].lstrip("~")[:1].isalpha())

    def reach(start: str) -> set[str]:
        seen: set[str] = set()
        todo = list(uses.get(start, ()))
        while todo:
            r = todo.pop()
            if r not in seen:
                seen.add(r)
                todo.extend(uses.get(r, ()))
        return seen

    reached = {name: reach(name) for name in uses}
    return {name: frozenset(r for r in reached[name] if name in reached.get(r, ()))
            for name in uses if name in reached[name]}


class Bulk:
    """The tuples held in Python, by (relation, arity), and the evaluation of more relations from them."""

    def __init__(self, facts: dict[tuple[str, int], list[tuple]], clauses: dict[tuple[str, int], list[Clause]],
                 loops: dict[str, frozenset[str]], ask: Callable[[str, list], list[tuple]]):
        """`facts`: the base relations' tuples; `clauses`: the rules, by head; `loops`: the recursive relations
        and their cycles (`recursive`); `ask(relation, terms)`: pyDatalog's tuples for pyEngine terms (Const bound, Var free)."""
        self.rows = facts
        self._clauses = clauses
        self._loops = loops
        self._ask = ask
        self._indexes: dict[tuple[str, int, tuple[int, ...]], dict[tuple, list[tuple]]] = {}
        self._memo: dict[tuple[str, int, tuple[int, ...]], dict[tuple, list[tuple]]] = {}
        self._compiled: dict[tuple[str, int, tuple[int, ...]], list[_Compiled] | None] = {}
        self._open: set[tuple] = set()  # the calls of a relation that reads itself, whose fixpoint is under way

    def relation(self, name: str, arity: int) -> list[tuple]:
        """Every tuple of a derived relation. Raises `Uncovered` when pyDatalog must evaluate it."""
        if self._loops.get(name, {name}) != {name}:
            raise Uncovered(f"{name} is recursive through other relations")
        compiled = self._compile(name, arity, ())
        if compiled is None:
            raise Uncovered(f"{name}: a clause is not covered")
        if name not in self._loops:
            return self._evaluate(compiled, ())
        # a relation that reads itself: its tuples so far are held, and every clause evaluated again, until no
        # tuple is added (the least fixpoint, as pyDatalog's tabling reaches it)
        rows: list[tuple] = []
        while True:
            self._hold(name, arity, rows)
            more = self._evaluate(compiled, ())
            if len(more) == len(rows):
                del self.rows[(name, arity)]
                self._hold(name, arity, None)
                return more
            rows = more

    def keep(self, name: str, arity: int, rows: list[tuple]) -> None:
        """Hold a relation's tuples: later clauses join them in instead of evaluating the relation."""
        self._hold(name, arity, rows)

    def _invariant(self, name: str, arity: int) -> set[int]:
        """The head positions that every recursive literal of the relation's clauses passes on unchanged (the same
        variable as the head's there): a call binding only these calls itself with the same binding."""
        out = set(range(arity))
        for head, body in self._clauses.get((name, arity), ()):
            for lit in body:
                if lit[0] == name and len(lit[1]) == arity:
                    out &= {i for i, (h, b) in enumerate(zip(head[1], lit[1]))
                            if isinstance(h, pyEngine.Var) and isinstance(b, pyEngine.Var) and h.id == b.id}
        return out

    def forget(self) -> None:
        """Let go of what was derived on the way (the helpers' tuples, the indexes); the held tuples stay."""
        self._memo.clear()
        self._indexes.clear()

    def _hold(self, name: str, arity: int, rows: list[tuple] | None) -> None:
        if rows is not None:
            self.rows[(name, arity)] = rows
        for key in [k for k in self._indexes if k[:2] == (name, arity)]:
            del self._indexes[key]
        self._memo.clear()  # what was derived from the relation before

    def _compile(self, name: str, arity: int, positions: tuple[int, ...]) -> list[_Compiled] | None:
        key = (name, arity, positions)
        if key not in self._compiled:
            try:
                self._compiled[key] = [compile_clause(c, positions) for c in self._clauses.get((name, arity), ())]
            except Uncovered:
                self._compiled[key] = None
        return self._compiled[key]

    def _evaluate(self, compiled: list[_Compiled], key: tuple) -> list[tuple]:
        out: dict[tuple, None] = {}
        for clause in compiled:
            env: list = [None] * clause.width
            for (mode, x), value in zip(clause.head_in, key):
                if mode == _BIND:
                    env[x] = value
                elif (env[x] if mode == _SAME else x) != value:
                    break
            else:
                envs = [env]
                for step in clause.steps:
                    envs = self._step(step, envs)
                    if not envs:
                        break
                for e in envs:
                    out[tuple(e[s] if s is not None else c for s, c in clause.head_out)] = None
        return list(out)

    def call(self, name: str, arity: int, positions: tuple[int, ...], key: tuple) -> list[tuple]:
        """The tuples of a relation whose `positions` hold `key`: held, else evaluated from its clauses (once per
        binding), else asked of pyDatalog."""
        held = self.rows.get((name, arity))
        if held is not None:
            if not positions:
                return held
            index = self._indexes.get((name, arity, positions))
            if index is None:
                index = self._indexes[(name, arity, positions)] = {}
                for row in held:
                    index.setdefault(tuple(row[i] for i in positions), []).append(row)
            return index.get(key, [])
        loop = self._loops.get(name)
        if loop == {name} and positions:
            kept = self._invariant(name, arity)
            if not set(positions) <= kept:  # evaluate with the positions its recursive calls pass on, then filter
                inner = tuple(p for p in positions if p in kept)
                rows = self.call(name, arity, inner, tuple(v for p, v in zip(positions, key) if p in kept))
                rest = [(p, v) for p, v in zip(positions, key) if p not in kept]
                return [r for r in rows if all(r[p] == v for p, v in rest)]
        memo = self._memo.setdefault((name, arity, positions), {})
        rows = memo.get(key)
        if rows is None:
            call = (name, arity, positions, key)
            compiled = None if loop not in (None, {name}) else self._compile(name, arity, positions)
            if compiled is not None and loop is not None and any(o[0] == name for o in self._open):
                compiled = None  # a second binding of a relation whose fixpoint for another one is under way
            if compiled is None:
                terms: list = [pyEngine.Var(f"V{i}") for i in range(arity)]
                for i, value in zip(positions, key):
                    terms[i] = pyEngine.Term_of(value)
                rows = self._ask(name, terms)
            elif loop is None:
                rows = self._evaluate(compiled, key)
            else:
                # a relation that reads itself with this same binding: the calls inside read the tuples found so
                # far (memo), and every clause is evaluated again until none is added (the least fixpoint). What
                # it calls besides cannot read it back (it is alone in its cycles), so their memos stay right.
                memo[key] = rows = []
                self._open.add(call)
                try:
                    while True:
                        more = self._evaluate(compiled, key)
                        if len(more) == len(rows):
                            break
                        memo[key] = rows = more
                finally:
                    self._open.discard(call)
            memo[key] = rows
        return rows

    def _step(self, step: _Step, envs: list[list]) -> list[list]:
        kind = step.kind
        if kind == "cmp":
            test, left, right = step.test, step.left, step.right
            return [e for e in envs if test(left(e), right(e))]
        if kind == "bind":
            slot, value = step.slot, step.left
            out = []
            for e in envs:
                e = e[:]
                e[slot] = value(e)
                out.append(e)
            return out
        name, arity, positions, key_of, same, outs = step.name, step.arity, step.positions, step.key, step.same, step.out
        call = self.call
        result = []
        for e in envs:
            rows = call(name, arity, positions, tuple(e[s] if s is not None else c for s, c in key_of))
            if same:
                rows = [r for r in rows if all(r[a] == r[b] for a, b in same)]
            if kind == "not":
                if not rows:
                    result.append(e)
            elif not outs:
                if rows:
                    result.append(e)
            else:
                for row in rows:
                    e2 = e[:]
                    for i, slot in outs:
                        e2[slot] = row[i]
                    result.append(e2)
        return result
