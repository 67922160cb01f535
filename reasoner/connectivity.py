"""The connectivity map: from `allowed(Src, Dst, Proto, Lo, Hi)` over classes to pairs of endpoints.

Classes expand to their member endpoints (a pod never appears with itself); external address atoms
that some ipBlock mentions expand to `cidr:` peers, one per CIDR prefix of the atom.
"""

from __future__ import annotations

from dataclasses import dataclass

from reasoner.api import Analysis
from reasoner.facts.classes import EndpointClass
from reasoner.facts.emit import PROTOCOLS
from reasoner.model.cidr import prefixes

PORTED = ("TCP", "UDP", "SCTP")
ALL = "all"


def merge(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted, disjoint, with adjacent ranges joined."""
    out: list[list[int]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return [(lo, hi) for lo, hi in out]


def port_sets(tuples: list[tuple[str, int, int]]) -> dict[str, object]:
    """{protocol: "all" | [(lo, hi), ...]} from (proto, lo, hi) tuples where proto may be '*'."""
    by_proto: dict[str, list[tuple[int, int]]] = {}
    for proto, lo, hi in tuples:
        for p in (PROTOCOLS if proto == "*" else (proto,)):
            by_proto.setdefault(p, []).append((lo, hi))
    out: dict[str, object] = {}
    for p in PROTOCOLS:
        if p not in by_proto:
            continue
        ranges = merge(by_proto[p])
        if p not in PORTED or (ranges[0][0] <= 1 and ranges[-1][1] >= 65535 and len(ranges) == 1):
            out[p] = ALL
        else:
            out[p] = ranges
    return out


@dataclass(frozen=True)
class ClassConnection:
    src: EndpointClass
    dst: EndpointClass
    allowed: dict[str, object]


@dataclass(frozen=True)
class Connection:
    src: str
    dst: str
    allowed: dict[str, object]


def class_connections(an: Analysis) -> list[ClassConnection]:
    """Every pair of classes with some allowed traffic, as port sets per protocol."""
    grouped: dict[tuple[int, int], list[tuple[str, int, int]]] = {}
    for s, d, p, lo, hi in an.engine.ask("allowed", None, None, None, None, None):
        grouped.setdefault((s, d), []).append((p, lo, hi))
    classes = an.facts.classes
    out = [ClassConnection(classes[s], classes[d], port_sets(t)) for (s, d), t in grouped.items()]
    out.sort(key=lambda c: (c.src.id, c.dst.id))
    return out


def names(cls: EndpointClass) -> list[str]:
    """The endpoint names a class stands for in a map (unmentioned external atoms stand for none)."""
    if cls.external is not None:
        if not cls.external.mentioned:
            return []
        return [f"cidr:{n}" for n in prefixes(cls.external.family, cls.external.lo, cls.external.hi)]
    return [ep.ref for ep in cls.members]


def connections(an: Analysis) -> list[Connection]:
    out: list[Connection] = []
    for cc in class_connections(an):
        for s in names(cc.src):
            for d in names(cc.dst):
                if s != d:
                    out.append(Connection(s, d, cc.allowed))
    out.sort(key=lambda c: (c.src, c.dst))
    return out
