"""The connectivity map: from the bulk plan's pairs of classes (reasoner/plan.py) to pairs of endpoints.

Classes expand to their member endpoints (a pod never appears with itself), or to the workloads or namespaces
whose members all agree (`Map`). The outside world is always in the map: for each class and direction, the
external address atoms it exchanges the same traffic with are merged into the fewest CIDR prefixes
(`Addresses`), the endpoints' own addresses counting as either (they are shown as the endpoints).
"""

from __future__ import annotations

import bisect
import ipaddress
from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Iterator

from reasoner.api import Analysis
from reasoner.errors import UsageError
from reasoner.facts.classes import EndpointClass
from reasoner.facts.emit import PROTOCOLS
from reasoner.model.calico_selector import CalicoSelector
from reasoner.model.cidr import MAX, Cidr, ip_int, prefixes
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
    """The endpoint names a class stands for, one by one: an external atom's prefixes when some policy mentions
    it, else none (the map merges atoms: `Map`)."""
    if cls.external is not None:
        if not cls.external.mentioned:
            return []
        return [f"cidr:{n}" for n in prefixes(cls.external.family, cls.external.lo, cls.external.hi)]
    return [ep.ref for ep in cls.members]


def fewest_prefixes(ranges: Iterable[tuple[int, int, int]], spare: dict[int, list[tuple[int, int]]] | None = None
                    ) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """The fewest CIDR prefixes, by family and address, that cover the (family, lo, hi) ranges. `spare`: merged
    ranges per family of addresses that may be covered or not: a prefix may take them in, and one that holds
    nothing else is left out."""
    by_family: dict[int, list[tuple[int, int]]] = {}
    for fam, lo, hi in ranges:
        by_family.setdefault(fam, []).append((lo, hi))
    out = []
    for fam, wanted in sorted(by_family.items()):
        extra = (spare or {}).get(fam, [])
        starts = [lo for lo, _hi in extra]

        def only_spare(lo: int, hi: int) -> bool:
            k = bisect.bisect_right(starts, lo) - 1
            return k >= 0 and extra[k][1] >= hi
        for lo, hi in merge(wanted + extra):
            if not only_spare(lo, hi):
                out.extend(p for p in prefixes(fam, lo, hi)
                           if not only_spare(int(p.network_address), int(p.broadcast_address)))
    return out


def own_addresses(cluster) -> dict[int, list[tuple[int, int]]]:
    """The addresses the endpoints of `cluster` (pods, host endpoints) hold, merged per family: a merge of outside
    addresses may cover them or not (`fewest_prefixes`' spare), since they are shown as the endpoints."""
    out: dict[int, list[tuple[int, int]]] = {}
    for ep in [*cluster.endpoints, *cluster.host_endpoints]:
        for ip in ep.ips:
            fam, value = ip_int(ip)
            out.setdefault(fam, []).append((value, value))
    return {fam: merge(rs) for fam, rs in out.items()}


def addresses_text(nets: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> str:
    """Prefixes as a reader takes them in: `any address (0.0.0.0/0)` for all of each family, else per family the
    list, or the prefix that spans them `except` the ones between when that is shorter
    (`10.0.0.0/16 except 10.0.2.0/24`)."""
    by_family: dict[int, list] = {}
    for net in nets:
        by_family.setdefault(net.version, []).append(net)
    whole = {fam: ns[0] for fam, ns in by_family.items() if ns[0].prefixlen == 0}
    if len(whole) == len(by_family):
        return f"any address ({', '.join(str(n) for _f, n in sorted(whole.items()))})"
    parts = []
    for fam, ns in sorted(by_family.items()):
        if fam in whole:
            parts.append(f"any IPv{fam} address ({whole[fam]})")
            continue
        ranges = merge([(int(n.network_address), int(n.broadcast_address)) for n in ns])
        lo, hi = ranges[0][0], ranges[-1][1]
        bits = (lo ^ hi).bit_length()
        base = lo >> bits << bits
        covering = (ipaddress.IPv4Network if fam == 4 else ipaddress.IPv6Network)((base, MAX[fam].bit_length() - bits))
        holes = [p for a, b in complement([(a - base, b - base) for a, b in ranges], (1 << bits) - 1)
                 for p in prefixes(fam, base + a, base + b)]
        parts.append(f"{covering} except {', '.join(map(str, holes))}" if 1 + len(holes) < len(ns)
                     else ", ".join(map(str, ns)))
    return "; ".join(parts)


class Addresses(str):
    """A map end that stands for outside addresses: it reads as `addresses_text`, and `names` are its
    `cidr:PREFIX` endpoint names (the fewest prefixes)."""

    nets: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]

    def __new__(cls, nets: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> "Addresses":
        nets = tuple(nets)
        out = super().__new__(cls, addresses_text(nets))
        out.nets = nets
        return out

    @property
    def names(self) -> list[str]:
        return [f"cidr:{n}" for n in self.nets]

    def overlaps(self, cidr: Cidr) -> bool:
        return any(n.version == cidr.family and int(n.network_address) <= cidr.hi
                   and cidr.lo <= int(n.broadcast_address) for n in self.nets)


def end_names(end: str) -> list[str]:
    """The endpoint names a map end stands for: those of its prefixes for `Addresses`."""
    return end.names if isinstance(end, Addresses) else [end]


@dataclass(eq=False)
class Unit:
    """One end of a map row: an endpoint (a pod, a workload template, a host endpoint), or a workload or a
    namespace whose members all get the same traffic from and to every peer, and one member from another alike."""

    name: str
    namespace: str | None
    members: list
    classes: dict[int, int]  # class id -> how many members are in it
    inner: dict[str, object] | None = None  # what one member allows another

    @property
    def rep(self) -> int:
        return next(iter(self.classes))


@dataclass(frozen=True)
class Named:
    """What an endpoint name stands for in a map: endpoints (by name) and outside addresses."""

    refs: frozenset[str] = frozenset()
    nets: tuple[Cidr, ...] = ()

    def holds(self, end: Unit | Addresses) -> bool:
        if isinstance(end, Addresses):
            return any(end.overlaps(c) for c in self.nets)
        return any(ep.ref in self.refs for ep in end.members)


@dataclass(frozen=True)
class Focus:
    """The rows of a map to keep (each field None: any), and the part of their traffic to show: rows touching
    `namespace`, touching an endpoint that `selector` matches, with an end in `ends` (the other in `peers`; with
    `direction` "in" or "out", into or out of `ends`), that allow `protocol` (one the map lists) and `port`."""

    namespace: str | None = None
    selector: CalicoSelector | None = None
    ends: Named | None = None
    peers: Named | None = None
    direction: str | None = None
    protocol: str | None = None
    port: int | None = None


def named(an: Analysis, text: str) -> Named:
    """What a name stands for, read as `can` reads it (a pod, a workload template, a host endpoint, a workload's
    pods, a pod by DNS name, a service's backends, `ip:` and `cidr:` addresses); an unknown name is a UsageError
    with the nearest known names."""
    from reasoner.services import backends, check_endpoint, find_service, pod_by_dns, template, workload

    cluster = an.cluster
    check_endpoint(cluster, text)
    if text.startswith(("ip:", "cidr:")) and find_service(cluster, text, None) is None:  # a ClusterIP: its service
        return Named(nets=(Cidr.parse(text[5:]) if text.startswith("cidr:") else Cidr.of_ip(text[3:]),))
    ref = template(cluster, text) or text
    if cluster.endpoint(ref) is not None:
        return Named(frozenset({ref}))
    found = workload(cluster, ref)
    if found is not None:
        return Named(frozenset(found.pods))
    pod = pod_by_dns(cluster, ref)
    if pod is not None:
        return Named(frozenset({pod}))
    return Named(frozenset(ep.ref for ep in backends(cluster, find_service(cluster, ref, None))))


def make_focus(an: Analysis, namespace: str | None = None, selector: str | None = None, ends: str | None = None,
               peers: str | None = None, direction: str | None = None, protocol: str | None = None,
               port: int | None = None) -> Focus:
    """A `Focus` from what a user wrote, each part checked (a UsageError names the one that is wrong)."""
    import difflib

    from reasoner.model.calico import parse_protocol
    from reasoner.model.calico_selector import SelectorSyntaxError, parse_selector

    if (peers is not None or direction is not None) and ends is None:
        raise UsageError(f"{'--peer' if peers is not None else '--direction'} needs --focus ENDPOINT")
    if namespace is not None:
        known = sorted({*an.cluster.namespaces, *(ep.namespace for ep in an.cluster.endpoints)})
        if namespace not in known:
            close = difflib.get_close_matches(namespace, known, n=3)
            raise UsageError(f"unknown namespace {namespace!r}" + (f"; did you mean {' or '.join(close)}?" if close
                                                                   else f" (known: {', '.join(known) or 'none'})"))
    sel = None
    if selector is not None:
        try:
            sel = parse_selector(selector)
        except SelectorSyntaxError as exc:
            raise UsageError(f"bad selector {selector!r}: {exc}") from None
    shown = None
    if protocol is not None:
        asked = parse_protocol(protocol)
        if asked is None:
            raise UsageError(f"unknown protocol {protocol!r} (want TCP, UDP, SCTP, ICMP, ICMPv6, UDPLite or 0-255)")
        if port is not None and asked not in PORTED:
            raise UsageError(f"{asked} has no ports (give --protocol {asked} without --port)")
        shown = asked if asked in an.facts.protocols else "OTHER"  # policies treat the rest alike
    if port is not None and not 1 <= port <= 65535:
        raise UsageError(f"port {port} is out of range (want 1-65535)")
    return Focus(namespace, sel, named(an, ends) if ends is not None else None,
                 named(an, peers) if peers is not None else None, direction, shown, port)


class Map:
    """The connectivity map of an analysis in one view (`pod`, `workload` or `namespace`: see `Unit`), from its
    class-level connections: `units` are its ends, `rows` its connections. `among`: the endpoints (by name) that
    `units` group, when not every one."""

    def __init__(self, an: Analysis, view: str = "pod", among: frozenset[str] | None = None):
        self.an = an
        self.view = view
        self.among = among
        self.out: dict[int, dict[int, dict[str, object]]] = {}  # source class -> destination class -> allowed
        self.into: dict[int, dict[int, dict[str, object]]] = {}
        atoms: dict[tuple[str, int], list] = {}  # (direction, class) -> [(atom, allowed)]
        for cc in class_connections(an):
            if cc.src.external is not None:
                atoms.setdefault(("in", cc.dst.id), []).append((cc.src.external, cc.allowed))
            elif cc.dst.external is not None:
                atoms.setdefault(("out", cc.src.id), []).append((cc.dst.external, cc.allowed))
            else:
                self.out.setdefault(cc.src.id, {})[cc.dst.id] = cc.allowed
                self.into.setdefault(cc.dst.id, {})[cc.src.id] = cc.allowed
        self.size = {c.id: len(c.members) for c in an.facts.classes}
        self._keys: dict[int, tuple] = {}
        self.addresses = self._merge(atoms)
        self.units = self._units()

    def key(self, allowed: dict[str, object] | None) -> tuple | None:
        """`allowed` as a value to compare (None: nothing)."""
        if allowed is None:
            return None
        out = self._keys.get(id(allowed))
        if out is None:
            out = self._keys[id(allowed)] = tuple((p, v if v == ALL else tuple(v)) for p, v in allowed.items())
        return out

    def _merge(self, atoms: dict[tuple[str, int], list]) -> dict[tuple[str, int], list[tuple[Addresses, dict]]]:
        """For each class and direction, the atoms it exchanges the same traffic with, as `Addresses` (the
        endpoints' own addresses spare); one merge for each set of atoms."""
        spare = own_addresses(self.an.cluster)
        merged: dict[tuple[int, ...], Addresses | None] = {}
        out: dict[tuple[str, int], list[tuple[Addresses, dict]]] = {}
        for end, pairs in atoms.items():
            alike: dict[tuple, tuple[dict, list]] = {}
            for atom, allowed in pairs:
                alike.setdefault(self.key(allowed), (allowed, []))[1].append(atom)
            groups = []
            for allowed, group in alike.values():
                ids = tuple(a.id for a in group)
                if ids not in merged:
                    nets = fewest_prefixes([(a.family, a.lo, a.hi) for a in group], spare)
                    merged[ids] = Addresses(nets) if nets else None
                if merged[ids] is not None:
                    groups.append((merged[ids], allowed))
            out[end] = sorted(groups, key=lambda g: g[0])
        return out

    def agree(self, classes: dict[int, int]) -> tuple[bool, dict[str, object] | None]:
        """Whether members in `classes` (class -> how many) get the same traffic from and to every endpoint
        outside them and every outside address, and one member from another alike; and what that is."""
        cs = list(classes)
        inner: set = set()
        first: tuple[int, int] | None = None  # a pair of members: what one sends the other is the unit's inner
        for a in cs:  # one member to another: alike for every pair (stops at the first that differs)
            for b in cs:
                if a != b or classes[a] > 1:
                    first = first or (a, b)
                    inner.add(self.key(self.out.get(a, {}).get(b)))
                    if len(inner) > 1:
                        return False, None
        if len(cs) > 1:
            for table in (self.out, self.into):
                for d in {d for c in cs for d in table.get(c, ())}:
                    if self.size[d] > classes.get(d, 0) and len({self.key(table.get(c, {}).get(d)) for c in cs}) > 1:
                        return False, None
            for direction in ("out", "in"):
                if len({tuple((a.nets, self.key(v)) for a, v in self.addresses.get((direction, c), ()))
                        for c in cs}) > 1:
                    return False, None
        return True, self.out.get(first[0], {}).get(first[1]) if first else None

    def _units(self) -> list[Unit]:
        from reasoner.services import owner_chain

        an = self.an
        class_of = an.facts.class_of

        def group(name: str, namespace: str | None, members: list) -> Unit | None:
            classes = dict(Counter(class_of[ep.ref].id for ep in members))
            ok, inner = self.agree(classes)
            return Unit(name, namespace, members, classes, inner) if ok else None

        def one(ep) -> Unit:
            return Unit(ep.ref, ep.namespace, [ep], {class_of[ep.ref].id: 1})

        def by_workload(members: list) -> list[Unit]:
            if self.view == "pod":
                return [one(ep) for ep in members]
            owned: dict[tuple[str, str, str], list] = {}
            out = []
            for ep in members:
                chain = owner_chain(an.cluster, ep) if ep.kind == "Pod" else []
                if chain:
                    owned.setdefault((ep.namespace, *chain[-1]), []).append(ep)
                else:
                    out.append(one(ep))
            for (ns, kind, name), pods in owned.items():
                unit = group(f"{ns}/{name}[{kind}]", ns, pods)
                out.extend([unit] if unit is not None else [one(ep) for ep in pods])
            return out

        units = [one(hep) for hep in an.cluster.host_endpoints]
        endpoints = [ep for ep in an.cluster.endpoints if self.among is None or ep.ref in self.among]
        if self.view != "namespace":
            return sorted(units + by_workload(endpoints), key=_order)
        spaces: dict[str, list] = {}
        for ep in endpoints:
            spaces.setdefault(ep.namespace, []).append(ep)
        for ns, members in spaces.items():
            unit = group(f"{ns}/*", ns, members)
            units.extend([unit] if unit is not None else by_workload(members))
        return sorted(units, key=_order)

    def rows(self, focus: Focus | None = None) -> Iterator[Connection]:
        """The connections between units and with outside addresses, by source then destination (endpoints before
        addresses), made one source at a time (a map of a million rows is written as it is made, not held); with
        `focus`, only the rows it keeps, each with the part of its traffic it shows."""
        keep = _Keep(self.an, focus) if focus is not None else None
        by_rep: dict[int, list[Unit]] = {}
        for u in self.units:
            by_rep.setdefault(u.rep, []).append(u)
        incoming = []
        for u in self.units:
            ends: list[tuple[Unit | Addresses, dict]] = [
                (v, allowed) for d, allowed in self.out.get(u.rep, {}).items() for v in by_rep.get(d, ()) if v is not u]
            if u.inner:
                ends.append((u, u.inner))
            ends.extend(self.addresses.get(("out", u.rep), ()))
            incoming.extend((a, u, allowed) for a, allowed in self.addresses.get(("in", u.rep), ()))
            ends.sort(key=lambda e: _order(e[0]))
            for v, allowed in ends:
                row = _row(u, v, allowed, keep)
                if row is not None:
                    yield row
        incoming.sort(key=lambda r: (r[0], _order(r[1])))
        for a, u, allowed in incoming:
            row = _row(a, u, allowed, keep)
            if row is not None:
                yield row


def _order(end: Unit | Addresses) -> tuple[bool, str, str]:
    """Endpoints by name (a workload by its name before its kind: `auth[Deployment]` before `auth-v2[…]`),
    then addresses."""
    if isinstance(end, Addresses):
        return (True, end, "")
    name, _, kind = end.name.partition("[")
    return (False, name, kind)


def _row(src: Unit | Addresses, dst: Unit | Addresses, allowed: dict, keep: _Keep | None) -> Connection | None:
    if keep is not None:
        allowed = keep(src, dst, allowed)
        if not allowed:
            return None
    return Connection(src if isinstance(src, Addresses) else src.name,
                      dst if isinstance(dst, Addresses) else dst.name, allowed)


class _Keep:
    """A `Focus` as a function of a row: the part of its traffic to show, or None to leave it out."""

    def __init__(self, an: Analysis, focus: Focus):
        from reasoner.repl import calico_view

        self.focus = focus
        self.fb = an.facts
        self.calico_view = calico_view
        self._matches: dict[int, bool] = {}
        self._parts: dict[int, dict] = {}

    def matches(self, end: Unit | Addresses) -> bool:
        if isinstance(end, Addresses):
            return False
        out = self._matches.get(id(end))
        if out is None:
            fb = self.fb
            out = self._matches[id(end)] = any(
                self.focus.selector.matches(self.calico_view(fb, fb.class_of[ep.ref], ep)) for ep in end.members)
        return out

    def __call__(self, src: Unit | Addresses, dst: Unit | Addresses, allowed: dict) -> dict | None:
        f = self.focus
        if f.namespace is not None and f.namespace not in (getattr(src, "namespace", None),
                                                          getattr(dst, "namespace", None)):
            return None
        if f.selector is not None and not (self.matches(src) or self.matches(dst)):
            return None
        if f.ends is not None:
            out_of = f.ends.holds(src) and (f.peers is None or f.peers.holds(dst))
            into = f.ends.holds(dst) and (f.peers is None or f.peers.holds(src))
            if not (out_of if f.direction == "out" else into if f.direction == "in" else out_of or into):
                return None
        if f.protocol is None and f.port is None:
            return allowed
        part = self._parts.get(id(allowed))
        if part is None:
            part = self._parts[id(allowed)] = {
                p: [(f.port, f.port)] if f.port is not None else v for p, v in allowed.items()
                if (f.protocol is None or p == f.protocol) and (f.port is None or p in PORTED and (
                    v == ALL or any(lo <= f.port <= hi for lo, hi in v)))}  # type: ignore[union-attr]
        return part


def connections(an: Analysis, view: str = "pod", focus: Focus | None = None) -> list[Connection]:
    return list(connection_rows(an, view, focus))


def connection_rows(an: Analysis, view: str = "pod", focus: Focus | None = None) -> Iterator[Connection]:
    """`Map.rows` of the analysis in `view`."""
    return Map(an, view).rows(focus)
