"""Facts of rules/ports.dl: the protocols (proto, proto_meet, ported) and the port atoms (port_atom), the cuts of
each protocol's ports at every bound a rule, a named container port, a failsafe port or a Service mentions, so
that an atom is wholly inside or outside every port range the other facts name (check_cuts in emit.py). The
ports of the rules themselves come with them (rule_port, port_range, port_named: policies.py; cport_range and
the rest: calico.py).
"""

from __future__ import annotations

from reasoner.facts.state import Emitter
from reasoner.model.admin import AdminPolicy
from reasoner.model.calico import IcmpMatch
from reasoner.model.cluster import Cluster
from reasoner.model.policy import NetworkPolicy
from reasoner.model.ports import ICMPS, PORTED, PROTOCOLS


def icmp_range(m: IcmpMatch) -> tuple[int, int]:
    """An ICMP match as a range of the encoded value type*256+code, the ICMP "port" (SEMANTICS §3.4)."""
    return (m.type * 256, m.type * 256 + 255) if m.code is None else (m.type * 256 + m.code,) * 2


def protocols(em: Emitter) -> None:
    """Every protocol a map lists (PROTOCOLS and those Calico rules name, before OTHER), the engine's protocols
    among them, and their port atoms."""
    fb = em.fb
    protocols = list(PROTOCOLS)
    for cpol in fb.cluster.rule_lists():
        for rule in cpol.ingress + cpol.egress:
            for proto in (rule.protocol, rule.not_protocol):
                if proto is not None and proto not in protocols:
                    protocols.insert(-1, proto)  # before OTHER, which stands for every protocol not listed
    fb.protocols = tuple(protocols)
    named = distinguished_protocols(fb.cluster)
    # Protocols that no rule names are matched only by rules that admit every protocol: one class, whose
    # first member stands for all of them in the engine (like endpoint classes).
    rest = [p for p in protocols if p not in named]
    reps = [p for p in protocols if p in named] + rest[:1]
    fb.proto_members = {p: (p,) for p in reps}
    if rest:
        fb.proto_members[rest[0]] = tuple(rest)
    fb.proto_rep = {m: rep for rep, members in fb.proto_members.items() for m in members}
    for p in reps:
        em.add("proto", p)
        em.add("proto_meet", p, p, p)
        em.add("proto_meet", "*", p, p)
        em.add("proto_meet", p, "*", p)
        if (p in PORTED or p in ICMPS) and p in named:
            em.add("ported", p)
    em.add("proto_meet", "*", "*", "*")
    ported = [p for p in reps if p in named and (p in PORTED or p in ICMPS)]
    port_atoms(em, ported, [p for p in reps if p not in ported])


def distinguished_protocols(cluster: Cluster) -> set[str]:
    """Protocols some rule names: k8s port entries, Calico protocol/notProtocol, and, when a rule names a
    port, the protocols of the named container ports it may resolve to."""
    out: set[str] = set()
    any_named = False
    k8s_shaped: list[NetworkPolicy | AdminPolicy] = [*cluster.policies, *cluster.admin_policies]
    for pol in k8s_shaped:
        for rules in (pol.ingress, pol.egress):
            for rule in rules:
                for spec in rule.ports or ():
                    out.add(spec.protocol.value)
                    any_named |= spec.name is not None
    for cpol in cluster.rule_lists():
        for rule in cpol.ingress + cpol.egress:
            out.update(p for p in (rule.protocol, rule.not_protocol) if p)
            any_named |= any(pm.name for pm in rule.destination.ports + rule.destination.not_ports)
            if rule.destination.service is not None:  # matches the service's target ports and protocols
                out.update(sp.protocol for v in cluster.services for sp in v.ports)
                any_named = True
    if any_named:
        out.update(cp.protocol for eps in (cluster.endpoints, cluster.host_endpoints) for ep in eps for cp in ep.ports
                   if cp.name)
    if cluster.host_endpoints:  # failsafe ports, node ports
        out.update(fp.protocol for inbound in (True, False) for fp in cluster.failsafe(inbound))
        out.update(sp.protocol for v in cluster.services for sp in v.ports if sp.node_port is not None)
    return out


def port_atoms(em: Emitter, ported: list[str], whole: list[str]) -> None:
    """Cut the ports of TCP, UDP and SCTP at every bound a rule or a named container port mentions."""
    cuts = {0}
    cluster = em.fb.cluster
    k8s_shaped: list[NetworkPolicy | AdminPolicy] = [*cluster.policies, *cluster.admin_policies]
    for pol in k8s_shaped:
        for rules in (pol.ingress, pol.egress):
            for rule in rules:
                for spec in rule.ports or ():
                    if spec.first is not None:
                        assert spec.last is not None  # a PortSpec's range has both bounds or neither
                        cuts.update((spec.first, spec.last + 1))
    for cpol in cluster.rule_lists():
        for rule in cpol.ingress + cpol.egress:
            for pm in rule.destination.ports + rule.destination.not_ports:
                if pm.first is not None:
                    cuts.update((pm.first, pm.last + 1))
            for m in (rule.icmp, rule.not_icmp):
                if m is not None:
                    lo, hi = icmp_range(m)
                    cuts.update((lo, hi + 1))
    for eps in (cluster.endpoints, cluster.host_endpoints):
        for ep in eps:
            for cp in ep.ports:
                cuts.update((cp.port, cp.port + 1))
    if cluster.host_endpoints:
        for inbound in (True, False):
            cuts.update(c for fp in cluster.failsafe(inbound) for c in (fp.port, fp.port + 1))
        for svc in cluster.services:
            cuts.update(c for sp in svc.ports if sp.node_port is not None for c in (sp.node_port, sp.node_port + 1))
    for svc in cluster.services:  # `destination.services` matches the target ports (SEMANTICS §3.6.3)
        for sp in svc.ports:
            if isinstance(sp.target_port, int):
                cuts.update((sp.target_port, sp.target_port + 1))
    starts = sorted(c for c in cuts if c <= 65535)
    for p in ported + whole:
        bounds = starts if p in ported else [0]
        for i, lo in enumerate(bounds):
            hi = bounds[i + 1] - 1 if i + 1 < len(bounds) else 65535
            aid = next(em.ids)
            em.fb.port_atoms[aid] = (p, lo, hi)
            em.add("port_atom", p, aid, lo, hi)
