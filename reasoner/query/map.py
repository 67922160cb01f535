"""The connectivity map: from the bulk plan's pairs of classes (reasoner/plan.py) to pairs of endpoints.

Classes expand to their member endpoints (a pod never appears with itself), or to the workloads or namespaces
whose members all agree (`Map`). The outside world is always in the map: for each class and direction, the
external address atoms it exchanges the same traffic with are merged into the fewest CIDR prefixes
(`Addresses`), the endpoints' own addresses counting as either (they are shown as the endpoints).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Iterator

from reasoner.analysis import Analysis
from reasoner.errors import UsageError
from reasoner.facts.classes import EndpointClass
from reasoner.model.calico_selector import CalicoSelector
from reasoner.model.cidr import Cidr, prefixes
from reasoner.model.ports import ALL, PORTED, port_sets
from reasoner.query.addresses import Addresses, fewest_prefixes, own_addresses
from reasoner.query.hosts import HostEnds


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
    ends are composed per peer from its hooks (query/hosts.py `HostEnds`). The per-flow relation `flow_allowed` says the same for
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
    endpoints' ends composed by `HostEnds` (query/hosts.py) when there are any."""
    from reasoner.plan import Plan

    plan = an.plans.get("map")
    if plan is None:
        plan = an.plans["map"] = Plan(an)
        if any(c.host for c in an.facts.classes):
            plan.host_end = HostEnds(an, plan).allows
    return plan


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
    from reasoner.model.cluster import backends
    from reasoner.query.endpoints import check_endpoint, find_service, pod_by_dns, template, workload

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
        from reasoner.query.endpoints import owner_chain

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
        keep = Keep(self.an, focus) if focus is not None else None
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


def _row(src: Unit | Addresses, dst: Unit | Addresses, allowed: dict, keep: Keep | None) -> Connection | None:
    if keep is not None:
        allowed = keep(src, dst, allowed)
        if not allowed:
            return None
    return Connection(src if isinstance(src, Addresses) else src.name,
                      dst if isinstance(dst, Addresses) else dst.name, allowed)


class Keep:
    """A `Focus` as a function of a row: the part of its traffic to show, or None to leave it out."""

    def __init__(self, an: Analysis, focus: Focus):
        from reasoner.query.endpoints import calico_view

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
