"""The connectivity map (assembled per pair from the per-end relations) and the per-flow Datalog verdict
`flow_allowed` agree on every pair of every Calico corpus scenario, for probe flows around every port bound (by
default a rotating third of them per pair; all under `-m slow`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from reasoner import api
from reasoner.model.cidr import ip_text
from reasoner.query.can import can
from reasoner.query.map import class_connections

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
SCENARIOS = sorted(p.parent for pattern in ("calico-*/manifests", "hep-*/manifests") for p in CORPUS.glob(pattern))


def in_set(allowed: dict, proto: str, port: int) -> bool:
    ranges = allowed.get(proto)
    if ranges is None:
        return False
    return ranges == "all" or any(lo <= port <= hi for lo, hi in ranges)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_map_agrees_with_flow_verdicts(scenario):
    """Every pair, a third of the probes of each (rotating from pair to pair, so every probe is asked of some)."""
    map_agrees(scenario, stride=3)


@pytest.mark.slow
@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_map_agrees_with_flow_verdicts_at_every_probe(scenario):
    map_agrees(scenario, stride=1)


def map_agrees(scenario, stride: int) -> None:
    an = api.analyse(api.load([scenario / "manifests"]))
    ports = sorted({lo for _p, lo, _h in an.facts.port_atoms.values()} | {1, 53, 80, 443, 65535})
    probes = [(p, port) for p in ("TCP", "UDP") for port in ports if port >= 1] + [("ICMP", None), ("SCTP", 9)]
    conns = {(c.src.id, c.dst.id): c.allowed for c in class_connections(an)}
    internal = [c for c in an.facts.classes if c.external is None]
    # addresses outside that some rule mentions, as sources towards host endpoints (their hooks look at them)
    outside = [c for c in an.facts.classes if c.external is not None and c.external.mentioned]
    hosts = [c for c in internal if c.host]

    def name(c):
        if c.external is None:
            return c.members[0].ref
        return "ip:" + ip_text(c.external.family, c.external.lo + (c.external.hi > c.external.lo))

    checked = 0
    pairs = [(s, d) for s in internal for d in internal] + [(s, d) for s in outside for d in hosts]
    for k, (src, dst) in enumerate(pairs):
        if src is dst and len(src.members) < 2:
            continue
        a, b = name(src), dst.members[-1].ref
        if a == b:
            continue
        for j, (proto, port) in enumerate(probes):
            if (j + k) % stride:
                continue
            verdict = can(an, a, b, proto, port).allowed
            assert verdict == in_set(conns.get((src.id, dst.id), {}), proto, port or 0), (a, b, proto, port)
            checked += 1
    assert checked > 0
