"""The model as fact tuples (never as Datalog text): `emit(cluster)` gives a `FactBase`.

Object ids are small integers from one counter, so that `label(Obj, Key, Val)` serves namespaces and
endpoint classes alike. The `FactBase` keeps the way back from ids to model objects for explanations.
The facts each rule file of rules/ reads are made by the module of the same name beside this one (selectors,
policies, peers, ports, calico, admin, hosts, tiers), the inventory's by inventory.py, all through one `Emitter`
(state.py); `emit` drives them in the order that gives every object its id.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reasoner.facts.admin import admin_policy
from reasoner.facts.calico import calico_policy, network_sets, profiles
from reasoner.facts.classes import Atoms, EndpointClass, build_classes
from reasoner.facts.hosts import failsafe, host_tiers, node_ports
from reasoner.facts.inventory import inventory
from reasoner.facts.policies import network_policy
from reasoner.facts.ports import protocols
from reasoner.facts.state import Emitter
from reasoner.facts.tiers import evaluation_order, tier_ranks
from reasoner.model.admin import AdminPolicy, AdminRule
from reasoner.model.calico import CalicoPolicy, CalicoRule
from reasoner.model.calico_selector import CalicoSelector
from reasoner.model.cidr import Cidr
from reasoner.model.cluster import Cluster
from reasoner.model.policy import NetworkPolicy, Rule
from reasoner.model.ports import PROTOCOLS
from reasoner.model.selector import LabelSelector

Fact = tuple  # (relation, *values)
Policy = NetworkPolicy | CalicoPolicy | AdminPolicy
# A rule with its policy. An admin policy's rule is emitted as a k8s-shaped Rule (policies.py k8s_rule), then
# stored as its AdminRule (admin.py).
PolicyRule = (tuple[NetworkPolicy | AdminPolicy, Rule] | tuple[AdminPolicy, AdminRule]
              | tuple[CalicoPolicy, CalicoRule])


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
    policy_ids: dict[int, Policy] = field(default_factory=dict)
    rule_ids: dict[int, PolicyRule] = field(default_factory=dict)
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


def emit(cluster: Cluster, selectors: tuple[LabelSelector | CalicoSelector, ...] = ()) -> FactBase:
    """`selectors`: pod selectors besides the input's whose label keys split endpoint classes (build_classes)."""
    classes, atoms = build_classes(cluster, selectors)
    em = Emitter(FactBase(cluster, classes, atoms))
    inventory(em)
    network_sets(em)
    protocols(em)
    tier_ranks(em)
    if cluster.host_endpoints:
        host_tiers(em, len(cluster.tiers))
        failsafe(em)
    for pol in evaluation_order(cluster):
        if isinstance(pol, NetworkPolicy):
            network_policy(em, pol)
        elif isinstance(pol, AdminPolicy):
            admin_policy(em, pol)
        else:
            calico_policy(em, pol)
    if cluster.host_endpoints:
        profiles(em)
        node_ports(em)
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
