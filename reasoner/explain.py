"""`can`: the verdict for one flow (or one pair, for any port) and the rule chains that decide it.

The verdict comes from the Datalog relations `flow_allowed` (one port) or `allowed` (any port); the
chains list, for each end, the policies that isolate it and the rules that admit the flow.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from reasoner.api import Analysis
from reasoner.connectivity import port_sets
from reasoner.errors import UsageError
from reasoner.facts.classes import EndpointClass
from reasoner.model.cidr import Cidr
from reasoner.model.policy import Direction, IPBlockPeer, NetworkPolicy, Rule

PROTOCOL_NAMES = {"TCP": "TCP", "UDP": "UDP", "SCTP": "SCTP", "ICMP": "ICMP", "ICMPV6": "ICMPv6",
                  "6": "TCP", "17": "UDP", "132": "SCTP", "1": "ICMP", "58": "ICMPv6"}


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

    def to_json(self) -> dict:
        return {"direction": self.direction, "endpoint": self.endpoint, "allowed": self.allowed,
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
    ports: dict[str, object] = field(default_factory=dict)  # any-port queries: what is allowed

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
        lo_atom = fb.atoms.of_ip(str(ipaddress.ip_address(net.lo)))
        hi_atom = fb.atoms.of_ip(str(ipaddress.ip_address(net.hi)))
        if lo_atom.id != hi_atom.id:
            raise UsageError(f"{text!r} spans address ranges that policies treat differently; "
                             f"ask about a narrower prefix (e.g. cidr:{Cidr(lo_atom.family, lo_atom.lo, lo_atom.hi)})")
        return Target(text, next(c for c in fb.classes if c.external is not None and c.external.id == lo_atom.id))
    cls = fb.class_of.get(text)
    if cls is None:
        known = sorted(fb.class_of)
        hint = ", ".join(known[:8]) + (", ..." if len(known) > 8 else "")
        raise UsageError(f"unknown endpoint {text!r} (want NAMESPACE/POD, ip:ADDRESS or cidr:PREFIX; "
                         f"known: {hint or 'none'})")
    return Target(text, cls)


def _side(an: Analysis, direction: str, subject: Target, peer: Target,
          proto: str | None, port: int | None) -> Side:
    side = Side(direction, subject.name, subject.cls.external is None and not subject.cls.host_network)
    e = an.engine
    c, p = subject.cls.id, peer.cls.id
    for (pol_id, _c, _d) in e.ask("applies", None, c, direction):
        side.isolating.append(an.facts.policy_ids[pol_id])
    side.isolating.sort(key=lambda pol: (pol.namespace, pol.name))
    if proto is not None:
        rel = "egress_allows" if direction == "egress" else "ingress_allows"
        rule_ids = {t[4] for t in e.ask(rel, c, p, proto, port, None)}
    else:
        rel = "egress_grant" if direction == "egress" else "ingress_grant"
        rule_ids = {t[5] for t in e.ask(rel, c, p, None, None, None, None)}
    side.allowing = sorted((RuleRef(*an.facts.rule_ids[r]) for r in rule_ids),
                           key=lambda r: (r.policy.namespace, r.policy.name, r.rule.index))
    side.allowed = not side.isolating or bool(side.allowing)
    _notes(an, side, subject, peer)
    return side


def _notes(an: Analysis, side: Side, subject: Target, peer: Target) -> None:
    if subject.cls.external is not None:
        side.notes.append("an address outside the cluster: no policy applies here")
    elif subject.cls.host_network:
        side.notes.append("a host-network pod: NetworkPolicy does not apply to it")
    elif not side.isolating:
        side.notes.append(f"no NetworkPolicy selects it for {side.direction}: not isolated, everything passes")
    if peer.cls.external is None and not peer.cls.atoms and side.isolating:
        for pol in side.isolating:
            for rule in pol.rules(Direction(side.direction)):
                if any(isinstance(x, IPBlockPeer) for x in rule.peers or ()):
                    side.notes.append(
                        f"{peer.name} has no known address; the ipBlock peers of {pol.ref} "
                        f"{side.direction}[{rule.index}] ({rule.origin}) were not matched against it")


def can(an: Analysis, src: str, dst: str, protocol: str | None = None, port: int | None = None) -> Verdict:
    s, d = resolve(an, src), resolve(an, dst)
    if s.cls.external is not None and d.cls.external is not None:
        raise UsageError("both ends are outside the cluster; no policy here decides that flow")
    proto = None
    if protocol is not None or port is not None:
        proto = PROTOCOL_NAMES.get((protocol or "TCP").upper())
        if proto is None:
            if not (protocol or "").isdigit() or not 0 <= int(protocol) <= 255:  # type: ignore[arg-type]
                raise UsageError(f"unknown protocol {protocol!r} (want TCP, UDP, SCTP, ICMP, ICMPv6 or 0-255)")
            proto = "OTHER"  # Kubernetes policy treats every other protocol alike
        if proto in ("TCP", "UDP", "SCTP"):
            if port is None:
                raise UsageError(f"{proto} needs --port (or leave out --protocol to ask about every port)")
            if not 1 <= port <= 65535:
                raise UsageError(f"port {port} is out of range (want 1-65535)")
        else:
            port = 0  # protocols without ports
    egress = _side(an, "egress", s, d, proto, port)
    ingress = _side(an, "ingress", d, s, proto, port)
    family_ok = an.engine.holds("pair_ok", s.cls.id, d.cls.id)
    if not family_ok:
        egress.notes.append("the two ends share no IP family")
    if proto is not None:
        allowed = an.engine.holds("flow_allowed", s.cls.id, d.cls.id, proto, port)
        ports: dict[str, object] = {}
    else:
        rows = an.engine.ask("allowed", s.cls.id, d.cls.id, None, None, None)
        ports = port_sets([(p, lo, hi) for _s, _d, p, lo, hi in rows])
        allowed = bool(ports)
    shown_proto = None if proto is None else (protocol.upper() if proto == "OTHER" and protocol else proto)
    return Verdict(s.name, d.name, shown_proto, None if proto is None or proto not in ("TCP", "UDP", "SCTP")
                   else port, allowed, egress, ingress, ports)
