"""The selector, entity and subject relations equal their plain definitions.

rules/selectors.dl and rules/calico.dl take candidates from an index (a label, the namespaces of a scope) and skip
the checks that cannot fail, for speed. Here each such relation is compared, on every corpus scenario and on one
with every kind of selector, EntityRule and endpoint, with its definition evaluated plainly in Python: every
candidate, every check (the label tests, and the relations asked with bound arguments: conj_rejects,
pos_pod_rejects, cpol_nssel_rejects, cpol_sa_rejects, ent_fails).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from reasoner import api
from support.helpers import analyse, pod

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
INPUTS = sorted(p for p in CORPUS.glob("*/*") if p.is_dir() and p.name in ("manifests", "old", "new"))

LONG_SA = "s" * 63  # no projectcalico.org/serviceaccount label: serviceAccounts.names never matches it (§3.6.2)


def sa_pod(ns: str, name: str, labels: dict, ip: str, sa: str) -> str:
    return (f"apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: {ns}, labels: {labels}}}\n"
            f"spec: {{serviceAccountName: {sa}, containers: [{{name: c, image: i}}]}}\n"
            f"status: {{phase: Running, podIP: {ip}}}")


EVERY_KIND = [
    pod("x", "a", {"app": "a", "tier": "frontend"}, "10.0.0.1"),
    pod("x", "d", {"app": "a", "tier": "frontend", "debug": "on"}, "10.0.0.4"),
    sa_pod("x", "b", {"app": "b", "role": "db"}, "10.0.1.2", "robot"),
    sa_pod("y", "c", {"app": "c", "env": "dev"}, "10.1.0.3", "robot"),
    sa_pod("y", "l", {"app": "l", "env": "prod"}, "10.1.0.5", LONG_SA),
    pod("y", "e", {"app": "a", "tier": "frontend"}, "10.1.0.6"),
    pod("y", "h", {"app": "h", "role": "node"}, "10.1.0.9", host_network=True),
    pod("z", "n", {"tier": "backend"}, "10.2.0.7"),
    """
apiVersion: v1
kind: Namespace
metadata: {name: z}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: robot, namespace: y, labels: {trusted: "yes"}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: robot, namespace: x}
---
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: {name: h1, labels: {role: node}}
spec: {node: n1, interfaceName: eth0, expectedIPs: [192.168.0.1]}
---
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: {name: h2, labels: {role: node, app: b}}
spec: {node: n2, interfaceName: eth0}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkSet
metadata: {name: partners, labels: {role: partner}}
spec: {nets: [198.51.100.0/24]}
---
apiVersion: projectcalico.org/v3
kind: NetworkSet
metadata: {name: local, namespace: x, labels: {role: partner}}
spec: {nets: [203.0.113.0/24]}
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: entities, namespace: x}
spec:
  selector: app == 'a' && !has(debug)
  types: [Ingress, Egress]
  ingress:
  - {action: Allow, source: {selector: "app in {'b', 'c'}"}}
  - {action: Allow, source: {namespaceSelector: "team == 'blue'"}}
  - {action: Allow, source: {selector: "role == 'node' || role == 'partner'", namespaceSelector: global()}}
  - {action: Allow, source: {namespaceSelector: global()}}
  - {action: Allow, source: {serviceAccounts: {names: [robot, LONG_SA]}}}
  - {action: Allow, source: {serviceAccounts: {selector: "trusted == 'yes'"}, namespaceSelector: all()}}
  - {action: Allow, source: {selector: has(app), notSelector: "app == 'b'", nets: [10.0.0.0/8], notNets: [10.0.1.0/24]}}
  egress:
  - {action: Allow, destination: {selector: "role == 'partner'"}}
  - {action: Allow, destination: {notSelector: "env in {'dev', 'prod'} || role == 'db'"}}
  - {action: Allow, destination: {selector: "tier starts with 'front' && !has(debug)"}}
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: by-account, namespace: y}
spec:
  selector: all()
  serviceAccountSelector: trusted == 'yes'
  ingress: [{action: Deny, source: {nets: [10.2.0.0/16]}}]
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: everywhere}
spec:
  selector: all()
  types: [Ingress, Egress]
  egress:
  - {action: Allow, destination: {selector: "role == 'node'"}}
  - {action: Allow, destination: {serviceAccounts: {names: [robot]}}}
  - {action: Allow, destination: {notSelector: "app == 'a'"}}
  - {action: Allow, destination: {selector: "app not in {'a'} && tier ends with 'end'"}}
  - {action: Allow, destination: {selector: "env contains 'de' || app == 'b' || !has(app)"}}
  - {action: Allow, destination: {serviceAccounts: {names: [robot], selector: has(trusted)}, selector: has(app)}}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: scoped}
spec:
  selector: has(app)
  namespaceSelector: team == 'blue'
  serviceAccountSelector: has(trusted)
  ingress: [{action: Allow, source: {selector: "app == 'a'", namespaceSelector: "team in {'red', 'blue'}"}}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: k8s, namespace: y}
spec:
  podSelector: {}
  ingress:
  - from:
    - namespaceSelector: {}
    - podSelector: {matchExpressions: [{key: env, operator: NotIn, values: [prod]}, {key: app, operator: Exists}]}
    - {namespaceSelector: {matchLabels: {team: red}}, podSelector: {matchLabels: {app: a, tier: frontend}}}
    - namespaceSelector: {matchExpressions: [{key: team, operator: DoesNotExist}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: one-label, namespace: y}
spec:
  podSelector: {matchLabels: {app: a}}
  ingress: [{from: [{podSelector: {matchLabels: {app: c}}}]}]
""",
]


def rows(engine, relation: str, arity: int) -> set[tuple]:
    return set(engine.ask(relation, *([None] * arity)))


def column(engine, relation: str, arity: int = 1) -> set:
    return {r[0] for r in rows(engine, relation, arity)}


def index(pairs) -> dict:
    out = defaultdict(set)
    for a, b in pairs:
        out[a].add(b)
    return out


def label_test_holds(engine, req: int, labels: dict) -> bool:
    """A requirement's test on one object's labels, by SEMANTICS §2.6/§3.8 (the key present, the value passing)."""
    tests = [(lambda v, val=val: v == val, key) for _r, key, val in engine.ask("req_in", req, None, None)]
    tests += [(lambda v: True, key) for _r, key in engine.ask("req_exists", req, None)]
    tests += [(lambda v, s=s: s in v, key) for _r, key, s in engine.ask("req_contains", req, None, None)]
    tests += [(lambda v, s=s: v.startswith(s), key) for _r, key, s in engine.ask("req_starts", req, None, None)]
    tests += [(lambda v, s=s: v.endswith(s), key) for _r, key, s in engine.ask("req_ends", req, None, None)]
    return any(key in labels and passes(labels[key]) for passes, key in tests)


def check(an: api.Analysis) -> None:
    e = an.engine
    rejects = lambda j, obj: e.holds("conj_rejects", j, obj)  # noqa: E731
    conjs = index(rows(e, "sel_conj", 2))
    namespaces = column(e, "namespace")
    podnet = column(e, "podnet")
    pods_of = index((ns, c) for c, ns in rows(e, "class_ns", 2))

    labels: dict = defaultdict(dict)
    for obj, key, val in rows(e, "label", 3):
        labels[obj][key] = val
    reqs = {r[0] for rel, n in (("req_in", 3), ("req_exists", 2), ("req_contains", 3), ("req_starts", 3),
                                ("req_ends", 3)) for r in rows(e, rel, n)}
    assert rows(e, "req_holds", 2) == {(r, o) for r in reqs for o, ls in labels.items() if label_test_holds(e, r, ls)}

    assert rows(e, "ns_selected", 2) == {(s, ns) for s in column(e, "nssel") for j in conjs[s] for ns in namespaces
                                         if not rejects(j, ns)}
    assert rows(e, "sel_in_ns", 3) == {(s, ns, c) for s, ns in rows(e, "sel_scope", 2) for j in conjs[s]
                                       for c in pods_of[ns] & podnet if not rejects(j, c)}
    views = rows(e, "calico_view", 2)
    sel_pod = {(s, c) for s in column(e, "csel") for j in conjs[s] for c, v in views if not rejects(j, v)}
    assert rows(e, "sel_pod", 2) == sel_pod
    pods_of_sel = index(sel_pod)

    # applies (Calico policies on pods): selector, namespace or namespaceSelector, serviceAccountSelector (§3.3)
    ns_of = {c: ns for c, ns in rows(e, "class_ns", 2)}
    cpol_ns = dict(rows(e, "cpol_ns", 2))
    types = index(rows(e, "pol_type", 2))
    want = set()
    for pol, sel in rows(e, "cpol_sel", 2):
        for c in pods_of_sel[sel] & podnet:
            in_scope = (cpol_ns[pol] == ns_of[c] if pol in cpol_ns
                        else e.holds("cpol_global", pol) and not e.holds("cpol_nssel_rejects", pol, c))
            if in_scope and not e.holds("cpol_sa_rejects", pol, c):
                want |= {(pol, c, d) for d in types[pol]}
    cpols = column(e, "cpol")
    assert {(p, c, d) for p, c, d in rows(e, "applies", 3) if p in cpols and c in podnet} == want

    # pos_pod: the selector part's pods (every pod and host endpoint without one), less pos_pod_rejects (§3.5)
    positive = column(e, "ent_pos")
    cands = {(ent, c) for ent, sel in rows(e, "ent_sel", 2) for c in pods_of_sel[sel]}
    cands |= {(ent, c) for ent in column(e, "ent_nosel") & positive for c in podnet | column(e, "hep")}
    want = {(ent, c) for ent, c in cands if not e.holds("pos_pod_rejects", ent, c)}
    assert rows(e, "pos_pod", 2) == want | rows(e, "ent_svc_member", 2)
    # a host endpoint is in no namespace and has no service account
    pods_only = column(e, "ent_scope_ns", 2) | column(e, "ent_scope_nssel", 2) | column(e, "ent_sa_names")
    pods_only |= column(e, "ent_sa_sel", 2)
    assert not {(ent, c) for ent, c in want if ent in pods_only and c in column(e, "hep")}

    assert rows(e, "ent_match", 2) == {(ent, x) for ent, x in rows(e, "ent_cand", 2)
                                       if not e.holds("ent_fails", ent, x)}


def test_every_kind_of_selector_entity_and_endpoint_is_evaluated_as_defined():
    an = analyse(*EVERY_KIND)
    e = an.engine
    # the scenario reaches each shortcut and each full check it is meant to
    assert rows(e, "pos_pod_sa_rejects", 2) and rows(e, "ent_filters", 1) and rows(e, "conj_checked", 1)
    assert {c for _e, c in rows(e, "pos_pod", 2)} & column(e, "hep")
    assert rows(e, "pos_pod", 2) - rows(e, "pos_pod_scoped", 2)
    check(an)


@pytest.mark.parametrize("path", INPUTS, ids=[f"{p.parent.name}/{p.name}" for p in INPUTS])
def test_corpus_relations_are_evaluated_as_defined(path: Path):
    check(api.analyse(api.load([str(path)])))
