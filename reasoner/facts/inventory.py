"""Facts of the inventory, which every rule file reads: namespaces (namespace, ns_name, their labels, and Calico's
view of them: ns_view), service accounts, address atoms (atom_range), and endpoint classes: endpoint,
class_family, class_atom, internal or external; for pods class_ns, podnet, their labels and named ports
(class_port), class_sa, and Calico's view of their labels (calico_view); host endpoints in hosts.py.
"""

from __future__ import annotations

from reasoner.facts.calico import calico_labels, service_account
from reasoner.facts.hosts import host_class
from reasoner.facts.state import Emitter
from reasoner.model.calico import AUTO
from reasoner.model.cluster import Endpoint


def inventory(em: Emitter) -> None:
    fb = em.fb
    cluster = fb.cluster
    for name, ns in sorted(cluster.namespaces.items()):
        nid = fb.ns_ids[name] = next(em.ids)
        em.add("namespace", nid)
        em.add("ns_name", nid, name)
        for k, v in ns.labels:
            em.add("label", nid, k, v)
        view = next(em.ids)  # Calico's view: the labels plus projectcalico.org/name (profile kns.<ns>)
        em.add("ns_view", nid, view)
        for k, v in {**dict(ns.labels), AUTO + "name": name}.items():
            em.add("label", view, k, v)
    sa_labels = {(sa.namespace, sa.name): dict(sa.labels) for sa in cluster.service_accounts}
    for sa_ns, sa_name in sorted(set(sa_labels) | {(e.namespace, e.service_account) for e in cluster.endpoints}):
        service_account(em, sa_ns, sa_name, sa_labels.get((sa_ns, sa_name), {}))
    for atom in fb.atoms.atoms:
        em.add("atom_range", atom.id, atom.family, atom.lo, atom.hi)
    for cls in fb.classes:
        em.add("endpoint", cls.id)
        for fam in cls.families:
            em.add("class_family", cls.id, fam)
        for a in cls.atoms:
            em.add("class_atom", cls.id, a)
        if cls.external is not None:
            em.add("external", cls.id)
            continue
        em.add("internal", cls.id)
        if cls.host:
            host_class(em, cls)
            continue
        assert cls.namespace is not None  # a pod class: pods of one namespace (build_classes)
        em.add("class_ns", cls.id, fb.ns_ids[cls.namespace])
        if not cls.host_network:
            em.add("podnet", cls.id)
        for k, v in cls.labels:
            em.add("label", cls.id, k, v)
        for p in {(p.name, p.protocol, p.port) for p in cls.members[0].ports if p.name}:
            em.add("class_port", cls.id, *p)
        for ep in cls.members:
            fb.class_of[ep.ref] = cls
        ep = cls.members[0]
        assert isinstance(ep, Endpoint)  # a pod class holds pods
        sa = em.sa_ids[(ep.namespace, ep.service_account)]
        em.add("class_sa", cls.id, sa)
        view = next(em.ids)
        em.add("calico_view", cls.id, view)
        em.add("view_of", view, cls.id)
        clabels = calico_labels(em, ep.namespace, ep.service_account, dict(cls.labels), sa_labels)
        fb.calico_labels[cls.id] = clabels
        for k, v in clabels.items():
            em.add("label", view, k, v)
