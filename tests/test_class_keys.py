"""Endpoint classes are split only by the pod labels that some selector tests (policies, Services, a spec)."""

from __future__ import annotations

import io
import textwrap

from reasoner import api
from reasoner.model.calico_selector import parse_selector
from reasoner.model.selector import LabelSelector, Op, Requirement
from reasoner.properties.prove import prove
from reasoner.properties.spec import load_spec
from reasoner.repl import Session
from support.helpers import BASE, connections, pod, write_docs


def load(*docs: str):
    text = "\n---\n".join([BASE] + [textwrap.dedent(d) for d in docs])
    return api.load(["-"], stdin=io.StringIO(text))


def partition(an: api.Analysis) -> set[frozenset[str]]:
    """The pods of each pod class."""
    return {frozenset(ep.ref for ep in c.members) for c in an.facts.classes if c.external is None and not c.host}


def hashed(*specs: tuple[str, dict]) -> list[str]:
    """Pods of namespace x, each with a pod-template-hash of its own besides `labels`."""
    return [pod("x", name, {**labels, "pod-template-hash": f"h{i}"}, f"10.0.0.{i + 1}")
            for i, (name, labels) in enumerate(specs)]


def every_key(cluster) -> LabelSelector:
    """A selector testing every label key of every pod: analysed with it, no label is left out of a class."""
    keys = {k for ep in cluster.endpoints for k, _v in ep.labels}
    return LabelSelector(frozenset(Requirement(k, Op.EXISTS) for k in keys))


NP_APP_A = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: a, namespace: x}
spec:
  podSelector: {matchLabels: {app: a}}
  ingress: [{from: [{podSelector: {}}]}]
"""


def test_pods_that_differ_only_in_an_untested_label_share_a_class():
    an = api.analyse(load(*hashed(("p1", {"app": "a"}), ("p2", {"app": "a"}), ("p3", {"app": "b"})), NP_APP_A))
    assert partition(an) == {frozenset({"x/p1", "x/p2"}), frozenset({"x/p3"})}
    cls = an.facts.class_of["x/p1"]
    assert cls.labels == (("app", "a"),)  # the tested labels only: the engine's `label` facts
    assert dict(cls.members[1].labels)["pod-template-hash"] == "h1"  # a member keeps its own labels
    assert api.distinguishing(an, [parse_selector("app == 'b'")]) is an  # `app` is tested already: no new analysis


def test_a_matchexpressions_key_of_a_peer_splits_classes():
    np = """
    apiVersion: networking.k8s.io/v1
    kind: NetworkPolicy
    metadata: {name: p, namespace: x}
    spec:
      podSelector: {}
      ingress: [{from: [{podSelector: {matchExpressions: [{key: zone, operator: DoesNotExist}]}}]}]
    """
    an = api.analyse(load(*hashed(("p1", {"zone": "z1"}), ("p2", {}), ("p3", {"zone": "z1"}), ("p4", {})), np))
    assert partition(an) == {frozenset({"x/p1", "x/p3"}), frozenset({"x/p2", "x/p4"})}


def test_calico_has_and_notselector_keys_split_classes():
    gnp = """
    apiVersion: projectcalico.org/v3
    kind: GlobalNetworkPolicy
    metadata: {name: g}
    spec:
      selector: has(canary)
      egress:
      - action: Deny
        destination: {notSelector: "lane == 'slow'"}
    """
    an = api.analyse(load(*hashed(("c1", {"canary": ""}), ("c2", {"canary": ""}), ("s1", {"lane": "slow"}),
                                  ("s2", {"lane": "slow"}), ("n1", {}), ("n2", {})), gnp))
    assert partition(an) == {frozenset({"x/c1", "x/c2"}), frozenset({"x/s1", "x/s2"}), frozenset({"x/n1", "x/n2"})}


def test_a_service_selector_key_splits_classes():
    svc = """
    apiVersion: v1
    kind: Service
    metadata: {name: api, namespace: x}
    spec: {selector: {role: api}, ports: [{port: 80}]}
    """
    an = api.analyse(load(*hashed(("r1", {"role": "api"}), ("r2", {"role": "web"}), ("r3", {"role": "api"})), svc))
    assert partition(an) == {frozenset({"x/r1", "x/r3"}), frozenset({"x/r2"})}


def test_a_pods_own_calico_label_wins_when_a_selector_tests_it():
    gnp = """
    apiVersion: projectcalico.org/v3
    kind: GlobalNetworkPolicy
    metadata: {name: g}
    spec:
      selector: projectcalico.org/namespace == 'x'
      ingress: [{action: Deny}]
    """
    an = api.analyse(load(*hashed(("f", {"projectcalico.org/namespace": "other"}), ("p1", {}), ("p2", {})), gnp))
    assert partition(an) == {frozenset({"x/f"}), frozenset({"x/p1", "x/p2"})}
    assert an.facts.calico_labels[an.facts.class_of["x/f"].id]["projectcalico.org/namespace"] == "other"
    table = {(c.src, c.dst): c.allowed for c in connections(an)}
    assert ("x/p1", "x/f") in table and ("x/f", "x/p1") not in table


SPEC = """
apiVersion: reasoner/v1
kind: ComplianceSpec
scope: {scope}
requirements:
- id: gold-not-to-silver
  deny: {{from: {{selector: "tier == 'gold'"}}, to: {{selector: "tier == 'silver'"}}}}
"""


def test_prove_splits_classes_by_its_spec_selectors(tmp_path):
    an = api.analyse(load(*hashed(("g1", {"tier": "gold"}), ("s1", {"tier": "silver"}), ("g2", {"tier": "gold"}))))
    assert partition(an) == {frozenset({"x/g1", "x/s1", "x/g2"})}  # no policy tests `tier`
    (tmp_path / "spec.yaml").write_text(SPEC.format(scope="inventory"))
    spec = load_spec(tmp_path / "spec.yaml")
    assert partition(api.distinguishing(an, spec.pod_selectors())) == {frozenset({"x/g1", "x/g2"}),
                                                                       frozenset({"x/s1"})}
    [result] = prove(an, spec)
    assert result.status == "violated" and not result.warnings
    assert (result.witness.src, result.witness.dst) in {("x/g1", "x/s1"), ("x/g2", "x/s1")}


def test_prove_in_any_workload_scope_splits_the_new_pods_by_its_spec_selectors(tmp_path):
    # no pod of today is gold: only a new one can be, and the policies test no `tier`
    an = api.analyse(load(*hashed(("s1", {"tier": "silver"}), ("s2", {"tier": "silver"})), NP_APP_A))
    (tmp_path / "spec.yaml").write_text(SPEC.format(scope="any-workload"))
    [result] = prove(an, load_spec(tmp_path / "spec.yaml"))
    assert result.status == "violated" and not result.warnings
    assert result.witness.dst in ("x/s1", "x/s2") and result.witness.new_pods[result.witness.src][
        "labels"]["tier"] == "gold"


def test_the_connectivity_map_is_that_of_classes_with_every_label():
    policies = [NP_APP_A, """
    apiVersion: networking.k8s.io/v1
    kind: NetworkPolicy
    metadata: {name: b, namespace: x}
    spec:
      podSelector: {matchLabels: {app: b}}
      ingress: [{from: [{podSelector: {matchLabels: {app: a}}}], ports: [{port: 80}]}]
    """, """
    apiVersion: projectcalico.org/v3
    kind: GlobalNetworkPolicy
    metadata: {name: canary}
    spec:
      order: 10
      selector: has(app)
      egress:
      - {action: Deny, destination: {selector: has(canary)}}
      - {action: Pass}
    """]
    cluster = load(*hashed(("a1", {"app": "a"}), ("a2", {"app": "a"}), ("a3", {"app": "a"}), ("b1", {"app": "b"}),
                           ("b2", {"app": "b"}), ("b3", {"app": "b", "canary": "yes"})), *policies)
    reduced = api.analyse(cluster)
    full = api.analyse(cluster, [every_key(cluster)])
    assert partition(reduced) == {frozenset({"x/a1", "x/a2", "x/a3"}), frozenset({"x/b1", "x/b2"}),
                                  frozenset({"x/b3"})}
    assert len(partition(full)) == 6
    assert connections(reduced) == connections(full)
    table = {(c.src, c.dst) for c in connections(reduced)}
    assert {("x/a1", "x/b1"), ("x/b1", "x/a2")} <= table  # port 80 to app b; anything to app a
    assert not {("x/a1", "x/b3"), ("x/b1", "x/b2")} & table  # the canary is denied; app b takes only app a


def test_repl_endpoints_sees_every_label_of_a_pod(tmp_path):
    session = Session([write_docs(tmp_path / "m", BASE, *hashed(("p1", {"app": "a"}), ("p2", {"app": "a"})),
                                  NP_APP_A)])
    text = session.execute("endpoints pod-template-hash == 'h1'").text
    assert text.splitlines()[-1] == "1 endpoint matches pod-template-hash == 'h1'"
    assert "x/p2" in text and "app=a,pod-template-hash=h1" in text and "x/p1" not in text
