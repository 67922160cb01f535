"""The model as fact tuples (never as Datalog text): `emit(cluster)` gives a `FactBase`.

Object ids are small integers from one counter, so that `label(Obj, Key, Val)` serves namespaces and
endpoint classes alike. The `FactBase` keeps the way back from ids to model objects for explanations.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from reasoner.facts.classes import Atoms, EndpointClass, build_classes
from reasoner.model.cidr import Cidr
from reasoner.model.cluster import Cluster
from reasoner.model.policy import Direction, IPBlockPeer, NetworkPolicy, PodPeer, Rule
from reasoner.model.selector import LabelSelector, Op

PROTOCOLS = ("TCP", "UDP", "SCTP", "ICMP", "ICMPv6", "OTHER")

Fact = tuple  # (relation, *values)


@dataclass
class FactBase:
    cluster: Cluster
    classes: list[EndpointClass]
    atoms: Atoms
    facts: list[Fact] = field(default_factory=list)
    ns_ids: dict[str, int] = field(default_factory=dict)
    policy_ids: dict[int, NetworkPolicy] = field(default_factory=dict)
    rule_ids: dict[int, tuple[NetworkPolicy, Rule]] = field(default_factory=dict)
    class_of: dict[str, EndpointClass] = field(default_factory=dict)  # endpoint ref -> class

    def ns_name(self, ns_id: int) -> str:
        return next(name for name, i in self.ns_ids.items() if i == ns_id)

    def describe(self, value: object) -> str:
        """A readable name for an object id in a tuple (other values as they are)."""
        if not isinstance(value, int) or isinstance(value, bool):
            return str(value)
        if 0 <= value < len(self.classes):
            return self.classes[value].name
        if value in self.policy_ids:
            pol = self.policy_ids[value]
            return f"{pol.kind} {pol.ref}"
        if value in self.rule_ids:
            pol, rule = self.rule_ids[value]
            return f"{pol.ref} {rule.direction.value}[{rule.index}]"
        names = self._names()
        return names.get(value, str(value))

    def _names(self) -> dict[int, str]:
        if not hasattr(self, "_name_cache"):
            self._name_cache = {i: f"ns:{n}" for n, i in self.ns_ids.items()}
        return self._name_cache


class _Emitter:
    def __init__(self, cluster: Cluster):
        classes, atoms = build_classes(cluster)
        self.fb = FactBase(cluster, classes, atoms)
        self.ids = itertools.count(len(classes))  # class ids are 0..len(classes)-1
        self.selectors: dict[LabelSelector, int] = {}
        self.roles: set[tuple[int, str]] = set()
        self.cidrs: dict[Cidr, int] = {}

    def add(self, relation: str, *values) -> None:
        self.fb.facts.append((relation, *values))

    def selector(self, sel: LabelSelector, role: str) -> int:
        """The id of `sel`, used as a pod selector (role "podsel") or a namespace selector ("nssel")."""
        sid = self._selector(sel)
        if (sid, role) not in self.roles:
            self.roles.add((sid, role))
            self.add(role, sid)
        return sid

    def _selector(self, sel: LabelSelector) -> int:
        sid = self.selectors.get(sel)
        if sid is None:
            sid = self.selectors[sel] = next(self.ids)
            single = sorted((r.key, next(iter(r.values))) for r in sel.requirements
                            if r.op is Op.IN and len(r.values) == 1)
            if single:
                self.add("sel_gen", sid, *single[0])
            else:
                self.add("sel_nogen", sid)
            for req in sel.requirements:
                rid = next(self.ids)
                self.add("sel_req", sid, rid)
                if req.op is Op.IN:
                    self.add("req_positive", rid)
                    for v in req.values:
                        self.add("req_in", rid, req.key, v)
                elif req.op is Op.NOT_IN:
                    for v in req.values:
                        self.add("req_notin", rid, req.key, v)
                elif req.op is Op.EXISTS:
                    self.add("req_positive", rid)
                    self.add("req_exists", rid, req.key)
                else:
                    self.add("req_absent", rid, req.key)
        return sid

    def cidr(self, c: Cidr) -> int:
        cid = self.cidrs.get(c)
        if cid is None:
            cid = self.cidrs[c] = next(self.ids)
            self.add("cidr_range", cid, c.family, c.lo, c.hi)
        return cid

    def inventory(self) -> None:
        fb = self.fb
        for name, ns in sorted(fb.cluster.namespaces.items()):
            nid = fb.ns_ids[name] = next(self.ids)
            self.add("namespace", nid)
            self.add("ns_name", nid, name)
            for k, v in ns.labels:
                self.add("label", nid, k, v)
        for atom in fb.atoms.atoms:
            self.add("atom_range", atom.id, atom.family, atom.lo, atom.hi)
        for cls in fb.classes:
            self.add("endpoint", cls.id)
            for fam in cls.families:
                self.add("class_family", cls.id, fam)
            for a in cls.atoms:
                self.add("class_atom", cls.id, a)
            if cls.external is not None:
                self.add("external", cls.id)
                continue
            self.add("internal", cls.id)
            self.add("class_ns", cls.id, fb.ns_ids[cls.namespace])
            if not cls.host_network:
                self.add("podnet", cls.id)
            for k, v in cls.labels:
                self.add("label", cls.id, k, v)
            for p in {(p.name, p.protocol, p.port) for p in cls.members[0].ports if p.name}:
                self.add("class_port", cls.id, *p)
            for ep in cls.members:
                fb.class_of[ep.ref] = cls
        for p in PROTOCOLS:
            self.add("proto", p)
            self.add("proto_meet", p, p, p)
            self.add("proto_meet", "*", p, p)
            self.add("proto_meet", p, "*", p)
        self.add("proto_meet", "*", "*", "*")

    def policy(self, pol: NetworkPolicy) -> None:
        pid = next(self.ids)
        self.fb.policy_ids[pid] = pol
        ns = self.fb.ns_ids[pol.namespace]
        self.add("policy", pid)
        self.add("pol_ns", pid, ns)
        self.add("pol_podsel", pid, self.selector(pol.pod_selector, "podsel"))
        for d in pol.types:
            self.add("pol_type", pid, d.value)
        for d in Direction:
            for rule in pol.rules(d):
                self.rule(pid, ns, pol, rule)

    def rule(self, pid: int, ns: int, pol: NetworkPolicy, rule: Rule) -> None:
        rid = next(self.ids)
        self.fb.rule_ids[rid] = (pol, rule)
        self.add("pol_rule", pid, rule.direction.value, rid)
        self.add("rule_index", rid, rule.index)
        if rule.peers is None:
            self.add("rule_all_peers", rid)
        for peer in rule.peers or ():
            peer_id = next(self.ids)
            self.add("rule_peer", rid, peer_id)
            if isinstance(peer, IPBlockPeer):
                self.add("peer_cidr", peer_id, self.cidr(peer.cidr))
                for ex in peer.excepts:
                    self.add("peer_except", peer_id, self.cidr(ex))
            elif isinstance(peer, PodPeer):
                if peer.namespace_selector is None:
                    self.add("peer_same_ns", peer_id, ns)
                else:
                    self.add("peer_nssel", peer_id, self.selector(peer.namespace_selector, "nssel"))
                # k8s: no podSelector means every pod of the selected namespaces, as the empty selector does
                self.add("peer_podsel", peer_id, self.selector(peer.pod_selector or LabelSelector(), "podsel"))
        if rule.ports is None:
            self.add("rule_all_ports", rid)
        for spec in rule.ports or ():
            eid = next(self.ids)
            self.add("rule_port", rid, eid)
            if spec.name is not None:
                self.add("port_named", eid, spec.protocol.value, spec.name)
            elif spec.first is None:
                self.add("port_range", eid, spec.protocol.value, 0, 65535)
            else:
                self.add("port_range", eid, spec.protocol.value, spec.first, spec.last)


def emit(cluster: Cluster) -> FactBase:
    em = _Emitter(cluster)
    em.inventory()
    for pol in cluster.policies:
        em.policy(pol)
    return em.fb
