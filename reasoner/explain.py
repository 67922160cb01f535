"""`can`: the verdict for one flow (or one pair, for any port) and the rule chains that decide it.

The verdict comes from the Datalog relations `flow_allowed` (one port) or `allowed` (any port); the
chains list, for each end, the policies that isolate it and the rules that admit the flow.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Iterable

from reasoner.api import Analysis
from reasoner.errors import UsageError
from reasoner.facts.classes import EndpointClass
from reasoner.model.cidr import Cidr, ip_text
from reasoner.facts.emit import ICMP_ANY
from reasoner.model.admin import AdminPolicy
from reasoner.model.calico import PROTOCOL_NUMBERS, parse_protocol
from reasoner.model.policy import Direction, IPBlockPeer, NetworkPolicy, Rule


@dataclass(frozen=True)
class Target:
    """A resolved query endpoint: its display name and its class."""

    name: str
    cls: EndpointClass


@dataclass(frozen=True)
class RuleRef:
    policy: NetworkPolicy
    rule: Rule

    def to_json(self) -> dict:
        return {"policy": {"kind": self.policy.kind, "namespace": self.policy.namespace, "name": self.policy.name},
                "rule": {"direction": self.rule.direction.value, "index": self.rule.index},
                "file": self.rule.origin.file, "line": self.rule.origin.line}

    def __str__(self) -> str:
        return (f"{self.policy.kind} {self.policy.ref} {self.rule.direction.value}[{self.rule.index}] "
                f"({self.rule.origin})")


@dataclass(frozen=True)
class Step:
    """One step of an ordered evaluation: a tier and what it did (a rule's action, its default, or a Pass)."""

    tier: str
    action: str  # Allow, Deny, Pass, or Log (a Log rule that matched and let evaluation go on)
    rule: RuleRef | None  # None: the tier's defaultAction (end of tier), or the profile
    note: str = ""

    def to_json(self) -> dict:
        out = {"tier": self.tier, "action": self.action, "note": self.note}
        if self.rule is not None:
            out.update(self.rule.to_json())
        return out

    def __str__(self) -> str:
        where = str(self.rule) if self.rule is not None else self.note
        return f"tier {self.tier}: {self.action}  {where}"


@dataclass
class Side:
    """One end of the flow: egress at the source or ingress at the destination."""

    direction: str
    endpoint: str
    controlled: bool  # policies can apply here at all (a pod on the pod network)
    isolating: list[NetworkPolicy] = field(default_factory=list)
    allowing: list[RuleRef] = field(default_factory=list)
    allowed: bool = False
    notes: list[str] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)  # ordered (Calico) evaluation, when it applies

    def to_json(self) -> dict:
        return {"direction": self.direction, "endpoint": self.endpoint, "allowed": self.allowed,
                "steps": [st.to_json() for st in self.steps],
                "isolated": bool(self.isolating),
                "policies": [{"kind": p.kind, "namespace": p.namespace, "name": p.name,
                              "file": p.origin.file, "line": p.origin.line} for p in self.isolating],
                "allowed_by": [r.to_json() for r in self.allowing], "notes": self.notes}


@dataclass
class Verdict:
    src: str
    dst: str
    protocol: str | None
    port: int | None
    allowed: bool
    egress: Side
    ingress: Side
    ports: dict[str, object]  # any-port queries: what is allowed
    protocols: tuple[str, ...]  # the protocol classes of the analysis (see FactBase.protocols)

    def to_json(self) -> dict:
        out = {"allowed": self.allowed, "src": self.src, "dst": self.dst, "protocol": self.protocol,
               "port": self.port, "chain": {"egress": self.egress.to_json(), "ingress": self.ingress.to_json()}}
        if self.protocol is None:
            from reasoner.report.connectivity import allowed_json

            out["allowed_traffic"] = allowed_json(self.ports)
        return out


def resolve(an: Analysis, text: str) -> Target:
    """`NS/POD`, `ip:ADDRESS` or `cidr:PREFIX` (a prefix must lie in one address atom)."""
    fb = an.facts
    if text.startswith(("ip:", "cidr:")):
        value = text.split(":", 1)[1]
        try:
            net = Cidr.parse(value) if text.startswith("cidr:") else Cidr.of_ip(value)
        except ValueError:
            raise UsageError(f"{text!r}: not an IP address or CIDR") from None
        if net.lo == net.hi:
            for cls in fb.classes:  # an address that belongs to a pod is that pod
                for ep in cls.members:
                    if any(Cidr.of_ip(ip) == net for ip in ep.ips):
                        return Target(ep.ref, cls)
        lo_atom = fb.atoms.of_ip(ip_text(net.family, net.lo))
        hi_atom = fb.atoms.of_ip(ip_text(net.family, net.hi))
        if lo_atom.id != hi_atom.id:
            raise UsageError(f"{text!r} spans address ranges that policies treat differently; "
                             f"ask about a narrower prefix (e.g. cidr:{Cidr(lo_atom.family, lo_atom.lo, lo_atom.hi)})")
        return Target(text, next(c for c in fb.classes if c.external is not None and c.external.id == lo_atom.id))
    cls = fb.class_of.get(text)
    if cls is None:
        raise unknown_endpoint(text, fb.class_of)
    return Target(text, cls)


def unknown_endpoint(text: str, known: Iterable[str]) -> UsageError:
    """The error for a name that names no endpoint, with the nearest known names."""
    close = difflib.get_close_matches(text, list(known), n=3)
    if close:
        return UsageError(f"unknown endpoint {text!r}; did you mean {' or '.join(close)}?")
    return UsageError(f"unknown endpoint {text!r} (want NAMESPACE/POD, a workload NAMESPACE/NAME, hep:NAME, "
                      f"ip:ADDRESS, cidr:PREFIX, or a service as the destination)")


HOOKS = {"ingress": (("untracked_in", "untracked"), ("prednat_in", "preDNAT")),
         "egress": (("untracked_out", "untracked"),)}


def _host_side(an: Analysis, side: Side, direction: str, subject: Target, peer: Target,
               proto: str | None, port: int | None) -> None:
    """A host endpoint's end (rules/hosts.dl): failsafe ports, the untracked and preDNAT hooks, a node port's
    backends, then normal policy (tiers, profiles, the host endpoint default)."""
    e = an.engine
    c, q = subject.cls.id, peer.cls.id
    rel = "ingress_ok" if direction == "ingress" else "egress_ok"
    side.allowed = e.holds(rel, c, q, proto, port) if proto is not None else False
    if proto is None:
        side.notes.append("no flow between them is allowed")
        return
    if e.holds("fs_ok", c, direction, q, proto, port):
        side.steps.append(Step("(failsafe)", "Allow", None, f"{proto}/{port} is a Felix failsafe port "
                               f"({'inbound' if direction == 'ingress' else 'outbound'}): open whatever the policy"))
        return
    for hook, title in HOOKS[direction]:
        if not e.holds("ordered", c, hook):
            continue
        steps = _ordered_steps(an, hook, c, q, proto, port)
        if steps[-1].tier == "(next)":
            steps[-1] = Step(f"(end of {title} hook)", "Pass", None, "no tier of this hook decided: evaluation goes on")
        side.steps.extend(steps)
        if steps[-1].action == "Deny":
            return
        if steps[-1].action == "Allow":
            if e.holds("nodeport_at", proto, port):
                if hook == "untracked_in":  # forwarded to a pod: an untracked Allow has no useful effect (§4.9)
                    side.notes.append("the untracked Allow does not decide a node port: the packet goes on to "
                                      "preDNAT policy and DNAT (untracked policy has no useful effect on traffic "
                                      "forwarded to a pod)")
                    continue
                break  # on to DNAT and the backends; the applyOnForward policies are skipped
            side.notes.append(f"accepted by {title} policy: later host endpoint policy is skipped")
            if hook.startswith("untracked"):
                side.notes.append("untracked: the replies are not tracked either; the host endpoint's policy in "
                                  "the other direction must allow them too (not checked here)")
            return
    if direction == "ingress" and e.holds("nodeport_at", proto, port):
        _node_port_notes(an, side, subject, peer, proto, port)
        return
    side.steps.extend(_ordered_steps(an, direction, c, q, proto, port))


def _node_port_notes(an: Analysis, side: Side, subject: Target, peer: Target, proto: str, port: int) -> None:
    """The flow is DNATed to a Service's backends and forwarded: each backend's own ingress decides."""
    e = an.engine
    svc_of = an.facts.service_ids
    if e.holds("np_empty", proto, port):
        side.notes.append(f"{proto}/{port} is the node port of a Service that selects no pod: kube-proxy rejects it")
        return
    pre_allowed = e.holds("hook_decides", subject.cls.id, "prednat_in", peer.cls.id, proto, port, "Allow")
    for sid, _p, _port, b, tp in e.ask("np_target", None, proto, port, None, None):
        svc = svc_of[sid]
        local = e.holds("svc_local", sid)
        seen = peer if local else subject
        ok = e.holds("wl_ingress_ok", b, seen.cls.id, proto, tp)
        backend = an.facts.classes[b]
        fid = next((f for f, (h, bb) in an.facts.forwards.items() if h == subject.cls.id and bb == b), None)
        if not set(backend.families) & set(seen.cls.families):
            side.notes.append(f"{backend.name} shares no address family with {seen.name}: not reached")
        if fid is not None and e.holds("ordered", fid, "fwd_in") and pre_allowed:
            side.notes.append(f"the applyOnForward policies of {subject.name} are skipped: preDNAT policy allowed it")
        elif fid is not None and e.holds("ordered", fid, "fwd_in"):  # applyOnForward policy on the forwarded packet
            fwd_ok = e.holds("fwd_ok", fid, peer.cls.id, proto, tp)
            side.notes.append(f"forwarded to {backend.name} on {proto}/{tp}: the applyOnForward policies of "
                              f"{subject.name} {'allow' if fwd_ok else 'DENY'} it (chain below)")
            side.steps.extend(_ordered_steps(an, "fwd_in", fid, peer.cls.id, proto, tp))
        for ep in backend.members:
            if svc.selects(ep.namespace, dict(ep.labels)):
                side.notes.append(f"{ep.ref} on {proto}/{tp}, seen from {seen.name}: {'allowed' if ok else 'DENIED'}")
    side.notes.insert(0, f"{proto}/{port} is the node port of Service {svc.ref} (externalTrafficPolicy "
                      f"{svc.external_traffic_policy}): DNATed to its backends and forwarded, so normal host endpoint "
                      f"policy does not see it; every backend's ingress must admit it"
                      + ("" if local else f", from the node's address ({subject.name}, SNAT)") + ":")


def _side(an: Analysis, direction: str, subject: Target, peer: Target,
          proto: str | None, port: int | None) -> Side:
    side = Side(direction, subject.name, subject.cls.external is None and not subject.cls.host_network)
    e = an.engine
    c, p = subject.cls.id, peer.cls.id
    if subject.cls.host:  # the policies of this end's hooks and of normal policy
        for d in (direction, *(hook for hook, _title in HOOKS[direction])):
            for (pol_id, _c, _d) in e.ask("applies", None, c, d):
                if an.facts.policy_ids[pol_id] not in side.isolating:
                    side.isolating.append(an.facts.policy_ids[pol_id])
        side.isolating.sort(key=lambda pol: (getattr(pol, "hook", ""), pol.name))
        _host_side(an, side, direction, subject, peer, proto, port)
        return side
    for (pol_id, _c, _d) in e.ask("applies", None, c, direction):
        side.isolating.append(an.facts.policy_ids[pol_id])
    side.isolating.sort(key=lambda pol: (pol.namespace or "", pol.name))
    if e.holds("ordered", c, direction):
        side.steps = _ordered_steps(an, direction, c, p, proto, port)
        side.allowed = (e.holds("ord_ok", c, direction, p, proto, port) if proto is not None
                        else any(st.action == "Allow" for st in side.steps if st.note != "Log"))
    else:
        if proto is not None:
            rel = "egress_allows" if direction == "egress" else "ingress_allows"
            rule_ids = {t[4] for t in e.ask(rel, c, p, proto, port, None)}
        else:
            rel = "egress_grant" if direction == "egress" else "ingress_grant"
            rule_ids = {t[5] for t in e.ask(rel, c, p, None, None, None, None)}
        side.allowing = sorted((RuleRef(*an.facts.rule_ids[r]) for r in rule_ids),
                               key=lambda r: (r.policy.namespace or "", r.policy.name, r.rule.index))
        side.allowed = not side.isolating or bool(side.allowing)
    _notes(an, side, subject, peer)
    return side


def _ordered_steps(an: Analysis, direction: str, c: int, q: int, proto: str | None, port: int | None) -> list[Step]:
    """The chain of an ordered evaluation for one flow (rules/tiers.dl): tier by tier, the matching Log rules, then
    the first Allow/Deny/Pass rule or the tier's default; the profile when every tier passed. Without a protocol,
    the chain of a TCP port that no matching rule singles out (the ports the pair's rules leave alike)."""
    e = an.engine
    fb = an.facts
    tier_names = {tid: name for name, tid in fb.tier_ids.items()}
    tier_rank = dict(e.ask("tier_rank", None, None))
    tiers = sorted((t for _c, _d, t in e.ask("tier_applies", c, direction, None)), key=lambda t: tier_rank[t])
    if proto is None:
        proto, port = "TCP", _unsingled_port(an, direction, c, q)
    matched = e.ask("flow_match", c, direction, q, proto, port, None)
    rank = {r: e.ask("rule_rank", r, None)[0][1] for *_f, r in matched}
    firsts = {t: r for *_f, t, r in e.ask("first_rule", c, direction, q, proto, port, None, None)}
    steps: list[Step] = []
    for t in tiers:
        name = tier_names[t]
        if t in firsts:
            r = firsts[t]
            for log in sorted((r2 for *_f, r2 in matched if rank[r2] < rank[r]), key=rank.__getitem__):
                if e.holds("rule_action", log, "Log") and e.holds("rule_tier", log, t):
                    steps.append(Step(name, "Log", RuleRef(*fb.rule_ids[log]), "Log"))
            action = e.ask("rule_action", r, None)[0][1]
            ref = RuleRef(*fb.rule_ids[r])
            tied = _priority_tie(an, ref, action, [r2 for *_f, r2 in matched if e.holds("rule_tier", r2, t)])
            note = "; ".join(x for x in (getattr(ref.rule, "fail_closed", ""), tied) if x)
            steps.append(Step(name, action, ref, note))
        else:
            action = e.ask("tier_default", t, None)[0][1]
            steps.append(Step(name, action, None, "no rule of the tier matches; " +
                              ("end of tier" if action == "Deny" else "defaultAction Pass")))
        if action != "Pass":
            return steps
    if direction == "fwd_in":  # forwarded traffic that every applicable tier passed: allowed (SEMANTICS §4.9)
        steps.append(Step("(forwarded)", "Allow", None, "every tier passed: forwarded traffic goes on"))
        return steps
    if direction not in ("ingress", "egress"):  # a host endpoint hook: on to the next stage
        steps.append(Step("(next)", "Pass", None, "no tier of this hook decided: evaluation goes on"))
        return steps
    steps.append(Step("(profiles)", "Allow", None, "no tier decided: the namespace profile allows"))
    return steps


def _unsingled_port(an: Analysis, direction: str, c: int, q: int) -> int:
    """A TCP port that no rule of the end matching peer q admits without admitting every TCP port (the lowest
    such; the lowest TCP port when every atom is singled out)."""
    e = an.engine
    hit = [r for *_x, r in e.ask("rule_hits", c, direction, q, None)]
    dest = [d for *_x, d in e.ask("flow_dest", c, direction, q, None)]
    singled = {a for r in hit for _r, _p, a in e.ask("rule_atom", r, "TCP", None)}
    singled |= {a for r in hit for d in dest for *_x, a in e.ask("rule_atom_to", r, d, "TCP", None)}
    atoms = sorted((lo, hi, a) for a, (p, lo, hi) in an.facts.port_atoms.items() if p == "TCP")
    for lo, hi, a in atoms:
        if a not in singled and hi >= 1:
            return max(lo, 1)
    return 1


def _priority_tie(an: Analysis, ref: RuleRef, action: str, matched: list[int]) -> str:
    """When the deciding rule is an AdminNetworkPolicy's: the policies of the same priority whose first rule that
    matches the flow (`matched`: the flow's matching rules of the tier) has another action. Which of them goes
    first is not defined (SEMANTICS §6.4; Calico: by name), so the flow's verdict depends on the implementation."""
    pol = ref.policy
    if not isinstance(pol, AdminPolicy) or pol.priority is None:
        return ""
    first: dict[str, tuple[int, str]] = {}  # other policy of the same priority -> (rank, action) of its first match
    for r in matched:
        if not an.engine.holds("decisive", r):
            continue
        rank = an.engine.ask("rule_rank", r, None)[0][1]
        other, _rule = an.facts.rule_ids[r]
        if isinstance(other, AdminPolicy) and other is not pol and other.priority == pol.priority:
            if other.name not in first or rank < first[other.name][0]:
                first[other.name] = (rank, an.engine.ask("rule_action", r, None)[0][1])
    ties = sorted(name for name, (_rank, act) in first.items() if act != action)
    if not ties:
        return ""
    return (f"priority tie: {', '.join(ties)} {'has' if len(ties) == 1 else 'have'} the same priority "
            f"({pol.priority}) and would decide otherwise; the order of equal priorities is not defined "
            f"(Calico takes them by name)")


def _notes(an: Analysis, side: Side, subject: Target, peer: Target) -> None:
    if side.direction == "egress" and peer.cls.external is not None and subject.cls.external is None:
        _nat_note(an, side, subject, peer)
    if subject.cls.external is not None:
        side.notes.append("an address outside the cluster: no policy applies here")
    elif subject.cls.host_network:
        side.notes.append("a host-network pod: NetworkPolicy does not apply to it")
    elif not side.isolating:
        side.notes.append(f"no policy selects it for {side.direction}: not isolated, everything passes")
    for pol in side.isolating:  # a fail-closed Allow never shows in a chain: say why
        if isinstance(pol, AdminPolicy):
            for rule in pol.rules(Direction(side.direction)):
                if rule.matches_nothing and rule.fail_closed:
                    side.notes.append(f"{pol.kind} {pol.ref} {side.direction}[{rule.index}] ({rule.origin}) "
                                      f"{rule.fail_closed}")
    if peer.cls.external is None and not peer.cls.atoms and side.isolating:
        for pol in side.isolating:
            if not isinstance(pol, NetworkPolicy):
                continue
            for rule in pol.rules(Direction(side.direction)):
                if any(isinstance(x, IPBlockPeer) for x in rule.peers or ()):
                    side.notes.append(
                        f"{peer.name} has no known address; the ipBlock peers of {pol.ref} "
                        f"{side.direction}[{rule.index}] ({rule.origin}) were not matched against it")


def other_protocol_number(*analyses: Analysis) -> str:
    """A protocol number that none of `analyses` lists: a concrete protocol for a witness of OTHER (every protocol
    not listed by name or number is alike to every policy)."""
    listed = {str(PROTOCOL_NUMBERS.get(p, p)) for an in analyses for p in an.facts.protocols}
    return next(str(n) for n in range(2, 256) if str(n) not in listed)


def can(an: Analysis, src: str, dst: str, protocol: str | None = None, port: int | None = None,
        icmp_type: int | None = None, icmp_code: int | None = None, hairpin: bool = False) -> Verdict:
    """The verdict for SRC to DST. `hairpin`: SRC reaches itself through a Service address, which leaves the pod
    and is policed like a flow from one pod to another (SEMANTICS §1.5); to itself otherwise, it never is."""
    s, d = resolve(an, src), resolve(an, dst)
    if s.cls.external is not None and d.cls.external is not None:
        raise UsageError("both ends are outside the cluster; no policy here decides that flow")
    if s.name == d.name and not hairpin:
        raise UsageError(f"{s.name} to itself: a pod's traffic to itself is never policed (SEMANTICS §1.5), "
                         "so there is nothing to decide")
    proto = None
    if protocol is not None or port is not None:
        asked = parse_protocol(protocol or "TCP")  # Calico's name where it has one (136: UDPLite)
        if asked is None:
            raise UsageError(f"unknown protocol {protocol!r} (want TCP, UDP, SCTP, ICMP, ICMPv6, UDPLite or 0-255)")
        if port is not None and asked not in ("TCP", "UDP", "SCTP"):
            raise UsageError(f"{asked} has no ports (give --protocol {asked} without --port)")
        proto = asked if asked in an.facts.protocols else "OTHER"  # policies treat the rest alike
        shown = proto
        proto = an.facts.proto_rep.get(proto, proto)  # the engine protocol standing for it
        if shown in ("TCP", "UDP", "SCTP"):
            if port is None:
                raise UsageError(f"{proto} needs --port (or leave out --protocol to ask about every port)")
            if not 1 <= port <= 65535:
                raise UsageError(f"port {port} is out of range (want 1-65535)")
        elif shown in ("ICMP", "ICMPv6"):
            if icmp_code is not None and icmp_type is None:
                raise UsageError("--icmp-code needs --icmp-type")
            if icmp_type is not None and not 0 <= icmp_type <= 255 or icmp_code is not None and not 0 <= icmp_code <= 255:
                raise UsageError("ICMP type and code are 0-255")
            # ICMP type/code ride in the port dimension as type*256+code; without a type, one no rule names
            port = ICMP_ANY if icmp_type is None else icmp_type * 256 + (icmp_code or 0)
        else:
            port = 0  # protocols without ports
    if proto is not None:
        egress = _side(an, "egress", s, d, proto, port)
        ingress = _side(an, "ingress", d, s, proto, port)
        allowed = an.engine.holds("flow_allowed", s.cls.id, d.cls.id, proto, port)
        ports: dict[str, object] = {}
    else:
        from reasoner.connectivity import class_connections_for

        ports = class_connections_for(an, s.cls.id, d.cls.id)
        allowed = bool(ports)
        # the chains are those of one flow: an allowed one when there is one
        rep_proto, rep_port = "TCP", None
        if ports:
            rep_proto = next(iter(ports))
            ranges = ports[rep_proto]
            if rep_proto in ("TCP", "UDP", "SCTP"):
                rep_port = 1 if ranges == "all" else ranges[0][0]
            elif rep_proto in ("ICMP", "ICMPv6"):
                rep_port = ICMP_ANY if ranges == "all" else ranges[0][0]
            else:
                rep_port = 0
        engine_proto = an.facts.proto_rep.get(rep_proto, rep_proto) if rep_port is not None else None
        egress = _side(an, "egress", s, d, engine_proto, rep_port)
        ingress = _side(an, "ingress", d, s, engine_proto, rep_port)
        if rep_port is not None:
            flow = rep_proto if rep_proto not in ("TCP", "UDP", "SCTP") else f"{rep_proto}/{rep_port}"
            egress.notes.insert(0, f"chain shown for one allowed flow: {flow}")
    if not an.engine.holds("pair_ok", s.cls.id, d.cls.id):
        egress.notes.append("the two ends share no IP family")
    shown_proto = None if proto is None else (asked if shown == "OTHER" else shown)
    return Verdict(s.name, d.name, shown_proto, None if proto is None or shown not in ("TCP", "UDP", "SCTP")
                   else port, allowed, egress, ingress, ports, an.facts.protocols)


def _nat_note(an: Analysis, side: Side, subject: Target, peer: Target) -> None:
    """Egress to outside the pools from a pod of a natOutgoing IPPool leaves with the node's address; policy
    has seen the pod's own address before that (SEMANTICS: policy is evaluated before NAT outgoing)."""
    pools = [p for p in an.cluster.ip_pools if not p.disabled]
    member = subject.cls.members[0] if subject.cls.members else None
    if member is None or not pools:
        return
    mine = [p for p in pools for ip in member.ips if p.cidr.contains(Cidr.of_ip(ip))]
    ext = peer.cls.external
    lo, hi = ext.lo, ext.hi
    if peer.name.startswith(("ip:", "cidr:")):  # the address asked about, not its whole atom
        asked = Cidr.parse(peer.name.split(":", 1)[1]) if peer.name.startswith("cidr:") else \
            Cidr.of_ip(peer.name.split(":", 1)[1])
        lo, hi = asked.lo, asked.hi
    inside_pools = any(p.cidr.family == ext.family and p.cidr.lo <= lo and hi <= p.cidr.hi for p in pools)
    for pool in mine:
        if pool.nat_outgoing and not inside_pools:
            side.notes.append(f"leaves the cluster NATed to its node's address (IPPool {pool.name} natOutgoing, "
                              f"{pool.origin}); policy is evaluated on the pod's own address, before NAT")
