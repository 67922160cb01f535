"""The chain of an ordered evaluation for one flow (rules/tiers.dl), as steps: tier by tier, the matching Log
rules, then the first Allow/Deny/Pass rule or the tier's default; the profile when every tier passed."""

from __future__ import annotations

from reasoner.analysis import Analysis
from reasoner.model.admin import AdminPolicy
from reasoner.query.verdict import Step
from reasoner.results import RuleRef


def ordered_steps(an: Analysis, direction: str, c: int, q: int, proto: str | None, port: int | None) -> list[Step]:
    """The chain of an ordered evaluation for one flow (rules/tiers.dl): tier by tier, the matching Log rules, then
    the first Allow/Deny/Pass rule or the tier's default; the profile when every tier passed. Without a protocol,
    the chain of a TCP port that no matching rule singles out (the ports the pair's rules leave alike)."""
    return ordered_chain(an, direction, c, q, proto, port)[0]


def ordered_chain(an: Analysis, direction: str, c: int, q: int, proto: str | None,
                  port: int | None) -> tuple[list[Step], bool]:
    """`ordered_steps`, and whether the end lets the flow pass (`ord_ok`), both read from one evaluation of the
    flow (`end_trace`, rules/tiers.dl): the rules that match it, each tier's first decisive rule, the verdict."""
    e = an.engine
    fb = an.facts
    tier_names = {tid: name for name, tid in fb.tier_ids.items()}
    tier_rank = dict(e.ask("tier_rank", None, None))
    tiers = sorted((t for _c, _d, t in e.ask("tier_applies", c, direction, None)), key=lambda t: tier_rank[t])
    if proto is None:
        proto, port = "TCP", _unsingled_port(an, direction, c, q)
    trace = [row[5:] for row in e.ask("end_trace", c, direction, q, proto, port, None, None, None)]
    matched = [r for part, r, _y in trace if part == "match"]
    firsts = {t: r for part, t, r in trace if part == "first"}
    passes = any(part == "ok" for part, _x, _y in trace)
    rank = {r: e.ask("rule_rank", r, None)[0][1] for r in matched}
    return _steps(an, direction, tiers, tier_names, matched, rank, firsts), passes


def _steps(an: Analysis, direction: str, tiers: list[int], tier_names: dict[int, str], matched: list[int],
           rank: dict[int, int], firsts: dict[int, int]) -> list[Step]:
    e = an.engine
    fb = an.facts
    steps: list[Step] = []
    for t in tiers:
        name = tier_names[t]
        if t in firsts:
            r = firsts[t]
            for log in sorted((r2 for r2 in matched if rank[r2] < rank[r]), key=rank.__getitem__):
                if e.holds("rule_action", log, "Log") and e.holds("rule_tier", log, t):
                    steps.append(Step(name, "Log", RuleRef.of(*fb.rule_ids[log]), "Log"))
            action = e.ask("rule_action", r, None)[0][1]
            pol, rule = fb.rule_ids[r]
            tied = _priority_tie(an, pol, action, [r2 for r2 in matched if e.holds("rule_tier", r2, t)])
            note = "; ".join(x for x in (getattr(rule, "fail_closed", ""), tied) if x)
            steps.append(Step(name, action, RuleRef.of(pol, rule), note))
        else:
            action = e.ask("tier_default", t, None)[0][1]
            steps.append(Step(name, action, None, "no rule of the tier matches; " +
                              ("end of tier" if action == "Deny" else "defaultAction Pass")))
        if action != "Pass":
            return steps
    if direction == "fwd_in":  # forwarded traffic that every applicable tier passed: allowed (SEMANTICS §4.9)
        steps.append(Step("(forwarded)", "Allow", None, "every tier passed: forwarded traffic goes on"))
        return steps
    if direction not in ("ingress", "egress"):  # a host endpoint hook: on to the next stage
        steps.append(Step("(next)", "Pass", None, "no tier of this hook decided: evaluation goes on"))
        return steps
    steps.append(Step("(profiles)", "Allow", None, "no tier decided: the namespace profile allows"))
    return steps


def _unsingled_port(an: Analysis, direction: str, c: int, q: int) -> int:
    """A TCP port that no rule of the end matching peer q admits without admitting every TCP port (the lowest
    such; the lowest TCP port when every atom is singled out)."""
    e = an.engine
    hit = [r for *_x, r in e.ask("rule_hits", c, direction, q, None)]
    dest = [d for *_x, d in e.ask("flow_dest", c, direction, q, None)]
    singled = {a for r in hit for _r, _p, a in e.ask("rule_atom", r, "TCP", None)}
    singled |= {a for r in hit for d in dest for *_x, a in e.ask("rule_atom_to", r, d, "TCP", None)}
    atoms = sorted((lo, hi, a) for a, (p, lo, hi) in an.facts.port_atoms.items() if p == "TCP")
    for lo, hi, a in atoms:
        if a not in singled and hi >= 1:
            return max(lo, 1)
    return 1


def _priority_tie(an: Analysis, pol, action: str, matched: list[int]) -> str:
    """When the deciding rule is of an AdminNetworkPolicy (`pol`): the policies of the same priority whose first
    rule that matches the flow (`matched`: the flow's matching rules of the tier) has another action. Which of them
    goes first is not defined (SEMANTICS §6.4; Calico: by name), so the flow's verdict depends on the
    implementation."""
    if not isinstance(pol, AdminPolicy) or pol.priority is None:
        return ""
    first: dict[str, tuple[int, str]] = {}  # other policy of the same priority -> (rank, action) of its first match
    for r in matched:
        if not an.engine.holds("decisive", r):
            continue
        rank = an.engine.ask("rule_rank", r, None)[0][1]
        other, _rule = an.facts.rule_ids[r]
        if isinstance(other, AdminPolicy) and other is not pol and other.priority == pol.priority:
            if other.name not in first or rank < first[other.name][0]:
                first[other.name] = (rank, an.engine.ask("rule_action", r, None)[0][1])
    ties = sorted(name for name, (_rank, act) in first.items() if act != action)
    if not ties:
        return ""
    return (f"priority tie: {', '.join(ties)} {'has' if len(ties) == 1 else 'have'} the same priority "
            f"({pol.priority}) and would decide otherwise; the order of equal priorities is not defined "
            f"(Calico takes them by name)")
