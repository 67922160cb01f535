"""The model as fact tuples (never as Datalog text): `emit(cluster)` gives a `FactBase`.

Object ids are small integers from one counter, so that `label(Obj, Key, Val)` serves namespaces and
endpoint classes alike. The `FactBase` keeps the way back from ids to model objects for explanations.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import math

from reasoner.facts.classes import Atoms, EndpointClass, build_classes
from reasoner.model.admin import AdminPolicy
from reasoner.model.calico import (
    DEFAULT_ALLOW_PROFILE,
    DEFAULT_TIER,
    K8S_POLICY_ORDER,
    Action,
    CalicoPolicy,
    CalicoRule,
    EntityRule,
    Profile,
)
from reasoner.model.calico_selector import CalicoSelector, parse_selector
from reasoner.model.origin import Origin
from reasoner.model.cidr import Cidr
from reasoner.model.cluster import Cluster, Endpoint
from reasoner.model.policy import Direction, IPBlockPeer, NetworkPolicy, PodPeer, Rule
from reasoner.model.selector import LabelSelector, Op

PROTOCOLS = ("TCP", "UDP", "SCTP", "ICMP", "ICMPv6", "OTHER")
PORTED = ("TCP", "UDP", "SCTP")
ICMPS = ("ICMP", "ICMPv6")
ICMP_ANY = 65535  # the encoded ICMP type/code of a flow whose type no rule names (Calico types are 0-254)


def icmp_range(m) -> tuple[int, int]:
    """An ICMP match as a range of the encoded value type*256+code, the ICMP "port" (SEMANTICS §3.4)."""
    return (m.type * 256, m.type * 256 + 255) if m.code is None else (m.type * 256 + m.code,) * 2
# Calico literal -> (negated?, base test): the negated forms hold on an absent key (SEMANTICS §3.8)
NEGATED = {"ne", "notin", "nothas", "notcontains", "notstarts", "notends"}
BASE = {"eq": "in", "ne": "in", "in": "in", "notin": "in", "has": "exists", "nothas": "exists",
        "contains": "contains", "notcontains": "contains", "starts": "starts", "notstarts": "starts",
        "ends": "ends", "notends": "ends"}
AUTO = "projectcalico.org/"


def sort_name(pol) -> str:
    """The name that breaks order ties inside a tier: Calico <=3.31's policy key (SEMANTICS §4.3):
    `<namespace>/<tier-prefixed name>`, Kubernetes policies as `<namespace>/knp.default.<name>`."""
    if isinstance(pol, NetworkPolicy):
        return f"{pol.namespace}/knp.default.{pol.name}"
    if isinstance(pol, AdminPolicy):  # Calico's names for them (SEMANTICS §4.7)
        return f"kanp.{pol.tier}.{pol.name}" if pol.priority is not None else f"kbanp.{pol.tier}.{pol.name}"
    prefixed = pol.name if pol.name.startswith(pol.tier + ".") else f"{pol.tier}.{pol.name}"
    return f"{pol.namespace}/{prefixed}" if pol.namespace else prefixed


def evaluation_order(cluster: Cluster) -> list[NetworkPolicy | CalicoPolicy]:
    """Every policy in Calico's evaluation order (SEMANTICS §4.2, §4.3): tiers by order then name; in a
    tier, policies by order (none: last) then `sort_name`. Kubernetes policies: default tier, order 1000."""
    tiers = {name: (t.order, name) for name, t in cluster.tiers.items()}

    def key(pol):
        tier = DEFAULT_TIER if isinstance(pol, NetworkPolicy) else pol.tier
        if isinstance(pol, NetworkPolicy):
            order = K8S_POLICY_ORDER
        elif isinstance(pol, AdminPolicy):  # ANP: priority; the BANP: 1000 (its tier holds it alone)
            order = float(pol.priority) if pol.priority is not None else K8S_POLICY_ORDER
        else:
            order = math.inf if pol.order is None else pol.order
        return (tiers[tier], order, sort_name(pol))

    return sorted([*cluster.policies, *cluster.calico_policies, *cluster.admin_policies], key=key)

Fact = tuple  # (relation, *values)


# Columns that hold object ids, by the name the relation's comment gives them: shown by name. Other columns
# (ranks, ports, indexes, families) hold plain values.
CLASS_COLUMNS = frozenset({"C", "S", "Q", "Src", "Dst", "D"})
ID_COLUMNS = CLASS_COLUMNS | {"Pol", "R", "Ns", "T", "Obj"}
ADDRESS_ATOM_RELATIONS = frozenset({"class_atom", "atom_range", "atom_in_cidr", "netset_atom", "peer_atom",
                                    "peer_excepted"})


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
    protocols: tuple[str, ...] = PROTOCOLS  # every protocol a map lists ('*' expands to these)
    proto_members: dict[str, tuple[str, ...]] = field(default_factory=dict)  # engine protocol -> the ones it stands for
    proto_rep: dict[str, str] = field(default_factory=dict)  # protocol -> the engine protocol standing for it
    port_atoms: dict[int, tuple[str, int, int]] = field(default_factory=dict)  # atom -> (proto, lo, hi)
    tier_ids: dict[str, int] = field(default_factory=dict)
    calico_labels: dict[int, dict[str, str]] = field(default_factory=dict)  # class -> its labels as Calico sees them
    service_ids: dict[int, object] = field(default_factory=dict)  # node-port facts' Service id -> Service
    forwards: dict[int, tuple[int, int]] = field(default_factory=dict)  # fwd id -> (host endpoint, backend class)
    peer_indexes: dict[tuple[int, int], list[int]] = field(default_factory=dict)  # (rule, peer id) -> its from/to indexes

    def ns_name(self, ns_id: int) -> str:
        return next(name for name, i in self.ns_ids.items() if i == ns_id)

    def show(self, relation: str, column: str, value: object) -> str:
        """A value of a relation's tuple as a person reads it: object ids (by the column the relation's comment
        names) by name; ranks, ports, indexes and other plain numbers as they are."""
        if isinstance(value, bool) or not isinstance(value, int):
            return str(value)
        if column == "A" and relation in ADDRESS_ATOM_RELATIONS:
            if 0 <= value < len(self.atoms.atoms):
                atom = self.atoms.atoms[value]
                return f"atom:{Cidr(atom.family, atom.lo, atom.hi)}"
            return str(value)
        if column in ID_COLUMNS or (column in ("A", "X") and value in self.port_atoms):
            if column in CLASS_COLUMNS and not 0 <= value < len(self.classes):
                return str(value)  # e.g. Q = -2, every other peer
            return self.describe(value)
        return str(value)

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
        if value in self.port_atoms:
            proto, lo, hi = self.port_atoms[value]
            return f"{proto}/{lo}" if lo == hi else f"{proto}/{lo}-{hi}"
        names = self._names()
        return names.get(value, str(value))

    def _names(self) -> dict[int, str]:
        if not hasattr(self, "_name_cache"):
            self._name_cache = {i: f"ns:{n}" for n, i in self.ns_ids.items()}
            self._name_cache.update({i: f"tier:{n}" for n, i in self.tier_ids.items()})
        return self._name_cache


class _Emitter:
    def __init__(self, cluster: Cluster, selectors: tuple = ()):
        classes, atoms = build_classes(cluster, selectors)
        self.fb = FactBase(cluster, classes, atoms)
        self.ids = itertools.count(len(classes))  # class ids are 0..len(classes)-1
        self.selectors: dict[LabelSelector, int] = {}
        self.roles: set[tuple[int, str]] = set()
        self.requirements: dict[tuple, int] = {}
        self.sa_ids: dict[tuple[str, str], int] = {}
        self.cidrs: dict[Cidr, int] = {}
        self.tier_rank: dict[str, int] = {}
        self.entities: dict[tuple, int] = {}  # (side, facts) -> entity id
        self.peers: dict[tuple, int] = {}  # a Kubernetes peer by what it matches -> its id (rules share equal peers)

    def add(self, relation: str, *values) -> None:
        self.fb.facts.append((relation, *values))

    def selector(self, sel: LabelSelector | CalicoSelector, role: str) -> int:
        """The id of `sel` in a role: "podsel"/"nssel" (k8s pod / namespace selector), "csel" (Calico selector
        over pods and network sets), "cnssel" (Calico namespaceSelector), "sasel" (service accounts)."""
        sid = self._selector(sel)
        if (sid, role) not in self.roles:
            self.roles.add((sid, role))
            self.add(role, sid)
        return sid

    def _selector(self, sel: LabelSelector | CalicoSelector) -> int:
        key = sel if isinstance(sel, LabelSelector) else ("calico", sel.dnf)
        sid = self.selectors.get(key)
        if sid is not None:
            return sid
        sid = self.selectors[key] = next(self.ids)
        if isinstance(sel, LabelSelector):  # one conjunction
            conjs = [[(r.op in (Op.NOT_IN, Op.DOES_NOT_EXIST), "in" if r.op in (Op.IN, Op.NOT_IN) else "exists",
                       r.key, tuple(sorted(r.values))) for r in sel.requirements]]
        else:
            conjs = [[(lit.op in NEGATED, BASE[lit.op], lit.key, lit.values) for lit in conj] for conj in sel.dnf]
        for conj in conjs:
            jid = next(self.ids)
            self.add("sel_conj", sid, jid)
            gen = sorted((key, values[0]) for neg, op, key, values in conj if not neg and op == "in" and len(values) == 1)
            if gen:
                self.add("conj_gen", jid, *gen[0])
            else:
                self.add("conj_nogen", jid)
            for neg, op, key, values in conj:
                rid = self.requirement(op, key, values)
                self.add("conj_neg" if neg else "conj_pos", jid, rid)
        return sid

    def requirement(self, op: str, key: str, values: tuple[str, ...]) -> int:
        rkey = (op, key, values)
        rid = self.requirements.get(rkey)
        if rid is None:
            rid = self.requirements[rkey] = next(self.ids)
            if op == "in":
                for v in values:
                    self.add("req_in", rid, key, v)
            elif op == "exists":
                self.add("req_exists", rid, key)
            else:
                self.add(f"req_{op}", rid, key, values[0])
        return rid

    def cidr(self, c: Cidr) -> int:
        cid = self.cidrs.get(c)
        if cid is None:
            cid = self.cidrs[c] = next(self.ids)
            self.add("cidr_range", cid, c.family, c.lo, c.hi)
        return cid

    def inventory(self) -> None:
        fb = self.fb
        cluster = fb.cluster
        for name, ns in sorted(cluster.namespaces.items()):
            nid = fb.ns_ids[name] = next(self.ids)
            self.add("namespace", nid)
            self.add("ns_name", nid, name)
            for k, v in ns.labels:
                self.add("label", nid, k, v)
            view = next(self.ids)  # Calico's view: the labels plus projectcalico.org/name (profile kns.<ns>)
            self.add("ns_view", nid, view)
            for k, v in {**dict(ns.labels), AUTO + "name": name}.items():
                self.add("label", view, k, v)
        sa_labels = {(sa.namespace, sa.name): dict(sa.labels) for sa in cluster.service_accounts}
        for ns, name in sorted(set(sa_labels) | {(e.namespace, e.service_account) for e in cluster.endpoints}):
            self.service_account(ns, name, sa_labels.get((ns, name), {}))
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
            if cls.host:
                self.host_class(cls)
                continue
            self.add("class_ns", cls.id, fb.ns_ids[cls.namespace])
            if not cls.host_network:
                self.add("podnet", cls.id)
            for k, v in cls.labels:
                self.add("label", cls.id, k, v)
            for p in {(p.name, p.protocol, p.port) for p in cls.members[0].ports if p.name}:
                self.add("class_port", cls.id, *p)
            for ep in cls.members:
                fb.class_of[ep.ref] = cls
            ep = cls.members[0]
            sa = self.sa_ids[(ep.namespace, ep.service_account)]
            self.add("class_sa", cls.id, sa)
            view = next(self.ids)
            self.add("calico_view", cls.id, view)
            self.add("view_of", view, cls.id)
            clabels = self.calico_labels(ep.namespace, ep.service_account, dict(cls.labels), sa_labels)
            fb.calico_labels[cls.id] = clabels
            for k, v in clabels.items():
                self.add("label", view, k, v)
        for nset in cluster.network_sets:
            nid = next(self.ids)
            self.add("netset", nid)
            labels = dict(nset.labels)
            if nset.namespace is None:
                self.add("gnetset", nid)
            else:
                self.add("netset_ns", nid, fb.ns_ids[nset.namespace])
                ns_labels = dict(cluster.namespaces[nset.namespace].labels)
                labels = {**{f"pcns.{k}": v for k, v in ns_labels.items()}, "pcns." + AUTO + "name": nset.namespace,
                          AUTO + "namespace": nset.namespace, **labels}
            for k, v in labels.items():
                self.add("label", nid, k, v)
            for net in nset.nets:
                self.add("netset_net", nid, self.cidr(net))
        protocols = list(PROTOCOLS)
        for cpol in cluster.rule_lists():
            for rule in cpol.ingress + cpol.egress:
                for proto in (rule.protocol, rule.not_protocol):
                    if proto is not None and proto not in protocols:
                        protocols.insert(-1, proto)  # before OTHER, which stands for every protocol not listed
        fb.protocols = tuple(protocols)
        named = self.distinguished_protocols()
        # Protocols that no rule names are matched only by rules that admit every protocol: one class, whose
        # first member stands for all of them in the engine (like endpoint classes).
        rest = [p for p in protocols if p not in named]
        reps = [p for p in protocols if p in named] + rest[:1]
        fb.proto_members = {p: (p,) for p in reps}
        if rest:
            fb.proto_members[rest[0]] = tuple(rest)
        fb.proto_rep = {m: rep for rep, members in fb.proto_members.items() for m in members}
        for p in reps:
            self.add("proto", p)
            self.add("proto_meet", p, p, p)
            self.add("proto_meet", "*", p, p)
            self.add("proto_meet", p, "*", p)
            if (p in PORTED or p in ICMPS) and p in named:
                self.add("ported", p)
        self.add("proto_meet", "*", "*", "*")
        ported = [p for p in reps if p in named and (p in PORTED or p in ICMPS)]
        self.port_atoms(ported, [p for p in reps if p not in ported])
        for i, (name, tier) in enumerate(sorted(cluster.tiers.items(), key=lambda t: (t[1].order, t[0]))):
            tid = fb.tier_ids[name] = next(self.ids)
            self.tier_rank[name] = i
            self.add("tier_rank", tid, i)
            self.add("tier_default", tid, tier.default_action.value)
        if cluster.host_endpoints:
            self.host_tiers(len(cluster.tiers))
            self.failsafe()

    def host_class(self, cls: EndpointClass) -> None:
        """A host endpoint: selectable by Calico selectors through its labels (own and its profiles'), never
        by Kubernetes ones (no namespace, not on the pod network); its named ports are `spec.ports`."""
        fb = self.fb
        hep = cls.members[0]
        fb.class_of[hep.ref] = cls
        self.add("hep", cls.id)
        if not hep.ips:
            self.add("hep_noip", cls.id)
        if hep.wildcard:
            self.add("hep_wild", cls.id)
        for p in {(p.name, p.protocol, p.port) for p in hep.ports}:
            self.add("class_port", cls.id, *p)
        view = next(self.ids)
        self.add("calico_view", cls.id, view)
        self.add("view_of", view, cls.id)
        fb.calico_labels[cls.id] = dict(cls.labels)
        for k, v in cls.labels:
            self.add("label", view, k, v)

    def host_tiers(self, after: int) -> None:
        """After every tier, a host endpoint's profiles, in its order, one tier per position (a profile's rules
        decide, or pass to the next); then the host endpoint's default: Deny (SEMANTICS §4.1, §4.5)."""
        depth = max((len(h.profiles) for h in self.fb.cluster.host_endpoints), default=0)
        for k in range(1, depth + 1):
            tid = self.fb.tier_ids[f"(profile {k})"] = next(self.ids)
            self.add("tier_rank", tid, after + k - 1)
            self.add("tier_default", tid, "Pass")
        tid = self.fb.tier_ids[HOST_DEFAULT_TIER] = next(self.ids)
        self.add("tier_rank", tid, after + depth)
        self.add("tier_default", tid, "Deny")
        self.add("hep_end", tid)

    def hook_tier(self, tier: str, hook: str) -> int:
        """The tier as it runs at a preDNAT or untracked hook: same rank; its end passes on (SEMANTICS §4.9)."""
        name = f"{tier} ({hook})"
        tid = self.fb.tier_ids.get(name)
        if tid is None:
            tid = self.fb.tier_ids[name] = next(self.ids)
            self.add("tier_rank", tid, self.tier_rank[tier])
            self.add("tier_default", tid, "Pass")
        return tid

    def failsafe(self) -> None:
        """Felix's failsafe ports, open on every host endpoint (SEMANTICS §4.9)."""
        cluster = self.fb.cluster
        for inbound, direction in ((True, "ingress"), (False, "egress")):
            for fp in cluster.failsafe(inbound):
                eid = next(self.ids)
                self.add("failsafe_port", eid, direction, self.fb.proto_rep.get(fp.protocol, fp.protocol), fp.port)
                if fp.net is None:
                    self.add("fs_anynet", eid)
                else:
                    self.add("fs_net", eid, self.cidr(fp.net))

    def node_ports(self) -> None:
        """For each node port of a Service: the backends and their target ports, and whether the client's address
        is kept (externalTrafficPolicy Local) or replaced by the node's (Cluster) (SEMANTICS §1.6)."""
        from reasoner.services import backends, target_port

        cluster = self.fb.cluster
        behind: set[int] = set()
        for svc in cluster.services:
            ports = [sp for sp in svc.ports if sp.node_port is not None]
            if not ports:
                continue
            sid = next(self.ids)
            self.fb.service_ids[sid] = svc
            self.add("svc_local" if svc.external_traffic_policy == "Local" else "svc_cluster", sid)
            eps = backends(cluster, svc)
            if svc.selector is not None and not eps:  # kube-proxy rejects traffic to a Service without endpoints
                for sp in ports:
                    self.add("np_empty", self.fb.proto_rep.get(sp.protocol, sp.protocol), sp.node_port)
            for ep in eps:
                cls = self.fb.class_of.get(ep.ref)
                for sp in ports:
                    tp = target_port(sp, ep)
                    if cls is not None and tp is not None:
                        behind.add(cls.id)
                        self.add("np_target", sid, self.fb.proto_rep.get(sp.protocol, sp.protocol), sp.node_port,
                                 cls.id, tp)
        # the forwarding evaluations: host endpoint H passing traffic on to backend B (its named ports, families)
        for h in (c for c in self.fb.classes if c.host):
            for b in sorted(behind):
                fid = next(self.ids)
                self.fb.forwards[fid] = (h.id, b)
                self.add("fwd", fid, h.id, b)
                backend = self.fb.classes[b]
                for fam in backend.families:
                    self.add("class_family", fid, fam)
                for p in {(p.name, p.protocol, p.port) for p in backend.members[0].ports if p.name}:
                    self.add("class_port", fid, *p)
    def service_account(self, ns: str, name: str, labels: dict[str, str]) -> None:
        sid = self.sa_ids[(ns, name)] = next(self.ids)
        self.add("service_account", sid)
        self.add("sa_name", sid, name)
        if len(name) >= 63:
            self.add("sa_long", sid)
        for k, v in {**labels, AUTO + "name": name}.items():
            self.add("label", sid, k, v)

    def calico_labels(self, ns: str, sa: str, own: dict[str, str], sa_labels: dict) -> dict[str, str]:
        """A pod's labels as Calico selectors see them (SEMANTICS §1.1, §5.2, §5.3): its own labels win over
        the automatic ones and over those inherited from the profiles kns.<ns> and ksa.<ns>.<sa>."""
        out = {f"pcns.{k}": v for k, v in self.fb.cluster.namespaces[ns].labels}
        out["pcns." + AUTO + "name"] = ns
        out.update({f"pcsa.{k}": v for k, v in sa_labels.get((ns, sa), {}).items()})
        out["pcsa." + AUTO + "name"] = sa
        out[AUTO + "namespace"] = ns
        out[AUTO + "orchestrator"] = "k8s"
        if len(sa) < 63:
            out[AUTO + "serviceaccount"] = sa
        out.update(own)
        return out

    def distinguished_protocols(self) -> set[str]:
        """Protocols some rule names: k8s port entries, Calico protocol/notProtocol, and, when a rule names a
        port, the protocols of the named container ports it may resolve to."""
        out: set[str] = set()
        cluster = self.fb.cluster
        any_named = False
        for pol in [*cluster.policies, *cluster.admin_policies]:
            for rule in pol.ingress + pol.egress:
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
            out.update(cp.protocol for ep in [*cluster.endpoints, *cluster.host_endpoints] for cp in ep.ports if cp.name)
        if cluster.host_endpoints:  # failsafe ports, node ports
            out.update(fp.protocol for inbound in (True, False) for fp in cluster.failsafe(inbound))
            out.update(sp.protocol for v in cluster.services for sp in v.ports if sp.node_port is not None)
        return out

    def port_atoms(self, ported: list[str], whole: list[str]) -> None:
        """Cut the ports of TCP, UDP and SCTP at every bound a rule or a named container port mentions."""
        cuts = {0}
        cluster = self.fb.cluster
        for pol in [*cluster.policies, *cluster.admin_policies]:
            for rule in pol.ingress + pol.egress:
                for spec in rule.ports or ():
                    if spec.first is not None:
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
        for ep in [*cluster.endpoints, *cluster.host_endpoints]:
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
                aid = next(self.ids)
                self.fb.port_atoms[aid] = (p, lo, hi)
                self.add("port_atom", p, aid, lo, hi)

    def rule_order(self, rid: int, tier: str | int, action: Action, rank: int, direction: Direction) -> None:
        self.add("rule_rank", rid, rank)
        self.add("rule_tier", rid, self.fb.tier_ids[tier] if isinstance(tier, str) else tier)
        self.add("rule_action", rid, action.value)
        self.add("rule_dir", rid, direction.value)
        if action is not Action.LOG:
            self.add("decisive", rid)

    def policy(self, pol: NetworkPolicy, rank: list[int]) -> None:
        pid = next(self.ids)
        self.fb.policy_ids[pid] = pol
        ns = self.fb.ns_ids[pol.namespace]
        self.add("policy", pid)
        self.add("pol_ns", pid, ns)
        self.add("pol_tier", pid, self.fb.tier_ids[DEFAULT_TIER])
        self.add("pol_podsel", pid, self.selector(pol.pod_selector, "podsel"))
        for d in pol.types:
            self.add("pol_type", pid, d.value)
        for d in Direction:
            for rule in pol.rules(d):
                rid = self.rule(pid, ns, pol, rule)
                self.add("krule", rid)
                self.rule_order(rid, DEFAULT_TIER, Action.ALLOW, rank[0], d)  # k8s: Allow rules (§4.6)
                rank[0] += 1

    def rule(self, pid: int, ns: int, pol: NetworkPolicy, rule: Rule) -> int:
        rid = next(self.ids)
        self.fb.rule_ids[rid] = (pol, rule)
        self.add("pol_rule", pid, rule.direction.value, rid)
        self.add("rule_index", rid, rule.index)
        if rule.peers is None:
            self.add("rule_all_peers", rid)
        for index, peer in enumerate(rule.peers or ()):
            peer_id = self.peer(peer, ns)
            self.add("rule_peer", rid, peer_id)
            self.fb.peer_indexes.setdefault((rid, peer_id), []).append(index)
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
        return rid

    def peer(self, peer: IPBlockPeer | PodPeer, ns: int) -> int:
        """The id of a Kubernetes rule's peer; equal peers (in one namespace, for those of the policy's own) share
        one, so that what a peer matches (peer_match) is evaluated once for all the rules that name it."""
        if isinstance(peer, IPBlockPeer):
            key: tuple = ("ipBlock", self.cidr(peer.cidr), tuple(sorted({self.cidr(ex) for ex in peer.excepts})))
        else:  # k8s: no podSelector means every pod of the selected namespaces, as the empty selector does
            pods = self.selector(peer.pod_selector or LabelSelector(), "podsel")
            key = (("pods", ns, pods) if peer.namespace_selector is None else
                   ("pods in", self.selector(peer.namespace_selector, "nssel"), pods))
        peer_id = self.peers.get(key)
        if peer_id is not None:
            return peer_id
        peer_id = self.peers[key] = next(self.ids)
        if key[0] == "ipBlock":
            self.add("peer_cidr", peer_id, key[1])
            for ex in key[2]:
                self.add("peer_except", peer_id, ex)
        else:
            if key[0] == "pods":
                self.add("peer_same_ns", peer_id, ns)
            else:
                self.add("peer_nssel", peer_id, key[1])
            self.add("peer_podsel", peer_id, key[2])
        return peer_id

    def admin_policy(self, pol: AdminPolicy, rank: list[int]) -> None:
        """An ANP or the BANP: subject by namespace and pod selectors, k8s-style peers and ports, ordered."""
        pid = next(self.ids)
        self.fb.policy_ids[pid] = pol
        self.add("policy", pid)
        self.add("apol", pid)
        self.add("pol_tier", pid, self.fb.tier_ids[pol.tier])
        self.add("apol_nssel", pid, self.selector(pol.namespace_selector, "nssel"))
        self.add("apol_podsel", pid, self.selector(pol.pod_selector, "podsel"))
        for d in pol.types:
            self.add("pol_type", pid, d.value)
        for d in Direction:
            for rule in pol.rules(d):
                shaped = Rule(d, rule.index, () if rule.matches_nothing else rule.peers, rule.ports, rule.origin)
                rid = self.rule(pid, None, pol, shaped)  # type: ignore[arg-type]
                self.fb.rule_ids[rid] = (pol, rule)
                self.add("krule", rid)
                self.rule_order(rid, pol.tier, rule.action, rank[0], d)
                rank[0] += 1

    def calico_policy(self, pol: CalicoPolicy, rank: list[int], tier: int | None = None) -> int:
        """A Calico policy (or a host endpoint's profile, in the tier `tier`). preDNAT and untracked policies
        run at their own hooks: directions prednat_in, untracked_in, untracked_out (rules/hosts.dl)."""
        pid = next(self.ids)
        fb = self.fb
        fb.policy_ids[pid] = pol
        self.add("policy", pid)
        self.add("cpol", pid)
        if tier is None:
            tier = fb.tier_ids[pol.tier] if pol.hook == "normal" else self.hook_tier(pol.tier, pol.hook)
        self.add("pol_tier", pid, tier)
        if pol.namespace is not None:
            self.add("cpol_ns", pid, fb.ns_ids[pol.namespace])
        else:
            self.add("cpol_global", pid)
            if pol.namespace_selector is not None:
                self.add("cpol_nssel", pid, self.selector(pol.namespace_selector, "cnssel"))
        if pol.service_account_selector is not None:
            self.add("cpol_sasel", pid, self.selector(pol.service_account_selector, "sasel"))
        if pol.kind != "Profile":  # a profile applies to the host endpoints that list it (hep_profile)
            self.add("cpol_sel", pid, self.selector(pol.selector, "csel"))
        hooked = {d: hook_direction(pol.hook, d) for d in Direction if pol.rules(d) or d in pol.types}
        for d in pol.types:
            if pol.workloads:  # preDNAT / doNotTrack policies never apply to workloads (§3.1)
                self.add("pol_type", pid, d.value)
            else:
                self.add("hook_type", pid, hooked[d])
        forward = pol.apply_on_forward and pol.hook == "normal" and bool(fb.cluster.host_endpoints)
        for d in Direction:
            for rule in pol.rules(d):
                rid = next(self.ids)
                fb.rule_ids[rid] = (pol, rule)
                self.add("pol_rule", pid, hooked[d], rid)
                self.add("rule_hook", rid, hooked[d])
                if forward and d is Direction.INGRESS:  # also evaluated on traffic forwarded to a node port's pods
                    self.add("pol_rule", pid, "fwd_in", rid)
                    self.add("rule_hook", rid, "fwd_in")
                self.add("rule_index", rid, rule.index)
                self.add("crule", rid)
                self.rule_order(rid, tier, rule.action, rank[0], d)
                rank[0] += 1
                self.calico_rule(rid, pol, rule)
        if forward:
            self.add("pol_fwd", pid)
        return pid

    def profiles(self, rank: list[int]) -> None:
        """Each host endpoint's profiles, as policies of the profile tier of their position."""
        fb = self.fb
        by_name = {p.name: p for p in fb.cluster.profiles}
        made: dict[tuple[str, int], int] = {}
        for cls in fb.classes:
            if not cls.host:
                continue
            for k, name in enumerate(cls.members[0].profiles, 1):
                pid = made.get((name, k))
                if pid is None:
                    pid = made[(name, k)] = self.calico_policy(profile_policy(by_name.get(name), name, k), rank,
                                                               fb.tier_ids[f"(profile {k})"])
                self.add("hep_profile", cls.id, pid)

    def calico_rule(self, rid: int, pol: CalicoPolicy, rule: CalicoRule) -> None:
        self.add("rule_src", rid, self.entity(rule.source, pol, "src"))
        self.add("rule_dst", rid, self.entity(rule.destination, pol, "dst"))
        if rule.ip_version is not None:
            self.add("rule_ipver", rid, rule.ip_version)
        if rule.protocol is not None:
            self.add("crule_proto", rid, rule.protocol)
        elif rule.not_protocol is not None:
            self.add("crule_notproto", rid, rule.not_protocol)
        else:
            self.add("crule_anyproto", rid)
        if rule.source.ports or (rule.protocol and rule.protocol == rule.not_protocol):
            # the flows evaluated have a source port that no rule names (tiers.dl);
            # `protocol: X` with `notProtocol: X` matches nothing
            self.add("crule_repr_miss", rid)
        dst = rule.destination
        ports = [(pm.first, pm.last, pm.name) for pm in dst.ports]
        not_ports = [(pm.first, pm.last, pm.name) for pm in dst.not_ports]
        if rule.icmp is not None:  # ICMP type/code are the "ports" of ICMP and ICMPv6 (icmp needs that protocol)
            ports.append((*icmp_range(rule.icmp), None))
        if rule.not_icmp is not None:
            not_ports.append((*icmp_range(rule.not_icmp), None))
        for lo, hi, name in ports:
            if name is None:
                self.add("cport_range", rid, lo, hi)
            else:
                self.add("cport_named", rid, name)
        for lo, hi, name in not_ports:
            if name is None:
                self.add("cnotport_range", rid, lo, hi)
            else:
                self.add("cnotport_named", rid, name)
        if dst.service is not None:  # the backends' target ports, resolved on each backend (SEMANTICS §3.6.3)
            self.add("crule_dynamic", rid)
            for cls_id, proto, port in self.service_ports(dst.service):
                self.add("svc_port", rid, cls_id, proto, port)
        elif not ports and not not_ports:
            self.add("crule_noports", rid)
        elif not ports:
            self.add("crule_onlynot", rid)
        if dst.service is None and any(name is not None for _lo, _hi, name in ports + not_ports):
            self.add("crule_dynamic", rid)
        elif dst.service is None and (ports or not_ports):
            self.add("crule_static", rid)

    def service_backends(self, service: tuple[str, str]) -> list[tuple[int, Endpoint]]:
        """(class, pod) for each pod backing the Service (namespace, name); none when there is no such Service
        or it has no selector."""
        from reasoner.services import backends

        svc = self.fb.cluster.service(*service)
        if svc is None:
            return []
        return [(self.fb.class_of[ep.ref].id, ep) for ep in backends(self.fb.cluster, svc) if ep.ref in self.fb.class_of]

    def service_ports(self, service: tuple[str, str]) -> list[tuple[int, str, int]]:
        """(backend class, protocol, target port) for every port of the Service and every backend."""
        from reasoner.services import target_port

        svc = self.fb.cluster.service(*service)
        return sorted({(cls_id, sp.protocol, tp) for cls_id, ep in self.service_backends(service)
                       for sp in svc.ports if (tp := target_port(sp, ep)) is not None})

    def entity(self, ent: EntityRule, pol: CalicoPolicy, side: str) -> int:
        """The id of an EntityRule on the `side` of a rule: alike EntityRules of one side share their facts and id
        (hash-consing, as for selectors), so what they match is derived once."""
        facts: list[tuple] = []
        self._entity_facts(ent, pol, facts)
        key = (side, tuple(facts))
        eid = self.entities.get(key)
        if eid is None:
            eid = self.entities[key] = next(self.ids)
            for relation, *values in facts:
                self.add(relation, eid, *values)
        return eid

    def _entity_facts(self, ent: EntityRule, pol: CalicoPolicy, facts: list[tuple]) -> None:
        """Facts for one EntityRule (without its id), scoped as Calico scopes it (SEMANTICS §3.5, rules.go
        getEndpointSelector)."""
        def add(relation: str, *values) -> None:
            facts.append((relation, *values))
        sa = ent.service_accounts
        has_sa = sa is not None and (bool(sa.names) or sa.selector is not None)
        if ent.service is not None:  # the service's backend pods, whatever their port (ports: the rule's)
            add("ent_pos")
            add("ent_nonets")
            add("ent_svc")
            for cls_id in sorted({c for c, _ep in self.service_backends(ent.service)}):
                add("ent_svc_member", cls_id)
            return
        if not (ent.nets or ent.not_nets or ent.selector or ent.not_selector or ent.namespace_selector or has_sa):
            add("ent_any")
            return
        for net in ent.nets:
            add("ent_net", self.cidr(net))
        add("ent_has_nets" if ent.nets else "ent_nonets")
        for net in ent.not_nets:
            add("ent_notnet", self.cidr(net))
        if ent.not_selector is not None:
            add("ent_notsel", self.selector(ent.not_selector, "csel"))
        core = ent.selector is not None or has_sa
        ns_scope = ent.namespace_selector is not None or pol.namespace is not None
        if ns_scope and (core or ent.not_selector is not None or ent.namespace_selector is not None) or core:
            add("ent_pos")
            if ns_scope:
                nsel = ent.namespace_selector
                if nsel is not None and nsel.canonical == "global()":
                    add("ent_scope_global")
                elif nsel is not None:
                    add("ent_scope_nssel", self.selector(nsel, "cnssel"))
                else:
                    add("ent_scope_ns", self.fb.ns_ids[pol.namespace])
            if ent.selector is not None:
                add("ent_sel", self.selector(ent.selector, "csel"))
            else:
                add("ent_nosel")
            if sa is not None and sa.names:
                add("ent_sa_names")
                for n in sa.names:
                    add("ent_sa_name", n)
            if sa is not None and sa.selector is not None:
                add("ent_sa_sel", self.selector(sa.selector, "sasel"))
        else:
            add("ent_nopos")


HOST_DEFAULT_TIER = "(host endpoint default)"
HOOK_DIRECTIONS = {("preDNAT", Direction.INGRESS): "prednat_in", ("untracked", Direction.INGRESS): "untracked_in",
                   ("untracked", Direction.EGRESS): "untracked_out"}


def hook_direction(hook: str, d: Direction) -> str:
    """The evaluation a rule of a policy of `hook` takes part in: ingress/egress, or a host endpoint hook."""
    return d.value if hook == "normal" else HOOK_DIRECTIONS[(hook, d)]


def profile_policy(prof: Profile | None, name: str, position: int) -> CalicoPolicy:
    """A host endpoint's profile as a policy of the tier "(profile K)": its rules, both directions. The built-in
    projectcalico-default-allow allows everything; a profile not given has no rules (SEMANTICS §4.5)."""
    if prof is None and name == DEFAULT_ALLOW_PROFILE:
        origin = Origin("(built-in profile)", None)
        allow = {d: (CalicoRule(d, 0, Action.ALLOW, None, None, None, None, None, EntityRule(), EntityRule(), False,
                                origin),) for d in Direction}
        prof = Profile(name, (), origin, allow[Direction.INGRESS], allow[Direction.EGRESS])
    if prof is None:
        prof = Profile(name, (), Origin("(profile not given)", None))
    return CalicoPolicy("Profile", None, name, f"(profile {position})", None, parse_selector(""), None, None,
                        frozenset(Direction), prof.ingress, prof.egress, "normal", prof.origin)


def emit(cluster: Cluster, selectors: tuple[LabelSelector | CalicoSelector, ...] = ()) -> FactBase:
    """`selectors`: pod selectors besides the input's whose label keys split endpoint classes (build_classes)."""
    em = _Emitter(cluster, selectors)
    em.inventory()
    rank = [0]
    for pol in evaluation_order(cluster):
        if isinstance(pol, NetworkPolicy):
            em.policy(pol, rank)
        elif isinstance(pol, AdminPolicy):
            em.admin_policy(pol, rank)
        else:
            em.calico_policy(pol, rank)
    if cluster.host_endpoints:
        em.profiles(rank)
        em.node_ports()
    check_cuts(em.fb)
    return em.fb


def check_cuts(fb: FactBase) -> None:
    """The input contract of `within` (rules/ports.dl) and `atom_in_range` (rules/peers.dl): they walk the atoms
    from the one a range starts at, so every port range and CIDR the facts name starts and ends at atom bounds.
    A range that does not is a defect of the atom cutting, never of the input."""
    starts = {(p, lo) for p, lo, _hi in fb.port_atoms.values()}
    ends = {(p, hi) for p, _lo, hi in fb.port_atoms.values()}
    ported = {fact[1] for fact in fb.facts if fact[0] == "ported"}
    protocols = {p for p, _lo in starts}
    astarts = {(a.family, a.lo) for a in fb.atoms.atoms}
    aends = {(a.family, a.hi) for a in fb.atoms.atoms}
    for fact in fb.facts:
        if fact[0] == "port_range":
            bounds = [(fact[2], fact[3], fact[4])] if fact[2] in protocols else []
        elif fact[0] in ("cport_range", "cnotport_range"):
            bounds = [(p, fact[2], fact[3]) for p in ported]
        elif fact[0] == "cidr_range":
            if (fact[2], fact[3]) not in astarts or (fact[2], fact[4]) not in aends:
                raise RuntimeError(f"CIDR range {fact[3]}..{fact[4]} does not fall on address atom bounds")
            continue
        else:
            continue
        for p, lo, hi in bounds:
            if (p, lo) not in starts or (p, hi) not in ends:
                raise RuntimeError(f"{p} port range {lo}..{hi} does not fall on port atom bounds")
