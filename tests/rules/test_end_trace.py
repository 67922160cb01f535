"""`end_trace` (rules/tiers.dl) is the evaluation of one flow at an ordered end as one question, which `can` reads
its chain and its verdict from: its parts are exactly `flow_match`, `first_rule` and `ord_ok` asked one by one, on
every ordered end of every corpus scenario, for every peer class, at the first port of every port atom."""

from __future__ import annotations

from pathlib import Path

import pytest

from reasoner import api

CORPUS = Path(__file__).resolve().parents[2] / "corpus"
SCENARIOS = sorted(p for p in CORPUS.glob("*/manifests") if p.is_dir())


def flows(an):
    e = an.engine
    atoms = sorted((p, lo) for p, lo, _hi in an.facts.port_atoms.values() if p in ("TCP", "UDP"))
    for s, d in sorted(e.ask("ordered", None, None)):
        for q in range(len(an.facts.classes)):
            for p, lo in atoms:
                yield s, d, q, p, max(lo, 1)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.parent.name)
def test_the_trace_is_the_three_relations(scenario):
    an = api.analyse(api.load([scenario]))
    e = an.engine
    checked = 0
    for s, d, q, p, port in flows(an):
        if checked >= 150:
            break
        trace = [row[5:] for row in e.ask("end_trace", s, d, q, p, port, None, None, None)]
        assert {x for part, x, _y in trace if part == "match"} == {
            r for *_f, r in e.ask("flow_match", s, d, q, p, port, None)}
        assert {(x, y) for part, x, y in trace if part == "first"} == {
            (t, r) for *_f, t, r in e.ask("first_rule", s, d, q, p, port, None, None)}
        assert any(part == "ok" for part, _x, _y in trace) == e.holds("ord_ok", s, d, q, p, port)
        checked += 1
    assert checked or not e.ask("ordered", None, None)


def test_the_corpus_has_ordered_ends_with_matching_rules_and_verdicts_both_ways():
    """Not vacuous: some traces have matching rules and first rules, some pass and some do not."""
    seen = {"match": 0, "first": 0, "ok": 0, "denied": 0}
    for scenario in SCENARIOS:
        an = api.analyse(api.load([scenario]))
        for n, (s, d, q, p, port) in enumerate(flows(an)):
            if n >= 100:
                break
            parts = {row[5] for row in an.engine.ask("end_trace", s, d, q, p, port, None, None, None)}
            for part in ("match", "first", "ok"):
                seen[part] += part in parts
            seen["denied"] += "ok" not in parts
    assert all(seen.values()), seen
