"""The connectivity map: from the bulk plan's pairs of classes (reasoner/plan.py) to pairs of endpoints.

Classes expand to their member endpoints (a pod never appears with itself); external address atoms
that some ipBlock mentions expand to `cidr:` peers, one per CIDR prefix of the atom.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator

from reasoner.api import Analysis
from reasoner.facts.classes import EndpointClass
from reasoner.facts.emit import PROTOCOLS
from reasoner.model.cidr import prefixes
from reasoner.model.ranges import complement, merge

PORTED = ("TCP", "UDP", "SCTP")
ICMPS = ("ICMP", "ICMPv6")
ALL = "all"


def port_sets(tuples: list[tuple[str, int, int]], protocols: tuple[str, ...] = PROTOCOLS,
              members: dict[str, tuple[str, ...]] | None = None) -> dict[str, object]:
    """{protocol: "all" | [(lo, hi), ...]} from (proto, lo, hi) tuples where proto may be '*' (every protocol)
    or an engine protocol that stands for several (`members`). Only ports a flow can have (`flow_ports`); "all"
    when they are every one of them."""
    by_proto: dict[str, list[tuple[int, int]]] = {}
    for proto, lo, hi in tuples:
        for p in (protocols if proto == "*" else (members or {}).get(proto, (proto,))):
            by_proto.setdefault(p, []).append((lo, hi))
    out: dict[str, object] = {}
    for p in protocols:
        if p not in by_proto:
            continue
        ranges = flow_ports(p, merge(by_proto[p]))
        if not ranges:
            continue
        if ranges == [span(p)] or (p not in PORTED and p not in ICMPS):
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


def class_connections(an: Analysis, sources: Iterable[int] | None = None,
                      destinations: Iterable[int] | None = None) -> list[ClassConnection]:
    """Every pair of classes with some allowed traffic, as port sets per protocol (only from the class ids
    `sources` to `destinations`, when given).

    The bulk plan (reasoner/plan.py) composes the per-class relations of the rules with bitsets; a host endpoint's
    ends are composed per peer from its hooks (`_HostEnds`). The per-flow relation `flow_allowed` says the same for
    every single flow (tests/test_plan.py, tests/test_calico_crosscheck.py)."""
    classes = an.facts.classes
    protocols = an.facts.protocols
    members = an.facts.proto_members
    plan = _plan(an)
    shown: dict[int, dict[str, object]] = {}
    out = []
    def bits(ids):
        return None if ids is None else sum(1 << i for i in set(ids))

    for (s, d), ports in plan.pairs(bits(sources), bits(destinations)).items():
        allowed = shown.get(id(ports))
        if allowed is None:
            allowed = shown[id(ports)] = port_sets([(p, lo, hi) for p, ranges in ports.items() for lo, hi in ranges],
                                                   protocols, members)
        if allowed:
            out.append(ClassConnection(classes[s], classes[d], allowed))
    out.sort(key=lambda c: (c.src.id, c.dst.id))
    return out


def _plan(an: Analysis):
    """The bulk plan of `an` (kept with the analysis: its ends are evaluated when first needed), with the host
    endpoints' ends composed by `_HostEnds` when there are any."""
    from reasoner.plan import Plan

    plan = an.plans.get("map")
    if plan is None:
        plan = an.plans["map"] = Plan(an)
        if any(c.host for c in an.facts.classes):
            plan.host_end = _HostEnds(an, plan).allows
    return plan


def _intersect(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out = []
    for lo1, hi1 in a:
        for lo2, hi2 in b:
            lo, hi = max(lo1, lo2), min(hi1, hi2)
            if lo <= hi:
                out.append((lo, hi))
    return merge(out)


def minus(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The ports of `a` not in `b` (ranges within 0..65535)."""
    return _intersect(a, complement(b))


def span(proto: str) -> tuple[int, int]:
    """Every port a flow of `proto` can have: 1-65535 for TCP, UDP and SCTP; ICMP type*256+code, 0-65535; 0 for a
    protocol without ports."""
    return (1, 65535) if proto in PORTED else (0, 65535) if proto in ICMPS else (0, 0)


def flow_ports(proto: str, ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The ports of `ranges` a flow of a ported protocol can have: port atoms start at 0, but no TCP, UDP or SCTP
    flow has port 0."""
    return _intersect(ranges, [span(proto)]) if proto in PORTED else ranges


def _ranges_towards(items, q: int) -> dict[str, list[tuple[int, int]]]:
    """From a plan's [(ports, peers)] per protocol, the ports given to peer q."""
    out: dict[str, list[tuple[int, int]]] = {}
    for p, lst in items.items():
        ranges = [r for ports, peers in lst if peers >> q & 1 for r in ports]
        if ranges:
            out[p] = merge(ranges)
    return out


class _HostEnds:
    """What a host endpoint's ends allow (rules/hosts.dl `hep_in_ok`, `hep_out_ok`, composed over port ranges):
    failsafe ports; then untracked policy; then, inbound, a node port goes to its backends unless preDNAT policy
    denies it, other ports to preDNAT policy, then normal policy (tiers, profiles, the default Deny).

    With `pod_in` (the whole map), a node port's backends are checked from the per-end sets already at hand: each
    backend's ingress from the client (externalTrafficPolicy Local) or the host endpoint (Cluster) on its target
    port, and the forwarding host endpoint's applyOnForward policies (`fwd_in`) from the client. Without it (one
    `can` pair), the flow-level relation `np_blocked` answers, and the failsafe ports are asked per pair."""

    def __init__(self, an: Analysis, plan):
        e = an.engine
        self.plan = plan
        self.classes = {c.id for c in an.facts.classes if c.host}
        self.node_ports: dict[str, set[int]] = {}
        self.targets: dict[tuple[str, int], list[tuple[int, int, bool]]] = {}  # (P, node port) -> (B, TP, local)
        local = {sid for (sid,) in e.ask("svc_local", None)}
        for sid, p, port, b, tp in e.ask("np_target", None, None, None, None, None):
            self.node_ports.setdefault(p, set()).add(port)
            self.targets.setdefault((p, port), []).append((b, tp, sid in local))
        for p, port in e.ask("np_empty", None, None):  # no backend: rejected
            self.node_ports.setdefault(p, set()).add(port)
            self.targets.setdefault((p, port), [])
        self.families = {c.id: set(c.families) for c in an.facts.classes}
        self._admits: dict[tuple, bool] = {}  # (backend, seen source, protocol, target port) -> admitted
        self.failsafe: dict[tuple[int, str, int], list[tuple[str, int]]] = {}
        for h, d, q, p, port in e.ask("fs_ok", None, None, None, None, None):
            self.failsafe.setdefault((h, d, q), []).append((p, port))
        self.forward = {(h, b): f for f, h, b in e.ask("fwd", None, None, None)}
        self.forwarding = {f for f, _d in e.ask("ordered", None, "fwd_in")}

    def _decides(self, h: int, q: int, hook: str, p: str) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """(ports allowed, ports denied) of protocol p for peer q by the tiers of host endpoint h at a hook (the
        rest goes on to the next stage)."""
        if (h, hook) not in self.plan.ordered:
            return [], []
        allow, deny = [], []
        for ports, allowed, denied in self.plan.regions(h, hook).get(p, ()):
            if allowed >> q & 1:
                allow.extend(ports)
            elif denied >> q & 1:
                deny.extend(ports)
        return merge(allow), merge(deny)

    def _np_ok(self, h: int, q: int, p: str, port: int, pre_allowed: bool) -> bool:
        """Every backend behind node port p/port admits the forwarded flow from q through h (and there is one); the
        applyOnForward policies too, unless preDNAT policy allowed it."""
        if not self.targets[(p, port)]:
            return False
        for b, tp, local in self.targets[(p, port)]:
            seen = q if local else h
            if not self.families[b] & self.families[seen]:
                return False
            key = (b, seen, p, tp)
            ok = self._admits.get(key)
            if ok is None:
                ok = self._admits[key] = any(lo <= tp <= hi for lo, hi in
                                             (self.plan.towards(b, "ingress")[seen] or {}).get(p, ()))
            if not ok:
                return False
            f = self.forward.get((h, b))
            if not pre_allowed and f in self.forwarding and not any(
                    lo <= tp <= hi for lo, hi in _ranges_towards(self.plan.end(f, "fwd_in"), q).get(p, ())):
                return False
        return True

    def allows(self, h: int, q: int, direction: str) -> dict[str, list[tuple[int, int]]]:
        """What host endpoint h's `direction` end allows towards peer q, per protocol."""
        protocols = self.plan.protocols
        normal = _ranges_towards(self.plan.end(h, direction), q)
        failsafe: dict[str, list[tuple[int, int]]] = {}
        for p, port in self.failsafe.get((h, direction, q), []):
            failsafe.setdefault(p, []).append((port, port))
        out: dict[str, list[tuple[int, int]]] = {}
        for p in protocols:
            ua, ud = self._decides(h, q, "untracked_in" if direction == "ingress" else "untracked_out", p)
            rest = normal.get(p, [])
            if direction == "ingress":
                pa, pd = self._decides(h, q, "prednat_in", p)
                nps = [(n, n) for n in sorted(self.node_ports.get(p, ()))]
                open_nps = minus(nps, merge(pd + ud))  # the others are denied before DNAT
                np_ok = [(n, n) for lo, hi in open_nps for n in range(lo, hi + 1)
                         if self._np_ok(h, q, p, n, any(a <= n <= b for a, b in pa))]
                rest = merge(np_ok + minus(pa + minus(rest, pd), nps))
                ua = minus(ua, nps)  # an untracked Allow does not decide a node port (forwarded to a pod)
            ranges = merge(failsafe.get(p, []) + ua + minus(rest, ud))
            if ranges:
                out[p] = ranges
        return out


def class_connections_for(an: Analysis, s: int, d: int) -> dict[str, object]:
    """What one pair of classes allows (any port), as port sets per protocol."""
    ports = _plan(an).pair(s, d)
    return port_sets([(p, lo, hi) for p, ranges in ports.items() for lo, hi in ranges], an.facts.protocols,
                     an.facts.proto_members)


def names(cls: EndpointClass) -> list[str]:
    """The endpoint names a class stands for in a map (unmentioned external atoms stand for none)."""
    if cls.external is not None:
        if not cls.external.mentioned:
            return []
        return [f"cidr:{n}" for n in prefixes(cls.external.family, cls.external.lo, cls.external.hi)]
    return [ep.ref for ep in cls.members]


def connections(an: Analysis) -> list[Connection]:
    return list(connection_rows(an))


def connection_rows(an: Analysis) -> Iterator[Connection]:
    """The connections between endpoints, by source then destination name, made one source at a time (a map of a
    million rows is written as it is made, not held)."""
    by_src: dict[int, list[ClassConnection]] = {}
    for cc in class_connections(an):
        by_src.setdefault(cc.src.id, []).append(cc)
    shown: dict[int, list[str]] = {}

    def named(cls: EndpointClass) -> list[str]:
        out = shown.get(cls.id)
        if out is None:
            out = shown[cls.id] = names(cls)
        return out
    sources = sorted((name, c) for c, ccs in by_src.items() for name in named(ccs[0].src))
    for src, c in sources:
        rows = sorted((dst, cc.allowed) for cc in by_src[c] for dst in named(cc.dst) if dst != src)
        for dst, allowed in rows:
            yield Connection(src, dst, allowed)
