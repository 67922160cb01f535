"""any-workload scope: the representative pods stand for every pod that could be deployed.

The property that makes the scope exact: for any concrete new pod P, some representative R behaves exactly
as P does — the same connections, port by port, to and from every existing endpoint and every address
atom. Hypothesis draws random clusters (support/k8s_clusters.py, those of test_differential) and a random
new pod (in an existing or a new namespace, with labels over the clusters' vocabulary plus values no selector
names), adds P to the cluster, and looks for its twin among the representatives.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from reasoner import api
from reasoner.model.cidr import Cidr
from reasoner.properties.universe import build_universe
from reasoner.query.map import class_connections
from support.helpers import analyse as analyse_docs
from support.helpers import pod
from support.k8s_clusters import NS_KEYS, POD_KEYS, scenarios, write_manifests

POD_CIDR = [Cidr.parse("10.0.0.0/24")]


def rows(an: api.Analysis, conns: dict, ref: str, others: list[str]) -> dict:
    """What `ref` may send to and receive from each endpoint of `others` and each address atom."""
    me = an.facts.class_of[ref].id
    out = {}
    for name in others:
        c = an.facts.class_of[name].id
        out[("to", name)] = conns.get((me, c), {})
        out[("from", name)] = conns.get((c, me), {})
    for cls in an.facts.classes:
        if cls.external is not None:
            key = (cls.external.family, cls.external.lo, cls.external.hi)
            out[("to", key)] = conns.get((me, cls.id), {})
            out[("from", key)] = conns.get((cls.id, me), {})
    return out


def by_pair(an: api.Analysis) -> dict:
    return {(c.src.id, c.dst.id): c.allowed for c in class_connections(an)}


LABEL_MAPS = [dict(kv for kv in zip(POD_KEYS, combo) if kv[1] is not None)
              for combo in itertools.product([None, "a", "b", "zzz"], repeat=len(POD_KEYS))]


@pytest.mark.slow  # a cross-check of its own: .ci/run runs it (pytest -m slow)
@settings(max_examples=int(os.environ.get("REASONER_AW_EXAMPLES", "15")), deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data(), docs=scenarios())
def test_every_new_pod_has_a_representative_that_behaves_alike(data, docs):
    """Newcomers: every labelling over the vocabulary (and a value no selector names), in every namespace
    and in a new one; one address for all of them (adding pods changes nothing for the others)."""
    namespaces = [d["metadata"]["name"] for d in docs if d["kind"] == "Namespace"]
    taken = {d["status"]["podIP"] for d in docs if d["kind"] == "Pod"}
    ip = data.draw(st.sampled_from([f"10.0.0.{i}" for i in range(1, 255) if f"10.0.0.{i}" not in taken]))
    values = st.sampled_from(["a", "b", "c", "zzz"])
    ns_labels = data.draw(st.dictionaries(st.sampled_from(NS_KEYS), values, max_size=2))
    extra = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "delta", "labels": ns_labels}}]
    newcomers = []
    for ns in namespaces + ["delta"]:
        for i, labels in enumerate(LABEL_MAPS):
            newcomers.append((f"{ns}/newcomer-{i}", ns, labels))
            extra.append({"apiVersion": "v1", "kind": "Pod",
                          "metadata": {"name": f"newcomer-{i}", "namespace": ns, "labels": labels},
                          "spec": {"containers": [{"name": "main", "image": "example/app:1"}]},
                          "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}]}})
    with tempfile.TemporaryDirectory() as tmp:
        write_manifests(docs, Path(tmp))
        cluster = api.load([tmp])
    with tempfile.TemporaryDirectory() as tmp:
        write_manifests(docs + extra, Path(tmp))
        with_pods = api.analyse(api.load([tmp]))
    universe = build_universe(cluster, pod_cidrs=POD_CIDR)
    wide = api.analyse(universe.cluster)
    others = [ep.ref for ep in cluster.endpoints]
    have = by_pair(with_pods)
    conns = by_pair(wide)
    reps = {}
    for ref, p in universe.new_pods.items():
        reps.setdefault(p.new_namespace is None, []).append(rows(wide, conns, ref, others))
    for ref, ns, labels in newcomers:
        want = rows(with_pods, have, ref, others)
        assert want in reps[ns != "delta"], f"no representative behaves like {ref} {labels} ({ns_labels}) at {ip}"


CALICO = """
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: canary-to-db}
spec:
  order: 10
  selector: "role == 'db'"
  types: [Ingress]
  ingress:
    - action: Deny
      source: {selector: "version starts with 'v2' && !has(stable)"}
    - action: Allow
      source: {namespaceSelector: "tier in {'backend', 'data'}", selector: "has(app)"}
"""


def test_string_tests_and_namespace_selectors_get_witnesses_that_satisfy_them():
    an = analyse_docs(pod("data", "db", {"role": "db"}, ip="10.0.0.5"), CALICO)
    universe = build_universe(an.cluster)
    wide = api.analyse(universe.cluster)
    db = wide.facts.class_of["data/db"].id
    reach = {ref for ref, p in universe.new_pods.items()
             if any(c.dst.id == db and c.src.id == wide.facts.class_of[ref].id for c in class_connections(wide))}
    assert reach, "some new pod reaches the db"
    for ref in reach:
        p = universe.new_pods[ref]
        ns_labels = p.new_namespace if p.new_namespace is not None else dict(wide.cluster.namespaces[p.namespace].labels)
        assert ns_labels.get("tier") in ("backend", "data") and "app" in p.labels
        assert not (p.labels.get("version", "").startswith("v2") and "stable" not in p.labels)
    blocked = [p for p in universe.new_pods.values()
               if p.labels.get("version", "").startswith("v2") and "stable" not in p.labels and "app" in p.labels]
    assert blocked, "the canary kind of pod is represented"


@pytest.mark.parametrize("spec,status", [
    ("deny: {from: {namespace: dev}, to: {namespace: prod}}", "proved"),
    ("deny: {from: {namespaceSelector: \"env == 'web'\"}, to: {namespace: prod}}", "violated"),
])
def test_any_workload_proof_and_violation(tmp_path, spec, status):
    from reasoner.properties.prove import prove
    from reasoner.properties.spec import load_spec

    policy = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: same-namespace-or-web, namespace: prod}
spec:
  podSelector: {}
  ingress:
    - from: [{podSelector: {}}]
    - from: [{namespaceSelector: {matchLabels: {env: web}}, podSelector: {matchLabels: {app: web}}}]
"""
    ns = """
apiVersion: v1
kind: Namespace
metadata: {name: dev, labels: {env: dev}}
"""
    an = analyse_docs(pod("prod", "db", {"app": "db"}, ip="10.0.0.5"), pod("dev", "tool", {"app": "tool"}, ip="10.0.0.6"),
                      ns, policy)
    path = tmp_path / "spec.yaml"
    path.write_text(f"apiVersion: reasoner/v1\nkind: ComplianceSpec\nscope: any-workload\n"
                    f"requirements:\n  - id: r\n    {spec}\n")
    inventory = load_spec(path)
    inventory.scope = "inventory"
    assert prove(an, inventory)[0].status == "proved"  # today's pods: nothing reaches prod from elsewhere
    result = prove(an, load_spec(path))[0]
    assert result.status == status
    if status == "violated":  # a pod labelled app=web in a new namespace labelled env=web
        src = result.witness.new_pods[result.witness.src]
        assert src["labels"] == {"app": "web"}
        assert src["newNamespaceLabels"]["env"] == "web"
        assert result.witness.dst.startswith("prod/")


# The z3 reading of selectors (values.calico_formula, k8s_formula) is a second writing of selector semantics:
# on concrete labels it must agree with the selectors' own evaluation, which the Datalog tests check
# (tests/test_calico_selector.py, tests/rules/).
KEYS, VALS = ["a", "b"], ["x", "y", "xy", ""]
atoms = st.one_of(
    st.builds(lambda k, v: f"{k} == '{v}'", st.sampled_from(KEYS), st.sampled_from(VALS)),
    st.builds(lambda k, v: f"{k} != '{v}'", st.sampled_from(KEYS), st.sampled_from(VALS)),
    st.builds(lambda k: f"has({k})", st.sampled_from(KEYS)),
    st.builds(lambda k, vs: f"{k} in {{{', '.join(repr(v) for v in vs)}}}", st.sampled_from(KEYS),
              st.lists(st.sampled_from(VALS), min_size=1, max_size=2)),
    st.builds(lambda k, vs: f"{k} not in {{{', '.join(repr(v) for v in vs)}}}", st.sampled_from(KEYS),
              st.lists(st.sampled_from(VALS), min_size=1, max_size=2)),
    st.builds(lambda k, op, v: f"{k} {op} '{v}'", st.sampled_from(KEYS),
              st.sampled_from(["contains", "starts with", "ends with"]), st.sampled_from(["x", "y", "xy"])),
)
selector_texts = st.recursive(atoms, lambda inner: st.one_of(
    st.builds(lambda a, b: f"({a}) && ({b})", inner, inner),
    st.builds(lambda a, b: f"({a}) || ({b})", inner, inner),
    st.builds(lambda a: f"!({a})", inner)), max_leaves=4)


@settings(max_examples=500, deadline=None, derandomize=True)
@example(text="a starts with 'x'", labels={"a": "xy"}, k8s=[])
@example(text="a ends with 'x'", labels={"a": "xy"}, k8s=[])
@example(text="!(b contains 'y')", labels={"a": "y"}, k8s=[("a", "NotIn", ["y"])])
@given(text=selector_texts, labels=st.dictionaries(st.sampled_from(KEYS), st.sampled_from(VALS)),
       k8s=st.lists(st.tuples(st.sampled_from(KEYS), st.sampled_from(["In", "NotIn", "Exists", "DoesNotExist"]),
                              st.lists(st.sampled_from(VALS), min_size=1, max_size=2)), max_size=2))
def test_z3_selector_reading_agrees_with_selector_evaluation(text, labels, k8s):
    import z3

    from reasoner.model.calico_selector import parse_selector
    from reasoner.model.selector import LabelSelector, Op, Requirement
    from reasoner.properties.label_tests import Test
    from reasoner.properties.values import Values, calico_formula, fixed, k8s_formula, pod_slot

    sel = parse_selector(text)
    ksel = LabelSelector(frozenset(Requirement(k, Op(op), frozenset(vs) if op in ("In", "NotIn") else frozenset())
                                   for k, op, vs in k8s))
    values = Values([Test("calico", sel), Test("pod", ksel)])
    view = fixed(values, labels, pod_slot)
    assert z3.is_true(z3.simplify(calico_formula(sel, view, values))) == sel.matches(labels), (text, labels)
    assert z3.is_true(z3.simplify(k8s_formula(ksel, view, values))) == ksel.matches(labels), (ksel, labels)
