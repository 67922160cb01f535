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
from reasoner.model.ranges import merge

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


def class_connections(an: Analysis) -> list[ClassConnection]:
    """Every pair of classes with some allowed traffic, as port sets per protocol.

    Pairs whose ends are both decided by the union of Kubernetes rules (or not isolated) come whole from the
    Datalog relation `allowed`. A pair with an end decided by ordered (Calico) evaluation is assembled here
    from the per-end relations: `verdict_ord`/`nohit_verdict` for an ordered end, the grants for a union end;
    the flow-level relation `flow_allowed` says the same for every single flow (tests/test_calico_crosscheck.py).
    """
    grouped: dict[tuple[int, int], list[tuple[str, int, int]]] = {}
    for s, d, p, lo, hi in an.engine.ask("allowed", None, None, None, None, None):
        grouped.setdefault((s, d), []).append((p, lo, hi))
    protocols = an.facts.protocols
    for (s, d), tuples in _ordered_pairs(an).items():
        grouped[(s, d)] = tuples
    classes = an.facts.classes
    members = an.facts.proto_members
    out = [ClassConnection(classes[s], classes[d], port_sets(t, protocols, members)) for (s, d), t in grouped.items()]
    out = [c for c in out if c.allowed]
    out.sort(key=lambda c: (c.src.id, c.dst.id))
    return out


FULL = [(0, 65535)]


def _intersect(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out = []
    for lo1, hi1 in a:
        for lo2, hi2 in b:
            lo, hi = max(lo1, lo2), min(hi1, hi2)
            if lo <= hi:
                out.append((lo, hi))
    return merge(out)


def _complement(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out, at = [], 0
    for lo, hi in merge(ranges):
        if lo > at:
            out.append((at, lo - 1))
        at = hi + 1
    if at <= 65535:
        out.append((at, 65535))
    return out


def minus(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The ports of `a` not in `b` (ranges within 0..65535)."""
    return _intersect(a, _complement(b))


def span(proto: str) -> tuple[int, int]:
    """Every port a flow of `proto` can have: 1-65535 for TCP, UDP and SCTP; ICMP type*256+code, 0-65535; 0 for a
    protocol without ports."""
    return (1, 65535) if proto in PORTED else (0, 65535) if proto in ICMPS else (0, 0)


def flow_ports(proto: str, ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The ports of `ranges` a flow of a ported protocol can have: port atoms start at 0, but no TCP, UDP or SCTP
    flow has port 0."""
    return _intersect(ranges, [span(proto)]) if proto in PORTED else ranges


class _OrderedSide:
    """What an ordered end allows towards each peer, per protocol, from verdict_ord and nohit_verdict."""

    def __init__(self, an: Analysis, direction: str, subject: int | None = None):
        """All subjects of the direction, or only `subject` (a `can` question asks one pair)."""
        e = an.engine
        atoms = an.facts.port_atoms
        self.default = {s: a == "Allow" for s, _d, a in e.ask("nohit_verdict", subject, direction, None)}
        self.unit_of = {(s, q): g for s, _d, q, g in e.ask("unit", subject, direction, None, None)}
        units = set(self.unit_of.values())
        rows = (e.ask("verdict_ord", None, None, None, None) if subject is None
                else [row for g in units for row in e.ask("verdict_ord", g, None, None, None)])
        by_unit: dict[int, dict[str, tuple[bool, list, list]]] = {}
        for g, p, x, a in rows:
            if g not in units:
                continue  # a unit of the other direction
            rest, allow, touched = by_unit.setdefault(g, {}).setdefault(p, (False, [], []))
            if x == -1:
                by_unit[g][p] = (a == "Allow", allow, touched)
                continue
            _p, lo, hi = atoms[x]
            touched.append((lo, hi))
            if a == "Allow":
                allow.append((lo, hi))
        self.by_unit = by_unit
        self._cache: dict[object, dict[str, list[tuple[int, int]]]] = {}

    def allows(self, s: int, q: int, protocols: tuple[str, ...]) -> dict[str, list[tuple[int, int]]]:
        """Per protocol, the ports this end allows towards peer q (a dict shared by equal evaluations)."""
        g = self.unit_of.get((s, q))
        if g is None:
            g = self.unit_of.get((s, -2))  # the evaluation shared by peers no specific rule matches
        key: object = g if g is not None else ("default", bool(self.default.get(s)))
        out = self._cache.get(key)
        if out is not None:
            return out
        if g is None:
            out = {p: FULL for p in protocols} if self.default.get(s) else {}
        else:
            out = {}
            for p, (rest, allow, touched) in self.by_unit.get(g, {}).items():
                ranges = allow + (_complement(touched) if rest else [])
                if ranges:
                    out[p] = merge(ranges)
        self._cache[key] = out
        return out


class _HookSide:
    """What the tiers of one host endpoint hook decide towards each peer: per protocol, the ports they Allow and
    the ports they Deny (the rest goes on to the next stage), from `decided` (rules/tiers.dl)."""

    def __init__(self, an: Analysis, direction: str):
        e = an.engine
        atoms = an.facts.port_atoms
        self.unit_of = {(s, q): g for s, _d, q, g in e.ask("unit", None, direction, None, None)}
        units = set(self.unit_of.values())
        self.by_unit: dict[int, dict[str, tuple[str | None, list, list, list]]] = {}
        for g, p, x, a in e.ask("decided", None, None, None, None):
            if g not in units:
                continue
            rest, allow, deny, touched = self.by_unit.setdefault(g, {}).setdefault(p, (None, [], [], []))
            if x == -1:
                self.by_unit[g][p] = (a, allow, deny, touched)
                continue
            _p, lo, hi = atoms[x]
            (allow if a == "Allow" else deny).append((lo, hi))
        for g in units:  # the touched atoms, decided or not, bound the rest region
            for _g, p, x in e.ask("region", g, None, None):
                if x != -1:
                    self.by_unit.setdefault(g, {}).setdefault(p, (None, [], [], []))[3].append(atoms[x][1:])

    def decides(self, s: int, q: int, p: str) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """(ports allowed, ports denied) of protocol p for peer q of host endpoint s at this hook."""
        g = self.unit_of.get((s, q), self.unit_of.get((s, -2)))
        if g is None or p not in self.by_unit.get(g, {}):
            return [], []
        rest, allow, deny, touched = self.by_unit[g][p]
        others = _complement(touched)
        return (merge(allow + (others if rest == "Allow" else [])),
                merge(deny + (others if rest == "Deny" else [])))


class _HostEnds:
    """What a host endpoint's ends allow (rules/hosts.dl `hep_in_ok`, `hep_out_ok`, composed over port ranges):
    failsafe ports; then untracked policy; then, inbound, a node port goes to its backends unless preDNAT policy
    denies it, other ports to preDNAT policy, then normal policy (tiers, profiles, the default Deny).

    With `pod_in` (the whole map), a node port's backends are checked from the per-end sets already at hand: each
    backend's ingress from the client (externalTrafficPolicy Local) or the host endpoint (Cluster) on its target
    port, and the forwarding host endpoint's applyOnForward policies (`fwd_in`) from the client. Without it (one
    `can` pair), the flow-level relation `np_blocked` answers, and the failsafe ports are asked per pair."""

    def __init__(self, an: Analysis, normal: dict[str, _OrderedSide], pod_in=None):
        e = an.engine
        self.e = e
        self.classes = {c.id for c in an.facts.classes if c.host}
        self.normal = normal
        self.hooks = {d: _HookSide(an, d) for d in ("untracked_in", "untracked_out", "prednat_in")}
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
        self.pod_in = pod_in
        self._admits: dict[tuple, bool] = {}  # (backend, seen source, protocol, target port) -> admitted
        self.failsafe: dict[tuple[int, str, int], list[tuple[str, int]]] | None = None
        if pod_in is not None:
            self.failsafe = {}
            for h, d, q, p, port in e.ask("fs_ok", None, None, None, None, None):
                self.failsafe.setdefault((h, d, q), []).append((p, port))
            self.forward = {(h, b): f for f, h, b in e.ask("fwd", None, None, None)}
            self.forwarding = {f for f, _d in e.ask("ordered", None, "fwd_in")}
            self.fwd_side = _OrderedSide(an, "fwd_in") if self.forwarding else None

    def _np_ok(self, h: int, q: int, p: str, port: int, protocols: tuple[str, ...], pre_allowed: bool) -> bool:
        """Every backend behind node port p/port admits the forwarded flow from q through h (and there is one); the
        applyOnForward policies too, unless preDNAT policy allowed it."""
        if self.pod_in is None:
            return not self.e.holds("np_blocked", h, q, p, port)
        if not self.targets[(p, port)]:
            return False
        for b, tp, local in self.targets[(p, port)]:
            seen = q if local else h
            if not self.families[b] & self.families[seen]:
                return False
            key = (b, seen, p, tp)
            ok = self._admits.get(key)
            if ok is None:
                ok = self._admits[key] = any(lo <= tp <= hi for lo, hi in self.pod_in(b, seen).get(p, ()))
            if not ok:
                return False
            f = self.forward.get((h, b))
            if not pre_allowed and f in self.forwarding and not any(lo <= tp <= hi
                                                for lo, hi in self.fwd_side.allows(f, q, protocols).get(p, ())):
                return False
        return True

    def allows(self, h: int, q: int, direction: str, protocols: tuple[str, ...]) -> dict[str, list[tuple[int, int]]]:
        normal = self.normal[direction].allows(h, q, protocols)
        failsafe: dict[str, list[tuple[int, int]]] = {}
        rows = (self.failsafe.get((h, direction, q), []) if self.failsafe is not None else
                [(p, port) for _h, _d, _q, p, port in self.e.ask("fs_ok", h, direction, q, None, None)])
        for p, port in rows:
            failsafe.setdefault(p, []).append((port, port))
        out: dict[str, list[tuple[int, int]]] = {}
        for p in protocols:
            ua, ud = self.hooks["untracked_in" if direction == "ingress" else "untracked_out"].decides(h, q, p)
            rest = normal.get(p, [])
            if direction == "ingress":
                pa, pd = self.hooks["prednat_in"].decides(h, q, p)
                nps = [(n, n) for n in sorted(self.node_ports.get(p, ()))]
                open_nps = minus(nps, merge(pd + ud))  # the others are denied before DNAT
                np_ok = [(n, n) for lo, hi in open_nps for n in range(lo, hi + 1)
                         if self._np_ok(h, q, p, n, protocols, any(a <= n <= b for a, b in pa))]
                rest = merge(np_ok + minus(pa + minus(rest, pd), nps))
                ua = minus(ua, nps)  # an untracked Allow does not decide a node port (forwarded to a pod)
            ranges = merge(failsafe.get(p, []) + ua + minus(rest, ud))
            if ranges:
                out[p] = ranges
        return out


def _grant_sets(rows) -> dict[tuple[int, int], list[tuple[str, int, int]]]:
    out: dict[tuple[int, int], list[tuple[str, int, int]]] = {}
    for a, b, p, lo, hi, _r in rows:
        out.setdefault((a, b), []).append((p, lo, hi))
    return out


def _per_proto(tuples: list[tuple[str, int, int]], protocols: tuple[str, ...]) -> dict[str, list[tuple[int, int]]]:
    out: dict[str, list[tuple[int, int]]] = {}
    for p, lo, hi in tuples:
        for q in (protocols if p == "*" else (p,)):
            out.setdefault(q, []).append((lo, hi))
    return {p: merge(r) for p, r in out.items()}


def class_connections_for(an: Analysis, s: int, d: int) -> dict[str, object]:
    """What one pair of classes allows (any port), as port sets per protocol."""
    tuples = _ordered_pairs(an, only=(s, d)).get((s, d))
    if tuples is None:
        tuples = [(p, lo, hi) for _s, _d, p, lo, hi in an.engine.ask("allowed", s, d, None, None, None)]
    return port_sets(tuples, an.facts.protocols, an.facts.proto_members)


def _end(subject: int, peer: int, direction: str, ordered: set, side: _OrderedSide, open_ends: set,
         grants: dict, full: dict, protocols: tuple[str, ...],
         hosts: _HostEnds | None = None) -> tuple[dict[str, list[tuple[int, int]]], bool]:
    """What one end allows towards its peer, per protocol, and whether the dict is shared between pairs."""
    if hosts is not None and subject in hosts.classes:
        return hosts.allows(subject, peer, direction, protocols), False
    if (subject, direction) in ordered:
        return side.allows(subject, peer, protocols), True
    if subject in open_ends:
        return full, True
    return _per_proto(grants.get((subject, peer), []), protocols), False


def _ordered_pairs(an: Analysis, only: tuple[int, int] | None = None) -> dict[tuple[int, int], list[tuple[str, int, int]]]:
    e = an.engine
    ordered = {(s, d) for s, d in e.ask("ordered", None, None)}
    if not ordered:
        return {}
    protocols = tuple(an.facts.proto_members)  # the engine's protocols; port_sets expands them
    s0, d0 = only if only else (None, None)  # one pair (can): ask only its rows
    egress, ingress = _OrderedSide(an, "egress", s0), _OrderedSide(an, "ingress", d0)
    e_open = {c for (c,) in e.ask("egress_open", None)}
    i_open = {c for (c,) in e.ask("ingress_open", None)}
    e_grants = _grant_sets(e.ask("egress_grant", s0, d0, None, None, None, None))
    i_grants = _grant_sets(e.ask("ingress_grant", d0, s0, None, None, None, None))
    classes = an.facts.classes
    hosts = None
    if any(c.host for c in classes):
        def pod_in(b: int, x: int) -> dict[str, list[tuple[int, int]]]:  # a backend's ingress end towards x
            return _end(b, x, "ingress", ordered, ingress, i_open, i_grants, full, protocols)[0]
        hosts = _HostEnds(an, {"egress": egress, "ingress": ingress}, None if only else pod_in)
    out: dict[tuple[int, int], list[tuple[str, int, int]]] = {}
    full = {p: FULL for p in protocols}
    meets: dict[tuple[int, int], list[tuple[str, int, int]]] = {}  # intersections of shared dicts
    pairs = ((classes[only[0]], classes[only[1]]),) if only else ((a, b) for a in classes for b in classes)
    for src, dst in pairs:
        if True:
            s, d = src.id, dst.id
            if (s, "egress") not in ordered and (d, "ingress") not in ordered:
                continue
            if src.external is not None and dst.external is not None:
                continue
            if not set(src.families) & set(dst.families):
                continue
            e_set, e_shared = _end(s, d, "egress", ordered, egress, e_open, e_grants, full, protocols, hosts)
            if not e_set:
                continue
            i_set, i_shared = _end(d, s, "ingress", ordered, ingress, i_open, i_grants, full, protocols, hosts)
            shared = e_shared and i_shared
            key = (id(e_set), id(i_set))
            tuples = meets.get(key) if shared else None
            if tuples is None:
                tuples = [(p, lo, hi) for p in protocols if p in e_set and p in i_set
                          for lo, hi in _intersect(e_set[p], i_set[p])]
                if shared:
                    meets[key] = tuples
            if tuples:
                out[(s, d)] = tuples
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
