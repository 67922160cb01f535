"""Compliance proofs: each requirement is a satisfiability question over every flow of the inventory.

`deny`: no allowed flow from→to on ports; `allow`: no denied one; `only`: no allowed flow to `to` on
ports from outside `from`; `isolated`: every selected endpoint has, in each listed direction, a policy
that applies to it. unsat is the proof; a model is the witness, replayed through the Datalog verdict
(`can`) before it is reported, so the two sides cannot drift unnoticed.

A proof about nothing is no proof: a peer (`from`, `to`, the endpoints `isolated` selects) that denotes
no endpoint or address of the input, or in any-workload scope none that exists or could be deployed,
is reported as a warning with the result (`prove --strict` fails on it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import z3

from reasoner.api import Analysis, analyse, distinguishing
from reasoner.errors import UsageError
from reasoner.explain import Verdict, can, other_protocol_number
from reasoner.facts.classes import EndpointClass
from reasoner.model.cidr import Cidr, ip_text
from reasoner.properties.encode import Encoding, Flow
from reasoner.properties.spec import Peer, PortRange, Requirement, Spec
from reasoner.properties import DEFAULT_BUDGET
from reasoner.properties.workloads import NewPod, TooMany, Universe, build_universe, spec_tests


class SemanticsMismatch(AssertionError):
    """The z3 encoding and the Datalog verdict disagree on a flow: a defect of ours, never of the input."""


@dataclass
class Result:
    requirement: Requirement
    status: str  # proved | violated | unknown
    scope: str
    witness: dict | None = None
    verdict: Verdict | None = None
    message: str = ""
    extra: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # peers that denote nothing: the result may hold vacuously

    def passed(self, strict: bool = False) -> bool:
        """Proved, and under `strict` without warnings."""
        return self.status == "proved" and not (strict and self.warnings)


def _ip(family: int, value: int) -> str:
    """`ip:ADDRESS` of the family (an IPv6 address below 2**32 is still IPv6)."""
    return f"ip:{ip_text(family, value)}"


class _Members:
    """Which endpoints (and addresses) of each class a peer denotes."""

    def __init__(self, an: Analysis):
        self.an = an

    def names(self, peer: Peer, cls: EndpointClass) -> list[str]:
        """The endpoint names of `cls` that `peer` denotes (for an address atom: one address, as ip:...)."""
        if cls.external is not None:
            if peer.any:
                return [_ip(cls.external.family, cls.external.lo)]
            if peer.cidrs is None or any(v is not None for v in (peer.namespace, peer.namespace_selector,
                                                                 peer.selector, peer.service_account, peer.pods,
                                                                 peer.service)):
                return []
            for c in peer.cidrs:
                lo, hi = max(c.lo, cls.external.lo), min(c.hi, cls.external.hi)
                if c.family == cls.external.family and lo <= hi:
                    return [_ip(cls.external.family, lo)]
            return []
        if not self._class_ok(peer, cls):
            return []
        out = []
        for ep in cls.members:
            if peer.pods is not None and ep.ref not in peer.pods:
                continue
            if peer.cidrs is not None and not any(c.contains(Cidr.of_ip(ip)) for c in peer.cidrs for ip in ep.ips):
                continue
            out.append(ep.ref)
        return out

    def outside(self, peer: Peer, cls: EndpointClass) -> list[str]:
        """The endpoint names of `cls` that `peer` does not denote (an address of an atom outside its cidrs)."""
        if cls.external is not None:
            if peer.any:
                return []
            if peer.cidrs is None:
                return self.names(Peer(), cls)
            fam, lo, hi = cls.external.family, cls.external.lo, cls.external.hi
            cuts = sorted({lo} | {c.hi + 1 for c in peer.cidrs if c.family == fam and lo <= c.hi < hi})
            for v in cuts:  # the first address of the atom that no cidr of the peer holds
                if not any(c.family == fam and c.lo <= v <= c.hi for c in peer.cidrs):
                    return [_ip(fam, v)]
            return []
        inside = set(self.names(peer, cls))
        return [ep.ref for ep in cls.members if ep.ref not in inside]

    def _class_ok(self, peer: Peer, cls: EndpointClass) -> bool:
        fb = self.an.facts
        if cls.host:  # a host endpoint: no namespace, service account or Service; its labels, its addresses
            if any(v is not None for v in (peer.namespace, peer.namespace_selector, peer.service_account,
                                           peer.service)):
                return False
            return peer.selector is None or peer.selector.matches(fb.calico_labels[cls.id])
        ns = self.an.cluster.namespaces[cls.namespace]
        if peer.namespace is not None and cls.namespace != peer.namespace:
            return False
        if peer.namespace_selector is not None:
            labels = {**dict(ns.labels), "projectcalico.org/name": ns.name}
            if not peer.namespace_selector.matches(labels):
                return False
        if peer.selector is not None and not peer.selector.matches(fb.calico_labels[cls.id]):
            return False
        if peer.service_account is not None and cls.members[0].service_account != peer.service_account:
            return False
        if peer.service is not None:
            svc = self.an.cluster.service(*peer.service.split("/", 1))
            if svc is None:
                raise UsageError(f"unknown service {peer.service!r} in a requirement (known: "
                                 f"{', '.join(sorted(s.ref for s in self.an.cluster.services)) or 'none'})")
            if not svc.selects(cls.namespace, dict(cls.labels)):
                return False
        return True


def _ports(enc: Encoding, ports: tuple[PortRange, ...] | None) -> z3.BoolRef:
    if ports is None:
        return z3.BoolVal(True)
    terms = []
    for pr in ports:
        idx = enc.proto_index.get(pr.protocol, enc.proto_index.get("OTHER"))
        if pr.protocol in ("TCP", "UDP", "SCTP"):
            terms.append(z3.And(enc.P == idx, enc.Port >= pr.lo, enc.Port <= pr.hi))
        else:
            terms.append(enc.P == idx)
    return z3.Or(terms)


class Prover:
    def __init__(self, an: Analysis, timeout_ms: int = 10_000, new_pods: dict[str, NewPod] | None = None):
        """`new_pods`: in any-workload scope, the representative pods that `an` holds besides the inventory."""
        self.an = an
        self.new_pods = new_pods or {}
        self.enc = Encoding(an)
        self.members = _Members(an)
        self.timeout_ms = timeout_ms

    def _same_class(self, a_names, b_names) -> set[int]:
        """Classes that hold two distinct endpoints, one of each side: flows inside such a class exist."""
        out = set()
        for c in self.an.facts.classes:
            a, b = a_names(c), b_names(c)
            if c.external is None and any(x != y for x in a for y in b):
                out.add(c.id)
        return out

    def _solve(self, *constraints: z3.BoolRef) -> tuple[str, z3.ModelRef | None]:
        s = z3.Solver()
        s.set(timeout=self.timeout_ms)
        s.add(*constraints)
        r = s.check()
        if r == z3.unsat:
            return "unsat", None
        if r == z3.sat:
            return "sat", s.model()
        return "unknown", s.reason_unknown()  # type: ignore[return-value]

    def witness(self, flow: Flow, a: list[str], b: list[str], expect_allowed: bool,
                ports: tuple[PortRange, ...] | None) -> tuple[dict, Verdict]:
        """Name the flow (a: candidate sources, b: candidate destinations, distinct; `ports`: the requirement's)
        and replay it in Datalog."""
        src_name, dst_name = next((x, y) for x in a for y in b if x != y)
        port = flow.port
        proto = flow.protocol if flow.protocol != "OTHER" else self._unlisted(ports)
        icmp = proto in ("ICMP", "ICMPv6")
        v = can(self.an, src_name, dst_name, proto, None if icmp or proto not in ("TCP", "UDP", "SCTP") else port,
                port // 256 if icmp and port != 65535 else None, port % 256 if icmp and port != 65535 else None)
        if v.allowed != expect_allowed:
            raise SemanticsMismatch(f"z3 says {'allowed' if expect_allowed else 'denied'} for {src_name} -> "
                                    f"{dst_name} {proto}/{port}, the Datalog verdict says the opposite")
        shown_port = port if proto in ("TCP", "UDP", "SCTP") else None
        return {"src": src_name, "dst": dst_name, "protocol": proto, "port": shown_port}, v

    def _unlisted(self, ports: tuple[PortRange, ...] | None) -> str:
        """A protocol of OTHER (those no rule names) that `ports` admits: one the requirement names, else any."""
        named = [pr.protocol for pr in ports or () if pr.protocol not in self.an.facts.protocols]
        return named[0] if named else other_protocol_number(self.an)

    def unmatched(self, req: Requirement, scope: str) -> list[str]:
        """A warning for each peer of `req` that denotes nothing. In any-workload scope the representatives of
        the pods that could be deployed count as well, so a selector that no pod of today matches but a new
        one could is no warning there; `pods:` names only existing pods, and `cidr:` always denotes addresses."""
        classes = self.an.facts.classes
        if req.kind == "isolated":  # as _isolated: workload and host endpoints, not host-network pods
            peers = [("isolated", req.selected, [c for c in classes if c.external is None and not c.host_network])]
        else:
            peers = [("from", req.src, classes), ("to", req.dst, classes)]
        where = "that exists or could be deployed" if scope == "any-workload" else "of the input"
        empty: dict[Peer, list[str]] = {}  # the same peer as `from` and `to` (--check isolation): one warning
        for role, peer, among in peers:
            if not any(self.members.names(peer, c) for c in among):
                empty.setdefault(peer, []).append(role)
        return [f"{' and '.join(roles)} ({peer}) match{'es' if len(roles) == 1 else ''} no endpoint {where}"
                for peer, roles in empty.items()]

    def check(self, req: Requirement, scope: str) -> Result:
        result = self._check(req, scope)
        result.warnings = self.unmatched(req, scope)
        if result.witness is not None and self.new_pods:
            new = {n: self.new_pods[n].describe() for n in (result.witness["src"], result.witness["dst"])
                   if n in self.new_pods}
            if new:
                result.witness["newPods"] = new
        if result.extra.get("endpoint") in self.new_pods:
            result.extra["newPod"] = self.new_pods[result.extra["endpoint"]].describe()
        return result

    def _check(self, req: Requirement, scope: str) -> Result:
        enc = self.enc
        if req.kind == "isolated":
            return self._isolated(req, scope)
        m = self.members
        src_names = (lambda c: m.outside(req.src, c)) if req.kind == "only" else (lambda c: m.names(req.src, c))
        dst_names = (lambda c: m.outside(req.dst, c)) if req.kind == "only-out" else (lambda c: m.names(req.dst, c))
        src_ids = {c.id for c in self.an.facts.classes if src_names(c)}
        dst_ids = {c.id for c in self.an.facts.classes if dst_names(c)}
        same = self._same_class(src_names, dst_names)
        base = [enc.domain(same), _ports(enc, req.ports), enc.in_set(enc.S, src_ids), enc.in_set(enc.D, dst_ids)]
        if req.kind == "deny":
            goal, expect, what = [enc.allowed], True, "an allowed flow"
        elif req.kind == "allow":
            goal, expect, what = [z3.Not(enc.allowed)], False, "a denied flow"
        elif req.kind == "only":  # every allowed flow to `to` comes from `from`
            goal, expect, what = [enc.allowed], True, "an allowed flow from elsewhere"
        else:  # only-out (built-in isolation check): every allowed flow from `from` goes to `to`
            goal, expect, what = [enc.allowed], True, "an allowed flow to elsewhere"
        status, model = self._solve(*base, *goal)
        if status == "unsat":
            return Result(req, "proved", scope, message=f"no {what.split(' ', 1)[1]} exists")
        if status == "unknown":
            return Result(req, "unknown", scope, message=f"solver gave up: {model}")
        flow = enc.decode(model)
        w, v = self.witness(flow, src_names(flow.src), dst_names(flow.dst), expect, req.ports)
        return Result(req, "violated", scope, w, v, f"{what}: {w['src']} -> {w['dst']} {w['protocol']}"
                      + (f"/{w['port']}" if w["port"] is not None else ""))

    def _isolated(self, req: Requirement, scope: str) -> Result:
        enc = self.enc
        e = self.an.engine
        for cls in self.an.facts.classes:
            if cls.external is not None or cls.host_network or not self.members.names(req.selected, cls):
                continue
            for d in req.directions:
                if e.holds("isolated", cls.id, d):
                    continue
                var = enc.D if d == "ingress" else enc.S
                status, model = self._solve(enc.domain({c.id for c in self.an.facts.classes if len(c.members) > 1}),
                                            _ports(enc, req.ports), var == cls.id, enc.allowed)
                name = self.members.names(req.selected, cls)[0]
                msg = f"{name} has no policy for {d}: nothing isolates it"
                if status == "sat":
                    flow = enc.decode(model)
                    if d == "ingress":
                        w, v = self.witness(flow, self.members.names(Peer(), flow.src), [name], True, req.ports)
                    else:
                        w, v = self.witness(flow, [name], self.members.names(Peer(), flow.dst), True, req.ports)
                    return Result(req, "violated", scope, w, v, msg + f"; it accepts {w['src']} -> {w['dst']} "
                                  f"{w['protocol']}" + (f"/{w['port']}" if w["port"] is not None else ""),
                                  {"endpoint": name, "direction": d})
                return Result(req, "violated", scope, None, None, msg, {"endpoint": name, "direction": d})
        return Result(req, "proved", scope, message="every selected endpoint is isolated")


def any_workload(an: Analysis, peers: list[Peer], pod_cidrs: list[Cidr] | None = None,
                 budget: float = DEFAULT_BUDGET) -> tuple[Analysis, Universe]:
    """The inventory plus a representative of every kind of pod that could be deployed (see workloads.py),
    analysed by the same rules. Raises TooMany when the kinds exceed what the engine is given to analyse,
    OutOfBudget (a TooMany) when finding them takes more than `budget` seconds."""
    services = {s.ref: s.selector for s in an.cluster.services}
    universe = build_universe(an.cluster, spec_tests(peers, services), pod_cidrs, budget=budget)
    return analyse(universe.cluster, [p.selector for p in peers if p.selector is not None]), universe


def prove(an: Analysis, spec: Spec, timeout_ms: int = 10_000, budget: float = DEFAULT_BUDGET) -> list[Result]:
    """`timeout_ms`: for each requirement's z3 check; `budget`: seconds for finding, in any-workload scope, the
    pods that could be deployed (when it runs out, every requirement is unknown)."""
    if spec.scope == "any-workload":
        peers = [p for r in spec.requirements for p in (r.src, r.dst, r.selected)]
        try:
            wide, universe = any_workload(an, peers, spec.pod_cidrs, budget)
        except TooMany as exc:  # no guess: every requirement is unknown, and says why
            return [Result(req, "unknown", spec.scope, message=str(exc)) for req in spec.requirements]
        prover = Prover(wide, timeout_ms, universe.new_pods)
    else:  # the classes must hold the labels the spec's selectors test, as they do those of the policies
        prover = Prover(distinguishing(an, spec.pod_selectors()), timeout_ms)
    return [prover.check(req, spec.scope) for req in spec.requirements]
