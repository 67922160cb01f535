"""The rule files themselves: every predicate is declared or derived, and every derived relation is exercised.

pyDatalog answers a misspelled body predicate with nothing at all, so these checks guard every relation.
"""

from __future__ import annotations

import re

from pyDatalog import Logic

from reasoner.engine import datalog
from reasoner.engine.datalog import BOUND_ONLY, MATERIALIZE, derived_relations, rule_clauses, rule_texts
from reasoner.facts.schema import RELATIONS
from support.helpers import analyse, pod

PRED = re.compile(r"~?\b([a-z_][a-z0-9_]*)\(")
PY_WORDS = {"lambda"}


def body_predicates() -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for name, text in rule_texts().items():
        for _head, body, _comment in rule_clauses(text):
            out.setdefault(name, set()).update(predicates(body))
    return out


def predicates(body: str) -> set[str]:
    """The relations a clause's body reads (a lambda's method calls left out)."""
    return {m for m in PRED.findall(re.sub(r"\(lambda[^)]*\)", "", body)) if m not in PY_WORDS}


def test_the_clause_scanner_sees_the_clauses_pyDatalog_parses():
    """rule_clauses (read by derived_relations, late_relations and these checks) finds each clause, one line or
    several, as pyDatalog does."""
    Logic()
    parsed = datalog._parse_rules()
    scanned = [(head, body) for text in rule_texts().values() for head, body, _comment in rule_clauses(text)]
    assert [head for head, _body in scanned] == [head[0] for head, _body in parsed]
    for (head, body), (_head, literals) in zip(scanned, parsed):
        assert predicates(body) == {lit[0].lstrip("~") for lit in literals if lit[0].lstrip("~").isidentifier()}, head
    text = ("# a(X): one.\n"
            "a(X) <= (\n"
            "    b(X)  # a comment\n"
            "    & (X == (lambda Y: f(Y)))\n"
            "    & ~c(X, 'a#(b'))\n"
            "d(X) <= a(X)\n"
            "e(X) <= a(X) \\\n"
            "    & d(X)\n")
    assert rule_clauses(text) == [("a", "( b(X) & (X == (lambda Y: f(Y))) & ~c(X, 'a#(b'))", "a(X): one."),
                                  ("d", "a(X)", "a(X): one."), ("e", "a(X) & d(X)", "a(X): one.")]


def test_long_clauses_are_written_one_literal_per_line():
    for name, text in rule_texts().items():
        long = [line for line in text.splitlines() if not line.startswith("#") and len(line) > 120]
        assert not long, f"rules/{name}: write the body of these clauses one literal per line: {long}"


def test_every_body_predicate_is_a_declared_fact_or_a_derived_relation():
    derived = set(derived_relations())
    for name, preds in body_predicates().items():
        unknown = preds - derived - set(RELATIONS)
        assert not unknown, f"rules/{name} uses undeclared predicates {sorted(unknown)}"


def test_every_derived_relation_has_a_comment():
    for rel, comment in derived_relations().items():
        assert comment.startswith(rel + "("), f"{rel} lacks its one-line comment"


def test_declared_relations_and_derived_relations_do_not_overlap():
    assert not set(RELATIONS) & set(derived_relations())


def test_materialized_relations_are_derived_relations():
    assert {r for r, _ in MATERIALIZE if not r.startswith("@")} <= set(derived_relations())


RICH = [
    pod("x", "a", {"app": "a"}, "10.0.0.1", [("http", "TCP", 8080)]),
    pod("x", "b", {"app": "b"}, "10.0.0.2"),
    pod("y", "c", {"app": "c", "env": "dev"}, "10.0.1.3"),
    """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: x}
spec:
  podSelector: {matchLabels: {app: a}}
  policyTypes: [Ingress, Egress]
  ingress:
  - from: [{podSelector: {matchLabels: {app: b}}}, {namespaceSelector: {matchLabels: {team: blue}}, podSelector: {matchExpressions: [{key: env, operator: NotIn, values: [prod]}, {key: app, operator: Exists}]}}]
    ports: [{port: http}]
  - from: [{ipBlock: {cidr: 10.0.0.0/16, except: [10.0.1.0/24]}}]
    ports: [{port: 9000, endPort: 9100}]
  egress:
  - to: [{namespaceSelector: {matchExpressions: [{key: team, operator: DoesNotExist}]}}]
  - ports: [{protocol: UDP, port: 53}]
""",
    """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: q, namespace: y}
spec:
  podSelector: {matchLabels: {env: dev}}
  ingress: [{from: [{namespaceSelector: {}}], ports: [{port: http}]}]
""",
]


CALICO = [
    pod("x", "w", {"app": "w", "tier": "frontend"}, "10.0.0.9", [("web", "TCP", 8443)]),
    """
apiVersion: v1
kind: ServiceAccount
metadata: {name: robot, namespace: y, labels: {trusted: "yes"}}
---
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: security}
spec: {order: 100}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkSet
metadata: {name: partners, labels: {peer: partner}}
spec: {nets: [198.51.100.0/24]}
---
apiVersion: projectcalico.org/v3
kind: NetworkSet
metadata: {name: local, namespace: x, labels: {peer: local}}
spec: {nets: [203.0.113.0/24]}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: security.gate}
spec:
  tier: security
  order: 10
  selector: "has(app)"
  namespaceSelector: "team == 'red'"
  serviceAccountSelector: "all()"
  types: [Ingress, Egress]
  ingress:
  - {action: Log}
  - {action: Deny, protocol: TCP, source: {nets: [10.9.0.0/16], notNets: [10.9.1.0/24]}, destination: {notPorts: [22]}}
  - action: Allow
    protocol: TCP
    source: {serviceAccounts: {names: [robot], selector: "trusted == 'yes'"}, namespaceSelector: "all()"}
    destination:
      ports: [web, "8000:8100"]
      selector: "tier starts with 'front' && tier ends with 'end' && tier contains 'ont'"
  - action: Allow
    protocol: 17
    source: {notSelector: "app in {'nobody'}"}
  - {action: Pass, notProtocol: UDP, ipVersion: 4}
  egress:
  - {action: Allow, destination: {selector: "peer == 'partner'", namespaceSelector: "global()"}}
  - {action: Allow, protocol: TCP, destination: {selector: "peer == 'local'", notPorts: [web]}}
  - {action: Allow, protocol: ICMP, icmp: {type: 8}}
  - {action: Pass}
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: local, namespace: x}
spec:
  selector: app == 'w'
  ingress: [{action: Allow, source: {selector: "app != 'zzz'"}}]
""",
]


HOSTS = [
    pod("x", "n", {"app": "n"}, "10.0.0.20"),
    """
apiVersion: v1
kind: Service
metadata: {name: n, namespace: x}
spec: {type: NodePort, selector: {app: n}, ports: [{port: 80, targetPort: 8080, nodePort: 30080}]}
---
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: {name: h, labels: {role: node}}
spec: {node: n1, interfaceName: eth0, expectedIPs: [192.168.0.1], profiles: [projectcalico-default-allow]}
---
apiVersion: projectcalico.org/v3
kind: FelixConfiguration
metadata: {name: default}
spec: {failsafeInboundHostPorts: [{protocol: tcp, port: 22, net: 192.168.0.0/16}]}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: pre}
spec:
  preDNAT: true
  applyOnForward: true
  selector: role == 'node'
  ingress: [{action: Allow, source: {nets: [10.0.0.0/8]}}, {action: Deny, protocol: TCP, destination: {ports: [30080]}}]
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: raw}
spec:
  doNotTrack: true
  applyOnForward: true
  selector: role == 'node'
  types: [Ingress, Egress]
  egress: [{action: Deny, protocol: UDP, destination: {ports: [9999]}}]
""",
]


def test_every_derived_relation_holds_somewhere_in_a_rich_scenario():
    k8s, mixed, hosts = analyse(*RICH), analyse(*RICH, *CALICO), analyse(*HOSTS)
    # checked elsewhere: lint.dl by test_lint_semantics.py, sanity.dl (empty on valid input) by test_sanity.py
    elsewhere = {head for name in ("lint.dl", "sanity.dl")
                 for head, _body, _comment in rule_clauses(rule_texts()[name])}
    arity = {rel: len(cols) for rel, cols in (
        (r, t.split("(", 1)[1].split(")", 1)[0].split(",")) for r, t in derived_relations().items())
        if rel not in elsewhere}
    empty = [rel for rel, n in arity.items() if rel not in BOUND_ONLY
             and not any(an.engine.ask(rel, *([None] * n)) for an in (k8s, mixed, hosts))]
    assert not empty, f"derived relations with no tuple: {empty}"
    an = k8s
    # the flow-level relations need bound arguments: ask them on one concrete flow each way
    a, b = an.facts.class_of["x/a"].id, an.facts.class_of["x/b"].id
    assert an.engine.holds("flow_allowed", b, a, "TCP", 8080)
    assert not an.engine.holds("flow_allowed", b, a, "TCP", 8081)
    assert an.engine.ask("ingress_allows", a, b, "TCP", 8080, None)
    assert an.engine.ask("egress_allows", a, b, "UDP", 53, None)
    # and the host endpoint ones: failsafe, hooks, node port
    h, n = hosts.facts.class_of["hep:h"].id, hosts.facts.class_of["x/n"].id
    ext = next(c.id for c in hosts.facts.classes if c.external is not None and c.external.family == 4
               and c.external.lo <= 0xC0A80005 <= c.external.hi)
    assert hosts.engine.holds("fs_ok", h, "ingress", ext, "TCP", 22)
    assert hosts.engine.holds("hook_decides", h, "prednat_in", n, "TCP", 30080, "Allow")
    assert hosts.engine.holds("hep_in_ok", h, n, "TCP", 30080)
    assert not hosts.engine.holds("hep_in_ok", h, ext, "TCP", 30080)
    assert not hosts.engine.holds("np_blocked", h, ext, "TCP", 30080)  # the backend is not isolated
    assert not hosts.engine.holds("hep_out_ok", h, ext, "UDP", 9999)
    assert hosts.engine.holds("hep_out_ok", h, ext, "UDP", 9998)
    assert hosts.engine.holds("wl_ingress_ok", n, ext, "TCP", 8080)


def test_evaluation_units_hold_exactly_the_hit_rules():
    an = analyse(*RICH, *CALICO)
    e = an.engine
    hits: dict = {}
    for s, d, q, r in e.ask("hit", None, None, None, None):
        hits.setdefault((s, d, q), set()).add(r)
    units = {(s, d, q): g for s, d, q, g in e.ask("unit", None, None, None, None)}
    assert hits and set(units) == set(hits)
    for key, g in units.items():
        assert {r for _g, r in e.ask("unit_rule", g, None)} == hits[key]
