"""`scope: any-workload`: every pod that could be deployed, as a finite set of representative pods.

A pod that does not exist yet is known to policy only through tests that compare its labels (and those of
its namespace and service account) with constants, its namespace, its service account's name, and the
address atom of its IP. Two new pods that agree on every such test of the input and of the spec are
indistinguishable to every rule and to every requirement. So the new pods are quantified symbolically:
z3 takes label values as strings (tests are `==`, `in`, `has`, `contains`, `starts with`, `ends with`
against constants), and enumerates every *realizable* combination of test outcomes (AllSAT projected on
the tests). Each combination gets one concrete representative pod (two, so that traffic between two pods
alike is covered too); the representatives join the inventory, and the Datalog rules decide everything
from there: the semantics stay in `rules/`. The tests are collected in label_tests.py, read by z3 in
values.py, and their realizable combinations found in kinds.py; this module names the representatives,
gives them addresses, and adds them to the inventory (`build_universe`, `build_worlds`, `build_sides`).

Choices quantified over: the namespace (each existing one, or a new namespace with any name and labels),
the service account (each existing one of that namespace, `default`, or a new one with any name and
labels), the pod labels, and the IP (each address atom inside the pod CIDRs; default: every address). Every
representative gets an address of its own, which no endpoint of the input has, so a witness between two of
them is realizable.
Not quantified: named container ports (new pods declare none) and host networking (new pods use the pod
network). A namespace that does not exist and that a selector pins by name is materialised once per
proof: a second labelling of the same new name is not explored.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Callable

import z3

from reasoner.facts.classes import Atoms, policy_cidrs
from reasoner.model.calico import AUTO
from reasoner.model.cidr import Cidr, ip_int, ip_text
from reasoner.model.cluster import NAME_LABEL, Cluster, Endpoint, Namespace, ServiceAccount
from reasoner.model.origin import Origin
from reasoner.properties import DEFAULT_BUDGET
from reasoner.properties.kinds import Budget, TooMany, new_namespaces, pod_kinds
from reasoner.properties.label_tests import Test, collect_tests, service_selector
from reasoner.properties.values import SANAME, Symbolic, Values, calico_formula, k8s_formula

ORIGIN = Origin("<any-workload>", None)
_MAX_REPRESENTATIVES = 6_000  # new pods (two per kind and address atom): beyond, the analysis is too slow
_MAX_SIDE_REPRESENTATIVES = 10_000  # new pods of one requirement (build_sides; measured: 6 050 with 2 000 pods, 60 s)


@dataclass
class NewPod:
    """A representative pod: what a pod of this kind would need to be."""

    namespace: str
    labels: dict[str, str]
    service_account: str
    ip: str
    new_namespace: dict[str, str] | None = None  # the new namespace's labels
    new_service_account: dict[str, str] | None = None  # the new service account's labels

    def describe(self) -> dict:
        out: dict = {"namespace": self.namespace, "labels": dict(sorted(self.labels.items())),
                     "serviceAccount": self.service_account, "ip": self.ip}
        if self.new_namespace is not None:
            out["newNamespaceLabels"] = dict(sorted(self.new_namespace.items()))
        if self.new_service_account is not None:
            out["newServiceAccountLabels"] = dict(sorted(self.new_service_account.items()))
        return out


@dataclass
class Universe:
    """The inventory plus representatives of every pod that could be deployed."""

    cluster: Cluster
    new_pods: dict[str, NewPod] = field(default_factory=dict)  # endpoint ref -> what it stands for
    signatures: int = 0


def build_universe(cluster: Cluster, extra: list[Test] = (), pod_cidrs: list[Cidr] | None = None,
                   limit: int = _MAX_REPRESENTATIVES, budget: float = DEFAULT_BUDGET) -> Universe:
    """The inventory plus a representative of every kind of pod that could be deployed, found within `budget`
    seconds (else OutOfBudget)."""
    (out,), universe = build_worlds([cluster], extra, pod_cidrs, limit, budget)
    return universe


def _copy(cluster: Cluster) -> Cluster:
    """A copy whose inventory lists can grow; everything else (policies, host endpoints, pools, ...) is shared."""
    return dataclasses.replace(cluster, namespaces=dict(cluster.namespaces), endpoints=list(cluster.endpoints),
                               services=list(cluster.services), service_accounts=list(cluster.service_accounts))


def build_worlds(clusters: list[Cluster], extra: list[Test] = (), pod_cidrs: list[Cidr] | None = None,
                 limit: int = _MAX_REPRESENTATIVES, budget: float = DEFAULT_BUDGET) -> tuple[list[Cluster], Universe]:
    """The same representative pods added to each of several versions of a cluster (diff): a kind is a
    combination of test outcomes in every version at once, so that each new pod behaves, in each version,
    as every pod of its kind does there. Returns the widened clusters and the universe of the first.
    Raises OutOfBudget when that takes more than `budget` seconds, TooMany when there are too many kinds."""
    deadline = Budget(budget)
    tests = [collect_tests(c, list(extra)) for c in clusters]
    values = Values([t for ts in tests for t in ts])
    outs = [_copy(c) for c in clusters]
    universe = Universe(outs[0])
    names = sorted({n for c in clusters for n in c.namespaces})
    namespaces: list[tuple[str, dict | None]] = [(n, None) for n in names]
    for name, labels in new_namespaces(set(names), [t for ts in tests for t in ts], values, limit, deadline):
        namespaces.append((name, labels))
    for name, labels in namespaces:  # a namespace that a version lacks gets only its name label there
        for out in outs:
            if name not in out.namespaces:
                out.namespaces[name] = Namespace(name, tuple(sorted((labels or {NAME_LABEL: name}).items())), ORIGIN)
    atoms = _addresses(clusters, pod_cidrs)
    used = {ep.ref for c in clusters for ep in c.endpoints}
    n = 0
    for ns, new_labels in namespaces:
        for labels, sa, sa_new in pod_kinds(outs, ns, tests, values, limit, deadline):
            universe.signatures += 1
            if sa_new is not None:
                for out in outs:
                    out.service_accounts.append(ServiceAccount(ns, sa, tuple(sorted(sa_new.items())), ORIGIN))
            for atom in atoms:
                n += 1
                if n * 2 > limit:
                    raise TooMany(f"any-workload: {universe.signatures}+ kinds of new pods times {len(atoms)} address "
                                  f"atoms need more than {limit} representative pods; not analysed (podCIDRs "
                                  f"narrows the addresses)")
                for suffix in ("", "-twin"):
                    name = f"new-pod-{n}{suffix}"
                    while f"{ns}/{name}" in used:
                        name = "x" + name
                    used.add(f"{ns}/{name}")
                    ip = atom.take()
                    for out in outs:
                        out.endpoints.append(Endpoint(ns, name, "Pod", tuple(sorted(labels.items())), sa, (), (ip,),
                                                      False, ORIGIN))
                    universe.new_pods[f"{ns}/{name}"] = NewPod(ns, labels, sa, ip, new_labels, sa_new)
    deadline.ms()  # a budget spent by now leaves no time to analyse the representatives
    return outs, universe


@dataclass(frozen=True)
class Side:
    """The new pods that one end of a requirement needs. `tests`: those that can decide its flows (`project`);
    `member`: a spec peer (reasoner.properties.spec.Peer) they must belong to, or with `outside` must not (None:
    no constraint)."""

    tests: list[Test]
    member: object = None
    outside: bool = False


def _outside_namespace(peer, ns: Namespace, cluster: Cluster) -> bool:
    """Whether every new pod of namespace `ns` is outside `peer`, whatever its labels and service account."""
    if peer.pods is not None:  # names existing pods only
        return True
    if peer.namespace is not None and ns.name != peer.namespace:
        return True
    if peer.namespace_selector is not None and \
            not peer.namespace_selector.matches({**dict(ns.labels), AUTO + "name": ns.name}):
        return True
    if peer.service is not None:
        svc = cluster.service(*peer.service.split("/", 1))
        return svc is None or svc.namespace != ns.name or svc.selector is None
    return False


def _member_formula(peer, cluster: Cluster, values: Values) -> Callable:
    """The part of `peer`'s membership that a new pod's labels and service account decide, as a formula."""
    def formula(pod: Symbolic, calico_view, sa_name) -> z3.BoolRef:
        terms = []
        if peer.selector is not None:
            terms.append(calico_formula(peer.selector, calico_view, values))
        if peer.service_account is not None:
            terms.append(sa_name == values.const(SANAME, peer.service_account))
        if peer.service is not None:
            svc = cluster.service(*peer.service.split("/", 1))
            terms.append(k8s_formula(service_selector(svc.selector), pod, values))
        return z3.And(terms) if terms else z3.BoolVal(True)

    return formula


def build_sides(cluster: Cluster, sides: list[Side], pod_cidrs: list[Cidr] | None = None,
                limit: int = _MAX_SIDE_REPRESENTATIVES, budget: float = DEFAULT_BUDGET) -> Universe:
    """The inventory plus, for each side of a requirement, a representative of every kind of pod that could be
    deployed there, kinds told apart only by the side's tests (`project`): the pods that could stand at that end
    of a flow that the requirement asks about, as that flow's verdict sees them. A flow between two new pods is
    decided by the source's tests of its side and the destination's of its side, so a representative of each,
    side by side, behaves as the pair does; no twin is needed. Raises TooMany beyond `limit` representatives,
    OutOfBudget beyond `budget` seconds."""
    deadline = Budget(budget)
    every = [t for side in sides for t in side.tests]
    values = Values(every)
    out = _copy(cluster)
    universe = Universe(out)
    atoms = _addresses([cluster], pod_cidrs)
    used = {ep.ref for ep in cluster.endpoints}
    n = 0
    for side in sides:
        peer = side.member
        if peer is not None and not side.outside and peer.pods is not None:
            continue  # `pods:` names existing pods: no new pod belongs
        namespaces: list[tuple[str, dict | None]] = [(name, None) for name in sorted(cluster.namespaces)]
        pinned = peer is not None and not side.outside and peer.namespace in cluster.namespaces
        if not pinned:
            for name, labels in new_namespaces(set(cluster.namespaces), side.tests, values, limit, deadline):
                if name in out.namespaces and not name.startswith("new-namespace-"):
                    # a name pinned by a test, made for a side before: tried with one labelling (module doc)
                    namespaces.append((name, dict(out.namespaces[name].labels)))
                    continue
                if name in out.namespaces:  # an earlier side's new namespace has that name: another one
                    k = len(out.namespaces)
                    while f"new-namespace-{k}" in out.namespaces:
                        k += 1
                    name = f"new-namespace-{k}"
                    labels = {**labels, NAME_LABEL: name}
                out.namespaces[name] = Namespace(name, tuple(sorted(labels.items())), ORIGIN)
                namespaces.append((name, labels))
        for ns_name, new_labels in namespaces:
            ns = out.namespaces[ns_name]
            member = None
            if peer is not None:
                if _outside_namespace(peer, ns, out):
                    if not side.outside:
                        continue  # no new pod of ns belongs: none is needed; outside it, every one is
                else:
                    inside = _member_formula(peer, out, values)
                    member = (lambda f: lambda *a: z3.Not(f(*a)))(inside) if side.outside else inside
            for labels, sa, sa_new in pod_kinds([out], ns_name, [side.tests], values, limit, deadline, member):
                universe.signatures += 1
                if sa_new is not None:
                    out.service_accounts.append(ServiceAccount(ns_name, sa, tuple(sorted(sa_new.items())), ORIGIN))
                for atom in atoms:
                    n += 1
                    if n > limit:
                        raise TooMany(f"any-workload: {universe.signatures}+ kinds of new pods times {len(atoms)} "
                                      f"address atoms need more than {limit} representative pods; not analysed "
                                      f"(podCIDRs narrows the addresses)")
                    name = f"new-pod-{n}"
                    while f"{ns_name}/{name}" in used:
                        name = "x" + name
                    used.add(f"{ns_name}/{name}")
                    ip = atom.take()
                    out.endpoints.append(Endpoint(ns_name, name, "Pod", tuple(sorted(labels.items())), sa, (), (ip,),
                                                  False, ORIGIN))
                    universe.new_pods[f"{ns_name}/{name}"] = NewPod(ns_name, labels, sa, ip, new_labels, sa_new)
    deadline.ms()
    return universe


# Addresses a reader recognises as pod addresses, used when the atom holds them.
_TYPICAL = ("10.244.0.10", "192.168.0.10", "172.16.0.10", "100.64.0.10", "10.0.0.10", "fd00::10")


def default_pod_cidrs(cluster: Cluster) -> list[Cidr]:
    """Per IP family, the smallest CIDR that holds every pod address of the input and is no smaller than a
    /16 (IPv6: /48): the pod CIDR as far as the input shows it. A family in which no pod has an address is
    left out; every address of both families when no pod has a known address."""
    if not any(ip for ep in cluster.endpoints if not ep.host_network for ip in ep.ips):
        return [Cidr.parse("0.0.0.0/0"), Cidr.parse("::/0")]
    out = []
    for family in (4, 6):
        values = [ip_int(ip)[1] for ep in cluster.endpoints if not ep.host_network for ip in ep.ips
                  if ip_int(ip)[0] == family]
        if not values:
            continue
        bits = 32 if family == 4 else 128
        lo, hi = min(values), max(values)
        prefix = min(bits - (lo ^ hi).bit_length(), 16 if family == 4 else 48)  # no smaller than a /16 (/48)
        base = lo >> (bits - prefix) << (bits - prefix) if prefix else 0
        out.append(Cidr(family, base, base + (1 << (bits - prefix)) - 1))
    return out


class _AtomAddresses:
    """The addresses of one address atom that representatives get: each a new one, none an endpoint has, so that
    a witness between representatives is a pair of pods that could run side by side. Only an atom with fewer
    free addresses than representatives hands one out again (never a taken one while a free one is left)."""

    def __init__(self, family: int, lo: int, hi: int, start: int, taken: set[str]):
        self.family, self.lo, self.hi, self.next, self.taken = family, lo, hi, start, taken
        self.given: list[str] = []

    def take(self) -> str:
        for _ in range(min(self.hi - self.lo + 1, 1 << 16)):
            value, self.next = self.next, self.next + 1 if self.next < self.hi else self.lo
            text = ip_text(self.family, value)
            if text not in self.taken:
                self.taken.add(text)
                self.given.append(text)
                return text
        if not self.given:  # every address of the atom belongs to an endpoint: share the first
            self.given.append(ip_text(self.family, self.lo))
        self.given.append(self.given.pop(0))
        return self.given[-1]


def _addresses(clusters: list[Cluster], pod_cidrs: list[Cidr] | None) -> list[_AtomAddresses]:
    """The address atoms (of every version's CIDRs) inside the pod CIDRs, each handing out addresses that no
    endpoint and no other representative has."""
    every, tops = [], []
    for c in clusters:
        e, t = policy_cidrs(c)
        every += e
        tops += t
    cidrs = list(pod_cidrs) if pod_cidrs else default_pod_cidrs(clusters[0])
    atoms = Atoms(every + cidrs, tops)
    taken = {ip_text(*ip_int(ip)) for c in clusters for ep in c.endpoints for ip in ep.ips}
    typical = [Cidr.of_ip(ip) for ip in _TYPICAL]
    out = []
    for atom in atoms.atoms:
        if not any(c.family == atom.family and c.lo <= atom.lo and atom.hi <= c.hi for c in cidrs):
            continue
        start = next((c.lo for c in typical if c.family == atom.family and atom.lo <= c.lo <= atom.hi),
                     atom.lo + 10 if atom.hi - atom.lo >= 20 else atom.lo)
        out.append(_AtomAddresses(atom.family, atom.lo, atom.hi, start, taken))
    return out
