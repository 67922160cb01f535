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

from dataclasses import dataclass, field, replace

import z3

from reasoner.analysis import Analysis, analyse, distinguishing
from reasoner.errors import UsageError
from reasoner.facts.classes import EndpointClass
from reasoner.model.cidr import Cidr, ip_text
from reasoner.model.ports import PORTED
from reasoner.progress import counted
from reasoner.properties import DEFAULT_BUDGET
from reasoner.properties.encode import Encoding, Flow
from reasoner.properties.kinds import TooMany
from reasoner.properties.label_tests import DST, SRC, collect_tests, project, spec_tests
from reasoner.properties.spec import Peer, PortRange, Requirement, Spec
from reasoner.properties.universe import NewPod, Side, build_sides
from reasoner.query.can import can, other_protocol_number
from reasoner.query.verdict import Verdict
from reasoner.results import Status, Witness


class SemanticsMismatch(AssertionError):
    """The z3 encoding and the Datalog verdict disagree on a flow: a defect of ours, never of the input."""


@dataclass
class Result:
    requirement: Requirement
    status: Status
    scope: str
    witness: Witness | None = None
    verdict: Verdict | None = None
    message: str = ""
    extra: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # peers that denote nothing: the result may hold vacuously

    def passed(self, strict: bool = False) -> bool:
        """Proved, and under `strict` without warnings."""
        return self.status == Status.PROVED and not (strict and self.warnings)


def _ip(family: int, value: int) -> str:
    """`ip:ADDRESS` of the family (an IPv6 address below 2**32 is still IPv6)."""
    return f"ip:{ip_text(family, value)}"


class _Members:
    """Which endpoints (and addresses) of each class a peer denotes."""

    def __init__(self, an: Analysis):
        self.an = an
        self._held: set[tuple[int, int]] | None = None

    def address(self, family: int, lo: int, hi: int) -> list[str]:
        """An address of lo..hi as [ip:...], the first that no endpoint holds (an endpoint's address names the
        endpoint, not the address block); none when endpoints hold them all."""
        if self._held is None:
            from reasoner.model.cidr import ip_int

            self._held = {ip_int(ip) for ep in self.an.cluster.endpoints for ip in ep.ips}
        v = lo
        while v <= hi and (family, v) in self._held:
            v += 1
        return [_ip(family, v)] if v <= hi else []

    def names(self, peer: Peer, cls: EndpointClass) -> list[str]:
        """The endpoint names of `cls` that `peer` denotes (for an address atom: one address, as ip:...)."""
        if cls.external is not None:
            if peer.any:
                return self.address(cls.external.family, cls.external.lo, cls.external.hi)
            if peer.cidrs is None or any(v is not None for v in (peer.namespace, peer.namespace_selector,
                                                                 peer.selector, peer.service_account, peer.pods,
                                                                 peer.service)):
                return []
            for c in peer.cidrs:
                lo, hi = max(c.lo, cls.external.lo), min(c.hi, cls.external.hi)
                if c.family == cls.external.family and lo <= hi:
                    found = self.address(cls.external.family, lo, hi)
                    if found:
                        return found
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
                    end = min([c.lo - 1 for c in peer.cidrs if c.family == fam and v < c.lo <= hi] + [hi])
                    found = self.address(fam, v, end)
                    if found:
                        return found
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
        if pr.protocol in PORTED:
            terms.append(z3.And(enc.P == idx, enc.Port >= pr.lo, enc.Port <= pr.hi))
        else:
            terms.append(enc.P == idx)
    return z3.Or(terms)


class Prover:
    def __init__(self, an: Analysis, timeout_ms: int = 10_000, new_pods: dict[str, NewPod] | None = None):
        """`new_pods`: in any-workload scope, the representative pods that `an` holds besides the inventory."""
        self.an = an
        self.new_pods = new_pods or {}
        self._encodings: dict[tuple, Encoding] = {}
        self.members = _Members(an)
        self.timeout_ms = timeout_ms

    def encoding(self, sources=None, destinations=None) -> Encoding:
        """The z3 encoding of the flows from the class ids `sources` to `destinations` (None: every class)."""
        key = tuple(None if ids is None else frozenset(ids) for ids in (sources, destinations))
        enc = self._encodings.get(key)
        if enc is None:
            enc = self._encodings[key] = Encoding(self.an, None, sources, destinations)
        return enc

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
                ports: tuple[PortRange, ...] | None) -> tuple[Witness, Verdict]:
        """Name the flow (a: candidate sources, b: candidate destinations, distinct; `ports`: the requirement's)
        and replay it in Datalog."""
        a, b = (sorted(names, key=lambda n: n in self.new_pods) for names in (a, b))  # today's endpoints first
        src_name, dst_name = next((x, y) for x in a for y in b if x != y)
        port = flow.port
        proto = flow.protocol if flow.protocol != "OTHER" else self._unlisted(ports)
        icmp = proto in ("ICMP", "ICMPv6")
        v = can(self.an, src_name, dst_name, proto, None if icmp or proto not in PORTED else port,
                port // 256 if icmp and port != 65535 else None, port % 256 if icmp and port != 65535 else None)
        if v.allowed != expect_allowed:
            raise SemanticsMismatch(f"z3 says {'allowed' if expect_allowed else 'denied'} for {src_name} -> "
                                    f"{dst_name} {proto}/{port}, the Datalog verdict says the opposite")
        return Witness(src_name, dst_name, proto, port if proto in PORTED else None), v

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
            new = {n: self.new_pods[n].describe() for n in (result.witness.src, result.witness.dst)
                   if n in self.new_pods}
            if new:
                result.witness = replace(result.witness, new_pods=new)
        if result.extra.get("endpoint") in self.new_pods:
            result.extra["newPod"] = self.new_pods[result.extra["endpoint"]].describe()
        return result

    def _check(self, req: Requirement, scope: str) -> Result:
        if req.kind == "isolated":
            return self._isolated(req, scope)
        m = self.members
        src_names = (lambda c: m.outside(req.src, c)) if req.kind == "only" else (lambda c: m.names(req.src, c))
        dst_names = (lambda c: m.outside(req.dst, c)) if req.kind == "only-out" else (lambda c: m.names(req.dst, c))
        src_ids = {c.id for c in self.an.facts.classes if src_names(c)}
        dst_ids = {c.id for c in self.an.facts.classes if dst_names(c)}
        # the whole map once for a spec of several requirements over today's endpoints; in any-workload scope
        # (a universe per requirement) only the requirement's pairs
        enc = self.encoding(src_ids, dst_ids) if self.new_pods else self.encoding()
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
        if status == "sat" and self.new_pods:  # a witness among today's endpoints reads best, then with one of them
            today = {c.id for c in self.an.facts.classes if any(ep.ref not in self.new_pods for ep in c.members)
                     or c.external is not None}
            for prefer in (z3.And(enc.in_set(enc.S, today), enc.in_set(enc.D, today)),
                           z3.Or(enc.in_set(enc.S, today), enc.in_set(enc.D, today))):
                better, found = self._solve(*base, *goal, prefer)
                if better == "sat":
                    model = found
                    break
        if status == "unsat":
            return Result(req, Status.PROVED, scope, message=f"no {what.split(' ', 1)[1]} exists")
        if status == "unknown":
            return Result(req, Status.UNKNOWN, scope, message=f"solver gave up: {model}")
        flow = enc.decode(model)
        w, v = self.witness(flow, src_names(flow.src), dst_names(flow.dst), expect, req.ports)
        return Result(req, Status.VIOLATED, scope, w, v, f"{what}: {w}")

    def _isolated(self, req: Requirement, scope: str) -> Result:
        e = self.an.engine
        for cls in self.an.facts.classes:
            if cls.external is not None or cls.host_network or not self.members.names(req.selected, cls):
                continue
            for d in req.directions:
                if e.holds("isolated", cls.id, d):
                    continue
                enc = self.encoding(None, {cls.id}) if d == "ingress" else self.encoding({cls.id}, None)
                var, other = (enc.D, enc.S) if d == "ingress" else (enc.S, enc.D)
                named = {c.id for c in self.an.facts.classes if self.members.names(Peer(), c)}
                status, model = self._solve(enc.domain({c.id for c in self.an.facts.classes if len(c.members) > 1}),
                                            _ports(enc, req.ports), var == cls.id, enc.in_set(other, named),
                                            enc.allowed)
                name = min(self.members.names(req.selected, cls), key=lambda n: n in self.new_pods)
                msg = f"{name} has no policy for {d}: nothing isolates it"
                if status == "sat":
                    flow = enc.decode(model)
                    if d == "ingress":
                        w, v = self.witness(flow, self.members.names(Peer(), flow.src), [name], True, req.ports)
                    else:
                        w, v = self.witness(flow, [name], self.members.names(Peer(), flow.dst), True, req.ports)
                    return Result(req, Status.VIOLATED, scope, w, v, f"{msg}; it accepts {w}",
                                  {"endpoint": name, "direction": d})
                return Result(req, Status.VIOLATED, scope, None, None, msg, {"endpoint": name, "direction": d})
        return Result(req, Status.PROVED, scope, message="every selected endpoint is isolated")


def sides(req: Requirement, tests: list, services: dict) -> list[Side]:
    """The new pods a requirement needs, end by end (universe.Side): for `from`→`to` requirements, the pods
    that could be a flow's source (in `from`, or outside it for `only`) told apart by what decides a flow into
    `to`, and the pods that could be its destination, told apart by what decides a flow from `from`; for
    `isolated`, the selected pods told apart by which policies apply to them."""
    def own(peer: Peer) -> list:
        return spec_tests([peer], services)

    def where(peer: Peer, outside: bool) -> frozenset[str] | None:
        return frozenset({peer.namespace}) if peer.namespace is not None and not outside else None

    if req.kind == "isolated":
        roles = [DST if d == "ingress" else SRC for d in req.directions]
        return [Side([t for r in roles for t in project(tests, r, None, subjects_only=True)] + own(req.selected),
                     req.selected)]
    src_out, dst_out = req.kind == "only", req.kind == "only-out"
    out = [Side(project(tests, SRC, where(req.dst, dst_out)) + own(req.src), req.src, src_out),
           Side(project(tests, DST, where(req.src, src_out)) + own(req.dst), req.dst, dst_out)]
    for peer, outside in ((req.src, src_out), (req.dst, dst_out)):
        if outside:  # a pod inside the peer, so that a peer that some new pod could match is not said to match none
            out.append(Side(own(peer), peer))
    return out


def prove(an: Analysis, spec: Spec, timeout_ms: int = 10_000, budget: float = DEFAULT_BUDGET) -> list[Result]:
    """`timeout_ms`: for each requirement's z3 check; `budget`: seconds for finding, in any-workload scope, the
    pods that could be deployed for a requirement (when it runs out, that requirement is unknown).

    In any-workload scope each requirement gets its own representatives (`sides`): only the tests that can decide
    its flows tell them apart, so their number follows the requirement, not the product of every test of the
    input. The requirements are then independent: on a machine with several cores they are proved side by side,
    in forked processes (`REASONER_JOBS` sets how many; 1: one after the other, here)."""
    if spec.scope != "any-workload":  # the classes must hold the labels the spec's selectors test, as the policies'
        prover = Prover(distinguishing(an, spec.pod_selectors()), timeout_ms)
        return [prover.check(req, spec.scope) for req in counted("proving", spec.requirements)]
    global _JOB
    _JOB = (an, spec, timeout_ms, budget, collect_tests(an.cluster), {s.ref: s.selector for s in an.cluster.services})
    try:
        jobs = min(_jobs(), len(spec.requirements))
        if jobs > 1:
            import multiprocessing

            with multiprocessing.get_context("fork").Pool(jobs) as pool:
                return list(counted("proving", pool.imap(_prove_one, range(len(spec.requirements)), chunksize=1),
                                    len(spec.requirements)))
        return [_prove_one(i) for i in counted("proving", range(len(spec.requirements)))]
    finally:
        _JOB = None


_JOB: tuple | None = None  # what `_prove_one` works on (a forked process inherits it)


def _jobs() -> int:
    import multiprocessing
    import os

    value = os.environ.get("REASONER_JOBS", "")
    if value.isdigit() and int(value) > 0:
        return int(value)
    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _prove_one(index: int) -> Result:
    """Requirement `index` of the spec of `_JOB`, over its own representatives of the pods that could be deployed."""
    assert _JOB is not None
    an, spec, timeout_ms, budget, tests, services = _JOB
    req = spec.requirements[index]
    try:
        universe = build_sides(an.cluster, sides(req, tests, services), spec.pod_cidrs, budget=budget)
    except TooMany as exc:  # no guess: the requirement is unknown, and says why
        return Result(req, Status.UNKNOWN, spec.scope, message=str(exc))
    peers = [p for p in (req.src, req.dst, req.selected) if p.selector is not None]
    wide = analyse(universe.cluster, [p.selector for p in peers], transient=True)
    try:
        return Prover(wide, timeout_ms, universe.new_pods).check(req, spec.scope)
    finally:
        wide.engine.close()  # frees it before the next requirement's
