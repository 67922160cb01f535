"""The three verdicts agree on concrete flows of random clusters: the z3 encoding (properties/encode.py),
the Datalog verdict (`flow_allowed`, rules/verdict.dl) and the brute-force reference (tests/support/reference.py)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import z3
from hypothesis import HealthCheck, given, settings

from reasoner import api
from reasoner.properties.encode import Encoding
from support.k8s_clusters import scenarios, write_manifests
from support.reference import allowed as reference_allowed
from support.reference import cluster_from_manifests

PROBES = [("TCP", 80), ("TCP", 81), ("TCP", 443), ("UDP", 53), ("UDP", 5353), ("SCTP", 80), ("TCP", 8443)]


def z3_allowed(enc: Encoding, s: int, d: int, proto: str, port: int) -> bool:
    term = z3.substitute(enc.allowed, (enc.S, z3.IntVal(s)), (enc.D, z3.IntVal(d)),
                         (enc.P, z3.IntVal(enc.proto_index[proto])), (enc.Port, z3.IntVal(port)))
    return z3.is_true(z3.simplify(term))


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(docs=scenarios())
def test_z3_datalog_and_reference_agree(docs):
    with tempfile.TemporaryDirectory() as tmp:
        write_manifests(docs, Path(tmp))
        an = api.analyse(api.load([tmp]))
    enc = Encoding(an)
    ref = cluster_from_manifests(docs)
    pods = [ep.ref for ep in an.cluster.endpoints]
    for a in pods:
        for b in pods:
            if a == b:
                continue
            s, d = an.facts.class_of[a].id, an.facts.class_of[b].id
            for proto, port in PROBES:
                engine_proto = an.facts.proto_rep.get(proto, proto)
                datalog = an.engine.holds("flow_allowed", s, d, engine_proto, port)
                assert z3_allowed(enc, s, d, proto, port) == datalog, (a, b, proto, port)
                assert reference_allowed(ref, a, b, proto, port) == datalog, (a, b, proto, port)
