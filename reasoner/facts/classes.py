"""Equivalence classes of endpoints, and address atoms.

Endpoints with the same namespace, tested labels, service account, named ports, network mode and address
atoms are indistinguishable to every policy, so the engine reasons about classes. A label is *tested* when
its key is one that some pod selector of the input reads (Kubernetes, AdminNetworkPolicy and Calico
selectors, Service selectors) or one of the selectors the analysis is asked about (a compliance spec's):
labels that nothing reads (`pod-template-hash`, `controller-revision-hash`, ...) do not split classes,
and a class holds only the tested labels, on which all its members agree. Addresses are cut into atoms
by every CIDR bound that any policy mentions: all addresses of one atom are treated alike by every rule.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Iterable

from reasoner.errors import ReasonerError
from reasoner.model.admin import AdminPolicy
from reasoner.model.calico_selector import CalicoSelector
from reasoner.model.cidr import MAX, MAX_CIDRS, Cidr, ip_int
from reasoner.model.cluster import Cluster, Endpoint, HostEndpoint
from reasoner.model.policy import IPBlockPeer, NetworkPolicy, PodPeer
from reasoner.model.ranges import merge
from reasoner.model.selector import LabelSelector


@dataclass(frozen=True)
class Atom:
    id: int
    family: int
    lo: int
    hi: int
    mentioned: bool  # inside some ipBlock cidr: shown as a `cidr:` peer in maps


@dataclass
class EndpointClass:
    id: int
    namespace: str | None
    labels: tuple[tuple[str, str], ...]  # a pod class: the tested labels only (a member's own: members[i].labels)
    members: list[Endpoint | HostEndpoint] = field(default_factory=list)  # a host endpoint's class: it alone
    atoms: tuple[int, ...] = ()
    families: tuple[int, ...] = (4, 6)
    external: Atom | None = None
    host_network: bool = False
    host: bool = False  # a Calico host endpoint (one per class)

    @property
    def name(self) -> str:
        if self.external is not None:
            return "atom:" + str(Cidr(self.external.family, self.external.lo, self.external.hi))
        return self.members[0].ref if len(self.members) == 1 else f"{self.members[0].ref} (+{len(self.members) - 1})"


class Atoms:
    """The partition of each IP family by every CIDR bound in the policies."""

    def __init__(self, cidrs: list[Cidr], shown: list[Cidr]):
        """Cut at the bounds of `cidrs`; an atom inside one of `shown` is `mentioned`."""
        cuts: dict[int, set[int]] = {4: {0}, 6: {0}}
        for c in cidrs:
            cuts[c.family].add(c.lo)
            if c.hi < MAX[c.family]:
                cuts[c.family].add(c.hi + 1)
        self.tops = {fam: sorted(cuts[fam]) for fam in (4, 6)}
        self.atoms: list[Atom] = []
        self.first: dict[int, int] = {}
        for fam in (4, 6):
            starts = self.tops[fam]
            covered = merge([(c.lo, c.hi) for c in shown if c.family == fam])
            ends = [lo for lo, _hi in covered]
            self.first[fam] = len(self.atoms)
            for i, lo in enumerate(starts):
                hi = starts[i + 1] - 1 if i + 1 < len(starts) else MAX[fam]
                k = bisect.bisect_right(ends, lo) - 1  # the last covered run that starts at or below lo
                inside = k >= 0 and hi <= covered[k][1]
                self.atoms.append(Atom(len(self.atoms), fam, lo, hi, inside))

    def of_ip(self, text: str) -> Atom:
        fam, value = ip_int(text)
        starts = self.tops[fam]
        return self.atoms[self.first[fam] + bisect.bisect_right(starts, value) - 1]


def policy_cidrs(cluster: Cluster) -> tuple[list[Cidr], list[Cidr]]:
    """(every CIDR any policy or network set mentions, the ones that name addresses to show in maps)."""
    every: list[Cidr] = []
    tops: list[Cidr] = []
    k8s_shaped: list[NetworkPolicy | AdminPolicy] = [*cluster.policies, *cluster.admin_policies]
    for pol in k8s_shaped:
        for rules in (pol.ingress, pol.egress):
            for rule in rules:
                for peer in rule.peers or ():
                    if isinstance(peer, IPBlockPeer):
                        tops.append(peer.cidr)
                        every.append(peer.cidr)
                        every.extend(peer.excepts)
    for cpol in cluster.rule_lists():
        for crule in cpol.ingress + cpol.egress:
            for ent in (crule.source, crule.destination):
                tops.extend(ent.nets)
                every.extend(ent.nets)
                every.extend(ent.not_nets)
    for nset in cluster.network_sets:
        tops.extend(nset.nets)
        every.extend(nset.nets)
    if cluster.host_endpoints:  # failsafe ports may be limited to remote nets (SEMANTICS §4.9)
        for inbound in (True, False):
            every.extend(fp.net for fp in cluster.failsafe(inbound) if fp.net is not None)
    return every, tops


def host_labels(cluster: Cluster, hep: HostEndpoint) -> tuple[tuple[str, str], ...]:
    """A host endpoint's labels as selectors see them: its own, then those its profiles apply, the first
    profile winning (SEMANTICS §5.3)."""
    by_name = {p.name: p for p in cluster.profiles}
    out: dict[str, str] = {}
    for name in reversed(hep.profiles):
        prof = by_name.get(name)
        if prof is not None:
            out.update(prof.labels)
    out.update(hep.labels)
    return tuple(sorted(out.items()))


def tested_keys(cluster: Cluster, selectors: Iterable[LabelSelector | CalicoSelector] = ()) -> frozenset[str]:
    """Every pod label key that a selector over pods reads: Kubernetes and admin policies' pod selectors (subject
    and peers), Calico policy selectors and rule `selector`/`notSelector` (over Calico's view of a pod: a key
    such as `pcns.x` or `projectcalico.org/...` that a pod also carries itself is its own label, which wins),
    Service selectors, and `selectors`. Namespace and service account selectors read the labels of those,
    which the namespace and service account of a class fix."""
    sels: list[LabelSelector | CalicoSelector] = list(selectors)
    k8s_shaped: list[NetworkPolicy | AdminPolicy] = [*cluster.policies, *cluster.admin_policies]
    for pol in k8s_shaped:
        sels.append(pol.pod_selector)
        for rules in (pol.ingress, pol.egress):
            for rule in rules:
                sels.extend(p.pod_selector for p in rule.peers or ()
                            if isinstance(p, PodPeer) and p.pod_selector is not None)
    sels.extend(cpol.selector for cpol in cluster.calico_policies)
    for holder in cluster.rule_lists():
        for crule in holder.ingress + holder.egress:
            for ent in (crule.source, crule.destination):
                sels.extend(s for s in (ent.selector, ent.not_selector) if s is not None)
    keys = {k for svc in cluster.services for k, _v in svc.selector or ()}
    for sel in sels:
        keys |= sel.keys()
    return frozenset(keys)


def build_classes(cluster: Cluster, selectors: Iterable[LabelSelector | CalicoSelector] = ()
                  ) -> tuple[list[EndpointClass], Atoms]:
    """The endpoint classes (pods split by the labels of `tested_keys(cluster, selectors)`; each host endpoint
    and each address atom a class of its own) and the address atoms."""
    every, tops = policy_cidrs(cluster)
    distinct = len(set(every))
    if distinct > MAX_CIDRS:
        raise ReasonerError(f"the policies and network sets name {distinct} distinct CIDRs (ipBlock cidr and "
                            f"except, Calico nets and notNets, network sets, failsafe nets); at most {MAX_CIDRS} "
                            "are supported")
    atoms = Atoms(every, tops)
    keys = tested_keys(cluster, selectors)
    by_key: dict[tuple, EndpointClass] = {}
    classes: list[EndpointClass] = []
    for ep in cluster.endpoints:
        ep_atoms = tuple(sorted({atoms.of_ip(ip).id for ip in ep.ips}))
        families = tuple(sorted({ip_int(ip)[0] for ip in ep.ips})) or (4, 6)
        named = tuple(sorted((p.name, p.protocol, p.port) for p in ep.ports if p.name))
        labels = tuple((k, v) for k, v in ep.labels if k in keys)
        key = (ep.namespace, labels, ep.service_account, named, ep.host_network, ep_atoms, families)
        cls = by_key.get(key)
        if cls is None:
            cls = EndpointClass(len(classes), ep.namespace, labels, [], ep_atoms, families,
                                host_network=ep.host_network)
            by_key[key] = cls
            classes.append(cls)
        cls.members.append(ep)
    for hep in cluster.host_endpoints:  # one class each: host endpoints are few
        hep_atoms = tuple(sorted({atoms.of_ip(ip).id for ip in hep.ips}))
        families = tuple(sorted({ip_int(ip)[0] for ip in hep.ips})) or (4, 6)
        classes.append(EndpointClass(len(classes), None, host_labels(cluster, hep), [hep], hep_atoms, families,
                                     host=True))
    for atom in atoms.atoms:  # every atom is an external endpoint; maps show only the mentioned ones
        classes.append(EndpointClass(len(classes), None, (), [], (atom.id,), (atom.family,), atom))
    return classes, atoms
