"""`can`: the verdict for one flow (or one pair, for any port) and the rule chains that decide it.

The verdict comes from the Datalog relations `flow_allowed` (one port) or `allowed` (any port); the
chains list, for each end, the policies that isolate it and the rules that admit the flow.
"""

from __future__ import annotations

from reasoner.analysis import Analysis
from reasoner.errors import UsageError
from reasoner.model.admin import AdminPolicy
from reasoner.model.calico import PROTOCOL_NUMBERS, parse_protocol
from reasoner.model.cidr import Cidr
from reasoner.model.policy import Direction, IPBlockPeer, NetworkPolicy
from reasoner.model.ports import ICMP_ANY, PORTED
from reasoner.query.chain import ordered_chain
from reasoner.query.endpoints import resolve
from reasoner.query.hosts import HOOKS, host_side
from reasoner.query.verdict import Side, Target, Verdict
from reasoner.results import RuleRef


def _side(an: Analysis, direction: str, subject: Target, peer: Target,
          proto: str | None, port: int | None) -> Side:
    side = Side(direction, subject.name)
    e = an.engine
    c, p = subject.cls.id, peer.cls.id
    if subject.cls.host:  # the policies of this end's hooks and of normal policy
        for d in (direction, *(hook for hook, _title in HOOKS[direction])):
            for (pol_id, _c, _d) in e.ask("applies", None, c, d):
                if an.facts.policy_ids[pol_id] not in side.isolating:
                    side.isolating.append(an.facts.policy_ids[pol_id])
        side.isolating.sort(key=lambda pol: (getattr(pol, "hook", ""), pol.name))
        host_side(an, side, direction, subject, peer, proto, port)
        return side
    for (pol_id, _c, _d) in e.ask("applies", None, c, direction):
        side.isolating.append(an.facts.policy_ids[pol_id])
    side.isolating.sort(key=lambda pol: (pol.namespace or "", pol.name))
    if e.holds("ordered", c, direction):
        side.steps, passes = ordered_chain(an, direction, c, p, proto, port)
        side.allowed = passes if proto is not None else any(st.action == "Allow" for st in side.steps
                                                            if st.note != "Log")
    else:
        if proto is not None:
            rel = "egress_allows" if direction == "egress" else "ingress_allows"
            rule_ids = {t[4] for t in e.ask(rel, c, p, proto, port, None)}
        else:
            rel = "egress_grant" if direction == "egress" else "ingress_grant"
            rule_ids = {t[5] for t in e.ask(rel, c, p, None, None, None, None)}
        side.allowing = sorted((RuleRef.of(*an.facts.rule_ids[r]) for r in rule_ids),
                               key=lambda r: (r.policy.namespace or "", r.policy.name, r.index))
        side.allowed = not side.isolating or bool(side.allowing)
    _notes(an, side, subject, peer)
    return side


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
        if port is not None and asked not in PORTED:
            raise UsageError(f"{asked} has no ports (give --protocol {asked} without --port)")
        proto = asked if asked in an.facts.protocols else "OTHER"  # policies treat the rest alike
        shown = proto
        proto = an.facts.proto_rep.get(proto, proto)  # the engine protocol standing for it
        if shown in PORTED:
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
        from reasoner.query.map import class_connections_for

        ports = class_connections_for(an, s.cls.id, d.cls.id)
        allowed = bool(ports)
        # the chains are those of one flow: an allowed one when there is one
        rep_proto, rep_port = "TCP", None
        if ports:
            rep_proto = next(iter(ports))
            ranges = ports[rep_proto]
            if rep_proto in PORTED:
                rep_port = 1 if ranges == "all" else ranges[0][0]
            elif rep_proto in ("ICMP", "ICMPv6"):
                rep_port = ICMP_ANY if ranges == "all" else ranges[0][0]
            else:
                rep_port = 0
        engine_proto = an.facts.proto_rep.get(rep_proto, rep_proto) if rep_port is not None else None
        egress = _side(an, "egress", s, d, engine_proto, rep_port)
        ingress = _side(an, "ingress", d, s, engine_proto, rep_port)
        if rep_port is not None:
            flow = rep_proto if rep_proto not in PORTED else f"{rep_proto}/{rep_port}"
            egress.notes.insert(0, f"chain shown for one allowed flow: {flow}")
    if not an.engine.holds("pair_ok", s.cls.id, d.cls.id):
        egress.notes.append("the two ends share no IP family")
    shown_proto = None if proto is None else (asked if shown == "OTHER" else shown)
    return Verdict(s.name, d.name, shown_proto, None if proto is None or shown not in PORTED
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
