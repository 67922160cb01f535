"""The bulk plan of lint: the relations of rules/lint.dl that range over every pair, computed with bitsets.

rules/lint.dl defines shadowed, conflicting and redundant rules and redundant policies over the evaluation of
every flow (rules/regions.dl). Evaluating them in pyDatalog materializes every (subject, peer, port region, rule)
tuple; this plan replays the bulk plan's ordered evaluation (reasoner/plan.py `Plan.evaluate`, with a trace) and
the union of Kubernetes rules over bitsets of peers instead, and yields the same relations. Tests check every
relation against lint.dl on the corpus and on random clusters (tests/test_lint_plan.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reasoner.plan import Plan, members


@dataclass
class _Where:
    """Where a rule was seen: an end (c, d), a port region (protocol, ports) and the peers concerned."""

    c: int
    d: str
    p: str
    ports: tuple[tuple[int, int], ...]
    peers: int


@dataclass
class LintPlan:
    """lint.dl's pair-level relations, as sets: `effective`, `matched`, `shadowed`, `shadowed_by` (R, R2),
    `shadowed_by_default` (R, T), `conflicts` (R, R2), `conflicts_default` (R, T), `needed`, `gives`,
    `redundant_rule`, `redundant_policy`; and, per conflict, where it shows (for witnesses)."""

    plan: Plan
    effective: set[int] = field(default_factory=set)
    matched: set[int] = field(default_factory=set)
    ordered_used: set[int] = field(default_factory=set)
    shadowed: set[int] = field(default_factory=set)
    shadowed_by: set[tuple[int, int]] = field(default_factory=set)
    shadowed_by_default: set[tuple[int, int]] = field(default_factory=set)
    conflicts: set[tuple[int, int]] = field(default_factory=set)
    conflicts_default: set[tuple[int, int]] = field(default_factory=set)
    conflict_at: dict[tuple[int, int], list[_Where]] = field(default_factory=dict)  # (R, R2) -> where
    conflict_default_at: dict[tuple[int, int], list[_Where]] = field(default_factory=dict)  # (R, T) -> where
    needed: set[int] = field(default_factory=set)
    gives: set[int] = field(default_factory=set)
    redundant_rule: set[int] = field(default_factory=set)
    redundant_policy: set[int] = field(default_factory=set)
    _union_gives: list = field(default_factory=list)

    @classmethod
    def of(cls, an) -> "LintPlan":
        plan = Plan(an)
        out = cls(plan)
        e = an.engine
        union_used = {r for _c, r in e.ask("ingress_rule", None, None)} | {r for _c, r in e.ask("egress_rule", None, None)}
        out._ordered(union_used)
        out._union()
        krule = plan.krule
        out.redundant_rule = {r for r in out.gives if r in krule and r not in out.needed and r not in out.ordered_used}
        out._policies(e)
        return out

    # ---- ordered ends ---------------------------------------------------------------------------------------

    def _ordered(self, union_used: set[int]) -> None:
        plan = self.plan
        setups = [plan.setup(c, d) for c, d in sorted(plan.ordered)]
        for st in setups:  # hit(S, Dir, Q, R), every rule (Log too)
            self.ordered_used.update(r for r in plan.subject_rules.get((st.c, st.d), ()) if plan._hits(r, st.c, st.d))
        for st in setups:
            def trace(what: str, x: int, peers: int) -> None:
                if what == "match":
                    self.matched.add(x)
                elif what == "first":
                    self.effective.add(x)
            for p, _ports, a in st.regions:
                plan.evaluate(st, p, a, trace)
        self.shadowed = {r for r in self.matched if r not in self.effective and r not in union_used}
        if not self.shadowed:
            return
        action = plan.action
        for st in setups:  # where the shadowed rules match, and what decides there
            if not any(r in self.shadowed for rules in st.by_tier.values() for r in rules):
                continue
            for p, ports, a in st.regions:
                seen: dict[int, int] = {}
                decided: dict[int, int] = {}
                ended: dict[int, int] = {}

                def trace(what: str, x: int, peers: int) -> None:
                    if what == "match" and x in self.shadowed:
                        seen[x] = peers
                    elif what == "first" and action[x] != "Pass":
                        decided[x] = peers
                    elif what == "default":
                        ended[x] = peers
                plan.evaluate(st, p, a, trace)
                for r, m in seen.items():
                    for r2, dec in decided.items():
                        if m & dec:
                            self.shadowed_by.add((r, r2))
                            if action[r] != action[r2] and action[r] != "Pass":
                                self.conflicts.add((r, r2))
                                self.conflict_at.setdefault((r, r2), []).append(_Where(st.c, st.d, p, ports, m & dec))
                    for t, end in ended.items():
                        if m & end:
                            self.shadowed_by_default.add((r, t))
                            if action[r] == "Allow":
                                self.conflicts_default.add((r, t))
                                if plan.tier_default[t] == "Deny":
                                    self.conflict_default_at.setdefault((r, t), []).append(
                                        _Where(st.c, st.d, p, ports, m & end))

    # ---- the union of Kubernetes rules --------------------------------------------------------------------------

    def _union(self) -> None:
        """needed(R): some flow of a union is admitted by R alone; gives(R): R admits some flow of a union."""
        plan = self.plan
        for (c, d), rules in sorted(plan.union_rules.items()):
            dest = c if d == "ingress" else None
            full: dict[str, dict[int, int]] = {}  # protocol -> rule -> peers given every port
            part: dict[tuple[str, int], dict[int, int]] = {}  # (protocol, atom) -> rule -> peers given the atom
            for r in rules:
                peers = plan.peer_ok.get(r, 0)
                if not peers:
                    continue
                for p in plan.rfull.get(r, ()):
                    full.setdefault(p, {})[r] = peers
                for a in plan.rule_atom.get(r, ()):
                    part.setdefault((plan.atom_of[a][0], a), {})[r] = peers
                for a, dests in plan.rule_atom_to.get(r, {}).items():
                    got = (peers if dests >> dest & 1 else 0) if dest is not None else peers & dests
                    if got:
                        key = (plan.atom_of[a][0], a)
                        part.setdefault(key, {})[r] = part.get(key, {}).get(r, 0) | got
            given: dict[str, int] = {}
            for p, by_rule in full.items():
                once = twice = 0
                for peers in by_rule.values():
                    twice |= once & peers
                    once |= peers
                given[p] = once
                for r, peers in by_rule.items():
                    self.gives.add(r)
                    if peers & ~twice:
                        self.needed.add(r)
            for (p, _a), by_rule in part.items():
                once = twice = 0
                for peers in by_rule.values():
                    twice |= once & peers
                    once |= peers
                for r, peers in by_rule.items():
                    self.gives.add(r)
                    if peers & ~given.get(p, 0) & ~twice:
                        self.needed.add(r)
            self._union_gives.append((full, part))

    def co_gives(self, r: int) -> set[int]:
        """co_gives(R, R2): the rules R2 that admit some flow R admits, in some union (evidence)."""
        out: set[int] = set()
        for full, part in self._union_gives:
            for p, by_rule in full.items():
                mine = by_rule.get(r, 0)
                if mine:
                    out.update(r2 for r2, peers in by_rule.items() if r2 != r and peers & mine)
            for (p, _a), by_rule in part.items():
                mine = by_rule.get(r, 0)
                if mine:
                    out.update(r2 for r2, peers in by_rule.items() if r2 != r and peers & mine)
                    out.update(r2 for r2, peers in full.get(p, {}).items() if peers & mine)
        return out

    # ---- policies -------------------------------------------------------------------------------------------

    def _policies(self, e) -> None:
        """redundant_policy(Pol) (lint.dl): a Kubernetes policy that selects endpoints, is applied to no ordered end,
        isolates no end alone, and has no needed rule."""
        kpol = {p for (p,) in e.ask("kpol", None)}
        selects = {p for (p,) in e.ask("selects", None)}
        ordered = {p for (p,) in e.ask("pol_ordered", None)}
        sole = {p for (p,) in e.ask("sole_isolator", None)}
        has_needed = {pol for pol, _d, r in e.ask("pol_rule", None, None, None) if r in self.needed}
        self.redundant_policy = {p for p in kpol & selects if p not in ordered and p not in sole and p not in has_needed}

    def peers(self, where: _Where, limit: int = 20) -> list[int]:
        """Up to `limit` peer classes of `where`."""
        out = []
        for q in members(where.peers):
            out.append(q)
            if len(out) == limit:
                break
        return out
