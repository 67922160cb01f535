"""The connectivity map (assembled per pair from the per-end relations) and the per-flow Datalog verdict
`flow_allowed` agree on every pair of every Calico corpus scenario, for probe flows around every port bound."""

from __future__ import annotations

from pathlib import Path

import pytest

from reasoner import api
from reasoner.connectivity import class_connections
from reasoner.explain import can

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
SCENARIOS = sorted(p.parent for p in CORPUS.glob("calico-*/manifests"))


def in_set(allowed: dict, proto: str, port: int) -> bool:
    ranges = allowed.get(proto)
    if ranges is None:
        return False
    return ranges == "all" or any(lo <= port <= hi for lo, hi in ranges)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_map_agrees_with_flow_verdicts(scenario):
    an = api.analyse(api.load([scenario / "manifests"]))
    ports = sorted({lo for _p, lo, _h in an.facts.port_atoms.values()} | {1, 53, 80, 443, 65535})
    probes = [(p, port) for p in ("TCP", "UDP") for port in ports if port >= 1] + [("ICMP", None), ("SCTP", 9)]
    conns = {(c.src.id, c.dst.id): c.allowed for c in class_connections(an)}
    internal = [c for c in an.facts.classes if c.external is None]
    checked = 0
    for src in internal:
        for dst in internal:
            if src is dst and len(src.members) < 2:
                continue
            a, b = src.members[0].ref, dst.members[-1].ref
            if a == b:
                continue
            for proto, port in probes:
                verdict = can(an, a, b, proto, port).allowed
                assert verdict == in_set(conns.get((src.id, dst.id), {}), proto, port or 0), (a, b, proto, port)
                checked += 1
    assert checked > 0
