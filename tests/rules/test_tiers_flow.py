"""rules/tiers.dl, one flow at a time: every relation of the per-flow ordered evaluation on a hand-checked scenario.

Pod x/a is selected by three policies: tier `sec` (order 100): `sec.p` Logs, then Passes traffic from app=b and
Denies UDP; the default tier: a Calico policy Denying TCP 22 (order 10), then the Kubernetes policy admitting TCP
8080 (order 1000). So towards a, for TCP 8080: from b, sec Passes, the default tier Allows by the Kubernetes rule;
from c, sec ends in its defaultAction Deny. For TCP 22 from b: sec Passes, the default tier Denies.
"""

from __future__ import annotations

from support.helpers import analyse, pod

DOCS = [
    pod("x", "a", {"app": "a"}, "10.0.0.1", [("http", "TCP", 8080)]),
    pod("x", "b", {"app": "b"}, "10.0.0.2"),
    pod("x", "c", {"app": "c"}, "10.0.0.3"),
    """
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: sec}
spec: {order: 100}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: sec.p}
spec:
  tier: sec
  selector: app == 'a'
  ingress:
  - {action: Log}
  - {action: Pass, source: {selector: app == 'b'}}
  - {action: Deny, protocol: UDP}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: no-ssh}
spec:
  order: 10
  selector: app == 'a'
  ingress: [{action: Deny, protocol: TCP, destination: {ports: [22]}}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: x}
spec:
  podSelector: {matchLabels: {app: a}}
  ingress: [{ports: [{port: http}]}]
""",
]


def _setup():
    an = analyse(*DOCS)
    e = an.engine
    ids = {ref: an.facts.class_of[ref].id for ref in ("x/a", "x/b", "x/c")}
    rules = {}
    for r, (pol, rule) in an.facts.rule_ids.items():
        rules[(pol.name, rule.index)] = r
    tiers = {name: tid for name, tid in an.facts.tier_ids.items()}
    return an, e, ids, rules, tiers


def test_one_flow_through_two_tiers():
    an, e, ids, rules, tiers = _setup()
    a, b, c = ids["x/a"], ids["x/b"], ids["x/c"]
    log, pas, deny_udp = rules[("sec.p", 0)], rules[("sec.p", 1)], rules[("sec.p", 2)]
    no_ssh, web = rules[("no-ssh", 0)], rules[("web", 0)]
    sec, default = tiers["sec"], tiers["default"]
    flow = (a, "ingress", b, "TCP", 8080)

    assert {r for *_f, r in e.ask("rule_hits", a, "ingress", b, None)} == {log, pas, deny_udp, no_ssh, web}
    assert {r for *_f, r in e.ask("rule_hits", a, "ingress", c, None)} == {log, deny_udp, no_ssh, web}
    assert e.ask("flow_dest", a, "ingress", b, None) == [(a, "ingress", b, a)]
    assert e.ask("flow_dest", b, "egress", a, None) == [(b, "egress", a, a)]
    assert e.holds("rule_covers", web, a, "TCP", 8080)  # the named port, resolved on the destination a
    assert not e.holds("rule_covers", web, b, "TCP", 8080)  # b defines no port `http`
    assert not e.holds("rule_covers", no_ssh, a, "TCP", 8080) and e.holds("rule_covers", no_ssh, a, "TCP", 22)
    atom = e.ask("port_in_atom", "TCP", 8080, None)
    assert len(atom) == 1 and an.facts.port_atoms[atom[0][2]] == ("TCP", 8080, 8080)

    assert {r for *_f, r in e.ask("flow_match", *flow, None)} == {log, pas, web}
    assert {r for *_f, r in e.ask("flow_rule", *flow, None)} == {pas, web}  # the Log rule goes on
    assert e.ask("first_rule", *flow, sec, None) == [(*flow, sec, pas)]
    assert e.ask("first_rule", *flow, default, None) == [(*flow, default, web)]
    assert e.holds("tier_matched", *flow, sec) and e.holds("tier_matched", *flow, default)
    assert e.holds("earlier_rule", a, "ingress", b, "TCP", 22, default, an.engine.ask("rule_rank", web, None)[0][1])
    assert {(t, act) for *_f, t, act in e.ask("tier_does", *flow, None, None)} == {(sec, "Pass"), (default, "Allow")}
    ranks = dict(e.ask("tier_rank", None, None))
    assert e.ask("tier_stops", *flow, None, None) == [(*flow, ranks[default], "Allow")]
    assert e.holds("some_tier_stops", *flow)
    assert e.ask("flow_decision", *flow, None) == [(*flow, "Allow")]
    assert e.holds("ord_ok", *flow)


def test_end_of_tier_and_earlier_stops():
    an, e, ids, rules, tiers = _setup()
    a, b, c = ids["x/a"], ids["x/b"], ids["x/c"]
    sec, default = tiers["sec"], tiers["default"]
    ranks = dict(e.ask("tier_rank", None, None))
    from_c = (a, "ingress", c, "TCP", 8080)
    assert not e.holds("tier_matched", *from_c, sec)
    assert {(t, act) for *_f, t, act in e.ask("tier_does", *from_c, None, None)} == {(sec, "Deny"), (default, "Allow")}
    assert e.holds("stopped_before", *from_c, ranks[default])  # sec's end of tier comes first
    assert e.ask("flow_decision", *from_c, None) == [(*from_c, "Deny")]
    assert not e.holds("ord_ok", *from_c)
    ssh = (a, "ingress", b, "TCP", 22)
    assert e.ask("first_rule", *ssh, default, None) == [(*ssh, default, rules[("no-ssh", 0)])]
    assert e.ask("flow_decision", *ssh, None) == [(*ssh, "Deny")]
    assert not e.holds("ord_ok", *ssh)
    # b's own ingress is not ordered: no tier applies, so no tier stops, and ord_ok leaves it to verdict.dl
    assert not e.holds("some_tier_stops", b, "ingress", a, "TCP", 8080)
    assert not e.holds("ord_ok", b, "ingress", a, "TCP", 8080)
