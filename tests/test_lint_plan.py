"""The bulk plan of lint (reasoner/lint_plan.py) against its specification, rules/lint.dl evaluated by pyDatalog:
every pair-level relation lint reads is the same set on every corpus scenario (both versions of the diff ones)."""

from __future__ import annotations

from pathlib import Path

import pytest

from reasoner import api
from reasoner.lint_plan import LintPlan

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
INPUTS = sorted(d for s in CORPUS.iterdir() if s.is_dir() for d in (s / "manifests", s / "old", s / "new") if d.is_dir())


def relation(an, name: str, arity: int) -> set:
    rows = an.engine.ask(name, *([None] * arity))
    return {r[0] if arity == 1 else tuple(r) for r in rows}


def disagreements(an, lp: LintPlan) -> list[str]:
    out = []
    decisive = relation(an, "decisive", 1)
    checks = {
        "effective": (relation(an, "effective", 1), lp.effective),
        "matched (Allow, Deny, Pass rules)": (relation(an, "matched", 1) & decisive, lp.matched),
        "ordered_used": (relation(an, "ordered_used", 1), lp.ordered_used),
        "shadowed": (relation(an, "shadowed", 1), lp.shadowed),
        "shadowed_by": (relation(an, "shadowed_by", 2), lp.shadowed_by),
        "shadowed_by_default": (relation(an, "shadowed_by_default", 2), lp.shadowed_by_default),
        "conflicts": (relation(an, "conflicts", 2), lp.conflicts),
        "conflicts_default": (relation(an, "conflicts_default", 2), lp.conflicts_default),
        "needed": (relation(an, "needed", 1), lp.needed),
        "gives": (relation(an, "gives", 1), lp.gives),
        "redundant_rule": (relation(an, "redundant_rule", 1), lp.redundant_rule),
        "redundant_policy": (relation(an, "redundant_policy", 1), lp.redundant_policy),
    }
    for name, (spec, plan) in checks.items():
        if spec != plan:
            out.append(f"{name}: only in lint.dl {sorted(spec - plan)[:5]}, only in the plan {sorted(plan - spec)[:5]}")
    for r in lp.redundant_rule:
        spec = {r2 for _r, r2 in an.engine.ask("co_gives", r, None)}
        if spec != lp.co_gives(r):
            out.append(f"co_gives({r}): lint.dl {sorted(spec)}, plan {sorted(lp.co_gives(r))}")
    for (r, r2), where in lp.conflict_at.items():
        assert (r, r2) in lp.conflicts and where
    return out


@pytest.mark.parametrize("path", INPUTS, ids=[f"{p.parent.name}/{p.name}" for p in INPUTS])
def test_lint_plan_agrees_with_lint_dl(path):
    an = api.analyse(api.load([path]))
    assert disagreements(an, LintPlan.of(an)) == []


def test_the_corpus_exercises_every_relation():
    """So that the comparison above cannot pass on empty sets."""
    seen: dict[str, int] = {}
    for path in INPUTS:
        lp = LintPlan.of(api.analyse(api.load([path])))
        for name in ("shadowed", "shadowed_by", "shadowed_by_default", "conflicts", "conflicts_default", "needed",
                     "redundant_rule", "redundant_policy"):
            seen[name] = seen.get(name, 0) + len(getattr(lp, name))
    assert all(seen.values()), seen


def test_the_comparison_sees_a_difference():
    an = api.analyse(api.load([CORPUS / "lint-calico-shadowed" / "manifests"]))
    lp = LintPlan.of(an)
    assert lp.shadowed
    lp.shadowed = set(list(lp.shadowed)[1:])
    assert any(d.startswith("shadowed:") for d in disagreements(an, lp))


def test_conflict_witnesses_replay_through_can():
    """The witness of a conflicting rule, found by the plan and checked on tiers.dl's per-flow relations, is what
    `can` answers for that flow, and its chain shows one of the deciding rules (or the tier that ends it)."""
    from reasoner.lint import lint
    from reasoner.query.can import can

    seen = 0
    for path in INPUTS:
        an = api.analyse(api.load([path]))
        for f in lint(an):
            w = f.evidence and f.witness
            if f.kind != "conflicting-rule" or not w or w.protocol in ("ICMP", "ICMPv6"):
                continue  # (an ICMP witness does not say its type)
            v = can(an, w.src, w.dst, w.protocol, w.port)
            assert v.allowed == w.allowed, (path, f.message)
            steps = [st for side in (v.egress, v.ingress) for st in side.steps]
            shown = {(st.rule.policy.name, st.rule.index) for st in steps if st.rule is not None}
            tiers = {st.tier for st in steps if st.rule is None and st.action == "Deny"}
            assert any((e.policy.name, e.rule.index if e.rule else None) in shown
                       or (e.rule is None and e.policy.name in tiers) for e in f.evidence), (path, f.message)
            seen += 1
    assert seen >= 3


@pytest.mark.parametrize("path", INPUTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_a_policy_that_applies_is_selectable(path):
    """lint asks z3 whether a policy could ever select a pod only for the policies that select no endpoint of the
    input: one that does is selectable, which z3 agrees with on every corpus scenario."""
    from reasoner.properties.values import policy_selectable

    an = api.analyse(api.load([str(path)]))
    applying = {pid for pid, _c, _d in an.engine.ask("applies", None, None, None)}
    pods = {c.id for c in an.facts.classes if c.external is None and not c.host}
    for pid in applying:
        if any(c in pods for p, c, _d in an.engine.ask("applies", pid, None, None)):
            assert policy_selectable(an.facts.policy_ids[pid]), an.facts.policy_ids[pid].ref
