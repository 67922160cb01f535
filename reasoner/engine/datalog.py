"""One `Engine` = one pyDatalog logic holding one fact base and the rules of `rules/*.dl`.

pyDatalog keeps its database per thread; each Engine owns a `Logic` and makes it current before every
call, so two engines (two versions of a cluster) never mix. Facts go in through pyDatalog's engine API
as constants; queries are built the same way, so user strings are never parsed as Datalog.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import importlib.resources
import itertools
import re
from typing import Any, Iterable

from pyDatalog import Logic, pyEngine, pyParser
from pyDatalog.util import DatalogError

from reasoner.engine import rule_cache
from reasoner.engine.bulk import Bulk, Uncovered, recursive
from reasoner.errors import QueryError
from reasoner.facts.schema import EVALUATIONS, RELATIONS

# Derived relations that are asked with some arguments bound (a comparison or an enumeration needs them).
BOUND_ONLY = frozenset({"within", "atom_in_range", "rule_atom_to", "cneg_d", "ord_ok", "egress_allows", "ingress_allows",
                        "egress_ok", "ingress_ok", "flow_allowed", "ent_ok", "ipver_rejects", "cpol_sa_rejects",
                        "cpol_nssel_rejects", "pos_pod_rejects", "pos_netset_rejects", "ent_fails", "conj_rejects",
                        "local_ok", "wl_ingress_ok", "hook_decides", "fs_ok", "np_blocked", "hep_in_ok",
                        "hep_out_ok", "fwd_ok", "earlier_cover", "earlier_stop", "earlier_nohit_stop",
                        # tiers.dl, one flow: asked with the subject, the end, the peer, the protocol and the port bound
                        "rule_hits", "port_in_atom", "rule_covers", "flow_match", "flow_rule", "earlier_rule",
                        "first_rule", "tier_matched", "tier_does", "tier_stops", "stopped_before",
                        "some_tier_stops", "flow_decision", "end_trace"})
INGRESS_SHAPED = frozenset(d for d, rules in EVALUATIONS.items() if rules == "ingress")  # the subject is the destination
RULE_FILES = ("selectors.dl", "policies.dl", "calico.dl", "admin.dl", "hosts.dl", "peers.dl", "ports.dl", "tiers.dl",
              "regions.dl", "verdict.dl", "lint.dl", "sanity.dl")
# Relations evaluated whole, in this order, and then kept as tables. pyDatalog answers a call with bound
# arguments by a new subgoal; a kept table answers it by an index lookup instead (hash join). The rules
# stay the definition: each relation is computed by pyDatalog from its rules before being kept.
# The first stage holds the per-class and per-rule relations (which policies apply to which class, what a rule's
# peers and ports match), which every command needs and which stay small; the bulk plan (reasoner/plan.py) reads
# them. The second holds the per-pair relations of ordered evaluation, evaluated only when a question needs them.
STAGE1: tuple[tuple[str, int], ...] = (
    ("ns_selected", 2), ("sel_scope", 2), ("sel_in_ns", 3), ("sel_pod", 2), ("sel_netset", 2), ("sel_ns", 2),
    ("sel_sa", 2), ("applies", 3), ("isolated", 2), ("egress_open", 1), ("ingress_open", 1), ("ordered", 2),
    ("tier_applies", 3), ("subject_rule", 3), ("egress_rule", 2), ("ingress_rule", 2), ("peer_excepted", 2), ("peer_match", 2),
    ("rule_range", 4), ("rule_named", 3),
    ("netset_atom", 2), ("pos_pod", 2), ("pos_netset", 2), ("pos_match", 2),
    ("ent_in_nets", 2), ("ent_match", 2), ("universal", 1), ("cproto", 2), ("rfull", 2),
    ("cneg", 3), ("rule_atom", 3),
)
STAGE2: tuple[tuple[str, int], ...] = (
    ("crule_ok", 3), ("egress_grant", 6), ("ingress_grant", 6),
    ("universal_hit", 3), ("peer_hit", 4), ("has_peer_hit", 3), ("@units", 0), ("touch", 3), ("region", 3), ("cover", 4),
    ("decisive_cover", 6), ("tier_first", 5), ("tier_outcome", 5), ("stop", 5), ("decided", 4), ("verdict_ord", 4),
    ("nohit_verdict", 3),
)
MATERIALIZE = STAGE1 + STAGE2
_UNIT_FACTS = ("unit", "unit_rule", "unit_tier", "unit_dest", "unit_id")
# The peer that stands for every peer no peer-specific rule of an ordered end matches (rules/regions.dl `hit`):
# they are all evaluated once, as this one.
EVERY_OTHER_PEER = -2


@functools.cache
def rule_texts() -> dict[str, str]:
    """The text of every rule file, read from the package data `reasoner.rules` (the repository's `rules/`)."""
    package = importlib.resources.files("reasoner.rules")
    return {name: package.joinpath(name).read_text(encoding="utf-8") for name in RULE_FILES}


_CODE = re.compile(r"(?:[^#'\"]|'[^']*'|\"[^\"]*\")*")  # a line of a rule file up to its comment
_STRINGS = re.compile(r"'[^']*'|\"[^\"]*\"")
_RELATION = re.compile(r"([a-z_][a-z0-9_]*)\(")


def rule_clauses(text: str) -> list[tuple[str, str, str]]:
    """The clauses of a rule file's text, in order, as (head relation, body, comment). A clause is one line, or runs
    over several as Python continues a line: while a parenthesis is open (a long body is written in parentheses,
    one literal per line), or after a trailing backslash. Its body is the text after `<=`, its lines joined and
    comments left out. Its comment is the last comment line before it that introduces a relation
    (`# name(...): ...`), else ''."""
    out: list[tuple[str, str, str]] = []
    comment, pending, depth = "", [], 0
    for line in text.splitlines():
        if not pending and re.match(r"^# [a-z_][a-z0-9_]*\(", line):
            comment = line[2:]
        code = _CODE.match(line).group().strip()
        if not code:
            continue
        joined = code.endswith("\\")
        pending.append(code.removesuffix("\\").rstrip())
        bare = _STRINGS.sub("", code)
        depth += bare.count("(") - bare.count(")")
        if depth > 0 or joined:
            continue
        head, arrow, body = " ".join(pending).partition("<=")
        pending, depth = [], 0
        m = _RELATION.match(head)
        if arrow and m:
            out.append((m.group(1), body.strip(), comment))
    return out


def derived_relations() -> dict[str, str]:
    """Every relation defined by a rule head in rules/*.dl, with the comment that introduces it (a relation
    extended in several files is introduced by the comment `# name(...)` in one of them)."""
    out: dict[str, str] = {}
    for text in rule_texts().values():
        for head, _body, comment in rule_clauses(text):
            if head not in out or not out[head].startswith(head + "("):
                out[head] = comment if comment.startswith(head + "(") else out.get(head, "")
    return out


def columns(comment: str) -> tuple[str, ...]:
    """The columns a relation's comment names: "applies(Pol, C, Dir): ..." -> ("Pol", "C", "Dir")."""
    return tuple(c.strip() for c in comment.split("(", 1)[1].split(")", 1)[0].split(","))


@functools.cache
def late_relations() -> frozenset[str]:
    """The relations whose tuples depend on the evaluation units, which exist once the second stage is evaluated
    (every other relation is computed from the rules whenever it is asked; materializing only keeps it)."""
    uses: dict[str, set[str]] = {}
    for text in rule_texts().values():
        for head, body, _comment in rule_clauses(text):
            uses.setdefault(head, set()).update(re.findall(r"\b([a-z_][a-z0-9_]*)\(", body))
    late = set(_UNIT_FACTS)
    grew = True
    while grew:
        grew = False
        for head, body in uses.items():
            if head not in late and body & late:
                late.add(head)
                grew = True
    return frozenset(late)


def _known() -> set[str]:
    return set(RELATIONS) | set(derived_relations())


KNOWN = _known()


# pyDatalog finds the facts matching a call through one index per argument: for each bound argument it copies
# the whole set of facts with that value, then intersects the copies. A call that binds a common value (a
# direction, a protocol) thus costs as much as the relation is large. This lookup keeps, per relation and per
# set of bound positions, a dict from the bound values to the facts (built on first use), so a call costs what
# it returns. Clauses (rules) are yielded as before. A relation's dicts are dropped when facts are added to it.
_INDEXES: dict[Any, dict[tuple[int, ...], dict[tuple, list]]] = {}


class _Held:
    """A relation held in Python, not in pyDatalog: a base relation, or one kept whole (its clauses retracted). When
    pyDatalog resolves a call of it, `relevant_clauses` hands it fact clauses for the matching tuples only, made on
    first use: a fact base that pyDatalog is never asked about costs it nothing, and one it is asked about costs
    what the questions touch."""

    __slots__ = ("pred", "rows", "indexes", "made")

    def __init__(self, pred, rows: list[tuple], indexes: dict) -> None:
        self.pred, self.rows, self.indexes = pred, rows, indexes  # indexes: shared with Engine._fact_tables
        self.made: dict[tuple, Any] = {}

    def clauses(self, terms) -> list:
        positions = tuple(i for i, term in enumerate(terms) if term.is_const())
        rows = self.rows
        if positions:
            index = self.indexes.get(positions)
            if index is None:
                index = self.indexes[positions] = {}
                for row in rows:
                    index.setdefault(tuple(row[i] for i in positions), []).append(row)
            rows = index.get(tuple(terms[i].id for i in positions), ())
        made, out = self.made, []
        for row in rows:
            clause = made.get(row)
            if clause is None:
                clause = made[row] = pyEngine.Clause(pyEngine.Literal(self.pred, [pyEngine.Term_of(v) for v in row]), [])
            out.append(clause)
        return out


def _relevant_clauses(literal):
    pred = literal.pred
    held = getattr(pred, "held", None)
    if held is not None:
        return held.clauses(literal.terms)
    terms = literal.terms
    positions = tuple(i for i, term in enumerate(terms) if term.is_const())
    if not positions:
        return pred.db.values()
    by_positions = _INDEXES.get(pred)
    if by_positions is None:
        by_positions = _INDEXES[pred] = {}
    index = by_positions.get(positions)
    if index is None:
        index = by_positions[positions] = {}
        for clause in pred.db.values():
            if not clause.body:
                head = clause.head.terms
                index.setdefault(tuple(head[i].id for i in positions), []).append(clause)
    facts = index.get(tuple(terms[i].id for i in positions), ())
    if len(pred.clauses):
        return itertools.chain(pred.clauses.values(), facts)
    return facts


pyEngine.relevant_clauses = _relevant_clauses


_FREEZE_AT = 5_000  # tuples: an engine this large has its objects frozen (measured: 1 000 pods, 37 000 tuples,
# connectivity 1.6 s frozen, 2.5 s not); the engines of small inputs (tests, the corpus: under 1 500) are not


class _Gate:
    freeze = False


@contextlib.contextmanager
def _quiet_gc():
    """pyDatalog allocates many small linked objects; the cyclic collector's passes over them cost as much
    as the evaluation itself (measured: 2x). Pause it while the engine works; what it would free is freed
    at its next pass after. When the caller sets the gate's `freeze` (a large engine), the objects that survive
    (the fact base, the rules, the kept tables) are then moved out of the collector's sight (`gc.freeze`): they
    live as long as the engine, and every later pass would scan them again for nothing."""
    enabled = gc.isenabled()
    gc.disable()
    gate = _Gate()
    try:
        yield gate
    finally:
        if gate.freeze:
            gc.freeze()
        if enabled:
            gc.enable()


def _thaw() -> None:
    """Give the objects frozen by engines built before back to the collector, and collect the ones no longer used
    (a long process, such as the tests or a REPL reloading, builds many engines one after the other)."""
    if gc.get_freeze_count():
        gc.unfreeze()
        gc.collect()


def _assert(relation: str, values) -> None:
    pyEngine.assert_(pyEngine.Clause(pyEngine.Literal(relation, [pyEngine.Term_of(v) for v in values]), []))


_Recipe = tuple[str, list, Any, Any]  # a literal of a rule: predicate name, terms, prearity, aggregate
_CLAUSES: list[tuple[_Recipe, list[_Recipe]]] = []  # the rules' clauses, as parsed from rules/*.dl once


def _recipe(literal) -> _Recipe:
    return literal.pred.name, list(literal.terms), literal.pred.prearity, literal.aggregate


def _parse_rules() -> list[tuple[_Recipe, list[_Recipe]]]:
    """Parse rules/*.dl with pyDatalog into the current logic; its clauses, as recipes."""
    added: list = []
    original = pyParser.add_clause

    def capture(head, body):
        clause = original(head, body)
        added.append((_recipe(clause.head), [_recipe(lit) for lit in clause.body]))
        return clause

    pyParser.add_clause = capture
    try:
        for name, text in rule_texts().items():
            try:  # (pyDatalog.load would first walk the caller's stack with `inspect`, for no name of ours)
                pyParser.load(text, newglobals={})
            except Exception as exc:  # a defect in our rules, not in the user's input
                raise RuntimeError(f"rules/{name}: {exc}") from exc
    finally:
        pyParser.add_clause = original
    return added


def _load_rules() -> None:
    """Put the clauses of rules/*.dl into the current logic. The texts are parsed by pyDatalog once per process;
    its clauses are kept as recipes (predicate names and terms, which belong to no logic) and replayed into every
    later logic, which is what parsing would give again, at a tenth of the cost (tests and the REPL build many
    engines). The recipes are also kept on disk (engine/rule_cache.py), so that a later process replays them
    instead of parsing."""
    if not _CLAUSES:
        kept = rule_cache.read(rule_texts())
        if kept is None:
            _CLAUSES.extend(_parse_rules())
            rule_cache.write(rule_texts(), _CLAUSES)
            return
        _CLAUSES.extend(kept)

    def literal(recipe: _Recipe):
        name, terms, prearity, aggregate = recipe
        return pyEngine.Literal(name, list(terms), prearity, aggregate)

    for head, body in _CLAUSES:
        if not pyEngine.assert_(pyEngine.Clause(literal(head), [literal(b) for b in body])):
            raise RuntimeError(f"rules: cannot replay the clause of {head[0]}")


BOTTOM_UP = True  # the first stage evaluated by engine/bulk.py; False: by pyDatalog alone (tests compare the two)


@functools.cache
def _clauses_by_head() -> dict[tuple[str, int], list]:
    out: dict[tuple[str, int], list] = {}
    for head, body in _CLAUSES:
        out.setdefault((head[0], len(head[1])), []).append((head, body))
    return out


@functools.cache
def _loops() -> dict[str, frozenset[str]]:
    return recursive(_clauses_by_head())


def _ask_terms(relation: str, terms: list) -> list[tuple]:
    """pyDatalog's tuples of `relation` for terms (Const: bound, Var: free)."""
    result = pyEngine.Literal(relation, terms).ask()
    if result is True:
        return [tuple(t.id for t in terms)]
    return [tuple(r) for r in result] if result else []


class Engine:
    def __init__(self, facts: Iterable[tuple], transient: bool = False):
        """`transient`: an engine used briefly while the engines built before it stay in use (one per requirement
        of an any-workload proof): it leaves their objects frozen (unfreezing them would have the collector go over
        every one), and its user calls `close` when done with it."""
        if not transient:
            _thaw()
        self.size = 0  # tuples held: facts given and relations kept
        with _quiet_gc() as gate:
            self._build(facts)
            gate.freeze = self.size >= _FREEZE_AT

    def _build(self, facts: Iterable[tuple]) -> None:
        self.complete = False  # the second stage is evaluated on the first question that needs it
        self._fact_tables: dict[tuple[str, int], tuple[list[tuple], dict]] = {}  # see _lookup
        self._logic = Logic()  # a fresh logic, current in this thread
        self._active = Logic(True)
        _load_rules()
        for name, rel in RELATIONS.items():  # declare every base relation, so that an empty one reads as empty
            dummy = ("\0declare",) * len(rel.columns)
            _assert(name, dummy)
            pyEngine.retract(pyEngine.Clause(pyEngine.Literal(name, [pyEngine.Term_of(v) for v in dummy]), []))
        held: dict[tuple[str, int], dict[tuple, None]] = {
            (name, len(rel.columns)): {} for name, rel in RELATIONS.items() if name not in _UNIT_FACTS}
        for fact in facts:
            values = fact[1:]
            held.setdefault((fact[0], len(values)), {})[values] = None
            self.size += 1
        _INDEXES.clear()
        bulk = Bulk({}, _clauses_by_head(), _loops(), _ask_terms)
        for (name, arity), rows in held.items():
            self._hold(name, arity, list(rows), derived=False)
            bulk.keep(name, arity, self._fact_tables[(name, arity)][0])
        for relation, arity in STAGE1:
            if BOTTOM_UP:
                try:
                    rows = bulk.relation(relation, arity)
                except Uncovered:
                    pass
                else:
                    self._keep(relation, arity, rows)
                    bulk.keep(relation, arity, rows)
                    continue
            bulk.keep(relation, arity, self._materialize(relation, arity))
        bulk.forget()
        self._bulk = bulk
        self._active = Logic(True)

    def _complete(self) -> None:
        """Evaluate the second stage: the per-pair relations of ordered evaluation, and the evaluation units."""
        self.complete = True
        self._activate()
        with _quiet_gc() as gate:
            for relation, arity in STAGE2:
                if relation == "@units":
                    self._intern_units()
                else:
                    self._materialize(relation, arity)
            gate.freeze = self.size >= _FREEZE_AT

    def _intern_units(self) -> None:
        """Number the distinct ordered evaluations (hash-consing, as for endpoint classes): the (subject,
        direction, peer) triples with the same hit rules and applicable tiers, and the same destination when
        a hit rule names ports, get one id G; rules/tiers.dl then evaluates each G once."""
        def rows(rel: str, n: int) -> list[tuple]:
            return pyEngine.Literal(rel, [pyEngine.Var(f"V{i}") for i in range(n)]).ask() or []

        named = {r for (r,) in rows("crule_dynamic", 1)} | {r for r, _p, _n in rows("rule_named", 3)}
        backend = {f: b for f, _h, b in rows("fwd", 3)}  # a forwarded packet's destination (tiers.dl flow_dest)
        tiers: dict[tuple, set] = {}
        for s, d, t in rows("tier_applies", 3):
            tiers.setdefault((s, d), set()).add(t)
        # the hit rules of each (S, Dir, Q), as rules/regions.dl defines `hit`: the peer-specific ones (peer_hit) and,
        # for the peers that have some, the universal ones (universal_hit); EVERY_OTHER_PEER gets those alone.
        universal: dict[tuple, set] = {}
        for s, d, r in rows("universal_hit", 3):
            universal.setdefault((s, d), set()).add(r)
        hits: dict[tuple, set] = {}
        for s, d, q, r in rows("peer_hit", 4):
            hits.setdefault((s, d, q), set()).add(r)
        for (s, d, q), rules in hits.items():
            rules |= universal.get((s, d), set())
        for (s, d), rules in universal.items():
            hits[(s, d, EVERY_OTHER_PEER)] = set(rules)
        ids: dict[tuple, int] = {}
        base = 1 << 40  # apart from every other id
        for (s, d, q), rules in hits.items():
            dest = (backend[s] if d == "fwd_in" else s if d in INGRESS_SHAPED else q) if rules & named else None
            key = (d, frozenset(rules), frozenset(tiers.get((s, d), ())), dest)
            g = ids.get(key)
            if g is None:
                g = ids[key] = base + len(ids)
                _assert("unit_id", (g,))
                for r in rules:
                    _assert("unit_rule", (g, r))
                for t in key[2]:
                    _assert("unit_tier", (g, t))
                if dest is not None:
                    _assert("unit_dest", (g, dest))
            _assert("unit", (s, d, q, g))
        self.units = len(ids)

    def _materialize(self, relation: str, arity: int) -> list[tuple]:
        """Evaluate a relation whole with pyDatalog and keep it; its tuples."""
        rows = pyEngine.Literal(relation, [pyEngine.Var(f"V{i}") for i in range(arity)]).ask() or []
        rows = [tuple(r) for r in rows]
        self._keep(relation, arity, rows)
        return rows

    def _keep(self, relation: str, arity: int, rows: list[tuple]) -> None:
        """Hold a derived relation's tuples in place of its clauses."""
        self._hold(relation, arity, rows, derived=True)
        self.size += len(rows)

    def _hold(self, relation: str, arity: int, rows: list[tuple], derived: bool) -> None:
        """Hold a relation's tuples in Python (`_Held`); `_lookup` and pyDatalog read them from there."""
        pred = pyEngine.Literal(relation, [pyEngine.Var(f"V{i}") for i in range(arity)]).pred
        if derived:
            for clause in list(pred.clauses.values()):
                pyEngine.retract(clause)
        indexes: dict = {}
        self._fact_tables[(relation, arity)] = (rows, indexes)
        pred.held = _Held(pred, rows, indexes)
        _INDEXES.pop(pred, None)

    def close(self) -> None:
        """Let go of the fact base: the cycles between pyDatalog's predicates and their clauses are cut, so that
        reference counting frees them even when they are frozen. The engine answers nothing after."""
        logic = self._active
        for pred in list(logic.Db.values()) + list(logic.Pred_registry.values()):
            _INDEXES.pop(pred, None)
            pred.db = pred.clauses = pred.index = pred.base_pred = pred.held = None
        logic.Db.clear()
        logic.Subgoals.clear()
        self._fact_tables.clear()
        self._bulk = None
        if getattr(Logic.tl, "logic", None) is logic:
            Logic()  # a fresh, empty logic is current instead

    def _activate(self) -> None:
        if getattr(Logic.tl, "logic", None) is not self._active:
            Logic(self._active)
            self._active = Logic(True)

    def ask(self, relation: str, *args: Any) -> list[tuple]:
        """Tuples of `relation` matching `args`; None is a free variable. Returns whole tuples."""
        if not self.complete and relation in late_relations():
            self._complete()
        self._activate()
        if relation in KNOWN:
            rows = self._lookup(relation, args)
            if rows is not None:
                return rows
        terms = [pyEngine.Var(f"V{i}") if a is None else pyEngine.Term_of(a) for i, a in enumerate(args)]
        try:
            with _quiet_gc():
                result = pyEngine.Literal(relation, terms).ask()
        except AttributeError:  # pyDatalog: "Predicate without definition"
            if relation in KNOWN:
                return []  # a declared relation that has no tuple in this fact base
            raise QueryError(f"unknown relation {relation!r}") from None
        except DatalogError as exc:  # e.g. a comparison reached with an unbound side
            raise QueryError(f"{relation}: cannot be evaluated with these arguments unbound "
                             f"({str(exc).splitlines()[0]})") from None
        if result is True:  # every argument was bound, and the tuple holds
            return [tuple(args)]
        return [tuple(r) for r in result] if result else []

    def evaluate(self, relation: str, *args: Any) -> list[tuple]:
        """`ask`, for the bulk plan: a relation of the first stage's kind (one that reads no evaluation unit) is
        evaluated set at a time from its clauses (engine/bulk.py), once per binding, instead of by pyDatalog."""
        if self._bulk is None or relation in late_relations() or relation not in KNOWN:
            return self.ask(relation, *args)
        self._activate()
        positions = tuple(i for i, a in enumerate(args) if a is not None)
        rows = self._bulk.call(relation, len(args), positions, tuple(args[i] for i in positions))
        return list(rows)

    def _lookup(self, relation: str, args: tuple) -> list[tuple] | None:
        """The tuples matching `args` of a relation held as facts only (a base relation, or one kept by
        materializing), by a dict per set of bound positions; None for a relation that still has rules (then
        pyDatalog evaluates them). Facts never change once a relation is held so (the units are added before
        any relation that reads them can be asked)."""
        key = (relation, len(args))
        entry = self._fact_tables.get(key)
        if entry is None:
            pred = pyEngine.Literal(relation, [pyEngine.Var(f"V{i}") for i in range(len(args))]).pred
            if len(pred.clauses):
                return None
            entry = self._fact_tables[key] = ([tuple(t.id for t in c.head.terms) for c in pred.db.values()], {})
        rows, indexes = entry
        positions = tuple(i for i, a in enumerate(args) if a is not None)
        if not positions:
            return list(rows)
        index = indexes.get(positions)
        if index is None:
            index = indexes[positions] = {}
            for row in rows:
                index.setdefault(tuple(row[i] for i in positions), []).append(row)
        return list(index.get(tuple(args[i] for i in positions), ()))

    def holds(self, relation: str, *args: Any) -> bool:
        return bool(self.ask(relation, *args))
