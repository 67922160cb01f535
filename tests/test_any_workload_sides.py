"""any-workload proofs take, per requirement, only the new pods its flows need (properties/prove.py `sides`).

Each requirement gets representatives told apart only by the tests that can decide its flows: a source's by
what decides a flow into `to`, a destination's by what decides a flow from `from` (label_tests.py `project`).
That is sound only if the projection keeps every test that matters. The reference is the whole universe
(every kind of new pod, told apart by every test of the input and of the spec, twins included), whose own
exactness tests/test_any_workload.py checks: on random mixed clusters (Kubernetes, Calico tiers, admin
policies; tests/support/mixed_clusters.py `clusters`) and random requirements, both must give every requirement the same
status.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reasoner import api
from reasoner.properties.kinds import TooMany
from reasoner.properties.label_tests import spec_tests
from reasoner.properties.prove import Prover, prove
from reasoner.properties.spec import load_spec
from reasoner.properties.universe import build_universe
from support.mixed_clusters import clusters

POD_CIDRS = ["10.0.0.0/24"]
REFERENCE_LIMIT = 800  # representatives of the whole universe: a cluster that needs more is skipped


@st.composite
def peers(draw, namespaces: list[str], labels: list[tuple[str, str]]):
    peer = {}
    if draw(st.booleans()):
        peer["namespace"] = draw(st.sampled_from(namespaces + ["elsewhere"]))
    if labels and draw(st.integers(0, 2)) > 0:
        key, value = draw(st.sampled_from(labels))
        peer["selector"] = draw(st.sampled_from([f"{key} == '{value}'", f"has({key})", f"{key} != '{value}'"]))
    return peer


@st.composite
def requirements(draw, docs):
    namespaces = [d["metadata"]["name"] for d in docs if d["kind"] == "Namespace"]
    labels = sorted({kv for d in docs if d["kind"] == "Pod" for kv in d["metadata"]["labels"].items()})
    kind = draw(st.sampled_from(["deny", "allow", "only", "isolated"]))
    if kind == "isolated":
        body = {**draw(peers(namespaces, labels)),
                "directions": draw(st.sampled_from([["ingress"], ["egress"], ["ingress", "egress"]]))}
    else:
        body = {"from": draw(peers(namespaces, labels)), "to": draw(peers(namespaces, labels))}
        if draw(st.booleans()):
            body["ports"] = [draw(st.sampled_from(["TCP/80", "TCP/1-1000", "UDP/53"]))]
    return {"id": "r", kind: body}


def statuses(docs, requirement) -> tuple[str, str] | None:
    """(per-requirement sides, whole universe) statuses of `requirement`; None when the whole universe is too
    large to serve as the reference."""
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "cluster.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False))
        spec_path = Path(tmp) / "spec.yaml"
        spec_path.write_text(yaml.safe_dump({"apiVersion": "reasoner/v1", "kind": "ComplianceSpec",
                                             "scope": "any-workload", "podCIDRs": POD_CIDRS,
                                             "requirements": [requirement]}))
        an = api.analyse(api.load([str(Path(tmp) / "cluster.yaml")]))
        spec = load_spec(spec_path)
    [req] = spec.requirements
    [got] = prove(an, spec)
    peers = [req.src, req.dst, req.selected]
    services = {s.ref: s.selector for s in an.cluster.services}
    try:
        universe = build_universe(an.cluster, spec_tests(peers, services), spec.pod_cidrs, limit=REFERENCE_LIMIT)
    except TooMany:
        return None
    wide = api.analyse(universe.cluster, [p.selector for p in peers if p.selector is not None])
    want = Prover(wide, 10_000, universe.new_pods).check(req, "any-workload")
    return got.status, want.status


def check(docs, requirement):
    os.environ["REASONER_JOBS"] = "1"
    try:
        pair = statuses(docs, requirement)
    finally:
        del os.environ["REASONER_JOBS"]
    if pair is not None:
        got, want = pair
        assert got == want, f"per-requirement new pods: {got}; every new pod: {want}"


SETTINGS = dict(deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow,
                                                                        HealthCheck.data_too_large])


@settings(max_examples=int(os.environ.get("REASONER_SIDES_EXAMPLES", "8")), **SETTINGS)
@given(data=st.data(), docs=clusters())
def test_per_requirement_new_pods_prove_what_every_new_pod_proves(data, docs):
    check(docs, data.draw(requirements(docs)))


@pytest.mark.slow  # the long run: .ci/run runs it (pytest -m slow)
@settings(max_examples=int(os.environ.get("REASONER_SIDES_SLOW_EXAMPLES", "150")), **SETTINGS)
@given(data=st.data(), docs=clusters())
def test_per_requirement_new_pods_prove_what_every_new_pod_proves_at_length(data, docs):
    check(docs, data.draw(requirements(docs)))


def test_the_comparison_notices_a_projection_that_drops_a_test(monkeypatch):
    """A projection that forgets the egress rules' peers (tests of a destination) proves a deny that a new pod
    breaks: the comparison above must see it."""
    from reasoner.properties import prove as prove_module
    from reasoner.properties.label_tests import DST

    docs = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a", "labels": {}}},
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "client", "namespace": "a", "labels": {"app": "c"}},
         "spec": {"containers": [{"name": "main", "image": "x"}]},
         "status": {"phase": "Running", "podIP": "10.0.0.5", "podIPs": [{"ip": "10.0.0.5"}]}},
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "out", "namespace": "a"},
         "spec": {"podSelector": {}, "policyTypes": ["Egress"],
                  "egress": [{"to": [{"podSelector": {"matchLabels": {"role": "db"}}}]}]}},
    ]
    requirement = {"id": "r", "deny": {"from": {"namespace": "a"}, "to": {"namespace": "a",
                                                                         "selector": "app != 'c'"}}}
    check(docs, requirement)  # the real projection: a new pod labelled role=db is reached
    real = prove_module.project

    def forgetful(tests, role, other, subjects_only=False):
        return [t for t in real(tests, role, other, subjects_only) if not (role == DST and not t.subject)]

    monkeypatch.setattr(prove_module, "project", forgetful)
    with pytest.raises(AssertionError, match="per-requirement new pods: proved; every new pod: violated"):
        check(docs, requirement)
