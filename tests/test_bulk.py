"""The set-at-a-time evaluation of the kept relations (reasoner/engine/bulk.py) against pyDatalog's own.

Checked:
- the evaluator on small hand-written clauses: joins, a constant in the head, a variable repeated in a literal,
  negation (with a free variable), comparisons, a binding equality, a lambda term, a helper relation evaluated with
  its arguments bound, a relation that reads itself, and what it leaves to pyDatalog;
- on every corpus scenario (host endpoints included) and on random clusters (the plan's and the host endpoints'
  generators), the engine built with the first stage evaluated here holds exactly the tuples, for every relation
  of both stages and every fact relation, of one built by pyDatalog alone;
- every question the bulk plan puts to `Engine.evaluate` on the corpus gets pyDatalog's answer;
- that the comparison notices a tuple too few.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from pyDatalog import pyEngine

from reasoner import api
from reasoner.engine import datalog
from reasoner.engine.bulk import Bulk, Uncovered, recursive
from reasoner.facts.schema import RELATIONS
from support.host_scenarios import manifests as host_manifests
from support.host_scenarios import scenarios as host_scenarios
from support.mixed_clusters import clusters

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
SCENARIOS = sorted([p for p in CORPUS.glob("*/manifests") if p.is_dir()]
                   + [p for p in CORPUS.glob("diff-*/*") if p.is_dir()])


# ---- the evaluator on small clauses -----------------------------------------------------------------------------

def parsed(text: str) -> dict:
    """The clauses of a rule text, by head, as the engine keeps them."""
    from pyDatalog import Logic, pyParser

    Logic()
    added: list = []
    original = pyParser.add_clause

    def capture(head, body):
        clause = original(head, body)
        added.append((datalog._recipe(clause.head), [datalog._recipe(lit) for lit in clause.body]))
        return clause

    pyParser.add_clause = capture
    try:
        pyParser.load(text, newglobals={})
    finally:
        pyParser.add_clause = original
    out: dict = {}
    for head, body in added:
        out.setdefault((head[0], len(head[1])), []).append((head, body))
    return out


def no_ask(relation, terms):
    raise AssertionError(f"pyDatalog asked for {relation}")


def bulk(text: str, facts: dict, ask=no_ask) -> Bulk:
    clauses = parsed(text)
    return Bulk({k: list(v) for k, v in facts.items()}, clauses, recursive(clauses), ask)


FACTS = {("edge", 2): [(1, 2), (2, 3), (3, 1), (3, 4), (5, 5)], ("node", 1): [(n,) for n in range(1, 7)],
         ("name", 2): [(1, "alpha"), (2, "beta"), (3, "alpine")]}


def test_joins_and_a_constant_head():
    b = bulk("two(X, Z) <= edge(X, Y) & edge(Y, Z)\nmark(X, 'seen') <= edge(X, Y)", FACTS)
    assert sorted(b.relation("two", 2)) == [(1, 3), (2, 1), (2, 4), (3, 2), (5, 5)]
    assert sorted(b.relation("mark", 2)) == [(1, "seen"), (2, "seen"), (3, "seen"), (5, "seen")]


def test_a_repeated_variable_negation_and_comparisons():
    b = bulk("loop(X) <= edge(X, X)\n"
             "sink(X) <= node(X) & ~edge(X, Y)\n"
             "up(X, Y) <= edge(X, Y) & (X < Y)\n"
             "plus(X, N) <= node(X) & (N == X + 10) & (N >= 13)", FACTS)
    assert b.relation("loop", 1) == [(5,)]
    assert sorted(b.relation("sink", 1)) == [(4,), (6,)]
    assert sorted(b.relation("up", 2)) == [(1, 2), (2, 3), (3, 4)]
    assert sorted(b.relation("plus", 2)) == [(3, 13), (4, 14), (5, 15), (6, 16)]


def test_a_lambda_term():
    b = bulk("al(X) <= name(X, S) & (Hit == (lambda S: S.startswith('al'))) & (Hit == True)", FACTS)
    assert sorted(b.relation("al", 1)) == [(1,), (3,)]


def test_a_helper_is_evaluated_with_its_arguments_bound():
    # `far(X, Y)` alone would be every pair of nodes two edges apart or not linked; it is only ever called bound
    text = ("near(X, Y) <= edge(X, Y)\nnear(X, Y) <= edge(Y, X)\n"
            "lonely(X) <= node(X) & ~near(X, Y)\n"
            "pair(X, Y) <= edge(X, Y) & near(Y, X)")
    b = bulk(text, FACTS)
    assert sorted(b.relation("lonely", 1)) == [(6,)]
    assert sorted(b.relation("pair", 2)) == sorted(FACTS[("edge", 2)])


def test_a_relation_that_reads_itself_reaches_its_fixpoint():
    b = bulk("reach(X, Y) <= edge(X, Y)\nreach(X, Z) <= reach(X, Y) & edge(Y, Z)", FACTS)
    got = set(b.relation("reach", 2))
    assert got == {(x, y) for x in (1, 2, 3) for y in (1, 2, 3, 4)} | {(5, 5)}


def test_bound_calls_of_a_relation_that_reads_itself():
    b = bulk("reach(X, Y) <= edge(X, Y)\nreach(X, Z) <= reach(X, Y) & edge(Y, Z)\n"
             "from_one(Y) <= reach(1, Y)\ncycle(X) <= node(X) & reach(X, X)\nto_four(X) <= node(X) & reach(X, 4)", FACTS)
    assert sorted(b.relation("from_one", 1)) == [(1,), (2,), (3,), (4,)]
    assert sorted(b.relation("cycle", 1)) == [(1,), (2,), (3,), (5,)]
    assert sorted(b.relation("to_four", 1)) == [(1,), (2,), (3,)]


def test_what_is_left_to_pydatalog():
    # mutual recursion, and a comparison reached with a side unbound, are not evaluated here
    b = bulk("odd(X, Y) <= edge(X, Y)\nodd(X, Z) <= even(X, Y) & edge(Y, Z)\neven(X, Z) <= odd(X, Y) & edge(Y, Z)\n"
             "free(X) <= node(X) & (Y > X)", FACTS)
    for name in ("odd", "free"):
        with pytest.raises(Uncovered):
            b.relation(name, 1 if name == "free" else 2)
    # a helper that is so is asked of pyDatalog, with the arguments bound at that point
    asked = []

    def ask(relation, terms):
        asked.append((relation, tuple(t.id if isinstance(t, pyEngine.Const) else None for t in terms)))
        return [(1, 2)] if relation == "odd" and terms[0].id == 1 else []

    b = bulk("odd(X, Y) <= edge(X, Y)\nodd(X, Z) <= even(X, Y) & edge(Y, Z)\neven(X, Z) <= odd(X, Y) & edge(Y, Z)\n"
             "starts(X) <= node(X) & odd(X, Y)", FACTS, ask)
    assert b.relation("starts", 1) == [(1,)]
    assert sorted(asked) == [("odd", (n, None)) for n in range(1, 7)]


# ---- the engine: bulk against pyDatalog -------------------------------------------------------------------------

UNIT_BASE = 1 << 40  # evaluation units are numbered from here, in an order that depends on hashing


def tables(engine, relations) -> dict:
    """Every relation's tuples, each evaluation unit's number replaced by what it stands for (its rules, tiers
    and destination), so that two engines that numbered their units apart compare equal."""
    out = {(name, arity): set(engine.ask(name, *([None] * arity))) for name, arity in relations}
    meaning: dict = {}
    for rel in ("unit_rule", "unit_tier", "unit_dest"):
        for g, v in out[(rel, 2)]:
            meaning.setdefault(g, {}).setdefault(rel, set()).add(v)
    unit = {g: tuple(sorted((rel, tuple(sorted(vs))) for rel, vs in m.items())) for g, m in meaning.items()}

    def named(value):
        return ("unit", unit.get(value)) if isinstance(value, int) and value >= UNIT_BASE else value

    return {key: {tuple(named(v) for v in row) for row in rows} for key, rows in out.items()}


def compared(cluster) -> tuple[dict, dict]:
    """Every relation's tuples with the first stage evaluated here, and by pyDatalog alone."""
    relations = [(name, len(rel.columns)) for name, rel in RELATIONS.items()] + [
        r for r in datalog.MATERIALIZE if not r[0].startswith("@")]
    ours = tables(api.analyse(cluster).engine, relations)
    datalog.BOTTOM_UP = False
    try:
        theirs = tables(api.analyse(cluster).engine, relations)
    finally:
        datalog.BOTTOM_UP = True
    return ours, theirs


def differences(ours: dict, theirs: dict) -> list[str]:
    out = []
    for key in theirs:
        if ours[key] != theirs[key]:
            out.append(f"{key[0]}/{key[1]}: only here {sorted(ours[key] - theirs[key])[:5]}, "
                       f"only by pyDatalog {sorted(theirs[key] - ours[key])[:5]}")
    return out


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: str(p.relative_to(CORPUS)))
def test_bulk_and_pydatalog_agree_on_the_corpus(scenario):
    ours, theirs = compared(api.load([scenario]))
    assert not differences(ours, theirs)
    assert sum(len(v) for v in theirs.values()) > 0


def test_no_relation_of_the_first_stage_is_left_to_pydatalog(monkeypatch):
    left: list[str] = []
    original = datalog.Engine._materialize

    def materialize(self, relation, arity):
        left.append(relation)
        return original(self, relation, arity)

    monkeypatch.setattr(datalog.Engine, "_materialize", materialize)
    engine = api.analyse(api.load([CORPUS / "calico-pass-to-lower-tier" / "manifests"])).engine
    assert left == []
    engine.ask("decided", None, None, None, None)  # the second stage is still pyDatalog's
    assert left and not set(left) & {name for name, _ in datalog.STAGE1}


def test_the_corpus_covers_the_first_stage():
    """Not vacuous: across the corpus every relation of the first stage has tuples, and all but the recursive
    ones are evaluated here (`applies`, which reads only itself, is)."""
    seen: set = set()
    for scenario in SCENARIOS:
        engine = api.analyse(api.load([scenario])).engine
        seen |= {name for name, arity in datalog.STAGE1 if engine.ask(name, *([None] * arity))}
    assert {name for name, _ in datalog.STAGE1} - seen == set()
    loops = datalog._loops()  # a relation recursive through others would be pyDatalog's to evaluate
    assert [name for name, _ in datalog.STAGE1 if loops.get(name, {name}) != {name}] == []
    assert "applies" in loops  # (applyOnForward policies: applies reads itself)


def load_text(text: str):
    with tempfile.TemporaryDirectory(prefix="reasoner-bulk-") as tmp:
        path = Path(tmp) / "cluster.yaml"
        path.write_text(text)
        return api.load([path])


def agree(text: str) -> None:
    """The cluster of manifest `text` gets the same tuples from both evaluations."""
    ours, theirs = compared(load_text(text))
    assert not differences(ours, theirs), text


@settings(max_examples=15, derandomize=True, database=None, deadline=None, suppress_health_check=list(HealthCheck))
@given(clusters())
def test_bulk_and_pydatalog_agree_on_random_clusters(docs):
    agree(yaml.safe_dump_all(docs, sort_keys=False))


@settings(max_examples=10, derandomize=True, database=None, deadline=None, suppress_health_check=list(HealthCheck))
@given(host_scenarios())
def test_bulk_and_pydatalog_agree_on_random_host_endpoints(scn):
    agree(host_manifests(scn))


@pytest.mark.slow
@settings(max_examples=150, derandomize=True, database=None, deadline=None, suppress_health_check=list(HealthCheck))
@given(clusters())
def test_bulk_and_pydatalog_agree_on_many_random_clusters(docs):
    agree(yaml.safe_dump_all(docs, sort_keys=False))


def plan_calls(cluster, monkeypatch) -> list[tuple]:
    """The questions the bulk plan puts to `Engine.evaluate` for a cluster, with the answers."""
    from reasoner.plan import Plan

    calls: list[tuple] = []
    original = datalog.Engine.evaluate

    def evaluate(self, relation, *args):
        rows = original(self, relation, *args)
        calls.append((relation, args, set(rows)))
        return rows

    with monkeypatch.context() as m:
        m.setattr(datalog.Engine, "evaluate", evaluate)
        Plan(api.analyse(cluster))
    return calls


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: str(p.relative_to(CORPUS)))
def test_the_plans_questions_get_pydatalogs_answers(scenario, monkeypatch):
    cluster = api.load([scenario])
    calls = plan_calls(cluster, monkeypatch)
    datalog.BOTTOM_UP = False
    try:
        engine = api.analyse(cluster).engine
    finally:
        datalog.BOTTOM_UP = True
    for relation, args, rows in calls:
        assert rows == set(engine.ask(relation, *args)), (relation, args)


def test_the_plan_asks_helpers_bound():
    """Not vacuous: the corpus has plans that ask helpers (relations neither facts nor kept) with bound
    arguments."""
    import _pytest.monkeypatch

    helpers = set()
    for scenario in SCENARIOS:
        with _pytest.monkeypatch.MonkeyPatch.context() as m:
            for relation, args, _rows in plan_calls(api.load([scenario]), m):
                if relation not in RELATIONS and relation not in {r for r, _ in datalog.STAGE1}:
                    helpers.add(relation)
    assert {"cneg_d", "rule_numeric_atom"} <= helpers


def test_the_comparison_notices_a_tuple_too_few(monkeypatch):
    scenario = CORPUS / "calico-pass-to-lower-tier" / "manifests"
    original = Bulk.relation

    def short(self, name, arity):
        rows = original(self, name, arity)
        return rows[1:] if name == "applies" else rows

    monkeypatch.setattr(Bulk, "relation", short)
    ours, theirs = compared(api.load([scenario]))
    assert any(d.startswith("applies/3") for d in differences(ours, theirs))
